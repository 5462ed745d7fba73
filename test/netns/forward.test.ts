/**
 * The load balancer end to end. Topology (src/sandbox/netns.ts with backends: 3), one L2 segment:
 *
 *   client (gen ns, br0 10.199.0.1) ─┬─ br0 ─ gen0 <veth> dut0 (dut ns, xsk, 10.199.0.2)
 *                                    ├─ b1 10.199.0.11
 *                                    ├─ b2 10.199.0.12
 *                                    └─ b3 10.199.0.13
 *
 * The client sends to 10.199.0.2:9000; xsk rewrites each datagram for the next backend's
 * :9001 and sends it back out of dut0 from the same UMEM frame. Kernel UDP sockets on the
 * backends drop datagrams with bad checksums, so receipt proves them right (and tshark on a
 * backend checks a sample).
 *
 * The client's veth keeps its default checksum offload, as on any container or VM host: its
 * datagrams reach xsk with partial UDP checksums (the pseudo-header sum only), which xsk must
 * complete; every one of them shows in forward.checksum_completed. One test turns offload off,
 * for full checksums as from a real NIC.
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

function assertAccounted(s: Record<string, any>): void {
  const f = s.frames;
  assert.equal(f.free + f.fill + f.rx + f.tx + f.kernel, f.total);
  // The kernel may hold back the odd frame it could not deliver (RX full); a leak would grow.
  assert.ok(f.kernel >= 0 && f.kernel <= 4, `every UMEM frame accounted for: ${JSON.stringify(f)}`);
  assert.equal(f.tx, 0, 'nothing left in flight after the TX drain');
}

for (const mode of ['native', 'generic'] as const) {
  describe(`forwarding, ${mode} mode`, () => {
    let sb: Sandbox;
    let dir: string;
    before(() => {
      sb = new Sandbox({ name: `xskf-${mode.slice(0, 3)}`, backends: 3 });
      dir = mkdtempSync(join(tmpdir(), 'xsk-fwd-'));
    });
    after(() => {
      sb.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    for (const family of [4, 6] as const) {
      it(`spreads 3000 IPv${family} datagrams round-robin, 1000 per backend, payloads intact`, async () => {
        const addr = (b: { addr: string; addr6: string }) => (family === 4 ? `${b.addr}:${BACK}` : `[${b.addr6}]:${BACK}`);
        const rule = `${FRONT}=${sb.backends.map(addr).join(',')}`;
        const sinks = sb.backends.map((b) => startSink(sb, b.ns, BACK, family));
        await Promise.all(sinks.map((k) => k.ready));
        // A sample at one backend, checked by tshark: IPv4 header and UDP checksums good, TTL /
        // hop limit one less, the backend's port.
        const capture = sb.spawn(sb.backends[0].ns, 'tshark', ['-i', 'bk0', '-c', '20', '-a', 'duration:20', '-f', `udp dst port ${BACK}`,
          '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-T', 'fields',
          '-e', family === 4 ? 'ip.checksum.status' : 'ipv6.version', '-e', family === 4 ? 'ip.ttl' : 'ipv6.hlim', '-e', 'udp.dstport', '-e', 'udp.checksum.status']);
        const captureDone = new Promise((r) => capture.on('exit', r));
        let captured = '';
        capture.stdout!.setEncoding('utf8').on('data', (d: string) => (captured += d));
        await sleep(1500); // tshark takes a moment to start capturing

        const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--forward', rule, '--mode', mode]);
        await xsk.up();
        // 8 a millisecond, as in raw-forward.test.ts: the sinks are Node processes on a shared machine.
        const sent = await runTool(sb, sb.gen, 'udp-send', ['--to', family === 4 ? sb.dutAddr : sb.dutAddr6, '--port', String(FRONT), '--count', '3000', '--size', '300', '--burst', '8']);
        assert.equal(sent.sent, 3000);
        await sleep(500);
        xsk.signal('SIGTERM');
        assert.equal(await xsk.exit(), 0, xsk.stderr);
        const got = await Promise.all(sinks.map((k) => k.stop()));
        const errors = sb.backends.map((b) => sb.udpErrors(b.ns));
        assert.deepEqual(errors.map((e) => e.csum), [0, 0, 0], 'no datagram with a bad UDP checksum reached a backend');
        for (const g of got) {
          assert.equal(g.received, 1000, `${JSON.stringify(got)}; backends' UDP errors ${JSON.stringify(errors)}`);
          assert.equal(g.corrupt, 0);
          assert.equal(g.distinct, 1000);
        }
        const s = xsk.summary();
        assert.equal(s.forward.forwarded, 3000);
        assert.deepEqual(Object.values(s.forward.per_backend), [1000, 1000, 1000]);
        assert.equal(s.forward.checksum_completed, 3000, 'every datagram came with a partial checksum (client offload on)');
        assert.equal(s.forward.drops.bad_checksum, 0);
        assert.equal(s.tx_packets, 3000);
        assert.equal(s.tx_drops.ring_full, 0);
        assertAccounted(s);
        await captureDone;
        const rows = captured.trim().split('\n').map((l) => l.split('\t'));
        assert.ok(rows.length >= 10, `captured ${rows.length} frames:\n${captured}`);
        for (const [ipStatus, ttl, port, udpStatus] of rows) {
          if (family === 4) assert.equal(ipStatus, '1', `IPv4 header checksum good (tshark status 1): ${captured}`);
          assert.equal(ttl, '63', 'TTL / hop limit decremented once');
          assert.equal(port, String(BACK));
          assert.equal(udpStatus, '1', `UDP checksum good (tshark status 1): ${captured}`);
        }
      });
    }

    it('follows a reloaded config (SIGHUP) without restarting', async () => {
      const cfg = join(dir, 'rules.json');
      const b = sb.backends;
      writeFileSync(cfg, JSON.stringify({ forward: { [FRONT]: [`${b[0].addr}:${BACK}`] } }));
      const sinks = b.map((x) => startSink(sb, x.ns, BACK));
      await Promise.all(sinks.map((k) => k.ready));
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--config', cfg, '--mode', mode]);
      await xsk.up();
      await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(FRONT), '--count', '200']);
      writeFileSync(cfg, JSON.stringify({ forward: { [FRONT]: [`${b[1].addr}:${BACK}`, `${b[2].addr}:${BACK}`] }, ports: [9100] }));
      xsk.signal('SIGHUP');
      const deadline = Date.now() + 10000;
      while (!xsk.stderr.includes('reload:') && Date.now() < deadline) await sleep(20);
      assert.match(xsk.stderr, /reload: 1 forward rule\(s\), ports 9000,9100/);
      await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(FRONT), '--count', '200']);
      await sleep(300);
      xsk.signal('SIGTERM');
      assert.equal(await xsk.exit(), 0);
      const got = await Promise.all(sinks.map((k) => k.stop()));
      assert.deepEqual(got.map((g) => g.received), [200, 100, 100]);
      const s = xsk.summary();
      assert.deepEqual(s.ports, [9000, 9100]);
      assert.equal(s.forward.forwarded, 400);
      assertAccounted(s);
    });

    it('drops and counts what a tiny TX ring cannot take, loses no frame, and does not hang', async () => {
      sb.exec(sb.dut, 'ethtool', ['-K', sb.dutIf, 'gro', 'on']);
      const rule = `${FRONT}=${sb.backends.map((x) => `${x.addr}:${BACK}`).join(',')}`;
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--forward', rule, '--mode', mode, '--tx-ring-size', '8']);
      await xsk.up();
      const gen = await runTool(sb, sb.gen, '../gen', ['--iface', sb.genIf, '--dst-mac', sb.dutMac, '--src-mac', sb.genMac,
        '--src-ip', sb.genAddr, '--dst-ip', sb.dutAddr, '--dst-port', String(FRONT), '--count', '200000', '--seconds', '10']);
      assert.equal(gen.sent, 200000);
      await sleep(500);
      xsk.signal('SIGTERM');
      assert.equal(await xsk.exit(), 0, xsk.stderr);
      const s = xsk.summary();
      assert.ok(s.tx_drops.ring_full > 0, `a burst overflows an 8-entry TX ring: ${JSON.stringify(s.tx_drops)}`);
      assert.equal(s.forward.forwarded, s.tx_packets + s.tx_drops.ring_full, 'every forwarded frame was sent or counted as dropped');
      assert.equal(s.rx_packets, s.forward.forwarded);
      assertAccounted(s);
    });
  });
}

describe('forwarding full checksums (client offload off), native mode', () => {
  // Offload off on purpose: frames with full UDP checksums, as from a real NIC or another host,
  // take the plain RFC 1624 update; nothing needs completing.
  let sb: Sandbox;
  before(() => {
    sb = new Sandbox({ name: 'xskf-full', backends: 3, clientChecksumOffload: false });
  });
  after(() => sb.destroy());

  for (const family of [4, 6] as const) {
    it(`forwards 3000 IPv${family} datagrams with full checksums, none completed`, async () => {
      const addr = (b: { addr: string; addr6: string }) => (family === 4 ? `${b.addr}:${BACK}` : `[${b.addr6}]:${BACK}`);
      const sinks = sb.backends.map((b) => startSink(sb, b.ns, BACK, family));
      await Promise.all(sinks.map((k) => k.ready));
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--forward', `${FRONT}=${sb.backends.map(addr).join(',')}`, '--mode', 'native']);
      await xsk.up();
      const sent = await runTool(sb, sb.gen, 'udp-send', ['--to', family === 4 ? sb.dutAddr : sb.dutAddr6, '--port', String(FRONT), '--count', '3000', '--size', '301', '--burst', '8']);
      assert.equal(sent.sent, 3000);
      await sleep(500);
      xsk.signal('SIGTERM');
      assert.equal(await xsk.exit(), 0, xsk.stderr);
      const got = await Promise.all(sinks.map((k) => k.stop()));
      for (const g of got) assert.deepEqual(g, { received: 1000, bytes: 301_000, corrupt: 0, distinct: 1000 }, JSON.stringify(got));
      const s = xsk.summary();
      assert.equal(s.forward.forwarded, 3000);
      assert.equal(s.forward.drops.bad_checksum, 0);
      // A full checksum equals the pseudo-header sum about once in 65536 datagrams: counted as
      // completed (and forwarded the same). 3000 datagrams make one ~5 % likely, three ~3e-5.
      assert.ok(s.forward.checksum_completed <= 2, `checksum_completed ${s.forward.checksum_completed}`);
    });
  }
});
