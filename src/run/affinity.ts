/** Pin the calling thread to CPUs (sched_setaffinity through koffi; pid 0 = this thread). */
import koffi from 'koffi';
import { SysError } from '../sys/errors.js';

const setaffinity = koffi
  .load('libc.so.6')
  .func('int sched_setaffinity(int pid, size_t size, const void *mask)') as (pid: number, size: number, mask: Buffer) => number;

export function pinThread(cpus: number[]): void {
  const mask = Buffer.alloc(128); // cpu_set_t: 1024 bits
  for (const c of cpus) mask[c >> 3] |= 1 << (c & 7);
  if (setaffinity(0, mask.length, mask) !== 0) throw new SysError('sched_setaffinity', koffi.errno(), `CPUs ${cpus.join(',')}`);
}
