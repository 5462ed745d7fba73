/**
 * Latency histograms (hdr-histogram-js, WebAssembly build: ~40 ns a sample), in nanoseconds:
 *
 *   rx_to_user   kernel receive (XDP program's stamp) → the handler sees the frame
 *   rx_to_tx     kernel receive → the frame is on the TX ring and the kernel kicked
 *   rx_to_feed   kernel receive → the feed wrote the message to a subscriber
 *
 * Where frames carry no kernel stamp, "receive" is the userspace batch time instead, and
 * `source` says so. A datapath thread records rx_to_user and rx_to_tx into shared-memory
 * histograms (shared-histogram.ts) that the main thread drains into these.
 */
import * as hdr from 'hdr-histogram-js';

export const LATENCY_KINDS = ['rx_to_user', 'rx_to_tx', 'rx_to_feed'] as const;
export type LatencyKind = (typeof LATENCY_KINDS)[number];

export const PERCENTILES = [50, 90, 99, 99.9] as const;

let wasmReady = false;
/** Load the WebAssembly histogram code once, before any histogram is built. */
export async function initLatency(): Promise<void> {
  if (!wasmReady) await hdr.initWebAssembly();
  wasmReady = true;
}

export type Histogram = hdr.Histogram;

function build(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000_000, // an hour, in ns
    numberOfSignificantValueDigits: 3,
    useWebAssembly: wasmReady,
  });
}

export interface LatencySummary {
  count: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  'p99.9_us': number;
  max_us: number;
}

export class Latency {
  readonly rx_to_user = build();
  readonly rx_to_tx = build();
  readonly rx_to_feed = build();
  /** 'kernel' while frames carry the XDP program's stamp; 'userspace' otherwise. */
  source: 'kernel' | 'userspace' | 'none' = 'none';

  get(kind: LatencyKind): Histogram {
    return this[kind];
  }

  /** Record a sample in ns; negative values (clock skew between CPUs) count as 0. */
  static record(h: Histogram, ns: number): void {
    h.recordValue(ns > 0 ? ns : 0);
  }

  summary(kind: LatencyKind): LatencySummary {
    const h = this[kind];
    const us = (v: number) => Math.round(v / 10) / 100;
    return {
      count: h.totalCount,
      p50_us: us(h.getValueAtPercentile(50)),
      p90_us: us(h.getValueAtPercentile(90)),
      p99_us: us(h.getValueAtPercentile(99)),
      'p99.9_us': us(h.getValueAtPercentile(99.9)),
      max_us: us(h.maxValue),
    };
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { source: this.source };
    for (const k of LATENCY_KINDS) if (this[k].totalCount > 0) out[k] = this.summary(k);
    return out;
  }

  /** A few words for the stats line: p50/p99 of what has samples. */
  statsLine(): string {
    const parts: string[] = [];
    for (const k of LATENCY_KINDS) {
      const h = this[k];
      if (h.totalCount === 0) continue;
      parts.push(`${k} p50 ${(h.getValueAtPercentile(50) / 1000).toFixed(1)}µs p99 ${(h.getValueAtPercentile(99) / 1000).toFixed(1)}µs`);
    }
    return parts.join(', ');
  }

  reset(): void {
    for (const k of LATENCY_KINDS) this[k].reset();
  }

  destroy(): void {
    for (const k of LATENCY_KINDS) this[k].destroy();
  }
}
