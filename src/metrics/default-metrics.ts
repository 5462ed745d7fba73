/**
 * prom-client's default process and Node.js metrics, under the same names, with one change:
 * the GC histogram (`nodejs_gc_duration_seconds`, by kind) is fed from this thread's GcTally,
 * not from a PerformanceObserver on 'gc' entries (gc-tally.ts says what those cost). The other
 * default metrics are prom-client's own modules, registered one by one from its list, as
 * `collectDefaultMetrics` does; a prom-client that moved them fails here at start.
 */
import { createRequire } from 'node:module';
import { collectDefaultMetrics, Histogram, type Registry } from 'prom-client';
import { gcTally, type GcKind } from './gc-tally.js';

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

/** Registers the default metrics in `registry`; returns the undo of the GC subscription. */
export function registerDefaultMetrics(registry: Registry): () => void {
  const config = { eventLoopMonitoringPrecision: 10 }; // collectDefaultMetrics' default
  for (const name of collectDefaultMetrics.metricsList) {
    if (name === 'gc') continue;
    const register = require(`prom-client/lib/metrics/${name}`) as (r: Registry, c: object) => void;
    register(registry, config);
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
