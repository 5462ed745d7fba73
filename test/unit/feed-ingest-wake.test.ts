/**
 * The main thread's feed ingest parks between bursts and is woken by the feed rings' doorbell
 * (run/feed-ring.ts). Woken thousands of times a second at full rate, the wake-up itself must
 * not leave garbage in V8's old space: with Atomics.waitAsync it did (V8's set of pending
 * waitAsync promises is reallocated in old space at each), ~0.6 MB/s of the main thread's old
 * space in the soak, which climbed to a major GC every ~30 s. Weighed in a process of its own
 * (test/helpers/feed-wake-weigh.ts), with a worker waking the ingest as a datapath thread does.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../helpers/feed-wake-weigh.ts', import.meta.url));

describe('feed ingest wake-ups', () => {
  it('20,000 wake-ups from a worker leave (next to) nothing in the main thread old space', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', script, '20000'], { encoding: 'utf8', timeout: 90_000 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { n: number; fed: number; wakeups: number; old_space_grown: number };
    assert.equal(r.fed, r.n, 'every datagram reached the feed');
    assert.ok(r.wakeups >= r.n - 1, `woken ${r.wakeups} times for ${r.n} datagrams`);
    // Atomics.waitAsync left ~2.5 MB over as many wake-ups.
    assert.ok(r.old_space_grown < 512 * 1024, `old space grew ${(r.old_space_grown / 1024).toFixed(0)} KiB over ${r.n} wake-ups`);
  });
});
