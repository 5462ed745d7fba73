/**
 * poll() on one socket, and on an eventfd that another thread rings to wake the poller (see
 * wake-fd.ts): the buffer of struct pollfd that both the AF_XDP and the AF_PACKET socket wait on.
 *
 *   pollfd[0]  the socket, POLLIN
 *   pollfd[1]  the wake fd, POLLIN (only once setWakeFd() gave one)
 */
import * as libc from './libc.js';
import { clearWakeFd } from './wake-fd.js';

export class PollSet {
  private readonly fds = Buffer.alloc(16);
  private n = 1;
  private wakeFd = -1;
  private readonly scratch = Buffer.alloc(8);

  /** The socket to wait on. */
  setSocket(fd: number): void {
    this.fds.writeInt32LE(fd, 0);
    this.fds.writeInt16LE(libc.POLLIN, 4);
  }

  /** Also return from wait() when `fd` (an eventfd) is rung. */
  setWakeFd(fd: number): void {
    this.wakeFd = fd;
    this.fds.writeInt32LE(fd, 8);
    this.fds.writeInt16LE(libc.POLLIN, 12);
    this.n = 2;
  }

  /**
   * Block this thread until the socket is readable (1), or the wake fd was rung or `timeoutMs`
   * passed (0). A rung wake fd is cleared.
   */
  wait(timeoutMs: number): number {
    const fds = this.fds;
    fds.writeInt16LE(0, 6);
    fds.writeInt16LE(0, 14);
    if (libc.poll(fds, this.n, timeoutMs) <= 0) return 0;
    if (this.n > 1 && fds.readInt16LE(14) !== 0) clearWakeFd(this.wakeFd, this.scratch);
    return fds.readInt16LE(6) !== 0 ? 1 : 0;
  }

  /** Wait for the socket off the event loop (koffi runs poll() on a helper thread), then `cb`. */
  waitAsync(timeoutMs: number, cb: () => void): void {
    libc.poll.async(this.fds, 1, timeoutMs, () => cb());
  }
}
