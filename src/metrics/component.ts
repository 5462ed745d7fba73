/**
 * Metrics and latency as a component: the latency summary and stats line always, and with
 * `--metrics` the /metrics endpoint, where every other component registers its own metrics.
 */
import type { Component } from '../pipeline/stage.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { log } from '../log.js';
import type { Latency } from './latency.js';
import { registerCoreMetrics, type CoreMetricsSources } from './core-metrics.js';
import { MetricsServer } from './server.js';

export interface MetricsOptions {
  listen?: { host: string; port: number };
  labels: Record<string, string>;
  sources: CoreMetricsSources;
  /** All components, this one included, whose metrics() join the registry. */
  components: Component[];
}

export class MetricsComponent implements Component {
  readonly name = 'metrics';
  private server?: MetricsServer;
  private warnedUnstamped = false;

  constructor(private readonly o: MetricsOptions) {}

  private get pipeline(): Pipeline {
    return this.o.sources.pipeline;
  }

  private get latency(): Latency | undefined {
    return this.o.sources.latency;
  }

  async start(): Promise<void> {
    if (!this.o.listen) return;
    this.server = new MetricsServer(this.o.listen.host, this.o.listen.port);
    registerCoreMetrics(this.server.registry, this.o.labels, this.o.sources);
    for (const c of this.o.components) if (c !== this) c.metrics?.(this.server.registry, this.o.labels);
    const addr = await this.server.start();
    log.info(`metrics on http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}/metrics`);
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }

  statsLine(): string {
    if (!this.latency) return '';
    if (!this.warnedUnstamped && this.pipeline.timeSource() === 'userspace') {
      this.warnedUnstamped = true;
      log.warn('frames carry no kernel receive stamp (no XDP metadata here): latency counts from the userspace receive time');
    }
    return this.latency.statsLine();
  }

  summary(): Record<string, unknown> {
    if (!this.latency) return {};
    this.latency.source = this.pipeline.timeSource();
    return { latency: this.latency.toJSON() };
  }
}
