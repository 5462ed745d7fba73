/** Move this process's main thread into a named network namespace (for tests that open sockets there). */
import koffi from 'koffi';
import { openSync, closeSync } from 'node:fs';

const CLONE_NEWNET = 0x40000000;
const setnsFn = koffi.load('libc.so.6').func('int setns(int fd, int nstype)') as (fd: number, t: number) => number;

function setnsTo(path: string): void {
  const fd = openSync(path, 'r');
  try {
    if (setnsFn(fd, CLONE_NEWNET) !== 0) throw new Error(`setns(${path}) failed: errno ${koffi.errno()}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Enter `/run/netns/<name>`; returns the function that goes back to where the thread was. Go
 * back before deleting the namespace: `ip netns del` run from inside it cannot remove it.
 */
export function enterNetns(name: string): () => void {
  const home = openSync('/proc/self/ns/net', 'r');
  setnsTo(`/run/netns/${name}`);
  return () => {
    try {
      if (setnsFn(home, CLONE_NEWNET) !== 0) throw new Error(`setns(back) failed: errno ${koffi.errno()}`);
    } finally {
      closeSync(home);
    }
  };
}
