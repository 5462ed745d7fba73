/**
 * The pieces of a datapath thread that need no socket: the blocking receive loop (batches,
 * control, busy poll, parking, quiet spells), the simulated kernel of the warm start (every frame
 * delivered is received once, every frame sent comes back, none lost), the warm start itself
 * (V8 compiles the hot path, the live objects are not touched), and the feed ring's doorbell.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BlockingLoop, LoopHooks } from '../../src/pipeline/blocking-loop.js';
import { Verdict, type FrameHandler, type Port } from '../../src/port/port.js';
import { XdpPort } from '../../src/afxdp/xdp-port.js';
import { SimKernel } from '../../src/afxdp/sim-kernel.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { RxClock } from '../../src/pipeline/rx-clock.js';
import { FrameParser } from '../../src/frame/parse.js';
import { SharedLatency } from '../../src/pipeline/shared-histogram.js';
import { collectGarbage } from '../../src/util/gc.js';
import { Warmer, syntheticFrames, isOptimized } from '../../src/run/warm.js';
import { createFeedRing, createFeedWake, Doorbell, FeedRingReader, FeedRingWriter } from '../../src/run/feed-ring.js';
import type { WorkerConfig } from '../../src/run/protocol.js';
import { datagramView } from '../helpers/frames.js';

/** A port that hands out a script of batch sizes, then nothing; waitSync returns at once. */
function scriptedPort(script: number[]): Port & { waits: number } {
  let i = 0;
  return {
    mode: 'native',
    description: 'scripted',
    waits: 0,
    receive(max: number, h: FrameHandler): number {
      const n = Math.min(max, i < script.length ? script[i++] : 0);
      for (let k = 0; k < n; k++) h.frame(new Uint8Array(0), 0, 0);
      return n;
    },
    wait() {},
    waitSync() {
      this.waits++;
      return 0;
    },
    kernelStats: () => ({}),
    setPorts() {},
    close() {},
  };
}

const counting = () => {
  const h = { frames: 0, frame: () => (h.frames++, Verdict.Drop) };
  return h;
};

describe('blocking receive loop', () => {
  it('drains full batches back to back, then parks; control() ends it', () => {
    const port = scriptedPort([64, 64, 64, 10]);
    const h = counting();
    const loop = new BlockingLoop(port, h, { batchSize: 64, busyPollUs: 0, controlEveryMs: 0 });
    let calls = 0;
    loop.run(new LoopHooks(() => ++calls < 5));
    assert.equal(h.frames, 64 * 3 + 10);
    assert.ok(port.waits >= 1, 'parked once the ring was empty');
    assert.equal(loop.parks, port.waits);
    assert.equal(loop.wakeups, 0, 'a poll() that timed out is not a wakeup');
  });

  it('busy-polls an empty ring for busyPollUs before it parks', () => {
    const port = scriptedPort([]);
    const loop = new BlockingLoop(port, counting(), { busyPollUs: 20_000, controlEveryMs: 1 });
    const t0 = performance.now();
    loop.run(new LoopHooks(() => port.waits === 0 && performance.now() - t0 < 1000));
    const spun = performance.now() - t0;
    assert.equal(port.waits, 1);
    // Unless this CPU was wanted elsewhere (then it parks sooner, counted in `yielded`).
    if (loop.yielded === 0) assert.ok(spun >= 19, `spun ${spun.toFixed(1)} ms before parking`);
  });

  it('with its CPU to itself it busy-polls its full time; sharing it, it gives way when the CPU is wanted', () => {
    // contendedYieldUs 0: every yield counts as "the CPU was wanted", so a loop that yields parks at once.
    for (const polite of [false, true]) {
      const port = scriptedPort([]);
      const loop = new BlockingLoop(port, counting(), { busyPollUs: 5000, controlEveryMs: 1, polite, contendedYieldUs: 0 });
      const t0 = performance.now();
      loop.run(new LoopHooks(() => port.waits === 0 && performance.now() - t0 < 1000));
      const spun = performance.now() - t0;
      if (polite) assert.ok(loop.yielded >= 1, 'sharing its CPU, the loop yielded');
      else {
        assert.equal(loop.yielded, 0, 'no yield with the CPU to itself');
        assert.ok(spun >= 4.5, `spun ${spun.toFixed(1)} ms before parking`);
      }
    }
  });

  it('handles the frames that woke it before control(), which it puts off', () => {
    // Parked 10 ms (control() would be due at once), then woken by frames: three batches.
    const events: string[] = [];
    const nap = new Int32Array(new SharedArrayBuffer(4));
    let script: number[] = [];
    let parks = 0;
    const port: Port = {
      ...scriptedPort([]),
      receive(max: number, h: FrameHandler): number {
        const n = Math.min(max, script.shift() ?? 0);
        for (let k = 0; k < n; k++) h.frame(new Uint8Array(0), 0, 0);
        if (n > 0) events.push(`batch ${n}`);
        return n;
      },
      waitSync(): number {
        if (parks++ > 0) return 0;
        Atomics.wait(nap, 0, 0, 10);
        script = [5, 5, 5];
        events.push('woken');
        return 1;
      },
    };
    const loop = new BlockingLoop(port, counting(), { batchSize: 64, busyPollUs: 0, controlEveryMs: 5 });
    loop.run(new LoopHooks(() => (events.push('control'), parks < 2)));
    assert.deepEqual(events.slice(0, 4), ['woken', 'batch 5', 'batch 5', 'batch 5'], events.join(', '));
    assert.equal(loop.wakeups, 1);
  });

  it('while frames flow, runs control() at the round after a message (mail), and not on the clock before controlEveryMs', () => {
    // 3,000 full batches back to back; the "main thread" posts once, at frame 64,000.
    const total = 3000 * 64;
    let fed = 0;
    const port: Port = {
      ...scriptedPort([]),
      receive(max: number, h: FrameHandler): number {
        const n = Math.min(max, total - fed);
        for (let k = 0; k < n; k++) h.frame(new Uint8Array(0), 0, 0);
        fed += n;
        return n;
      },
    };
    const mail = new Int32Array(new SharedArrayBuffer(4));
    const h = {
      frames: 0,
      frame: () => {
        if (++h.frames === 64_000) Atomics.add(mail, 0, 1);
        return Verdict.Drop;
      },
    };
    const loop = new BlockingLoop(port, h, { batchSize: 64, busyPollUs: 0, controlEveryMs: 60_000, mail });
    const seenAt: number[] = [];
    loop.run(new LoopHooks(() => (seenAt.push(h.frames), h.frames < total)));
    // One round is at most 16 batches: the message is seen within 1,024 frames of its post.
    assert.ok(seenAt[0] >= 64_000 && seenAt[0] <= 64_000 + 16 * 64, `control() first ran at frame ${seenAt[0]}`);
    assert.equal(seenAt.filter((f) => f < total).length, 1, `control() during the flow at frames ${seenAt.join(', ')}`);
    assert.equal(h.frames, total);
  });

  it('runs control() at its first round for a message posted while it was not running', () => {
    const mail = new Int32Array(new SharedArrayBuffer(4));
    let fed = 0;
    // Frames stop after a while (the loop then parks and times out, and control() runs anyway).
    let until = 0;
    const port: Port = {
      ...scriptedPort([]),
      receive(max: number, h: FrameHandler): number {
        if (fed >= until) return 0;
        fed += max;
        for (let k = 0; k < max; k++) h.frame(new Uint8Array(0), 0, 0);
        return max;
      },
    };
    const loop = new BlockingLoop(port, counting(), { batchSize: 64, busyPollUs: 0, controlEveryMs: 60_000, mail });
    // Out of the loop (as between the datapath's rounds), the main thread posts; frames keep flowing.
    for (let round = 0; round < 2; round++) {
      Atomics.add(mail, 0, 1);
      const at = fed;
      until = at + 100 * 16 * 64;
      let ranAt = -1;
      loop.run(new LoopHooks(() => ((ranAt = fed), false)));
      assert.equal(ranAt, at + 16 * 64, `round ${round}: control() after the first round of batches`);
    }
  });

  it('calls idle() after a quiet spell, not while traffic flows', () => {
    const quiet = scriptedPort([]);
    let idles = 0;
    let n = 0;
    new BlockingLoop(quiet, counting(), { busyPollUs: 0, idleEveryMs: 0 }).run(new LoopHooks(() => ++n < 10, () => idles++));
    assert.ok(idles >= 5, `idle() ${idles} times in 10 quiet parks`);
    const busy = scriptedPort(Array(50).fill(64));
    idles = 0;
    n = 0;
    new BlockingLoop(busy, counting(), { busyPollUs: 1000, idleEveryMs: 0, controlEveryMs: 0 }).run(new LoopHooks(() => ++n < 3, () => idles++));
    assert.equal(idles, 0);
  });
});

const cfg = (over: Partial<WorkerConfig> = {}): WorkerConfig =>
  ({ kind: 'afxdp', queue: 0, ports: [9000, 9001], ringSize: 256, frameSize: 2048, batchSize: 64, busyPollUs: 50, latency: true, ...over }) as WorkerConfig;

describe('simulated kernel', () => {
  for (const headStamps of [false, true]) {
    it(`delivers frames that the port receives once each, and gives sent frames back${headStamps ? ' (stamps in the frame\'s head)' : ''}`, async () => {
      const port = new XdpPort({ ifindex: 0, ifname: 'sim', queue: 0, mode: 'native', bind: 'copy', frameSize: 2048, frameCount: 1024, ringSize: 256, simulated: true, headStamps });
      const kernel = new SimKernel(port);
      const frames = syntheticFrames([9000]);
      const clock = new RxClock(true);
      const seen: number[] = [];
      let sent = 0;
      let wrong = 0;
      let stampedTime = 0;
      const h: FrameHandler = {
        frame(buf, off, len) {
          // The frame itself, whether or not a stamp came in its head; and its stamp, read before it.
          const want = frames[seen.length % frames.length];
          if (len !== want.length || Buffer.compare(Buffer.from(buf.buffer, buf.byteOffset + off, len), want) !== 0) wrong++;
          if (clock.readFrameTime(buf, off) && clock.frameNs[0] === NOW) stampedTime++;
          seen.push(len);
          // Send every third frame back out, as a forwarder would.
          return seen.length % 3 === 0 ? Verdict.Transmit : Verdict.Drop;
        },
      };
      const NOW = 1e12;
      let delivered = 0;
      for (let round = 0; round < 500; round++) {
        delivered += kernel.deliver(frames, delivered, 1 + (round % 70), NOW);
        port.receive(64, h);
        sent += kernel.complete();
      }
      while (port.receive(64, h) > 0) sent += kernel.complete();
      sent += kernel.complete();
      assert.equal(seen.length, delivered);
      assert.equal(wrong, 0, 'every frame handed over as sent, its stamp skipped');
      // 3 in 4 stamped (sim-kernel.ts), every other one at NOW.
      assert.ok(clock.stamped > delivered * 0.7 && clock.unstamped > delivered * 0.2, `${clock.stamped} stamped, ${clock.unstamped} not`);
      assert.ok(stampedTime > delivered * 0.3, `${stampedTime} frames read the stamp NOW`);
      assert.equal(port.rxBytes, seen.reduce((a, l) => a + l, 0), 'bytes counted without the stamps');
      assert.equal(port.txPackets, sent);
      assert.equal(port.txRingFull, 0);
      const acct = port.frameAccount();
      assert.equal(acct.free + acct.fill + acct.rx + acct.tx + acct.kernel, acct.total);
      assert.equal(acct.rx, 0);
      port.close();
    });
  }
});

describe('warm start', () => {
  it('compiles the hot path on throwaway objects and leaves the live ones untouched', async () => {
    const live = new Pipeline([], { clock: new RxClock(true), latency: new SharedLatency() });
    const built: Pipeline[] = [];
    const clocks: RxClock[] = [];
    const warmer = new Warmer({
      cfg: cfg(),
      build: () => {
        const c = new RxClock(true);
        clocks.push(c);
        const p = new Pipeline([], { clock: c, latency: new SharedLatency() });
        built.push(p);
        return { handler: p };
      },
      hot: [
        { name: 'Pipeline.frame', fn: Pipeline.prototype.frame },
        { name: 'FrameParser.parse', fn: FrameParser.prototype.parse },
        { name: 'XdpPort.receive', fn: XdpPort.prototype.receive },
        { name: 'BlockingLoop.run', fn: BlockingLoop.prototype.run },
      ],
    });
    const r = warmer.run();
    assert.equal(built.length, 1);
    assert.ok(r.frames > 1000, JSON.stringify(r));
    assert.equal(built[0].packets, r.frames, 'every synthetic frame went through the pipeline');
    assert.ok(built[0].invalid.total() > 0, 'malformed frames too');
    assert.ok(built[0].datagrams > 0);
    // Live, most frames come without a stamp (1 in --latency-sample has one; none with
    // --no-latency): both paths must have run, or the first unstamped frame deoptimizes.
    assert.ok(clocks[0].stamped > 0 && clocks[0].unstamped > 0, `stamped ${clocks[0].stamped}, unstamped ${clocks[0].unstamped}`);
    assert.equal(r.optimized, true, `hot path compiled: ${JSON.stringify(r)}`);
    assert.equal(isOptimized(Pipeline.prototype.frame), true);
    // The datapath collects the warm garbage at once: the compiled code must survive it (V8
    // throws away code whose embedded objects die; the warm loop's hooks once did).
    collectGarbage();
    for (const f of [Pipeline.prototype.frame, XdpPort.prototype.receive, BlockingLoop.prototype.run]) assert.equal(isOptimized(f), true, `${f.name} still compiled after a full GC`);
    assert.equal(live.packets, 0);
    assert.equal(live.timeSource(), 'none', 'the live clock saw no frame');
    // A re-warm reuses its objects.
    warmer.run(200, 5000);
    assert.equal(built.length, 1);
  });
});

describe('feed ring doorbell', () => {
  it('wakes a parked reader with one message when a writer commits, and not before; not at all when not parked', async () => {
    const ring = createFeedRing(1 << 16);
    const wake = createFeedWake();
    const w = new FeedRingWriter(ring, wake.writer);
    const r = new FeedRingReader(ring);
    const bell = new Doorbell(ring.doorbell, [wake.reader]);
    let rings = 0;
    let woken: () => void = () => {};
    bell.listen(() => {
      rings++;
      woken();
    });
    const settle = () => new Promise((res) => setTimeout(res, 20));
    const datagram = () => w.write(new Uint8Array(64), datagramView({ payloadOffset: 0, payloadLength: 32, rxNs: 1, ipVersion: 4, srcAddrOffset: 32, srcPort: 1, dstPort: 2 }));
    try {
      const seen = bell.arm();
      await settle();
      assert.equal(rings, 0, 'nothing written: no ring');
      const rung = new Promise<void>((res) => (woken = res));
      datagram();
      w.commit();
      const t0 = performance.now();
      // The doorbell's ports do not hold the event loop open (Doorbell.listen): a timer does.
      const hold = setTimeout(() => {}, 5000);
      await rung;
      clearTimeout(hold);
      assert.ok(performance.now() - t0 < 1000);
      assert.equal(bell.arm(), seen + 1, 'the ring count moved once');
      bell.disarm();
      let n = 0;
      r.drain({ record: () => void n++ });
      assert.equal(n, 1);
      // Woken, the writer cleared the flag: a second commit before the reader parks again rings nothing.
      datagram();
      w.commit();
      // Not parked: nothing rings either.
      bell.disarm();
      datagram();
      w.commit();
      await settle();
      assert.equal(rings, 1);
    } finally {
      bell.close();
    }
  });
});
