/**
 * poll() on one socket, and on an eventfd that another thread rings to wake the poller (see
 * wake-fd.ts): the buffer of struct pollfd that both the AF_XDP and the AF_PACKET socket wait on.
 *
 *   pollfd[0]  the socket, POLLIN
 *   pollfd[1]  the wake fd, POLLIN (only once setWakeFd() gave one)
 */
import * as libc from './libc.js';
import { park } from './park.js';
import { clearWakeFd } from './wake-fd.js';

export class PollSet {
  private readonly fds = Buffer.alloc(16);
  /**
   * The same 16 bytes as 16-bit words, for revents ([3] the socket's, [7] the wake fd's): a typed
   * array read is inlined where it is used, where Buffer's readInt16LE is a function of its own
   * that V8 compiled only once sparse traffic (a park per frame) had made it hot, live.
   */
  private readonly words = new Int16Array(this.fds.buffer, this.fds.byteOffset, 8);
  private n = 1;
  private wakeFd = -1;
  private readonly scratch = Buffer.alloc(8);
  /** The fds' id in the park addon, which then makes the poll() (sys/park.ts says why); -1: koffi does. */
  private readonly parkId = park ? park.watch(new Uint8Array(this.fds.buffer, this.fds.byteOffset, this.fds.length)) : -1;

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
    const w = this.words;
    w[3] = 0;
    w[7] = 0;
    const r = this.parkId >= 0 ? park!.wait(this.parkId, this.n, timeoutMs) : libc.poll(this.fds, this.n, timeoutMs);
    if (r <= 0) return 0;
    if (this.n > 1 && w[7] !== 0) clearWakeFd(this.wakeFd, this.scratch);
    return w[3] !== 0 ? 1 : 0;
  }

  /** Wait for the socket off the event loop (koffi runs poll() on a helper thread), then `cb`. */
  waitAsync(timeoutMs: number, cb: () => void): void {
    libc.poll.async(this.fds, 1, timeoutMs, () => cb());
  }
}
