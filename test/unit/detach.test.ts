/**
 * util/detach.ts: a WebAssembly memory that grows detaches its old buffer, and V8 then throws
 * away every compiled function that relied on no buffer ever being detached. Each case runs in
 * a fresh isolate (a worker): warm a typed-array function until V8 compiles it, build
 * hdr-histogram-js histograms (their WebAssembly memory grows), and see whether it is still
 * compiled. Without settleArrayBufferDetaching() first it is not; with it, it is.
 */
import { it, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

const DETACH = fileURLToPath(new URL('../../src/util/detach.ts', import.meta.url));

function inFreshIsolate(settleFirst: boolean): Promise<{ before: boolean; after: boolean }> {
  const src = `
    const v8 = require('node:v8');
    const { parentPort, workerData } = require('node:worker_threads');
    v8.setFlagsFromString('--allow-natives-syntax');
    const optimized = new Function('f', 'return (%GetOptimizationStatus(f) & 16) !== 0');
    (async () => {
      if (workerData.settleFirst) {
        // What util/detach.ts does (this worker runs plain JavaScript).
        const b = new ArrayBuffer(8);
        structuredClone(b, { transfer: [b] });
      }
      const hdr = require('hdr-histogram-js');
      await hdr.initWebAssembly();
      const u8 = new Uint8Array(4096);
      function sum(a) { let s = 0; for (let i = 0; i < a.length; i++) s = (s + a[i]) | 0; return s; }
      for (let i = 0; i < 20000 && !optimized(sum); i++) sum(u8);
      const before = optimized(sum);
      const hs = [];
      for (let i = 0; i < 8; i++) hs.push(hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3.6e12, numberOfSignificantValueDigits: 3, useWebAssembly: true }));
      parentPort.postMessage({ before, after: optimized(sum) });
    })();
  `;
  const w = new Worker(src, { eval: true, workerData: { settleFirst } });
  return new Promise((resolve, reject) => {
    w.once('message', (m) => {
      void w.terminate();
      resolve(m);
    });
    w.once('error', reject);
  });
}

describe('ArrayBuffer detaching, settled before warming', () => {
  it('detach.ts does what the workers below do', async () => {
    const { settleArrayBufferDetaching } = await import(DETACH);
    assert.doesNotThrow(() => settleArrayBufferDetaching());
  });

  it('without it, growing a histogram memory throws warm code away', async () => {
    const r = await inFreshIsolate(false);
    assert.equal(r.before, true, 'warmed');
    assert.equal(r.after, false, 'thrown away by the first detach');
  });

  it('with it, warm code stays compiled', async () => {
    const r = await inFreshIsolate(true);
    assert.equal(r.before, true, 'warmed');
    assert.equal(r.after, true, 'still compiled');
  });
});
