/**
 * Latency in Prometheus: one gauge per percentile of each HDR histogram and a counter of samples.
 */
import type { Registry } from 'prom-client';
import { counterFrom, gaugeFrom, withLabels } from './prom.js';
import { LATENCY_KINDS, PERCENTILES, type Latency } from '../pipeline/latency.js';

/**
 * Latency as a gauge per percentile of each HDR histogram (label `percentile`: p50 ... max; a
 * Prometheus summary would keep its own sliding quantiles instead of these exact ones) and a
 * counter of samples. `latency()` may merge histograms on demand (multi-queue).
 */
export function registerLatencyMetrics(
  reg: Registry,
  labelNames: string[],
  base: Record<string, string>,
  latency: () => Latency | undefined,
): void {
  gaugeFrom(reg, 'xsk_latency_seconds', 'Latency percentiles since start, from HDR histograms.', [...labelNames, 'kind', 'percentile'], () => {
    const lat = latency();
    const rows: [Record<string, string>, number][] = [];
    if (!lat) return rows;
    for (const kind of LATENCY_KINDS) {
      const h = lat.get(kind);
      if (h.totalCount === 0) continue;
      for (const p of PERCENTILES) rows.push([withLabels(base, { kind, percentile: `p${p}` }), h.getValueAtPercentile(p) / 1e9]);
      rows.push([withLabels(base, { kind, percentile: 'max' }), h.maxValue / 1e9]);
    }
    return rows;
  });
  counterFrom(reg, 'xsk_latency_samples_total', 'Samples in each latency histogram.', [...labelNames, 'kind'], () => {
    const lat = latency();
    return lat ? LATENCY_KINDS.map((kind) => [withLabels(base, { kind }), lat.get(kind).totalCount]) : [];
  });
}
