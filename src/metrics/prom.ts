/**
 * Small helpers over prom-client for metrics whose values live elsewhere: each reads its source
 * when Prometheus scrapes (collect), so nothing is counted twice and the hot path pays nothing.
 */
import type { Metric, Registry } from 'prom-client';
import { KeptRows } from './kept-rows.js';

type Rows = [Record<string, string | number>, number][];

/**
 * `base`'s labels and `extra`'s, in a new object: what metrics' read functions return at each
 * scrape. Not `{ ...base, ...extra }`: on this V8 (node 20) an object literal with a spread gets a
 * new map every time it runs (`%HaveSameMap` of two results: false; with Object.assign: true),
 * and maps live in old space: a scrape a second put ~10 KB/s there for them alone.
 */
export function withLabels(base: Record<string, string>, extra: Record<string, string> = {}): Record<string, string> {
  return Object.assign({}, base, extra);
}

/**
 * A metric whose values are read from `read()` at each scrape, its rows kept from one scrape to
 * the next (kept-rows.ts says why). Registered in prom-client's registry as a metric of its own
 * (prom-client formats what `get()` returns), not one of prom-client's Counter or Gauge, which
 * rebuild every row at each scrape.
 */
class ScrapedMetric {
  readonly aggregator = 'sum';
  private readonly rows: KeptRows;

  constructor(
    /** Not readonly: the registry renames counters when it writes OpenMetrics. */
    public name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    readonly labelNames: readonly string[],
    private readonly read: () => Rows,
  ) {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name: ${name}`);
    for (const l of labelNames) if (!LABEL_NAME.test(l)) throw new Error(`invalid label name: ${l}`);
    this.rows = new KeptRows(labelNames, type === 'counter' ? 'sum' : 'last');
  }

  get() {
    return { name: this.name, help: this.help, type: this.type, values: this.rows.update(this.read()), aggregator: this.aggregator };
  }

  /** The registry's resetMetrics(): nothing is counted here, the source is read at each scrape. */
  reset(): void {}
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A counter (name ends in _total) set from `read()` at each scrape. */
export function counterFrom(registry: Registry, name: string, help: string, labelNames: string[], read: () => Rows): void {
  registry.registerMetric(new ScrapedMetric(name, help, 'counter', labelNames, read) as unknown as Metric);
}

/** A gauge set from `read()` at each scrape. */
export function gaugeFrom(registry: Registry, name: string, help: string, labelNames: string[], read: () => Rows): void {
  registry.registerMetric(new ScrapedMetric(name, help, 'gauge', labelNames, read) as unknown as Metric);
}
