/**
 * The kernel's half of a simulated XdpPort (`simulated: true`: UMEM and rings in ordinary
 * memory, no socket). It does what the kernel does for a copy-mode socket, in the same ring
 * layout, so the port's real receive path runs over it: take free frames off FILL, copy a frame
 * into each (at XDP_PACKET_HEADROOM, with the XDP program's receive stamp in the metadata in
 * front) and publish them on RX; take what userspace put on TX and hand it back on COMPLETION.
 * Used by the warm start (run/warm.ts); nothing here touches a real socket.
 */
import type { XdpPort } from './xdp-port.js';
import { META_MAGIC, META_SIZE } from '../xdp/meta.js';

/** Where copy-mode AF_XDP puts received data inside a frame (XDP_PACKET_HEADROOM). */
const HEADROOM = 256;

export class SimKernel {
  constructor(private readonly port: XdpPort) {
    if (port.socket.fd >= 0) throw new Error('SimKernel drives simulated ports only');
  }

  /**
   * Receive up to `n` frames, taken in turn from `frames` starting at `first`, stamped `nowNs`.
   * Returns how many were put on RX (bounded by FILL entries and RX room).
   */
  deliver(frames: readonly Uint8Array[], first: number, n: number, nowNs: number): number {
    const { fill, rx } = this.port.socket;
    const bytes = this.port.umem.bytes;
    const fillProd = Atomics.load(fill.producer, 0);
    let fillCons = Atomics.load(fill.consumer, 0);
    let rxProd = Atomics.load(rx.producer, 0);
    const rxRoom = rx.size - ((rxProd - Atomics.load(rx.consumer, 0)) >>> 0);
    const avail = (fillProd - fillCons) >>> 0;
    const count = Math.min(n, avail, rxRoom);
    const lo = nowNs % 4294967296;
    const hi = Math.floor(nowNs / 4294967296);
    for (let i = 0; i < count; i++) {
      const base = fill.desc[(fillCons & fill.mask) << 1];
      fillCons = (fillCons + 1) >>> 0;
      const f = frames[(first + i) % frames.length];
      const addr = base + HEADROOM;
      bytes.set(f, addr);
      const m = addr - META_SIZE;
      writeU32(bytes, m, lo);
      writeU32(bytes, m + 4, hi);
      writeU32(bytes, m + 8, META_MAGIC);
      const w = (rxProd & rx.mask) << 2;
      rx.desc[w] = addr;
      rx.desc[w + 1] = 0;
      rx.desc[w + 2] = f.length;
      rx.desc[w + 3] = 0;
      rxProd = (rxProd + 1) >>> 0;
    }
    Atomics.store(fill.consumer, 0, fillCons);
    Atomics.store(rx.producer, 0, rxProd);
    return count;
  }

  /** Send everything on TX: its frames go to COMPLETION. Returns the count. */
  complete(): number {
    const { tx, comp } = this.port.socket;
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
