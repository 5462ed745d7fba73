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
import type { WarmReport, WorkerConfig } from './protocol.js';

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

/** Warm up; returns how long it took, how many frames it ran and what V8 compiled. */
export function warmUp(o: WarmOptions): WarmReport {
  const t0 = performance.now();
  const budget = o.budgetMs ?? 2000;
  const maxFrames = o.maxFrames ?? 2_000_000;
  const frames = syntheticFrames(o.cfg.ports);
  const target = o.build();
  const batch = o.cfg.batchSize;
  let n = 0;
  let rounds = 0;
  const allHot = () => o.hot.every((h) => isOptimized(h.fn) !== false);

  if (o.cfg.kind === 'afxdp') {
    const ring = Math.min(o.cfg.ringSize, 2048);
    const sim = new XdpPort({
      ifindex: 0,
      ifname: 'warm',
      queue: o.cfg.queue,
      mode: 'native',
      bind: 'copy',
      frameSize: o.cfg.frameSize,
      frameCount: ring * 4,
      ringSize: ring,
      txRingSize: ring,
      simulated: true,
    });
    const kernel = new SimKernel(sim);
    try {
      while (n < maxFrames) {
        const nowNs = performance.now() * 1e6;
        n += kernel.deliver(frames, n, batch, nowNs);
        sim.receive(batch, target.handler);
        kernel.complete();
        target.afterBatch?.();
        if ((++rounds & 255) === 0 && (allHot() || performance.now() - t0 > budget)) break;
      }
    } finally {
      sim.close();
    }
  } else {
    // Raw mode: the pipeline and stages over frames in a plain buffer (the AF_PACKET ring code
    // itself is not simulated; it warms on the first real blocks).
    const slot = 2048;
    const buf = new Uint8Array(slot * batch);
    while (n < maxFrames) {
      const h = target.handler;
      h.beginBatch?.();
      for (let i = 0; i < batch; i++) {
        const f = frames[(n + i) % frames.length];
        buf.set(f, i * slot);
        h.frame(buf, i * slot, f.length);
      }
      h.endBatch?.();
      n += batch;
      target.afterBatch?.();
      if ((++rounds & 255) === 0 && (allHot() || performance.now() - t0 > budget)) break;
    }
  }
  const cold = o.hot.filter((h) => isOptimized(h.fn) === false).map((h) => h.name);
  const known = o.hot.some((h) => isOptimized(h.fn) !== undefined);
  return { ms: Math.round((performance.now() - t0) * 10) / 10, frames: n, optimized: known ? cold.length === 0 : undefined, cold };
}
