/**
 * The once-a-second stats line and the exit summary, both computed from the same counters.
 */
import type { CountHandler } from '../rx/count-handler.js';
import type { Port } from '../port/port.js';
import type { XdpProgram } from '../xdp/program.js';

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
    private readonly handler: CountHandler,
    private readonly port: Port,
  ) {}

  /** One human line: rates since the previous call, totals since start. */
  line(): string {
    const now = process.hrtime.bigint();
    const dt = Number(now - this.lastAt) / 1e9 || 1;
    const h = this.handler;
    const pps = (h.packets - this.lastPackets) / dt;
    const mbps = ((h.bytes - this.lastBytes) * 8) / dt / 1e6;
    this.lastAt = now;
    this.lastPackets = h.packets;
    this.lastBytes = h.bytes;
    const kstats = this.port.kernelStats();
    return (
      `rx ${fmtRate(pps)}pps ${mbps.toFixed(1)} Mbps | total ${h.packets} pkts` +
      ` | invalid ${h.invalid.total()} | kernel drops ${kernelDrops(kstats)} | mode ${this.port.mode}`
    );
  }
}

function fmtRate(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} k`;
  return `${v.toFixed(0)} `;
}

export interface SummaryContext {
  iface: string;
  queue: number;
  ports: number[];
  bind: string;
  startedAt: bigint;
  program?: XdpProgram;
}

export function summary(handler: CountHandler, port: Port, ctx: SummaryContext): Record<string, unknown> {
  return {
    mode: port.mode,
    bind: ctx.bind,
    iface: ctx.iface,
    queue: ctx.queue,
    ports: ctx.ports,
    duration_s: Number(process.hrtime.bigint() - ctx.startedAt) / 1e9,
    rx_packets: handler.packets,
    rx_bytes: handler.bytes,
    rx_datagrams: handler.datagrams,
    rx_payload_bytes: handler.payloadBytes,
    invalid: handler.invalid.toJSON(),
    xdp_stats: port.kernelStats(),
    ...(ctx.program ? { xdp_program: ctx.program.counters() } : {}),
  };
}
