/**
 * The C reference (bench/c/xsk_ref.c, built to build/bench/xsk_ref) on the veth sandbox: it loads
 * our XDP program itself, counts exactly the datagrams sent to its port, forwards as xsk does,
 * and leaves no XDP program behind.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from '../../src/sandbox/netns.js';
import { runTool, startSink } from '../../src/sandbox/xsk-process.js';
import { MINIMAL_OBJ, startRef } from '../../bench/c/ref.js';
import { waitNoXdp } from '../helpers/xdp.js';

const PORT = 9000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The Udp: line of /proc/net/snmp as name → value. */
function udpCounters(snmp: string): Record<string, number> {
  const [names, values] = snmp.split('\n').filter((l) => l.startsWith('Udp: '));
  const v = values.split(' ').slice(1).map(Number);
  return Object.fromEntries(names.split(' ').slice(1).map((n, i) => [n, v[i]]));
}


describe('C reference (xsk_ref), native mode', () => {
  let sb: Sandbox;
  before(() => {
    // Offload off: the C reference's l2fwd only updates checksums incrementally (RFC 1624), like
    // xsk before it completed partial ones; it is a speed baseline, not a forwarder for local senders.
    sb = new Sandbox({ name: 'xskc', backends: 1, clientChecksumOffload: false });
  });
  after(() => sb.destroy());

  it('rxdrop counts exactly the datagrams sent to its port and detaches on exit', async () => {
    // --stamp-every 1: the receive stamp on every frame (xsk's --latency-sample 1).
    const ref = await startRef(sb, { app: 'rxdrop', mode: 'native', port: PORT, duration: 30, stampEvery: 1 });
    assert.ok(sb.xdpOn(sb.dut, sb.dutIf), 'our XDP program is attached while xsk_ref runs');
    const sent = await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(PORT), '--count', '3000', '--size', '100']);
    // Another port: the program passes it to the kernel, xsk_ref never sees it.
    await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(PORT + 5), '--count', '100']);
    assert.equal(sent.sent, 3000);
    await sleep(300);
    const s = await ref.stop();
    assert.equal(s.mode, 'native');
    assert.equal(s.rx_packets, 3000, JSON.stringify(s));
    assert.equal(s.rx_datagrams, 3000);
    assert.equal(s.rx_bytes, 3000 * (14 + 20 + 8 + 100));
    assert.equal(s.rx_payload_bytes, 3000 * 100);
    assert.ok(Object.values(s.invalid as Record<string, number>).every((n) => n === 0), JSON.stringify(s.invalid));
    assert.equal(s.xdp_stats.rx_ring_full, 0);
    assert.equal(s.xdp_program.redirected, 3000);
    assert.ok(s.xdp_program.passed >= 100, JSON.stringify(s.xdp_program));
    assert.equal(typeof s.cpu_s, 'number');
    // Every frame carried the XDP program's receive stamp and gave one latency sample.
    assert.equal(s.latency.unstamped, 0, JSON.stringify(s.latency));
    assert.equal(s.latency.rx_to_user.count, 3000, JSON.stringify(s.latency));
    const l = s.latency.rx_to_user;
    assert.ok(l.p50_us > 0 && l.p50_us <= l.p90_us && l.p90_us <= l.p99_us && l.p99_us <= l['p99.9_us'] && l['p99.9_us'] <= l.max_us, JSON.stringify(l));
    assert.ok(l.max_us < 10e6 && l.first_us <= l.max_us, JSON.stringify(l));
    assert.equal(await waitNoXdp(sb), '', 'no XDP program left after SIGTERM');
  });

  it('the minimal receiver (xsk_minimal.o, one byte read) counts exactly the datagrams to its port', async () => {
    const ref = await startRef(sb, { app: 'rxdrop', mode: 'native', port: PORT, duration: 30, obj: MINIMAL_OBJ, touch: true });
    await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(PORT), '--count', '2000']);
    await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(PORT + 5), '--count', '100']);
    await sleep(300);
    const s = await ref.stop();
    assert.equal(s.rx_packets, 2000, JSON.stringify(s));
    assert.equal(s.rx_datagrams, 0, 'nothing parsed');
    assert.deepEqual(s.xdp_program, {}, 'the minimal program has no counters');
    assert.equal(s.latency.rx_to_user, undefined, 'no stamps looked for');
    assert.equal(await waitNoXdp(sb), '');
  });

  it('stops by itself at --duration and leaves no program', async () => {
    const ref = await startRef(sb, { app: 'rxdrop', mode: 'native', port: PORT, duration: 1 });
    const t = Date.now();
    assert.equal(await ref.exit(), 0, ref.stderr);
    assert.ok(Date.now() - t < 3000);
    assert.equal(ref.summary().rx_packets, 0);
    assert.equal(await waitNoXdp(sb), '');
  });

  it('leaves no program behind when killed (the bpf_link dies with it)', async () => {
    const ref = await startRef(sb, { app: 'rxdrop', mode: 'native', port: PORT, duration: 30 });
    assert.ok(sb.xdpOn(sb.dut, sb.dutIf));
    ref.child.kill('SIGKILL');
    assert.equal(await ref.exit(), null);
    assert.equal(await waitNoXdp(sb), '');
  });

  it('l2fwd rewrites datagrams for the backend with valid checksums', async () => {
    const b = sb.backends[0];
    const [link] = JSON.parse(sb.exec(b.ns, 'ip', ['-j', 'link', 'show', b.dev])) as { address: string }[];
    const sink = startSink(sb, b.ns, 9001);
    await sink.ready;
    const ref = await startRef(sb, { app: 'l2fwd', mode: 'native', port: PORT, duration: 30, fwdDst: `${b.addr}:9001`, fwdMac: link.address });
    const sent = await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(PORT), '--count', '2000', '--size', '300', '--burst', '16', '--gap-ms', '2']);
    assert.equal(sent.sent, 2000);
    await sleep(500);
    const s = await ref.stop();
    const got = await sink.stop();
    assert.equal(s.rx_packets, 2000, JSON.stringify(s));
    assert.equal(s.tx_packets, 2000, JSON.stringify(s));
    assert.equal(s.tx_drops.unsent, 0);
    // The backend's kernel drops datagrams with a bad IP or UDP checksum: receipt proves them
    // right. A sink descheduled under load may overflow its socket buffer (RcvbufErrors): those
    // datagrams did arrive, checksums checked.
    const udp = udpCounters(sb.exec(b.ns, 'cat', ['/proc/net/snmp']));
    assert.equal(udp.InCsumErrors, 0);
    assert.equal(got.received + udp.RcvbufErrors, 2000, `${JSON.stringify(got)} ${JSON.stringify(udp)}`);
    assert.equal(got.corrupt, 0);
    assert.equal(await waitNoXdp(sb), '');
  });
});
