/**
 * How a queue worker hands datagrams to the main thread's feed: a single-producer/single-
 * consumer byte ring in a SharedArrayBuffer (worker writes, main reads), no copy beyond the one
 * out of the UMEM frame, no allocation, no message per packet.
 *
 *   ctrl  Int32Array(SharedArrayBuffer)  [0] head: bytes written (producer, Atomics.store)
 *                                        [1] tail: bytes read     (consumer, Atomics.store)
 *   data  Uint8Array(SharedArrayBuffer)  records, each 8-byte aligned:
 *
 *     u16 length | u16 srcPort | u16 dstPort | u8 family | u8 pad | f64 rxNs | 16 B source address |
 *     pad bytes (0-3) | payload
 *
 *   The pad puts the payload at the same offset mod 4 as it had in the UMEM frame, so that
 *   util/copy.ts copies it in 32-bit words without making a view (no allocation).
 *
 * head and tail are free-running byte counts (mod 2^31, compared by difference); a record never
 * straddles the end: when it would not fit, the producer writes a record with length 0xffff
 * ("skip to the start") and wraps. When the ring has no room the datagram is not written and the
 * worker counts it (`overflows`): the receive loop never waits on the feed.
 *
 * The reader is woken, not polled: every ring shares one doorbell with the main thread,
 *
 *   doorbell  Int32Array(SharedArrayBuffer)  [0] rings: bumped by a writer that published while
 *                                                 the reader was parked
 *                                            [1] parked: 1 while the reader waits
 *
 * and each ring has a MessageChannel to the reader (FeedWake): a writer that publishes while the
 * reader is parked clears the flag and posts one message (the number 0) on its port. So a commit
 * costs one Atomics.load while the reader is busy, and a message only when it sleeps.
 *
 * Not Atomics.notify with Atomics.waitAsync, as before: V8 keeps a set of the pending waitAsync
 * promises (an OrderedHashSet in old space) and reallocates it as each one is added and settled,
 * in old space. perf (a uprobe on V8's old-space allocation slow path, on xsk's main thread in
 * the soak) put 99.5 % of the main thread's old-space allocations there:
 * FutexEmulation::CleanupAsyncWaiterPromise → OrderedHashSet::Shrink. At the soak's ~5,700
 * wakes a second that was ~0.6 MB/s of old space, a major GC every ~30 s and RSS creeping up
 * with each new peak. A message is young garbage; the post costs the writer ~4 µs, the notify
 * ~10 µs (a micro-benchmark here).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { copyBytes, wordPhase } from '../util/copy.js';
import type { Datagram } from '../frame/datagram.js';
import { FrameParser } from '../frame/parse.js';

export const HEADER = 32;
const SKIP = 0xffff;

export interface FeedRingBuffers {
  ctrl: SharedArrayBuffer;
  data: SharedArrayBuffer;
  /** Shared by every ring of one reader (see above). */
  doorbell: SharedArrayBuffer;
}

export function createDoorbell(): SharedArrayBuffer {
  return new SharedArrayBuffer(8);
}

export function createFeedRing(bytes: number, doorbell = createDoorbell()): FeedRingBuffers {
  return { ctrl: new SharedArrayBuffer(8), data: new SharedArrayBuffer(bytes), doorbell };
}

/** One ring's wake-up channel: the writer posts on `writer` (transfer it to the writer's thread), the reader listens on `reader`. */
export interface FeedWake {
  reader: MessagePort;
  writer: MessagePort;
}

export function createFeedWake(): FeedWake {
  const { port1, port2 } = new MessageChannel();
  return { reader: port1, writer: port2 };
}

const MASK = 0x7fffffff;
const align8 = (n: number) => (n + 7) & ~7;

export class FeedRingWriter {
  private readonly ctrl: Int32Array;
  private readonly bell: Int32Array;
  readonly data: Uint8Array;
  private readonly f64: Float64Array;
  private readonly size: number;
  private head: number;
  /** The reader's position as last loaded. */
  private tail: number;
  overflows = 0;

  /** `wake`: the writer's end of the ring's FeedWake (without one, a parked reader is never woken: it must poll). */
  constructor(
    b: FeedRingBuffers,
    private readonly wake?: MessagePort,
  ) {
    this.ctrl = new Int32Array(b.ctrl);
    this.bell = new Int32Array(b.doorbell);
    this.data = new Uint8Array(b.data);
    this.f64 = new Float64Array(b.data, 0, b.data.byteLength >> 3);
    this.size = b.data.byteLength;
    this.head = Atomics.load(this.ctrl, 0);
    this.tail = Atomics.load(this.ctrl, 1);
  }

  /**
   * Copy datagram `p` of frame `src` in (its payload, ports, family, source address, rxNs); false
   * (and counted) when the ring is full. Publish with commit().
   */
  write(src: Uint8Array, p: Datagram): boolean {
    const len = p.payloadLength;
    // Records start 8-aligned and HEADER is too, so the pad depends on the source alone.
    const pad = wordPhase(src, p.payloadOffset);
    const need = align8(HEADER + pad + len);
    let pos = this.head % this.size;
    const tailRoom = this.size - pos;
    const wrapCost = need > tailRoom ? tailRoom : 0;
    // The reader's position is reloaded (an Atomics call, ~18 ns) only when the cached one
    // says there is no room, as libxdp does with its cached consumer index.
    if (need + wrapCost > this.size - ((this.head - this.tail) & MASK)) {
      this.tail = Atomics.load(this.ctrl, 1);
      if (need + wrapCost > this.size - ((this.head - this.tail) & MASK)) {
        this.overflows++;
        return false;
      }
    }
    const d = this.data;
    if (wrapCost > 0) {
      d[pos] = SKIP & 0xff;
      d[pos + 1] = SKIP >> 8;
      this.head = (this.head + tailRoom) & MASK;
      pos = 0;
    }
    const srcPort = p.srcPort;
    const dstPort = p.dstPort;
    const family = p.ipVersion;
    d[pos] = len & 0xff;
    d[pos + 1] = len >> 8;
    d[pos + 2] = srcPort & 0xff;
    d[pos + 3] = srcPort >> 8;
    d[pos + 4] = dstPort & 0xff;
    d[pos + 5] = dstPort >> 8;
    d[pos + 6] = family;
    d[pos + 7] = pad;
    this.f64[(pos + 8) >> 3] = p.rxNs;
    const alen = family === 4 ? 4 : 16;
    const addrOff = p.srcAddrOffset;
    for (let i = 0; i < alen; i++) d[pos + 16 + i] = src[addrOff + i];
    copyBytes(src, p.payloadOffset, d, pos + HEADER + pad, len);
    this.head = (this.head + need) & MASK;
    return true;
  }

  /** Make what was written visible to the reader (store-release of head), and wake it if parked. */
  commit(): void {
    Atomics.store(this.ctrl, 0, this.head);
    if (Atomics.load(this.bell, 1) !== 0) {
      Atomics.store(this.bell, 1, 0);
      Atomics.add(this.bell, 0, 1);
      this.wake?.postMessage(0);
    }
  }
}

export interface FeedRecordSink {
  /**
   * One record: `p` is the reader's view of it (a FrameParser whose payload, address, port,
   * family and rxNs fields were set from the record; offsets into `data`, the ring's bytes).
   * Valid only during the call.
   */
  record(data: Uint8Array, p: Datagram): void;
}

export class FeedRingReader {
  private readonly ctrl: Int32Array;
  private readonly data: Uint8Array;
  private readonly f64: Float64Array;
  private readonly size: number;
  private tail: number;
  /**
   * What each record is handed over as: a FrameParser, so that the feed's stage sees one kind of
   * object whether a ring feeds it or a port does (one shape for V8 to compile for).
   */
  private readonly view = new FrameParser();

  /** `wake`: the writer's end of the ring's FeedWake (without one, a parked reader is never woken: it must poll). */
  constructor(
    b: FeedRingBuffers,
    private readonly wake?: MessagePort,
  ) {
    this.ctrl = new Int32Array(b.ctrl);
    this.data = new Uint8Array(b.data);
    this.f64 = new Float64Array(b.data, 0, b.data.byteLength >> 3);
    this.size = b.data.byteLength;
    this.tail = Atomics.load(this.ctrl, 1);
  }

  /** Hand every record written so far to `sink`, then free their space. Returns the count. */
  drain(sink: FeedRecordSink): number {
    const head = Atomics.load(this.ctrl, 0);
    const d = this.data;
    let n = 0;
    while (this.tail !== head) {
      const pos = this.tail % this.size;
      const len = d[pos] | (d[pos + 1] << 8);
      if (len === SKIP) {
        this.tail = (this.tail + (this.size - pos)) & MASK;
        continue;
      }
      const v = this.view;
      v.srcPort = d[pos + 2] | (d[pos + 3] << 8);
      v.dstPort = d[pos + 4] | (d[pos + 5] << 8);
      v.ipVersion = d[pos + 6];
      v.rxNs = this.f64[(pos + 8) >> 3];
      v.srcAddrOffset = pos + 16;
      const pad = d[pos + 7];
      v.payloadOffset = pos + HEADER + pad;
      v.payloadLength = len;
      sink.record(d, v);
      this.tail = (this.tail + align8(HEADER + pad + len)) & MASK;
      n++;
    }
    Atomics.store(this.ctrl, 1, this.tail);
    return n;
  }
}

/**
 * The reader's side of the doorbell: arm() before the last look at the rings, then wait for a
 * message on any ring's port (listen()); disarm() when that last look found records after all.
 */
export class Doorbell {
  private readonly bell: Int32Array;
  constructor(
    buf: SharedArrayBuffer,
    private readonly ports: MessagePort[] = [],
  ) {
    this.bell = new Int32Array(buf);
  }

  /** Mark the reader parked; returns the ring count. Look at the rings once more after this. */
  arm(): number {
    Atomics.store(this.bell, 1, 1);
    return Atomics.load(this.bell, 0);
  }

  /** Writers need not ring: the reader is awake. */
  disarm(): void {
    Atomics.store(this.bell, 1, 0);
  }

  /**
   * Call `cb` for every ring (a writer published while armed). It may also come once after a
   * disarm() (the writer saw the flag just before): the reader must take that calmly. The ports
   * do not keep the event loop alive.
   */
  listen(cb: () => void): void {
    for (const p of this.ports) {
      p.on('message', cb);
      p.unref();
    }
  }

  close(): void {
    for (const p of this.ports) p.close();
  }
}
