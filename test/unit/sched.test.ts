/**
 * --datapath-sched: a datapath thread raises itself (nice -10, a 100 µs slice) and only itself;
 * 'normal' leaves it as it is; without CAP_SYS_NICE the kernel's refusal comes back as text
 * naming the call and errno (the runner logs it as a warning), and the thread is unchanged.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { spawnSync } from 'node:child_process';
import { LATENCY_NICE, LATENCY_SLICE_NS, threadSched } from '../../src/run/sched.js';

// The built module (npm test builds first): a worker thread and a child get no TypeScript loader.
const SCHED = new URL('../../dist/run/sched.js', import.meta.url).href;

/** Run applySched(mode) in a fresh worker thread; what it returned, and what that thread then has. */
function inWorker(mode: string): Promise<{ applied: unknown; after: { nice: number; sliceNs: number } }> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.url).then((m) => parentPort.postMessage({ applied: m.applySched(workerData.mode), after: m.threadSched() }));
  `;
  const w = new Worker(code, { eval: true, workerData: { url: SCHED, mode } });
  return new Promise((resolve, reject) => {
    w.once('message', (m) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

describe('datapath thread scheduling', () => {
  it("'latency' gives the calling thread nice -10 and a 100 µs slice, and no other thread", async () => {
    const before = threadSched();
    const r = await inWorker('latency');
    assert.deepEqual(r.applied, { nice: LATENCY_NICE, sliceNs: LATENCY_SLICE_NS });
    assert.deepEqual(r.after, { nice: LATENCY_NICE, sliceNs: LATENCY_SLICE_NS });
    assert.deepEqual(threadSched(), before, 'the test thread is untouched');
  });

  it("'normal' leaves the thread as the kernel made it", async () => {
    const r = await inWorker('normal');
    assert.deepEqual(r.applied, r.after);
    assert.equal(r.after.nice, threadSched().nice);
  });

  it('without CAP_SYS_NICE: the refusal as text, the thread unchanged', () => {
    const script = `import('${SCHED}').then((m) => console.log(JSON.stringify({ applied: m.applySched('latency'), after: m.threadSched() })))`;
    const r = spawnSync('setpriv', ['--bounding-set', '-sys_nice', '--inh-caps', '-sys_nice', '--', process.execPath, '-e', script], {
      encoding: 'utf8',
      timeout: 20000,
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.match(out.applied.error, /sched_setattr: EPERM/);
    assert.equal(out.after.nice, 0);
    assert.notEqual(out.after.sliceNs, LATENCY_SLICE_NS, 'the slice is not set either');
  });
});
