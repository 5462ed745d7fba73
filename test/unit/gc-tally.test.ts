/**
 * Garbage collections are counted in C++ by the gc-watch addon (src/metrics/gc-tally.ts), not
 * from PerformanceObserver 'gc' entries, whose construction leaves maps in old space at every
 * collection (weighed by the same helper with an observer: 9.1-9.3 MB over 3,000 scavenges,
 * and it counted 2,901 of them). Counting must neither miss nor double a collection across
 * flushes, and must not itself fill old space.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { registerDefaultMetrics } from '../../src/metrics/default-metrics.js';
import { GcTally } from '../../src/metrics/gc-tally.js';

const script = fileURLToPath(new URL('../helpers/gc-count-weigh.ts', import.meta.url));

describe('GC tally', () => {
  it('counts 3,000 forced scavenges exactly, over 30 flushes, leaving (next to) nothing in old space', () => {
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', script, 'tally', '3000'], { encoding: 'utf8', timeout: 60_000 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { n: number; minor: number; major: number; old_space_grown: number; totals: { minor: number; major: number } };
    assert.equal(r.minor, r.n, 'every scavenge handed to the listener once');
    assert.ok(r.totals.minor >= r.n + 200 && r.totals.major >= 1, `totals count the warm-up too: ${JSON.stringify(r.totals)}`);
    assert.equal(r.major, 0);
    assert.ok(r.old_space_grown < 256 * 1024, `old space grew ${(r.old_space_grown / 1024).toFixed(0)} KiB over ${r.n} scavenges`);
  });

  it('the default metrics keep prom-client\'s names, and the GC histogram counts what ran', async () => {
    const ours = new Registry();
    const stop = registerDefaultMetrics(ours);
    const theirs = new Registry();
    collectDefaultMetrics({ register: theirs });
    const names = (r: Registry) => r.getMetricsAsArray().map((m) => m.name).sort();
    assert.deepEqual(names(ours), names(theirs));

    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as (o: { type: 'minor' }) => void;
    const minorCount = async () => {
      const { values } = await ours.getSingleMetric('nodejs_gc_duration_seconds')!.get();
      return (values as { metricName?: string; labels: { kind?: string }; value: number }[]).find((v) => v.metricName === 'nodejs_gc_duration_seconds_count' && v.labels.kind === 'minor')?.value ?? 0;
    };
    const before = await minorCount();
    for (let i = 0; i < 50; i++) gc({ type: 'minor' });
    const after = await minorCount();
    stop();
    assert.ok(after - before >= 50, `the histogram saw ${after - before} minor collections of at least 50`);
  });

  it('without the addon it says why and counts from PerformanceObserver entries', async () => {
    const tally = new GcTally(() => {
      throw new Error('gc-watch addon not built');
    });
    assert.equal(tally.fallback, 'gc-watch addon not built');
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as (o: { type: 'minor' }) => void;
    let heard = 0;
    const stop = tally.subscribe((kind) => void (kind === 'minor' && heard++));
    for (let i = 0; i < 20; i++) gc({ type: 'minor' });
    await new Promise((r) => setTimeout(r, 50)); // entries come on a later turn
    tally.flush();
    stop();
    assert.ok(tally.totals().minor >= 20, `counted ${tally.totals().minor} of at least 20`);
    assert.ok(heard >= 20, `handed on ${heard} of at least 20`);
  });
});
