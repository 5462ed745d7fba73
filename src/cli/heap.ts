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
 */
import { relaunchWithNodeFlags } from '../sys/relaunch.js';

export const HEAP_FLAGS = ['--heap-growing-percent=300'];

const refused = relaunchWithNodeFlags(HEAP_FLAGS);
if (refused) process.stderr.write(`xsk: running without ${HEAP_FLAGS.join(' ')} (${refused}): expect back-to-back major GCs under load\n`);
