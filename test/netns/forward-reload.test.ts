/**
 * Forwarding counts across reloads, and reloads of many backends, under traffic. Topology as in
 * forward.test.ts (3 backend namespaces on a bridge with the client). Bounded: every sender has
 * a count and a time limit, every reload a deadline.
 *
 *  - Exact counts: the client sends while the config goes {b1,b2} → {b2,b3} (b1 removed, b3
 *    new: resolved during the reload) → {b1,b3} (b1 back) → {b1,b2,b3}, a SIGHUP each. After
 *    every reload, /metrics' xsk_forwarded_packets_total{backend} never went down; at the end,
 *    each backend's count in the summary is what its sink received, they add up to
 *    `forwarded`, and nothing was lost. One queue and two (--queues 0-1).
 *  - 10,000 backends: a second frontend port gets 10,000 backends (distinct addresses routed via
 *    b1), then 10,000 others (on-link, unresolvable), then none, while the client sends to the
 *    first port: no datagram is lost or dropped during the reloads.
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

function scrape(sb: Sandbox, port: number): string {
  return sb.exec(sb.dut, process.execPath, ['-e', `fetch("http://127.0.0.1:${port}/metrics").then(r => r.text()).then(t => process.stdout.write(t))`]);
}

/** xsk_forwarded_packets_total by backend, from a /metrics body. */
function perBackend(body: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of body.matchAll(/^xsk_forwarded_packets_total\{[^}]*backend="([^"]+)"[^}]*\} (\d+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

async function reload(xsk: XskProcess, n: number): Promise<void> {
  xsk.signal('SIGHUP');
  const deadline = Date.now() + 15000;
  while ((xsk.stderr.match(/reload: \d+ forward rule/g) ?? []).length < n) {
    assert.ok(Date.now() < deadline, `reload ${n} not done in time:\n${xsk.stderr}`);
    await sleep(20);
  }
}

for (const queues of [1, 2] as const) {
  describe(`forward counts across reloads, ${queues} queue(s)`, () => {
    let sb: Sandbox;
    let dir: string;
    before(() => {
      sb = new Sandbox({ name: `xskr-${queues}`, backends: 3, rxQueues: queues, txQueues: queues });
      dir = mkdtempSync(join(tmpdir(), 'xsk-reload-'));
    });
    after(() => {
      sb.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    it('per-backend counts are exact and never go back through remove, add and re-add', async () => {
      const metricsPort = 9470 + queues;
      const cfg = join(dir, 'rules.json');
      const b = sb.backends.map((x) => `${x.addr}:${BACK}`);
      const configs = [[b[0], b[1]], [b[1], b[2]], [b[0], b[2]], [b[0], b[1], b[2]]];
      writeFileSync(cfg, JSON.stringify({ forward: { [FRONT]: configs[0] } }));
      const sinks = sb.backends.map((x) => startSink(sb, x.ns, BACK));
      await Promise.all(sinks.map((k) => k.ready));
      const args = ['--iface', sb.dutIf, '--config', cfg, '--mode', 'native', '--metrics', `127.0.0.1:${metricsPort}`];
      const xsk = new XskProcess(sb, queues > 1 ? [...args, '--queues', '0-1'] : args);
      await xsk.up();
      // ~5 s of traffic at ~4 a millisecond, from 16 sockets (several flows: both queues busy).
      const sending = runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(FRONT), '--count', '16000', '--burst', '4', '--gap-ms', '1', '--sockets', '16', '--seconds', '20']);
      let last: Record<string, number> = {};
      for (let i = 1; i < configs.length; i++) {
        await sleep(600);
        writeFileSync(cfg, JSON.stringify({ forward: { [FRONT]: configs[i] } }));
        await reload(xsk, i);
        const now = perBackend(scrape(sb, metricsPort));
        for (const [name, v] of Object.entries(last)) assert.ok((now[name] ?? -1) >= v, `${name} went from ${v} to ${now[name]} after reload ${i}`);
        last = now;
      }
      const sent = await sending;
      assert.equal(sent.sent, 16000);
      await sleep(500);
      const final = perBackend(scrape(sb, metricsPort));
      xsk.signal('SIGTERM');
      assert.equal(await xsk.exit(), 0, xsk.stderr);
      const got = await Promise.all(sinks.map((k) => k.stop()));
      const s = xsk.summary();
      const per = s.forward.per_backend as Record<string, number>;
      assert.equal(Object.values(per).reduce((x, y) => x + y, 0), s.forward.forwarded, `sum(per_backend) == forwarded: ${JSON.stringify(s.forward)}`);
      assert.equal(s.forward.forwarded, 16000, JSON.stringify(s.forward));
      assert.deepEqual(s.forward.drops, { ttl_expired: 0, unresolved: 0, family_mismatch: 0, bad_checksum: 0 });
      for (const [i, x] of sb.backends.entries()) {
        assert.equal(per[`${FRONT}->${x.addr}:${BACK}`], got[i].received, `backend ${i + 1}: counted as received: ${JSON.stringify(per)} ${JSON.stringify(got)}`);
        assert.equal(got[i].corrupt, 0);
      }
      assert.deepEqual(final, per, 'the metrics say what the summary says');
      assert.ok(got.every((g) => g.received > 0));
    });
  });
}

describe('reloading 10,000 backends under traffic', () => {
  let sb: Sandbox;
  let dir: string;
  before(() => {
    sb = new Sandbox({ name: 'xskr-10k', backends: 3 });
    dir = mkdtempSync(join(tmpdir(), 'xsk-reload-'));
    sb.exec(sb.dut, 'ip', ['route', 'add', '10.200.0.0/16', 'via', sb.backends[0].addr, 'dev', sb.dutIf]);
    sb.exec(sb.dut, 'ip', ['route', 'add', '10.201.0.0/16', 'dev', sb.dutIf]);
  });
  after(() => {
    sb.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses and drops nothing on the other port while 10,000 backends come, change and go', async () => {
    const cfg = join(dir, 'rules.json');
    const main = sb.backends.map((x) => `${x.addr}:${BACK}`);
    const many = (net: number) => Array.from({ length: 10000 }, (_, i) => `10.${net}.${i >> 8}.${i & 0xff}:${BACK}`);
    const write = (extra?: string[]) => writeFileSync(cfg, JSON.stringify({ forward: { [FRONT]: main, ...(extra ? { 9100: extra } : {}) } }));
    write();
    const sinks = sb.backends.map((x) => startSink(sb, x.ns, BACK));
    await Promise.all(sinks.map((k) => k.ready));
    const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--config', cfg, '--mode', 'native']);
    await xsk.up();
    const sending = runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(FRONT), '--count', '12000', '--burst', '4', '--gap-ms', '1', '--seconds', '20']);
    await sleep(300);
    const steps = [many(200), many(201), undefined];
    for (const [i, extra] of steps.entries()) {
      write(extra);
      const t0 = Date.now();
      await reload(xsk, i + 1);
      assert.ok(Date.now() - t0 < 5000, `reload ${i + 1} took ${Date.now() - t0} ms`);
      await sleep(300);
    }
    assert.match(xsk.stderr, /forward: 10003 backend\(s\), 10000 address\(es\) to look up, 1 next hop\(s\): 10003 resolved, 0 not/);
    const sent = await sending;
    assert.equal(sent.sent, 12000);
    await sleep(500);
    xsk.signal('SIGTERM');
    assert.equal(await xsk.exit(), 0, xsk.stderr);
    const got = await Promise.all(sinks.map((k) => k.stop()));
    const s = xsk.summary();
    assert.equal(got.reduce((n, g) => n + g.received, 0), 12000, JSON.stringify(got));
    assert.equal(s.forward.forwarded, 12000);
    assert.deepEqual(s.forward.drops, { ttl_expired: 0, unresolved: 0, family_mismatch: 0, bad_checksum: 0 });
  });
});
