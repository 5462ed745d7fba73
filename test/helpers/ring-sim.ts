/**
 * A tiny simulated kernel for the AF_XDP rings in src/afxdp/ring.ts.
 *
 * Each SimRing owns one ordinary ArrayBuffer laid out like the kernel's ring mapping
 * (producer u32 at PROD_OFF, consumer u32 at CONS_OFF, flags u32 at FLAGS_OFF, descriptors at
 * DESC_OFF, each on its own cache line as the kernel does) and plays the kernel's side by hand
 * through a Uint32Array over the same buffer:
 *
 *   - for rings userspace produces (FILL, TX) the kernel consumes: kernelConsume()
 *   - for rings userspace consumes (RX, COMPLETION) the kernel produces: kernelProduce()
 *
 * Kernel-side entries are plain arrays of u32 words (2 words for address rings, 4 for
 * descriptor rings). Test-only code: allocation is fine.
 */
import type { RingMemory } from '../../src/afxdp/ring.js';
import { mulberry32 } from './prng.js';
export { mulberry32 };

export const PROD_OFF = 0;
export const CONS_OFF = 64;
export const FLAGS_OFF = 128;
export const DESC_OFF = 192;

export class SimRing {
  readonly buffer: ArrayBuffer;
  readonly mem: RingMemory;
  /** The whole mapping as u32 words (the kernel's view). */
  readonly words: Uint32Array;

  constructor(
    readonly size: number,
    readonly descWords: number,
    start: { producer?: number; consumer?: number } = {},
  ) {
    this.buffer = new ArrayBuffer(DESC_OFF + size * descWords * 4);
    this.words = new Uint32Array(this.buffer);
    this.mem = { buffer: this.buffer, producer: PROD_OFF, consumer: CONS_OFF, flags: FLAGS_OFF, desc: DESC_OFF };
    // Written before any ring object is built over the buffer (the ring caches them).
    this.producer = start.producer ?? 0;
    this.consumer = start.consumer ?? start.producer ?? 0;
  }

  get producer(): number {
    return Atomics.load(this.words, PROD_OFF >> 2);
  }
  set producer(v: number) {
    Atomics.store(this.words, PROD_OFF >> 2, v >>> 0);
  }
  get consumer(): number {
    return Atomics.load(this.words, CONS_OFF >> 2);
  }
  set consumer(v: number) {
    Atomics.store(this.words, CONS_OFF >> 2, v >>> 0);
  }
  get flags(): number {
    return Atomics.load(this.words, FLAGS_OFF >> 2);
  }
  set flags(v: number) {
    Atomics.store(this.words, FLAGS_OFF >> 2, v >>> 0);
  }

  /** Entries published by the producer and not yet released by the consumer. */
  entries(): number {
    return (this.producer - this.consumer) >>> 0;
  }

  /** Free slots from the producer's point of view (true shared state, no caching). */
  room(): number {
    return this.size - this.entries();
  }

  /** The words of slot `idx` (an index, masked here). */
  readSlot(idx: number): number[] {
    const base = (DESC_OFF >> 2) + (idx & (this.size - 1)) * this.descWords;
    return Array.from(this.words.subarray(base, base + this.descWords));
  }

  writeSlot(idx: number, entry: readonly number[]): void {
    if (entry.length !== this.descWords) throw new Error(`entry has ${entry.length} words, ring has ${this.descWords}`);
    const base = (DESC_OFF >> 2) + (idx & (this.size - 1)) * this.descWords;
    for (let i = 0; i < this.descWords; i++) this.words[base + i] = entry[i] >>> 0;
  }

  /**
   * Kernel as consumer (FILL/TX): take up to `max` published entries, in order, and publish
   * the new consumer index.
   */
  kernelConsume(max = Infinity): number[][] {
    const n = Math.min(this.entries(), max);
    const out: number[][] = [];
    const cons = this.consumer;
    for (let i = 0; i < n; i++) out.push(this.readSlot(cons + i));
    this.consumer = cons + n;
    return out;
  }

  /**
   * Kernel as producer (RX/COMPLETION): write as many of `entries` as fit, then publish the
   * producer index once. Returns how many were written.
   */
  kernelProduce(entries: readonly (readonly number[])[]): number {
    const n = Math.min(this.room(), entries.length);
    const prod = this.producer;
    for (let i = 0; i < n; i++) this.writeSlot(prod + i, entries[i]);
    this.producer = prod + n;
    return n;
  }
}


/** Integer in [lo, hi] inclusive. */
export function randInt(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}
