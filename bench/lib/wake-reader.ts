/**
 * bench/wake-cost.ts's xsk reader: the datapath's own wait and clock (sys/poll-set.ts's PollSet,
 * sys/clock.ts's tick(): the park addon, or koffi with XSK_PARK_ADDON=0) on fd 3, a socket its
 * parent writes to. As the datapath does, it first runs that code hot until V8 has compiled it;
 * then, for each message: wait, read the clock as soon as the wait returns, then read the message
 * (the writer's CLOCK_MONOTONIC ns, 8 bytes little-endian). Prints "ready" when it waits for the
 * first, and at the end one JSON array: reader's clock - writer's, in ns, per message.
 *   node --import tsx bench/lib/wake-reader.ts COUNT
 */
import { PollSet } from '../../src/sys/poll-set.js';
import { clock, tick } from '../../src/sys/clock.js';
import * as libc from '../../src/sys/libc.js';
import { createWakeFd, ringWakeFd } from '../../src/sys/wake-fd.js';

const count = Number(process.argv[2]);
if (!(Number.isInteger(count) && count >= 1 && count <= 100000)) {
  process.stderr.write('usage: wake-reader.ts COUNT (1..100000)\n');
  process.exit(2);
}
const FD = 3;
const p = new PollSet();
p.setSocket(FD);
const msg = Buffer.alloc(8);
const lat = new Float64Array(count);

/** One message on `fd`: its latency in ns, or -1 when none came within `timeoutMs`. */
function once(set: PollSet, fd: number, timeoutMs: number): number {
  if (set.wait(timeoutMs) !== 1) return -1;
  tick();
  const now = clock[1];
  if (libc.read(fd, msg, 8) !== 8) return -1;
  return now - Number(msg.readBigInt64LE(0));
}
// Hot first, through the same function: an eventfd rung before each call is always readable.
const warmFd = createWakeFd();
const warm = new PollSet();
warm.setSocket(warmFd);
for (let i = 0; i < 50_000; i++) {
  ringWakeFd(warmFd);
  once(warm, warmFd, 0);
}
process.stdout.write('ready\n');
for (let i = 0; i < count; i++) {
  const l = once(p, FD, 10_000);
  if (l < 0) {
    process.stderr.write(`wake-reader: no message ${i} within 10 s\n`);
    process.exit(1);
  }
  lat[i] = l;
}
process.stdout.write(JSON.stringify(Array.from(lat)) + '\n');
