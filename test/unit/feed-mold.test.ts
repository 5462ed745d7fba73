/**
 * MoldUDP64 through the feed's stage: messages into the history with the sender's sequence,
 * gaps, duplicates, out-of-order arrivals, heartbeats, end of session, malformed packets; raw
 * ports alongside.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildUdpFrame } from '../helpers/frames.js';
import { FrameParser } from '../../src/frame/parse.js';
import { NEXT } from '../../src/pipeline/stage.js';
import { History, Kind, EventType } from '../../src/feed/history.js';
import { FeedStage } from '../../src/feed/stage.js';
import { moldPacket, moldHeartbeat, moldEndOfSession, testMessage, checkTestMessage } from '../../src/feed/mold-packet.js';

function setup() {
  const h = new History({ messages: 4096, bytes: 1 << 20 });
  let wakes = 0;
  const stage = new FeedStage(h, new Map([[9000, 'moldudp64' as const]]), { dataWaiting: () => void wakes++ });
  const parser = new FrameParser();
  const send = (payload: Uint8Array, dstPort = 9000, srcIp = '10.0.0.1') => {
    const f = buildUdpFrame({ payload, dstPort, srcIp, dstIp: '10.0.0.2', srcPort: 41000 });
    assert.equal(parser.parse(f, 0, f.length), -1);
    parser.rxNs = 123456789;
    assert.equal(stage.datagram(f, 0, f.length, parser), NEXT);
  };
  /** Packet of `n` test messages starting at `seq`. */
  const pkt = (session: string, seq: number, n: number, size = 24) =>
    moldPacket(session, seq, Array.from({ length: n }, (_, i) => testMessage(seq + i, size)));
  return { h, stage, send, pkt, wakes: () => wakes };
}

/** The sender sequences held, in server order. */
function moldSeqs(h: History): number[] {
  const out: number[] = [];
  for (let s = h.oldest; s < h.next; s++) out.push(h.moldSeq[h.slot(s)]);
  return out;
}

describe('feed: MoldUDP64', () => {
  it('splits packets into messages, one server sequence each, payloads intact', () => {
    const { h, stage, send, pkt, wakes } = setup();
    for (let p = 0; p < 10; p++) send(pkt('SESS1', 1 + p * 5, 5, 16 + p));
    assert.equal(h.next - 1, 50);
    assert.deepEqual(moldSeqs(h), Array.from({ length: 50 }, (_, i) => i + 1));
    for (let s = 1; s <= 50; s++) {
      const slot = h.slot(s);
      assert.equal(h.kind[slot], Kind.Mold);
      assert.equal(h.dstPort[slot], 9000);
      assert.equal(h.srcPort[slot], 41000);
      assert.deepEqual([...h.srcAddr.subarray(slot * 16, slot * 16 + 4)], [10, 0, 0, 1]);
      assert.ok(checkTestMessage(h.data.subarray(h.dataOff[slot], h.dataOff[slot] + h.length[slot]), s));
    }
    const c = stage.mold.counters();
    assert.equal(c.packets, 10);
    assert.equal(c.messages, 50);
    assert.equal(c.gaps + c.duplicates + c.out_of_order + c.malformed, 0);
    assert.equal(stage.mold.sessionName(0), 'SESS1     ');
    assert.equal(stage.mold.sessionCount, 1);
    assert.equal(wakes(), 1, 'one flush asked for until the flush runs');
    stage.flushed();
    send(pkt('SESS1', 51, 1));
    assert.equal(wakes(), 2);
  });

  it('counts a gap once, as an event before the next message, and fills it out of order later', () => {
    const { h, stage, send, pkt } = setup();
    send(pkt('S', 1, 3)); // 1-3
    send(pkt('S', 7, 2)); // 7-8: 4,5,6 missing
    const c = stage.mold.counters();
    assert.equal(c.gaps, 1);
    assert.equal(c.gap_messages, 3);
    assert.equal(h.nextEvent, 1);
    assert.equal(h.evType[0], EventType.Gap);
    assert.equal(h.evNextSeq[0], 4, 'before the server sequence of message 7');
    assert.equal(h.evFirst[0], 4);
    assert.equal(h.evCount[0], 3);
    assert.equal(stage.mold.openGapMessages(0), 3);
    send(pkt('S', 5, 1)); // the middle one, late
    assert.equal(stage.mold.counters().out_of_order, 1);
    assert.equal(stage.mold.openGapMessages(0), 2);
    send(pkt('S', 4, 1));
    send(pkt('S', 6, 1));
    assert.equal(stage.mold.counters().out_of_order, 3);
    assert.equal(stage.mold.openGapMessages(0), 0);
    send(pkt('S', 5, 1)); // again: now a duplicate
    assert.equal(stage.mold.counters().duplicates, 1);
    assert.deepEqual(moldSeqs(h), [1, 2, 3, 7, 8, 5, 4, 6]);
  });

  it('delivers a duplicate once, and only the new part of an overlapping packet', () => {
    const { h, stage, send, pkt } = setup();
    send(pkt('S', 1, 4));
    send(pkt('S', 1, 4));
    send(pkt('S', 3, 4)); // 3,4 old; 5,6 new
    assert.deepEqual(moldSeqs(h), [1, 2, 3, 4, 5, 6]);
    assert.equal(stage.mold.counters().duplicates, 6);
  });

  it('tracks sessions apart; the same session on a second port is arbitrated', () => {
    const { h, stage, send, pkt } = setup();
    const st2 = stage;
    send(pkt('A', 1, 2));
    send(pkt('B', 100, 2));
    send(pkt('A', 3, 1));
    assert.equal(st2.mold.counters().gaps, 0);
    assert.equal(st2.mold.sessionCount, 2);
    assert.deepEqual(moldSeqs(h), [1, 2, 100, 101, 3]);
  });

  it('heartbeats and end of session: a jump in a heartbeat is a gap; end of session is an event', () => {
    const { h, stage, send, pkt } = setup();
    send(pkt('S', 1, 2));
    send(moldHeartbeat('S', 3));
    assert.equal(stage.mold.counters().gaps, 0);
    send(moldHeartbeat('S', 5));
    assert.equal(stage.mold.counters().gaps, 1);
    assert.equal(stage.mold.counters().gap_messages, 2);
    send(moldEndOfSession('S', 5));
    const c = stage.mold.counters();
    assert.equal(c.heartbeats, 2);
    assert.equal(c.end_of_session, 1);
    assert.equal(h.evType[1], EventType.EndOfSession);
    assert.equal(h.next, 3, 'heartbeats carry no messages');
  });

  it('counts malformed packets and keeps the messages before the damage', () => {
    const { h, stage, send, pkt } = setup();
    send(Buffer.alloc(12)); // shorter than the header
    const p = pkt('S', 1, 3);
    send(p.subarray(0, p.length - 5)); // the last message is cut
    const bad = Buffer.from(pkt('S', 10, 1));
    bad.writeUInt16BE(5000, 20); // a length past the end
    send(bad);
    const c = stage.mold.counters();
    assert.equal(c.malformed, 3);
    assert.deepEqual(moldSeqs(h), [1, 2]);
  });

  it('leaves other ports raw: the whole payload, one message per datagram', () => {
    const { h, send } = setup();
    send(Buffer.from('hello'), 9001);
    const slot = h.slot(1);
    assert.equal(h.kind[slot], Kind.Raw);
    assert.equal(h.data.subarray(h.dataOff[slot], h.dataOff[slot] + h.length[slot]).toString(), 'hello');
  });
});
