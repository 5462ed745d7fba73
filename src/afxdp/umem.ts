/**
 * UMEM: the packet buffer area shared by an AF_XDP socket and the kernel.
 *
 *     +---------+---------+---------+-----   ---+---------+
 *     | frame 0 | frame 1 | frame 2 |   ...     | frame N-1|     N * frameSize bytes, page aligned
 *     +---------+---------+---------+-----   ---+---------+
 *     ^ addr 0   ^ addr frameSize                             (an address is a byte offset)
 *
 * Every frame is owned by exactly one party at a time: the free pool here, the FILL ring, the
 * kernel (between FILL and RX, or TX and COMPLETION), or the handler between RX and its verdict.
 * In aligned mode (the only one used) the kernel puts received data at
 * frame base + XDP_PACKET_HEADROOM + headroom, so the base of any address inside a frame is
 * `addr & ~(frameSize - 1)` (frameSize is a power of two).
 *
 * The memory is mmap'd anonymously through koffi (hugepages on request) and seen through one
 * Uint8Array for the process's lifetime; frames are parsed in place, never copied.
 */
import koffi from 'koffi';
import * as libc from '../sys/libc.js';
import { SysError } from '../sys/errors.js';

export interface UmemOptions {
  frameCount: number;
  frameSize: number;
  hugepages?: boolean;
  /** Ordinary memory instead of a mapping (no socket can use it: the warm start's simulation). */
  simulated?: boolean;
}

export class Umem {
  readonly ptr: bigint;
  readonly length: number;
  readonly bytes: Uint8Array;
  readonly frameSize: number;
  readonly frameCount: number;
  readonly frameMask: number;
  private readonly pool: Uint32Array;
  private poolTop = 0;

  constructor(opts: UmemOptions) {
    const { frameCount, frameSize } = opts;
    if (frameSize < 2048 || frameSize > 65536 || (frameSize & (frameSize - 1)) !== 0) {
      throw new Error(`frame size ${frameSize} must be a power of two from 2048 to 65536`);
    }
    const length = frameCount * frameSize;
    if (length >= 2 ** 32) throw new Error('UMEM must stay below 4 GiB');
    if (opts.simulated) {
      this.ptr = 0n;
      this.bytes = new Uint8Array(length);
    } else {
      this.ptr = Umem.map(length, opts.hugepages === true);
      this.bytes = new Uint8Array(libc.view(this.ptr, length));
    }
    this.length = length;
    this.frameSize = frameSize;
    this.frameCount = frameCount;
    this.frameMask = ~(frameSize - 1) >>> 0;
    this.pool = new Uint32Array(frameCount);
    for (let i = frameCount - 1; i >= 0; i--) this.pool[this.poolTop++] = i * frameSize;
  }

  private static map(length: number, hugepages: boolean): bigint {
    let flags = libc.MAP_PRIVATE | libc.MAP_ANONYMOUS | libc.MAP_POPULATE;
    if (hugepages) flags |= libc.MAP_HUGETLB;
    const ptr = libc.mmap(null, length, libc.PROT_READ | libc.PROT_WRITE, flags, -1, 0);
    if (ptr === libc.MAP_FAILED || ptr === 0n) {
      throw new SysError('mmap(UMEM)', koffi.errno(), hugepages ? 'are hugepages reserved (vm.nr_hugepages)?' : undefined);
    }
    return ptr;
  }

  /** Take a free frame's address from the pool, or -1 when the pool is empty. */
  alloc(): number {
    return this.poolTop > 0 ? this.pool[--this.poolTop] : -1;
  }

  /** Give a frame back to the pool (any address inside it). */
  free(addr: number): void {
    this.pool[this.poolTop++] = (addr & this.frameMask) >>> 0;
  }

  get freeFrames(): number {
    return this.poolTop;
  }

  close(): void {
    if (this.ptr !== 0n) libc.munmap(this.ptr, this.length);
  }
}
