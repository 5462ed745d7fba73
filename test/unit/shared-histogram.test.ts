/**
 * The shared histogram (pipeline/shared-histogram.ts) against hdr-histogram-js itself: the same
 * values recorded into both give the same histogram, across every bucket size, from another
 * thread too, and through counts that wrap.
 */
import { it, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import { COUNTS_LENGTH, countsIndex, SharedHistogram, valueAt } from '../../src/pipeline/shared-histogram.js';
import { initLatency, Latency } from '../../src/pipeline/latency.js';
import { mulberry32 } from '../helpers/prng.js';

const PERCENTILES = [0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100];

function same(a: Latency['rx_to_user'], b: Latency['rx_to_user']): void {
  assert.equal(b.totalCount, a.totalCount);
  for (const p of PERCENTILES) assert.equal(b.getValueAtPercentile(p), a.getValueAtPercentile(p), `p${p}`);
  assert.equal(b.maxValue, a.maxValue);
  assert.equal(b.minNonZeroValue, a.minNonZeroValue);
  assert.ok(Math.abs(b.mean - a.mean) <= a.mean * 1e-3, `mean ${b.mean} vs ${a.mean}`);
  assert.ok(b.getValueAtPercentile(99) <= b.maxValue, 'p99 ≤ max');
}

/** What a thread's histogram became on the main thread before: encoded, sent, decoded. */
function sentTheOldWay(h: Latency['rx_to_user']): Latency['rx_to_user'] {
  return hdr.decodeFromCompressedBase64(hdr.encodeIntoCompressedBase64(h), 64, true);
}

describe('shared histogram', () => {
  before(() => initLatency());

  it('fills an hdr histogram as encoding and decoding the recorded one did, at every magnitude', () => {
    const direct = new Latency().rx_to_user;
    const drained = new Latency().rx_to_user;
    const s = new SharedHistogram();
    const rnd = mulberry32(7);
    const values = [0, 1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, 3_599_999_999_999];
    for (let i = 0; i < 100_000; i++) values.push(Math.floor(rnd() * 2 ** Math.floor(rnd() * 42)));
    for (const v of values) {
      direct.recordValue(v);
      s.recordValue(v);
      // Each value is counted in a bucket that starts at or below it, within 0.1 %.
      const low = valueAt(countsIndex(v));
      assert.ok(low <= v && v - low <= Math.max(0, v * 1e-3), `${v} counted at ${low}`);
    }
    assert.equal(s.drainInto(drained), values.length);
    same(sentTheOldWay(direct), drained);
    // Drained in pieces, the same.
    const s2 = new SharedHistogram();
    const pieces = new Latency().rx_to_user;
    values.forEach((v, i) => {
      s2.recordValue(v);
      if (i % 9973 === 0) s2.drainInto(pieces);
    });
    s2.drainInto(pieces);
    same(sentTheOldWay(direct), pieces);
  });

  it('the counts index is hdr-histogram-js\'s own', () => {
    // HdrHistogram's arithmetic, in BigInt, for the same parameters.
    const index = (v: bigint): number => {
      const pow2 = BigInt((v | 2047n).toString(2).length - 1);
      const bucket = pow2 - 10n;
      return Number(((bucket + 1n) << 10n) + (v >> bucket) - 1024n);
    };
    const rnd = mulberry32(11);
    for (let i = 0; i < 20_000; i++) {
      const v = Math.floor(rnd() * 2 ** Math.floor(rnd() * 42));
      assert.equal(countsIndex(v), index(BigInt(v)), String(v));
    }
    assert.equal(countsIndex(2 ** 45), COUNTS_LENGTH - 1, 'past the last bucket: the last');
  });

  it('drains only what is new, and counts negatives as 0', () => {
    const s = new SharedHistogram();
    const h = new Latency().rx_to_user;
    s.recordValue(500);
    s.recordValue(-3);
    assert.equal(s.drainInto(h), 2);
    assert.equal(s.drainInto(h), 0);
    s.recordValue(500);
    assert.equal(s.drainInto(h), 1);
    assert.equal(h.totalCount, 3);
    assert.equal(h.getValueAtPercentile(1), 0);
    assert.equal(h.maxValue, 500);
    assert.equal(h.getValueAtPercentile(100), 500);
  });

  it('a count that wraps past 2^32 between drains still adds up', () => {
    const s = new SharedHistogram();
    const h = new Latency().rx_to_user;
    const counts = new Uint32Array(s.buffer);
    counts[countsIndex(1000)] = 4294967290;
    s.drainInto(h);
    counts[countsIndex(1000)] = 4; // 10 more, wrapped
    assert.equal(s.drainInto(h), 10);
    assert.equal(h.totalCount, 4294967300);
  });

  it('another thread records, this one reads', async () => {
    const s = new SharedHistogram();
    const src = `
      const { workerData, parentPort } = require('node:worker_threads');
      const counts = new Uint32Array(workerData);
      // The recorder's arithmetic is tested above; here only the sharing: 1,000 values of 777.
      for (let i = 0; i < 1000; i++) counts[777]++;
      parentPort.postMessage('done');
    `;
    const w = new Worker(src, { eval: true, workerData: s.buffer });
    await new Promise((r) => w.once('message', r));
    await w.terminate();
    const h = new Latency().rx_to_user;
    assert.equal(s.drainInto(h), 1000);
    assert.equal(h.getValueAtPercentile(50), 777);
  });

  it('refuses a buffer of the wrong size', () => {
    assert.throws(() => new SharedHistogram(new SharedArrayBuffer(64)), /shared histogram is/);
  });
});
