/**
 * The AF_XDP port: one socket on one queue, its UMEM, and the recycling of frames between
 * RX and FILL. One call to receive() handles a whole batch: a few Atomics loads and stores,
 * at most one syscall (a wakeup, only when the kernel sets need_wakeup), no allocation.
 */
import { type FrameHandler, type Port, type PortMode } from '../port/port.js';
import { Umem } from './umem.js';
import { XskSocket, type BindMode } from './socket.js';
import { descAddr, descLen, setAddr } from './ring.js';

export interface XdpPortOptions {
  ifindex: number;
  ifname: string;
  queue: number;
  mode: Exclude<PortMode, 'raw'>;
  bind: BindMode;
  frameSize: number;
  frameCount: number;
  ringSize: number;
  hugepages?: boolean;
}

export class XdpPort implements Port {
  readonly mode: Exclude<PortMode, 'raw'>;
  readonly umem: Umem;
  readonly socket: XskSocket;
  private readonly recycled: Uint32Array;
  private closed = false;

  constructor(readonly opts: XdpPortOptions) {
    this.mode = opts.mode;
    this.umem = new Umem({ frameCount: opts.frameCount, frameSize: opts.frameSize, hugepages: opts.hugepages });
    try {
      this.socket = new XskSocket({
        ifindex: opts.ifindex,
        ifname: opts.ifname,
        queue: opts.queue,
        umem: this.umem,
        rxSize: opts.ringSize,
        txSize: opts.ringSize,
        fillSize: opts.ringSize * 2,
        compSize: opts.ringSize,
        bind: opts.bind,
      });
    } catch (e) {
      this.umem.close();
      throw e;
    }
    this.recycled = new Uint32Array(opts.ringSize);
    this.refill();
  }

  get description(): string {
    const o = this.opts;
    return `${o.ifname} queue ${o.queue}, AF_XDP ${this.mode} mode, ${this.socket.zeroCopy ? 'zero-copy' : 'copy'}`;
  }

  /** Move free frames from the pool to FILL while both have some. */
  private refill(): void {
    const { fill } = this.socket;
    let n = Math.min(fill.free(this.umem.freeFrames), this.umem.freeFrames);
    if (n <= 0) return;
    const idx = fill.reserve(n);
    if (idx < 0) return;
    for (let i = 0; i < n; i++) setAddr(fill, idx + i, this.umem.alloc());
    fill.submit(n);
  }

  receive(max: number, handler: FrameHandler): number {
    const { rx, fill } = this.socket;
    const n = rx.peek(max);
    if (n === 0) {
      if (fill.needsWakeup()) this.socket.wakeupRx();
      return 0;
    }
    const bytes = this.umem.bytes;
    const recycled = this.recycled;
    const mask = this.umem.frameMask;
    let k = 0;
    const first = rx.idx;
    for (let i = 0; i < n; i++) {
      const addr = descAddr(rx, first + i);
      const len = descLen(rx, first + i);
      // Every verdict recycles the frame until the forwarding path (Verdict.Transmit) lands.
      handler.frame(bytes, addr, len);
      recycled[k++] = (addr & mask) >>> 0;
    }
    rx.release(n);
    const idx = fill.reserve(k);
    if (idx >= 0) {
      for (let i = 0; i < k; i++) setAddr(fill, idx + i, recycled[i]);
      fill.submit(k);
    } else {
      for (let i = 0; i < k; i++) this.umem.free(recycled[i]);
      this.refill();
    }
    if (fill.needsWakeup()) this.socket.wakeupRx();
    return n;
  }

  /** Set by openXdp: the ports live in the XDP program's map. */
  setPorts: (ports: number[]) => void = () => {
    throw new Error('no XDP program behind this port');
  };

  wait(timeoutMs: number, cb: () => void): void {
    this.socket.waitReadable(timeoutMs, cb);
  }

  kernelStats(): Record<string, number> {
    return this.socket.statistics() as Record<string, number>;
  }

  ringLevels(): { fill: number; rx: number } {
    return { fill: this.socket.fill.pending(), rx: this.socket.rx.pending() };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    this.umem.close();
  }
}
