/**
 * Small helpers over prom-client for metrics whose values live elsewhere: each reads its source
 * when Prometheus scrapes (collect), so nothing is counted twice and the hot path pays nothing.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { LabelSets } from './label-sets.js';

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

/** A counter (name ends in _total) set from `read()` at each scrape. */
export function counterFrom(registry: Registry, name: string, help: string, labelNames: string[], read: () => Rows): void {
  const sets = new LabelSets(labelNames);
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      sets.scrape();
      for (const [labels, v] of read()) this.inc(sets.get(labels), v);
    },
  });
}

/** A gauge set from `read()` at each scrape. */
export function gaugeFrom(registry: Registry, name: string, help: string, labelNames: string[], read: () => Rows): void {
  const sets = new LabelSets(labelNames);
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      sets.scrape();
      for (const [labels, v] of read()) this.set(sets.get(labels), v);
    },
  });
}
