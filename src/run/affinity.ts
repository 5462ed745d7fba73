/**
 * CPU affinity (sched_setaffinity through koffi): pin a datapath thread to its CPUs, and keep
 * every other thread of the process (the main thread, V8's compiler and GC helpers, libuv's pool)
 * off them. A helper thread that lands on a datapath CPU takes it for milliseconds at a time (a
 * concurrent compile job, a GC task): ftrace showed one preempt the datapath thread for 2.5 ms in
 * the middle of a burst, while its RX ring filled.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import koffi from 'koffi';
import { libc } from '../sys/libc.js';
import { SysError } from '../sys/errors.js';

const setaffinity = libc.func('int sched_setaffinity(int pid, size_t size, const void *mask)') as (pid: number, size: number, mask: Buffer) => number;
const getaffinity = libc.func('int sched_getaffinity(int pid, size_t size, _Out_ void *mask)') as (pid: number, size: number, mask: Buffer) => number;

function mask(cpus: number[]): Buffer {
  const m = Buffer.alloc(128); // cpu_set_t: 1024 bits
  for (const c of cpus) m[c >> 3] |= 1 << (c & 7);
  return m;
}

/** Pin the calling thread to `cpus`. */
export function pinThread(cpus: number[]): void {
  if (setaffinity(0, 128, mask(cpus)) !== 0) throw new SysError('sched_setaffinity', koffi.errno(), `CPUs ${cpus.join(',')}`);
}

const scratch = Buffer.alloc(128);

/**
 * Whether thread `tid` may run on any of `cpus` (its affinity mask today: someone may have
 * moved it since start, as `taskset` does). False if it can't be read (it exited).
 */
export function mayRunOn(tid: number, cpus: number[]): boolean {
  if (getaffinity(tid, 128, scratch) < 0) return false;
  return cpus.some((c) => (scratch[c >> 3] & (1 << (c & 7))) !== 0);
}

/** The calling thread's id (its /proc/self/task entry). */
export function threadId(): number {
  return Number(readlinkSync('/proc/thread-self').split('/').pop());
}

/**
 * Move every thread of this process but `keep` off `reserved` (onto the other CPUs). Threads
 * created later inherit the main thread's mask, so they stay off too. Does nothing when no CPU
 * would be left; returns the CPUs the others now run on.
 */
export function keepOthersOff(reserved: number[], keep: number[]): number[] {
  const others = Array.from({ length: availableParallelism() }, (_, i) => i).filter((c) => !reserved.includes(c));
  if (others.length === 0) return [];
  const m = mask(others);
  for (const t of readdirSync('/proc/self/task')) {
    const tid = Number(t);
    if (keep.includes(tid)) continue;
    setaffinity(tid, 128, m); // a thread that has just exited is fine to miss
  }
  return others;
}
