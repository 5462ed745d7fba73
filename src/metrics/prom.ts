/**
 * Small helpers over prom-client for metrics whose values live elsewhere: each reads its source
 * when Prometheus scrapes (collect), so nothing is counted twice and the hot path pays nothing.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

type Rows = [Record<string, string | number>, number][];

/** A counter (name ends in _total) set from `read()` at each scrape. */
export function counterFrom(registry: Registry, name: string, help: string, labelNames: string[], read: () => Rows): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, v] of read()) this.inc(labels, v);
    },
  });
}

/** A gauge set from `read()` at each scrape. */
export function gaugeFrom(registry: Registry, name: string, help: string, labelNames: string[], read: () => Rows): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, v] of read()) this.set(labels, v);
    },
  });
}
