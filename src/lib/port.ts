/**
 * XskPort: what open() returns. One socket on one queue (AF_XDP, or AF_PACKET in raw mode),
 * the XDP program that steers the chosen ports to it (when open() loaded one), and everything
 * the caller needs on its own thread: one batch at a time (receive), a loop on the event loop
 * (run), frames built and sent (transmit), ports changed at run time, typed counters, close.
 */
import { XdpPort } from '../afxdp/xdp-port.js';
import type { RawPort } from '../rawsock/raw-port.js';
import type { XdpProgram, ProgramCounters } from '../xdp/program.js';
import type { FrameHandler, PortMode } from '../port/port.js';
import { socketAccounted, type XdpStatistics } from '../sys/if-xdp.js';
import { EventLoop, type EventLoopOptions } from '../pipeline/event-loop.js';
import { CompletionRing, FillRing, RxRing, TxRing, type Rings } from './rings.js';
import type { Logger } from '../util/logger.js';

/** Builds frame `i` of a transmit() in `buf[off, off + port.frameCapacity)`; returns its length (0: skip it). */
export type FrameBuilder = (buf: Uint8Array, off: number, i: number) => number;

/** Options of XskPort.run(). */
export type RunOptions = EventLoopOptions;

/** A running receive loop (XskPort.run). */
export interface RunningLoop {
  /** Stop; resolves once the loop no longer touches the port. */
  stop(): Promise<void>;
  /** Whether it still runs (false after stop(), or after a handler threw). */
  readonly running: boolean;
  /** The error that stopped it, if the handler threw. */
  readonly error: unknown;
}

/** Where every UMEM frame is (AF_XDP). At rest: free + fill + rx + tx + kernel = total. */
export interface FrameAccount {
  total: number;
  free: number;
  fill: number;
  rx: number;
  tx: number;
  /** Taken from FILL by the kernel, not on RX yet (a few frames in copy mode). */
  kernel: number;
}

/** AF_PACKET's counters (PACKET_STATISTICS, summed since open). */
export interface RawKernelStats {
  rx_packets: number;
  rx_dropped: number;
  rx_freeze_q_cnt: number;
  tx_ring_full: number;
}

interface CommonStats {
  rx: { packets: number; bytes: number };
  tx: {
    packets: number;
    bytes: number;
    /** Frames a handler returned Transmit for that the TX ring had no room for (dropped). */
    ringFull: number;
  };
  /** Batches in which the handler threw (the rings were left consistent). */
  handlerErrors: number;
}

/** XskPort.stats() for an AF_XDP port. */
export interface AfXdpStats extends CommonStats {
  mode: 'native' | 'generic';
  zeroCopy: boolean;
  /** The kernel's XDP_STATISTICS for the socket (the fields the running kernel fills). */
  kernel: Partial<XdpStatistics>;
  frames: FrameAccount;
  /** The XDP program's per-CPU counters, summed (when open() loaded the program). */
  program?: ProgramCounters;
}

/** XskPort.stats() for a raw (AF_PACKET) port. */
export interface RawStats extends CommonStats {
  mode: 'raw';
  zeroCopy: false;
  kernel: RawKernelStats;
  /** Frames too long for a TX frame, and sendto() failures. */
  txTooLong: number;
  txFlushErrors: number;
}

export type XskStats = AfXdpStats | RawStats;

/** @internal What open() hands the port. */
export interface PortParts {
  iface: string;
  ifindex: number;
  queue: number;
  port: XdpPort | RawPort;
  program?: XdpProgram;
  logger: Logger;
  /** Gives back the interface lock (lib/iface-lock.ts). */
  unlock?: () => void;
}

export class XskPort {
  /** 'native' or 'generic' (AF_XDP, the XDP program's attach mode) or 'raw' (AF_PACKET). */
  readonly mode: PortMode;
  /** Whether the AF_XDP socket runs zero-copy (always false in raw mode). */
  readonly zeroCopy: boolean;
  readonly iface: string;
  readonly queue: number;
  private readonly port: XdpPort | RawPort;
  private readonly program?: XdpProgram;
  private readonly logger: Logger;
  private readonly unlock?: () => void;
  private loop?: EventLoop;
  private typedRings?: Rings;
  private closing?: Promise<void>;
  private final?: XskStats;

  /** @internal Use open(). */
  constructor(parts: PortParts) {
    this.port = parts.port;
    this.program = parts.program;
    this.iface = parts.iface;
    this.queue = parts.queue;
    this.logger = parts.logger;
    this.unlock = parts.unlock;
    this.mode = parts.port.mode;
    this.zeroCopy = parts.port instanceof XdpPort ? parts.port.socket.zeroCopy : false;
  }

  /** One line for logs: interface, queue, mode, copy or zero-copy. */
  get description(): string {
    return this.port.description;
  }

  /**
   * The AF_XDP socket's file descriptor (-1 in raw mode): put it in your own XSKMAP when open()
   * loaded no program (`xdp: false`).
   */
  get fd(): number {
    return this.port instanceof XdpPort ? this.port.socket.fd : -1;
  }

  /** The most bytes one frame built by transmit() may have. */
  get frameCapacity(): number {
    return this.port.frameCapacity;
  }

  /**
   * One batch: take up to `max` received frames, call `handler.frame(buf, off, len)` for each
   * (the frame is `buf[off, off+len)`, in place, valid only during the call; rewrite it and
   * return Verdict.Transmit to send it back out, Verdict.Drop when done), then return the frames
   * to the kernel. Returns how many frames there were (0: none ready). Allocates nothing.
   * If the handler throws, the frames before it are sent or recycled as it said, the one it
   * threw on is recycled, the rest wait for the next call, and the error goes on to the caller.
   */
  receive(max: number, handler: FrameHandler): number {
    return this.port.receive(max, handler);
  }

  /**
   * Receive in a loop on this thread's event loop (batches, then setImmediate; parked in poll()
   * on a helper thread when idle), until stop(). One loop per port.
   */
  run(handler: FrameHandler, opts: RunOptions = {}): RunningLoop {
    if (this.closing) throw new Error('run: the port is closed');
    if (this.loop?.isRunning) throw new Error('run: this port already has a running loop (stop it first)');
    const loop = new EventLoop(this.port, handler, opts).start();
    this.loop = loop;
    return {
      stop: () => loop.stop(),
      get running() {
        return loop.isRunning;
      },
      get error() {
        return loop.error;
      },
    };
  }

  /**
   * Call `cb` once frames may be ready, or after `timeoutMs`, without blocking the event loop
   * (poll() runs on a helper thread). For loops of your own around receive().
   */
  wait(timeoutMs: number, cb: () => void): void {
    this.port.wait(timeoutMs, cb);
  }

  /**
   * Send up to `n` new frames: `build(buf, off, i)` writes frame `i` at `buf[off, off +
   * frameCapacity)` and returns its length. AF_XDP: built in free UMEM frames, put on TX in one
   * go, the kernel kicked; they come back to the pool once sent. Raw: built in the TX ring's
   * frames, one sendto(). Returns how many went out: fewer than `n` when frames or ring slots
   * run short (call again a little later).
   */
  transmit(n: number, build: FrameBuilder): number {
    return this.port.transmit(n, build);
  }

  /**
   * Change the UDP destination ports steered to this port, at once (AF_XDP: the program's
   * ports map; raw: a new socket filter). Throws when open() loaded no program.
   */
  setPorts(ports: number[]): void {
    if (this.port instanceof XdpPort) {
      if (!this.program) throw new Error('setPorts: no XDP program loaded by open() (xdp: false): your program decides what it redirects');
      this.program.setPorts(ports);
    } else {
      this.port.setPorts(ports);
    }
  }

  /**
   * Counters: received, sent, the kernel's own, where the UMEM frames are (AF_XDP). After
   * close(), the final ones (read just before the socket closed).
   */
  stats(): XskStats {
    if (this.final) return this.final;
    const p = this.port;
    const common: CommonStats = {
      rx: { packets: p.rxPackets, bytes: p.rxBytes },
      tx: { packets: p.txPackets, bytes: p.txBytes, ringFull: p.txRingFull },
      handlerErrors: p.handlerErrors,
    };
    if (p instanceof XdpPort) {
      const kernel = p.socket.statistics();
      return {
        mode: p.mode,
        zeroCopy: p.socket.zeroCopy,
        ...common,
        kernel,
        frames: p.frameAccount(),
        ...(this.program ? { program: this.program.counters(socketAccounted(p.rxPackets, kernel)) } : {}),
      };
    }
    return {
      mode: 'raw',
      zeroCopy: false,
      ...common,
      kernel: p.kernelStats() as unknown as RawKernelStats,
      txTooLong: p.txTooLong,
      txFlushErrors: p.txFlushErrors,
    };
  }

  /**
   * The socket's four rings and its UMEM, for advanced users (AF_XDP only; undefined in raw
   * mode). Don't mix them with receive/transmit/run: those keep their own account of frames.
   */
  get rings(): Rings | undefined {
    if (!(this.port instanceof XdpPort)) return undefined;
    const s = this.port.socket;
    return (this.typedRings ??= { fill: new FillRing(s.fill), rx: new RxRing(s.rx), tx: new TxRing(s.tx), completion: new CompletionRing(s.comp) });
  }

  /** The UMEM (AF_XDP only): all frames, seen as one Uint8Array; frameSize bytes each. */
  get umem(): { bytes: Uint8Array; frameSize: number; frameCount: number } | undefined {
    if (!(this.port instanceof XdpPort)) return undefined;
    const u = this.port.umem;
    return { bytes: u.bytes, frameSize: u.frameSize, frameCount: u.frameCount };
  }

  /**
   * Stop the loop if one runs, stop steering (detach the program), send what is still on TX
   * (up to `drainMs`), close the socket, unmap the UMEM and rings, unload the program.
   * Idempotent.
   */
  close(drainMs = 1000): Promise<void> {
    return (this.closing ??= this.doClose(drainMs));
  }

  private async doClose(drainMs: number): Promise<void> {
    await this.loop?.stop();
    this.program?.detach();
    try {
      await this.port.drainTx(drainMs);
    } catch (e) {
      this.logger.warn(`close: draining TX failed: ${(e as Error).message}`);
    }
    if (this.program && this.port instanceof XdpPort) this.program.clearSocket(this.queue);
    this.final = this.stats();
    this.port.close();
    this.program?.close();
    this.unlock?.();
  }
}
