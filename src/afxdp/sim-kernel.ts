/**
 * The kernel's half of a simulated XdpPort (`simulated: true`: UMEM and rings in ordinary
 * memory, no socket). It does what the kernel does for a copy-mode socket, in the same ring
 * layout, so the port's real receive path runs over it: take free frames off FILL, copy a frame
 * into each (at XDP_PACKET_HEADROOM, most with the XDP program's receive stamp in the metadata in
 * front, or as the frame's head where the port expects it there) and publish them on RX; take
 * what userspace put on TX and hand it back on COMPLETION.
 * Used by the warm start (run/warm.ts); nothing here touches a real socket.
 */
import type { XdpPort } from './xdp-port.js';
import { META_MAGIC, META_SIZE } from '../xdp/meta.js';
import { XDP_RING_NEED_WAKEUP } from '../sys/if-xdp.js';
import { clearWakeFd, createWakeFd, ringWakeFd } from '../sys/wake-fd.js';

/** Where copy-mode AF_XDP puts received data inside a frame (XDP_PACKET_HEADROOM). */
const HEADROOM = 256;

export class SimKernel {
  /** The FILL entries taken, published to userspace only every other delivery (as the kernel
   * releases FILL lazily): userspace then sometimes finds FILL full and pools frames. */
  private fillCons: number;
  private deliveries = 0;
  /** Whether the socket's "readable" eventfd is rung (it is while RX has frames). */
  private readable = false;
  /** An eventfd polled next to the socket, as the live datapath's wake fd, rung now and then. */
  readonly wakeFd = createWakeFd();
  private readonly scratch = Buffer.alloc(8);
  /** The port skips stamps in the frame's head (XdpPortOptions.headStamps): deliver them so. */
  private readonly headStamps: boolean;

  /**
   * The socket's pollReadable() then waits in a real poll(): on the simulated socket's
   * "readable" eventfd, which this rings while RX has frames, and on `wakeFd`, which this rings
   * every 16th delivery, so that the live datapath's ways out of poll() are all warmed.
   */
  constructor(private readonly port: XdpPort) {
    if (port.socket.fd >= 0) throw new Error('SimKernel drives simulated ports only');
    port.setWakeFd(this.wakeFd);
    this.headStamps = port.opts.headStamps ?? false;
    // As a copy-mode socket's: the kernel asks to be woken for FILL and TX.
    const { fill, tx } = port.socket;
    Atomics.store(fill.flags, 0, XDP_RING_NEED_WAKEUP);
    Atomics.store(tx.flags, 0, XDP_RING_NEED_WAKEUP);
    this.fillCons = Atomics.load(fill.consumer, 0);
  }

  /**
   * Receive up to `n` frames, taken in turn from `frames` starting at `first`, stamped `nowNs`
   * (CLOCK_MONOTONIC ns, as bpf_ktime_get_ns() stamps them), but for every 4th frame, which
   * comes without a stamp: live, most frames do (the program stamps 1 in --latency-sample, none
   * with --no-latency). Had the warm start stamped them all, the unstamped path would have been
   * compiled without type feedback, and the first live frame threw receive() and frame() back to
   * the interpreter (--trace-deopt: "Insufficient type feedback"): re-optimizing receive() took a
   * 64 ms compile job, run on a helper thread that a busy CPU starved, while the slower code
   * fell behind and allocated.
   * Returns how many were put on RX (bounded by FILL entries and RX room).
   */
  deliver(frames: readonly Uint8Array[], first: number, n: number, nowNs: number): number {
    const { fill, rx } = this.port.socket;
    const bytes = this.port.umem.bytes;
    const fillProd = Atomics.load(fill.producer, 0);
    let fillCons = this.fillCons;
    let rxProd = Atomics.load(rx.producer, 0);
    const rxRoom = rx.size - ((rxProd - Atomics.load(rx.consumer, 0)) >>> 0);
    const avail = (fillProd - fillCons) >>> 0;
    const count = Math.min(n, avail, rxRoom);
    for (let i = 0; i < count; i++) {
      // Every other frame was stamped 2^31 ns (~2.1 s) earlier: the stamps' low words then cover
      // both halves of the u32 range, as real ones do over any 4.3 s, so the compiled code is not
      // specialised for one half (V8 deoptimizes with "lost precision" when the other comes).
      const ns = (i & 1) === 0 ? nowNs : nowNs - 2147483648;
      const lo = ns % 4294967296;
      const hi = Math.floor(ns / 4294967296);
      const base = fill.desc[(fillCons & fill.mask) << 1];
      fillCons = (fillCons + 1) >>> 0;
      const f = frames[(first + i) % frames.length];
      const addr = base + HEADROOM;
      bytes.set(f, addr);
      const stamped = (i & 3) !== 3;
      const m = addr - META_SIZE;
      writeU32(bytes, m, lo);
      writeU32(bytes, m + 4, hi);
      writeU32(bytes, m + 8, stamped ? META_MAGIC : 0);
      writeU32(bytes, m + 12, 0);
      // Where the program stamps in the frame's head, a stamped frame starts at its stamp.
      const head = stamped && this.headStamps;
      const w = (rxProd & rx.mask) << 2;
      rx.desc[w] = head ? m : addr;
      rx.desc[w + 1] = 0;
      rx.desc[w + 2] = head ? f.length + META_SIZE : f.length;
      rx.desc[w + 3] = 0;
      rxProd = (rxProd + 1) >>> 0;
    }
    this.fillCons = fillCons;
    if ((++this.deliveries & 1) === 0) Atomics.store(fill.consumer, 0, fillCons);
    Atomics.store(rx.producer, 0, rxProd);
    if (count > 0 && !this.readable) {
      ringWakeFd(this.port.socket.simReadyFd);
      this.readable = true;
    }
    if ((this.deliveries & 15) === 0) ringWakeFd(this.wakeFd);
    return count;
  }

  /** Send everything on TX: its frames go to COMPLETION. Returns the count. */
  complete(): number {
    const { tx, comp, rx } = this.port.socket;
    if (this.readable && rx.pending() === 0) {
      clearWakeFd(this.port.socket.simReadyFd, this.scratch);
      this.readable = false;
    }
    const txProd = Atomics.load(tx.producer, 0);
    let txCons = Atomics.load(tx.consumer, 0);
    let compProd = Atomics.load(comp.producer, 0);
    const room = comp.size - ((compProd - Atomics.load(comp.consumer, 0)) >>> 0);
    const n = Math.min((txProd - txCons) >>> 0, room);
    for (let i = 0; i < n; i++) {
      const addr = tx.desc[(txCons & tx.mask) << 2];
      txCons = (txCons + 1) >>> 0;
      const w = (compProd & comp.mask) << 1;
      comp.desc[w] = addr;
      comp.desc[w + 1] = 0;
      compProd = (compProd + 1) >>> 0;
    }
    Atomics.store(tx.consumer, 0, txCons);
    Atomics.store(comp.producer, 0, compProd);
    return n;
  }
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}
