/**
 * prom-client's default process and Node.js metrics, under the same names, with two changes:
 *  - the GC histogram (`nodejs_gc_duration_seconds`, by kind) is fed from this thread's GcTally,
 *    not from a PerformanceObserver on 'gc' entries (gc-tally.ts says what those cost);
 *  - the heap-space gauges (`nodejs_heap_space_size_{total,used,available}_bytes`, by space)
 *    keep their rows across scrapes (kept-rows.ts). prom-client's build 27 label objects with an
 *    object spread at every scrape, and on this V8 each gets a map of its own, in old space.
 * The other default metrics are prom-client's own modules, registered one by one from its list,
 * as `collectDefaultMetrics` does; a prom-client that moved them fails here at start.
 */
import { createRequire } from 'node:module';
import { collectDefaultMetrics, Histogram, type Registry } from 'prom-client';
import v8 from 'node:v8';
import { gcTally, type GcKind } from './gc-tally.js';
import { gaugeFrom } from './prom.js';

const require = createRequire(import.meta.url);

/** prom-client's buckets for nodejs_gc_duration_seconds (seconds). */
const GC_BUCKETS = [0.001, 0.01, 0.1, 1, 2, 5];
/** One label object per kind, the same at every observation. */
const GC_LABELS: Record<GcKind, { kind: GcKind }> = {
  minor: { kind: 'minor' },
  major: { kind: 'major' },
  incremental: { kind: 'incremental' },
  weakcb: { kind: 'weakcb' },
};

/** prom-client's heap-space gauges: name part, and the field of v8.getHeapSpaceStatistics() each shows. */
const HEAP_SPACE_FIELDS = [
  ['total', 'space_size'],
  ['used', 'space_used_size'],
  ['available', 'space_available_size'],
] as const;

/** Registers the default metrics in `registry`; returns the undo of the GC subscription. */
export function registerDefaultMetrics(registry: Registry): () => void {
  const config = { eventLoopMonitoringPrecision: 10 }; // collectDefaultMetrics' default
  for (const name of collectDefaultMetrics.metricsList) {
    if (name === 'gc' || name === 'heapSpacesSizeAndUsed') continue;
    const register = require(`prom-client/lib/metrics/${name}`) as (r: Registry, c: object) => void;
    register(registry, config);
  }
  for (const [kind, field] of HEAP_SPACE_FIELDS) {
    gaugeFrom(registry, `nodejs_heap_space_size_${kind}_bytes`, `Process heap space size ${kind} from Node.js in bytes.`, ['space'], () =>
      v8.getHeapSpaceStatistics().map((s) => [{ space: s.space_name.slice(0, s.space_name.indexOf('_space')) }, s[field]]),
    );
  }
  const tally = gcTally();
  const histogram = new Histogram({
    name: 'nodejs_gc_duration_seconds',
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    labelNames: ['kind'],
    buckets: GC_BUCKETS,
    registers: [registry],
    collect: () => tally.flush(),
  });
  return tally.subscribe((kind, ms) => histogram.observe(GC_LABELS[kind], ms / 1000));
}
