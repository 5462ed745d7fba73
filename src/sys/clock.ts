/**
 * CLOCK_MONOTONIC for the datapath thread's loops, read without allocating on V8's heap.
 *
 * Why not performance.now(): it returns a double, and where V8 does not inline it into its
 * caller (it did not into BlockingLoop.run, nor into a ten-line loop) the result is boxed in a
 * new 16-byte HeapNumber at every call. The datapath's loop reads the clock once per round and
 * once per busy-poll spin, ~300,000 times a second when idle: megabytes a second, a scavenge
 * every second or two. A scavenge is parallel: the datapath thread then waits (Join) for V8's
 * helper threads, which run on the other CPUs at nice 10 (sched.ts, affinity.ts). With those
 * CPUs busy (the generator and its softirqs, in the rate bench), ftrace showed the datapath
 * thread asleep in that wait for 4-18 ms at a time while its RX ring overflowed: 100,000-300,000
 * frames lost per scavenge.
 *
 * So: clock_gettime into preallocated memory (one native call, ~50-100 ns here, and no
 * V8 allocation: 0 scavenges over 6 M reads, where performance.now() gave 156), and the result
 * left in a Float64Array for the caller to read: a function returning the double would box it
 * again wherever it is not inlined. Usage:
 *
 *     tick(); const now = clock[0];   // ms
 */
import { libc } from './libc.js';
import { park } from './park.js';

const CLOCK_MONOTONIC = 1;
const clock_gettime = libc.func('int clock_gettime(int clk, _Out_ void *ts)') as (clk: number, ts: Int32Array) => number;

/** struct timespec on 64-bit Linux: tv_sec (int64), tv_nsec (long): 4 int32 words, little-endian. */
const ts = new Int32Array(4);

/** The last reading by tick(): [0] CLOCK_MONOTONIC in ms, [1] the same in whole ns. */
export const clock = new Float64Array(2);

/** tick() through koffi: the fallback without the park addon (sys/park.ts). */
export function koffiTick(): void {
  clock_gettime(CLOCK_MONOTONIC, ts);
  // tv_sec fits 32 bits for 68 years of uptime; ts[1] (its high word) is 0 until then.
  const sec = ts[0] >>> 0;
  const nsec = ts[2];
  clock[0] = sec * 1e3 + nsec / 1e6;
  clock[1] = sec * 1e9 + nsec;
}

if (park) park.clock(clock);

/**
 * Read CLOCK_MONOTONIC into `clock`. Allocates nothing. The park addon's when there is one:
 * the datapath reads the clock right after a wake-up, where a koffi call costs ~15 µs (park.ts).
 */
export const tick: () => void = park ? park.tick : koffiTick;
