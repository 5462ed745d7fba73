/**
 * bench/wake-cost.ts's xsk reader: the datapath's own wait and clock (sys/poll-set.ts's PollSet,
 * sys/clock.ts's tick(): the park addon, or koffi with XSK_PARK_ADDON=0). As the datapath does,
 * it first runs that code hot until V8 has compiled it (on an eventfd rung before each wait, so
 * each returns at once); then prints "ready", waits a second (the bench starts its trace), and
 * COUNT times sleeps in the wait for GAP_MS (on an eventfd never rung: it times out) and reads
 * the clock as soon as the wait returns. Prints one JSON array of the clock readings (ns).
 *   node --import tsx bench/lib/wake-reader.ts COUNT GAP_MS
 */
import { PollSet } from '../../src/sys/poll-set.js';
import { clock, tick } from '../../src/sys/clock.js';
import { createWakeFd, ringWakeFd } from '../../src/sys/wake-fd.js';

const count = Number(process.argv[2]);
const gap = Number(process.argv[3]);
if (!(Number.isInteger(count) && count >= 1 && count <= 100000 && Number.isInteger(gap) && gap >= 1 && gap <= 1000)) {
  process.stderr.write('usage: wake-reader.ts COUNT (1..100000) GAP_MS (1..1000)\n');
  process.exit(2);
}
const at = new Float64Array(count);

/** One wait on `set` of up to `timeoutMs`, and the clock right after, into at[i]. */
function once(set: PollSet, timeoutMs: number, i: number): void {
  set.wait(timeoutMs);
  tick();
  at[i] = clock[1];
}
const rung = createWakeFd();
const warm = new PollSet();
warm.setSocket(rung);
ringWakeFd(rung); // never read: readable for good
for (let i = 0; i < 50_000; i++) once(warm, 0, 0);

const quiet = new PollSet();
quiet.setSocket(createWakeFd());
process.stdout.write('ready\n');
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
for (let i = 0; i < count; i++) once(quiet, gap, i);
process.stdout.write(JSON.stringify(Array.from(at)) + '\n');
