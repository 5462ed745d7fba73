/**
 * Forwarding in raw mode: the load balancer of src/forward/ over the AF_PACKET port. Same
 * topology as test/netns/forward.test.ts (client, xsk and three backends on one L2 segment);
 * xsk rewrites each datagram for the next backend and the raw port copies it into its TX ring.
 * Kernel UDP sockets on the backends drop datagrams with bad checksums, so receipt proves them
 * right. A SIGHUP reload moves the traffic, which also regenerates the socket filter.
 *
 * The client's veth keeps its default checksum offload: its datagrams arrive with partial UDP
 * checksums, which the kernel flags TP_STATUS_CSUMNOTREADY and the raw port completes before
 * the forwarder sees them (raw_stats.csum_completed).
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandbox } from '../../src/sandbox/netns.js';
import { XskProcess, runTool, startSink, stopLeftoverXsks } from '../../src/sandbox/xsk-process.js';

// An xsk left running by a failed assertion would hold the interface for every later test.
afterEach(stopLeftoverXsks);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FRONT = 9000;
const BACK = 9001;

describe('forwarding, raw mode', () => {
  let sb: Sandbox;
  let dir: string;
  before(() => {
    sb = new Sandbox({ name: 'xskf-raw', backends: 3 });
    dir = mkdtempSync(join(tmpdir(), 'xsk-rawfwd-'));
  });
  after(() => {
    sb.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const family of [4, 6] as const) {
    it(`spreads 3000 IPv${family} datagrams round-robin, 1000 per backend, payloads intact`, async () => {
      const addr = (b: { addr: string; addr6: string }) => (family === 4 ? `${b.addr}:${BACK}` : `[${b.addr6}]:${BACK}`);
      const sinks = sb.backends.map((b) => startSink(sb, b.ns, BACK, family));
      await Promise.all(sinks.map((k) => k.ready));
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--forward', `${FRONT}=${sb.backends.map(addr).join(',')}`, '--mode', 'raw']);
      await xsk.up();
      const sent = await runTool(sb, sb.gen, 'udp-send', ['--to', family === 4 ? sb.dutAddr : sb.dutAddr6, '--port', String(FRONT), '--count', '3000', '--size', '300', '--burst', '8']);
      assert.equal(sent.sent, 3000);
      await sleep(500);
      xsk.signal('SIGTERM');
      assert.equal(await xsk.exit(), 0, xsk.stderr);
      const got = await Promise.all(sinks.map((k) => k.stop()));
      const errors = sb.backends.map((b) => sb.udpErrors(b.ns));
      assert.deepEqual(errors.map((e) => e.csum), [0, 0, 0], 'no datagram with a bad UDP checksum reached a backend');
      for (const g of got) assert.deepEqual(g, { received: 1000, bytes: 300_000, corrupt: 0, distinct: 1000 }, `${JSON.stringify(got)}; backends' UDP errors ${JSON.stringify(errors)}`);
      const s = xsk.summary();
      assert.equal(s.mode, 'raw');
      assert.equal(s.forward.forwarded, 3000);
      assert.deepEqual(Object.values(s.forward.per_backend), [1000, 1000, 1000]);
      assert.equal(s.tx_packets, 3000);
      assert.deepEqual(s.tx_drops, { ring_full: 0, too_long: 0, flush_errors: 0 });
      assert.equal(s.raw_stats.csum_completed, 3000, 'the kernel flagged every datagram CSUMNOTREADY; the port completed them');
      assert.equal(s.raw_stats.csum_not_completed, 0);
      // Complete by then; a full checksum equal to the pseudo-header sum (~1 in 65536) still counts here.
      assert.ok(s.forward.checksum_completed <= 2, `forward.checksum_completed ${s.forward.checksum_completed}`);
      assert.equal(s.forward.drops.bad_checksum, 0);
    });
  }

  it('follows a reloaded config (SIGHUP): new port, new backend, filter regenerated', async () => {
    const cfg = join(dir, 'rules.json');
    const b = sb.backends;
    writeFileSync(cfg, JSON.stringify({ forward: { [FRONT]: [`${b[0].addr}:${BACK}`] } }));
    const sinks = b.map((x) => startSink(sb, x.ns, BACK));
    await Promise.all(sinks.map((k) => k.ready));
    const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--config', cfg, '--mode', 'raw']);
    await xsk.up();
    await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(FRONT), '--count', '500', '--burst', '8']);
    await sleep(300);
    // Move to another frontend port and backend: the old port must no longer be taken.
    writeFileSync(cfg, JSON.stringify({ forward: { [FRONT + 5]: [`${b[2].addr}:${BACK}`] } }));
    xsk.signal('SIGHUP');
    const deadline = Date.now() + 5000;
    while (!/reload: 1 forward rule/.test(xsk.stderr) && Date.now() < deadline) await sleep(20);
    assert.match(xsk.stderr, /reload: 1 forward rule\(s\), ports 9005/);
    await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(FRONT), '--count', '300', '--burst', '8']);
    await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(FRONT + 5), '--count', '400', '--burst', '8']);
    await sleep(300);
    xsk.signal('SIGTERM');
    assert.equal(await xsk.exit(), 0, xsk.stderr);
    const got = await Promise.all(sinks.map((k) => k.stop()));
    assert.deepEqual(got.map((g) => g.received), [500, 0, 400]);
    const s = xsk.summary();
    assert.equal(s.rx_packets, 900, 'the 300 to the old port were filtered out in the kernel');
    assert.equal(s.forward.forwarded, 900);
  });
});
