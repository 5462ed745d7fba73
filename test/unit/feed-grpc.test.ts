/**
 * The feed's gRPC service over loopback, fed synthetic datagrams through its stage (no XDP):
 * live and resumed subscriptions, gaps and duplicates as the subscriber sees them, filters,
 * heartbeats, a slow subscriber under both policies, bad requests, graceful shutdown, state.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildUdpFrame } from '../helpers/frames.js';
import { FrameParser } from '../../src/frame/parse.js';
import { FeedComponent } from '../../src/feed/component.js';
import { FeedClient, type FeedBatch, type FeedMessage, type StatusEvent, type Subscription } from '../../src/feed/client.js';
import { moldPacket, testMessage, checkTestMessage } from '../../src/feed/mold-packet.js';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { PROTO_PATH, decodeBatch } from '../../src/feed/proto.js';

/**
 * Subscribe with a raw request (uint64 fields as decimal strings, exact) and read the raw
 * batches, decoded by protobufjs (uint64 as Long: exact too), and the final status.
 */
async function rawSubscribe(port: number, request: Record<string, unknown>): Promise<{ batches: any[]; code: number; details: string }> {
  const reqType = protobuf.loadSync(PROTO_PATH).lookupType('xsk.feed.v1.SubscribeRequest');
  const Client = grpc.makeGenericClientConstructor(
    {
      Subscribe: {
        path: '/xsk.feed.v1.Feed/Subscribe',
        requestStream: false,
        responseStream: true,
        requestSerialize: (r: object) => Buffer.from(reqType.encode(reqType.fromObject(r)).finish()),
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => decodeBatch(b),
      },
    },
    'Feed',
  );
  const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = (c as any).Subscribe(request);
  const batches: any[] = [];
  call.on('data', (b: any) => batches.push(b));
  call.on('error', () => {});
  const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  c.close();
  return { batches, code: status.code, details: status.details };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const parser = new FrameParser();

function makeFeed(over: Partial<ConstructorParameters<typeof FeedComponent>[0]> = {}): FeedComponent {
  return new FeedComponent({
    listen: { host: '127.0.0.1', port: 0 },
    decoders: new Map([[9000, 'moldudp64']]),
    historyMessages: 8192,
    historyBytes: 1 << 20,
    queueMessages: 4096,
    queueBytes: 256 << 10,
    info: () => ({ iface: 'test0', mode: 'native', ports: [9000, 9001] }),
    ...over,
  });
}

function send(feed: FeedComponent, payload: Uint8Array, dstPort = 9000, srcIp = '10.0.0.1'): void {
  const f = buildUdpFrame({ payload, dstPort, srcIp, dstIp: '10.0.0.2', srcPort: 41000 });
  assert.equal(parser.parse(f, 0, f.length), -1);
  parser.rxNs = 1e12;
  feed.stage.datagram(f, 0, f.length, parser);
}

function moldPkt(seq: number, n: number, session = 'S1', size = 24): Buffer {
  return moldPacket(session, seq, Array.from({ length: n }, (_, i) => testMessage(seq + i, size)));
}

/** Read a subscription until `until` says stop (or `ms` passes); messages and events in order. */
async function collect(sub: Subscription, until: (msgs: FeedMessage[], evs: StatusEvent[]) => boolean, ms = 5000) {
  const msgs: FeedMessage[] = [];
  const evs: StatusEvent[] = [];
  const timer = setTimeout(() => sub.cancel(), ms);
  for await (const b of sub) {
    msgs.push(...b.messages);
    evs.push(...b.events);
    if (until(msgs, evs)) break;
  }
  clearTimeout(timer);
  return { msgs, evs };
}

describe('feed over gRPC (loopback)', () => {
  let feed: FeedComponent;
  let client: FeedClient;
  before(async () => {
    feed = makeFeed();
    await feed.start();
    client = new FeedClient(`127.0.0.1:${feed.port}`);
  });
  after(async () => {
    client.close();
    await feed.stop();
  });

  it('streams every message live, in order, contiguous, payloads intact, after a SUBSCRIBED event', async () => {
    const sub = client.subscribe({ maxBatch: 64 });
    const start = feed.history.next;
    await sleep(100);
    for (let p = 0; p < 100; p++) send(feed, moldPkt(1 + p * 10, 10));
    const { msgs, evs } = await collect(sub, (m) => m.length >= 1000);
    sub.cancel();
    assert.equal(msgs.length, 1000);
    assert.equal(evs[0].type, 'subscribed');
    assert.equal(evs[0].nextSequence, start);
    msgs.forEach((m, i) => {
      assert.equal(m.sequence, start + i);
      assert.equal(m.kind, 'moldudp64');
      assert.equal(m.mold!.sequence, i + 1);
      assert.equal(m.mold!.session, 'S1        ');
      assert.equal(m.source, '10.0.0.1');
      assert.equal(m.sourcePort, 41000);
      assert.equal(m.destinationPort, 9000);
      assert.equal(m.receiveTimeNs, 1e12);
      assert.ok(checkTestMessage(m.payload, i + 1), `payload of ${i + 1}`);
    });
  });

  it('sends a gap as a status event in place, and a duplicate only once', async () => {
    const sub = client.subscribe({});
    await sleep(100);
    const first = feed.history.next;
    send(feed, moldPkt(1001, 5)); // session S1 continues at 1001
    send(feed, moldPkt(1006, 5));
    send(feed, moldPkt(1006, 5)); // duplicate
    send(feed, moldPkt(1020, 5)); // 1011..1019 missing
    const { msgs, evs } = await collect(sub, (m) => m.length >= 15);
    sub.cancel();
    assert.deepEqual(msgs.map((m) => m.mold!.sequence), [...Array(10).keys()].map((i) => 1001 + i).concat([1020, 1021, 1022, 1023, 1024]));
    const gap = evs.find((e) => e.type === 'gap');
    assert.ok(gap && gap.type === 'gap', JSON.stringify(evs));
    assert.equal(gap.firstMissing, 1011);
    assert.equal(gap.count, 9);
    assert.equal(gap.port, 9000);
    assert.equal(gap.nextSequence, first + 10, 'the gap comes right before message 1020');
    const st = await client.state();
    assert.equal(st.mold.duplicates, 5);
    assert.equal(st.mold.gaps, 1);
    assert.equal(st.mold.gapMessages, 9);
    assert.equal(st.sessions[0].openGapMessages, 9);
  });

  it('resumes from a sequence still held with exactly the rest; one too old gets RESUME_UNAVAILABLE and OUT_OF_RANGE', async () => {
    const from = feed.history.next - 50;
    const next = feed.history.next;
    const sub = client.subscribe({ fromSequence: from });
    const { msgs } = await collect(sub, (m) => m.length >= 50);
    assert.deepEqual(msgs.map((m) => m.sequence), [...Array(50).keys()].map((i) => from + i));
    // Nothing more is there.
    await sleep(100);
    sub.cancel();
    assert.equal(feed.history.next, next);

    // Push the oldest past 1.
    for (let p = 0; p < 900; p++) send(feed, moldPkt(2000 + p * 10, 10));
    assert.ok(feed.history.oldest > 1);
    const old = client.subscribe({ fromSequence: 1 });
    const r = await collect(old, () => false);
    const st = await old.done;
    assert.equal(st.code, 11, st.details); // OUT_OF_RANGE
    assert.match(st.details, /sequence 1 is no longer in history; the oldest held is \d+/);
    const ev = r.evs.find((e) => e.type === 'resume_unavailable');
    assert.ok(ev && ev.type === 'resume_unavailable');
    assert.equal(ev.requestedSequence, 1);
    assert.equal(ev.oldestSequence, feed.history.oldest);
    assert.equal(r.msgs.length, 0);
  });

  it('reports a from_sequence of 2^64 − 1 and of 2^53 + 1 exactly in RESUME_UNAVAILABLE and the status', async () => {
    for (const asked of ['18446744073709551615', '9007199254740993']) {
      const r = await rawSubscribe(feed.port, { fromSequence: asked, ports: [9000] });
      assert.equal(r.code, grpc.status.OUT_OF_RANGE, r.details);
      assert.equal(r.details, `sequence ${asked} has not been assigned yet; the oldest held is ${feed.history.oldest}, the next is ${feed.history.next}`);
      const ev = r.batches.flatMap((b) => b.events).find((e: any) => e.resumeUnavailable);
      assert.ok(ev, 'a RESUME_UNAVAILABLE event');
      assert.equal(ev.resumeUnavailable.requestedSequence.toString(), asked);
      assert.equal(Number(ev.resumeUnavailable.oldestSequence), feed.history.oldest);
    }
  });

  it('takes a max_queue_bytes of 2^64 − 1 as the server maximum', async () => {
    const r = rawSubscribe(feed.port, { maxQueueBytes: '18446744073709551615', heartbeatMs: 20 });
    await sleep(100);
    const sub = [...(feed as any).subs].at(-1);
    assert.equal(sub.o.maxQueueBytes, 256 << 10);
    sub.shutdown('test', performance.now());
    (feed as any).reap();
    await r;
  });

  it('refuses a 1 MiB source with INVALID_ARGUMENT and a short message, not RESOURCE_EXHAUSTED', async () => {
    const r = await rawSubscribe(feed.port, { source: 'x'.repeat(1 << 20) });
    assert.equal(r.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(r.details, `source "${'x'.repeat(64)}..." (1048576 characters) is not an IP address`);
  });

  it('filters by port, source, kind and message type', async () => {
    const byPort = client.subscribe({ ports: [9001] });
    const bySource = client.subscribe({ source: '10.0.0.9' });
    const byType = client.subscribe({ kinds: ['moldudp64'], messageTypes: 'A' });
    await sleep(100);
    send(feed, Buffer.from('raw one'), 9001);
    send(feed, Buffer.from('raw two'), 9001, '10.0.0.9');
    send(feed, moldPacket('T', 1, [Buffer.from('Aone'), Buffer.from('Btwo'), Buffer.from('Athree')]), 9000, '10.0.0.9');
    const [p, s, t] = await Promise.all([
      collect(byPort, (m) => m.length >= 2, 2000),
      collect(bySource, (m) => m.length >= 4, 2000),
      collect(byType, (m) => m.length >= 2, 2000),
    ]);
    for (const x of [byPort, bySource, byType]) x.cancel();
    assert.deepEqual(p.msgs.map((m) => m.payload.toString()), ['raw one', 'raw two']);
    assert.equal(p.msgs[0].kind, 'raw');
    assert.deepEqual(s.msgs.map((m) => m.payload.toString()), ['raw two', 'Aone', 'Btwo', 'Athree']);
    assert.deepEqual(t.msgs.map((m) => m.payload.toString()), ['Aone', 'Athree']);
  });

  it('refuses a bad request with INVALID_ARGUMENT', async () => {
    const sub = client.subscribe({ source: 'not-an-address' });
    await collect(sub, () => false, 2000);
    const st = await sub.done;
    assert.equal(st.code, 3);
    assert.match(st.details, /not an IP address/);
  });

  it('sends heartbeats on an idle stream at the interval asked for', async () => {
    const sub = client.subscribe({ heartbeatMs: 100, ports: [9999] });
    const t0 = Date.now();
    const { evs } = await collect(sub, (_m, e) => e.filter((x) => x.type === 'heartbeat').length >= 5, 3000);
    const dt = Date.now() - t0;
    sub.cancel();
    const hb = evs.filter((e) => e.type === 'heartbeat');
    assert.equal(hb.length, 5);
    assert.ok(dt >= 450 && dt < 1500, `5 heartbeats at 100 ms took ${dt} ms`);
    assert.equal(hb[4].nextSequence, feed.history.next);
  });

  it('reports its state: counters, history, subscribers', async () => {
    const sub = client.subscribe({});
    await sleep(100);
    const st = await client.state();
    sub.cancel();
    assert.equal(st.iface, 'test0');
    assert.deepEqual(st.ports, [9000, 9001]);
    assert.deepEqual(st.decoders, ['9000=moldudp64']);
    assert.equal(st.messages, feed.stage.messages);
    assert.equal(st.nextSequence, feed.history.next);
    assert.equal(st.historyCapacity, 8192);
    assert.equal(st.subscribers.length, 1);
    assert.equal(st.subscribers[0].waitingForDrain, false);
  });
});

describe('feed: a slow subscriber', () => {
  it('skip: its queue stays bounded, the skip count is exact, a fast subscriber misses nothing', async () => {
    const feed = makeFeed({ historyMessages: 65536, historyBytes: 8 << 20, queueMessages: 20000, queueBytes: 4 << 20 });
    await feed.start();
    const client = new FeedClient(`127.0.0.1:${feed.port}`);
    try {
      const fast = client.subscribe({ maxBatch: 256 });
      const slow = client.subscribe({ maxBatch: 256 });
      const slowIt = slow[Symbol.asyncIterator]();
      const first = await slowIt.next(); // the SUBSCRIBED batch; then it stops reading
      assert.equal((first.value as FeedBatch).events[0].type, 'subscribed');
      const start = feed.history.next;
      const fastMsgs: number[] = [];
      const fastDone = (async () => {
        for await (const b of fast) {
          for (const m of b.messages) fastMsgs.push(m.sequence);
          if (fastMsgs.length >= 200000) break;
        }
      })();
      // 200 000 messages of 100 bytes, 10 per datagram, while the slow one reads nothing.
      let seq = 1;
      let maxLag = 0;
      const heap0 = process.memoryUsage().heapUsed;
      for (let round = 0; round < 200; round++) {
        for (let p = 0; p < 100; p++, seq += 10) send(feed, moldPkt(seq, 10, 'SLOW', 100));
        // ~100 k messages/s: the fast subscriber shares this process, and keeps up with that.
        await sleep(10);
        const st = feed.state().subscribers as { id: number; nextSequence: number }[];
        for (const s of st) maxLag = Math.max(maxLag, feed.history.next - s.nextSequence);
      }
      await Promise.race([fastDone, sleep(10000)]);
      assert.equal(fastMsgs.length, 200000, 'the fast subscriber got everything');
      fastMsgs.forEach((s, i) => assert.equal(s, start + i));
      const state = feed.state().subscribers as { id: number; sent: number; skipped: number; waitingForDrain: boolean }[];
      const [fastState, slowState] = state.sort((a, b) => a.id - b.id);
      assert.equal(fastState.skipped, 0);
      assert.equal(slowState.waitingForDrain, true);
      // A queue bound of 20 000 messages, checked each flush: never much more behind than that.
      assert.ok(maxLag <= 20000 + 1000, `a subscriber was ${maxLag} messages behind`);
      const heapGrowth = process.memoryUsage().heapUsed - heap0;
      assert.ok(heapGrowth < 64 << 20, `heap grew ${heapGrowth} bytes`);

      // Now it reads again: everything is either received or counted as skipped, exactly.
      const got: number[] = [];
      let skipped = 0;
      const skippedSeqs: [number, number][] = [];
      const deadline = Date.now() + 10000;
      while (Date.now() < deadline) {
        const r = await Promise.race([slowIt.next(), sleep(1000).then(() => undefined)]);
        if (!r || r.done) break;
        const b = r.value as FeedBatch;
        for (const m of b.messages) got.push(m.sequence);
        for (const e of b.events) if (e.type === 'skipped') (skipped += e.count), skippedSeqs.push([e.firstSequence, e.lastSequence]);
        if (got.length + skipped >= 200000) break;
      }
      assert.ok(skipped > 0);
      assert.equal(got.length + skipped, 200000, `received ${got.length}, skipped ${skipped}`);
      assert.equal(new Set(got).size, got.length, 'nothing twice');
      for (const s of got) assert.ok(s >= start && s < start + 200000);
      for (const [a, b] of skippedSeqs) assert.ok(got.every((s) => s < a || s > b), `a skipped range [${a}, ${b}] was delivered`);
      slow.cancel();
    } finally {
      client.close();
      await feed.stop();
    }
  });

  it('disconnect: the stream ends with RESOURCE_EXHAUSTED once it is too far behind', async () => {
    const feed = makeFeed({ historyMessages: 65536, historyBytes: 8 << 20, queueMessages: 5000, queueBytes: 4 << 20 });
    await feed.start();
    const client = new FeedClient(`127.0.0.1:${feed.port}`);
    try {
      const slow = client.subscribe({ slowPolicy: 'disconnect' });
      const it = slow[Symbol.asyncIterator]();
      await it.next();
      let seq = 1;
      for (let round = 0; round < 100; round++) {
        for (let p = 0; p < 100; p++, seq += 10) send(feed, moldPkt(seq, 10, 'DISC', 100));
        await new Promise((r) => setImmediate(r));
      }
      await sleep(100);
      while (!(await Promise.race([it.next(), sleep(2000).then(() => ({ done: true }))])).done);
      const st = await slow.done;
      assert.equal(st.code, 8, st.details); // RESOURCE_EXHAUSTED
      assert.match(st.details, /fell behind/);
      assert.equal((feed.summary().feed as any).subscribers.disconnected_slow, 1);
    } finally {
      client.close();
      await feed.stop();
    }
  });
});

describe('feed: graceful stop', () => {
  it('ends every stream with OK after a SHUTDOWN event, and delivers what came before', async () => {
    const feed = makeFeed();
    await feed.start();
    const client = new FeedClient(`127.0.0.1:${feed.port}`);
    const sub = client.subscribe({});
    await sleep(100);
    for (let p = 0; p < 10; p++) send(feed, moldPkt(1 + p * 10, 10, 'END'));
    const reading = collect(sub, () => false, 5000);
    await feed.stop();
    const { msgs, evs } = await reading;
    const st = await sub.done;
    client.close();
    assert.equal(st.code, 0, st.details);
    assert.equal(msgs.length, 100);
    assert.equal(evs[evs.length - 1].type, 'shutdown');
  });
});
