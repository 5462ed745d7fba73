/**
 * Incremental Internet checksum update (RFC 1624, eqn. 3): HC' = ~(~HC + ~m + m'), in 16-bit
 * one's complement arithmetic. Rewriting a field then costs a few adds instead of a pass over
 * the packet. All values are plain numbers (16-bit words); nothing allocates.
 *
 * Also the full sums the forwarder needs to tell a valid UDP checksum from a partial one (a local
 * sender's CHECKSUM_PARTIAL frame: the field holds only the pseudo-header sum) or a wrong one:
 * pseudoHeaderSum() and sumWords().
 */

/** The checksum after one 16-bit word of the covered data changed from `oldWord` to `newWord`. */
export function csumReplace16(csum: number, oldWord: number, newWord: number): number {
  let s = (~csum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Read the 16-bit big-endian word at `off`. */
export function word(buf: Uint8Array, off: number): number {
  return (buf[off] << 8) | buf[off + 1];
}

/** Write the 16-bit big-endian word at `off`. */
export function setWord(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 8;
  buf[off + 1] = v & 0xff;
}

/**
 * Overwrite `n` 16-bit words at `off` with `words` (already big-endian numbers) and fold every
 * change into `csum`; returns the new checksum.
 */
export function replaceWords(buf: Uint8Array, off: number, words: Uint16Array, csum: number): number {
  for (let i = 0; i < words.length; i++) {
    const at = off + 2 * i;
    const old = word(buf, at);
    const nw = words[i];
    if (old !== nw) {
      csum = csumReplace16(csum, old, nw);
      setWord(buf, at, nw);
    }
  }
  return csum;
}

/** Fold a one's-complement sum (any non-negative integer below 2^53) to 16 bits, not complemented. */
export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** A DataView of the last buffer sumWords() was given: made once per buffer (the UMEM, the ring). */
let viewOf: Uint8Array | undefined;
let view: DataView | undefined;

/**
 * One's-complement sum of buf[from, to) as big-endian 16-bit words (an odd last byte padded with
 * zero), folded to 16 bits, not complemented. Reads 32-bit words through a DataView (about twice
 * as fast as byte pairs): a 32-bit word adds hi·2^16 + lo, and 2^16 ≡ 1 in one's-complement
 * arithmetic, so the folded sum is the same. The running sum (< 2^14 words of < 2^32 for a 64 KiB
 * frame) stays far below 2^53. Allocates only when `buf` is not the buffer of the previous call.
 */
export function sumWords(buf: Uint8Array, from: number, to: number): number {
  if (buf !== viewOf) {
    viewOf = buf;
    view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  const d = view!;
  let s = 0;
  let i = from;
  for (; i + 7 < to; i += 8) s += d.getUint32(i) + d.getUint32(i + 4);
  for (; i + 1 < to; i += 2) s += (buf[i] << 8) | buf[i + 1];
  if (i < to) s += buf[i] << 8;
  return fold(s);
}

/**
 * The UDP pseudo-header sum, folded and not complemented: source and destination addresses
 * (`alen` = 4 or 16 bytes each, at `src` and `dst`), protocol 17 and the UDP length (IPv6's
 * 32-bit length and zero bytes add up to the same words). This is exactly what a Linux sender
 * leaves in the checksum field of a CHECKSUM_PARTIAL datagram (`~csum_tcpudp_magic(...)`) for
 * the device to finish. Never 0 (17 + length ≥ 25).
 */
export function pseudoHeaderSum(buf: Uint8Array, src: number, dst: number, alen: number, udpLength: number): number {
  let s = 17 + udpLength;
  for (let i = 0; i < alen; i += 2) s += ((buf[src + i] << 8) | buf[src + i + 1]) + ((buf[dst + i] << 8) | buf[dst + i + 1]);
  return fold(s);
}
