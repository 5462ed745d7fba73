/**
 * Incremental Internet checksum update (RFC 1624, eqn. 3): HC' = ~(~HC + ~m + m'), in 16-bit
 * one's complement arithmetic. Rewriting a field then costs a few adds instead of a pass over
 * the packet. All values are plain numbers (16-bit words); nothing allocates.
 * (Full sums, to tell valid, partial and wrong UDP checksums apart: src/frame/checksum.ts.)
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

