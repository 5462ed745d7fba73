/**
 * Metrics and latency as a component: the latency summary and stats line always, and with
 * `--metrics` the /metrics endpoint, where every other component registers its own metrics.
 * Latency comes from `latency()`: the datapath threads' histograms merged with the feed's
 * (rx_to_feed is measured on the main thread), read when asked.
 */
import type { Component } from '../pipeline/stage.js';
import { log } from '../log.js';
import type { Latency } from '../pipeline/latency.js';
import { registerLatencyMetrics } from './latency-metrics.js';
import { MetricsServer } from './server.js';

export interface MetricsOptions {
  listen?: { host: string; port: number };
  labels: Record<string, string>;
  /** Merged histograms, or undefined with --no-latency. */
  latency: () => Latency | undefined;
  /** Where receive times come from: 'kernel' (the XDP stamp), 'userspace' or 'none' yet. */
  timeSource: () => 'kernel' | 'userspace' | 'none';
  /** The XDP program stamps 1 frame in this many (AF_XDP): the kernel-timed histograms hold that sample. */
  latencySample?: number;
  /** Before each scrape: bring the counters up to date. */
  refresh?: () => Promise<void>;
  /** All components, this one included, whose metrics() join the registry. */
  components: Component[];
}

export class MetricsComponent implements Component {
  readonly name = 'metrics';
  private server?: MetricsServer;
  private warnedUnstamped = false;

  constructor(private readonly o: MetricsOptions) {}

  async start(): Promise<void> {
    if (!this.o.listen) return;
    this.server = new MetricsServer(this.o.listen.host, this.o.listen.port);
    this.server.beforeScrape = this.o.refresh;
    for (const c of this.o.components) if (c !== this) c.metrics?.(this.server.registry, this.o.labels);
    registerLatencyMetrics(this.server.registry, Object.keys(this.o.labels), this.o.labels, this.o.latency);
    const addr = await this.server.start();
    log.info(`metrics on http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}/metrics`);
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }

  statsLine(): string {
    const lat = this.o.latency();
    if (!lat) return '';
    if (!this.warnedUnstamped && this.o.timeSource() === 'userspace') {
      this.warnedUnstamped = true;
      log.warn('frames carry no kernel receive stamp (no XDP metadata here): latency counts from the userspace receive time');
    }
    return lat.statsLine();
  }

  summary(): Record<string, unknown> {
    const lat = this.o.latency();
    if (!lat) return {};
    lat.source = this.o.timeSource();
    const sampled = lat.source === 'kernel' && this.o.latencySample ? { sampled: `1/${this.o.latencySample}` } : {};
    return { latency: { source: lat.source, ...sampled, ...lat.toJSON() } };
  }
}
