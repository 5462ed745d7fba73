/**
 * A port: where frames come from and go to. The AF_XDP socket (afxdp/xdp-port.ts) is one; the
 * AF_PACKET fallback is another. The pipeline above a port sees batches of frames in a buffer
 * it may read and rewrite in place, and can't tell the ports apart except by `mode`.
 */

/**
 * What the handler wants done with a frame once it has looked at it. A plain frozen object (not
 * a `const enum`) so that it exists at run time for JavaScript and `isolatedModules` users.
 */
export const Verdict = Object.freeze({
  /** Done with it: the frame goes back to the kernel for more RX. */
  Drop: 0,
  /**
   * Send `buf[off, off+len)` (rewritten in place, same length) out of the port, after the
   * handler returns. The port batches sends and counts what it could not send.
   */
  Transmit: 1,
} as const);
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

export interface FrameHandler {
  /** Called by the port before the frames of one batch. */
  beginBatch?(): void;
  /** `buf[off, off+len)` is the frame; valid only during the call. Returns a Verdict. */
  frame(buf: Uint8Array, off: number, len: number): Verdict;
  /** Called by the port after the batch, once what was to be sent is on its way. */
  endBatch?(): void;
}

export type PortMode = 'native' | 'generic' | 'raw';

export interface Port {
  readonly mode: PortMode;
  /** One line for logs: interface, queue, mode, copy or zero-copy. */
  readonly description: string;
  /** Take up to `max` frames, hand each to `handler`, return the frames. Returns the count. */
  receive(max: number, handler: FrameHandler): number;
  /** Call `cb` when frames may be ready or after `timeoutMs`, without blocking the event loop. */
  wait(timeoutMs: number, cb: () => void): void;
  /**
   * Block the calling thread until frames may be ready or `timeoutMs` passes (a datapath thread
   * of its own parks here: one kernel → thread wakeup). Returns 0 on a timeout.
   */
  waitSync(timeoutMs: number): number;
  /** Make waitSync() also return (with 0) when this eventfd is rung (sys/wake-fd.ts). */
  setWakeFd?(fd: number): void;
  /** The kernel's own counters for this port (drops, ring full, ...). */
  kernelStats(): Record<string, number>;
  /** Change the UDP destination ports steered to this port, at runtime (no reattach, no reopen). */
  setPorts(ports: number[]): void;
  /** Entries waiting in each of the port's rings, by ring name (for metrics). */
  ringLevels?(): Record<string, number>;
  close(): void;
}
