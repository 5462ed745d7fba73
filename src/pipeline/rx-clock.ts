/**
 * When each frame was received. The XDP program (bpf/xsk_redirect.c, struct xsk_meta) stamps
 * the 16 bytes in front of a redirected frame: u64 bpf_ktime_get_ns() (CLOCK_MONOTONIC, the
 * clock process.hrtime reads), then a u32 magic word. AF_XDP copies that metadata area into the
 * UMEM right before the frame. A stamp is consumed (its magic cleared) when read, so a frame
 * that arrives without one is never given a stale time: it gets the batch's userspace time.
 */
import { META_MAGIC, META_SIZE } from '../xdp/meta.js';
import { performance } from 'node:perf_hooks'; // not the global: a lazy accessor (see blocking-loop.ts)

export { META_MAGIC, META_SIZE };

export class RxClock {
  /** CLOCK_MONOTONIC ns at the start of the current batch. */
  batchNs = 0;
  stamped = 0;
  unstamped = 0;

  constructor(
    /** Whether the port puts the XDP metadata in front of frames (AF_XDP does; AF_PACKET not). */
    readonly hasMeta: boolean,
  ) {}

  /** performance.now() reads the same monotonic clock as process.hrtime, without a BigInt. */
  private readonly offsetNs = clockOffsetNs();

  /** CLOCK_MONOTONIC in ns, allocation-free (sub-microsecond resolution). */
  now(): number {
    // Whole ns, as the kernel's stamps are (a fraction would show in feed headers and fields).
    return Math.floor(performance.now() * 1e6 + this.offsetNs);
  }

  beginBatch(): void {
    this.batchNs = this.now();
  }

  /** The frame's receive time in ns: the kernel's stamp when there is one, else the batch time. */
  frameTime(buf: Uint8Array, off: number): number {
    const m = off - META_SIZE;
    if (this.hasMeta && m >= 0) {
      const magic = (buf[m + 8] | (buf[m + 9] << 8) | (buf[m + 10] << 16) | (buf[m + 11] << 24)) >>> 0;
      if (magic === META_MAGIC) {
        buf[m + 8] = 0;
        const lo = (buf[m] | (buf[m + 1] << 8) | (buf[m + 2] << 16) | (buf[m + 3] << 24)) >>> 0;
        const hi = (buf[m + 4] | (buf[m + 5] << 8) | (buf[m + 6] << 16) | (buf[m + 7] << 24)) >>> 0;
        this.stamped++;
        return hi * 4294967296 + lo;
      }
    }
    this.unstamped++;
    return this.batchNs;
  }
}

/**
 * CLOCK_MONOTONIC ns minus performance.now() ns. The first performance.now() call initialises
 * itself (about a millisecond here), so warm it up, then take the tightest of a few
 * hrtime-between-two-reads brackets.
 */
function clockOffsetNs(): number {
  performance.now();
  let best = Infinity;
  let offset = 0;
  for (let i = 0; i < 20; i++) {
    const a = performance.now();
    const h = Number(process.hrtime.bigint());
    const b = performance.now();
    if (b - a < best) {
      best = b - a;
      offset = h - ((a + b) / 2) * 1e6;
    }
  }
  return offset;
}
