/**
 * The warm start compiles what the receive loop calls once a batch even when its frames did not
 * make it hot: slow traffic (a frame a batch) makes it hot only live, and V8 compiling it then
 * held the datapath thread up (run/warm.ts, compilePerBatch). A file of its own: V8's compiled
 * code is per process, and nothing may have run these functions before.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { XdpPort } from '../../src/afxdp/xdp-port.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { RxClock } from '../../src/pipeline/rx-clock.js';
import { Warmer, isOptimized } from '../../src/run/warm.js';
import type { WorkerConfig } from '../../src/run/protocol.js';

describe('warm start, per-batch functions', () => {
  it('compiles them after a warm start too short to make them hot', () => {
    const proto = XdpPort.prototype as unknown as Record<string, unknown>;
    const perBatch = [...['send', 'complete', 'recycle'].map((n) => ({ name: `XdpPort.${n}`, fn: proto[n] })), { name: 'Pipeline.endBatch', fn: Pipeline.prototype.endBatch }];
    for (const f of perBatch) assert.equal(isOptimized(f.fn), false, `${f.name} not compiled before`);
    const cfg = { kind: 'afxdp', queue: 0, ports: [9000], ringSize: 256, frameSize: 2048, batchSize: 64, busyPollUs: 50, latency: true } as WorkerConfig;
    const warmer = new Warmer({ cfg, build: () => ({ handler: new Pipeline([], { clock: new RxClock(true) }) }), hot: [] });
    // 10,000 frames: enough batches for V8 to have their feedback, too few for it to find them
    // all hot by itself (without the warm start's help, XdpPort.send was still interpreted).
    const r = warmer.run(2000, 10_000);
    assert.ok(r.frames < 12_000, JSON.stringify(r));
    for (const f of perBatch) assert.equal(isOptimized(f.fn), true, `${f.name} compiled`);
  });
});
