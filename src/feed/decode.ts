/**
 * FeedBatch decoding for the client, straight into FeedBatch (client.ts's types).
 *
 * protobufjs decoded each message into its own message object (uint64s as Longs, a MoldFields
 * object, a subarray per bytes field) which the client then copied into a FeedMessage: about
 * 1 µs a message, the client's largest cost. Here a FeedMessage is made directly from the
 * bytes: uint64 varints become numbers (exact below 2^53), the payload is a view into the
 * received Buffer (as protobufjs gave it), the source address and MoldUDP64 session are turned
 * into strings only when they differ from the previous message's. Unknown fields are skipped.
 * Status events are rare and go through protobufjs (`fromProtobufjs`, which is also the
 * reference the tests compare this decoder with).
 */
import type { FeedBatch, FeedMessage, StatusEvent } from './client.js';
import { formatAddress } from './filter.js';
import { decodeStatusEvent, MessageKind } from './proto.js';

const EMPTY: Buffer = Buffer.alloc(0);

class Reader {
  pos = 0;
  constructor(readonly b: Buffer) {}

  varint(): number {
    const b = this.b;
    let x = b[this.pos++];
    if (x < 0x80) return x;
    let v = x & 0x7f;
    let mul = 0x80;
    for (let i = 1; i < 10; i++) {
      if (this.pos >= b.length) throw new RangeError('feed: truncated varint');
      x = b[this.pos++];
      v += (x & 0x7f) * mul;
      if (x < 0x80) return v;
      mul *= 0x80;
    }
    throw new RangeError('feed: varint too long');
  }

  /** The end of a length-delimited field whose length is next. */
  end(): number {
    const len = this.varint();
    const end = this.pos + len;
    if (end > this.b.length) throw new RangeError('feed: field runs past the end');
    return end;
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

/** The last source address and session formatted (a feed's come from a few of each). */
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

function message(r: Reader, end: number): FeedMessage {
  const b = r.b;
  let sequence = 0;
  let receiveTimeNs = 0;
  let source = '';
  let sourceSeen = false;
  let sourcePort = 0;
  let destinationPort = 0;
  let kind = 0;
  let payload = EMPTY;
  let session: string | undefined;
  let moldSeq = 0;
  let mold = false;
  while (r.pos < end) {
    const tag = r.varint();
    switch (tag) {
      case 0x08:
        sequence = r.varint();
        break;
      case 0x10:
        receiveTimeNs = r.varint();
        break;
      case 0x1a: {
        const e = r.end();
        source = addressText(b, r.pos, e);
        sourceSeen = true;
        r.pos = e;
        break;
      }
      case 0x20:
        sourcePort = r.varint();
        break;
      case 0x28:
        destinationPort = r.varint();
        break;
      case 0x30:
        kind = r.varint();
        break;
      case 0x3a: {
        const e = r.end();
        payload = b.subarray(r.pos, e);
        r.pos = e;
        break;
      }
      case 0x42: {
        const e = r.end();
        mold = true;
        while (r.pos < e) {
          const t = r.varint();
          if (t === 0x0a) {
            const se = r.end();
            session = sessionText(b, r.pos, se);
            r.pos = se;
          } else if (t === 0x10) moldSeq = r.varint();
          else r.skip(t & 7);
        }
        break;
      }
      default:
        r.skip(tag & 7);
    }
  }
  if (!sourceSeen) source = formatAddress(EMPTY);
  const m: FeedMessage = {
    sequence,
    receiveTimeNs,
    source,
    sourcePort,
    destinationPort,
    kind: kind === MessageKind.MOLDUDP64 ? 'moldudp64' : 'raw',
    payload,
  };
  if (mold) m.mold = { session: session ?? '', sequence: moldSeq };
  return m;
}

/** A FeedBatch from its protobuf bytes. */
export function decodeFeedBatch(b: Buffer): FeedBatch {
  const r = new Reader(b);
  const messages: FeedMessage[] = [];
  const events: StatusEvent[] = [];
  while (r.pos < b.length) {
    const tag = r.varint();
    if (tag === 0x0a) {
      const end = r.end();
      messages.push(message(r, end));
      r.pos = end;
    } else if (tag === 0x12) {
      const end = r.end();
      events.push(toEvent(decodeStatusEvent(b.subarray(r.pos, end))));
      r.pos = end;
    } else {
      r.skip(tag & 7);
    }
  }
  return { messages, events };
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
