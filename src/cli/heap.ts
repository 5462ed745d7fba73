/**
 * V8 heap settings for xsk's CLIs, given on node's command line by starting again in place
 * (sys/relaunch.ts) before anything else loads. Import this module first.
 *
 * --initial-old-space-size=64 (MB): a floor under V8's old-generation limit. Without it, the
 * control plane under a busy feed collected its old generation back to back: the live heap is
 * small (~16 MB) and V8 sets each next limit only a few MB above it, so incremental marking
 * began again ~100-300 ms after each mark-compact ("Start (task)", --trace-incremental-marking).
 * In a soak at the generator's full rate that was ~95 mark-compacts in 15 s on the main thread
 * (each 2-20 ms of pause, and V8's marking threads taking the other CPU); with the floor, none
 * after start-up. It is a limit, not memory taken: the heap grows only as far as it is used, up
 * to the floor before it is collected. Worker threads (the datapath) get it too.
 */
import { relaunchWithNodeFlags } from '../sys/relaunch.js';

export const HEAP_FLAGS = ['--initial-old-space-size=64'];

const refused = relaunchWithNodeFlags(HEAP_FLAGS);
if (refused) process.stderr.write(`xsk: running without ${HEAP_FLAGS.join(' ')} (${refused}): expect back-to-back major GCs under load\n`);
