/**
 * Full one's-complement sums over a frame in place, for UDP checksums: the pseudo-header sum and
 * the sum of a range of bytes, both folded to 16 bits and not complemented. With them a receiver
 * tells a valid UDP checksum (pseudo + datagram folds to 0xffff) from a partial one (a local
 * Linux sender's CHECKSUM_PARTIAL frame, whose field holds only the pseudo-header sum for the
 * device to finish) and from a wrong one, and finishes a partial one (~ the datagram's sum, the
 * field included). No allocation per call (see sumWords).
 */
import type { Datagram } from './datagram.js';

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

/**
 * If the UDP checksum of the datagram `p` has just parsed (PARSE_OK) in `buf` is partial (the
 * field holds exactly its pseudo-header sum), finish it in place and return true; otherwise
 * leave the frame alone and return false. An IPv4 checksum of 0 ("none") is never partial (a
 * pseudo-header sum is never 0).
 */
export function completePartialUdpChecksum(buf: Uint8Array, p: Datagram): boolean {
  const l4 = p.l4Offset;
  const field = (buf[l4 + 6] << 8) | buf[l4 + 7];
  if (field !== pseudoHeaderSum(buf, p.srcAddrOffset, p.dstAddrOffset, p.ipVersion === 4 ? 4 : 16, p.udpLength)) return false;
  let c = ~sumWords(buf, l4, l4 + p.udpLength) & 0xffff;
  if (c === 0) c = 0xffff;
  buf[l4 + 6] = c >>> 8;
  buf[l4 + 7] = c & 0xff;
  return true;
}
