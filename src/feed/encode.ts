/**
 * FeedBatch encoding by hand, straight from the history's typed arrays into one reusable Buffer.
 *
 * Why not protobufjs: it encodes from objects, so every message cost a plain object, two
 * subarrays and a MoldFields object before its reflective encoder ran (measured: ~1.3 µs a
 * message, ~0.75 M msg/s on one core, and most of xsk's garbage). This writer makes no object
 * per message: each FeedMessage's size is computed from the slot, then its fields are written
 * as varints and length-delimited bytes. Events (rare) are plain objects, written after the
 * messages, as protobufjs did. The output is the same bytes protobufjs makes from the
 * equivalent objects (every field written, zeros included, in field order; see
 * test/unit/feed-encode.test.ts, which keeps protobufjs as the reference).
 *
 * Wire format (feed.proto): FeedBatch { 1: FeedMessage (LEN, repeated), 2: StatusEvent (LEN,
 * repeated) }. uint64 fields come from JS numbers (exact below 2^53; non-negative).
 */
import { Kind, type History } from './history.js';
import { MessageKind } from './proto.js';
import { MAX_SESSIONS } from './moldudp64.js';

/** A status event as the subscriber makes it: the proto's camelCase fields, one oneof set. */
export interface EventObject {
  nextSequence: number;
  timeNs: number;
  heartbeat?: object;
  gap?: { session: string; port: number; firstMissing: number; count: number };
  skipped?: { count: number; firstSequence: number; lastSequence: number };
  /** requestedSequence: what the client asked for, exactly (a bigint above 2^53 − 1). */
  resumeUnavailable?: { requestedSequence: number | bigint; oldestSequence: number; nextSequence: number };
  endOfSession?: { session: string; port: number };
  shutdown?: { reason: string };
  subscribed?: { oldestSequence: number };
}

const TWO_28 = 0x10000000;

/** Bytes of `v` as a varint (v a non-negative integer below 2^64). */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < TWO_28) return 4;
  if (v < 0x800000000) return 5;
  if (v < 0x40000000000) return 6;
  if (v < 0x2000000000000) return 7;
  if (v < 0x100000000000000) return 8;
  if (v < 2 ** 63) return 9;
  return 10;
}

/** Write `v` as a varint at `pos`; returns the position after it. */
export function writeVarint(b: Uint8Array, pos: number, v: number): number {
  if (v >= TWO_28) {
    const hi = Math.floor(v / TWO_28);
    return writeVarintSplit(b, pos, hi, v - hi * TWO_28);
  }
  while (v > 0x7f) {
    b[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[pos++] = v;
  return pos;
}

/*
 * A large value (a time in ns, a sequence past 2^31) is passed to these as two small integers,
 * hi × 2^28 + lo: V8 boxes a number outside the small-integer range (a heap allocation) for
 * every call it is passed to and not inlined, and the encoder runs for every message.
 */

/** Bytes of hi × 2^28 + lo as a varint (lo below 2^28). */
export function varintSizeSplit(hi: number, lo: number): number {
  return hi === 0 ? varintSize(lo) : 4 + varintSize(hi);
}

/** Write hi × 2^28 + lo (lo below 2^28) as a varint at `pos`; returns the position after it. */
export function writeVarintSplit(b: Uint8Array, pos: number, hi: number, lo: number): number {
  if (hi === 0) return writeVarint(b, pos, lo);
  // The low 28 bits in 4 bytes, then the rest (below 2^36 for a value below 2^64).
  b[pos++] = (lo & 0x7f) | 0x80;
  b[pos++] = ((lo >>> 7) & 0x7f) | 0x80;
  b[pos++] = ((lo >>> 14) & 0x7f) | 0x80;
  b[pos++] = ((lo >>> 21) & 0x7f) | 0x80;
  while (hi >= 0x80) {
    b[pos++] = (hi % 0x80) | 0x80;
    hi = Math.floor(hi / 0x80);
  }
  b[pos++] = hi;
  return pos;
}

const EMPTY: Buffer = Buffer.alloc(0);

/** MoldUDP64 session names by index. */
export interface SessionNames {
  sessionName(index: number): string;
}

export class BatchWriter {
  private buf: Buffer;
  private pos = 0;
  private events: EventObject[] = [];
  /** Messages written since reset. */
  messages = 0;
  /**
   * Session names as UTF-8, by session index (and the name they were made from). Filled from the
   * start, as MoldTracker's names are (same reason: a stable shape for every writer).
   */
  private readonly sessionBytes: Buffer[] = Array.from({ length: MAX_SESSIONS }, () => EMPTY);
  private readonly sessionNames: string[] = Array.from({ length: MAX_SESSIONS }, () => '');

  constructor(
    /**
     * Where session names come from (the MoldTracker). An object with a method rather than a
     * closure: every writer then calls one function (the class's), and the code V8 compiled for
     * the warm start's feed still fits the live one (a second closure was a "wrong call target").
     */
    private readonly sessions: SessionNames,
    initialBytes = 64 << 10,
  ) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Start a new batch. */
  reset(): void {
    this.pos = 0;
    this.messages = 0;
    this.events = [];
  }

  /** Anything in this batch? */
  get empty(): boolean {
    return this.messages === 0 && this.events.length === 0;
  }

  /** Add a status event (written after the messages). */
  event(e: EventObject): void {
    this.events.push(e);
  }

  /** Add the message in history slot `slot`, server sequence `seq`. */
  message(h: History, slot: number, seq: number): void {
    const rxNs = h.rxNs[slot];
    const rxHi = Math.floor(rxNs / TWO_28);
    const rxLo = rxNs - rxHi * TWO_28;
    const seqHi = Math.floor(seq / TWO_28);
    const seqLo = seq - seqHi * TWO_28;
    const addrLen = h.family[slot] === 4 ? 4 : 16;
    const srcPort = h.srcPort[slot];
    const dstPort = h.dstPort[slot];
    const isMold = h.kind[slot] === Kind.Mold;
    const kind = isMold ? MessageKind.MOLDUDP64 : MessageKind.RAW;
    const len = h.length[slot];
    let size = 1 + varintSizeSplit(seqHi, seqLo) + 1 + varintSizeSplit(rxHi, rxLo) + 2 + addrLen + 1 + varintSize(srcPort) + 1 + varintSize(dstPort) + 2 + 1 + varintSize(len) + len;
    let session = EMPTY;
    let moldHi = 0;
    let moldLo = 0;
    let moldSize = 0;
    if (isMold) {
      session = this.session(h.session[slot]);
      const moldSeq = h.moldSeq[slot];
      moldHi = Math.floor(moldSeq / TWO_28);
      moldLo = moldSeq - moldHi * TWO_28;
      moldSize = 1 + varintSize(session.length) + session.length + 1 + varintSizeSplit(moldHi, moldLo);
      size += 1 + varintSize(moldSize) + moldSize;
    }
    this.ensure(1 + varintSize(size) + size);
    const b = this.buf;
    let p = this.pos;
    b[p++] = 0x0a; // FeedBatch.messages
    p = writeVarint(b, p, size);
    b[p++] = 0x08; // sequence
    p = writeVarintSplit(b, p, seqHi, seqLo);
    b[p++] = 0x10; // receive_time_ns
    p = writeVarintSplit(b, p, rxHi, rxLo);
    b[p++] = 0x1a; // source_address
    b[p++] = addrLen;
    const a = slot * 16;
    const addr = h.srcAddr;
    for (let i = 0; i < addrLen; i++) b[p + i] = addr[a + i];
    p += addrLen;
    b[p++] = 0x20; // source_port
    p = writeVarint(b, p, srcPort);
    b[p++] = 0x28; // destination_port
    p = writeVarint(b, p, dstPort);
    b[p++] = 0x30; // kind
    b[p++] = kind;
    b[p++] = 0x3a; // payload
    p = writeVarint(b, p, len);
    const off = h.dataOff[slot];
    if (len <= 64) {
      const d = h.data;
      for (let i = 0; i < len; i++) b[p + i] = d[off + i];
    } else {
      h.data.copy(b, p, off, off + len);
    }
    p += len;
    if (isMold) {
      b[p++] = 0x42; // mold
      p = writeVarint(b, p, moldSize);
      b[p++] = 0x0a; // session
      p = writeVarint(b, p, session.length);
      for (let i = 0; i < session.length; i++) b[p + i] = session[i];
      p += session.length;
      b[p++] = 0x10; // sequence
      p = writeVarintSplit(b, p, moldHi, moldLo);
    }
    this.pos = p;
    this.messages++;
  }

  /**
   * The batch's bytes: the messages, then the events. A fresh Buffer (grpc-js keeps a
   * reference to what it is given until it is sent); the writer's own stays for the next.
   */
  finish(): Buffer {
    for (const e of this.events) this.writeEvent(e);
    this.events = [];
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  private session(index: number): Buffer {
    const name = this.sessions.sessionName(index);
    if (this.sessionNames[index] !== name) {
      this.sessionNames[index] = name;
      this.sessionBytes[index] = Buffer.from(name, 'utf8');
    }
    return this.sessionBytes[index];
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const bigger = Buffer.allocUnsafe(size);
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  // Events: rare, so written through a small field list rather than by hand one by one.
  private writeEvent(e: EventObject): void {
    let tag: number;
    let fields: Field[];
    if (e.heartbeat) (tag = 3), (fields = []);
    else if (e.gap) (tag = 4), (fields = [str(1, e.gap.session), uint(2, e.gap.port), uint(3, e.gap.firstMissing), uint(4, e.gap.count)]);
    else if (e.skipped) (tag = 5), (fields = [uint(1, e.skipped.count), uint(2, e.skipped.firstSequence), uint(3, e.skipped.lastSequence)]);
    else if (e.resumeUnavailable) {
      const r = e.resumeUnavailable;
      tag = 6;
      fields = [uint(1, r.requestedSequence), uint(2, r.oldestSequence), uint(3, r.nextSequence)];
    } else if (e.endOfSession) (tag = 7), (fields = [str(1, e.endOfSession.session), uint(2, e.endOfSession.port)]);
    else if (e.shutdown) (tag = 8), (fields = [str(1, e.shutdown.reason)]);
    else if (e.subscribed) (tag = 9), (fields = [uint(1, e.subscribed.oldestSequence)]);
    else throw new Error('status event without a kind');
    let inner = 0;
    for (const f of fields) inner += fieldSize(f);
    const body = 1 + varintSize(e.nextSequence) + 1 + varintSize(e.timeNs) + 1 + varintSize(inner) + inner;
    this.ensure(1 + varintSize(body) + body);
    const b = this.buf;
    let p = this.pos;
    b[p++] = 0x12; // FeedBatch.events
    p = writeVarint(b, p, body);
    b[p++] = 0x08;
    p = writeVarint(b, p, e.nextSequence);
    b[p++] = 0x10;
    p = writeVarint(b, p, e.timeNs);
    b[p++] = (tag << 3) | 2;
    p = writeVarint(b, p, inner);
    for (const f of fields) {
      if (f.bytes) {
        b[p++] = (f.no << 3) | 2;
        p = writeVarint(b, p, f.bytes.length);
        f.bytes.copy(b, p);
        p += f.bytes.length;
      } else {
        b[p++] = f.no << 3;
        p = typeof f.value === 'bigint' ? writeVarintBig(b, p, f.value) : writeVarint(b, p, f.value);
      }
    }
    this.pos = p;
  }
}

interface Field {
  no: number;
  value: number | bigint;
  bytes?: Buffer;
}
const uint = (no: number, value: number | bigint): Field => ({ no, value });
const str = (no: number, s: string): Field => ({ no, value: 0, bytes: Buffer.from(s, 'utf8') });
const fieldSize = (f: Field): number =>
  1 + (f.bytes ? varintSize(f.bytes.length) + f.bytes.length : typeof f.value === 'bigint' ? varintSizeBig(f.value) : varintSize(f.value));

/** A uint64 given as a bigint (exact up to 2^64 − 1): bytes as a varint. */
export function varintSizeBig(v: bigint): number {
  let n = 1;
  while (v >= 0x80n) (v >>= 7n), n++;
  return n;
}

/** Write a uint64 given as a bigint as a varint at `pos`; returns the position after it. */
export function writeVarintBig(b: Uint8Array, pos: number, v: bigint): number {
  if (v < 0n || v >= 1n << 64n) throw new RangeError(`${v} is not a uint64`);
  while (v >= 0x80n) {
    b[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  b[pos++] = Number(v);
  return pos;
}
