/**
 * The AF_XDP port: one socket on one queue, its UMEM, and the journey of every frame:
 *
 *   pool ──► FILL ──► (kernel receives) ──► RX ──► handler ──┬─ Drop ──────► FILL (recycled)
 *     ▲                                                      └─ Transmit ──► TX ──► (kernel sends)
 *     └──────────────────────────── COMPLETION ◄─────────────────────────────────────┘
 *
 * One call to receive() handles a whole batch: a few Atomics loads and stores, at most a
 * wakeup syscall or two (only when the kernel sets need_wakeup), no allocation. A frame to send
 * goes out from the very UMEM frame it arrived in; when TX has no room it is dropped, counted
 * and recycled, never lost.
 */
import { Verdict, type FrameHandler, type Port, type PortMode } from '../port/port.js';
import { Umem } from './umem.js';
import { XskSocket, type BindMode } from './socket.js';
import { descAddr, descLen, getAddr, setAddr, setDesc } from './ring.js';

export interface XdpPortOptions {
  ifindex: number;
  ifname: string;
  queue: number;
  mode: Exclude<PortMode, 'raw'>;
  bind: BindMode;
  frameSize: number;
  frameCount: number;
  ringSize: number;
  /** TX ring entries (default: ringSize). */
  txRingSize?: number;
  hugepages?: boolean;
  /** No socket: rings and UMEM in ordinary memory, for the warm start (sim-kernel.ts). */
  simulated?: boolean;
}

export class XdpPort implements Port {
  /** The XDP program's attach mode; the runner attaches after the socket is up and sets it. */
  mode: Exclude<PortMode, 'raw'>;
  readonly umem: Umem;
  readonly socket: XskSocket;
  /** Per batch: frames going back to FILL, and frames going out on TX (address, length). */
  private readonly recycled: Uint32Array;
  private readonly txAddr: Uint32Array;
  private readonly txLen: Uint32Array;
  /** Frames on the TX ring or in the kernel's hands until they show up on COMPLETION. */
  private txOutstanding = 0;
  /** Frames sent, and frames the handler wanted sent but the TX ring had no room for. */
  txPackets = 0;
  txBytes = 0;
  txRingFull = 0;
  private closed = false;

  constructor(readonly opts: XdpPortOptions) {
    this.mode = opts.mode;
    this.umem = new Umem({ frameCount: opts.frameCount, frameSize: opts.frameSize, hugepages: opts.hugepages, simulated: opts.simulated });
    try {
      this.socket = new XskSocket({
        ifindex: opts.ifindex,
        ifname: opts.ifname,
        queue: opts.queue,
        umem: this.umem,
        rxSize: opts.ringSize,
        txSize: opts.txRingSize ?? opts.ringSize,
        fillSize: opts.ringSize * 2,
        compSize: opts.ringSize,
        bind: opts.bind,
        simulated: opts.simulated,
      });
    } catch (e) {
      this.umem.close();
      throw e;
    }
    const most = Math.max(opts.ringSize, 1024);
    this.recycled = new Uint32Array(most);
    this.txAddr = new Uint32Array(most);
    this.txLen = new Uint32Array(most);
    this.refill();
  }

  get description(): string {
    const o = this.opts;
    return `${o.ifname} queue ${o.queue}, AF_XDP ${this.mode} mode, ${this.socket.zeroCopy ? 'zero-copy' : 'copy'}`;
  }

  /** Move free frames from the pool to FILL while both have some. */
  private refill(): void {
    const { fill } = this.socket;
    const n = Math.min(fill.free(this.umem.freeFrames), this.umem.freeFrames);
    if (n <= 0) return;
    const idx = fill.reserve(n);
    if (idx < 0) return;
    for (let i = 0; i < n; i++) setAddr(fill, idx + i, this.umem.alloc());
    fill.submit(n);
  }

  /** Take sent frames off COMPLETION and put them back in the pool. */
  private complete(): number {
    if (this.txOutstanding === 0) return 0;
    const { comp } = this.socket;
    const n = comp.peek(this.recycled.length);
    if (n === 0) return 0;
    const first = comp.idx;
    for (let i = 0; i < n; i++) this.umem.free(getAddr(comp, first + i));
    comp.release(n);
    this.txOutstanding -= n;
    return n;
  }

  /**
   * Wake the kernel's TX side when it asks (need_wakeup). In copy mode the kernel sends only
   * inside sendto(), at most 32 frames per call (TX_BATCH_SIZE), so kick until the ring is
   * drained, a bounded number of times; what is left goes with the next batch's kick.
   */
  private kickIfNeeded(): void {
    const { tx } = this.socket;
    for (let i = 0; i < 8 && tx.pending() > 0 && tx.needsWakeup(); i++) this.socket.kickTx();
  }

  receive(max: number, handler: FrameHandler): number {
    const { rx, fill, tx } = this.socket;
    if (this.complete() > 0) this.refill();
    const n = rx.peek(max);
    if (n === 0) {
      if (this.txOutstanding > 0 && tx.pending() > 0) this.kickIfNeeded();
      if (fill.needsWakeup()) this.socket.wakeupRx();
      return 0;
    }
    const bytes = this.umem.bytes;
    const recycled = this.recycled;
    const txAddr = this.txAddr;
    const txLen = this.txLen;
    const mask = this.umem.frameMask;
    let k = 0;
    let t = 0;
    const first = rx.idx;
    handler.beginBatch?.();
    for (let i = 0; i < n; i++) {
      const addr = descAddr(rx, first + i);
      const len = descLen(rx, first + i);
      if (handler.frame(bytes, addr, len) === Verdict.Transmit) {
        txAddr[t] = addr;
        txLen[t++] = len;
      } else {
        recycled[k++] = (addr & mask) >>> 0;
      }
    }
    rx.release(n);

    if (t > 0) {
      // The same UMEM frame goes out: no copy. What the TX ring has no room for is dropped.
      const room = tx.free(t);
      const send = room < t ? room : t;
      if (send > 0) {
        const idx = tx.reserve(send);
        for (let i = 0; i < send; i++) {
          setDesc(tx, idx + i, txAddr[i], txLen[i]);
          this.txBytes += txLen[i];
        }
        tx.submit(send);
        this.txOutstanding += send;
        this.txPackets += send;
        this.kickIfNeeded();
      }
      for (let i = send; i < t; i++) recycled[k++] = (txAddr[i] & mask) >>> 0;
      this.txRingFull += t - send;
    }
    handler.endBatch?.();

    let pooled = false;
    if (k > 0) {
      const idx = fill.reserve(k);
      if (idx >= 0) {
        for (let i = 0; i < k; i++) setAddr(fill, idx + i, recycled[i]);
        fill.submit(k);
      } else {
        for (let i = 0; i < k; i++) this.umem.free(recycled[i]);
        pooled = true;
      }
    }
    // Frames that went out leave FILL short: top it up from the pool (completions feed it).
    if (t > 0 || pooled) this.refill();
    if (fill.needsWakeup()) this.socket.wakeupRx();
    return n;
  }

  /**
   * Wait (up to `ms`) until every frame handed to TX has come back on COMPLETION. Call after the
   * receive loop has stopped.
   */
  async drainTx(ms = 1000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.txOutstanding > 0 && Date.now() < deadline) {
      this.socket.kickTx();
      this.complete();
      if (this.txOutstanding > 0) await new Promise((r) => setTimeout(r, 1));
    }
    this.refill();
  }

  /**
   * Where every UMEM frame is. At rest (loop stopped, TX drained): free + fill + rx + tx +
   * kernel = total, where `kernel` is what the kernel took from FILL but has not put on RX: in
   * copy mode it keeps the frame it could not deliver when RX was full in a small cache of its
   * own, and hands it out again before taking more from FILL. A leak would make it grow with
   * traffic; it stays at a few frames.
   */
  frameAccount(): { total: number; free: number; fill: number; rx: number; tx: number; kernel: number } {
    const free = this.umem.freeFrames;
    const fill = this.socket.fill.pending();
    const rx = this.socket.rx.pending();
    const tx = this.txOutstanding;
    const total = this.umem.frameCount;
    return { total, free, fill, rx, tx, kernel: total - free - fill - rx - tx };
  }

  /** The ports live in the XDP program's map, which the main thread owns. */
  setPorts: (ports: number[]) => void = () => {
    throw new Error('no XDP program behind this port');
  };

  setWakeFd(fd: number): void {
    this.socket.setWakeFd(fd);
  }

  waitSync(timeoutMs: number): number {
    return this.socket.pollReadable(timeoutMs);
  }

  wait(timeoutMs: number, cb: () => void): void {
    this.socket.waitReadable(timeoutMs, cb);
  }

  kernelStats(): Record<string, number> {
    return this.socket.statistics() as Record<string, number>;
  }

  /** Entries waiting in each ring (for the ring fill-level metrics). */
  ringLevels(): Record<string, number> {
    const s = this.socket;
    return { fill: s.fill.pending(), rx: s.rx.pending(), tx: s.tx.pending(), completion: s.comp.pending() };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    this.umem.close();
  }
}
