/**
 * One queue's datapath in its own worker thread: its own AF_XDP socket, UMEM and rings, its own
 * pipeline (parse, count, forward) and receive loop. Shares nothing with other queues on the
 * hot path; the main thread owns the XDP program (it puts this socket in the XSKMAP), the CLI,
 * the metrics and the summary, and hears from here only in periodic counter snapshots.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { XdpPort } from '../afxdp/xdp-port.js';
import { Pipeline } from '../pipeline/pipeline.js';
import type { Stage } from '../pipeline/stage.js';
import { RxLoop } from '../pipeline/loop.js';
import { RxClock } from '../pipeline/rx-clock.js';
import { initLatency, Latency } from '../metrics/latency.js';
import { ForwardStage } from '../forward/stage.js';
import { macBytes } from '../forward/table.js';
import { pinThread } from './affinity.js';
import { tableFrom } from './forward-table.js';
import { FeedTapStage } from './feed-tap.js';
import type { FromWorker, Snapshot, ToWorker, WorkerConfig } from './protocol.js';
import type { FrameHandler } from '../port/port.js';

const cfg = workerData as WorkerConfig;
const post = (m: FromWorker) => parentPort!.postMessage(m);

if (cfg.cpus) pinThread(cfg.cpus);
await initLatency();
const port = new XdpPort({
  ifindex: cfg.ifindex,
  ifname: cfg.ifname,
  queue: cfg.queue,
  mode: cfg.mode,
  bind: cfg.bind,
  frameSize: cfg.frameSize,
  frameCount: cfg.frames,
  ringSize: cfg.ringSize,
  txRingSize: cfg.txRingSize,
  hugepages: cfg.hugepages,
});
const latency = cfg.latency ? new Latency() : undefined;
const stages: Stage[] = [];
let forward: ForwardStage | undefined;
if (cfg.forward) {
  forward = new ForwardStage(tableFrom(cfg.forward.rules), macBytes(cfg.forward.srcMac));
  stages.push(forward);
}
// The feed comes after forwarding: what is forwarded is not fed (as with one queue).
const feedTap = cfg.feedRing ? new FeedTapStage(cfg.feedRing) : undefined;
if (feedTap) stages.push(feedTap);
const pipeline = new Pipeline(stages, { clock: new RxClock(true), latency });

let handler: FrameHandler = pipeline;
if (cfg.failAfter !== undefined) {
  // Test hook: a handler that breaks after N frames, as a bug in a stage would.
  const limit = cfg.failAfter;
  handler = {
    beginBatch: () => pipeline.beginBatch(),
    endBatch: () => pipeline.endBatch(),
    frame(buf, off, len) {
      if (pipeline.packets >= limit) throw new Error(`queue ${cfg.queue}: failing on purpose after ${limit} frames (--fail-after)`);
      return pipeline.frame(buf, off, len);
    },
  };
}
const loop = new RxLoop(port, handler, { batchSize: cfg.batchSize, busyPollUs: cfg.busyPollUs });

let snapshots = 0;
function snapshot(final: boolean): Snapshot {
  const withLatency = latency !== undefined && (final || snapshots++ % 4 === 0);
  return {
    type: 'snapshot',
    queue: cfg.queue,
    final,
    packets: pipeline.packets,
    bytes: pipeline.bytes,
    datagrams: pipeline.datagrams,
    payloadBytes: pipeline.payloadBytes,
    invalid: [...pipeline.invalid.counts],
    txPackets: port.txPackets,
    txBytes: port.txBytes,
    txRingFull: port.txRingFull,
    kernel: port.kernelStats(),
    rings: port.ringLevels(),
    frames: final ? port.frameAccount() : undefined,
    forward: forward && {
      forwarded: forward.forwarded,
      perBackend: Object.fromEntries(forward.table.backends().map((b) => [b.name, b.forwarded])),
      drops: { ttl_expired: forward.ttlExpired, unresolved: forward.unresolved, family_mismatch: forward.familyMismatch },
    },
    latency: withLatency ? latency!.encode() : undefined,
    timeSource: pipeline.timeSource(),
    feedOverflows: feedTap?.writer.overflows ?? 0,
  };
}

const timer = setInterval(() => post(snapshot(false)), 250);

parentPort!.on('message', (m: ToWorker) => {
  if (m.type === 'forward' && forward) {
    forward.table = tableFrom(m.rules, forward.table);
  } else if (m.type === 'stop') {
    void (async () => {
      clearInterval(timer);
      await loop.stop();
      await port.drainTx();
      post(snapshot(true));
      port.close();
      parentPort!.close();
    })();
  }
});

post({ type: 'ready', queue: cfg.queue, fd: port.socket.fd, description: port.description });
loop.start();
