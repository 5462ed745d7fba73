/**
 * The datapath thread's scheduling (--datapath-sched): how soon a frame's wakeup gets it a CPU.
 *
 * A datapath thread shares its CPU with whatever the kernel puts there: xsk's own main thread,
 * but also other processes' threads (a feed subscriber's V8 compiler and GC helpers, migrated to
 * the idle CPU). Under EEVDF, a thread woken by a frame waits until the running one ends its
 * slice; with HZ=250 that is checked at the next tick, so it can wait 4 ms. ftrace showed exactly
 * that in the feed bench: a subscriber's helper thread migrated onto the datapath CPU and held it
 * 1.5-3 ms while the woken datapath thread waited and its frames aged.
 *
 * 'latency' asks the kernel for what a latency-sensitive thread needs, with one sched_setattr:
 *  - a 100 µs slice (SCHED_OTHER's sched_runtime, kernel 6.12+; older kernels ignore it). EEVDF
 *    lets a waking thread with a shorter slice preempt the running one at once;
 *  - nice -10 (weight ~9x), so that a thread which busy-polls still has lag to spend and is
 *    eligible when it wakes.
 * It needs CAP_SYS_NICE for the negative nice (root has it); without it the caller says so.
 * The process's helper threads go the other way, to nice 10 (lowerHelperThreads), so that a
 * major GC's concurrent marking does not hold up other processes' threads either.
 */
import { readdirSync } from 'node:fs';
import koffi from 'koffi';
import { libc } from '../sys/libc.js';
import { SysError } from '../sys/errors.js';

export type DatapathSched = 'latency' | 'normal';

/** The settings 'latency' asks for. */
export const LATENCY_NICE = -10;
export const LATENCY_SLICE_NS = 100_000;

const SCHED_OTHER = 0;
/** sched_setattr / sched_getattr: not in glibc 2.36's headers, called through syscall(2). */
const SYSCALLS: Partial<Record<NodeJS.Architecture, { set: number; get: number }>> = {
  x64: { set: 314, get: 315 },
  arm64: { set: 274, get: 275 },
};
/** struct sched_attr, SCHED_ATTR_SIZE_VER0: size, policy, flags (u64), nice, priority, runtime, deadline, period (u64). */
const ATTR_SIZE = 48;

const syscallSet = libc.func('long syscall(long n, int pid, const void *attr, unsigned int flags)') as (n: number, pid: number, attr: Buffer, flags: number) => number;
const syscallGet = libc.func('long syscall(long n, int pid, _Out_ void *attr, unsigned int size, unsigned int flags)') as (
  n: number,
  pid: number,
  attr: Buffer,
  size: number,
  flags: number,
) => number;

export interface ThreadSched {
  nice: number;
  /** The thread's slice in ns (0: the kernel's default). */
  sliceNs: number;
}

/** This architecture's number for sched_setattr ('set') or sched_getattr ('get'). */
function syscallNumber(which: 'set' | 'get'): number {
  const nr = SYSCALLS[process.arch];
  if (nr === undefined) throw new SysError(`sched_${which}attr`, 38 /* ENOSYS */, `no syscall number for ${process.arch}`);
  return nr[which];
}

/** The calling thread's nice and slice (or thread `tid`'s). */
export function threadSched(tid = 0): ThreadSched {
  const a = Buffer.alloc(ATTR_SIZE);
  if (syscallGet(syscallNumber('get'), tid, a, ATTR_SIZE, 0) !== 0) throw new SysError('sched_getattr', koffi.errno());
  return { nice: a.readInt32LE(16), sliceNs: Number(a.readBigUInt64LE(24)) };
}

/**
 * Give the calling thread the 'latency' settings. Returns what it has afterwards; throws a
 * SysError (EPERM without CAP_SYS_NICE) and leaves the thread as it was if the kernel refuses.
 */
export function prioritizeThread(nice = LATENCY_NICE, sliceNs = LATENCY_SLICE_NS): ThreadSched {
  const nr = syscallNumber('set');
  const a = Buffer.alloc(ATTR_SIZE);
  a.writeUInt32LE(ATTR_SIZE, 0);
  a.writeUInt32LE(SCHED_OTHER, 4);
  a.writeInt32LE(nice, 16);
  a.writeBigUInt64LE(BigInt(sliceNs), 24);
  if (syscallSet(nr, 0, a, 0) !== 0) throw new SysError('sched_setattr', koffi.errno(), `nice ${nice}, ${sliceNs / 1000} µs slice`);
  return threadSched();
}

/**
 * At a datapath thread's start: 'latency' raises it (prioritizeThread), 'normal' leaves it. Returns
 * what the thread runs with, or the kernel's refusal as text, for the main thread to log.
 */
export function applySched(mode: DatapathSched): ThreadSched | { error: string } {
  try {
    return mode === 'latency' ? prioritizeThread() : threadSched();
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** The nice 'latency' gives the process's other threads: V8's compiler and GC workers, libuv's pool. */
export const HELPER_NICE = 10;

const setpriority = libc.func('int setpriority(int which, int who, int prio)') as (which: number, who: number, prio: number) => number;
const PRIO_PROCESS = 0;

/**
 * Lower every thread of this process but `keep` (the main thread and the datapath threads) to
 * nice HELPER_NICE: V8's helper threads run the main thread's concurrent GC marking and
 * compilation jobs, and at nice 0 they took a whole CPU for ~8 ms at each major GC, from the
 * feed's own subscriber and the sender on that CPU (the feed bench: a burst of ~1,000 messages
 * more than 1 ms late per major GC). Threads made later inherit their creator's nice (libuv's
 * pool starts its threads at first use). Returns how many threads were lowered. (The feed bench
 * puts its own harness's helpers at nice 19 with it.)
 */
export function lowerHelperThreads(keep: number[], nice = HELPER_NICE): number {
  let n = 0;
  for (const t of readdirSync('/proc/self/task')) {
    const tid = Number(t);
    if (keep.includes(tid)) continue;
    if (setpriority(PRIO_PROCESS, tid, nice) === 0) n++; // a thread that has just exited is fine to miss
  }
  return n;
}

/** One line for the log: what a datapath thread runs with. */
export function describeSched(s: ThreadSched): string {
  return `nice ${s.nice}, ${s.sliceNs > 0 ? `${s.sliceNs / 1000} µs slice` : "the kernel's default slice"}`;
}
