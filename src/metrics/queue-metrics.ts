/**
 * Metrics in the multi-queue mode: the same names as the single-queue ones, one series per
 * queue, read from the workers' latest snapshots when Prometheus scrapes.
 */
import type { Registry } from 'prom-client';
import { INVALID_REASONS } from '../frame/invalid-reason.js';
import type { Snapshot } from '../workers/protocol.js';
import { counterFrom, gaugeFrom } from './prom.js';
import type { Latency } from './latency.js';
import { registerLatencyMetrics } from './core-metrics.js';

const LABELS = ['iface', 'queue', 'mode'];

export function registerQueueMetrics(
  reg: Registry,
  base: { iface: string; mode: string },
  snapshots: () => Snapshot[],
  latency: () => Latency | undefined,
  programCounters: () => Record<string, number>,
): void {
  const per = (pick: (s: Snapshot) => number) => () =>
    snapshots().map((s) => [{ ...base, queue: String(s.queue) }, pick(s)] as [Record<string, string>, number]);
  counterFrom(reg, 'xsk_rx_packets_total', 'Frames taken from the RX ring.', LABELS, per((s) => s.packets));
  counterFrom(reg, 'xsk_rx_bytes_total', 'Bytes of the frames taken from the RX ring.', LABELS, per((s) => s.bytes));
  counterFrom(reg, 'xsk_rx_datagrams_total', 'Valid UDP datagrams received.', LABELS, per((s) => s.datagrams));
  counterFrom(reg, 'xsk_tx_packets_total', 'Frames put on the TX ring.', LABELS, per((s) => s.txPackets));
  counterFrom(reg, 'xsk_tx_bytes_total', 'Bytes put on the TX ring.', LABELS, per((s) => s.txBytes));
  counterFrom(reg, 'xsk_tx_dropped_total', 'Frames to send that were dropped, by reason.', [...LABELS, 'reason'], () =>
    snapshots().map((s) => [{ ...base, queue: String(s.queue), reason: 'ring_full' }, s.txRingFull]),
  );
  counterFrom(reg, 'xsk_invalid_frames_total', 'Malformed frames, by reason; counted and dropped.', [...LABELS, 'reason'], () =>
    snapshots().flatMap((s) => INVALID_REASONS.map((reason, i) => [{ ...base, queue: String(s.queue), reason }, s.invalid[i] ?? 0] as [Record<string, string>, number])),
  );
  counterFrom(reg, 'xsk_kernel_statistics_total', "The kernel's counters for the socket (XDP_STATISTICS).", [...LABELS, 'counter'], () =>
    snapshots().flatMap((s) => Object.entries(s.kernel).map(([counter, v]) => [{ ...base, queue: String(s.queue), counter }, v] as [Record<string, string>, number])),
  );
  gaugeFrom(reg, 'xsk_ring_entries', 'Entries waiting in each ring.', [...LABELS, 'ring'], () =>
    snapshots().flatMap((s) => Object.entries(s.rings).map(([ring, v]) => [{ ...base, queue: String(s.queue), ring }, v] as [Record<string, string>, number])),
  );
  counterFrom(reg, 'xsk_xdp_program_frames_total', "The XDP program's per-CPU counters, summed.", ['iface', 'mode', 'counter'], () =>
    Object.entries(programCounters()).map(([counter, v]) => [{ ...base, counter }, v]),
  );
  counterFrom(reg, 'xsk_forwarded_packets_total', 'Datagrams forwarded, per backend.', [...LABELS, 'backend'], () =>
    snapshots().flatMap((s) => Object.entries(s.forward?.perBackend ?? {}).map(([backend, v]) => [{ ...base, queue: String(s.queue), backend }, v] as [Record<string, string>, number])),
  );
  registerLatencyMetrics(reg, ['iface', 'mode'], base, latency);
}
