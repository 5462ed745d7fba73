/**
 * What the JavaScript runtime did while xsk ran: garbage collections by kind (from the
 * PerformanceObserver 'gc' entries) and heap growth. The hot path is meant to allocate nothing,
 * so a long run should show no major GC and a flat old space (what survives young-generation
 * collections, counted from one second after start); the summary says whether it did.
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import v8 from 'node:v8';

/** Bytes in V8's old space: what survives; young-generation garbage does not count. */
function oldSpaceUsed(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_used_size ?? 0;
}
import type { Component } from '../pipeline/stage.js';

export class RuntimeWatch implements Component {
  readonly name = 'runtime';
  private minor = 0;
  private major = 0;
  private gcMs = 0;
  /** The longest single collection (ms): one long pause is what a latency tail shows. */
  private gcMaxMs = 0;
  private heapStart = 0;
  private oldStart = 0;
  private warmup?: NodeJS.Timeout;
  private readonly observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) this.minor++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR || kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL) this.major++;
      this.gcMs += e.duration;
      if (e.duration > this.gcMaxMs) this.gcMaxMs = e.duration;
    }
  });

  start(): void {
    this.heapStart = v8.getHeapStatistics().used_heap_size;
    this.oldStart = oldSpaceUsed();
    // Start-up (JIT, first histograms, servers) settles within a second; growth counts from then.
    this.warmup = setTimeout(() => (this.oldStart = oldSpaceUsed()), 1000).unref();
    this.observer.observe({ entryTypes: ['gc'] });
  }

  stop(): void {
    this.observer.disconnect();
    clearTimeout(this.warmup);
  }

  summary(): Record<string, unknown> {
    const heapEnd = v8.getHeapStatistics().used_heap_size;
    return {
      runtime: {
        gc_minor: this.minor,
        gc_major: this.major,
        gc_ms: Math.round(this.gcMs * 10) / 10,
        gc_max_ms: Math.round(this.gcMaxMs * 10) / 10,
        heap_used_start_bytes: this.heapStart,
        heap_used_end_bytes: heapEnd,
        heap_growth_bytes: heapEnd - this.heapStart,
        old_space_growth_bytes: oldSpaceUsed() - this.oldStart,
      },
    };
  }
}
