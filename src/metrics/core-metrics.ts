/**
 * The metrics every xsk has: what was received and how, malformed frames by reason, the kernel's
 * XDP socket statistics and XDP program counters, TX, ring fill levels, latency percentiles.
 */
import type { Registry } from 'prom-client';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { Port } from '../port/port.js';
import { INVALID_REASONS } from '../frame/invalid-reason.js';
import { counterFrom, gaugeFrom } from './prom.js';
import { LATENCY_KINDS, PERCENTILES, type Latency } from './latency.js';

export interface CoreMetricsSources {
  pipeline: Pipeline;
  port: Port;
  latency?: Latency;
  /** The XDP program's counters (seen, redirected, ...), when there is one. */
  programCounters?: () => Record<string, number>;
  /** TX counters of the port, when it sends. */
  tx?: () => { packets: number; bytes: number; drops: Record<string, number> };
}

const LABELS = ['iface', 'queue', 'mode'];

export function registerCoreMetrics(reg: Registry, base: Record<string, string>, s: CoreMetricsSources): void {
  const { pipeline, port } = s;
  counterFrom(reg, 'xsk_rx_packets_total', 'Frames taken from the RX ring.', LABELS, () => [[base, pipeline.packets]]);
  counterFrom(reg, 'xsk_rx_bytes_total', 'Bytes of the frames taken from the RX ring.', LABELS, () => [[base, pipeline.bytes]]);
  counterFrom(reg, 'xsk_rx_datagrams_total', 'Valid UDP datagrams received.', LABELS, () => [[base, pipeline.datagrams]]);
  counterFrom(reg, 'xsk_invalid_frames_total', 'Malformed frames, by reason; counted and dropped.', [...LABELS, 'reason'], () =>
    INVALID_REASONS.map((reason, i) => [{ ...base, reason }, pipeline.invalid.get(i)]),
  );
  counterFrom(reg, 'xsk_kernel_statistics_total', "The kernel's counters for the socket (XDP_STATISTICS, PACKET_STATISTICS).", [...LABELS, 'counter'], () =>
    Object.entries(port.kernelStats()).map(([counter, v]) => [{ ...base, counter }, v]),
  );
  if (s.programCounters) {
    const read = s.programCounters;
    counterFrom(reg, 'xsk_xdp_program_frames_total', "The XDP program's per-CPU counters, summed.", [...LABELS, 'counter'], () =>
      Object.entries(read()).map(([counter, v]) => [{ ...base, counter }, v]),
    );
  }
  if (s.tx) {
    const tx = s.tx;
    counterFrom(reg, 'xsk_tx_packets_total', 'Frames put on the TX ring.', LABELS, () => [[base, tx().packets]]);
    counterFrom(reg, 'xsk_tx_bytes_total', 'Bytes put on the TX ring.', LABELS, () => [[base, tx().bytes]]);
    counterFrom(reg, 'xsk_tx_dropped_total', 'Frames to send that were dropped, by reason.', [...LABELS, 'reason'], () =>
      Object.entries(tx().drops).map(([reason, v]) => [{ ...base, reason }, v]),
    );
  }
  if (port.ringLevels) {
    const levels = () => port.ringLevels!();
    gaugeFrom(reg, 'xsk_ring_entries', 'Entries waiting in each ring.', [...LABELS, 'ring'], () =>
      Object.entries(levels()).map(([ring, v]) => [{ ...base, ring }, v]),
    );
  }
  if (s.latency) {
    const lat = s.latency;
    registerLatencyMetrics(reg, LABELS, base, () => lat);
  }
}

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
      for (const p of PERCENTILES) rows.push([{ ...base, kind, percentile: `p${p}` }, h.getValueAtPercentile(p) / 1e9]);
      rows.push([{ ...base, kind, percentile: 'max' }, h.maxValue / 1e9]);
    }
    return rows;
  });
  counterFrom(reg, 'xsk_latency_samples_total', 'Samples in each latency histogram.', [...labelNames, 'kind'], () => {
    const lat = latency();
    return lat ? LATENCY_KINDS.map((kind) => [{ ...base, kind }, lat.get(kind).totalCount]) : [];
  });
}
