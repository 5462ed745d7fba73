/**
 * FeedBatch decoding for the client, in place.
 *
 * `BatchView` reads a batch's bytes once into typed arrays (each message's sequence, receive
 * time, ports, kind, and where its source address, payload and MoldUDP64 session lie in the
 * buffer): no object per message, so a consumer that reads fields by index allocates nothing
 * per message. `decodeFeedBatch` makes FeedMessage objects from a view, for consumers that want
 * plain objects (the payload is then a view into the received Buffer, as protobufjs gave it).
 * uint64 varints become numbers (exact below 2^53). Source addresses and session names become
 * strings only when they differ from the previous ones asked for. Unknown fields are skipped.
 * Status events are rare and go through protobufjs (`fromProtobufjs` is also the reference the
 * tests compare this decoder with).
 */
import type { FeedBatch, FeedMessage, Kind, StatusEvent } from './types.js';
import { formatAddress } from './filter.js';
import { decodeStatusEvent, MessageKind } from './proto.js';

const EMPTY: Buffer = Buffer.alloc(0);

class Reader {
  pos = 0;
  constructor(readonly b: Buffer) {}

  varint(): number {
    const v = varintAt(this.b, this.pos);
    this.pos = after;
    return v;
  }

  /** The end of a length-delimited field whose length is next. */
  end(): number {
    const e = lengthEnd(this.b, this.pos);
    this.pos = after;
    return e;
  }

  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        return;
      case 2:
        this.pos = this.end();
        return;
      case 5:
        this.pos += 4;
        return;
      default:
        throw new RangeError(`feed: unsupported wire type ${wire}`);
    }
  }
}

/** Where the last varintAt or lengthEnd stopped reading. */
let after = 0;

/**
 * The varint at `p` in `b` (its end in `after`). A plain function over a local position: the
 * message loop's varints cost less this way than through Reader's property updates.
 */
function varintAt(b: Buffer, p: number): number {
  let x = b[p++];
  if (x < 0x80) {
    after = p;
    return x;
  }
  let v = x & 0x7f;
  let mul = 0x80;
  const last = Math.min(b.length, p + 9);
  while (p < last) {
    x = b[p++];
    v += (x & 0x7f) * mul;
    if (x < 0x80) {
      after = p;
      return v;
    }
    mul *= 0x80;
  }
  throw new RangeError(p >= b.length ? 'feed: truncated varint' : 'feed: varint too long');
}

/** The end of the length-delimited field whose length is at `p` (its start in `after`). */
function lengthEnd(b: Buffer, p: number): number {
  const len = varintAt(b, p);
  const end = after + len;
  if (end > b.length) throw new RangeError('feed: field runs past the end');
  return end;
}

/** The last source address and session turned into text (a feed's come from a few of each). */
let lastAddr: Buffer = EMPTY;
let lastAddrText = formatAddress(EMPTY);
let lastSession: Buffer = EMPTY;
let lastSessionText = '';

function sameBytes(a: Buffer, b: Buffer, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[start + i]) return false;
  return true;
}

function addressText(b: Buffer, start: number, end: number): string {
  if (!sameBytes(lastAddr, b, start, end)) {
    lastAddr = Buffer.from(b.subarray(start, end));
    lastAddrText = formatAddress(lastAddr);
  }
  return lastAddrText;
}

function sessionText(b: Buffer, start: number, end: number): string {
  if (!sameBytes(lastSession, b, start, end)) {
    lastSession = Buffer.from(b.subarray(start, end));
    lastSessionText = lastSession.toString('utf8');
  }
  return lastSessionText;
}

const NONE = -1;

/**
 * One batch, read in place. `decode(bytes)` fills it; then message i's fields are read by
 * index (`sequence(i)`, `payloadOffset(i)`...). Reused from batch to batch: what it says is
 * valid until the next `decode`, and the payloads are in `bytes`, the buffer it was given.
 */
export class BatchView {
  /** The batch's bytes (payloads are read from here). */
  bytes: Buffer = EMPTY;
  /** Messages in the batch. */
  count = 0;
  /** The batch's status events, in order (each comes before the message with its nextSequence). */
  events: StatusEvent[] = [];
  private seq = new Float64Array(1024);
  private rx = new Float64Array(1024);
  private moldSeq = new Float64Array(1024);
  private srcPort = new Uint16Array(1024);
  private dstPort = new Uint16Array(1024);
  private kindCode = new Uint8Array(1024);
  /** Offsets (start, end) of the payload, source address and session; NONE when absent. */
  private payStart = new Int32Array(1024);
  private payEnd = new Int32Array(1024);
  private addrStart = new Int32Array(1024);
  private addrEnd = new Int32Array(1024);
  private sessStart = new Int32Array(1024);
  private sessEnd = new Int32Array(1024);

  /** Read a batch's protobuf bytes; throws RangeError when they are malformed. */
  decode(b: Buffer): this {
    const r = new Reader(b);
    this.bytes = b;
    this.count = 0;
    this.events = [];
    while (r.pos < b.length) {
      const tag = r.varint();
      if (tag === 0x0a) {
        const end = r.end();
        this.read(r, end);
        r.pos = end;
      } else if (tag === 0x12) {
        const end = r.end();
        this.events.push(toEvent(decodeStatusEvent(b.subarray(r.pos, end))));
        r.pos = end;
      } else {
        r.skip(tag & 7);
      }
    }
    return this;
  }

  private read(r: Reader, end: number): void {
    const i = this.count;
    if (i === this.seq.length) this.grow();
    this.count = i + 1;
    if (this.readAsWritten(r.b, r.pos, end, i)) {
      r.pos = end;
      return;
    }
    let sequence = 0;
    let receiveTimeNs = 0;
    let sourcePort = 0;
    let destinationPort = 0;
    let kind = 0;
    let moldSeq = 0;
    let payStart = 0;
    let payEnd = 0;
    let addrStart = NONE;
    let addrEnd = NONE;
    let sessStart = NONE;
    let sessEnd = NONE;
    // Any other layout: field by field, positions in a local, varints through varintAt.
    const b = r.b;
    let p = r.pos;
    while (p < end) {
      const tag = varintAt(b, p);
      p = after;
      switch (tag) {
        case 0x08:
          sequence = varintAt(b, p);
          p = after;
          break;
        case 0x10:
          receiveTimeNs = varintAt(b, p);
          p = after;
          break;
        case 0x1a:
          addrEnd = lengthEnd(b, p);
          addrStart = after;
          p = addrEnd;
          break;
        case 0x20:
          sourcePort = varintAt(b, p);
          p = after;
          break;
        case 0x28:
          destinationPort = varintAt(b, p);
          p = after;
          break;
        case 0x30:
          kind = varintAt(b, p);
          p = after;
          break;
        case 0x3a:
          payEnd = lengthEnd(b, p);
          payStart = after;
          p = payEnd;
          break;
        case 0x42: {
          const e = lengthEnd(b, p);
          p = after;
          // A MoldUDP64 message: its session is '' unless the field says otherwise.
          sessStart = sessEnd = p;
          while (p < e) {
            const t = varintAt(b, p);
            p = after;
            if (t === 0x0a) {
              sessEnd = lengthEnd(b, p);
              sessStart = after;
              p = sessEnd;
            } else if (t === 0x10) {
              moldSeq = varintAt(b, p);
              p = after;
            } else {
              r.pos = p;
              r.skip(t & 7);
              p = r.pos;
            }
          }
          break;
        }
        default:
          r.pos = p;
          r.skip(tag & 7);
          p = r.pos;
      }
    }
    r.pos = p;
    this.set(i, sequence, receiveTimeNs, sourcePort, destinationPort, kind, moldSeq, payStart, payEnd, addrStart, addrEnd, sessStart, sessEnd);
  }

  /**
   * Message i as xsk's encoder writes it (encode.ts: every field once, in field order, one-byte
   * lengths), read straight through without the field switch. False, with nothing stored, for
   * any other layout: the general loop then reads it.
   */
  private readAsWritten(b: Buffer, p: number, end: number, i: number): boolean {
    if (b[p] !== 0x08) return false;
    const sequence = varintAt(b, p + 1);
    p = after;
    if (b[p] !== 0x10) return false;
    const receiveTimeNs = varintAt(b, p + 1);
    p = after;
    const addrLen = b[p + 1];
    if (b[p] !== 0x1a || addrLen >= 0x80) return false;
    const addrStart = p + 2;
    p = addrStart + addrLen;
    if (b[p] !== 0x20) return false;
    const sourcePort = varintAt(b, p + 1);
    p = after;
    if (b[p] !== 0x28) return false;
    const destinationPort = varintAt(b, p + 1);
    p = after;
    const kind = b[p + 1];
    if (b[p] !== 0x30 || kind >= 0x80) return false;
    p += 2;
    const payLen = b[p + 1];
    if (b[p] !== 0x3a || payLen >= 0x80) return false;
    const payStart = p + 2;
    p = payStart + payLen;
    let sessStart = NONE;
    let sessEnd = NONE;
    let moldSeq = 0;
    if (p < end) {
      // MoldFields { 1: session, 2: sequence }.
      const moldLen = b[p + 1];
      const sessLen = b[p + 3];
      if (b[p] !== 0x42 || moldLen >= 0x80 || b[p + 2] !== 0x0a || sessLen >= 0x80) return false;
      const moldEnd = p + 2 + moldLen;
      sessStart = p + 4;
      sessEnd = sessStart + sessLen;
      p = sessEnd;
      if (b[p] !== 0x10) return false;
      moldSeq = varintAt(b, p + 1);
      p = after;
      if (p !== moldEnd) return false;
    }
    // Every field ended where the next began, and the last at the message's end: all of them lie
    // inside the message.
    if (p !== end) return false;
    this.set(i, sequence, receiveTimeNs, sourcePort, destinationPort, kind, moldSeq, payStart, payStart + payLen, addrStart, addrStart + addrLen, sessStart, sessEnd);
    return true;
  }

  private set(
    i: number,
    sequence: number,
    receiveTimeNs: number,
    sourcePort: number,
    destinationPort: number,
    kind: number,
    moldSeq: number,
    payStart: number,
    payEnd: number,
    addrStart: number,
    addrEnd: number,
    sessStart: number,
    sessEnd: number,
  ): void {
    this.seq[i] = sequence;
    this.rx[i] = receiveTimeNs;
    this.srcPort[i] = sourcePort;
    this.dstPort[i] = destinationPort;
    this.kindCode[i] = kind;
    this.moldSeq[i] = moldSeq;
    this.payStart[i] = payStart;
    this.payEnd[i] = payEnd;
    this.addrStart[i] = addrStart;
    this.addrEnd[i] = addrEnd;
    this.sessStart[i] = sessStart;
    this.sessEnd[i] = sessEnd;
  }

  private grow(): void {
    const n = this.seq.length * 2;
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    const u16 = (a: Uint16Array) => {
      const b = new Uint16Array(n);
      b.set(a);
      return b;
    };
    this.seq = f64(this.seq);
    this.rx = f64(this.rx);
    this.moldSeq = f64(this.moldSeq);
    this.srcPort = u16(this.srcPort);
    this.dstPort = u16(this.dstPort);
    const k = new Uint8Array(n);
    k.set(this.kindCode);
    this.kindCode = k;
    this.payStart = i32(this.payStart);
    this.payEnd = i32(this.payEnd);
    this.addrStart = i32(this.addrStart);
    this.addrEnd = i32(this.addrEnd);
    this.sessStart = i32(this.sessStart);
    this.sessEnd = i32(this.sessEnd);
  }

  /** The server's sequence number of message i. */
  sequence(i: number): number {
    return this.seq[i];
  }

  /** CLOCK_MONOTONIC ns at the server when message i's datagram was received. */
  receiveTimeNs(i: number): number {
    return this.rx[i];
  }

  sourcePort(i: number): number {
    return this.srcPort[i];
  }

  destinationPort(i: number): number {
    return this.dstPort[i];
  }

  kind(i: number): Kind {
    return this.kindCode[i] === MessageKind.MOLDUDP64 ? 'moldudp64' : 'raw';
  }

  /** The source address as text. */
  source(i: number): string {
    const s = this.addrStart[i];
    return s === NONE ? formatAddress(EMPTY) : addressText(this.bytes, s, this.addrEnd[i]);
  }

  /** Where message i's payload lies in `bytes`: [payloadOffset, payloadOffset + payloadLength). */
  payloadOffset(i: number): number {
    return this.payStart[i];
  }

  payloadLength(i: number): number {
    return this.payEnd[i] - this.payStart[i];
  }

  /** Message i's payload, as a view into `bytes` (one small object: for reading by index, use the offsets). */
  payload(i: number): Buffer {
    return this.bytes.subarray(this.payStart[i], this.payEnd[i]);
  }

  /** Whether message i came from a MoldUDP64 packet (then `moldSession` and `moldSequence` say where). */
  isMold(i: number): boolean {
    return this.sessStart[i] !== NONE;
  }

  moldSession(i: number): string {
    const s = this.sessStart[i];
    return s === NONE ? '' : sessionText(this.bytes, s, this.sessEnd[i]);
  }

  /** The sender's MoldUDP64 sequence number of message i. */
  moldSequence(i: number): number {
    return this.moldSeq[i];
  }

  /** Message i as a plain object. */
  message(i: number): FeedMessage {
    const m: FeedMessage = {
      sequence: this.seq[i],
      receiveTimeNs: this.rx[i],
      source: this.source(i),
      sourcePort: this.srcPort[i],
      destinationPort: this.dstPort[i],
      kind: this.kind(i),
      payload: this.payload(i),
    };
    if (this.isMold(i)) m.mold = { session: this.moldSession(i), sequence: this.moldSeq[i] };
    return m;
  }
}

/** A FeedBatch from its protobuf bytes (a plain object per message). */
export function decodeFeedBatch(b: Buffer): FeedBatch {
  const v = new BatchView().decode(b);
  const messages: FeedMessage[] = new Array(v.count);
  for (let i = 0; i < v.count; i++) messages[i] = v.message(i);
  return { messages, events: v.events };
}


/** A uint64 as protobufjs decodes it (a Long, or a number) → number. */
function num(v: any): number {
  return typeof v === 'number' ? v : v.toNumber();
}

/** FeedBatch from protobufjs's decoded message (the reference path, see proto.ts decodeBatch). */
export function fromProtobufjs(raw: any): FeedBatch {
  const messages: FeedMessage[] = raw.messages.map((m: any) => {
    const msg: FeedMessage = {
      sequence: num(m.sequence),
      receiveTimeNs: num(m.receiveTimeNs),
      source: formatAddress(m.sourceAddress),
      sourcePort: m.sourcePort,
      destinationPort: m.destinationPort,
      kind: m.kind === MessageKind.MOLDUDP64 ? 'moldudp64' : 'raw',
      payload: m.payload,
    };
    if (m.mold) msg.mold = { session: m.mold.session, sequence: num(m.mold.sequence) };
    return msg;
  });
  return { messages, events: raw.events.map(toEvent) };
}

function toEvent(e: any): StatusEvent {
  const base = { nextSequence: num(e.nextSequence), timeNs: num(e.timeNs) };
  switch (e.event) {
    case 'gap':
      return { ...base, type: 'gap', session: e.gap.session, port: e.gap.port, firstMissing: num(e.gap.firstMissing), count: num(e.gap.count) };
    case 'skipped':
      return { ...base, type: 'skipped', count: num(e.skipped.count), firstSequence: num(e.skipped.firstSequence), lastSequence: num(e.skipped.lastSequence) };
    case 'resumeUnavailable':
      return {
        ...base,
        type: 'resume_unavailable',
        requestedSequence: num(e.resumeUnavailable.requestedSequence),
        oldestSequence: num(e.resumeUnavailable.oldestSequence),
        latestNext: num(e.resumeUnavailable.nextSequence),
      };
    case 'endOfSession':
      return { ...base, type: 'end_of_session', session: e.endOfSession.session, port: e.endOfSession.port };
    case 'shutdown':
      return { ...base, type: 'shutdown', reason: e.shutdown.reason };
    case 'subscribed':
      return { ...base, type: 'subscribed', oldestSequence: num(e.subscribed.oldestSequence) };
    default:
      return { ...base, type: 'heartbeat' };
  }
}
