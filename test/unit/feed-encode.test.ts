/**
 * The hand-written FeedBatch encoder (src/feed/encode.ts) and the client's decoder
 * (src/feed/decode.ts) against protobufjs, the reference:
 * randomized batches (raw and MoldUDP64 messages, IPv4 and IPv6 sources, zero-length and large
 * payloads, sequences and times above 2^32, every status event kind) decode with protobufjs to
 * exactly what was put in, field for field, and are the very bytes protobufjs encodes from the
 * equivalent objects; and the client's decoder gives what protobufjs's decode gives.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { mulberry32 } from '../helpers/prng.js';
import { History, Kind, NO_SESSION } from '../../src/feed/history.js';
import { BatchWriter, varintSize, writeVarint, type EventObject } from '../../src/feed/encode.js';
import { BatchView, decodeFeedBatch, fromProtobufjs } from '../../src/feed/decode.js';
import { decodeBatch, encodeBatch, MessageKind, PROTO_PATH } from '../../src/feed/proto.js';
import { datagramView } from '../helpers/frames.js';

const FeedBatch = protobuf.loadSync(PROTO_PATH).lookupType('xsk.feed.v1.FeedBatch');
const decode = (b: Uint8Array) => FeedBatch.toObject(FeedBatch.decode(b), { longs: Number, enums: Number, bytes: Array, defaults: true, oneofs: true });

/** Seeded draws (the shared mulberry32), so a failure can be reproduced from its seed. */
function rng(seed: number) {
  const next = mulberry32(seed);
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    /** Any integer below 2^53, spread over its magnitudes. */
    u53: () => Math.floor(next() * 2 ** Math.floor(next() * 53)),
  };
}

const SESSIONS = ['SESSION001', 'ABCDEFGHIJ', 'caf\u00e9 \u00ff    ', ''];

interface Expected {
  messages: Record<string, unknown>[];
  events: Record<string, unknown>[];
}

function randomEvent(r: ReturnType<typeof rng>): EventObject {
  const base = { nextSequence: r.u53(), timeNs: r.u53() };
  switch (r.int(7)) {
    case 0:
      return { ...base, heartbeat: {} };
    case 1:
      return { ...base, gap: { session: SESSIONS[r.int(SESSIONS.length)], port: r.int(65536), firstMissing: r.u53(), count: r.u53() } };
    case 2:
      return { ...base, skipped: { count: r.u53(), firstSequence: r.u53(), lastSequence: r.u53() } };
    case 3:
      return { ...base, resumeUnavailable: { requestedSequence: r.u53(), oldestSequence: r.u53(), nextSequence: r.u53() } };
    case 4:
      return { ...base, endOfSession: { session: SESSIONS[r.int(SESSIONS.length)], port: r.int(65536) } };
    case 5:
      return { ...base, shutdown: { reason: r.next() < 0.2 ? '' : 'server stopping \u2013 bye' } };
    default:
      return { ...base, subscribed: { oldestSequence: r.u53() } };
  }
}

/** The event as protobufjs's toObject gives it back (every oneof member, `event` naming the set one). */
function expectEvent(e: EventObject): Record<string, unknown> {
  const out: Record<string, unknown> = { nextSequence: e.nextSequence, timeNs: e.timeNs };
  for (const k of ['heartbeat', 'gap', 'skipped', 'resumeUnavailable', 'endOfSession', 'shutdown', 'subscribed'] as const) {
    if (e[k]) {
      out[k] = { ...e[k] };
      out.event = k;
    }
  }
  return out;
}

function randomBatch(seed: number) {
  const r = rng(seed);
  const h = new History({ messages: 1024, bytes: 1 << 20 });
  const w = new BatchWriter({ sessionName: (i) => SESSIONS[i] }, 64); // tiny, so it has to grow
  const src = Buffer.alloc(70000 + 16);
  const ADDR = 70000;
  const expected: Expected = { messages: [], events: [] };
  const objects: { messages: object[]; events: object[] } = { messages: [], events: [] };
  w.reset();
  const n = r.int(40);
  for (let i = 0; i < n; i++) {
    const roll = r.next();
    const len = roll < 0.15 ? 0 : roll < 0.25 ? 64 + r.int(65000) : r.int(200);
    for (let j = 0; j < len; j++) src[j] = r.int(256);
    const family = r.next() < 0.5 ? 4 : 6;
    for (let j = 0; j < 16; j++) src[ADDR + j] = r.int(256);
    const mold = r.next() < 0.5;
    const session = mold ? r.int(SESSIONS.length) : NO_SESSION;
    const moldSeq = mold ? r.u53() : 0;
    const rxNs = r.u53();
    const srcPort = r.int(65536);
    const dstPort = r.int(65536);
    const seq = r.next() < 0.5 ? h.next : 2 ** 32 + r.u53() / 2; // also above 2^32
    const view = datagramView({ payloadOffset: 0, payloadLength: len, rxNs, ipVersion: family, srcAddrOffset: ADDR, srcPort, dstPort });
    const got = h.append(src, 0, len, view, mold ? Kind.Mold : Kind.Raw, session, moldSeq);
    w.message(h, h.slot(got), seq);
    const payload = [...src.subarray(0, len)];
    const sourceAddress = [...src.subarray(ADDR, ADDR + (family === 4 ? 4 : 16))];
    const kind = mold ? MessageKind.MOLDUDP64 : MessageKind.RAW;
    expected.messages.push({
      sequence: Math.floor(seq),
      receiveTimeNs: rxNs,
      sourceAddress,
      sourcePort: srcPort,
      destinationPort: dstPort,
      kind,
      payload,
      mold: mold ? { session: SESSIONS[session], sequence: moldSeq } : null,
    });
    objects.messages.push({
      sequence: Math.floor(seq),
      receiveTimeNs: rxNs,
      sourceAddress: Buffer.from(sourceAddress),
      sourcePort: srcPort,
      destinationPort: dstPort,
      kind,
      payload: Buffer.from(payload),
      mold: mold ? { session: SESSIONS[session], sequence: moldSeq } : undefined,
    });
    if (r.next() < 0.15) {
      const e = randomEvent(r);
      w.event(e);
      expected.events.push(expectEvent(e));
      objects.events.push(e);
    }
  }
  const extra = r.int(3);
  for (let i = 0; i < extra; i++) {
    const e = randomEvent(r);
    w.event(e);
    expected.events.push(expectEvent(e));
    objects.events.push(e);
  }
  const count = w.messages;
  return { bytes: w.finish(), expected, objects, count, writer: w };
}

describe('feed encoder (against protobufjs)', () => {
  it('varints match protobufjs for values up to 2^53', () => {
    const r = rng(7);
    const b = Buffer.alloc(16);
    const values = [0, 1, 127, 128, 16383, 16384, 2 ** 28 - 1, 2 ** 28, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35, 2 ** 49, 2 ** 53 - 1];
    for (let i = 0; i < 2000; i++) values.push(r.u53());
    for (const v of values) {
      const end = writeVarint(b, 0, v);
      assert.equal(end, varintSize(v), `size of ${v}`);
      const ref = protobuf.Writer.create().uint64(v).finish();
      assert.deepEqual([...b.subarray(0, end)], [...ref], `varint ${v}`);
    }
  });

  it('randomized batches decode field for field, and are the bytes protobufjs makes', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const { bytes, expected, objects, count } = randomBatch(seed);
      assert.equal(count, expected.messages.length);
      const got = decode(bytes);
      assert.deepEqual(got.messages, expected.messages, `messages, seed ${seed}`);
      assert.deepEqual(got.events, expected.events, `events, seed ${seed}`);
      assert.deepEqual(bytes, Buffer.from(encodeBatch(objects)), `bytes, seed ${seed}`);
    }
  });

  it('reuses its buffer: each finish() is a fresh Buffer, untouched by the next batch', () => {
    const a = randomBatch(11);
    const copy = Buffer.from(a.bytes);
    const w = a.writer;
    w.reset();
    w.event({ nextSequence: 1, timeNs: 2, heartbeat: {} });
    const b = w.finish();
    assert.deepEqual(a.bytes, copy);
    assert.deepEqual(decode(b), { messages: [], events: [{ nextSequence: 1, timeNs: 2, heartbeat: {}, event: 'heartbeat' }] });
    w.reset();
    assert.equal(w.empty, true);
    assert.equal(w.finish().length, 0);
  });
});

describe('feed client decoder (against protobufjs)', () => {
  it('randomized batches decode as protobufjs decodes them', () => {
    let messages = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const { bytes, count } = randomBatch(seed);
      messages += count;
      assert.deepEqual(decodeFeedBatch(bytes), fromProtobufjs(decodeBatch(bytes)), `seed ${seed}`);
    }
    assert.ok(messages > 300 * 10, `only ${messages} messages in 300 batches`);
  });

  it('skips fields it does not know, and takes absent fields as their defaults', () => {
    const w = protobuf.Writer.create();
    // A message with only a sequence and an unknown field of each wire type, then an unknown
    // top-level field, then a second message with a MoldFields holding only a sequence.
    const m1 = protobuf.Writer.create().uint32(0x08).uint64(5).uint32((20 << 3) | 0).uint64(7).uint32((21 << 3) | 1).fixed64(1)
      .uint32((22 << 3) | 2).bytes(Buffer.from('xyz')).uint32((23 << 3) | 5).fixed32(9).finish();
    w.uint32(0x0a).bytes(m1);
    w.uint32((9 << 3) | 2).bytes(Buffer.from('unknown'));
    const mold = protobuf.Writer.create().uint32(0x10).uint64(2 ** 40).finish();
    const m2 = protobuf.Writer.create().uint32(0x42).bytes(mold).finish();
    w.uint32(0x0a).bytes(m2);
    const bytes = Buffer.from(w.finish());
    const got = decodeFeedBatch(bytes);
    // protobufjs gives an absent bytes field as [] (not a Buffer); the decoder, an empty Buffer.
    const ref = fromProtobufjs(decodeBatch(bytes));
    for (const m of ref.messages) m.payload = Buffer.from(m.payload);
    assert.deepEqual(got, ref);
    assert.ok(Buffer.isBuffer(got.messages[0].payload));
    assert.equal(got.messages.length, 2);
    assert.equal(got.messages[0].sequence, 5);
    assert.deepEqual(got.messages[1].mold, { session: '', sequence: 2 ** 40 });
  });

  it('one BatchView read in place says what the objects say, batch after batch', () => {
    const view = new BatchView();
    // Batches of every size in turn, and one past the view's first capacity (1024) so it grows.
    const batches = [];
    for (let seed = 1; seed <= 300; seed++) batches.push(randomBatch(seed).bytes);
    const big = protobuf.Writer.create();
    for (let i = 0; i < 3000; i++) {
      const m = protobuf.Writer.create().uint32(0x08).uint64(1e9 + i).uint32(0x3a).bytes(Buffer.from([i & 0xff, i >> 8])).finish();
      big.uint32(0x0a).bytes(m);
    }
    batches.splice(150, 0, Buffer.from(big.finish()));
    for (const [n, bytes] of batches.entries()) {
      const ref = fromProtobufjs(decodeBatch(bytes));
      const v = view.decode(bytes);
      assert.equal(v.count, ref.messages.length, `batch ${n}`);
      assert.deepEqual(v.events, ref.events, `batch ${n}`);
      for (let i = 0; i < v.count; i++) {
        const m = ref.messages[i];
        const at = `batch ${n} message ${i}`;
        assert.equal(v.sequence(i), m.sequence, at);
        assert.equal(v.receiveTimeNs(i), m.receiveTimeNs, at);
        assert.equal(v.source(i), m.source, at);
        assert.equal(v.sourcePort(i), m.sourcePort, at);
        assert.equal(v.destinationPort(i), m.destinationPort, at);
        assert.equal(v.kind(i), m.kind, at);
        assert.deepEqual(Buffer.from(v.bytes.subarray(v.payloadOffset(i), v.payloadOffset(i) + v.payloadLength(i))), Buffer.from(m.payload), at);
        assert.equal(v.isMold(i), m.mold !== undefined, at);
        if (m.mold) {
          assert.equal(v.moldSession(i), m.mold.session, at);
          assert.equal(v.moldSequence(i), m.mold.sequence, at);
        }
      }
    }
  });

  it('rejects a truncated batch', () => {
    let seed = 1;
    while (randomBatch(seed).count < 2) seed++;
    const { bytes } = randomBatch(seed);
    const cut = bytes.subarray(0, Math.max(1, bytes.length - 3));
    assert.throws(() => decodeFeedBatch(Buffer.from(cut)), RangeError);
  });
});
