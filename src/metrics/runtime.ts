/**
 * What the JavaScript runtime did while xsk ran: garbage collections by kind (from this
 * thread's GcTally) and heap growth. The hot path is meant to allocate nothing,
 * so a long run should show no major GC and a flat old space (what survives young-generation
 * collections, counted from one second after start); the summary says whether it did.
 */
import v8 from 'node:v8';
import { gcTally, type GcTotals } from './gc-tally.js';

/** Bytes in V8's old space: what survives; young-generation garbage does not count. */
export function oldSpaceUsed(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_used_size ?? 0;
}
import type { Component } from '../pipeline/stage.js';

export class RuntimeWatch implements Component {
  readonly name = 'runtime';
  private base?: GcTotals;
  private heapStart = 0;
  private oldStart = 0;
  private warmup?: NodeJS.Timeout;

  start(): void {
    this.base = gcTally().totals();
    this.heapStart = v8.getHeapStatistics().used_heap_size;
    this.oldStart = oldSpaceUsed();
    // Start-up (JIT, first histograms, servers) settles within a second; growth counts from then.
    this.warmup = setTimeout(() => (this.oldStart = oldSpaceUsed()), 1000).unref();
  }

  stop(): void {
    clearTimeout(this.warmup);
  }

  /** The tally's fallback, if it runs on one: for the caller to log. */
  get fallback(): string | undefined {
    return gcTally().fallback;
  }

  summary(): Record<string, unknown> {
    const now = gcTally().totals();
    const base = this.base ?? now;
    const heapEnd = v8.getHeapStatistics().used_heap_size;
    return {
      runtime: {
        gc_minor: now.minor - base.minor,
        // Incremental marking's finalization counts as major, as it did with the observer.
        gc_major: now.major + now.incremental - base.major - base.incremental,
        gc_ms: Math.round((now.ms - base.ms) * 10) / 10,
        // The longest single collection (ms) since the thread's tally started: one long pause is what a latency tail shows.
        gc_max_ms: Math.round(now.maxMs * 10) / 10,
        // Collections the tally's ring overwrote before a flush handed them to the metrics'
        // histogram (the counts above are exact): 0 unless 4,096 came between two flushes.
        gc_records_lost: gcTally().lost,
        heap_used_start_bytes: this.heapStart,
        heap_used_end_bytes: heapEnd,
        heap_growth_bytes: heapEnd - this.heapStart,
        old_space_growth_bytes: oldSpaceUsed() - this.oldStart,
      },
    };
  }
}
