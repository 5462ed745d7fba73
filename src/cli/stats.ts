/**
 * The once-a-second stats line and the exit summary, both computed from the same counters,
 * with what each component adds.
 */
import type { Pipeline } from '../pipeline/pipeline.js';
import type { Component } from '../pipeline/stage.js';
import type { Port } from '../port/port.js';

/** The kernel counters that mean "a frame for us was lost". */
const KERNEL_DROP_FIELDS = ['rx_dropped', 'rx_ring_full', 'rx_invalid_descs'];

export function kernelDrops(stats: Record<string, number>): number {
  let n = 0;
  for (const f of KERNEL_DROP_FIELDS) n += stats[f] ?? 0;
  return n;
}

export class StatsReporter {
  private lastAt = process.hrtime.bigint();
  private lastPackets = 0;
  private lastBytes = 0;

  constructor(
    private readonly pipeline: Pipeline,
    private readonly port: Port,
    private readonly components: Component[],
  ) {}

  /** One human line: rates since the previous call, totals since start. */
  line(): string {
    const now = process.hrtime.bigint();
    const dt = Number(now - this.lastAt) / 1e9 || 1;
    const h = this.pipeline;
    const pps = (h.packets - this.lastPackets) / dt;
    const mbps = ((h.bytes - this.lastBytes) * 8) / dt / 1e6;
    this.lastAt = now;
    this.lastPackets = h.packets;
    this.lastBytes = h.bytes;
    const kstats = this.port.kernelStats();
    const parts = [
      `rx ${fmtRate(pps)}pps ${mbps.toFixed(1)} Mbps`,
      `total ${h.packets} pkts`,
      `invalid ${h.invalid.total()}`,
      `kernel drops ${kernelDrops(kstats)}`,
      `mode ${this.port.mode}`,
    ];
    for (const c of this.components) {
      const extra = c.statsLine?.();
      if (extra) parts.push(extra);
    }
    return parts.join(' | ');
  }
}

export function fmtRate(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} k`;
  return `${v.toFixed(0)} `;
}

export interface SummaryContext {
  iface: string;
  queue: number;
  ports: number[];
  startedAt: bigint;
}

export function summary(
  pipeline: Pipeline,
  port: Port,
  components: Component[],
  ctx: SummaryContext,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    mode: port.mode,
    iface: ctx.iface,
    queue: ctx.queue,
    ports: ctx.ports,
    duration_s: Number(process.hrtime.bigint() - ctx.startedAt) / 1e9,
    rx_packets: pipeline.packets,
    rx_bytes: pipeline.bytes,
    rx_datagrams: pipeline.datagrams,
    rx_payload_bytes: pipeline.payloadBytes,
    invalid: pipeline.invalid.toJSON(),
  };
  for (const c of components) Object.assign(out, c.summary?.());
  return out;
}
