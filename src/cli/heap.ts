/**
 * V8 heap settings for xsk's CLIs, given on node's command line by starting again in place
 * (sys/relaunch.ts) before anything else loads. Import this module first.
 *
 * --heap-growing-percent=300: after each mark-compact, V8's next old-generation limit is 4x what
 * survived. By default it set that limit only a few MB above the control plane's small live heap
 * (~16 MB), and V8 begins incremental marking as soon as the room left under the limit is less
 * than the young generation's capacity (2 x 16 MB): under a busy feed, marking began again
 * 100-300 ms after every mark-compact ("Start (task)" in --trace-incremental-marking). In soaks
 * at the generator's full rate the main thread ran ~10 mark-compacts a second by default (928
 * in 90 s; each a 2-20 ms pause, with V8's marking threads on the other CPU). In 1.5-minute
 * soaks: a 64 MB initial limit (--initial-old-space-size) spared only the first ~20 s (57);
 * 3x growth, 53 (its 32 MB of room is no more than the young generation); 4x, 6, three of them
 * before traffic. It is a limit, not memory taken: the old generation may grow to 4x its live
 * size (here ~64 MB) before it is collected. Worker threads (the datapath) get it too.
 *
 * --min-semi-space-size=16: the main thread's young generation starts at, and stays at, its
 * default maximum (16 MB semi-spaces, 32 MB committed), and is made resident at once
 * (touchYoungGeneration). V8 otherwise shrinks it to 1 MB at a major GC and grows it back by
 * doubling as the feed allocates. That did two things in 3-4 minute soaks at the generator's
 * full rate:
 *  - RSS swung 20-30 MiB with it (--trace-gc-verbose showed the steps);
 *  - after a major GC, with a 1 MB young generation scavenged many times a second, short-lived
 *    objects that hold native memory (stream writes, HTTP/2 and gRPC wrappers) were promoted
 *    before they died, and their C++ halves lived on until the next major GC: the malloc heap
 *    ([heap] in /proc/PID/smaps) grew from 87 to 290 MB in 80 s, V8's heap and external memory
 *    flat. Pinned, [heap] stayed at 79.5 MB and RSS was flat over the window.
 * Touched at start, the 32 MB cost is there from the first second, not added under load (a
 * test's RSS bound once saw it arrive). The datapath threads get a small fixed young generation
 * of their own (run/pool.ts: they allocate next to nothing per packet).
 *
 * --no-memory-reducer: V8's memory reducer starts a compacting mark-compact ("Mark-Compact
 * (reduce)" in --trace-gc) on an isolate that has gone quiet, to give memory back. A datapath
 * thread is quiet by design (it allocates next to nothing), and each got two of them ~8-12 s
 * after it started: 1.7-3.7 ms each, on the datapath thread itself, while frames that arrived
 * waited (a sparse run's p99 of 1.05 ms in bench/burst.ts; 3.7 ms of a 0.7 Mpps burst is ~2,600
 * frames, more than the default 2,048-entry RX ring holds). The flag is process-wide: the main
 * thread no longer hands memory back when it goes idle either; its ordinary collections
 * (allocation limits) are unchanged.
 */
import v8 from 'node:v8';
import { relaunchWithNodeFlags } from '../sys/relaunch.js';

export const HEAP_FLAGS = ['--heap-growing-percent=300', '--min-semi-space-size=16', '--no-memory-reducer'];

const refused = relaunchWithNodeFlags(HEAP_FLAGS);
if (refused) process.stderr.write(`xsk: running without ${HEAP_FLAGS.join(' ')} (${refused}): expect back-to-back major GCs under load\n`);

/**
 * Allocates short-lived garbage worth 2.5 semi-spaces, so that V8 scavenges at least twice and
 * both semi-spaces have been written: resident from now on. ~30 ms at start (28 measured).
 */
export function touchYoungGeneration(): void {
  const semi = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  const keep: unknown[] = new Array(8).fill(null); // stored, so the allocations cannot be optimized away
  for (let bytes = 0, i = 0; bytes < 2.5 * semi; bytes += 4096, i++) keep[i & 7] = new Array(500).fill(0);
}

if (!refused) touchYoungGeneration();
