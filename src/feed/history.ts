/**
 * The feed's history: a bounded ring of the most recent messages, in preallocated storage.
 *
 * Every message the feed takes gets the next server sequence number (from 1) and a slot
 * (`seq % capacity`) in typed arrays holding its metadata; its payload bytes go into one big
 * circular Buffer. Appending never allocates: the oldest messages are evicted when the slots
 * or the bytes run out. Subscribers read it by sequence number (their cursor), which is also
 * how their queues are bounded (see subscriber.ts) and how a client resumes.
 *
 * Status events that belong in the stream (a MoldUDP64 gap, an end of session) go into a
 * small ring of their own, each marked with the sequence of the message it comes before.
 */
import type { Datagram } from '../frame/datagram.js';
import { BYTE_LOOP_MAX, copyBytes, samePhaseAt } from '../util/copy.js';

export const enum Kind {
  Raw = 1,
  Mold = 2,
}

export const enum EventType {
  Gap = 1,
  EndOfSession = 2,
}

/** No MoldUDP64 session (a raw message). */
export const NO_SESSION = 0xffff;

export interface HistoryOptions {
  /** Message slots (at least 1024). */
  messages: number;
  /** Payload bytes (at least 2 × 65536, so any datagram fits). */
  bytes: number;
  /** Status event slots. */
  events?: number;
}

export class History {
  readonly capacity: number;
  readonly byteCapacity: number;
  readonly data: Buffer;
  readonly rxNs: Float64Array;
  readonly dataOff: Uint32Array;
  readonly length: Uint32Array;
  /** Payload bytes appended before this message (for queue byte bounds). */
  readonly cumBytes: Float64Array;
  /** Source address, 16 bytes a slot (an IPv4 address in the first 4). */
  readonly srcAddr: Buffer;
  readonly family: Uint8Array;
  readonly srcPort: Uint16Array;
  readonly dstPort: Uint16Array;
  readonly kind: Uint8Array;
  /** MoldUDP64 session index (see moldudp64.ts), NO_SESSION for raw. */
  readonly session: Uint16Array;
  /** The sender's sequence number of a MoldUDP64 message. */
  readonly moldSeq: Float64Array;

  /** Sequence of the oldest message held, and of the next one to append. Equal when empty. */
  oldest = 1;
  next = 1;
  /** Payload bytes appended since start. */
  totalBytes = 0;
  private writeSlot = 1;
  private writePos = 0;

  // Events: a ring of `eventCapacity`, indexed by a running event number.
  readonly eventCapacity: number;
  readonly evType: Uint8Array;
  readonly evNextSeq: Float64Array;
  readonly evTime: Float64Array;
  readonly evSession: Uint16Array;
  readonly evPort: Uint16Array;
  readonly evFirst: Float64Array;
  readonly evCount: Float64Array;
  oldestEvent = 0;
  nextEvent = 0;

  constructor(o: HistoryOptions) {
    if (o.messages < 1024) throw new Error('history: at least 1024 messages');
    if (o.bytes < 131072) throw new Error('history: at least 131072 bytes');
    const n = (this.capacity = o.messages);
    this.byteCapacity = o.bytes;
    this.data = Buffer.alloc(o.bytes);
    this.rxNs = new Float64Array(n);
    this.dataOff = new Uint32Array(n);
    this.length = new Uint32Array(n);
    this.cumBytes = new Float64Array(n);
    this.srcAddr = Buffer.alloc(n * 16);
    this.family = new Uint8Array(n);
    this.srcPort = new Uint16Array(n);
    this.dstPort = new Uint16Array(n);
    this.kind = new Uint8Array(n);
    this.session = new Uint16Array(n);
    this.moldSeq = new Float64Array(n);
    this.writeSlot = 1 % n;
    const e = (this.eventCapacity = o.events ?? 4096);
    this.evType = new Uint8Array(e);
    this.evNextSeq = new Float64Array(e);
    this.evTime = new Float64Array(e);
    this.evSession = new Uint16Array(e);
    this.evPort = new Uint16Array(e);
    this.evFirst = new Float64Array(e);
    this.evCount = new Float64Array(e);
    // Touch every page now: the history's memory is taken at start, not as traffic fills it.
    this.data.fill(0);
    this.srcAddr.fill(0);
    for (const a of [this.rxNs, this.dataOff, this.length, this.cumBytes, this.family, this.srcPort, this.dstPort, this.kind, this.session, this.moldSeq]) a.fill(0);
  }

  slot(seq: number): number {
    return seq % this.capacity;
  }

  get size(): number {
    return this.next - this.oldest;
  }

  /**
   * Append one message: `len` payload bytes copied from `src[srcOff...]`, and from datagram `p`
   * its receive time, ports and source address (`src[p.srcAddrOffset...]`: 4 bytes when
   * `p.ipVersion` is 4, else 16). Hot path: no allocation. Returns the message's sequence number.
   */
  append(src: Uint8Array, srcOff: number, len: number, p: Datagram, kind: number, session: number, moldSeq: number): number {
    const family = p.ipVersion;
    const addrOff = p.srcAddrOffset;
    // Past the byte loop, copyBytes copies in 32-bit words where the two offsets agree mod 4, and
    // allocates where they do not: such a payload starts 0-3 bytes in, at the source's phase.
    const words = len > BYTE_LOOP_MAX;
    const at = this.reserve(words ? len + 3 : len);
    const pos = words ? samePhaseAt(src, srcOff, this.data, at) : at;
    copyBytes(src, srcOff, this.data, pos, len);
    const s = this.writeSlot;
    const a = s * 16;
    const addr = this.srcAddr;
    if (family === 4) {
      addr[a] = src[addrOff];
      addr[a + 1] = src[addrOff + 1];
      addr[a + 2] = src[addrOff + 2];
      addr[a + 3] = src[addrOff + 3];
    } else {
      for (let i = 0; i < 16; i++) addr[a + i] = src[addrOff + i];
    }
    this.family[s] = family;
    this.rxNs[s] = p.rxNs;
    this.dataOff[s] = pos;
    this.length[s] = len;
    this.cumBytes[s] = this.totalBytes;
    this.srcPort[s] = p.srcPort;
    this.dstPort[s] = p.dstPort;
    this.kind[s] = kind;
    this.session[s] = session;
    this.moldSeq[s] = moldSeq;
    this.totalBytes += len;
    this.writeSlot = s + 1 === this.capacity ? 0 : s + 1;
    this.writePos = pos + len;
    return this.next++;
  }

  /** Payload bytes from message `seq` (held) to the newest. */
  bytesFrom(seq: number): number {
    if (seq >= this.next) return 0;
    return this.totalBytes - this.cumBytes[this.slot(Math.max(seq, this.oldest))];
  }

  /** Where `len` bytes go: evict the oldest messages until the slot and the bytes are free. */
  private reserve(len: number): number {
    if (this.next - this.oldest === this.capacity) this.evictOne();
    for (;;) {
      if (this.next === this.oldest) {
        // Empty: start over at the beginning.
        this.writePos = 0;
        return 0;
      }
      const wp = this.writePos;
      const tail = this.dataOff[this.slot(this.oldest)];
      // Live bytes run from `tail` forward (circularly) to `wp`.
      // (wp === tail with messages held: the oldest starts right where we would write, or
      // they are all empty; either way evict.)
      if (wp > tail) {
        // [tail, wp) is live: free is [wp, end) and [0, tail).
        if (wp + len <= this.byteCapacity) return wp;
        if (len <= tail) return 0;
      } else if (wp + len <= tail) {
        // Wrapped: live is [tail, end) and [0, wp); free is [wp, tail).
        return wp;
      }
      this.evictOne();
    }
  }

  private evictOne(): void {
    this.oldest++;
  }

  /** Record a status event that comes before the next message appended. */
  event(type: number, nowNs: number, session: number, port: number, first: number, count: number): void {
    const i = this.nextEvent % this.eventCapacity;
    this.evType[i] = type;
    this.evNextSeq[i] = this.next;
    this.evTime[i] = nowNs;
    this.evSession[i] = session;
    this.evPort[i] = port;
    this.evFirst[i] = first;
    this.evCount[i] = count;
    this.nextEvent++;
    if (this.nextEvent - this.oldestEvent > this.eventCapacity) this.oldestEvent++;
  }

  /** The first event (number) that comes at or after message `seq`. */
  eventAtOrAfter(seq: number): number {
    let e = this.oldestEvent;
    while (e < this.nextEvent && this.evNextSeq[e % this.eventCapacity] < seq) e++;
    return e;
  }
}
