/** Totals over the queues' snapshots, and each queue's own line of the summary. */
import { INVALID_REASONS } from '../frame/invalid-reason.js';
import type { Snapshot } from './protocol.js';

function sumInto(out: Record<string, number>, add: Record<string, number> | undefined): void {
  for (const [k, v] of Object.entries(add ?? {})) out[k] = (out[k] ?? 0) + v;
}

export function invalidJSON(counts: number[]): Record<string, number> {
  return Object.fromEntries(INVALID_REASONS.map((r, i) => [r, counts[i] ?? 0]));
}

/** The queues' counters added up: the same fields as a snapshot's. */
export type Totals = Pick<
  Snapshot,
  'packets' | 'bytes' | 'datagrams' | 'payloadBytes' | 'invalid' | 'txPackets' | 'txBytes' | 'txDrops' | 'kernel' | 'forward' | 'feedOverflows'
> & { runtime: Record<string, number>; loop: Record<string, number> };

export function totals(snaps: Snapshot[]): Totals {
  const t: Totals = {
    packets: 0,
    bytes: 0,
    datagrams: 0,
    payloadBytes: 0,
    invalid: INVALID_REASONS.map(() => 0),
    txPackets: 0,
    txBytes: 0,
    txDrops: {},
    kernel: {},
    feedOverflows: 0,
    runtime: {},
    loop: {},
  };
  for (const s of snaps) {
    t.packets += s.packets;
    t.bytes += s.bytes;
    t.datagrams += s.datagrams;
    t.payloadBytes += s.payloadBytes;
    s.invalid.forEach((v, i) => (t.invalid[i] += v));
    t.txPackets += s.txPackets;
    t.txBytes += s.txBytes;
    sumInto(t.txDrops, s.txDrops);
    sumInto(t.kernel, s.kernel);
    t.feedOverflows += s.feedOverflows;
    sumInto(t.runtime, s.runtime);
    sumInto(t.loop, s.loop);
    if (s.forward) {
      t.forward ??= { forwarded: 0, checksumCompleted: 0, perBackend: {}, drops: {} };
      t.forward.forwarded += s.forward.forwarded;
      t.forward.checksumCompleted += s.forward.checksumCompleted;
      sumInto(t.forward.perBackend, s.forward.perBackend);
      sumInto(t.forward.drops, s.forward.drops);
    }
  }
  return t;
}

/** One queue's part of the exit JSON. */
export function queueJSON(s: Snapshot): Record<string, unknown> {
  return {
    queue: s.queue,
    rx_packets: s.packets,
    rx_bytes: s.bytes,
    rx_datagrams: s.datagrams,
    invalid_total: s.invalid.reduce((a, b) => a + b, 0),
    tx_packets: s.txPackets,
    tx_drops: s.txDrops,
    [s.port.raw_stats ? 'packet_stats' : 'xdp_stats']: s.kernel,
    ...(s.frames ? { frames: s.frames } : {}),
    ...(s.forward ? { forwarded: s.forward.forwarded } : {}),
    runtime: s.runtime,
    loop: s.loop,
  };
}
