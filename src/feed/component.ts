/**
 * The feed as an xsk feature: the stage that copies datagrams into the history (hot path), and
 * the component around it: the gRPC server, the subscribers, the flush that sends them what is
 * new (off the hot path, once per event-loop turn that brought data, and on a 10 ms timer for
 * heartbeats and blocked subscribers), the stats line, the summary and the metrics.
 */
import type { Registry } from 'prom-client';
import type { Component } from '../pipeline/stage.js';
import { counterFrom, gaugeFrom, withLabels } from '../metrics/prom.js';
import type { Latency } from '../pipeline/latency.js';
import { RxClock } from '../pipeline/rx-clock.js';
import { fmtRate } from '../util/format.js';
import { log } from '../log.js';
import { History } from './history.js';
import { FeedStage } from './stage.js';
import { Filter } from './filter.js';
import { Subscriber, type BatchSink } from './subscriber.js';
import { FeedServer, type FeedCore, type TlsFiles } from './server.js';
import { grpcTarget, type DecoderName } from './flags.js';
import { SlowPolicy } from './proto.js';

export interface FeedOptions {
  /** The gRPC server's address; undefined: no gRPC (the history serves the NATS publisher). */
  listen?: { host: string; port: number };
  tls?: TlsFiles;
  decoders: Map<number, DecoderName>;
  historyMessages: number;
  historyBytes: number;
  /** A subscriber's queue bounds when it does not ask for its own, and the most it may ask. */
  queueMessages: number;
  queueBytes: number;
  /** For GetState: the interface, the port's mode, the ports received. */
  info(): { iface: string; mode: string; ports: number[] };
  /** Say nothing when the gRPC server starts (the warm start's throwaway feed). */
  quiet?: boolean;
}

/**
 * A uint64 request field (a decimal string from decodeSubscribeRequest; a number from a caller
 * in this process): a number when it is exact as one, else a bigint.
 */
export function uint64(v: unknown): number | bigint {
  if (v === undefined || v === null || v === '') return 0;
  if (typeof v === 'number') return v;
  const b = typeof v === 'bigint' ? v : BigInt(String(v));
  return b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

const DEFAULT_BATCH = 512;
const MAX_BATCH = 8192;
const MAX_BATCH_BYTES = 1 << 20;
const DEFAULT_HEARTBEAT_MS = 1000;
const MIN_HEARTBEAT_MS = 20;
const TICK_MS = 10;

export class FeedComponent implements Component, FeedCore {
  readonly name = 'feed';
  /** Histograms to record kernel RX → subscriber latency in (set by the caller, with --latency). */
  latency?: Latency;
  readonly history: History;
  readonly stage: FeedStage;
  private readonly server?: FeedServer;
  /**
   * Called at the end of every flush (once per event-loop turn that brought data, and every
   * 10 ms): another reader of the history (the NATS publisher) takes what is new from there.
   */
  onFlush?: () => void;
  private readonly subs = new Set<Subscriber>();
  private readonly clock = new RxClock(false);
  private nextId = 1;
  private scheduled = false;
  private timer?: NodeJS.Timeout;
  private stopping = false;
  // Totals over every subscriber, gone ones included.
  private subscribersTotal = 0;
  private closedSent = 0;
  private closedSkipped = 0;
  private disconnectedSlow = 0;
  private lastStatsAt = performance.now();
  private lastStatsMessages = 0;

  constructor(private readonly o: FeedOptions) {
    this.history = new History({ messages: o.historyMessages, bytes: o.historyBytes });
    this.stage = new FeedStage(this.history, o.decoders, this);
    if (o.listen) this.server = new FeedServer(this, o.listen, o.tls);
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => this.flushAll(), TICK_MS);
    if (!this.server || !this.o.listen) return;
    const port = await this.server.start();
    if (!this.o.quiet) log.info(`feed: gRPC on ${grpcTarget({ host: this.o.listen.host, port })}${this.o.tls ? ' (TLS)' : ''}`);
  }

  /** The bound port (after start; 0 without gRPC). */
  get port(): number {
    return this.server?.port ?? 0;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    const now = performance.now();
    for (const s of this.subs) s.shutdown('server stopping', now);
    this.reap();
    await this.server?.stop();
  }

  /** The stage has new messages (FeedStage's `waiting`). */
  dataWaiting(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  private readonly run = (): void => {
    this.scheduled = false;
    this.flushAll();
  };

  /** Send subscribers what is new, now (the warm start's throwaway feed calls it directly). */
  flushNow(): void {
    this.flushAll();
  }

  private flushAll(): void {
    this.stage.flushed();
    const now = performance.now();
    let more = false;
    for (const s of this.subs) if (s.flush(now)) more = true;
    this.reap();
    this.onFlush?.();
    if (more) this.schedule();
  }

  private reap(): void {
    for (const s of this.subs) {
      if (!s.closed) continue;
      this.subs.delete(s);
      this.closedSent += s.sent;
      this.closedSkipped += s.skipped;
      if (s.endReason === 'slow') this.disconnectedSlow++;
    }
  }

  subscribe(req: Record<string, any>, sink: BatchSink, peer: string): Subscriber {
    if (this.stopping) throw new Error('the server is stopping');
    const filter = new Filter({
      ports: req.ports,
      source: req.source,
      kinds: req.kinds,
      messageTypes: req.messageTypes,
    });
    const maxBatch = req.maxBatch ? Math.min(req.maxBatch, MAX_BATCH) : DEFAULT_BATCH;
    const heartbeatMs = req.heartbeatMs ? Math.max(req.heartbeatMs, MIN_HEARTBEAT_MS) : DEFAULT_HEARTBEAT_MS;
    const from = uint64(req.fromSequence);
    const maxQueueBytes = uint64(req.maxQueueBytes);
    const s = new Subscriber(
      {
        id: this.nextId++,
        peer,
        filter,
        // Exact: a bigint past 2^53 − 1 (no such sequence is ever held: it gets RESUME_UNAVAILABLE
        // with the very value asked for).
        fromSequence: from === 0 ? undefined : from,
        maxBatch,
        maxBatchBytes: MAX_BATCH_BYTES,
        heartbeatMs,
        policy: req.slowPolicy === SlowPolicy.DISCONNECT ? 'disconnect' : 'skip',
        maxQueueMessages: req.maxQueueMessages ? Math.min(req.maxQueueMessages, this.o.queueMessages) : this.o.queueMessages,
        maxQueueBytes: maxQueueBytes === 0 ? this.o.queueBytes : maxQueueBytes < this.o.queueBytes ? Number(maxQueueBytes) : this.o.queueBytes,
        // One object for every subscriber, and a method, not a closure: the encoder calls it
        // per message, and a closure per subscriber (or per feed: the warm start's and the live
        // one) made V8 throw away that optimized code ("wrong call target").
        sessions: this.stage.mold,
        nowNs: () => this.clock.now(),
        wake: () => this.schedule(),
        rxToFeed: () => this.latency?.rx_to_feed,
      },
      this.history,
      sink,
      performance.now(),
    );
    this.subscribersTotal++;
    if (!s.closed) {
      this.subs.add(s);
      this.schedule();
    }
    return s;
  }

  state(): Record<string, unknown> {
    const h = this.history;
    const m = this.stage.mold;
    const info = this.o.info();
    return {
      iface: info.iface,
      mode: info.mode,
      ports: info.ports,
      decoders: [...this.o.decoders].map(([p, d]) => `${p}=${d}`),
      datagrams: this.stage.datagrams,
      messages: this.stage.messages,
      payloadBytes: this.stage.payloadBytes,
      oldestSequence: h.oldest,
      nextSequence: h.next,
      historyCapacity: h.capacity,
      historyBytesCapacity: h.byteCapacity,
      mold: {
        packets: m.packets,
        heartbeats: m.heartbeats,
        gaps: m.gaps,
        gapMessages: m.gapMessages,
        duplicates: m.duplicates,
        outOfOrder: m.outOfOrder,
        malformed: m.malformed,
        endOfSession: m.endOfSession,
      },
      sessions: m.sessionNames().map((session, i) => ({
        session,
        port: m.ports[i],
        nextExpected: m.expected[i],
        openGapMessages: m.openGapMessages(i),
        ended: m.ended[i] === 1,
      })),
      subscribers: [...this.subs].map((s) => ({
        id: s.id,
        peer: s.peer,
        nextSequence: s.cursor,
        sent: s.sent,
        skipped: s.skipped,
        batches: s.batches,
        waitingForDrain: s.waiting,
      })),
    };
  }

  statsLine(): string {
    const now = performance.now();
    const dt = (now - this.lastStatsAt) / 1000 || 1;
    const rate = (this.stage.messages - this.lastStatsMessages) / dt;
    this.lastStatsAt = now;
    this.lastStatsMessages = this.stage.messages;
    let skipped = this.closedSkipped;
    for (const s of this.subs) skipped += s.skipped;
    return `feed ${fmtRate(rate)}msg/s ${this.subs.size} sub(s) skipped ${skipped} gaps ${this.stage.mold.gaps}`;
  }

  summary(): Record<string, unknown> {
    let sent = this.closedSent;
    let skipped = this.closedSkipped;
    for (const s of this.subs) {
      sent += s.sent;
      skipped += s.skipped;
    }
    return {
      feed: {
        datagrams: this.stage.datagrams,
        messages: this.stage.messages,
        payload_bytes: this.stage.payloadBytes,
        oldest_sequence: this.history.oldest,
        next_sequence: this.history.next,
        moldudp64: this.stage.mold.counters(),
        subscribers: { connected: this.subs.size, total: this.subscribersTotal, sent, skipped, disconnected_slow: this.disconnectedSlow },
      },
    };
  }

  metrics(registry: Registry, labels: Record<string, string>): void {
    const names = Object.keys(labels);
    counterFrom(registry, 'xsk_feed_messages_total', 'Messages the feed took into its history', names, () => [[labels, this.stage.messages]]);
    counterFrom(registry, 'xsk_feed_moldudp64_total', 'MoldUDP64 sequence tracking, by counter', [...names, 'counter'], () =>
      Object.entries(this.stage.mold.counters())
        .filter(([k]) => k !== 'sessions')
        .map(([k, v]) => [withLabels(labels, { counter: k }), v]),
    );
    counterFrom(registry, 'xsk_feed_skipped_total', 'Messages subscribers missed by falling behind', names, () => {
      let n = this.closedSkipped;
      for (const s of this.subs) n += s.skipped;
      return [[labels, n]];
    });
    gaugeFrom(registry, 'xsk_feed_subscribers', 'Connected feed subscribers', names, () => [[labels, this.subs.size]]);
  }
}
