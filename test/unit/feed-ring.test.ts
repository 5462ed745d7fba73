/** The worker → main feed ring: order, content, wrap-around, overflow, and across threads. */
import { it, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { createFeedRing, FeedRingReader, FeedRingWriter, type FeedRecordSink } from '../../src/run/feed-ring.js';
import { mulberry32 } from '../helpers/prng.js';
import { datagramView } from '../helpers/frames.js';

interface Rec { payload: number[]; rxNs: number; family: number; addr: number[]; srcPort: number; dstPort: number }

function collector(): FeedRecordSink & { got: Rec[] } {
  const got: Rec[] = [];
  return {
    got,
    record(d, p) {
      const { payloadOffset: off, payloadLength: len, rxNs, ipVersion: family, srcAddrOffset: addrOff, srcPort, dstPort } = p;
      got.push({ payload: [...d.subarray(off, off + len)], rxNs, family, addr: [...d.subarray(addrOff, addrOff + (family === 4 ? 4 : 16))], srcPort, dstPort });
    },
  };
}

describe('feed ring', () => {
  it('delivers records in order, byte for byte, across many wraps', () => {
    const b = createFeedRing(4096);
    const w = new FeedRingWriter(b);
    const r = new FeedRingReader(b);
    const rnd = mulberry32(3);
    const sent: Rec[] = [];
    const sink = collector();
    for (let round = 0; round < 2000; round++) {
      const burst = 1 + ((rnd() * 5) | 0);
      for (let k = 0; k < burst; k++) {
        const len = (rnd() * 300) | 0;
        const src = Uint8Array.from({ length: 64 + len }, () => (rnd() * 256) | 0);
        const family = rnd() < 0.5 ? 4 : 6;
        const rec: Rec = { payload: [...src.subarray(40, 40 + len)], rxNs: round * 1e6 + k + 0.5, family, addr: [...src.subarray(0, family === 4 ? 4 : 16)], srcPort: (rnd() * 65536) | 0, dstPort: 9000 + k };
        const view = datagramView({ payloadOffset: 40, payloadLength: len, rxNs: rec.rxNs, ipVersion: family, srcAddrOffset: 0, srcPort: rec.srcPort, dstPort: rec.dstPort });
        if (w.write(src, view)) sent.push(rec);
      }
      w.commit();
      if (rnd() < 0.7) r.drain(sink);
    }
    r.drain(sink);
    assert.ok(sent.length > 3000);
    assert.deepEqual(sink.got, sent);
    assert.equal(w.overflows + sent.length, sink.got.length + w.overflows);
  });

  it('counts overflows instead of waiting, and recovers once drained', () => {
    const b = createFeedRing(1024);
    const w = new FeedRingWriter(b);
    const r = new FeedRingReader(b);
    const src = new Uint8Array(200).fill(7);
    let ok = 0;
    const view = (rxNs: number) => datagramView({ payloadOffset: 0, payloadLength: 100, rxNs, ipVersion: 4, srcAddrOffset: 0, srcPort: 1, dstPort: 2 });
    for (let i = 0; i < 20; i++) if (w.write(src, view(i))) ok++;
    w.commit();
    assert.ok(ok > 0 && ok < 20);
    assert.equal(w.overflows, 20 - ok);
    const sink = collector();
    assert.equal(r.drain(sink), ok);
    assert.ok(w.write(src, view(99)));
  });

  it('works between a worker thread and this one', async () => {
    const b = createFeedRing(1 << 16);
    // The writer runs in a worker thread, from the built module (workers don't get tsx's loader).
    const built = new URL('../../dist/run/feed-ring.js', import.meta.url).href;
    const writer = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(${JSON.stringify(built)}).then(({ FeedRingWriter }) => {
        const w = new FeedRingWriter(workerData);
        const src = new Uint8Array(64);
        let written = 0;
        const view = { payloadOffset: 0, payloadLength: 48, rxNs: 0, ipVersion: 4, srcAddrOffset: 60, srcPort: 1, dstPort: 2 };
        for (let seq = 0; seq < workerData.count; ) {
          src[0] = seq & 0xff; src[1] = (seq >> 8) & 0xff; src[2] = (seq >> 16) & 0xff;
          view.rxNs = seq;
          if (w.write(src, view)) { seq++; written++; if ((seq & 63) === 0) w.commit(); }
          else w.commit();
        }
        w.commit();
        parentPort.postMessage(written);
      });`;
    const worker = new Worker(writer, { eval: true, workerData: { ...b, count: 100000 } });
    const r = new FeedRingReader(b);
    let n = 0;
    let lastSeq = -1;
    let ordered = true;
    const sink: FeedRecordSink = {
      record(d, p) {
        const off = p.payloadOffset;
        const seq = d[off] | (d[off + 1] << 8) | (d[off + 2] << 16);
        if (seq !== lastSeq + 1 || p.rxNs !== seq || p.payloadLength !== 48) ordered = false;
        lastSeq = seq;
        n++;
      },
    };
    const done = new Promise<number>((resolve) => worker.on('message', (m) => resolve(m as number)));
    const deadline = Date.now() + 20000;
    let written = -1;
    void done.then((v) => (written = v));
    while ((written < 0 || n < written) && Date.now() < deadline) {
      r.drain(sink);
      await new Promise((res) => setImmediate(res));
    }
    await worker.terminate();
    assert.ok(written > 0);
    assert.equal(n, written, 'everything the worker wrote arrived');
    assert.ok(ordered, 'in order, content intact');
  });
});
