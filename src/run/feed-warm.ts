/**
 * The feed's warm start, on the main thread: the same code path a datagram takes from the
 * datapath's ring to a subscriber's stream (ring record → history → MoldUDP64 decoding →
 * subscriber queue → batch encoder → stream write), run over synthetic datagrams on throwaway
 * objects of the real classes, so the first real messages after start meet compiled code.
 * Nothing of the live feed (its history, sequence numbers, subscribers, counters) is touched.
 *
 * warmFeedWire() then takes the rest of the way, which only a real stream runs: grpc-js's
 * server stream, node's HTTP/2 session and socket writes. A throwaway feed serves synthetic
 * datagrams on a loopback port of its own to a subscriber in this process for a moment.
 */
import { FeedComponent, type FeedOptions } from '../feed/component.js';
import type { BatchSink } from '../feed/subscriber.js';
import { moldTestPacket } from '../feed/mold-packet.js';
import { FeedIngest } from './feed-ingest.js';
import { FeedClient } from '../feed/client.js';

export interface FeedWarmReport {
  ms: number;
  datagrams: number;
}

const SESSION = Buffer.from('WARMUP    ');

/** Run `datagrams` synthetic datagrams through a throwaway feed (bounded by `budgetMs`). */
export function warmFeed(o: FeedOptions, datagrams = 60_000, budgetMs = 1500): FeedWarmReport {
  const t0 = performance.now();
  const feed = new FeedComponent({ ...o, historyMessages: 1 << 16, historyBytes: 8 << 20 });
  const sink: BatchSink = { write: () => true, onDrain() {}, end() {}, fail() {} };
  feed.subscribe({}, sink, 'warm');
  const ingest = new FeedIngest(feed.stage, []);
  const molds = [...o.decoders].filter(([, d]) => d === 'moldudp64').map(([p]) => p);
  const raws = [...o.decoders].filter(([, d]) => d !== 'moldudp64').map(([p]) => p);
  if (raws.length === 0) raws.push(9000);
  // One buffer per record as the ring holds it: a 16-byte source address, then the payload.
  const rec = Buffer.alloc(16 + 2048);
  rec.set([10, 255, 0, 1], 0);
  let n = 0;
  let seq = 1;
  while (n < datagrams && performance.now() - t0 < budgetMs) {
    for (let i = 0; i < 64; i++, n++) {
      const nowNs = performance.now() * 1e6;
      if (molds.length > 0 && (n & 1) === 0) {
        const p = moldTestPacket(SESSION, seq, 4, 24);
        seq += 4;
        p.copy(rec, 16);
        ingest.record(rec, 16, p.length, nowNs, 4, 0, 40000, molds[n % molds.length]);
      } else {
        ingest.record(rec, 16, 64, nowNs, 4, 0, 40000, raws[n % raws.length]);
      }
    }
    feed.flushNow();
  }
  void feed.stop();
  return { ms: Math.round((performance.now() - t0) * 10) / 10, datagrams: n };
}

export interface FeedWireWarmReport extends FeedWarmReport {
  /** Messages the loopback subscriber read. */
  received: number;
}

/**
 * Serve synthetic datagrams for `ms` to a subscriber in this process over loopback gRPC (a
 * throwaway feed on a port of its own, plaintext), at about `rate` datagrams a second.
 */
export async function warmFeedWire(o: FeedOptions, ms = 300, rate = 100_000): Promise<FeedWireWarmReport> {
  const t0 = performance.now();
  const feed = new FeedComponent({ ...o, listen: { host: '127.0.0.1', port: 0 }, tls: undefined, quiet: true, historyMessages: 1 << 16, historyBytes: 8 << 20 });
  await feed.start();
  const client = new FeedClient(`127.0.0.1:${feed.port}`);
  const sub = client.subscribe({});
  let received = 0;
  const reading = (async () => {
    try {
      for await (const v of sub.views()) received += v.count;
    } catch {
      // cancelled at the end
    }
  })();
  const ingest = new FeedIngest(feed.stage, []);
  const molds = [...o.decoders].filter(([, d]) => d === 'moldudp64').map(([p]) => p);
  const raws = [...o.decoders].filter(([, d]) => d !== 'moldudp64').map(([p]) => p);
  if (raws.length === 0) raws.push(9000);
  const rec = Buffer.alloc(16 + 2048);
  rec.set([10, 255, 0, 1], 0);
  let n = 0;
  let seq = 1;
  // Every millisecond, a millisecond's worth of datagrams.
  const perTick = Math.max(1, Math.round(rate / 1000));
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < perTick; i++, n++) {
      const nowNs = performance.now() * 1e6;
      if (molds.length > 0 && (n & 1) === 0) {
        const p = moldTestPacket(SESSION, seq, 4, 24);
        seq += 4;
        p.copy(rec, 16);
        ingest.record(rec, 16, p.length, nowNs, 4, 0, 40000, molds[n % molds.length]);
      } else {
        ingest.record(rec, 16, 64, nowNs, 4, 0, 40000, raws[n % raws.length]);
      }
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  // Let the subscriber read what is under way, then close everything.
  const until = performance.now() + 200;
  while (received === 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
  sub.cancel();
  client.close();
  await feed.stop();
  await reading;
  return { ms: Math.round((performance.now() - t0) * 10) / 10, datagrams: n, received };
}
