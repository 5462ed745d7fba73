/**
 * util/copy.ts: every length and alignment copies exactly the bytes asked for, and nothing
 * around them, through each of its three paths (byte loop, 32-bit words, Buffer.copy).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { copyBytes, wordPhase } from '../../src/util/copy.js';

it('copies exactly, whatever the lengths, offsets and buffers', () => {
  const srcShared = new Uint8Array(new SharedArrayBuffer(8192));
  const srcPlain = new Uint8Array(8192);
  for (let i = 0; i < 8192; i++) srcShared[i] = srcPlain[i] = (i * 131 + 7) & 0xff;
  // A source that does not start at its buffer's first byte (as a Buffer from node's pool may not).
  const srcOffsetView = new Uint8Array(srcPlain.buffer, 3, 8000);
  const dst = new Uint8Array(new SharedArrayBuffer(8192));
  let words = 0;
  for (const src of [srcShared, srcPlain, srcOffsetView]) {
    for (const len of [0, 1, 63, 64, 65, 66, 67, 68, 100, 257, 1041, 1500]) {
      for (let so = 0; so < 8; so++) {
        for (let d = 0; d < 8; d++) {
          const srcOff = 100 + so;
          const dstOff = 200 + d;
          dst.fill(0xee);
          copyBytes(src, srcOff, dst, dstOff, len);
          if (len > 64 && wordPhase(src, srcOff) === wordPhase(dst, dstOff)) words++;
          for (let i = 0; i < len; i++) if (dst[dstOff + i] !== src[srcOff + i]) assert.fail(`len ${len} src+${srcOff} dst+${dstOff}: byte ${i}`);
          assert.equal(dst[dstOff - 1], 0xee, 'nothing before');
          assert.equal(dst[dstOff + len], 0xee, 'nothing after');
        }
      }
    }
  }
  assert.ok(words > 100, 'the word path ran');
});

it('copies up to the very end of a source whose length is no whole number of words', () => {
  for (const size of [8189, 8190, 8191, 8192]) {
    const src = new Uint8Array(size);
    for (let i = 0; i < size; i++) src[i] = (i * 7 + 1) & 0xff;
    const dst = new Uint8Array(256);
    for (let d = 0; d < 4; d++) {
      for (const len of [65, 100, 131]) {
        dst.fill(0);
        copyBytes(src, size - len, dst, d, len);
        for (let i = 0; i < len; i++) assert.equal(dst[d + i], src[size - len + i], `size ${size} len ${len} dst+${d} byte ${i}`);
        assert.equal(dst[d + len], 0);
      }
    }
  }
});
