/**
 * When each frame was received. The XDP program (bpf/xsk_redirect.c, struct xsk_meta) stamps
 * the 16 bytes in front of a redirected frame: u64 bpf_ktime_get_ns() (CLOCK_MONOTONIC, the
 * clock process.hrtime reads), then a u32 magic word. AF_XDP copies that metadata area into the
 * UMEM right before the frame. A stamp is consumed (its magic cleared) when read, so a frame
 * that arrives without one is never given a stale time: it gets the batch's userspace time.
 */
import { META_MAGIC, META_SIZE } from '../xdp/meta.js';
import { clock, tick } from '../sys/clock.js';

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

  /** CLOCK_MONOTONIC in whole ns, as the kernel's stamps are (sys/clock.ts). */
  now(): number {
    tick();
    return clock[1];
  }

  /** Once per batch on the datapath: the time goes into a field, so nothing is boxed. */
  beginBatch(): void {
    tick();
    this.batchNs = clock[1];
  }

  /**
   * The last readFrameTime()'s result. A typed array, not a return value: a time in ns is a
   * double past 2^31, and one returned from a call V8 did not inline is boxed, 16 bytes a frame
   * (test/unit/hot-path-alloc.test.ts caught it in about one compilation in six).
   */
  readonly frameNs = new Float64Array(1);

  /**
   * The frame's receive time in ns, into frameNs[0]: the kernel's stamp when there is one (then
   * true), else the batch time (false).
   */
  readFrameTime(buf: Uint8Array, off: number): boolean {
    const m = off - META_SIZE;
    if (this.hasMeta && m >= 0) {
      const magic = (buf[m + 8] | (buf[m + 9] << 8) | (buf[m + 10] << 16) | (buf[m + 11] << 24)) >>> 0;
      if (magic === META_MAGIC) {
        buf[m + 8] = 0;
        const lo = (buf[m] | (buf[m + 1] << 8) | (buf[m + 2] << 16) | (buf[m + 3] << 24)) >>> 0;
        const hi = (buf[m + 4] | (buf[m + 5] << 8) | (buf[m + 6] << 16) | (buf[m + 7] << 24)) >>> 0;
        this.stamped++;
        this.frameNs[0] = hi * 4294967296 + lo;
        return true;
      }
    }
    this.unstamped++;
    this.frameNs[0] = this.batchNs;
    return false;
  }
}
