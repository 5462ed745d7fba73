/**
 * The NATS publisher against a real nats-server (Debian's, -js, on this namespace's loopback,
 * a free port, a temp store removed at the end), fed by hand through the feed's own ingest
 * path (no XDP): N messages → N in the stream in order; a batch mode; a NATS restart while
 * messages keep coming (what is lost is counted and announced, nothing duplicated, order
 * kept); a bound on what waits; the stream checks at start.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { FeedComponent } from '../../src/feed/component.js';
import { FeedInjector } from '../../src/run/feed-inject.js';
import { NatsComponent } from '../../src/nats/component.js';
import type { NatsFlags } from '../../src/nats/flags.js';
import { ensureStream, covers } from '../../src/nats/stream.js';
import { consume } from '../../src/nats/consume.js';
import { NatsServer, freePort } from '../../src/sandbox/nats-server.js';
import { initLatency } from '../../src/pipeline/latency.js';
import { moldTestPacket } from '../../src/feed/mold-packet.js';
import { RxClock } from '../../src/pipeline/rx-clock.js';

const clock = new RxClock(false);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function flags(server: NatsServer, stream: string, extra: Partial<NatsFlags> = {}): NatsFlags {
  return { servers: [server.url], subjectPrefix: `t.${stream}`, stream, batch: false, window: 256, queueMessages: 65536, shared: false, ...extra };
}

/** A feed (no gRPC) and a way to put datagrams into it as the datapath's ring would. */
function makeFeed(decoders: Map<number, 'raw' | 'moldudp64'> = new Map(), history = 1 << 16) {
  const feed = new FeedComponent({ decoders, historyMessages: history, historyBytes: 16 << 20, queueMessages: 1024, queueBytes: 1 << 20, info: () => ({ iface: 't', mode: 'test', ports: [9000] }) });
  const ingest = new FeedInjector(feed.stage);
  const rec = Buffer.alloc(16 + 2048);
  rec.set([10, 199, 0, 1], 0);
  let n = 0;
  const raw = (count: number, port = 9000) => {
    for (let i = 0; i < count; i++, n++) {
      rec.writeUInt32BE(n, 16);
      ingest.put(rec, 16, 32, clock.now(), 4, 0, 40000, port);
    }
    ingest.flush();
    feed.flushNow();
  };
  const mold = (first: number, count: number, port = 9100) => {
    const p = moldTestPacket(Buffer.from('SESSION001'), first, count, 20);
    p.copy(rec, 16);
    ingest.put(rec, 16, p.length, clock.now(), 4, 0, 40000, port);
    ingest.flush();
    feed.flushNow();
  };
  return { feed, raw, mold };
}

async function streamMessages(nc: NatsConnection, stream: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(stream)).state.messages;
}

async function until(what: () => boolean, ms: number, step = 10): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(step);
  }
}

describe('NATS JetStream publisher (nats-server on loopback)', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  before(async () => {
    await initLatency();
    server = new NatsServer({ port: await freePort() });
    await server.start();
    nc = await connect({ servers: server.url });
  });
  after(async () => {
    await nc?.close();
    await server?.remove();
  });

  it('N messages in → N in the stream, in order, no duplicates, headers as documented', async () => {
    const { feed, raw } = makeFeed();
    const nats = new NatsComponent(flags(server, 'ONE'), feed, 't');
    await nats.connect();
    await nats.start();
    await feed.start();
    for (let i = 0; i < 20; i++) {
      raw(500);
      await sleep(5);
    }
    await nats.stop();
    await feed.stop();
    const s = nats.summary().nats as Record<string, any>;
    assert.equal(s.published, 10000, JSON.stringify(s));
    assert.equal(s.dropped, 0);
    assert.equal(s.rx_to_ack.count, 10000);
    assert.ok(s.rx_to_ack.max_us < 10e6, JSON.stringify(s.rx_to_ack));
    assert.equal(await streamMessages(nc, 'ONE'), 10000);
    let firstHeaders: Record<string, string> = {};
    const r = await consume(nc, {
      stream: 'ONE',
      ms: 20000,
      count: 10000,
      onMessage: (m) => {
        if (m.seq !== 1) return;
        for (const k of m.headers!.keys()) firstHeaders[k] = m.headers!.get(k);
        assert.equal(m.subject, 't.ONE.9000');
        assert.equal(m.data.length, 32);
      },
    });
    assert.equal(r.messages, 10000);
    assert.equal(r.first_sequence, 1);
    assert.equal(r.last_sequence, 10000);
    assert.equal(r.sequence_jumps, 0);
    assert.equal(r.sequence_backwards, 0);
    assert.equal(r.duplicates, 0);
    assert.equal(firstHeaders['Xsk-Seq'], '1');
    assert.equal(firstHeaders['Xsk-Kind'], 'raw');
    assert.equal(firstHeaders['Xsk-Source'], '10.199.0.1:40000');
    assert.equal(firstHeaders['Xsk-Dst-Port'], '9000');
    assert.match(firstHeaders['Xsk-Rx-Ns'], /^\d+$/);
    assert.match(firstHeaders['Nats-Msg-Id'], /^t-\d+-[0-9a-z]+:1$/);
  });

  it('--nats-batch: one JetStream message per batch, a FeedBatch holding the messages in order; MoldUDP64 gaps are events on the session subject', async () => {
    const { feed, raw, mold } = makeFeed(new Map([[9100, 'moldudp64']]));
    const nats = new NatsComponent(flags(server, 'BATCH', { batch: true }), feed, 't');
    await nats.connect();
    await nats.start();
    await feed.start();
    raw(3000);
    mold(1, 10);
    mold(21, 10); // 11-20 missing: a gap event
    raw(2000);
    await nats.stop();
    await feed.stop();
    const s = nats.summary().nats as Record<string, any>;
    assert.equal(s.published, 5020, JSON.stringify(s));
    assert.equal(s.gap_events, 1);
    const subjects = new Set<string>();
    const r = await consume(nc, { stream: 'BATCH', ms: 20000, idleMs: 1500, onMessage: (m) => subjects.add(m.subject) });
    assert.equal(r.messages, 5020, JSON.stringify(r));
    assert.ok(r.batches < 100, `${r.batches} batches for 5020 messages`);
    assert.equal(r.sequence_jumps, 0);
    assert.equal(r.duplicates, 0);
    assert.equal(r.gap_events, 1);
    assert.equal(r.gap_messages, 10);
    assert.deepEqual([...subjects].sort(), ['t.BATCH.9000', 't.BATCH.SESSION001']);
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) it(`NATS restarts (${signal}) while messages keep coming: what is lost is counted and announced, nothing is duplicated, order is kept`, async () => {
    // A small queue, so that the outage overflows it.
    const { feed, raw } = makeFeed();
    const nats = new NatsComponent(flags(server, `RESTART_${signal}`, { queueMessages: 2000, window: 512 }), feed, 't');
    await nats.connect();
    await nats.start();
    await feed.start();
    let fed = 0;
    let feeding = true;
    const feeder = (async () => {
      // ~20 k messages/s for up to 8 s.
      const end = Date.now() + 8000;
      while (feeding && Date.now() < end) {
        raw(200);
        fed += 200;
        await sleep(10);
      }
    })();
    await sleep(1000);
    await server.stop(5000, signal);
    await sleep(1500);
    await server.start();
    await sleep(1500);
    feeding = false;
    await feeder;
    await until(() => (nats.summary().nats as any).queued === 0 && (nats.summary().nats as any).in_flight === 0, 10000);
    await nats.stop();
    await feed.stop();
    const s = nats.summary().nats as Record<string, any>;
    if (process.env.SHOW) console.log(JSON.stringify(s));
    assert.ok(s.disconnects >= 1 && s.reconnects >= 1, JSON.stringify(s));
    assert.ok(s.dropped > 0, `the outage overflowed the queue: ${JSON.stringify(s)}`);
    assert.equal(s.published + s.dropped, fed, JSON.stringify(s));
    assert.ok(s.loss_events >= 1);
    const nc2 = await connect({ servers: server.url });
    try {
      const r = await consume(nc2, { stream: `RESTART_${signal}`, ms: 30000, idleMs: 2000 });
      assert.equal(r.duplicates, 0, JSON.stringify(r));
      assert.equal(r.sequence_backwards, 0, JSON.stringify(r));
      assert.equal(r.messages, s.published, JSON.stringify(r));
      assert.equal(r.lost_messages, s.dropped, JSON.stringify(r));
      assert.equal(r.sequence_missing, s.dropped, 'every jump is a loss the stream announced');
      assert.equal(r.lost_events, s.loss_events);
    } finally {
      await nc2.close();
    }
  });

  it('the stream checks: created with the limits; an existing one with other subjects or limits is a clear error', async () => {
    const f = flags(server, 'LIMITS', { maxBytes: 1 << 20, maxAgeS: 60 });
    const made = await ensureStream(nc, f);
    assert.equal(made.created, true);
    assert.equal(made.info.config.max_bytes, 1 << 20);
    assert.equal(made.info.config.max_age, 60e9);
    assert.equal((await ensureStream(nc, f)).created, false, 'bound to on the second start');
    await assert.rejects(ensureStream(nc, { ...f, maxBytes: 2 << 20 }), /--nats-stream LIMITS: the stream exists but does not fit: its max_bytes is 1048576, not 2097152 \(--nats-max-bytes\)/);
    await assert.rejects(ensureStream(nc, { ...f, subjectPrefix: 'other' }), /its subjects \[t\.LIMITS\.>\] do not take other\.> \(--nats-subject\)/);
    await assert.rejects(ensureStream(nc, { ...f, stream: 'LIMITS2' }), /another stream already takes subjects under t\.LIMITS\.>/);
    assert.ok(covers('t.>', 't.x'));
    assert.ok(covers('t.*.>', 't.x'));
    assert.ok(!covers('t.x.9000', 't.x'));
    assert.ok(!covers('t.*', 't.x'));
  });
});
