/**
 * An AF_XDP socket bound to one queue of one interface, with its own UMEM and four rings.
 * Control path: create, register the UMEM, size and map the rings, bind, read statistics,
 * close. The data path lives in the rings (ring.ts) and the port (xdp-port.ts).
 */
import koffi from 'koffi';
import * as libc from '../sys/libc.js';
import * as x from '../sys/if-xdp.js';
import { SysError } from '../sys/errors.js';
import { PollSet } from '../sys/poll-set.js';
import { closeWakeFd, createWakeFd } from '../sys/wake-fd.js';
import { ConsumerRing, ProducerRing, ADDR_WORDS, DESC_WORDS, type RingMemory } from './ring.js';
import type { Umem } from './umem.js';

export type BindMode = 'auto' | 'copy' | 'zero-copy';

export interface SocketOptions {
  ifindex: number;
  ifname: string;
  queue: number;
  umem: Umem;
  rxSize: number;
  txSize: number;
  fillSize: number;
  compSize: number;
  bind: BindMode;
  needWakeup?: boolean;
}

interface Mapping {
  ptr: bigint;
  len: number;
}

const setsockoptUmem = libc.setsockoptStruct<object>(x.xdp_umem_reg);

export class XskSocket {
  readonly fd: number;
  readonly fill: ProducerRing;
  readonly comp: ConsumerRing;
  readonly rx: ConsumerRing;
  readonly tx: ProducerRing;
  /** True when the kernel runs this socket in zero-copy mode. */
  readonly zeroCopy: boolean;
  readonly needWakeup: boolean;
  private readonly maps: Mapping[] = [];
  /** What pollReadable()/waitReadable() wait on: this socket, and the wake fd if there is one. */
  private readonly poll = new PollSet();
  /** Simulated: the eventfd that stands for "the socket is readable" (see sim-kernel.ts). */
  readonly simReadyFd: number = -1;

  /**
   * `simulated`: no socket at all, the four rings in ordinary memory laid out as the kernel lays
   * them out (see warm.ts: the warm start plays the kernel's side over them). Built through the
   * same constructor as a real socket, so V8 sees one object shape for both.
   */
  constructor(readonly opts: SocketOptions & { simulated?: boolean }) {
    if (opts.simulated) {
      this.fd = -1;
      this.fill = new ProducerRing(simulatedRing(opts.fillSize, 8), opts.fillSize, ADDR_WORDS);
      this.comp = new ConsumerRing(simulatedRing(opts.compSize, 8), opts.compSize, ADDR_WORDS);
      this.rx = new ConsumerRing(simulatedRing(opts.rxSize, 16), opts.rxSize, DESC_WORDS);
      this.tx = new ProducerRing(simulatedRing(opts.txSize, 16), opts.txSize, DESC_WORDS);
      this.needWakeup = false;
      this.zeroCopy = false;
      // "Readable" is an eventfd the simulated kernel rings while RX has frames, so that
      // pollReadable() runs the real poll() path and the warm start compiles it as it runs live.
      this.simReadyFd = createWakeFd();
      this.poll.setSocket(this.simReadyFd);
      return;
    }
    const fd = libc.socket(libc.AF_XDP, libc.SOCK_RAW | libc.SOCK_CLOEXEC, 0);
    if (fd < 0) {
      const errno = koffi.errno();
      throw new SysError(
        'socket(AF_XDP)',
        errno,
        errno === 97 /* EAFNOSUPPORT */ ? 'the kernel has no CONFIG_XDP_SOCKETS' : undefined,
      );
    }
    this.fd = fd;
    try {
      const { umem } = opts;
      const reg = { addr: umem.ptr, len: umem.length, chunk_size: umem.frameSize, headroom: 0, flags: 0 };
      if (setsockoptUmem(fd, libc.SOL_XDP, x.XDP_UMEM_REG, reg, koffi.sizeof(x.xdp_umem_reg)) < 0) {
        const errno = koffi.errno();
        // EINVAL: the chunk size (2048 up to the page size) or the area; ENOBUFS: RLIMIT_MEMLOCK.
        const hint =
          errno === 22
            ? `chunk size ${umem.frameSize}: the kernel takes 2048 up to the page size`
            : errno === 105 || errno === 12
              ? 'the UMEM is locked memory: is RLIMIT_MEMLOCK high enough? (ulimit -l)'
              : undefined;
        throw new SysError('setsockopt(XDP_UMEM_REG)', errno, hint);
      }
      this.setInt(x.XDP_UMEM_FILL_RING, opts.fillSize, 'XDP_UMEM_FILL_RING');
      this.setInt(x.XDP_UMEM_COMPLETION_RING, opts.compSize, 'XDP_UMEM_COMPLETION_RING');
      this.setInt(x.XDP_RX_RING, opts.rxSize, 'XDP_RX_RING');
      this.setInt(x.XDP_TX_RING, opts.txSize, 'XDP_TX_RING');

      const off = this.mmapOffsets();
      this.fill = new ProducerRing(this.mapRing(off.fr, opts.fillSize, 8, x.XDP_UMEM_PGOFF_FILL_RING), opts.fillSize, ADDR_WORDS);
      this.comp = new ConsumerRing(this.mapRing(off.cr, opts.compSize, 8, x.XDP_UMEM_PGOFF_COMPLETION_RING), opts.compSize, ADDR_WORDS);
      this.rx = new ConsumerRing(this.mapRing(off.rx, opts.rxSize, 16, x.XDP_PGOFF_RX_RING), opts.rxSize, DESC_WORDS);
      this.tx = new ProducerRing(this.mapRing(off.tx, opts.txSize, 16, x.XDP_PGOFF_TX_RING), opts.txSize, DESC_WORDS);

      this.needWakeup = opts.needWakeup ?? true;
      let flags = this.needWakeup ? x.XDP_USE_NEED_WAKEUP : 0;
      if (opts.bind === 'copy') flags |= x.XDP_COPY;
      if (opts.bind === 'zero-copy') flags |= x.XDP_ZEROCOPY;
      const sa = Buffer.alloc(koffi.sizeof(x.sockaddr_xdp));
      sa.writeUInt16LE(libc.AF_XDP, koffi.offsetof(x.sockaddr_xdp, 'sxdp_family'));
      sa.writeUInt16LE(flags, koffi.offsetof(x.sockaddr_xdp, 'sxdp_flags'));
      sa.writeUInt32LE(opts.ifindex, koffi.offsetof(x.sockaddr_xdp, 'sxdp_ifindex'));
      sa.writeUInt32LE(opts.queue, koffi.offsetof(x.sockaddr_xdp, 'sxdp_queue_id'));
      if (libc.bind(fd, sa, sa.length) < 0) {
        const errno = koffi.errno();
        const hint =
          opts.bind === 'zero-copy' && (errno === 95 || errno === 22)
            ? `the driver of ${opts.ifname} has no zero-copy AF_XDP; try --copy`
            : errno === 22
              ? `queue ${opts.queue} may not exist on ${opts.ifname}`
              : undefined;
        throw new SysError('bind(AF_XDP)', errno, hint);
      }
      this.zeroCopy = this.readZeroCopy();
      this.poll.setSocket(fd);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private setInt(name: number, value: number, what: string): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value);
    if (libc.setsockopt(this.fd, libc.SOL_XDP, name, b, 4) < 0) {
      throw new SysError(`setsockopt(${what})`, koffi.errno(), `size ${value} (a power of two)`);
    }
  }

  private mmapOffsets(): x.MmapOffsets {
    const size = koffi.sizeof(x.xdp_mmap_offsets);
    const b = Buffer.alloc(size);
    const len = [size];
    if (libc.getsockopt(this.fd, libc.SOL_XDP, x.XDP_MMAP_OFFSETS, b, len) < 0) {
      throw new SysError('getsockopt(XDP_MMAP_OFFSETS)', koffi.errno());
    }
    if (len[0] !== size) throw new Error(`XDP_MMAP_OFFSETS returned ${len[0]} bytes, expected ${size} (kernel too old)`);
    return koffi.decode(b, x.xdp_mmap_offsets) as x.MmapOffsets;
  }

  private mapRing(off: x.RingOffset, entries: number, entrySize: number, pgoff: number): RingMemory {
    const len = off.desc + entries * entrySize;
    const ptr = libc.mmap(null, len, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_SHARED | libc.MAP_POPULATE, this.fd, pgoff);
    if (ptr === libc.MAP_FAILED || ptr === 0n) throw new SysError('mmap(ring)', koffi.errno());
    this.maps.push({ ptr, len });
    return { buffer: libc.view(ptr, len), producer: off.producer, consumer: off.consumer, flags: off.flags, desc: off.desc };
  }

  private readZeroCopy(): boolean {
    const b = Buffer.alloc(4);
    const len = [4];
    if (libc.getsockopt(this.fd, libc.SOL_XDP, x.XDP_OPTIONS, b, len) < 0) return false;
    return (b.readUInt32LE(0) & x.XDP_OPTIONS_ZEROCOPY) !== 0;
  }

  /**
   * The kernel's counters for this socket. Older kernels return a shorter struct: only the
   * fields it filled are reported.
   */
  statistics(): Partial<x.XdpStatistics> {
    if (this.fd < 0) return {};
    // Read on the datapath thread between batches: buffers made once, no BigInt.
    const b = this.statsBuf;
    const len = this.statsLen;
    len[0] = b.length;
    if (libc.getsockopt(this.fd, libc.SOL_XDP, x.XDP_STATISTICS, b, len) < 0) {
      throw new SysError('getsockopt(XDP_STATISTICS)', koffi.errno());
    }
    const out: Partial<x.XdpStatistics> = {};
    const fields = x.XDP_STATISTICS_FIELDS;
    for (let i = 0; i < fields.length && (i + 1) * 8 <= len[0]; i++) out[fields[i]] = b.readUInt32LE(i * 8) + b.readUInt32LE(i * 8 + 4) * 4294967296;
    return out;
  }
  private readonly statsBuf = Buffer.alloc(koffi.sizeof(x.xdp_statistics));
  private readonly statsLen = new Uint32Array(1);

  /** Wake the kernel's RX side (only call when fill.needsWakeup()). */
  wakeupRx(): void {
    libc.recvfrom(this.fd, null, 0, libc.MSG_DONTWAIT, null, null);
  }

  /** Kick TX (only call when tx.needsWakeup()). */
  kickTx(): void {
    libc.sendto(this.fd, null, 0, libc.MSG_DONTWAIT, null, 0);
  }

  /**
   * Block this thread in poll() until RX has frames or `timeoutMs` passes; returns poll()'s
   * result (0: timed out). For a datapath thread of its own: one kernel → thread wakeup.
   */
  pollReadable(timeoutMs: number): number {
    return this.poll.wait(timeoutMs);
  }

  /** Also return from pollReadable() when `fd` (an eventfd) is rung. */
  setWakeFd(fd: number): void {
    this.poll.setWakeFd(fd);
  }

  /** Wait for RX off the event loop (koffi runs poll() on a worker thread). */
  waitReadable(timeoutMs: number, cb: () => void): void {
    this.poll.waitAsync(timeoutMs, cb);
  }

  close(): void {
    for (const m of this.maps.splice(0)) libc.munmap(m.ptr, m.len);
    if (this.fd >= 0) libc.close(this.fd);
    if (this.simReadyFd >= 0) closeWakeFd(this.simReadyFd);
  }
}

/**
 * A ring's memory in an ordinary buffer: producer, consumer and flags on cache lines of their
 * own, indices from 0 as a new socket's. (Not near 2^32 to cover the wrap: indices past 2^31 are
 * doubles, and objects whose fields V8 has seen hold both get a new shape, which made the live
 * rings, built with small indices, deoptimize the compiled receive path at their first batch.)
 */
function simulatedRing(entries: number, entrySize: number): RingMemory {
  return { buffer: new ArrayBuffer(192 + entries * entrySize), producer: 0, consumer: 64, flags: 128, desc: 192 };
}
