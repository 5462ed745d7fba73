/**
 * The AF_XDP port: one socket on one queue, its UMEM, and the journey of every frame:
 *
 *   pool ──► FILL ──► (kernel receives) ──► RX ──► handler ──┬─ Drop ──────► FILL (recycled)
 *     ▲                                                      └─ Transmit ──► TX ──► (kernel sends)
 *     └──────────────────────────── COMPLETION ◄─────────────────────────────────────┘
 *
 * One call to receive() handles a whole batch: a few Atomics loads and stores, at most a
 * wakeup syscall or two (only when the kernel sets need_wakeup), no allocation. A handler that
 * throws leaves the rings consistent: the frames before it are sent or recycled as it said, the
 * one it threw on is recycled, and the rest stay on RX for the next call; then the error goes on. A frame to send
 * goes out from the very UMEM frame it arrived in; when TX has no room it is dropped, counted
 * and recycled, never lost.
 */
import { Verdict, type FrameHandler, type Port, type PortMode } from '../port/port.js';
import { Umem } from './umem.js';
import { XskSocket, type BindMode } from './socket.js';
import { META_SIZE } from '../xdp/meta.js';
import { descAddr, descLen, getAddr, setAddr, setDesc } from './ring.js';

/** The receive stamp's size where the XDP program puts it in the frame's head (headStamps). */
const HEAD_STAMP = META_SIZE;

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
  /**
   * The XDP program stamps in the frame's head (XdpProgram.headStamps): a received frame whose
   * bytes 12-13 are 0 (where a frame has its EtherType, never 0 in a redirected frame) starts
   * with a 16-byte stamp, which receive() skips; the stamp then sits right before the frame,
   * where the metadata area would have put it, and RxClock reads it there.
   */
  headStamps?: boolean;
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
  /** Frames taken off RX and handed to the handler, and their bytes. */
  rxPackets = 0;
  rxBytes = 0;
  /** Batches a handler threw in (the rings were left consistent; see receive()). */
  handlerErrors = 0;
  private closed = false;
  private readonly headStamps: boolean;

  constructor(readonly opts: XdpPortOptions) {
    this.mode = opts.mode;
    this.headStamps = opts.headStamps ?? false;
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
    const headStamps = this.headStamps;
    let k = 0;
    let t = 0;
    let rxBytes = 0;
    const first = rx.idx;
    /** The frame being handled; -1 before the first (beginBatch). */
    let i = -1;
    try {
      handler.beginBatch?.();
      for (i = 0; i < n; i++) {
        let addr = descAddr(rx, first + i);
        let len = descLen(rx, first + i);
        if (headStamps && len >= HEAD_STAMP + 14 && (bytes[addr + 12] | bytes[addr + 13]) === 0) {
          addr += HEAD_STAMP;
          len -= HEAD_STAMP;
        }
        rxBytes += len;
        if (handler.frame(bytes, addr, len) === Verdict.Transmit) {
          txAddr[t] = addr;
          txLen[t++] = len;
        } else {
          recycled[k++] = (addr & mask) >>> 0;
        }
      }
    } catch (e) {
      // The handler threw on frame i: what it returned verdicts for goes out or back as usual,
      // frame i goes back to FILL, and the frames after it stay on RX for the next call.
      this.handlerErrors++;
      if (i >= 0) recycled[k++] = (descAddr(rx, first + i) & mask) >>> 0;
      const taken = i + 1;
      rx.cancel(n - taken);
      this.rxPackets += taken;
      this.rxBytes += rxBytes;
      if (taken > 0) rx.release(taken);
      this.recycle(this.send(t, k), t);
      throw e;
    }
    this.rxPackets += n;
    this.rxBytes += rxBytes;
    rx.release(n);
    k = this.send(t, k);
    handler.endBatch?.();
    this.recycle(k, t);
    return n;
  }

  /**
   * Put the batch's `t` frames to send on TX (the same UMEM frames: no copy) and kick; what the
   * ring has no room for is dropped, counted and added to the `k` frames to recycle. Returns
   * the new count of frames to recycle.
   */
  private send(t: number, k: number): number {
    if (t === 0) return k;
    const { tx } = this.socket;
    const txAddr = this.txAddr;
    const txLen = this.txLen;
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
    const mask = this.umem.frameMask;
    for (let i = send; i < t; i++) this.recycled[k++] = (txAddr[i] & mask) >>> 0;
    this.txRingFull += t - send;
    return k;
  }

  /** Give the batch's `k` recycled frames back to FILL (or the pool), top FILL up, wake RX if asked. */
  private recycle(k: number, sent: number): void {
    const { fill } = this.socket;
    const recycled = this.recycled;
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
    if (sent > 0 || pooled) this.refill();
    if (fill.needsWakeup()) this.socket.wakeupRx();
  }

  /**
   * What receive() calls once a batch, each with a call that changes nothing (no frames to send
   * or give back; completions taken as receive() takes them): the warm start has V8 compile
   * them (run/warm.ts).
   */
  perBatchCalls(): { name: string; fn: unknown; call: () => void }[] {
    return [
      { name: 'XdpPort.send', fn: this.send, call: () => void this.send(0, 0) },
      { name: 'XdpPort.complete', fn: this.complete, call: () => void (this.complete() > 0 && this.refill()) },
      { name: 'XdpPort.recycle', fn: this.recycle, call: () => this.recycle(0, 0) },
    ];
  }

  /** The most bytes a frame built by transmit() may have. */
  get frameCapacity(): number {
    return this.umem.frameSize;
  }

  /**
   * Send up to `n` new frames, built in free UMEM frames: `build(buf, off, i)` writes frame `i`
   * at `buf[off, off + frameCapacity)` and returns its length (0: send nothing for this one).
   * The frames go on TX in one go and the kernel is kicked; they come back to the pool from
   * COMPLETION. Returns how many went on TX: fewer than `n` when the free pool or the TX ring
   * runs short (call again later). If `build` throws, the frames built before it still go out
   * and the rest go back to the pool; then the error is rethrown.
   */
  transmit(n: number, build: (buf: Uint8Array, off: number, i: number) => number): number {
    this.complete();
    const { tx } = this.socket;
    const umem = this.umem;
    let want = n < umem.freeFrames ? n : umem.freeFrames;
    if (want > 0) want = Math.min(want, tx.free(want));
    if (want <= 0) {
      this.kickIfNeeded();
      return 0;
    }
    const idx = tx.reserve(want);
    const cap = umem.frameSize;
    let sent = 0;
    try {
      for (let i = 0; i < want; i++) {
        const addr = umem.alloc();
        let len: number;
        try {
          len = build(umem.bytes, addr, i);
          if (len > cap) throw new RangeError(`transmit: frame ${i} is ${len} bytes, more than a UMEM frame holds (${cap})`);
        } catch (e) {
          umem.free(addr);
          throw e;
        }
        if (!(len > 0)) {
          umem.free(addr);
          continue;
        }
        setDesc(tx, idx + sent, addr, len);
        sent++;
        this.txBytes += len;
      }
    } finally {
      if (want > sent) tx.cancel(want - sent);
      if (sent > 0) {
        tx.submit(sent);
        this.txOutstanding += sent;
        this.txPackets += sent;
        this.kickIfNeeded();
      }
    }
    return sent;
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
