/**
 * A handler that throws leaves the rings consistent (src/afxdp/xdp-port.ts receive()): on a
 * simulated AF_XDP port (rings and UMEM in ordinary memory, sim-kernel.ts as the kernel), every
 * frame is handed to the handler exactly once, in order, whatever frames it throws on; the frame
 * it threw on is recycled, the ones before it are sent or recycled as it said, the ones after it
 * come with the next call; no UMEM frame is lost. Also transmit(): frames built in free frames.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { XdpPort } from '../../src/afxdp/xdp-port.js';
import { SimKernel } from '../../src/afxdp/sim-kernel.js';
import { Verdict, type FrameHandler } from '../../src/port/port.js';
import { EventLoop } from '../../src/pipeline/event-loop.js';
import { buildUdpFrame } from '../helpers/frames.js';
import { mulberry32 } from '../helpers/prng.js';

function simPort(ring = 64): { port: XdpPort; kernel: SimKernel } {
  const port = new XdpPort({
    ifindex: 0, ifname: 'sim', queue: 0, mode: 'native', bind: 'copy',
    frameSize: 2048, frameCount: ring * 4, ringSize: ring, simulated: true,
  });
  return { port, kernel: new SimKernel(port) };
}

/** Frames numbered in the first 4 payload bytes. */
function numbered(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => {
    const payload = new Uint8Array(32);
    new DataView(payload.buffer).setUint32(0, i);
    return buildUdpFrame({ srcIp: '10.0.0.1', dstIp: '10.0.0.2', dstPort: 9000, payload });
  });
}
/** The number in a frame built by numbered() (Ethernet 14 + IPv4 20 + UDP 8). */
const numberOf = (buf: Uint8Array, off: number) => new DataView(buf.buffer, buf.byteOffset).getUint32(off + 42);

function settle(port: XdpPort, kernel: SimKernel): void {
  for (let i = 0; i < 8; i++) {
    kernel.complete();
    port.receive(64, { frame: () => Verdict.Drop });
  }
}

describe('a handler that throws (AF_XDP port, simulated)', () => {
  it('the frame it threw on is recycled, the rest come with the next call, in order', () => {
    const { port, kernel } = simPort();
    const frames = numbered(40);
    assert.equal(kernel.deliver(frames, 0, 40, 0), 40);
    const seen: number[] = [];
    let begins = 0;
    let ends = 0;
    const h: FrameHandler = {
      beginBatch: () => void begins++,
      endBatch: () => void ends++,
      frame(buf, off) {
        const n = numberOf(buf, off);
        if (n === 9) throw new Error('boom at 9');
        seen.push(n);
        return n % 2 === 0 ? Verdict.Transmit : Verdict.Drop;
      },
    };
    assert.throws(() => port.receive(64, h), /boom at 9/);
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(port.handlerErrors, 1);
    assert.equal(port.rxPackets, 10, 'ten frames taken off RX: nine handled, one thrown on');
    assert.equal(port.socket.rx.pending(), 30, 'the rest stay on RX');
    assert.equal(port.txPackets, 5, 'what it said to send before throwing went out (0, 2, 4, 6, 8)');
    assert.equal(ends, 0, 'no endBatch for a batch that threw');
    assert.equal(port.receive(64, h), 30);
    assert.deepEqual(seen, [...Array(40).keys()].filter((n) => n !== 9));
    assert.equal(begins, 2);
    assert.equal(ends, 1);
    settle(port, kernel);
    const a = port.frameAccount();
    assert.equal(a.rx, 0);
    assert.equal(a.tx, 0);
    assert.equal(a.free + a.fill + a.kernel, a.total, JSON.stringify(a));
    port.close();
  });

  it('a beginBatch that throws un-peeks the whole batch', () => {
    const { port, kernel } = simPort();
    kernel.deliver(numbered(10), 0, 10, 0);
    assert.throws(() => port.receive(64, { beginBatch() { throw new Error('early'); }, frame: () => Verdict.Drop }), /early/);
    assert.equal(port.socket.rx.pending(), 10);
    let n = 0;
    assert.equal(port.receive(64, { frame: () => (n++, Verdict.Drop) }), 10);
    assert.equal(n, 10);
    port.close();
  });

  it('random throws over many batches: every frame once, no UMEM frame lost', () => {
    const { port, kernel } = simPort(64);
    const rnd = mulberry32(15);
    const frames = numbered(5000);
    const thrown = new Set<number>();
    const seen: number[] = [];
    const h: FrameHandler = {
      frame(buf, off) {
        const n = numberOf(buf, off);
        if (rnd() < 0.02) {
          thrown.add(n);
          throw new Error(`frame ${n}`);
        }
        seen.push(n);
        return rnd() < 0.3 ? Verdict.Transmit : Verdict.Drop;
      },
    };
    let delivered = 0;
    for (let round = 0; round < 100_000 && (delivered < frames.length || port.socket.rx.pending() > 0); round++) {
      kernel.complete();
      if (delivered < frames.length) delivered += kernel.deliver(frames, delivered, Math.min(48, frames.length - delivered), 0);
      try {
        port.receive(1 + Math.floor(rnd() * 64), h);
      } catch {
        // counted below
      }
    }
    assert.equal(delivered, 5000);
    assert.equal(seen.length + thrown.size, 5000);
    assert.deepEqual(seen, [...Array(5000).keys()].filter((n) => !thrown.has(n)), 'in order, each once');
    assert.equal(port.handlerErrors, thrown.size);
    settle(port, kernel);
    const a = port.frameAccount();
    assert.equal(a.free + a.fill + a.kernel, a.total, JSON.stringify(a));
    assert.ok(a.kernel <= 64, `the simulated kernel holds at most a delivery's worth (${a.kernel})`);
    port.close();
  });

  it('the library loop stops on a throw and reports it; a new loop goes on after the frame', async () => {
    const { port, kernel } = simPort();
    kernel.deliver(numbered(20), 0, 20, 0);
    const seen: number[] = [];
    const errors: unknown[] = [];
    const h: FrameHandler = {
      frame(buf, off) {
        const n = numberOf(buf, off);
        if (n === 5) throw new Error('five');
        seen.push(n);
        return Verdict.Drop;
      },
    };
    const loop = new EventLoop(port, h, { onError: (e) => errors.push(e), busyPollUs: 0, pollTimeoutMs: 1 }).start();
    for (let i = 0; i < 100 && loop.isRunning; i++) await new Promise((r) => setImmediate(r));
    assert.equal(loop.isRunning, false);
    assert.match(String(errors[0]), /five/);
    assert.match(String(loop.error), /five/);
    await loop.stop();
    const again = new EventLoop(port, h, { busyPollUs: 0, pollTimeoutMs: 1 }).start();
    for (let i = 0; i < 100 && seen.length < 19; i++) await new Promise((r) => setImmediate(r));
    await again.stop();
    assert.deepEqual(seen, [...Array(20).keys()].filter((n) => n !== 5));
    port.close();
  });
});

describe('transmit (AF_XDP port, simulated)', () => {
  it('builds frames in free UMEM frames, sends them, and gets them back from COMPLETION', () => {
    const { port, kernel } = simPort(64);
    const before = port.frameAccount();
    const frame = buildUdpFrame({ srcIp: '10.0.0.1', dstIp: '10.0.0.2', dstPort: 9100, payload: 100 });
    const offs: number[] = [];
    const n = port.transmit(50, (buf, off, i) => {
      offs.push(off);
      buf.set(frame, off);
      buf[off + 42] = i;
      return i === 7 ? 0 : frame.length; // 0: skip this one
    });
    assert.equal(n, 49);
    assert.equal(new Set(offs).size, 49, 'each frame sent its own UMEM frame (the skipped one is reused at once)');
    assert.ok(offs.every((o) => o % 2048 === 0), 'frames start at a UMEM frame');
    assert.equal(port.txPackets, 49);
    assert.equal(port.txBytes, 49 * frame.length);
    assert.equal(port.socket.tx.pending(), 49);
    // The descriptors: in order, lengths right, frame 7 absent.
    const tx = port.socket.tx;
    const first = (Atomics.load(tx.producer, 0) - 49) >>> 0;
    const ids = Array.from({ length: 49 }, (_, j) => port.umem.bytes[tx.desc[((first + j) & tx.mask) << 2] + 42]);
    assert.deepEqual(ids, [...Array(50).keys()].filter((i) => i !== 7));
    assert.equal(kernel.complete(), 49);
    port.receive(64, { frame: () => Verdict.Drop });
    const after = port.frameAccount();
    assert.equal(after.tx, 0);
    assert.equal(after.free + after.fill, before.free + before.fill);
    assert.throws(() => port.transmit(1, () => 5000), /more than a UMEM frame holds/);
    assert.equal(port.frameAccount().free, after.free, 'the frame of a failed build goes back to the pool');
    assert.throws(() => port.transmit(3, (_b, _o, i) => { if (i === 2) throw new Error('build'); return 60; }), /build/);
    assert.equal(port.txPackets, 49 + 2, 'what was built before the throw went out');
    kernel.complete();
    port.close();
  });

  it('sends no more than the free pool and the TX ring hold', () => {
    const { port } = simPort(64);
    const free = port.umem.freeFrames;
    const n = port.transmit(10_000, () => 60);
    assert.equal(n, Math.min(free, 64));
    port.close();
  });
});
