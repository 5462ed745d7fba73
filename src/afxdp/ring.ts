/**
 * The four AF_XDP rings, seen from userspace.
 *
 * Each ring is a single-producer/single-consumer queue in memory shared with the kernel
 * (mmap'd from the socket at the page offsets in sys/if-xdp.ts). Its mapping holds, at the
 * offsets the kernel reports through XDP_MMAP_OFFSETS:
 *
 *     producer  u32   written by the producer side only (store-release), read by the other
 *     consumer  u32   written by the consumer side only (store-release), read by the other
 *     flags     u32   XDP_RING_NEED_WAKEUP, set by the kernel
 *     desc[]    size entries (size a power of two), slot = index & (size - 1)
 *
 *     ring          producer   consumer   desc entry
 *     FILL          user       kernel     u64 frame address (free frames for the kernel to fill)
 *     RX            kernel     user       struct xdp_desc { u64 addr; u32 len; u32 options }
 *     TX            user       kernel     struct xdp_desc (frames to send)
 *     COMPLETION    kernel     user       u64 frame address (frames the kernel has sent)
 *
 * Indices are free-running u32 counters that wrap at 2^32; "how many" is always a difference
 * taken modulo 2^32 (`(a - b) >>> 0`). Like libxdp, each side keeps a cached copy of the other
 * side's index and reloads it (Atomics.load) only when the cache says the ring looks full/empty;
 * its own index, which only it writes, is kept locally and published with Atomics.store after
 * the entries are written. (Atomics calls are not inlined by V8 here: ~18 ns each, so a batch
 * makes as few as it can: typically one load and three stores.)
 *
 * Verbs mirror libxdp's xsk.h: producer rings reserve/submit, consumer rings peek/release.
 * The descriptor areas are viewed as Uint32Array (u64 addresses as two u32 words, little
 * endian, the high word always 0 because UMEM offsets stay below 4 GiB), so nothing here
 * allocates: no BigInt, no objects per entry.
 */
import { XDP_RING_NEED_WAKEUP } from '../sys/if-xdp.js';

/** Where a ring lives: one ArrayBuffer (the mapping) and the byte offsets inside it. */
export interface RingMemory {
  buffer: ArrayBuffer;
  producer: number;
  consumer: number;
  flags: number;
  desc: number;
}

abstract class Ring {
  readonly size: number;
  readonly mask: number;
  /** The shared indices. This side writes only its own; sim-kernel.ts plays the other side. */
  readonly producer: Uint32Array;
  readonly consumer: Uint32Array;
  /** XDP_RING_NEED_WAKEUP and friends: the kernel's (or sim-kernel.ts's) to set. */
  readonly flags: Uint32Array;
  /** The descriptor area, in u32 words. */
  readonly desc: Uint32Array;
  cachedProd = 0;
  cachedCons = 0;

  constructor(mem: RingMemory, size: number, descWords: number) {
    if (!Number.isInteger(size) || size <= 0 || size > 2 ** 30 || (size & (size - 1)) !== 0) throw new Error(`ring size ${size} is not a power of two`);
    this.size = size;
    this.mask = size - 1;
    this.producer = new Uint32Array(mem.buffer, mem.producer, 1);
    this.consumer = new Uint32Array(mem.buffer, mem.consumer, 1);
    this.flags = new Uint32Array(mem.buffer, mem.flags, 1);
    this.desc = new Uint32Array(mem.buffer, mem.desc, size * descWords);
  }

  /** The kernel asks to be woken (sendto/recvfrom/poll) before it looks at this ring again. */
  needsWakeup(): boolean {
    return (Atomics.load(this.flags, 0) & XDP_RING_NEED_WAKEUP) !== 0;
  }
}

/** FILL and TX: userspace produces. */
export class ProducerRing extends Ring {
  /** The producer index as last published: only this side writes it, so no need to load it. */
  private published: number;

  constructor(mem: RingMemory, size: number, descWords: number) {
    super(mem, size, descWords);
    this.cachedProd = Atomics.load(this.producer, 0);
    this.published = this.cachedProd;
    // The producer may run `size` ahead of the consumer: keep the consumer index + size.
    this.cachedCons = (Atomics.load(this.consumer, 0) + size) >>> 0;
  }

  /** Free slots, reloading the consumer index only if the cache shows fewer than `wanted`. */
  free(wanted: number): number {
    let n = (this.cachedCons - this.cachedProd) >>> 0;
    if (n >= wanted) return n;
    this.cachedCons = (Atomics.load(this.consumer, 0) + this.size) >>> 0;
    n = (this.cachedCons - this.cachedProd) >>> 0;
    return n;
  }

  /**
   * Reserve `n` slots: returns the first index, or -1 when fewer than `n` are free (then
   * nothing is reserved). Fill the slots, then submit(n).
   */
  reserve(n: number): number {
    if (this.free(n) < n) return -1;
    const idx = this.cachedProd;
    this.cachedProd = (this.cachedProd + n) >>> 0;
    return idx;
  }

  /** Give back the last `n` reserved slots, not submitted (libxdp's xsk_ring_prod__cancel). */
  cancel(n: number): void {
    this.cachedProd = (this.cachedProd - n) >>> 0;
  }

  /** Publish `n` reserved slots to the kernel (store-release of the producer index). */
  submit(n: number): void {
    this.published = (this.published + n) >>> 0;
    Atomics.store(this.producer, 0, this.published);
  }

  /** Entries the consumer has not taken yet (for fill-level metrics). */
  pending(): number {
    return (Atomics.load(this.producer, 0) - Atomics.load(this.consumer, 0)) >>> 0;
  }
}

/** RX and COMPLETION: userspace consumes. */
export class ConsumerRing extends Ring {
  /** First index of the entries returned by the last peek(). */
  idx = 0;
  /** The consumer index as last published: only this side writes it. */
  private released: number;

  constructor(mem: RingMemory, size: number, descWords: number) {
    super(mem, size, descWords);
    this.cachedCons = Atomics.load(this.consumer, 0);
    this.released = this.cachedCons;
    this.cachedProd = Atomics.load(this.producer, 0);
  }

  /** Entries ready, reloading the producer index only when the cache is empty. */
  available(wanted: number): number {
    let n = (this.cachedProd - this.cachedCons) >>> 0;
    if (n === 0) {
      this.cachedProd = Atomics.load(this.producer, 0);
      n = (this.cachedProd - this.cachedCons) >>> 0;
    }
    return n > wanted ? wanted : n;
  }

  /** Take up to `n` entries: returns how many, the first at `this.idx`. Then release(count). */
  peek(n: number): number {
    const got = this.available(n);
    if (got > 0) {
      this.idx = this.cachedCons;
      this.cachedCons = (this.cachedCons + got) >>> 0;
    }
    return got;
  }

  /**
   * Un-peek the last `n` peeked entries, not released: the next peek() returns them again
   * (libxdp's xsk_ring_cons__cancel).
   */
  cancel(n: number): void {
    this.cachedCons = (this.cachedCons - n) >>> 0;
  }

  /** Hand `n` peeked entries back to the kernel (store-release of the consumer index). */
  release(n: number): void {
    this.released = (this.released + n) >>> 0;
    Atomics.store(this.consumer, 0, this.released);
  }

  pending(): number {
    return (Atomics.load(this.producer, 0) - Atomics.load(this.consumer, 0)) >>> 0;
  }
}

/** Words per entry: address rings hold a u64, descriptor rings a 16-byte xdp_desc. */
export const ADDR_WORDS = 2;
export const DESC_WORDS = 4;

/** FILL/COMPLETION entry i: the frame address. */
export function setAddr(ring: ProducerRing, idx: number, addr: number): void {
  const w = (idx & ring.mask) << 1;
  ring.desc[w] = addr;
  ring.desc[w + 1] = 0;
}
export function getAddr(ring: ConsumerRing, idx: number): number {
  return ring.desc[(idx & ring.mask) << 1];
}

/** RX/TX entry i. */
export function descAddr(ring: Ring, idx: number): number {
  return ring.desc[(idx & ring.mask) << 2];
}
export function descLen(ring: Ring, idx: number): number {
  return ring.desc[((idx & ring.mask) << 2) + 2];
}
export function setDesc(ring: ProducerRing, idx: number, addr: number, len: number): void {
  const w = (idx & ring.mask) << 2;
  ring.desc[w] = addr;
  ring.desc[w + 1] = 0;
  ring.desc[w + 2] = len;
  ring.desc[w + 3] = 0;
}
