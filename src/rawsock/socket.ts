/**
 * An AF_PACKET socket bound to one interface, with a TPACKET_V3 RX ring and a TX ring in one
 * mapping. Control path only: create, filter, size and map the rings, bind, read statistics,
 * flush TX, wait, close. The data path (walking blocks, filling TX frames) is raw-port.ts.
 *
 * Order matters: the socket is created with protocol 0 (it receives nothing), gets its filter,
 * version and rings, and only then is bound with ETH_P_ALL to the interface, so no frame the
 * filter would refuse ever lands in the ring.
 *
 * Mapping layout (one mmap, as the kernel wants it: RX ring first, then TX ring):
 *
 *   [ RX block 0 | RX block 1 | ... | RX block B-1 ][ TX frame 0 | TX frame 1 | ... ]
 */
import koffi from 'koffi';
import * as libc from '../sys/libc.js';
import * as p from '../sys/if-packet.js';
import { SysError } from '../sys/errors.js';
import { PollSet } from '../sys/poll-set.js';
import { encodeFilter, portFilter } from './filter.js';

export interface RawSocketOptions {
  ifindex: number;
  ifname: string;
  /** UDP destination ports the filter accepts. */
  ports: readonly number[];
  /** RX ring: blocks of `rxBlockSize` bytes (a multiple of the page size, power of two). */
  rxBlockSize: number;
  rxBlocks: number;
  /** Nominal RX frame size (V3 packs frames tightly; the kernel only checks the arithmetic). */
  rxFrameSize: number;
  /** Milliseconds after which the kernel hands over a block that is not full. */
  retireMs: number;
  /** TX ring: `txFrames` frames of `txFrameSize` bytes. */
  txFrameSize: number;
  txFrames: number;
  /** Try PACKET_QDISC_BYPASS (default true); `qdiscBypass` says whether the kernel took it. */
  qdiscBypass?: boolean;
}

export interface RawStatistics {
  /** Frames the filter accepted, including those dropped for want of ring space (tp_packets). */
  packets: number;
  /** Frames dropped because every RX block was still in userspace's hands (tp_drops). */
  drops: number;
  /** Times the RX ring froze: all blocks owned by userspace (tp_freeze_q_cnt). */
  freezeQueue: number;
}

export class RawSocket {
  readonly fd: number;
  /** The whole mapping (RX ring, then TX ring). */
  readonly memory: ArrayBuffer;
  readonly rxBytes: number;
  readonly txOffset: number;
  readonly txFrames: number;
  readonly qdiscBypass: boolean;
  private ptr = 0n;
  private closed = false;
  private len = 0;
  /** What pollReadable()/waitReadable() wait on: this socket, and the wake fd if there is one. */
  private readonly poll = new PollSet();
  private readonly int = Buffer.alloc(4);

  constructor(readonly opts: RawSocketOptions) {
    const fd = libc.socket(libc.AF_PACKET, libc.SOCK_RAW | libc.SOCK_CLOEXEC, 0);
    if (fd < 0) {
      const errno = koffi.errno();
      throw new SysError('socket(AF_PACKET)', errno, errno === 1 ? 'raw sockets need CAP_NET_RAW' : undefined);
    }
    this.fd = fd;
    try {
      this.setInt(p.SOL_PACKET, p.PACKET_VERSION, p.TPACKET_V3, 'PACKET_VERSION', 'TPACKET_V3 needs Linux 3.2');
      this.attachFilter(opts.ports);
      // Our own TX (and the host's) must not come back to us; the filter checks pkttype too.
      this.setInt(p.SOL_PACKET, p.PACKET_IGNORE_OUTGOING, 1, 'PACKET_IGNORE_OUTGOING', 'needs Linux 4.20');
      // A malformed TX frame is skipped instead of stopping the ring.
      this.setInt(p.SOL_PACKET, p.PACKET_LOSS, 1, 'PACKET_LOSS');
      let bypass = false;
      if (opts.qdiscBypass !== false) {
        this.int.writeInt32LE(1);
        bypass = libc.setsockopt(fd, p.SOL_PACKET, p.PACKET_QDISC_BYPASS, this.int, 4) === 0;
      }
      this.qdiscBypass = bypass;

      const page = libc.getpagesize();
      if (opts.rxBlockSize % page !== 0) throw new Error(`RX block size ${opts.rxBlockSize} is not a multiple of the page size ${page}`);
      const rxPerBlock = Math.floor(opts.rxBlockSize / opts.rxFrameSize);
      this.setRing(p.PACKET_RX_RING, {
        tp_block_size: opts.rxBlockSize,
        tp_block_nr: opts.rxBlocks,
        tp_frame_size: opts.rxFrameSize,
        tp_frame_nr: rxPerBlock * opts.rxBlocks,
        tp_retire_blk_tov: opts.retireMs,
        tp_sizeof_priv: 0,
        tp_feature_req_word: 0,
      });
      this.rxBytes = opts.rxBlockSize * opts.rxBlocks;

      // TX: frames grouped in page-multiple blocks; V3 TX is frame based (tp_next_offset 0).
      const txBlock = Math.max(opts.txFrameSize, page, Math.min(1 << 18, opts.txFrameSize * opts.txFrames));
      const txPerBlock = Math.floor(txBlock / opts.txFrameSize);
      const txBlocks = Math.ceil(opts.txFrames / txPerBlock);
      this.txFrames = txPerBlock * txBlocks;
      this.setRing(p.PACKET_TX_RING, {
        tp_block_size: txBlock,
        tp_block_nr: txBlocks,
        tp_frame_size: opts.txFrameSize,
        tp_frame_nr: this.txFrames,
        tp_retire_blk_tov: 0,
        tp_sizeof_priv: 0,
        tp_feature_req_word: 0,
      });
      this.txOffset = this.rxBytes;

      this.len = this.rxBytes + txBlock * txBlocks;
      const ptr = libc.mmap(null, this.len, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_SHARED | libc.MAP_POPULATE, fd, 0);
      if (ptr === libc.MAP_FAILED || ptr === 0n) throw new SysError('mmap(PACKET rings)', koffi.errno());
      this.ptr = ptr;
      this.memory = libc.view(ptr, this.len);

      const sa = Buffer.alloc(koffi.sizeof(p.sockaddr_ll));
      sa.writeUInt16LE(libc.AF_PACKET, koffi.offsetof(p.sockaddr_ll, 'sll_family'));
      sa.writeUInt16BE(p.ETH_P_ALL, koffi.offsetof(p.sockaddr_ll, 'sll_protocol'));
      sa.writeInt32LE(opts.ifindex, koffi.offsetof(p.sockaddr_ll, 'sll_ifindex'));
      if (libc.bind(fd, sa, sa.length) < 0) throw new SysError(`bind(AF_PACKET, ${opts.ifname})`, koffi.errno());

      this.poll.setSocket(fd);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private setInt(level: number, name: number, value: number, what: string, hint?: string): void {
    this.int.writeInt32LE(value);
    if (libc.setsockopt(this.fd, level, name, this.int, 4) < 0) throw new SysError(`setsockopt(${what})`, koffi.errno(), hint);
  }

  private setRing(name: number, req: Record<string, number>): void {
    const b = Buffer.alloc(koffi.sizeof(p.tpacket_req3));
    koffi.encode(b, p.tpacket_req3, req);
    if (libc.setsockopt(this.fd, p.SOL_PACKET, name, b, b.length) < 0) {
      const what = name === p.PACKET_RX_RING ? 'PACKET_RX_RING' : 'PACKET_TX_RING';
      throw new SysError(`setsockopt(${what})`, koffi.errno(), `${req.tp_block_nr} blocks of ${req.tp_block_size} bytes`);
    }
  }

  /** Replace the socket filter with one for `ports` (atomic in the kernel: no gap, no overlap). */
  attachFilter(ports: readonly number[]): void {
    attachPortFilter(this.fd, ports);
  }

  /**
   * The kernel's counters since the previous call (reading PACKET_STATISTICS resets them).
   */
  statisticsDelta(): RawStatistics {
    const b = Buffer.alloc(koffi.sizeof(p.tpacket_stats_v3));
    const len = [b.length];
    if (libc.getsockopt(this.fd, p.SOL_PACKET, p.PACKET_STATISTICS, b, len) < 0) {
      throw new SysError('getsockopt(PACKET_STATISTICS)', koffi.errno());
    }
    return {
      packets: b.readUInt32LE(koffi.offsetof(p.tpacket_stats_v3, 'tp_packets')),
      drops: b.readUInt32LE(koffi.offsetof(p.tpacket_stats_v3, 'tp_drops')),
      freezeQueue: b.readUInt32LE(koffi.offsetof(p.tpacket_stats_v3, 'tp_freeze_q_cnt')),
    };
  }

  /** Have the kernel send every TX frame marked SEND_REQUEST, without blocking. -1 and errno on failure. */
  flushTx(): number {
    return libc.sendto(this.fd, null, 0, libc.MSG_DONTWAIT, null, 0);
  }

  /** Wait for RX off the event loop (koffi runs poll() on a worker thread). */
  /** Block this thread in poll() until the current block is ready or `timeoutMs` passes. */
  pollReadable(timeoutMs: number): number {
    return this.poll.wait(timeoutMs);
  }

  /** Also return from pollReadable() when `fd` (an eventfd) is rung. */
  setWakeFd(fd: number): void {
    this.poll.setWakeFd(fd);
  }

  waitReadable(timeoutMs: number, cb: () => void): void {
    this.poll.waitAsync(timeoutMs, cb);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ptr !== 0n) {
      libc.munmap(this.ptr, this.len);
      this.ptr = 0n;
    }
    if (this.fd >= 0) libc.close(this.fd);
  }
}

/** Attach (or replace) the port filter on any socket: SO_ATTACH_FILTER with portFilter(ports). */
export function attachPortFilter(fd: number, ports: readonly number[]): void {
  const prog = encodeFilter(portFilter(ports));
  // The kernel copies the program during the call; koffi passes the Buffer's memory as the pointer.
  const ok = setsockoptFprog(fd, libc.SOL_SOCKET, p.SO_ATTACH_FILTER, { len: prog.length / 8, filter: prog }, koffi.sizeof(p.sock_fprog));
  if (ok < 0) throw new SysError('setsockopt(SO_ATTACH_FILTER)', koffi.errno(), `${prog.length / 8} instructions`);
}

const setsockoptFprog = libc.setsockoptStruct<{ len: number; filter: Buffer }>(p.sock_fprog);
