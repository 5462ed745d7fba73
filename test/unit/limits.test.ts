/**
 * Limits checked before acting, and failures said in one line naming the flag: the long timer,
 * --metrics / --grpc on a busy port, TLS files, the config file's schema.
 */
import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { longTimeout, MAX_TIMER_MS, NODE_TIMER_MAX_MS } from '../../src/util/timer.js';
import { MetricsServer } from '../../src/metrics/server.js';
import { FeedServer } from '../../src/feed/server.js';
import { checkConfig } from '../../src/forward/rules.js';

describe('longTimeout', () => {
  it('fires once, after 3,000,000 s (past the 2^31 − 1 ms of one Node timer), not after 1 ms', () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    try {
      let fired = 0;
      longTimeout(() => fired++, 3_000_000_000, () => Date.now());
      mock.timers.tick(1);
      assert.equal(fired, 0);
      mock.timers.tick(NODE_TIMER_MAX_MS);
      assert.equal(fired, 0, 'not at the first step');
      mock.timers.tick(3_000_000_000 - NODE_TIMER_MAX_MS - 2);
      assert.equal(fired, 0, 'not a ms early');
      mock.timers.tick(1);
      assert.equal(fired, 1);
      mock.timers.tick(10 * NODE_TIMER_MAX_MS);
      assert.equal(fired, 1, 'once');
    } finally {
      mock.timers.reset();
    }
  });

  it('can be cleared, and refuses more than ten years or a negative time', () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    try {
      let fired = 0;
      const t = longTimeout(() => fired++, 3 * NODE_TIMER_MAX_MS, () => Date.now());
      mock.timers.tick(NODE_TIMER_MAX_MS + 5);
      t.clear();
      mock.timers.tick(5 * NODE_TIMER_MAX_MS);
      assert.equal(fired, 0);
    } finally {
      mock.timers.reset();
    }
    assert.throws(() => longTimeout(() => {}, MAX_TIMER_MS + 1), RangeError);
    assert.throws(() => longTimeout(() => {}, -1), RangeError);
    longTimeout(() => {}, 0).clear();
  });
});

async function busyPort(): Promise<{ port: number; close(): void }> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  return { port: (s.address() as net.AddressInfo).port, close: () => s.close() };
}

/** What a function writes through console.error meanwhile. */
async function stderrOf(fn: () => Promise<unknown>): Promise<string[]> {
  const lines: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    await fn();
  } finally {
    console.error = orig;
  }
  return lines;
}

const noCore = { subscribe: () => ({ cancelled() {} }), state: () => ({}) };

describe('a busy or bad listen address is one line naming the flag', () => {
  it('--metrics on a busy port: "--metrics 127.0.0.1:P: address in use"', async () => {
    const b = await busyPort();
    try {
      await assert.rejects(new MetricsServer('127.0.0.1', b.port).start(), (e: Error) => e.message === `--metrics 127.0.0.1:${b.port}: address in use`);
    } finally {
      b.close();
    }
  });

  it('--grpc on a busy port: "--grpc 127.0.0.1:P: address in use", and grpc-js logs nothing', async () => {
    const b = await busyPort();
    try {
      const logged = await stderrOf(() =>
        assert.rejects(new FeedServer(noCore, { host: '127.0.0.1', port: b.port }).start(), (e: Error) => e.message === `--grpc 127.0.0.1:${b.port}: address in use`),
      );
      assert.deepEqual(logged, []);
    } finally {
      b.close();
    }
  });

  it('--grpc with TLS files that are not PEM or are a directory names the flag and the file', async () => {
    await assert.rejects(
      new FeedServer(noCore, { host: '127.0.0.1', port: 0 }, { cert: '/etc/hostname', key: '/etc/hostname' }).start(),
      (e: Error) => e.message === '--tls-cert /etc/hostname: not a PEM certificate (no "-----BEGIN CERTIFICATE-----" line)',
    );
    await assert.rejects(
      new FeedServer(noCore, { host: '127.0.0.1', port: 0 }, { cert: '/tmp', key: '/etc/hostname' }).start(),
      (e: Error) => e.message === '--tls-cert /tmp: is a directory, not a file',
    );
  });
});

describe('config file schema: every field, with its JSON path', () => {
  const cases: [unknown, string][] = [
    [{ ports: '9000' }, '"ports" must be an array of ports, not "9000"'],
    [{ ports: [9000, 'x'] }, '"ports"[1]: "x" is not a port (1-65535)'],
    [{ ports: [9000, null] }, '"ports"[1]: null is not a port (1-65535)'],
    [{ ports: [70000] }, '"ports"[0]: 70000 is not a port (1-65535)'],
    [{ ports: [1.5] }, '"ports"[0]: 1.5 is not a port (1-65535)'],
    [{ forward: [] }, '"forward" must be an object of PORT: ["ADDR:PORT", ...], not []'],
    [{ forward: { 9000: '10.0.0.3:9001' } }, '"forward"."9000" must be a non-empty array of "ADDR:PORT" backends, not "10.0.0.3:9001"'],
    [{ forward: { 9000: [] } }, '"forward"."9000" must be a non-empty array of "ADDR:PORT" backends, not []'],
    [{ forward: { 9000: ['10.0.0.3:9001', 7] } }, '"forward"."9000"[1]: 7 is not an "ADDR:PORT" string'],
    [{ forward: { 9000: ['nowhere'] } }, '"forward"."9000"[0]: "nowhere" is not ADDR:PORT or [IPv6]:PORT'],
    [{ forward: { abc: ['10.0.0.3:9001'] } }, '"forward"."abc": frontend port: "abc" is not a port (1-65535)'],
    [{ neighbors: 'x' }, '"neighbors" must be an object of "ADDR": "MAC", not "x"'],
    [{ neighbors: { '10.0.0.3': 5 } }, '"neighbors"."10.0.0.3": 5 is not a MAC address (aa:bb:cc:dd:ee:ff)'],
    [{ neighbors: { host: '02:00:00:00:00:03' } }, '"neighbors"."host": "host" is not an IP address'],
    [{ bogus: 1 }, 'unknown key "bogus" (expected "ports", "forward", "neighbors")'],
    [[9000], 'the top level must be a JSON object, not [9000]'],
    [{ ports: 'x'.repeat(1000) }, `"ports" must be an array of ports, not "${'x'.repeat(36)}...`],
  ];
  for (const [cfg, msg] of cases) {
    it(`${JSON.stringify(cfg).slice(0, 60)} → ${msg.slice(0, 50)}`, () => assert.throws(() => checkConfig(cfg), (e: Error) => e.message === msg));
  }
  it('takes a good one', () => {
    const c = checkConfig({ ports: [9200, '9201'], forward: { 9000: ['10.0.0.3:9001', '[fd00::5]:9100'] }, neighbors: { '10.0.0.3': '02:00:00:00:00:AA' } });
    assert.deepEqual(c.ports, [9200, 9201]);
    assert.equal(c.rules[0].backends.length, 2);
    assert.equal(c.neighbors.get('10.0.0.3'), '02:00:00:00:00:aa');
  });
});
