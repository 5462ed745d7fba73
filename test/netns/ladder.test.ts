/**
 * The mode ladder and interface ownership (issue 13), end to end on veth sandboxes, as root:
 *   - one xsk per interface, any mode: a raw-mode xsk, then an AF_XDP one (and another raw one)
 *     on the same interface: refused with the holder's pid; the first keeps every datagram;
 *     the same interface name and index in another network namespace is another interface;
 *     a holder killed with SIGKILL leaves the interface free;
 *   - raw mode warns about a foreign XDP program on the interface (one that drops everything);
 *   - the user's mistakes end xsk with one line naming the flag, in auto mode too (no fallback):
 *     --frame-size 8192, --frames 1048576, --zero-copy on veth, --hugepages without hugepages;
 *   - MTU 9000 against 4096-byte frames: refused before acting in every AF_XDP mode; MTU 3600
 *     (fits a frame, not veth's native XDP): native's ERANGE explained, auto runs generic;
 *   - AF_XDP unavailable (no CAP_BPF/CAP_NET_ADMIN) with --zero-copy: auto does not land in raw.
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Sandbox } from '../../src/sandbox/netns.js';
import { XskProcess, runTool, stopLeftoverXsks } from '../../src/sandbox/xsk-process.js';
import { waitNoXdp } from '../helpers/xdp.js';

// An xsk left running by a failed assertion would hold the interface for every later test.
afterEach(stopLeftoverXsks);

const PORT = 9000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** stderr lines that are not pino info lines. */
const said = (x: XskProcess) => x.stderr.split('\n').filter((l) => l && !l.startsWith('{"level":30'));

async function refused(sb: Sandbox, args: string[], ns = sb.dut): Promise<string> {
  const x = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--duration', '2', ...args], ns);
  assert.equal(await x.exit(), 1, x.stderr);
  const lines = said(x);
  assert.equal(lines.length, 1, x.stderr);
  assert.doesNotMatch(x.stderr, /falling back|xsk up/);
  assert.equal(x.stdout, '');
  return lines[0];
}

describe('one xsk per interface', () => {
  let sb: Sandbox;
  let other: Sandbox;
  before(() => {
    sb = new Sandbox({ name: 'xskt-lock' });
    other = new Sandbox({ name: 'xskt-lock2' });
  });
  after(() => {
    sb.destroy();
    other.destroy();
  });

  it('a raw-mode xsk holds the interface: an AF_XDP or raw xsk after it is refused; the first gets every datagram', async () => {
    const first = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', 'raw']);
    try {
      await first.up();
      const pid = first.child.pid!;
      // ip netns exec runs xsk as a child of its own: the holder is xsk's pid, which the file says.
      const lockLine = new RegExp(
        `^xsk: ${sb.dutIf} is in use by another xsk \\(pid (\\d+), lock /run/xsk/(\\d+)-(\\d+)\\.lock\\); stop that one first \\(kill \\1\\), or give this one another --iface$`,
      );
      for (const mode of ['auto', 'native', 'generic', 'raw']) {
        const line = await refused(sb, ['--mode', mode]);
        const m = lockLine.exec(line);
        assert.ok(m, line);
        assert.equal(readFileSync(`/run/xsk/${m[2]}-${m[3]}.lock`, 'utf8'), `${m[1]}\n`);
        assert.ok(Number(m[1]) >= pid, `holder pid ${m[1]} is xsk's (ip netns exec ${pid} execs it)`);
      }
      assert.equal(sb.xdpOn(sb.dut, sb.dutIf), '', 'no XDP program attached by the refused ones');
      const sent = await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(PORT), '--count', '2000']);
      assert.equal(sent.sent, 2000);
      await sleep(300);
    } finally {
      first.signal('SIGTERM');
    }
    assert.equal(await first.exit(), 0);
    assert.equal(first.summary().rx_packets, 2000);
  });

  it('a holder killed with SIGKILL leaves its lock file but frees the interface; the next xsk takes it and removes the file at exit', async () => {
    const files = () => new Set(existsSync('/run/xsk') ? readdirSync('/run/xsk') : []);
    const before = files();
    const a = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', 'generic']);
    await a.up();
    const mine = [...files()].filter((f) => !before.has(f));
    assert.equal(mine.length, 1, `one new lock file: ${mine.join(', ')}`);
    const file = `/run/xsk/${mine[0]}`;
    a.signal('SIGKILL');
    assert.equal(await a.exit(), null);
    assert.ok(existsSync(file), 'a killed xsk cannot remove its file');
    await waitNoXdp(sb);
    const b = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', 'raw', '--duration', '0.5']);
    assert.equal(await b.exit(), 0, b.stderr);
    assert.equal(b.summary().mode, 'raw');
    assert.ok(!existsSync(file), 'removed at the clean exit of the one that took it over');
  });

  it('the same interface name and index in another network namespace is another interface', async () => {
    const a = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', 'raw']);
    const b = new XskProcess(other, ['--iface', other.dutIf, '--port', String(PORT), '--mode', 'native']);
    try {
      await a.up();
      await b.up();
    } finally {
      a.signal('SIGTERM');
      b.signal('SIGTERM');
    }
    assert.equal(await a.exit(), 0, a.stderr);
    assert.equal(await b.exit(), 0, b.stderr);
  });
});

describe('raw mode and a foreign XDP program', () => {
  let sb: Sandbox;
  before(() => {
    sb = new Sandbox({ name: 'xskt-foreign' });
  });
  after(() => sb.destroy());

  it('warns that the program sees the frames first (xsk_sink drops them all: rx 0)', async () => {
    const obj = new URL('../../dist/bpf/xsk_sink.o', import.meta.url).pathname;
    sb.exec(sb.dut, 'ip', ['link', 'set', 'dev', sb.dutIf, 'xdpgeneric', 'obj', obj, 'sec', 'xdp']);
    try {
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', 'raw']);
      try {
        await xsk.up();
        await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(PORT), '--count', '200']);
        await sleep(200);
      } finally {
        xsk.signal('SIGTERM');
      }
      assert.equal(await xsk.exit(), 0);
      const warn = xsk.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((l) => l.level === 40);
      assert.equal(warn.length, 1, xsk.stderr);
      assert.match(
        warn[0].msg,
        new RegExp(
          `^${sb.dutIf} has an XDP program id \\d+ "xsk_sink" \\(generic, tag [0-9a-f]{16}\\): it sees every frame before raw mode \\(AF_PACKET\\) does, and what it drops or redirects never reaches xsk \\(see it with: ip link show dev ${sb.dutIf}\\)$`,
        ),
      );
      assert.equal(xsk.summary().rx_packets, 0);
    } finally {
      sb.exec(sb.dut, 'ip', ['link', 'set', 'dev', sb.dutIf, 'xdpgeneric', 'off']);
    }
  });
});

describe('AF_XDP limits and the user\'s mistakes: errors, never a fallback', () => {
  let sb: Sandbox;
  before(() => {
    sb = new Sandbox({ name: 'xskt-limits' });
  });
  after(() => sb.destroy());

  it('--frame-size 8192: larger than a page, in every AF_XDP mode (auto included)', async () => {
    for (const mode of ['auto', 'native']) {
      assert.equal(
        await refused(sb, ['--mode', mode, '--frame-size', '8192']),
        "xsk: --frame-size 8192: AF_XDP frames (UMEM chunks) are at most the page size, 4096 bytes: the kernel's xdp_umem_reg refuses larger ones (EINVAL); use --frame-size 4096 or 2048",
      );
    }
  });

  it('--frames 1048576: a 4 GiB UMEM', async () => {
    assert.equal(
      await refused(sb, ['--mode', 'auto', '--frames', '1048576']),
      "xsk: --frames 1048576: a UMEM of 1048576 × 4096 bytes is 4 GiB; xsk keeps UMEM addresses in 32 bits (its rings' frame pool and masks), so it must stay below 4 GiB: use at most 1048575 --frames of --frame-size 4096",
    );
  });

  it('--zero-copy on veth (no zero-copy AF_XDP): auto does not fall back to raw', async () => {
    for (const mode of ['auto', 'generic']) {
      assert.equal(
        await refused(sb, ['--mode', mode, '--zero-copy']),
        `xsk: --zero-copy: the driver of ${sb.dutIf} has no zero-copy AF_XDP (bind(AF_XDP): EOPNOTSUPP); leave it out (the kernel then picks what the driver has) or use --copy`,
      );
    }
  });

  it('--hugepages without free hugepages', async (t) => {
    const free = Number(/^HugePages_Free:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
    if (free >= 16) return t.skip(`this machine has ${free} free hugepages`);
    assert.match(
      await refused(sb, ['--mode', 'auto', '--hugepages']),
      new RegExp(`^xsk: --hugepages: the UMEM needs 16 hugepages of 2 MiB \\(32 MiB per queue × 1\\), and ${free} are free; reserve them \\(sysctl vm.nr_hugepages=16\\) or leave out --hugepages$`),
    );
  });

  it('MTU 9000 against 4096-byte frames: refused before acting, naming the MTU and --frame-size', async () => {
    sb.exec(sb.dut, 'ip', ['link', 'set', 'dev', sb.dutIf, 'mtu', '9000']);
    try {
      for (const mode of ['auto', 'native', 'generic']) {
        assert.equal(
          await refused(sb, ['--mode', mode]),
          `xsk: ${sb.dutIf} has MTU 9000: frames of up to 9018 bytes (with the Ethernet header and a VLAN tag), but an AF_XDP frame of --frame-size 4096 holds 3840 bytes after the kernel's 256-byte XDP headroom, and the kernel drops larger ones (xdp_stats.rx_dropped); lower the MTU to 3822 or less (ip link set dev ${sb.dutIf} mtu 3822; no frame holds more: frames are at most a page), or use --mode raw`,
        );
      }
      assert.equal(sb.xdpOn(sb.dut, sb.dutIf), '');
      // Raw mode has no UMEM: it runs.
      const raw = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', 'raw', '--duration', '0.5']);
      assert.equal(await raw.exit(), 0, raw.stderr);
    } finally {
      sb.exec(sb.dut, 'ip', ['link', 'set', 'dev', sb.dutIf, 'mtu', '1500']);
    }
  });

  it('MTU 2000 with --frame-size 2048: says to use --frame-size 4096 or lower the MTU', async () => {
    sb.exec(sb.dut, 'ip', ['link', 'set', 'dev', sb.dutIf, 'mtu', '2000']);
    try {
      assert.equal(
        await refused(sb, ['--mode', 'auto', '--frame-size', '2048']),
        `xsk: ${sb.dutIf} has MTU 2000: frames of up to 2018 bytes (with the Ethernet header and a VLAN tag), but an AF_XDP frame of --frame-size 2048 holds 1792 bytes after the kernel's 256-byte XDP headroom, and the kernel drops larger ones (xdp_stats.rx_dropped); use --frame-size 4096, or lower the MTU to 1774 (ip link set dev ${sb.dutIf} mtu 1774)`,
      );
    } finally {
      sb.exec(sb.dut, 'ip', ['link', 'set', 'dev', sb.dutIf, 'mtu', '1500']);
    }
  });

  it('MTU 3600 (fits a frame, not veth native XDP): native explains ERANGE; auto runs generic and receives 3,000-byte datagrams', async () => {
    sb.exec(sb.gen, 'ip', ['link', 'set', 'dev', sb.genIf, 'mtu', '3600']);
    sb.exec(sb.dut, 'ip', ['link', 'set', 'dev', sb.dutIf, 'mtu', '3600']);
    try {
      assert.equal(
        await refused(sb, ['--mode', 'native']),
        `xsk: bpf_link_create: ERANGE (Numerical result out of range) — attaching in native mode to ${sb.dutIf}: the driver of ${sb.dutIf} can't run XDP in native mode at MTU 3600 (frames must fit a page with XDP headroom; veth: the peer's MTU at most 3506); lower the MTU, or use --mode generic`,
      );
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', 'auto']);
      try {
        await xsk.up();
        assert.match(xsk.stderr, /native XDP attach failed \(bpf_link_create: ERANGE .*\); using generic mode/);
        const sent = await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(PORT), '--count', '300', '--size', '3000']);
        assert.equal(sent.sent, 300);
        await sleep(300);
      } finally {
        xsk.signal('SIGTERM');
      }
      assert.equal(await xsk.exit(), 0, xsk.stderr);
      const s = xsk.summary();
      assert.equal(s.mode, 'generic');
      assert.equal(s.rx_datagrams, 300, JSON.stringify(s));
      assert.equal(s.xdp_stats.rx_dropped, 0);
    } finally {
      sb.exec(sb.gen, 'ip', ['link', 'set', 'dev', sb.genIf, 'mtu', '1500']);
      sb.exec(sb.dut, 'ip', ['link', 'set', 'dev', sb.dutIf, 'mtu', '1500']);
    }
  });

  it('AF_XDP unavailable (no CAP_BPF/CAP_NET_ADMIN) with --zero-copy: auto refuses raw mode instead of ignoring the flag', async () => {
    const capped = {
      ...sb,
      dut: sb.dut,
      dutIf: sb.dutIf,
      spawn: (ns: string, cmd: string, args: string[], opts?: object) =>
        sb.spawn(ns, 'capsh', ['--drop=cap_bpf,cap_sys_admin,cap_net_admin,cap_perfmon', '--', '-c', 'exec "$0" "$@"', cmd, ...args], opts),
    } as unknown as Sandbox;
    const line = await refused(capped, ['--mode', 'auto', '--zero-copy']);
    assert.match(line, /^xsk: AF_XDP unavailable \(bpf_object__load: EPERM .*\), and raw mode \(AF_PACKET\) has no UMEM for --zero-copy: leave out --zero-copy to run in raw mode$/);
  });
});
