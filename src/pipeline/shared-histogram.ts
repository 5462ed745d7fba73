/**
 * A latency histogram that one thread records into and another reads, with nothing sent
 * between them: the counts live in a SharedArrayBuffer. The datapath thread records (a few
 * integer operations a sample, no call into WebAssembly, nothing to encode); the control plane
 * drains what is new into an hdr-histogram-js Histogram whenever it reports, and does all the
 * percentile work there. Before this, a datapath thread encoded its histograms (compressed
 * base64, ~0.2 ms each, ~2-3 ms the first time) in the middle of its traffic.
 *
 * The buckets are HdrHistogram's own for the histograms latency.ts builds (lowest discernible
 * value 1, highest trackable an hour in ns, 3 significant digits): 2,048 sub-buckets, the upper
 * half of each repeated at every power of two. A value's counts index is computed as
 * HdrHistogram computes it, and the drain records each bucket's count at its lowest value, and
 * the top one at its highest (the maximum), so the Histogram it fills is the one HdrHistogram
 * decodes from the same counts (its encoded form, which this replaces, carries counts only).
 *
 * Memory: `counts` is a Uint32Array over the shared buffer, one writer (the recording thread).
 * A reader keeps what it has already taken (`taken`) and adds the difference, in uint32
 * arithmetic, so a count that wraps past 2^32 between two drains is still right.
 */
import type { Histogram } from './latency.js';

/** log2 of HdrHistogram's sub-bucket half count for 3 significant digits (1,024). */
const HALF_MAGNITUDE = 10;
const HALF_COUNT = 1 << HALF_MAGNITUDE;
/** Sub-bucket mask: values below 2,048 have unit resolution. */
const SUB_MASK = (HALF_COUNT << 1) - 1;
/** Buckets for values up to an hour in ns (3.6e12 < 2048 * 2^31): 32, plus one. */
const BUCKETS = 32;
/** Entries in the counts array, as HdrHistogram sizes it. */
export const COUNTS_LENGTH = (BUCKETS + 1) * HALF_COUNT;
const TWO_32 = 4294967296;
const BYTES = COUNTS_LENGTH * 4;

/** The counts index of `v` (an integer ≥ 0); values past the last bucket go to the last one. */
export function countsIndex(v: number): number {
  let pow2: number;
  let sub: number;
  if (v < 2147483648) {
    pow2 = 31 - Math.clz32(v | SUB_MASK);
    sub = v >>> (pow2 - HALF_MAGNITUDE);
  } else {
    const hi = Math.floor(v / TWO_32);
    pow2 = hi === 0 ? 31 : 63 - Math.clz32(hi);
    sub = Math.floor(v / 2 ** (pow2 - HALF_MAGNITUDE));
  }
  const i = ((pow2 - HALF_MAGNITUDE + 1) << HALF_MAGNITUDE) + sub - HALF_COUNT;
  return i < COUNTS_LENGTH ? i : COUNTS_LENGTH - 1;
}

/** The lowest value that counts at index `i`. */
export function valueAt(i: number): number {
  let bucket = (i >> HALF_MAGNITUDE) - 1;
  let sub = (i & (HALF_COUNT - 1)) + HALF_COUNT;
  if (bucket < 0) {
    sub -= HALF_COUNT;
    bucket = 0;
  }
  return sub * 2 ** bucket;
}

/** The highest value that counts at index `i`. */
export function highestAt(i: number): number {
  return valueAt(i) + 2 ** Math.max((i >> HALF_MAGNITUDE) - 1, 0) - 1;
}

export class SharedHistogram {
  readonly buffer: SharedArrayBuffer;
  private readonly counts: Uint32Array;
  /** Reader side: the counts already drained (allocated on the first drain). */
  private taken?: Uint32Array;

  /** A new histogram, or one over the buffer another thread made. */
  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(BYTES);
    if (this.buffer.byteLength !== BYTES) throw new RangeError(`a shared histogram is ${BYTES} bytes, not ${this.buffer.byteLength}`);
    this.counts = new Uint32Array(this.buffer);
    // Touch every page now (a write: a read would map the shared zero page), so that a bucket's
    // first sample is not a page fault in the middle of a burst (~20-30 µs each on this VM).
    if (!buffer) for (let i = 0; i < COUNTS_LENGTH; i += 1024) this.counts[i] = 0;
  }

  /** Record a value (ns); negative ones (clock skew between CPUs) count as 0. The writer's side. */
  recordValue(v: number): void {
    this.counts[countsIndex(v > 0 ? Math.floor(v) : 0)]++;
  }

  /**
   * Add what was recorded since the last drain to `into`. The reader's side. Returns how many
   * samples that was.
   */
  drainInto(into: Histogram): number {
    const counts = this.counts;
    const taken = (this.taken ??= new Uint32Array(COUNTS_LENGTH));
    // The maximum is the top bucket's highest value, as HdrHistogram's decoder makes it: one
    // count of the top bucket with new counts goes there, if that raises the maximum.
    let top = COUNTS_LENGTH - 1;
    while (top >= 0 && counts[top] === taken[top]) top--;
    if (top >= 0 && highestAt(top) <= into.maxValue) top = -1;
    let added = 0;
    for (let i = 0; i < COUNTS_LENGTH; i++) {
      const c = counts[i];
      if (c === taken[i]) continue;
      let d = (c - taken[i]) >>> 0;
      taken[i] = c;
      added += d;
      if (i === top) {
        into.recordValue(highestAt(i));
        d--;
      }
      if (d > 0) into.recordValueWithCount(valueAt(i), d);
    }
    return added;
  }
}

/** What the pipeline records latency into: a histogram per kind it measures. */
export interface LatencyRecorder {
  readonly rx_to_user: { recordValue(ns: number): void };
  readonly rx_to_tx: { recordValue(ns: number): void };
}

/** The buffers of a SharedLatency, to hand to another thread. */
export interface SharedLatencyBuffers {
  rx_to_user: SharedArrayBuffer;
  rx_to_tx: SharedArrayBuffer;
}

/**
 * A datapath's latency histograms in shared memory: its thread records (the Pipeline), the
 * control plane drains them into hdr-histogram-js histograms (drainInto) when it reports.
 */
export class SharedLatency implements LatencyRecorder {
  readonly rx_to_user: SharedHistogram;
  readonly rx_to_tx: SharedHistogram;

  constructor(buffers?: SharedLatencyBuffers) {
    this.rx_to_user = new SharedHistogram(buffers?.rx_to_user);
    this.rx_to_tx = new SharedHistogram(buffers?.rx_to_tx);
  }

  get buffers(): SharedLatencyBuffers {
    return { rx_to_user: this.rx_to_user.buffer, rx_to_tx: this.rx_to_tx.buffer };
  }

  /** Add what was recorded since the last call to `into`'s histograms of the same kinds. */
  drainInto(into: { rx_to_user: Histogram; rx_to_tx: Histogram }): void {
    this.rx_to_user.drainInto(into.rx_to_user);
    this.rx_to_tx.drainInto(into.rx_to_tx);
  }
}
