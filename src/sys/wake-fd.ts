/**
 * An eventfd that lets one thread wake another that is blocked in poll(): the datapath thread
 * polls it next to its socket; the control plane rings it after posting a message. The control
 * plane creates and closes it (after the thread has exited), so a ring never lands on an fd
 * number that something else has reused.
 */
import koffi from 'koffi';
import * as libc from './libc.js';
import { SysError } from './errors.js';

const ONE = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);

export function createWakeFd(): number {
  const fd = libc.eventfd(0, libc.EFD_CLOEXEC | libc.EFD_NONBLOCK);
  if (fd < 0) throw new SysError('eventfd', koffi.errno());
  return fd;
}

export function ringWakeFd(fd: number): void {
  libc.write(fd, ONE, 8);
}

/** Clear a rung eventfd (non-blocking: nothing to read is fine). */
export function clearWakeFd(fd: number, scratch: Buffer): void {
  libc.read(fd, scratch, 8);
}

export function closeWakeFd(fd: number): void {
  libc.close(fd);
}
