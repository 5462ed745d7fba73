/**
 * Copying bytes between typed arrays on the hot path without allocating.
 *
 * Node 20's Buffer.prototype.copy makes a new Uint8Array view of the source for every copy
 * that does not start at the source's first byte (lib/buffer.js, _copyActual), and so does
 * `dst.set(src.subarray(...))`: ~100 bytes of garbage per datagram, and garbage makes the
 * datapath thread scavenge and wait for V8's helper threads (sys/clock.ts). So:
 *  - up to 64 bytes, a byte loop;
 *  - longer, where source and destination sit at the same offset mod 4 in their buffers, the
 *    middle in 32-bit words through Int32Array views of the two whole buffers (made once per
 *    buffer and kept): ~80 ns for 100 bytes, ~340 ns for 1,400 here, against Buffer.copy's
 *    ~60-85 ns plus its garbage. Writers that choose where a copy goes (the feed ring, the
 *    history) choose such an offset;
 *  - otherwise Buffer.prototype.copy, which allocates (the protobuf encoder, whose offsets the
 *    encoding sets, still copies that way: an allocation-free version built words from two
 *    shifted source words, and xsk's RSS in the slow-subscriber test then grew 0.6-14 MB where
 *    it grew 0.6-3 MB, for reasons not found; not kept).
 */
const words = new WeakMap<ArrayBufferLike, Int32Array<ArrayBufferLike>>();
let lastBuf: ArrayBufferLike | undefined;
let lastWords: Int32Array<ArrayBufferLike> = new Int32Array(0);
let lastBuf2: ArrayBufferLike | undefined;
let lastWords2: Int32Array<ArrayBufferLike> = new Int32Array(0);

/** An Int32Array over all of `buf` (whole 32-bit words), made once per buffer. */
function wordsOf(buf: ArrayBufferLike): Int32Array<ArrayBufferLike> {
  if (buf === lastBuf) return lastWords;
  if (buf === lastBuf2) return lastWords2;
  let w = words.get(buf);
  if (w === undefined) {
    w = new Int32Array(buf, 0, buf.byteLength >> 2);
    words.set(buf, w);
  }
  lastBuf2 = lastBuf;
  lastWords2 = lastWords;
  lastBuf = buf;
  lastWords = w;
  return w;
}

/** Copies of up to this many bytes go byte by byte, wherever they land. */
export const BYTE_LOOP_MAX = 64;

/** The offset mod 4 that a copy out of `src[srcOff]` should land on for copyBytes' word path. */
export function wordPhase(src: Uint8Array, srcOff: number): number {
  return (src.byteOffset + srcOff) & 3;
}

/** The first offset in `dst` from `at` on (at most 3 bytes in) where a copy from `src[srcOff]` takes the word path. */
export function samePhaseAt(src: Uint8Array, srcOff: number, dst: Uint8Array, at: number): number {
  return at + ((wordPhase(src, srcOff) - wordPhase(dst, at)) & 3);
}

/** Copy `len` bytes from `src[srcOff...]` to `dst[dstOff...]`. */
export function copyBytes(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number): void {
  if (len <= BYTE_LOOP_MAX) {
    for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i];
    return;
  }
  const from = src.byteOffset + srcOff;
  const to = dst.byteOffset + dstOff;
  if (((from ^ to) & 3) !== 0) {
    Buffer.prototype.copy.call(src, dst, dstOff, srcOff, srcOff + len);
    return;
  }
  let i = 0;
  for (; ((from + i) & 3) !== 0; i++) dst[dstOff + i] = src[srcOff + i];
  const sw = wordsOf(src.buffer);
  const dw = wordsOf(dst.buffer);
  const a = (from + i) >> 2;
  const b = (to + i) >> 2;
  const n = (len - i) >> 2;
  let k = 0;
  for (; k + 4 <= n; k += 4) {
    dw[b + k] = sw[a + k];
    dw[b + k + 1] = sw[a + k + 1];
    dw[b + k + 2] = sw[a + k + 2];
    dw[b + k + 3] = sw[a + k + 3];
  }
  for (; k < n; k++) dw[b + k] = sw[a + k];
  i += n << 2;
  for (; i < len; i++) dst[dstOff + i] = src[srcOff + i];
}
