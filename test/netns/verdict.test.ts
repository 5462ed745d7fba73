/**
 * The XDP program's verdicts without a NIC: BPF_PROG_TEST_RUN on fixture frames.
 * bpf_redirect_map() only says XDP_REDIRECT when the XSKMAP holds a socket for the queue, so
 * the test binds a real AF_XDP socket (copy mode, nothing attached) to a veth in a throwaway
 * namespace and puts it in the map; test runs use queue 0 of that namespace's loopback.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from '../../src/sandbox/netns.js';
import { XdpProgram } from '../../src/xdp/program.js';
import { XdpPort } from '../../src/afxdp/xdp-port.js';
import { ifindexOf } from '../../src/sys/interfaces.js';
import { XDP_PASS, XDP_REDIRECT } from '../../src/sys/libbpf.js';
import { buildUdpFrame, TPID_8021Q, TPID_8021AD } from '../helpers/frames.js';
import { enterNetns } from '../helpers/setns.js';
import { pinThread } from '../../src/run/affinity.js';
import { META_MAGIC, META_SIZE } from '../../src/xdp/meta.js';
import { cpus } from 'node:os';
import { silentLogger } from '../../src/util/logger.js';

const PORT = 9000;

describe('xsk_redirect verdicts (BPF_PROG_TEST_RUN)', () => {
  let sb: Sandbox;
  let prog: XdpProgram;
  let port: XdpPort;
  let leave = () => {};

  before(() => {
    sb = new Sandbox({ name: 'xskt-verdict' });
    leave = enterNetns(sb.dut);
    prog = XdpProgram.load();
    prog.setPorts([PORT]);
    port = new XdpPort({
      ifindex: ifindexOf(sb.dutIf),
      ifname: sb.dutIf,
      queue: 0,
      mode: 'generic',
      bind: 'copy',
      frameSize: 4096,
      frameCount: 256,
      ringSize: 64,
    });
    prog.setSocket(0, port.socket.fd);
  });
  after(() => {
    prog?.close();
    port?.close();
    leave();
    sb?.destroy();
  });

  const verdict = (frame: Uint8Array) => prog.testRun(frame).verdict;

  const redirected: [string, Uint8Array][] = [
    ['IPv4 UDP', buildUdpFrame({ dstPort: PORT })],
    ['IPv6 UDP', buildUdpFrame({ ipVersion: 6, dstPort: PORT })],
    ['IPv4 with options (IHL 15)', buildUdpFrame({ dstPort: PORT, ihl: 15 })],
    ['one 802.1Q tag', buildUdpFrame({ dstPort: PORT, vlans: [{ tpid: TPID_8021Q, id: 10 }] })],
    ['802.1ad + 802.1Q', buildUdpFrame({ dstPort: PORT, vlans: [{ tpid: TPID_8021AD, id: 10 }, { tpid: TPID_8021Q, id: 20 }] })],
    ['IPv6 under two tags', buildUdpFrame({ ipVersion: 6, dstPort: PORT, vlans: [{ tpid: TPID_8021Q, id: 1 }, { tpid: TPID_8021Q, id: 2 }] })],
    ['zero-length payload', buildUdpFrame({ dstPort: PORT, payload: 0 })],
  ];
  for (const [name, frame] of redirected) {
    it(`redirects ${name} to the socket`, () => assert.equal(verdict(frame), XDP_REDIRECT));
  }

  const passed: [string, Uint8Array][] = [
    ['UDP to another port', buildUdpFrame({ dstPort: PORT + 1 })],
    ['UDP from the port (source, not destination)', buildUdpFrame({ srcPort: PORT, dstPort: 53 })],
    ['TCP', buildUdpFrame({ dstPort: PORT, protocol: 6 })],
    ['ICMP', buildUdpFrame({ dstPort: PORT, protocol: 1 })],
    ['IPv6 with an extension header first', buildUdpFrame({ ipVersion: 6, dstPort: PORT, nextHeader: 0 })],
    ['an IPv4 fragment (MF)', buildUdpFrame({ dstPort: PORT, fragment: { moreFragments: true } })],
    ['an IPv4 fragment (offset)', buildUdpFrame({ dstPort: PORT, fragment: { offset: 185 } })],
    ['an IPv6 fragment', buildUdpFrame({ ipVersion: 6, dstPort: PORT, fragment: { moreFragments: true } })],
    ['ARP', buildUdpFrame({ dstPort: PORT, etherType: 0x0806 })],
    ['three VLAN tags', buildUdpFrame({ dstPort: PORT, vlans: [{ id: 1 }, { id: 2 }, { id: 3 }] })],
    ['IHL below 5', buildUdpFrame({ dstPort: PORT, ihl: 4 })],
    ['IPv4 ethertype with version 6', buildUdpFrame({ dstPort: PORT, ipVersionField: 6 })],
  ];
  for (const [name, frame] of passed) {
    it(`passes ${name}`, () => assert.equal(verdict(frame), XDP_PASS));
  }

  it('passes every truncation of a matching frame', () => {
    for (const v of [4, 6] as const) {
      const full = buildUdpFrame({ ipVersion: v, dstPort: PORT, vlans: [{ id: 7 }], payload: 0 });
      for (let len = 14; len < full.length; len++) {
        assert.equal(verdict(full.subarray(0, len)), XDP_PASS, `IPv${v} cut to ${len} of ${full.length} bytes`);
      }
      assert.equal(verdict(full), XDP_REDIRECT);
    }
  });

  it('follows port changes at runtime, without reattaching', () => {
    prog.setPorts([PORT + 5]);
    assert.equal(verdict(buildUdpFrame({ dstPort: PORT })), XDP_PASS);
    assert.equal(verdict(buildUdpFrame({ dstPort: PORT + 5 })), XDP_REDIRECT);
    prog.setPorts([PORT]);
    assert.deepEqual(prog.ports(), [PORT]);
    assert.equal(verdict(buildUdpFrame({ dstPort: PORT + 5 })), XDP_PASS);
  });

  it('steers every port of 1-65535 at once (the ports map is an array, no 1,024 limit)', () => {
    const all = Array.from({ length: 65535 }, (_, i) => i + 1);
    prog.setPorts(all);
    try {
      assert.equal(prog.ports().length, 65535);
      for (const p of [1, 53, PORT, 40000, 65535]) {
        assert.equal(verdict(buildUdpFrame({ dstPort: p })), XDP_REDIRECT, `port ${p}`);
        assert.equal(verdict(buildUdpFrame({ ipVersion: 6, dstPort: p })), XDP_REDIRECT, `IPv6 port ${p}`);
      }
      assert.equal(verdict(buildUdpFrame({ dstPort: PORT, protocol: 6 })), XDP_PASS, 'TCP still passes');
    } finally {
      prog.setPorts([PORT]);
    }
    assert.equal(verdict(buildUdpFrame({ dstPort: 40000 })), XDP_PASS, 'cleared again');
    assert.equal(verdict(buildUdpFrame({ dstPort: PORT })), XDP_REDIRECT);
  });

  it('steers exactly a set of 3,000 scattered ports, and follows a change to another such set', () => {
    const pick = (seed: number) => {
      const s = new Set<number>();
      for (let i = 0; s.size < 3000; i++) s.add(1 + ((i * 7919 + seed * 104729) % 65535));
      return s;
    };
    const a = pick(1);
    const b = pick(2);
    for (const set of [a, b]) {
      prog.setPorts(set);
      assert.deepEqual(prog.ports(), [...set].sort((x, y) => x - y));
      // Every port in the set, and every port of a sample outside it.
      for (const p of set) assert.equal(verdict(buildUdpFrame({ dstPort: p })), XDP_REDIRECT, `port ${p} in the set`);
      for (let p = 1; p <= 65535; p += 97) {
        if (!set.has(p)) assert.equal(verdict(buildUdpFrame({ dstPort: p })), XDP_PASS, `port ${p} not in the set`);
      }
    }
    prog.setPorts([PORT]);
    assert.deepEqual(prog.ports(), [PORT]);
    for (const p of [...a].slice(0, 200)) if (p !== PORT) assert.equal(verdict(buildUdpFrame({ dstPort: p })), XDP_PASS, `port ${p} cleared`);
  });

  it('refuses a port outside 1-65535 before changing anything', () => {
    assert.throws(() => prog.setPorts([PORT, 65536]), /port 65536 is outside 1-65535/);
    assert.throws(() => prog.setPorts([0]), /port 0 is outside 1-65535/);
    assert.deepEqual(prog.ports(), [PORT]);
    assert.equal(verdict(buildUdpFrame({ dstPort: PORT })), XDP_REDIRECT);
  });

  it('passes a matching frame when no socket serves the queue', () => {
    prog.clearSocket(0);
    try {
      assert.equal(verdict(buildUdpFrame({ dstPort: PORT })), XDP_PASS);
    } finally {
      prog.setSocket(0, port.socket.fd);
    }
    assert.equal(verdict(buildUdpFrame({ dstPort: PORT })), XDP_REDIRECT);
  });

  /** Which of `n` redirected frames came out stamped (test runs on one CPU: per-CPU counts). */
  function stampedFrames(p: XdpProgram, n: number): number[] {
    p.setPorts([PORT]);
    p.setSocket(0, port.socket.fd);
    const frame = buildUdpFrame({ dstPort: PORT });
    const stamped: number[] = [];
    pinThread([0]);
    try {
      for (let i = 0; i < n; i++) {
        const r = p.testRun(frame);
        assert.equal(r.verdict, XDP_REDIRECT);
        // The output starts at the metadata: 16 bytes more, with the magic word, when stamped.
        if (r.out.length === frame.length + META_SIZE) {
          assert.equal(r.out.readUInt32LE(8), META_MAGIC);
          assert.ok(r.out.readBigUInt64LE(0) > 0n, 'a receive time');
          stamped.push(i);
        } else assert.equal(r.out.length, frame.length);
      }
    } finally {
      pinThread(cpus().map((_, i) => i));
    }
    return stamped;
  }

  it('stamps 1 redirected frame in N (the load-time sample), the first one included', () => {
    const p4 = XdpProgram.load(undefined, { stampEvery: 4 });
    try {
      assert.deepEqual(stampedFrames(p4, 10), [0, 4, 8]);
      assert.equal(p4.counters().redirected, 10);
    } finally {
      p4.close();
    }
    const p1 = XdpProgram.load(undefined, { stampEvery: 1 });
    try {
      assert.deepEqual(stampedFrames(p1, 3), [0, 1, 2]);
      assert.equal(p1.counters().stamped, 3, 'the program\'s own count of its stamps');
    } finally {
      p1.close();
    }
  });

  it('stamps in 16 bytes grown at the frame\'s head where asked, the frame after them intact', () => {
    const p = XdpProgram.load(undefined, { stampEvery: 2, stampPlace: 'head' });
    try {
      assert.equal(p.headStamps, true);
      p.setPorts([PORT]);
      p.setSocket(0, port.socket.fd);
      const frame = buildUdpFrame({ dstPort: PORT });
      pinThread([0]); // the program's counts (which frames it stamps) are per CPU
      let outs;
      try {
        outs = [0, 1, 2].map(() => p.testRun(frame));
      } finally {
        pinThread(cpus().map((_, i) => i));
      }
      for (const r of outs) assert.equal(r.verdict, XDP_REDIRECT);
      assert.deepEqual(outs.map((r) => r.out.length), [frame.length + META_SIZE, frame.length, frame.length + META_SIZE]);
      const head = outs[0].out;
      assert.equal(head.readUInt32LE(8), META_MAGIC);
      assert.equal(head.readUInt32LE(12), 0, 'where a frame has its EtherType: how the port tells a stamp');
      assert.ok(head.readBigUInt64LE(0) > 0n, 'a receive time');
      assert.deepEqual(head.subarray(META_SIZE), Buffer.from(frame));
      assert.deepEqual(outs[1].out, Buffer.from(frame));
    } finally {
      p.close();
    }
  });

  it('stamps in the frame\'s head, and says so, only where the kernel refuses bpf_xdp_adjust_meta', () => {
    let refused = false;
    try {
      XdpProgram.load(undefined, { stampEvery: 64, stampPlace: 'meta' }).close();
    } catch (e) {
      assert.match((e as Error).message, /EINVAL/);
      refused = true;
    }
    const warnings: string[] = [];
    const logger = { ...silentLogger, info: (m: string) => void warnings.push(m) };
    const p = XdpProgram.load(undefined, { stampEvery: 64, logger });
    try {
      assert.equal(p.headStamps, refused);
      assert.equal(warnings.length, refused ? 1 : 0);
      if (refused) assert.match(warnings[0], /bpf_xdp_adjust_meta/);
    } finally {
      p.close();
    }
    // Without stamps there is nothing to place.
    const p0 = XdpProgram.load(undefined, { stampEvery: 0, logger });
    assert.equal(p0.headStamps, false);
    p0.close();
  });

  it('stamps nothing when loaded without latency (--no-latency)', () => {
    const p0 = XdpProgram.load(undefined, { stampEvery: 0 });
    try {
      assert.deepEqual(stampedFrames(p0, 5), []);
      // Nor does it count its redirects (the count only picks frames to stamp): the caller's
      // sockets give the number.
      assert.equal(p0.countsRedirects, false);
      assert.deepEqual(p0.counters(), { seen: 0, redirected: 0, passed: 0, meta_failed: 0, stamped: 0 });
      assert.deepEqual(p0.counters(5), { seen: 5, redirected: 5, passed: 0, meta_failed: 0, stamped: 0 });
      assert.equal(p0.testRun(buildUdpFrame({ dstPort: 53 })).verdict, XDP_PASS);
      assert.deepEqual(p0.counters(5), { seen: 6, redirected: 5, passed: 1, meta_failed: 0, stamped: 0 }, 'passed frames are still counted');
    } finally {
      p0.close();
    }
    assert.throws(() => XdpProgram.load(undefined, { stampEvery: 3 }), /power of two/);
  });

  it('counts seen, redirected and passed per CPU', () => {
    const before = prog.counters();
    verdict(buildUdpFrame({ dstPort: PORT }));
    verdict(buildUdpFrame({ dstPort: PORT }));
    verdict(buildUdpFrame({ dstPort: 53 }));
    const after = prog.counters();
    assert.equal(after.seen - before.seen, 3);
    assert.equal(after.redirected - before.redirected, 2);
    assert.equal(after.passed - before.passed, 1);
  });
});
