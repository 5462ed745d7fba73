/**
 * xsk in raw mode (AF_PACKET), end to end on the veth sandbox, as root:
 *   - --mode raw counts exactly the datagrams sent (IPv4 and IPv6), reports mode "raw";
 *   - the kernel still gets every frame (a kernel socket on xsk's own port receives them all too),
 *     and ping and other UDP are untouched; no XDP program is attached;
 *   - a burst from the XDP live-frames generator is counted exactly;
 *   - --mode auto without CAP_BPF/CAP_SYS_ADMIN/CAP_NET_ADMIN (capsh) falls back to raw, says
 *     why in one line, and counts exactly; forced native under the same caps fails, no fallback;
 *   - --mode auto as root stays on AF_XDP;
 *   - flags that make no sense in raw mode are refused with one line naming them.
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Sandbox } from '../../src/sandbox/netns.js';
import { XskProcess, runTool, startSink, stopLeftoverXsks } from '../../src/sandbox/xsk-process.js';

// An xsk left running by a failed assertion would hold the interface for every later test.
afterEach(stopLeftoverXsks);

const PORT = 9000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Capability bits (linux/capability.h). */
const CAP = { NET_ADMIN: 12, NET_RAW: 13, SYS_ADMIN: 21, PERFMON: 38, BPF: 39 };
const DROPPED = 'cap_bpf,cap_sys_admin,cap_net_admin,cap_perfmon';

/** A sandbox whose spawn() runs the command under capsh with DROPPED taken out of the bounding set. */
function withoutAdminCaps(sb: Sandbox): Sandbox {
  return {
    ...sb,
    dut: sb.dut,
    spawn: (ns: string, cmd: string, args: string[], opts?: object) =>
      sb.spawn(ns, 'capsh', [`--drop=${DROPPED}`, '--', '-c', 'exec "$0" "$@"', cmd, ...args], opts),
  } as unknown as Sandbox;
}

function effectiveCaps(pid: number): bigint {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('CapEff:'))!;
  return BigInt(`0x${line.split(/\s+/)[1]}`);
}
const has = (caps: bigint, bit: number) => ((caps >> BigInt(bit)) & 1n) === 1n;

async function sendBoth(sb: Sandbox): Promise<void> {
  const v4 = await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(PORT), '--count', '3000', '--size', '100']);
  const v6 = await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr6, '--port', String(PORT + 1), '--count', '1000', '--size', '200']);
  assert.equal(v4.sent, 3000);
  assert.equal(v6.sent, 1000);
}

function assertExact(s: Record<string, any>): void {
  assert.equal(s.mode, 'raw', JSON.stringify(s));
  assert.equal(s.rx_packets, 4000, JSON.stringify(s));
  assert.equal(s.rx_datagrams, 4000);
  assert.equal(s.rx_bytes, 3000 * 142 + 1000 * 262);
  assert.equal(s.rx_payload_bytes, 3000 * 100 + 1000 * 200);
  assert.ok(Object.values(s.invalid as Record<string, number>).every((n) => n === 0), JSON.stringify(s.invalid));
  // The kernel's PACKET_STATISTICS: what the filter let through, nothing dropped.
  assert.equal(s.raw_stats.rx_packets, 4000, JSON.stringify(s.raw_stats));
  assert.equal(s.raw_stats.rx_dropped, 0);
  assert.equal(s.tx_packets, 0);
  assert.equal(s.xdp_stats, undefined, 'no AF_XDP counters in raw mode');
}

describe('xsk in raw mode', () => {
  let sb: Sandbox;
  before(() => {
    sb = new Sandbox({ name: 'xskt-raw' });
  });
  after(() => sb.destroy());

  it('counts exactly the datagrams sent to its ports, IPv4 and IPv6, with no XDP program attached', async () => {
    const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', `${PORT},${PORT + 1}`, '--mode', 'raw']);
    await xsk.up();
    assert.match(xsk.stderr, /xsk up: dut0, AF_PACKET raw mode/);
    assert.equal(sb.xdpOn(sb.dut, sb.dutIf), '', 'raw mode attaches no XDP program');
    await sendBoth(sb);
    await sleep(300);
    xsk.signal('SIGTERM');
    assert.equal(await xsk.exit(), 0, xsk.stderr);
    assertExact(xsk.summary());
  });

  it('leaves the kernel every frame: a socket on xsk port gets them too; ping and other UDP untouched', async () => {
    const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', 'raw', '--stats-interval', '0.2']);
    await xsk.up();
    const same = startSink(sb, sb.dut, PORT);
    const other = startSink(sb, sb.dut, 9999);
    await Promise.all([same.ready, other.ready]);
    assert.match(sb.exec(sb.gen, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', sb.dutAddr]), /3 received/);
    assert.match(sb.exec(sb.gen, 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', sb.dutAddr6]), /2 received/);
    assert.equal((await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9999', '--count', '500'])).sent, 500);
    assert.equal((await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(PORT), '--count', '700'])).sent, 700);
    await sleep(300);
    const [s1, s2] = await Promise.all([same.stop(), other.stop()]);
    assert.equal(s1.received, 700, 'the kernel socket on xsk port got every datagram as well');
    assert.equal(s2.received, 500, 'the kernel socket on another port got every datagram');
    xsk.signal('SIGINT');
    assert.equal(await xsk.exit(), 0);
    const s = xsk.summary();
    assert.equal(s.rx_packets, 700, 'xsk saw only its port: no ping, no ARP/ND, no port 9999');
    assert.match(xsk.stderr, /mode raw/, 'the stats line says raw');
  });

  it('counts a burst from xsk-gen (XDP live frames) exactly', async () => {
    // veth's XDP transmit needs NAPI on the peer: without an XDP program on dut0, GRO gives it.
    sb.exec(sb.dut, 'ethtool', ['-K', sb.dutIf, 'gro', 'on']);
    const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', 'raw']);
    await xsk.up();
    const gen = await runTool(sb, sb.gen, '../gen', ['--iface', sb.genIf, '--dst-mac', sb.dutMac, '--src-mac', sb.genMac,
      '--src-ip', sb.genAddr, '--dst-ip', sb.dutAddr, '--dst-port', String(PORT), '--count', '20000', '--seconds', '5']);
    assert.equal(gen.sent, 20000);
    await sleep(300);
    xsk.signal('SIGTERM');
    assert.equal(await xsk.exit(), 0);
    const s = xsk.summary();
    assert.equal(s.rx_packets + s.raw_stats.rx_dropped, 20000, JSON.stringify(s));
    assert.equal(s.raw_stats.rx_dropped, 0, 'no ring overflow for 20 000 frames');
    assert.equal(s.rx_bytes, 20000 * gen.frame_bytes);
  });

  it('auto mode without CAP_BPF, CAP_SYS_ADMIN, CAP_NET_ADMIN falls back to raw, says why, counts exactly', async () => {
    const xsk = new XskProcess(withoutAdminCaps(sb), ['--iface', sb.dutIf, '--port', `${PORT},${PORT + 1}`, '--mode', 'auto']);
    await xsk.up();
    const caps = effectiveCaps(xsk.child.pid!);
    assert.ok(has(caps, CAP.NET_RAW), `CAP_NET_RAW kept (CapEff ${caps.toString(16)})`);
    for (const c of ['BPF', 'SYS_ADMIN', 'NET_ADMIN', 'PERFMON'] as const) assert.ok(!has(caps, CAP[c]), `CAP_${c} dropped (CapEff ${caps.toString(16)})`);
    const warnings = xsk.stderr.split('\n').filter((l) => /falling back/.test(l));
    assert.equal(warnings.length, 1, xsk.stderr);
    assert.match(warnings[0], /AF_XDP unavailable \(.*EPERM.*\); falling back to raw mode \(AF_PACKET\)/);
    await sendBoth(sb);
    await sleep(300);
    xsk.signal('SIGTERM');
    assert.equal(await xsk.exit(), 0, xsk.stderr);
    assertExact(xsk.summary());
  });

  it('forced native mode without those capabilities fails with the reason and does not fall back', async () => {
    const xsk = new XskProcess(withoutAdminCaps(sb), ['--iface', sb.dutIf, '--port', String(PORT), '--mode', 'native']);
    assert.equal(await xsk.exit(), 1);
    assert.match(xsk.stderr, /^xsk: .*EPERM/m);
    assert.doesNotMatch(xsk.stderr, /falling back|raw mode/);
    assert.equal(xsk.stdout, '');
  });

  it('auto mode with every capability stays on AF_XDP', async () => {
    const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', 'auto', '--duration', '0.5']);
    assert.equal(await xsk.exit(), 0, xsk.stderr);
    assert.doesNotMatch(xsk.stderr, /falling back/);
    assert.match(xsk.summary().mode, /^(native|generic)$/);
  });

  for (const [flag, args, named] of [
    ['--zero-copy', ['--zero-copy'], /option '--zero-copy' is for AF_XDP/],
    ['--hugepages', ['--hugepages'], /option '--hugepages' is for AF_XDP/],
    ['--queues', ['--queues', '0'], /option '--queues <list>' is for AF_XDP/],
  ] as [string, string[], RegExp][]) {
    it(`refuses ${flag} with --mode raw in one line naming it`, async () => {
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', 'raw', ...args]);
      assert.notEqual(await xsk.exit(), 0);
      const lines = xsk.stderr.trim().split('\n');
      assert.equal(lines.length, 1, xsk.stderr);
      assert.match(lines[0], named);
    });
  }
});
