/**
 * The AF_PACKET port: the fallback when AF_XDP can't be used. Same contract as the AF_XDP port
 * (port/port.ts); only `mode` ("raw") tells them apart.
 *
 *   kernel ──filter (filter.ts)──► RX block (TPACKET_V3) ──► handler ──┬─ Drop ─────► block back to the kernel
 *                                                                      └─ Transmit ─► copy into a TX frame ──► sendto (one per batch)
 *
 * RX: the kernel fills blocks of frames and hands a whole block over by setting its
 * block_status to TP_STATUS_USER. receive() walks the frames of the current block in place
 * (tpacket3_hdr → tp_next_offset), keeping its place across calls, and gives the block back
 * (block_status = TP_STATUS_KERNEL, with Atomics.store) once every frame in it was handled.
 *
 * VLAN: the kernel delivers the outer VLAN tag of a frame as metadata (tp_vlan_tci/tp_vlan_tpid)
 * and not in the data. The port writes it back inline (moving the two MAC addresses 4 bytes
 * into the header room the kernel leaves in front of every frame), so the handler sees the frame
 * as it was on the wire, and a forwarded frame goes out on the same VLAN.
 *
 * Checksums: a frame a local sender sent over a veth (or any device with checksum offload) is
 * CHECKSUM_PARTIAL in the kernel: its UDP checksum field holds only the pseudo-header sum, for
 * the device to finish, and AF_PACKET says so with TP_STATUS_CSUMNOTREADY in tp_status. The port
 * finishes it in place before the handler sees the frame (when the field is the pseudo-header
 * sum of the frame's own UDP header, as it is for a plain datagram; a partial checksum elsewhere,
 * as in a tunnel, is left alone and counted), so the handler and whatever it forwards see a
 * checksum as it would be on a wire. Frames from a real NIC are never partial: no cost there.
 *
 * TX: a frame the handler wants sent is copied (same ArrayBuffer, copyWithin) into the next TX
 * frame, if that one is free (TP_STATUS_AVAILABLE); otherwise it is dropped and counted
 * (tx ring full). Frames are marked TP_STATUS_SEND_REQUEST with Atomics.store, and one sendto()
 * per batch has the kernel send them all (with PACKET_QDISC_BYPASS when the kernel allows it).
 *
 * Nothing is allocated per frame; at most one system call per batch (the TX flush).
 */
import koffi from 'koffi';
import { Verdict, type FrameHandler, type Port } from '../port/port.js';
import * as p from '../sys/if-packet.js';
import { RawSocket } from './socket.js';
import { FrameParser, PARSE_OK } from '../frame/parse.js';
import { completePartialUdpChecksum } from '../frame/checksum.js';

export interface RawPortOptions {
  ifindex: number;
  ifname: string;
  ports: readonly number[];
  /** RX memory ≈ ringSize × frameSize (as an AF_XDP ring of that many frames), at least 4 blocks. */
  ringSize: number;
  frameSize: number;
  /** TX frames (default: ringSize); each frameSize bytes, header included. */
  txRingSize?: number;
  /**
   * RX block size (default 64 KiB). At a low rate every block leaves after `retireMs` with a
   * few frames in it, so the ring holds blocks × retireMs of traffic: many small blocks beat a
   * few big ones.
   */
  blockSize?: number;
  /** Milliseconds before a partly filled RX block is handed over anyway (default 2). */
  retireMs?: number;
  qdiscBypass?: boolean;
}

export class RawPort implements Port {
  readonly mode = 'raw' as const;
  readonly socket: RawSocket;
  private readonly u8: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly blockSize: number;
  private readonly blocks: number;
  /** RX cursor: the block being read, whether we have started on it, its frames left, the next header. */
  private block = 0;
  private inBlock = false;
  private left = 0;
  private next = 0;
  /** TX ring: first frame's offset, frame size, count, where the next frame goes, max frame length. */
  private readonly txBase: number;
  private readonly txFrameSize: number;
  private readonly txFrames: number;
  private txHead = 0;
  private readonly txMaxLen: number;
  /** Frames marked SEND_REQUEST that no sendto() has been asked to send yet. */
  private txUnflushed = 0;

  /** Frames handed to the kernel for sending, and their bytes. */
  txPackets = 0;
  txBytes = 0;
  /** Frames the handler wanted sent but no TX frame was free for. */
  txRingFull = 0;
  /** Frames too long for a TX frame (frameSize − 48 bytes). */
  txTooLong = 0;
  /** sendto() calls that failed (the frames stay queued and go with the next flush), and the last errno. */
  txFlushErrors = 0;
  txLastErrno = 0;
  /** Frames handed to the handler, and their bytes. */
  rxPackets = 0;
  rxBytes = 0;
  /** Batches a handler threw in (the ring was left consistent; see receive()). */
  handlerErrors = 0;
  /** Frames whose outer VLAN tag the port put back inline. */
  vlanRestored = 0;
  /** TP_STATUS_CSUMNOTREADY frames whose partial UDP checksum the port finished, and those it could not (not a plain UDP datagram's). */
  csumCompleted = 0;
  csumNotCompleted = 0;
  private readonly csumParser = new FrameParser();
  /** Kernel counters, summed (PACKET_STATISTICS resets on every read). */
  private stats = { packets: 0, drops: 0, freezeQueue: 0 };
  private closed = false;

  constructor(readonly opts: RawPortOptions) {
    this.blockSize = opts.blockSize ?? 1 << 16;
    this.blocks = Math.max(4, Math.ceil((opts.ringSize * opts.frameSize) / this.blockSize));
    this.socket = new RawSocket({
      ifindex: opts.ifindex,
      ifname: opts.ifname,
      ports: opts.ports,
      rxBlockSize: this.blockSize,
      rxBlocks: this.blocks,
      rxFrameSize: Math.min(opts.frameSize, this.blockSize),
      retireMs: opts.retireMs ?? 2,
      txFrameSize: opts.frameSize,
      txFrames: opts.txRingSize ?? opts.ringSize,
      qdiscBypass: opts.qdiscBypass,
    });
    const mem = this.socket.memory;
    this.u8 = new Uint8Array(mem);
    this.u16 = new Uint16Array(mem);
    this.u32 = new Uint32Array(mem);
    this.txBase = this.socket.txOffset;
    this.txFrameSize = opts.frameSize;
    this.txFrames = this.socket.txFrames;
    this.txMaxLen = opts.frameSize - p.TX_DATA_OFFSET;
  }

  get description(): string {
    return `${this.opts.ifname}, AF_PACKET raw mode (TPACKET_V3, ${this.blocks} × ${this.blockSize >> 10} KiB RX blocks, ${this.txFrames} TX frames${this.socket.qdiscBypass ? ', qdisc bypass' : ''})`;
  }

  receive(max: number, handler: FrameHandler): number {
    const u8 = this.u8;
    const u16 = this.u16;
    const u32 = this.u32;
    let n = 0;
    let rxBytes = 0;
    // The cursor moves past a frame before the handler sees it, and the block goes back and TX
    // is flushed in `finally`: a handler that throws leaves the ring consistent (the frame it
    // threw on is not delivered again; the next call goes on after it).
    try {
      while (n < max) {
        if (!this.inBlock) {
          const base = this.block * this.blockSize;
          // Acquire: the frames of the block are valid once its status says TP_STATUS_USER.
          if ((Atomics.load(u32, (base + p.BLOCK.status) >>> 2) & p.TP_STATUS_USER) === 0) break;
          this.left = u32[(base + p.BLOCK.numPkts) >>> 2];
          this.next = base + u32[(base + p.BLOCK.offsetToFirstPkt) >>> 2];
          this.inBlock = true;
        }
        while (this.left > 0 && n < max) {
          const h = this.next;
          const hw = h >>> 2;
          const status = u32[hw + (p.FRAME3.status >>> 2)];
          let off = h + u16[(h + p.FRAME3.mac) >>> 1];
          let len = u32[hw + (p.FRAME3.snaplen >>> 2)];
          this.next = h + u32[hw + (p.FRAME3.nextOffset >>> 2)];
          this.left--;
          n++;
          if ((status & p.TP_STATUS_VLAN_VALID) !== 0 && off - 4 >= h + p.FRAME3.size) {
            // Put the outer tag back between the source MAC and the ethertype. On Ethernet the
            // kernel leaves 14 bytes (its sockaddr_ll and padding) in front of the frame.
            const tci = u32[hw + (p.FRAME3.vlanTci >>> 2)] & 0xffff;
            const tpid = (status & p.TP_STATUS_VLAN_TPID_VALID) !== 0 ? u16[(h + p.FRAME3.vlanTpid) >>> 1] : p.ETH_P_8021Q;
            u8.copyWithin(off - 4, off, off + 12);
            off -= 4;
            len += 4;
            u8[off + 12] = tpid >>> 8;
            u8[off + 13] = tpid & 0xff;
            u8[off + 14] = tci >>> 8;
            u8[off + 15] = tci & 0xff;
            this.vlanRestored++;
          }
          rxBytes += len;
          if ((status & p.TP_STATUS_CSUMNOTREADY) !== 0) this.completeChecksum(off, len);
          if (handler.frame(u8, off, len) === Verdict.Transmit) this.queueTx(off, len);
        }
        if (this.left === 0) this.releaseBlock();
      }
    } catch (e) {
      this.handlerErrors++;
      if (this.inBlock && this.left === 0) this.releaseBlock();
      throw e;
    } finally {
      this.rxPackets += n;
      this.rxBytes += rxBytes;
      if (this.txUnflushed > 0) this.flushTx();
    }
    return n;
  }

  /** Give the current block back to the kernel and move on to the next. */
  private releaseBlock(): void {
    // Release: every read of the block happened before the kernel may reuse it.
    Atomics.store(this.u32, (this.block * this.blockSize + p.BLOCK.status) >>> 2, p.TP_STATUS_KERNEL);
    this.block = this.block + 1 === this.blocks ? 0 : this.block + 1;
    this.inBlock = false;
  }

  /** The most bytes a frame built by transmit() may have (a TX frame less its header). */
  get frameCapacity(): number {
    return this.txMaxLen;
  }

  /**
   * Send up to `n` new frames: `build(buf, off, i)` writes frame `i` straight into the next free
   * TX frame, at `buf[off, off + frameCapacity)`, and returns its length (0: send nothing for
   * this one). One sendto() sends them all. Returns how many were queued: fewer than `n` when
   * the TX ring has no free frame left (call again later). If `build` throws, what was built
   * before still goes out; then the error is rethrown.
   */
  transmit(n: number, build: (buf: Uint8Array, off: number, i: number) => number): number {
    const u32 = this.u32;
    let sent = 0;
    try {
      for (let i = 0; i < n; i++) {
        const h = this.txBase + this.txHead * this.txFrameSize;
        const si = (h + p.FRAME3.status) >>> 2;
        const st = Atomics.load(u32, si);
        if (st !== p.TP_STATUS_AVAILABLE && st !== p.TP_STATUS_WRONG_FORMAT) break;
        const len = build(this.u8, h + p.TX_DATA_OFFSET, i);
        if (len > this.txMaxLen) throw new RangeError(`transmit: frame ${i} is ${len} bytes, more than a TX frame holds (${this.txMaxLen})`);
        if (!(len > 0)) continue;
        this.postTx(h, si, len);
        sent++;
      }
    } finally {
      if (this.txUnflushed > 0) this.flushTx();
    }
    return sent;
  }

  /** Finish the partial UDP checksum of a TP_STATUS_CSUMNOTREADY frame in place (see the top). */
  private completeChecksum(off: number, len: number): void {
    const fp = this.csumParser;
    if (fp.parse(this.u8, off, len) === PARSE_OK && completePartialUdpChecksum(this.u8, fp)) this.csumCompleted++;
    else this.csumNotCompleted++;
  }

  /** Copy a frame into the next TX frame and mark it for sending (sent at the end of the batch). */
  private queueTx(off: number, len: number): void {
    if (len > this.txMaxLen) {
      this.txTooLong++;
      return;
    }
    const u32 = this.u32;
    const h = this.txBase + this.txHead * this.txFrameSize;
    const si = (h + p.FRAME3.status) >>> 2;
    const st = Atomics.load(u32, si);
    // A frame is ours when AVAILABLE; WRONG_FORMAT (the kernel refused it; with PACKET_LOSS it
    // should not stay) is ours too. SEND_REQUEST/SENDING: the ring is full.
    if (st !== p.TP_STATUS_AVAILABLE && st !== p.TP_STATUS_WRONG_FORMAT) {
      this.txRingFull++;
      return;
    }
    this.u8.copyWithin(h + p.TX_DATA_OFFSET, off, off + len);
    this.postTx(h, si, len);
  }

  /**
   * The TX frame at `h` (its status word at `si`) holds `len` bytes of data: give it to the kernel
   * (SEND_REQUEST, sent at the next flush) and move on to the next TX frame.
   */
  private postTx(h: number, si: number, len: number): void {
    const u32 = this.u32;
    u32[(h + p.FRAME3.nextOffset) >>> 2] = 0;
    u32[(h + p.FRAME3.len) >>> 2] = len;
    u32[(h + p.FRAME3.snaplen) >>> 2] = len;
    Atomics.store(u32, si, p.TP_STATUS_SEND_REQUEST);
    this.txHead = this.txHead + 1 === this.txFrames ? 0 : this.txHead + 1;
    this.txUnflushed++;
    this.txPackets++;
    this.txBytes += len;
  }

  private flushTx(): void {
    if (this.socket.flushTx() < 0) {
      this.txFlushErrors++;
      this.txLastErrno = koffi.errno();
      return;
    }
    this.txUnflushed = 0;
  }

  /** TX frames the kernel has not sent yet (SEND_REQUEST or SENDING). Control path: scans the ring. */
  txInFlight(): number {
    let n = 0;
    for (let i = 0; i < this.txFrames; i++) {
      const st = Atomics.load(this.u32, (this.txBase + i * this.txFrameSize + p.FRAME3.status) >>> 2);
      if (st === p.TP_STATUS_SEND_REQUEST || st === p.TP_STATUS_SENDING) n++;
    }
    return n;
  }

  /** After the receive loop has stopped: flush TX and wait (up to `ms`) until the kernel sent it all. */
  async drainTx(ms = 1000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.txInFlight() === 0) return;
      this.flushTx();
      if (Date.now() >= deadline) return;
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  setWakeFd(fd: number): void {
    this.socket.setWakeFd(fd);
  }

  waitSync(timeoutMs: number): number {
    if (this.txUnflushed > 0) this.flushTx();
    return this.socket.pollReadable(timeoutMs);
  }

  wait(timeoutMs: number, cb: () => void): void {
    if (this.txUnflushed > 0) this.flushTx();
    this.socket.waitReadable(timeoutMs, cb);
  }

  /** Regenerate the socket filter; frames already in the ring were accepted under the old one. */
  setPorts(ports: number[]): void {
    this.socket.attachFilter(ports);
  }

  /**
   * The kernel's PACKET_STATISTICS, summed since the port opened, under the summary's names
   * (rx_dropped is what the stats line counts as kernel drops), and the TX ring's drops.
   */
  kernelStats(): Record<string, number> {
    if (!this.closed) {
      const d = this.socket.statisticsDelta();
      this.stats.packets += d.packets;
      this.stats.drops += d.drops;
      this.stats.freezeQueue += d.freezeQueue;
    }
    return {
      rx_packets: this.stats.packets,
      rx_dropped: this.stats.drops,
      rx_freeze_q_cnt: this.stats.freezeQueue,
      tx_ring_full: this.txRingFull,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }
}
