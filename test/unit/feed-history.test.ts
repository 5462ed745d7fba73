/** The feed's history ring: eviction by slots and by bytes, contents intact, events. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { History, Kind, NO_SESSION, EventType } from '../../src/feed/history.js';
import { mulberry32 } from '../helpers/prng.js';
import { datagramView } from '../helpers/frames.js';

function payloadOf(seq: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (seq * 13 + i * 7) & 0xff;
  return b;
}

function append(h: History, seq: number, len: number, rxNs = seq * 1000): number {
  // Source address 10.0.0.<seq & 0xff> in front of the payload, as a frame would have it.
  const src = Buffer.concat([Buffer.from([10, 0, 0, seq & 0xff]), payloadOf(seq, len)]);
  const p = datagramView({ payloadOffset: 4, payloadLength: len, rxNs, ipVersion: 4, srcAddrOffset: 0, srcPort: 40000 + (seq % 100), dstPort: 9000 });
  return h.append(src, 4, len, p, Kind.Raw, NO_SESSION, 0);
}

function check(h: History, seq: number, len: number): void {
  const s = h.slot(seq);
  assert.equal(h.length[s], len, `length of ${seq}`);
  const got = h.data.subarray(h.dataOff[s], h.dataOff[s] + len);
  assert.ok(got.equals(payloadOf(seq, len)), `payload of ${seq}`);
  assert.equal(h.srcAddr[s * 16 + 3], seq & 0xff);
  assert.equal(h.srcPort[s], 40000 + (seq % 100));
  assert.equal(h.rxNs[s], seq * 1000);
}

describe('feed history', () => {
  it('numbers messages from 1 and keeps the newest `messages` when slots run out', () => {
    const h = new History({ messages: 1024, bytes: 1 << 20 });
    for (let i = 1; i <= 5000; i++) assert.equal(append(h, i, 10), i);
    assert.equal(h.next, 5001);
    assert.equal(h.oldest, 5001 - 1024);
    for (let s = h.oldest; s < h.next; s++) check(h, s, 10);
    assert.equal(h.totalBytes, 50000);
    assert.equal(h.bytesFrom(h.next - 10), 100);
  });

  it('evicts by bytes, wraps the data ring, and never corrupts a held payload (random sizes)', () => {
    const rnd = mulberry32(7);
    const h = new History({ messages: 4096, bytes: 131072 });
    const lens = new Map<number, number>();
    for (let i = 1; i <= 20000; i++) {
      const len = rnd() < 0.05 ? Math.floor(rnd() * 65000) : Math.floor(rnd() * 300);
      lens.set(i, len);
      append(h, i, len);
      let held = 0;
      for (let s = h.oldest; s < h.next; s++) held += lens.get(s)!;
      assert.ok(held <= 131072, `${held} bytes held at ${i}`);
      if (i % 97 === 0) for (let s = h.oldest; s < h.next; s++) check(h, s, lens.get(s)!);
    }
    assert.equal(h.next, 20001);
    assert.ok(h.size > 0 && h.size <= 4096);
    for (let s = h.oldest; s < h.next; s++) check(h, s, lens.get(s)!);
  });

  it('keeps empty payloads and a payload as large as a datagram gets', () => {
    const h = new History({ messages: 1024, bytes: 131072 });
    append(h, 1, 0);
    append(h, 2, 65507);
    append(h, 3, 0);
    append(h, 4, 65507);
    check(h, 4, 65507);
    check(h, 3, 0);
    assert.ok(h.oldest >= 2);
  });

  it('marks events with the message they come before, and finds them by sequence', () => {
    const h = new History({ messages: 1024, bytes: 1 << 20, events: 4 });
    append(h, 1, 5);
    h.event(EventType.Gap, 1, 0, 9000, 10, 5);
    append(h, 2, 5);
    append(h, 3, 5);
    h.event(EventType.EndOfSession, 2, 0, 9000, 0, 0);
    assert.equal(h.evNextSeq[0], 2);
    assert.equal(h.evNextSeq[1], 4);
    assert.equal(h.eventAtOrAfter(1), 0);
    assert.equal(h.eventAtOrAfter(3), 1);
    assert.equal(h.eventAtOrAfter(5), 2);
    for (let i = 0; i < 5; i++) h.event(EventType.Gap, 3, 0, 9000, 0, 1);
    assert.equal(h.nextEvent - h.oldestEvent, 4, 'the event ring is bounded');
  });
});
