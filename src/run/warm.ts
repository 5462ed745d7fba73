/**
 * Warm start: before a datapath goes live, run its code over synthetic frames until V8 has
 * compiled it, so that the first real burst after start (or after a quiet spell) meets
 * optimized code instead of the interpreter. Measured on the veth sandbox: a 20,000-frame burst
 * at a cold xsk lost most of its frames to rx_ring_full while the first batches ran at several
 * µs a frame; the next bursts in the same process lost none.
 *
 * What runs is the real code on objects of the real classes, built by the same factory as the
 * live pipeline (so V8 sees the same object shapes and keeps its compiled code when the live
 * objects arrive): for AF_XDP a simulated XdpPort (rings and UMEM in ordinary memory) with
 * sim-kernel.ts playing the kernel, so the ring handling is warmed too; the parser, the counters,
 * the latency histograms and every configured stage (forward rewrite, the feed ring). The warm
 * objects are thrown away afterwards: no counter, ring or socket of the live datapath is touched.
 *
 * V8 tells whether a function is compiled (%GetOptimizationStatus, with --allow-natives-syntax
 * set at run time); warming stops when every hot function is, or after a bounded time.
 */
import v8 from 'node:v8';
import { buildUdpFrame } from '../frame/build.js';
import type { FrameHandler } from '../port/port.js';
import { XdpPort } from '../afxdp/xdp-port.js';
import { SimKernel } from '../afxdp/sim-kernel.js';
import { BlockingLoop, LoopHooks } from '../pipeline/blocking-loop.js';
import { RxClock } from '../pipeline/rx-clock.js';
import type { WarmReport, WorkerConfig } from './protocol.js';

/**
 * Batches of one to three frames the warm start runs at least (AF_XDP). Traffic slower than the
 * loop comes that way, and the per-batch code (XdpPort's completion and send, the stages'
 * endBatch) then runs once a frame. Where V8 did not inline it into the frame path, it got hot
 * only then: --trace-opt showed it compiled in the middle of live bursts, and ftrace the
 * datapath thread waiting 0.7-1.5 ms on the lock of V8's compile queue meanwhile (its helper
 * threads were on the other CPU, behind the traffic generator).
 */
const MIN_SMALL_BATCHES = 16_384;

/** Bit 4 of %GetOptimizationStatus: the function has optimized code (TurboFan or Maglev). */
const OPTIMIZED = 1 << 4;

let statusFn: ((f: unknown) => number) | null | undefined;

/** V8's optimization status of `f`, or undefined when it can't be asked. */
export function optimizationStatus(f: unknown): number | undefined {
  if (statusFn === undefined) {
    try {
      v8.setFlagsFromString('--allow-natives-syntax');
      statusFn = new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number;
    } catch {
      statusFn = null;
    }
  }
  return statusFn ? statusFn(f) : undefined;
}

/** For Atomics.wait: a short sleep of this thread. */
const NAP = new Int32Array(new SharedArrayBuffer(4));

let optimizeFn: ((f: unknown) => void) | null | undefined;

/** Have V8 compile `f` (optimized) at its next call; false when it can't be asked. */
export function optimizeOnNextCall(f: unknown): boolean {
  if (optimizeFn === undefined) {
    optimizeFn = optimizationStatus(f) === undefined ? null : (new Function('f', '%OptimizeFunctionOnNextCall(f)') as (f: unknown) => void);
  }
  if (!optimizeFn) return false;
  optimizeFn(f);
  return true;
}

export function isOptimized(f: unknown): boolean | undefined {
  const s = optimizationStatus(f);
  return s === undefined ? undefined : (s & OPTIMIZED) !== 0;
}

export interface HotFunction {
  name: string;
  fn: unknown;
}

/** The pipeline as the datapath builds it: the same factory makes the live one and the warm one. */
export interface WarmTarget {
  handler: FrameHandler;
  /** Called after each warm batch (drain the warm feed ring, ...). */
  afterBatch?(): void;
}

export interface WarmOptions {
  cfg: WorkerConfig;
  /** Builds a throwaway pipeline like the live one. */
  build(): WarmTarget;
  /** Functions that must be compiled before warming stops. */
  hot: HotFunction[];
  /** Warming never takes longer than this (ms). */
  budgetMs?: number;
  /** Nor more frames than this. */
  maxFrames?: number;
}

/** Frames for every configured port: IPv4 and IPv6, VLAN-tagged, small and large, TTL 1, malformed. */
export function syntheticFrames(ports: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  const some = ports.slice(0, 8);
  for (const dstPort of some.length > 0 ? some : [9000]) {
    for (const payload of [18, 200, 1000]) {
      out.push(buildUdpFrame({ srcIp: '10.255.0.1', dstIp: '10.255.0.2', dstPort, payload }));
      out.push(buildUdpFrame({ srcIp: 'fd00:ffff::1', dstIp: 'fd00:ffff::2', dstPort, payload }));
    }
    out.push(buildUdpFrame({ srcIp: '10.255.0.1', dstIp: '10.255.0.2', dstPort, vlans: [{ id: 7 }] }));
    out.push(buildUdpFrame({ srcIp: '10.255.0.1', dstIp: '10.255.0.2', dstPort, udpChecksum: 0 }));
    out.push(buildUdpFrame({ srcIp: '10.255.0.1', dstIp: '10.255.0.2', dstPort, ttl: 1 }));
  }
  out.push(buildUdpFrame({ srcIp: '10.255.0.1', dstIp: '10.255.0.2', badIpChecksum: true }));
  out.push(buildUdpFrame({ srcIp: '10.255.0.1', dstIp: '10.255.0.2', truncate: 30 }));
  return out;
}

/** One warming run's state: frames and rounds so far, small batches, whether hot, the bounds. */
function warmState(t0: number, budgetMs: number, maxFrames: number) {
  return { t0, n: 0, rounds: 0, r: 0, small: 0, hot: false, finished: false, budgetMs, maxFrames };
}

/**
 * Warms a datapath up, at start and again whenever its hot path was found cold after a quiet
 * spell. Keeps its throwaway pipeline and simulated port for those re-warms (no garbage, and
 * the histograms' WebAssembly memory is allocated once).
 */
export class Warmer {
  private readonly frames: Uint8Array[];
  private readonly target: WarmTarget;
  private readonly clock = new RxClock(true);
  private readonly sim?: XdpPort;
  private readonly kernel?: SimKernel;
  /** The live loop's class, busy-polling and not: both ways to wait get compiled. */
  private readonly loops: BlockingLoop[] = [];
  /**
   * The loops' control hooks: two, with two functions, so the call inside LoopHooks.control is
   * compiled for any (the live datapath brings a third). Made once and kept: V8's compiled loop
   * refers to them (weakly), and code whose objects die is thrown away at the next GC; the
   * first full GC after warming (datapath.ts) would do exactly that.
   */
  private readonly hooks = [new LoopHooks(() => this.step(), () => {}), new LoopHooks(() => this.step(), () => void 0)];
  /** The loops' mail count, moved now and then as the live one's is by messages. */
  private readonly mail = new Int32Array(1);
  /** One warming run's state (run() sets it; step() plays the kernel). */
  private state = warmState(0, 0, 0);

  constructor(private readonly o: WarmOptions) {
    this.frames = syntheticFrames(o.cfg.ports);
    this.target = o.build();
    if (o.cfg.kind === 'afxdp') {
      const ring = Math.min(o.cfg.ringSize, 512);
      this.sim = new XdpPort({
        ifindex: 0,
        ifname: 'warm',
        queue: o.cfg.queue,
        mode: 'native',
        bind: 'copy',
        frameSize: 2048,
        frameCount: ring * 4,
        ringSize: ring,
        txRingSize: ring,
        simulated: true,
        headStamps: o.cfg.headStamps,
      });
      this.kernel = new SimKernel(this.sim);
      // The live loop's class, with control() after every round (it plays the kernel there)
      // and a poll() that never blocks (timeout 0; the simulated kernel makes the socket
      // readable): one busy-polls before it parks, the other parks at once, so waking with
      // frames ready is compiled too, down to the poll() call. The busy-polling one finds every
      // yield contended, so giving way is compiled too.
      const common = { batchSize: o.cfg.batchSize, controlEveryMs: 0, pollTimeoutMs: 0, idleEveryMs: 0, mail: this.mail };
      this.loops.push(new BlockingLoop(this.sim, this.target.handler, { ...common, busyPollUs: Math.min(o.cfg.busyPollUs, 50), polite: true, contendedYieldUs: 0 }));
      this.loops.push(new BlockingLoop(this.sim, this.target.handler, { ...common, busyPollUs: 0, polite: false }));
    }
  }

  private done(): boolean {
    const st = this.state;
    if (st.n >= st.maxFrames) return true;
    if ((++st.rounds & 255) !== 0) return false;
    if (performance.now() - st.t0 > st.budgetMs) return true;
    if (!st.hot) st.hot = this.hot();
    return st.hot && (st.small >= MIN_SMALL_BATCHES || !this.kernel);
  }

  /** A warm loop's control(): play the kernel (deliver a burst, take what was sent); false ends the round. */
  private step(): boolean {
    const st = this.state;
    const kernel = this.kernel!;
    kernel.complete();
    this.target.afterBatch?.();
    if (this.done()) {
      st.finished = true;
      return false;
    }
    if (++st.r > 64) return false;
    // The live datapath sets `polite` as it finds the CPUs shared or not: set it here too, so V8
    // takes it for a field that changes (had it compiled the loop with the field as a constant,
    // the first live store would throw that code away, and everything inlined in it).
    if ((st.r & 31) === 0) for (const l of this.loops) l.polite = !l.polite;
    if ((st.r & 7) === 0) Atomics.add(this.mail, 0, 1);
    // Bursts of one to several batches, and now and then nothing for a few rounds: the loop
    // then goes idle, parks and times out (twice in a row: the quiet spell's idle() too), as
    // the live one does between bursts.
    // And, until MIN_SMALL_BATCHES have run, one to three frames a batch, as slow traffic comes,
    // between full batches as live traffic mixes them (once the hot functions are compiled, a
    // full delivery is one batch: it keeps the warm start short).
    const r = st.r & 15;
    const small = st.small < MIN_SMALL_BATCHES && r >= 4 && r < 12;
    if (small) st.small++;
    const want = r >= 12 ? 0 : small ? 1 + (st.r % 3) : this.o.cfg.batchSize * (st.hot ? 1 : 1 + (st.r % 5));
    st.n += kernel.deliver(this.frames, st.n, want, this.clock.now());
    return true;
  }

  /**
   * The functions the loop calls once a batch, outside the frame path, compiled now if V8 has
   * not: each is marked and then called once in a way that changes nothing on the warm objects.
   * Where V8 does not inline them into the frame path, they get hot only under slow traffic (a
   * frame a batch, tens of thousands of calls): --trace-opt showed XdpPort.send compiled in the
   * middle of a live burst in half the runs even after MIN_SMALL_BATCHES.
   */
  private compilePerBatch(): void {
    const h = this.target.handler;
    const calls = [...(this.sim?.perBatchCalls() ?? [])];
    if (h.endBatch) calls.push({ name: 'endBatch', fn: h.endBatch, call: () => h.endBatch!() });
    const pending = calls.filter((c) => isOptimized(c.fn) === false && optimizeOnNextCall(c.fn));
    for (const c of pending) c.call();
    // One that V8 was already compiling on a helper thread is not done yet (the mark does not
    // apply to it): wait for its code, calling it so that V8 installs it, for up to 100 ms.
    const until = performance.now() + 100;
    while (pending.some((c) => isOptimized(c.fn) === false) && performance.now() < until) {
      Atomics.wait(NAP, 0, 0, 1);
      for (const c of pending) c.call();
    }
  }

  /** AF_XDP: the two loops by turns over the simulated kernel, until step() says finished. */
  private turns(): void {
    const st = this.state;
    for (let turn = 0; !st.finished; turn++) {
      st.r = 0;
      this.loops[turn & 1].run(this.hooks[(turn >> 1) & 1]);
    }
    this.kernel!.complete();
  }

  /** Warm up; returns how long it took, how many frames it ran and what V8 compiled. */
  run(budgetMs = this.o.budgetMs ?? 2000, maxFrames = this.o.maxFrames ?? 2_000_000): WarmReport {
    const t0 = performance.now();
    const st = (this.state = warmState(t0, budgetMs, maxFrames));
    const { frames, target } = this;
    const batch = this.o.cfg.batchSize;

    if (this.kernel) {
      this.turns();
    } else {
      // Raw mode: the pipeline and stages over frames in a plain buffer (the AF_PACKET ring code
      // itself is not simulated; it warms on the first real blocks).
      const slot = 2048;
      const buf = new Uint8Array(slot * batch);
      const h = target.handler;
      while (!this.done()) {
        h.beginBatch?.();
        for (let i = 0; i < batch; i++) {
          const f = frames[(st.n + i) % frames.length];
          buf.set(f, i * slot);
          h.frame(buf, i * slot, f.length);
        }
        h.endBatch?.();
        st.n += batch;
        target.afterBatch?.();
      }
    }
    this.compilePerBatch();
    const cold = this.o.hot.filter((h) => isOptimized(h.fn) === false).map((h) => h.name);
    const known = this.o.hot.some((h) => isOptimized(h.fn) !== undefined);
    return { ms: Math.round((performance.now() - t0) * 10) / 10, frames: st.n, optimized: known ? cold.length === 0 : undefined, cold };
  }

  /** Whether V8 still has every hot function compiled (true when it can't tell). */
  hot(): boolean {
    return this.o.hot.every((h) => isOptimized(h.fn) !== false);
  }
}
