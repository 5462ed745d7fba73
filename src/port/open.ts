/**
 * Open the port the flags ask for:
 *
 *   --mode native | generic  AF_XDP with the XDP program attached in that mode; any failure ends
 *                            here with its reason (never a fallback).
 *   --mode raw               the AF_PACKET port (rawsock/), no XDP program at all.
 *   --mode auto              AF_XDP as openXdp does it (native, then generic); if any step of it
 *                            fails — no CAP_BPF, no AF_XDP in the kernel, an interface that
 *                            takes no XDP program, another program in the way — one warning line
 *                            says why, and the raw port is opened instead.
 *
 * Whatever is opened comes back with the components that report on it and two steps for the
 * end: drain() (the loop has stopped: stop steering frames, send what is queued) and close().
 */
import type { Port } from './port.js';
import type { Component } from '../pipeline/stage.js';
import { openXdp, type OpenXdpOptions } from '../afxdp/open.js';
import { xdpComponent } from '../afxdp/component.js';
import { RawPort } from '../rawsock/raw-port.js';
import { rawComponent } from '../rawsock/component.js';
import { log } from '../log.js';

export type ModeChoice = 'auto' | 'native' | 'generic' | 'raw';

export interface OpenPortOptions extends Omit<OpenXdpOptions, 'mode'> {
  mode: ModeChoice;
}

export interface OpenedPort {
  port: Port;
  components: Component[];
  /** The XDP program's counters (AF_XDP only). */
  programCounters?: () => Record<string, number>;
  /** What the port sent, and what it could not. */
  tx: () => { packets: number; bytes: number; drops: Record<string, number> };
  /** Call once the receive loop has stopped: stop steering, let queued TX frames go out. */
  drain(): Promise<void>;
  close(): void;
}

export function openPort(o: OpenPortOptions): OpenedPort {
  if (o.mode === 'raw') return openRaw(o);
  if (o.mode !== 'auto') return openAfXdp(o, o.mode);
  try {
    return openAfXdp(o, 'auto');
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    log.warn(`AF_XDP unavailable (${why}); falling back to raw mode (AF_PACKET)`);
    try {
      return openRaw(o);
    } catch (e2) {
      throw new Error(`raw mode failed too: ${(e2 as Error).message} (AF_XDP failed with: ${why})`);
    }
  }
}

function openAfXdp(o: OpenPortOptions, mode: OpenXdpOptions['mode']): OpenedPort {
  const dp = openXdp({ ...o, mode });
  return {
    port: dp.port,
    components: [xdpComponent(dp)],
    programCounters: () => dp.program.counters(),
    tx: () => ({ packets: dp.port.txPackets, bytes: dp.port.txBytes, drops: { ring_full: dp.port.txRingFull } }),
    async drain() {
      // Detach first: no frame is redirected to a socket that is about to close.
      dp.program.detach();
      await dp.port.drainTx();
    },
    close: () => dp.close(),
  };
}

function openRaw(o: OpenPortOptions): OpenedPort {
  const port = new RawPort({
    ifindex: o.ifindex,
    ifname: o.ifname,
    ports: o.ports,
    ringSize: o.ringSize,
    frameSize: o.frameSize,
    txRingSize: o.txRingSize,
  });
  return {
    port,
    components: [rawComponent(port)],
    tx: () => ({
      packets: port.txPackets,
      bytes: port.txBytes,
      drops: { ring_full: port.txRingFull, too_long: port.txTooLong, flush_errors: port.txFlushErrors },
    }),
    drain: () => port.drainTx(),
    close: () => port.close(),
  };
}
