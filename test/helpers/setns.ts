/** Move this process's main thread into a named network namespace (for tests that open sockets there). */
import koffi from 'koffi';
import { openSync, closeSync } from 'node:fs';

const CLONE_NEWNET = 0x40000000;
const setnsFn = koffi.load('libc.so.6').func('int setns(int fd, int nstype)') as (fd: number, t: number) => number;

export function enterNetns(name: string): void {
  const fd = openSync(`/run/netns/${name}`, 'r');
  try {
    if (setnsFn(fd, CLONE_NEWNET) !== 0) throw new Error(`setns(${name}) failed: errno ${koffi.errno()}`);
  } finally {
    closeSync(fd);
  }
}
