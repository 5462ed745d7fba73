/**
 * The datapath threads as one Component on the main thread: the stats line, the summary's
 * receive/transmit/kernel fields and per_queue, and the core Prometheus series, all from the
 * threads' counter snapshots, the same way for one queue or many.
 */
import type { Registry } from 'prom-client';
import type { Component } from '../pipeline/stage.js';
import { INVALID_REASONS } from '../frame/invalid-reason.js';
import { counterFrom, gaugeFrom, withLabels } from '../metrics/prom.js';
import { fmtRate } from '../util/format.js';
import type { QueuePool } from './pool.js';
import type { Snapshot } from './protocol.js';
import { invalidJSON, queueJSON, totals } from './aggregate.js';
import { socketAccounted } from '../sys/if-xdp.js';
import { parkFallback } from '../sys/park.js';

/** The kernel counters that mean "a frame for us was lost". */
const KERNEL_DROP_FIELDS = ['rx_dropped', 'rx_ring_full', 'rx_invalid_descs'];

export function kernelDrops(stats: Record<string, number>): number {
  let n = 0;
  for (const f of KERNEL_DROP_FIELDS) n += stats[f] ?? 0;
  return n;
}

export interface DatapathInfo {
  iface: string;
  queues: number[];
  /** 'native' | 'generic' | 'raw', once known. */
  mode(): string;
  /**
   * The XDP program's counters (AF_XDP only). `delivered`: what the sockets account for (frames
   * taken + the kernel's drops for them), the redirected count of a program that does not keep it.
   */
  programCounters?: (delivered: number) => Record<string, number>;
}

/** Frames the sockets account for (sys/if-xdp.ts: socketAccounted), summed over the threads. */
function delivered(snaps: Snapshot[]): number {
  let n = 0;
  for (const s of snaps) n += socketAccounted(s.packets, s.kernel);
  return n;
}

type Rows = [Record<string, string>, number][];

export class DatapathComponent implements Component {
  readonly name = 'datapath';
  private lastAt = performance.now();
  private last = new Map<number, { packets: number; bytes: number }>();

  constructor(
    private readonly pool: QueuePool,
    private readonly info: DatapathInfo,
  ) {}

  snapshots(): Snapshot[] {
    return this.pool.snapshots();
  }

  /** The label that stands for every queue: the queue itself when there is one, else 'all'. */
  get allQueues(): string {
    return this.info.queues.length === 1 ? String(this.info.queues[0]) : 'all';
  }

  statsLine(): string {
    const now = performance.now();
    const dt = (now - this.lastAt) / 1000 || 1;
    const snaps = this.snapshots();
    const t = totals(snaps);
    let pps = 0;
    let bps = 0;
    let busiest = { queue: -1, pps: -1 };
    for (const s of snaps) {
      const was = this.last.get(s.queue) ?? { packets: 0, bytes: 0 };
      const qpps = (s.packets - was.packets) / dt;
      pps += qpps;
      bps += ((s.bytes - was.bytes) * 8) / dt;
      if (qpps > busiest.pps) busiest = { queue: s.queue, pps: qpps };
    }
    this.last = new Map(snaps.map((s) => [s.queue, { packets: s.packets, bytes: s.bytes }]));
    this.lastAt = now;
    const parts = [
      `rx ${fmtRate(pps)}pps ${(bps / 1e6).toFixed(1)} Mbps`,
      `total ${t.packets} pkts`,
      ...(snaps.length > 1 ? [`busiest queue ${busiest.queue} ${fmtRate(Math.max(0, busiest.pps))}pps`] : []),
      `invalid ${t.invalid.reduce((a, b) => a + b, 0)}`,
      `kernel drops ${kernelDrops(t.kernel)}`,
      `mode ${this.info.mode()}`,
    ];
    const txDropped = Object.values(t.txDrops).reduce((a, b) => a + b, 0);
    if (t.txPackets > 0 || txDropped > 0) parts.push(`tx ${t.txPackets} (ring full ${t.txDrops.ring_full ?? 0})`);
    return parts.join(' | ');
  }

  summary(): Record<string, unknown> {
    const snaps = this.snapshots();
    const t = totals(snaps);
    const first = snaps[0];
    const raw = this.info.mode() === 'raw';
    return {
      rx_packets: t.packets,
      rx_bytes: t.bytes,
      rx_datagrams: t.datagrams,
      rx_payload_bytes: t.payloadBytes,
      invalid: invalidJSON(t.invalid),
      tx_packets: t.txPackets,
      tx_bytes: t.txBytes,
      tx_drops: t.txDrops,
      ...(first?.port ?? {}),
      ...(raw ? {} : { xdp_stats: t.kernel }),
      ...(this.info.programCounters ? { xdp_program: this.info.programCounters(delivered(snaps)) } : {}),
      ...(snaps.length === 1 && first.frames ? { frames: first.frames } : {}),
      per_queue: snaps.map(queueJSON),
      // How the threads park and read the clock: the addon, or koffi (and why: sys/park.ts).
      datapath: { threads: snaps.length, wait: parkFallback ? `koffi (${parkFallback})` : 'park addon', runtime: t.runtime, loop: t.loop },
    };
  }

  metrics(reg: Registry, base: Record<string, string>): void {
    const labels = Object.keys(base);
    const per = (pick: (s: Snapshot) => number) => (): Rows => this.snapshots().map((s) => [withLabels(base, { queue: String(s.queue) }), pick(s)]);
    const perKey = (key: string, pick: (s: Snapshot) => Record<string, number>) => (): Rows =>
      this.snapshots().flatMap((s) =>
        Object.entries(pick(s)).map(([k, v]) => {
          const l = withLabels(base, { queue: String(s.queue) });
          l[key] = k;
          return [l, v] as [Record<string, string>, number];
        }),
      );
    counterFrom(reg, 'xsk_rx_packets_total', 'Frames taken from the RX ring.', labels, per((s) => s.packets));
    counterFrom(reg, 'xsk_rx_bytes_total', 'Bytes of the frames taken from the RX ring.', labels, per((s) => s.bytes));
    counterFrom(reg, 'xsk_rx_datagrams_total', 'Valid UDP datagrams received.', labels, per((s) => s.datagrams));
    counterFrom(reg, 'xsk_invalid_frames_total', 'Malformed frames, by reason; counted and dropped.', [...labels, 'reason'],
      perKey('reason', (s) => Object.fromEntries(INVALID_REASONS.map((r, i) => [r, s.invalid[i] ?? 0]))));
    counterFrom(reg, 'xsk_kernel_statistics_total', "The kernel's counters for the socket (XDP_STATISTICS, PACKET_STATISTICS).", [...labels, 'counter'], perKey('counter', (s) => s.kernel));
    counterFrom(reg, 'xsk_tx_packets_total', 'Frames put on the TX ring.', labels, per((s) => s.txPackets));
    counterFrom(reg, 'xsk_tx_bytes_total', 'Bytes put on the TX ring.', labels, per((s) => s.txBytes));
    counterFrom(reg, 'xsk_tx_dropped_total', 'Frames to send that were dropped, by reason.', [...labels, 'reason'], perKey('reason', (s) => s.txDrops));
    gaugeFrom(reg, 'xsk_ring_entries', 'Entries waiting in each ring.', [...labels, 'ring'], perKey('ring', (s) => s.rings));
    counterFrom(reg, 'xsk_feed_ring_overflows_total', 'Datagrams a datapath thread could not hand to the feed (its ring was full).', labels, per((s) => s.feedOverflows));
    counterFrom(reg, 'xsk_datapath_gc_total', "Garbage collections in each datapath thread's heap, by kind.", [...labels, 'kind'],
      perKey('kind', (s) => ({ minor: s.runtime.gc_minor, major: s.runtime.gc_major })));
    counterFrom(reg, 'xsk_datapath_parks_total', 'Times a datapath thread parked in poll() with nothing to do.', labels, per((s) => s.loop.parks));
    if (this.info.mode() === 'raw') {
      counterFrom(reg, 'xsk_raw_checksum_completed_total', 'Raw mode: frames the kernel marked TP_STATUS_CSUMNOTREADY (partial UDP checksum, a local sender) that xsk finished.', labels,
        per((s) => Number((s.port.raw_stats as Record<string, unknown> | undefined)?.csum_completed ?? 0)));
    }
    if (this.info.programCounters) {
      const read = this.info.programCounters;
      counterFrom(reg, 'xsk_xdp_program_frames_total', "The XDP program's per-CPU counters, summed.", [...labels, 'counter'], () =>
        Object.entries(read(delivered(this.snapshots()))).map(([counter, v]) => [withLabels(base, { queue: this.allQueues, counter }), v]),
      );
    }
  }
}
