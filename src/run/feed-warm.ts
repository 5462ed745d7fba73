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
import { FeedInjector } from './feed-inject.js';
import { RxClock } from '../pipeline/rx-clock.js';
import { FeedClient } from '../feed/client.js';
import type { BatchView } from '../feed/decode.js';

export interface FeedWarmReport {
  ms: number;
  datagrams: number;
}

/** Two sessions, so that the tracker's lookup takes both its paths (the last one, another one). */
const SESSIONS = [Buffer.from('WARMUP 1  '), Buffer.from('WARMUP 2  ')];

/**
 * Synthetic datagrams for a throwaway feed, through a ring as the datapath hands them over: MoldUDP64
 * packets (4 or 10 messages, two sessions) on the MoldUDP64 ports, every other datagram, and raw
 * ones of varied lengths on the others (the ring then wraps at varied places, as the live one
 * does). Stamped with the time on the kernel's clock, as live ones are: a time of the live
 * magnitude is what the encoder's arithmetic must be compiled for (a small one made the first
 * live message a deopt: an integer multiply that overflowed).
 */
class SyntheticDatagrams {
  private readonly injector: FeedInjector;
  private readonly molds: number[];
  private readonly raws: number[];
  /** One buffer per record as the ring holds it: a 16-byte source address, then the payload. */
  private readonly rec = Buffer.alloc(16 + 2048);
  private readonly seq = [1, 1];
  private readonly clock = new RxClock(false);
  /** Datagrams sent so far. */
  n = 0;

  constructor(feed: FeedComponent, decoders: FeedOptions['decoders']) {
    this.injector = new FeedInjector(feed.stage);
    this.molds = [...decoders].filter(([, d]) => d === 'moldudp64').map(([p]) => p);
    this.raws = [...decoders].filter(([, d]) => d !== 'moldudp64').map(([p]) => p);
    if (this.raws.length === 0) this.raws.push(9000);
    this.rec.set([10, 255, 0, 1], 0);
  }

  send(count: number): void {
    const { injector, molds, raws, rec } = this;
    for (let i = 0; i < count; i++, this.n++) {
      const n = this.n;
      const nowNs = this.clock.now();
      if (molds.length > 0 && (n & 1) === 0) {
        const s = (n >> 1) & 1;
        const count = (n & 2) === 0 ? 4 : 10;
        const p = moldTestPacket(SESSIONS[s], this.seq[s], count, 24);
        this.seq[s] += count;
        p.copy(rec, 16);
        injector.put(rec, 16, p.length, nowNs, 4, 0, 40000, molds[n % molds.length]);
      } else {
        injector.put(rec, 16, 24 + (n % 7) * 12, nowNs, 4, 0, 40000, raws[n % raws.length]);
      }
    }
    injector.flush();
  }

  /** Drained by the ingest's own loop from now on, woken by the ring's doorbell, as live. */
  startIngest(): void {
    this.injector.start();
  }

  stopIngest(): void {
    this.injector.stop();
  }
}

/** Run `datagrams` synthetic datagrams through a throwaway feed (bounded by `budgetMs`). */
export function warmFeed(o: FeedOptions, datagrams = 60_000, budgetMs = 1500): FeedWarmReport {
  const t0 = performance.now();
  const feed = new FeedComponent({ ...o, historyMessages: 1 << 16, historyBytes: 8 << 20 });
  const sink: BatchSink = { write: () => true, onDrain() {}, end() {}, fail() {} };
  // Batches as large as a subscriber may ask for: the writer's buffer grows (that branch compiled).
  feed.subscribe({ maxBatch: 8192 }, sink, 'warm');
  const gen = new SyntheticDatagrams(feed, o.decoders);
  while (gen.n < datagrams && performance.now() - t0 < budgetMs) {
    gen.send(64);
    feed.flushNow();
  }
  void feed.stop();
  return { ms: Math.round((performance.now() - t0) * 10) / 10, datagrams: gen.n };
}

export interface FeedWireWarmReport extends FeedWarmReport {
  /** Messages the loopback subscriber read. */
  received: number;
}

/** Datagrams per event-loop turn in warmFeedWire. */
const PER_TURN = 4;

/**
 * Serve synthetic datagrams for `ms` to a subscriber in this process over loopback gRPC (a
 * throwaway feed on a port of its own, plaintext). `onBatch` sees each batch the subscriber
 * reads: a client warming its own read path (feed-client.ts) passes the function it reads live
 * batches with.
 */
export async function warmFeedWire(o: FeedOptions, ms = 300, onBatch?: (v: BatchView) => void): Promise<FeedWireWarmReport> {
  const t0 = performance.now();
  const feed = new FeedComponent({ ...o, listen: { host: '127.0.0.1', port: 0 }, tls: undefined, quiet: true, historyMessages: 1 << 16, historyBytes: 8 << 20 });
  await feed.start();
  const client = new FeedClient(`127.0.0.1:${feed.port}`);
  const sub = client.subscribe({});
  let received = 0;
  const reading = (async () => {
    try {
      for await (const v of sub.views()) {
        received += v.count;
        onBatch?.(v);
      }
    } catch {
      // cancelled at the end
    }
  })();
  const gen = new SyntheticDatagrams(feed, o.decoders);
  gen.startIngest();
  // A few datagrams every turn of the event loop, as live traffic comes: thousands of stream
  // writes, so that more of node's and grpc-js's write path is optimized before going live. With
  // one write a millisecond, --trace-opt showed 72 functions optimized after "xsk up", in the
  // first live traffic; with this, 59: mostly node's stream internals, which meet the live
  // stream's own objects and callbacks ("wrong map", "wrong call target") whatever the warm-up.
  while (performance.now() - t0 < ms) {
    gen.send(PER_TURN);
    await new Promise((r) => setImmediate(r));
  }
  // Let the subscriber read what is under way, then close everything.
  const until = performance.now() + 200;
  while (received === 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
  gen.stopIngest();
  sub.cancel();
  client.close();
  await feed.stop();
  await reading;
  return { ms: Math.round((performance.now() - t0) * 10) / 10, datagrams: gen.n, received };
}
