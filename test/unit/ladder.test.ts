/**
 * The mode ladder's rules (src/run/ladder.ts) without a kernel: what AF_XDP can't take (frame
 * size, UMEM size, MTU + headroom, hugepages, RLIMIT_MEMLOCK), and which failures make auto
 * mode fall back (AF_XDP unavailable) and which are errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { afxdpProblems, AttachFailure, classify, maxMtuFor, type AfxdpParams, type LadderFlags } from '../../src/run/ladder.js';
import { SysError } from '../../src/sys/errors.js';

const base: AfxdpParams = { iface: 'eth0', frameSize: 4096, frames: 8192, queues: 1, hugepages: false, mtu: 1500, pageSize: 4096 };
const flags: LadderFlags = { iface: 'eth0', bind: 'auto', hugepages: false, frameSize: 4096, mtu: 1500 };

describe('afxdpProblems', () => {
  it('takes the defaults, and 2048-byte frames at MTU 1500', () => {
    assert.deepEqual(afxdpProblems(base), []);
    assert.deepEqual(afxdpProblems({ ...base, frameSize: 2048 }), []);
  });
  it('frames hold MTU + 18 after 256 bytes of headroom: 3822 fits 4096, 1774 fits 2048', () => {
    assert.equal(maxMtuFor(4096), 3822);
    assert.equal(maxMtuFor(2048), 1774);
    assert.deepEqual(afxdpProblems({ ...base, mtu: 3822 }), []);
    assert.equal(afxdpProblems({ ...base, mtu: 3823 }).length, 1);
    assert.deepEqual(afxdpProblems({ ...base, frameSize: 2048, mtu: 1774 }), []);
    assert.match(afxdpProblems({ ...base, frameSize: 2048, mtu: 1775 })[0], /use --frame-size 4096, or lower the MTU to 1774/);
  });
  it('refuses frames above the page size, and UMEMs of 4 GiB', () => {
    assert.match(afxdpProblems({ ...base, frameSize: 8192 })[0], /^--frame-size 8192: .* at most the page size, 4096 bytes/);
    assert.match(afxdpProblems({ ...base, frames: 1 << 20 })[0], /^--frames 1048576: .*below 4 GiB/);
    assert.deepEqual(afxdpProblems({ ...base, frames: (1 << 20) - 1 }), []);
  });
  it('counts hugepages for every queue, and RLIMIT_MEMLOCK unless CAP_IPC_LOCK', () => {
    const huge = { ...base, hugepages: true, hugepageBytes: 2 << 20, frames: 4096 }; // 16 MiB: 8 pages a queue
    assert.deepEqual(afxdpProblems({ ...huge, hugepagesFree: 16, queues: 2 }), []);
    assert.match(afxdpProblems({ ...huge, hugepagesFree: 15, queues: 2 })[0], /^--hugepages: the UMEM needs 16 hugepages/);
    assert.match(afxdpProblems({ ...base, memlock: 8 << 20, ipcLock: false })[0], /RLIMIT_MEMLOCK is 8 MiB/);
    assert.deepEqual(afxdpProblems({ ...base, memlock: 8 << 20, ipcLock: true }), []);
  });
});

describe('classify: fall back only when AF_XDP is unavailable', () => {
  const fallsBack = (e: unknown) => 'fallBack' in classify(e, flags);
  it('falls back: no privilege to load BPF, no AF_XDP in the kernel, no XDP in either attach mode', () => {
    assert.ok(fallsBack(new SysError('bpf_object__load', 1)));
    assert.ok(fallsBack(new SysError('bpf_object__load', 13)));
    assert.ok(fallsBack(new SysError('socket(AF_XDP)', 97)));
    assert.ok(fallsBack(new AttachFailure('bpf_link_create: EOPNOTSUPP', true)));
  });
  it('is an error: busy queue, --zero-copy without driver support, hugepages, chunk size, ERANGE, anything else', () => {
    assert.match((classify(new SysError('bind(AF_XDP)', 95), { ...flags, bind: 'zero-copy' }) as { error: string }).error, /^--zero-copy: /);
    for (const e of [
      new SysError('bind(AF_XDP)', 16),
      new SysError('mmap(UMEM)', 12),
      new SysError('setsockopt(XDP_UMEM_REG)', 22),
      new SysError('bpf_link_create', 34),
      new SysError('bpf_object__load', 22),
      new SysError('socket(AF_XDP)', 1),
      new Error('eth0 already has an XDP program id 3'),
      new Error('queue 0: datapath exited before its socket was ready'),
    ]) {
      assert.ok(!fallsBack(e), e.message);
    }
    assert.match((classify(new SysError('mmap(UMEM)', 12), { ...flags, hugepages: true }) as { error: string }).error, /^--hugepages: /);
    assert.match((classify(new SysError('setsockopt(XDP_UMEM_REG)', 22), flags) as { error: string }).error, /^--frame-size 4096: /);
  });
});
