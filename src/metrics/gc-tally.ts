/**
 * This thread's garbage collections, by kind, with each pause: counted in C++ by the gc-watch
 * addon (native/gc-watch/gc_watch.cc), which writes them into a Float64Array read here.
 *
 * Why not a PerformanceObserver on 'gc' entries: node 20 builds each entry in JS, with two
 * deprecation getters (DEP0152, `util.deprecate`: a new function whose prototype is then set),
 * and V8 keeps the maps and prototype info that makes in old space until a major GC: ~3 KB a
 * collection (test/helpers/gc-count-weigh.ts: 9.3 MB over 3,000 scavenges). In a soak at the
 * generator's full rate, perf with a uprobe on V8's old-space allocation path
 * (`PagedSpaceBase::RefillLabMain`) put ~75 % of what xsk's main thread allocated there on
 * those entries and the observer's queue; old space and RSS grew for minutes between major GCs.
 * Why not v8.GCProfiler: a stopped profiler goes on recording every collection until its
 * wrapper is collected, so restarting one a second grew RSS by ~100 MB in a minute.
 *
 * Exact totals are in the array's header (`totals()`); each collection is also kept in a ring
 * of the newest 4,096, handed to `subscribe`rs at each `flush()` (before a read, and once a
 * second while anyone listens). Records the ring lost before a flush are counted (`lost`).
 * Without the addon (not built, another node ABI) the tally falls back to the observer and
 * says why in `fallback`.
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { loadNativeAddon } from '../sys/native-addon.js';

/** prom-client's and node's names for the kinds (perf_hooks.constants.NODE_PERFORMANCE_GC_*). */
export type GcKind = 'minor' | 'major' | 'incremental' | 'weakcb';
export type GcListener = (kind: GcKind, ms: number) => void;
export interface GcTotals {
  minor: number;
  major: number;
  incremental: number;
  weakcb: number;
  ms: number;
  maxMs: number;
}

/** The addon's kinds, by index (gc_watch.cc's layout). */
const KINDS: readonly GcKind[] = ['minor', 'major', 'incremental', 'weakcb'];
const HEADER = 8;
const RING = 4096;
const WRITTEN = 6;

export interface Addon {
  attach(slots: Float64Array): void;
}

/** The built addon (native/gc-watch). */
const loadAddon = (): Addon => loadNativeAddon<Addon>('gc-watch');

export class GcTally {
  /** Why the tally counts through a PerformanceObserver instead of the addon; undefined: it does not. */
  readonly fallback?: string;
  /** Records the ring overwrote before a flush handed them on (totals still count them; RuntimeWatch reports it). */
  lost = 0;
  private readonly slots = new Float64Array(HEADER + 2 * RING);
  private read = 0;
  private timer?: NodeJS.Timeout;
  private readonly listeners = new Set<GcListener>();

  /** `load`: how to get the addon (a test gives one that fails). */
  constructor(load: () => Addon = loadAddon) {
    try {
      load().attach(this.slots);
    } catch (e) {
      this.fallback = (e as Error).message;
      this.observe();
    }
  }

  totals(): GcTotals {
    const s = this.slots;
    return { minor: s[0], major: s[1], incremental: s[2], weakcb: s[3], ms: s[4], maxMs: s[5] };
  }

  /** Calls `listener` for each collection from now on (in batches, at each flush); returns the undo. */
  subscribe(listener: GcListener): () => void {
    this.flush(); // what came before belongs to the listeners already there
    this.listeners.add(listener);
    this.timer ??= setInterval(() => this.flush(), 1000).unref();
    return () => {
      this.flush();
      this.listeners.delete(listener);
      if (this.listeners.size > 0) return;
      clearInterval(this.timer);
      this.timer = undefined;
    };
  }

  /** Hands every collection recorded since the last flush to the listeners. */
  flush(): void {
    const s = this.slots;
    const written = s[WRITTEN];
    if (written - this.read > RING) {
      this.lost += written - RING - this.read;
      this.read = written - RING;
    }
    for (; this.read < written; this.read++) {
      const i = HEADER + 2 * (this.read % RING);
      const kind = KINDS[s[i]];
      const ms = s[i + 1];
      for (const l of this.listeners) l(kind, ms);
    }
  }

  /** The fallback: the same slots, filled from 'gc' entries as they are delivered. */
  private observe(): void {
    const index = new Map<number, number>([
      [constants.NODE_PERFORMANCE_GC_MINOR, 0],
      [constants.NODE_PERFORMANCE_GC_MAJOR, 1],
      [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 2],
      [constants.NODE_PERFORMANCE_GC_WEAKCB, 3],
    ]);
    const s = this.slots;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const k = index.get((e as unknown as { detail: { kind: number } }).detail.kind) ?? 3;
        s[k]++;
        s[4] += e.duration;
        if (e.duration > s[5]) s[5] = e.duration;
        const i = HEADER + 2 * (s[WRITTEN] % RING);
        s[i] = k;
        s[i + 1] = e.duration;
        s[WRITTEN]++;
      }
    }).observe({ entryTypes: ['gc'] });
  }
}

let shared: GcTally | undefined;
/** This thread's tally (attached at the first call; it counts until the thread exits). */
export function gcTally(): GcTally {
  return (shared ??= new GcTally());
}
