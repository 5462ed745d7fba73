/**
 * The NATS JetStream publisher as an xsk component, on the main thread next to the feed: it
 * connects and checks the stream at start (connect(), before anything is attached), then
 * reads the feed's history with its own cursor (publisher.ts) whenever the feed flushes. The
 * datapath never waits for it: the history is a ring, and a publisher that falls behind drops
 * its oldest (counted, announced). Reconnection is the client's (for ever, 250 ms apart);
 * the stats line, the summary's `nats` and `xsk_nats_*` metrics say what happened.
 */
import type { Registry } from 'prom-client';
import { createInbox, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Component } from '../pipeline/stage.js';
import type { FeedComponent } from '../feed/component.js';
import { counterFrom, gaugeFrom, withLabels } from '../metrics/prom.js';
import { RxClock } from '../pipeline/rx-clock.js';
import { PERCENTILES } from '../pipeline/latency.js';
import { fmtRate } from '../util/format.js';
import { log } from '../log.js';
import type { NatsFlags } from './flags.js';
import { connectNats, ensureStream } from './stream.js';
import { NatsPublisher } from './publisher.js';

/** Header bytes made by the publisher, handed to nats.js as they are (it only calls encode()). */
class RawHeaders {
  constructor(private readonly bytes: Uint8Array) {}
  encode(): Uint8Array {
    return this.bytes;
  }
}

const STOP_BUDGET_MS = 2000;

export class NatsComponent implements Component {
  readonly name = 'nats';
  private nc?: NatsConnection;
  private sub?: Subscription;
  private pub?: NatsPublisher;
  private readonly clock = new RxClock(false);
  private scheduled = false;
  private disconnects = 0;
  private reconnects = 0;
  private maxPayload = 1 << 20;
  private streamCreated = false;
  private lastStatsAt = performance.now();
  private lastStatsPublished = 0;
  private stopped = false;

  constructor(
    private readonly f: NatsFlags,
    private readonly feed: FeedComponent,
    private readonly iface: string,
  ) {}

  /** Connect and make sure of the stream; throws one line on failure (before xsk attaches). */
  async connect(): Promise<void> {
    this.nc = await connectNats(this.f, { name: `xsk ${this.iface}` });
    try {
      const { created } = await ensureStream(this.nc, this.f);
      this.streamCreated = created;
    } catch (e) {
      await this.nc.close().catch(() => {});
      throw e;
    }
    this.maxPayload = this.nc.info?.max_payload ?? this.maxPayload;
  }

  async start(): Promise<void> {
    if (!this.nc) await this.connect();
    const nc = this.nc!;
    const inbox = createInbox();
    const runId = `${this.iface}-${process.pid}-${Date.now().toString(36)}`;
    const pub = (this.pub = new NatsPublisher(
      this.feed.history,
      {
        send: (subject, reply, headers, payload) => nc.publish(subject, payload, { reply, headers: new RawHeaders(headers) as unknown as MsgHdrs }),
        maxPayload: () => this.maxPayload,
      },
      {
        subjectPrefix: this.f.subjectPrefix,
        batch: this.f.batch,
        window: this.f.window,
        queueMessages: this.f.queueMessages,
        shared: this.f.shared,
        inbox,
        runId,
        sessions: this.feed.stage.mold,
        nowNs: () => this.clock.now(),
        warn: (m) => log.warn(m),
      },
    ));
    this.sub = nc.subscribe(`${inbox}.>`, {
      callback: (err, m) => {
        if (err) return;
        pub.reply(m.subject, m.data, m.headers?.code);
        this.schedule();
      },
    });
    void this.watch(nc);
    await nc.flush();
    pub.setConnected(true);
    this.feed.onFlush = () => pub.pump();
    log.info(
      `nats: publishing to stream ${this.f.stream} (${this.streamCreated ? 'created' : 'existing'}) on ${this.f.subjectPrefix}.<port|session> via ${nc.getServer()}` +
        `${this.f.batch ? ', one message per batch' : ''}, window ${this.f.window}, queue ${this.f.queueMessages}${this.f.shared ? ', shared stream' : ''}`,
    );
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.disconnects++;
        this.pub?.setConnected(false);
        if (!this.stopped) log.warn(`nats: disconnected from ${s.server}; publishing waits (queue ${this.f.queueMessages} messages, then the oldest are dropped)`);
      } else if (s.type === 'reconnect') {
        this.reconnects++;
        this.maxPayload = nc.info?.max_payload ?? this.maxPayload;
        log.info(`nats: reconnected to ${s.server}; publishing again from feed sequence ${this.pub?.cursor}`);
        this.pub?.setConnected(true);
        this.schedule();
      }
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  private readonly run = (): void => {
    this.scheduled = false;
    this.pub?.pump();
  };

  /** Publish what is left (at most ~2 s), then close the connection. */
  async stop(): Promise<void> {
    const pub = this.pub;
    const nc = this.nc;
    if (!nc) return;
    const deadline = performance.now() + STOP_BUDGET_MS;
    while (pub && !pub.idle && pub.connected && performance.now() < deadline) {
      pub.pump();
      await new Promise((r) => setTimeout(r, 5));
    }
    this.stopped = true;
    this.feed.onFlush = undefined;
    this.sub?.unsubscribe();
    await Promise.race([nc.close(), new Promise((r) => setTimeout(r, 500))]).catch(() => {});
  }

  statsLine(): string {
    const p = this.pub;
    if (!p) return '';
    const now = performance.now();
    const rate = (p.published - this.lastStatsPublished) / (((now - this.lastStatsAt) / 1000) || 1);
    this.lastStatsAt = now;
    this.lastStatsPublished = p.published;
    return `nats ${fmtRate(rate)}msg/s in flight ${p.inFlight} queued ${p.queued} dropped ${p.dropped}${p.connected ? '' : ' DISCONNECTED'}`;
  }

  summary(): Record<string, unknown> {
    const p = this.pub;
    const us = (v: number) => Math.round(v / 10) / 100;
    const h = p?.rxToAck;
    return {
      nats: {
        servers: this.f.servers,
        stream: this.f.stream,
        stream_created: this.streamCreated,
        subject_prefix: this.f.subjectPrefix,
        batch: this.f.batch,
        connected: p?.connected ?? false,
        disconnects: this.disconnects,
        reconnects: this.reconnects,
        ...(p?.counters() ?? {}),
        last_error: p?.lastError || undefined,
        rx_to_ack:
          h && h.totalCount > 0
            ? { count: h.totalCount, p50_us: us(h.getValueAtPercentile(50)), p90_us: us(h.getValueAtPercentile(90)), p99_us: us(h.getValueAtPercentile(99)), 'p99.9_us': us(h.getValueAtPercentile(99.9)), max_us: us(h.maxValue) }
            : undefined,
      },
    };
  }

  metrics(registry: Registry, labels: Record<string, string>): void {
    const names = Object.keys(labels);
    const p = () => this.pub;
    counterFrom(registry, 'xsk_nats_published_total', 'Feed messages JetStream acknowledged', names, () => [[labels, p()?.published ?? 0]]);
    counterFrom(registry, 'xsk_nats_dropped_total', 'Feed messages never published to NATS (queue bound while NATS was slow or down)', names, () => [[labels, p()?.dropped ?? 0]]);
    counterFrom(registry, 'xsk_nats_duplicates_total', 'Publishes JetStream acknowledged as duplicates (a retry of a stored message)', names, () => [[labels, p()?.duplicates ?? 0]]);
    counterFrom(registry, 'xsk_nats_events_total', 'Status events published to the stream, by type', [...names, 'type'], () => [
      [withLabels(labels, { type: 'lost' }), p()?.lossEvents ?? 0],
      [withLabels(labels, { type: 'gap' }), p()?.gapEvents ?? 0],
      [withLabels(labels, { type: 'end_of_session' }), p()?.endOfSessionEvents ?? 0],
    ]);
    counterFrom(registry, 'xsk_nats_retries_total', 'JetStream messages published again (after a reconnection, an error or a timeout)', names, () => [[labels, p()?.resent ?? 0]]);
    counterFrom(registry, 'xsk_nats_errors_total', 'Publish errors and acknowledgement timeouts', names, () => [[labels, p()?.errors ?? 0]]);
    counterFrom(registry, 'xsk_nats_disconnects_total', 'Times the NATS connection was lost', names, () => [[labels, this.disconnects]]);
    gaugeFrom(registry, 'xsk_nats_connected', '1 while connected to NATS', names, () => [[labels, p()?.connected ? 1 : 0]]);
    gaugeFrom(registry, 'xsk_nats_in_flight', 'JetStream messages published and not yet acknowledged', names, () => [[labels, p()?.inFlight ?? 0]]);
    gaugeFrom(registry, 'xsk_nats_queued', 'Feed messages waiting to be published', names, () => [[labels, p()?.queued ?? 0]]);
    gaugeFrom(registry, 'xsk_nats_ack_latency_seconds', 'Kernel receive to JetStream acknowledgement, by percentile', [...names, 'percentile'], () => {
      const h = p()?.rxToAck;
      if (!h || h.totalCount === 0) return [];
      return PERCENTILES.map((q) => [withLabels(labels, { percentile: String(q) }), h.getValueAtPercentile(q) / 1e9]);
    });
  }
}
