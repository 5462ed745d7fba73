/**
 * One queue's datapath, in a thread of its own: its socket (AF_XDP with its UMEM and rings, or
 * the AF_PACKET fallback), its pipeline (parse, count, forward, tap the feed) and its receive
 * loop. Nothing else runs here: the main thread is the control plane (XDP program, rules,
 * neighbours, feed server, metrics, stats, summary) and hears from this thread only through
 * counter snapshots and the feed ring.
 *
 * Start: open the socket, warm the pipeline up over synthetic frames (warm.ts), say 'ready'
 * (the main thread then puts the socket in the XSKMAP and attaches the program), then loop.
 * The loop (pipeline/blocking-loop.ts) owns the thread and parks in poll() when idle (on the
 * socket and on an eventfd the main thread rings with each message); every 250 ms (every
 * second while frames flow), or when asked, it returns to this thread's event loop for a moment
 * (counter snapshot out, GC observer in). Latency goes to the main thread without it: the
 * histograms are in shared memory (pipeline/shared-histogram.ts).
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { XdpPort } from '../afxdp/xdp-port.js';
import { RawPort } from '../rawsock/raw-port.js';
import { Pipeline } from '../pipeline/pipeline.js';
import type { Stage } from '../pipeline/stage.js';
import { BlockingLoop, LoopHooks } from '../pipeline/blocking-loop.js';
import { RxClock } from '../pipeline/rx-clock.js';
import { SharedLatency } from '../pipeline/shared-histogram.js';
import { RuntimeWatch } from '../metrics/runtime.js';
import { ForwardStage } from '../forward/stage.js';
import { macBytes } from '../forward/table.js';
import { FrameParser } from '../frame/parse.js';
import { mayRunOn, pinThread, threadId } from './affinity.js';
import { applySched } from './sched.js';
import { collectGarbage } from '../util/gc.js';
import { SysError } from '../sys/errors.js';
import { tableFrom } from './forward-table.js';
import { FeedTapStage } from './feed-tap.js';
import { createFeedRing, createFeedWake, Doorbell, FeedRingReader, type FeedRingBuffers } from './feed-ring.js';
import { Warmer, type HotFunction } from './warm.js';
import { checkStage, loadStageFactories } from './user-stage.js';
import type { FromWorker, SerializedRule, Snapshot, ToWorker, WorkerConfig } from './protocol.js';
import type { FrameHandler, Port } from '../port/port.js';
import { settleArrayBufferDetaching } from '../util/detach.js';
import { performance } from 'node:perf_hooks'; // not the global: a lazy accessor (see pipeline/blocking-loop.ts)
// The loop's control hook reads the clock as the loop does, without boxing (sys/clock.ts).
import { clock, tick } from '../sys/clock.js';

const cfg = workerData as WorkerConfig;
const post = (m: FromWorker) => parentPort!.postMessage(m);
/** Counter snapshots to the main thread: every 250 ms, every second while frames flow, and when asked. */
const SNAPSHOT_MS = 250;
const SNAPSHOT_BUSY_MS = 1000;

if (cfg.cpus) pinThread(cfg.cpus);
const sched = applySched(cfg.sched);
// Protectors are per isolate: this thread's too, before its warm start (see util/detach.ts).
settleArrayBufferDetaching();
const userStages = await loadStageFactories(cfg.stages);

interface Built {
  pipeline: Pipeline;
  forward?: ForwardStage;
  feedTap?: FeedTapStage;
  latency?: SharedLatency;
}

/** The pipeline, its stages in order, its histograms. One factory for the live and the warm one. */
function build(rules: SerializedRule[] | undefined, feedRing: FeedRingBuffers | undefined, feedWake: MessagePort | undefined, warm = false): Built {
  // The warm pipeline records into histograms of its own, the live one into those the main thread reads.
  const latency = cfg.latency ? new SharedLatency(warm ? undefined : cfg.latencyBuffers) : undefined;
  // The user's --stage stages first, then the built-in ones.
  const stages: Stage[] = userStages.map((f, i) => {
    const s = f({ warm, queue: cfg.queue, ports: cfg.ports });
    checkStage(cfg.stages![i], s);
    return s;
  });
  let forward: ForwardStage | undefined;
  if (cfg.forward && rules) {
    forward = new ForwardStage(tableFrom(rules), macBytes(cfg.forward.srcMac));
    stages.push(forward);
  }
  // The feed comes after forwarding: what is forwarded is not fed.
  const feedTap = feedRing ? new FeedTapStage(feedRing, feedWake) : undefined;
  if (feedTap) stages.push(feedTap);
  const pipeline = new Pipeline(stages, { clock: new RxClock(cfg.kind === 'afxdp'), latency });
  return { pipeline, forward, feedTap, latency };
}

function openPort(): XdpPort | RawPort {
  if (cfg.kind === 'raw') {
    return new RawPort({
      ifindex: cfg.ifindex,
      ifname: cfg.ifname,
      ports: cfg.ports,
      ringSize: cfg.ringSize,
      frameSize: cfg.frameSize,
      txRingSize: cfg.txRingSize,
    });
  }
  // A queue whose previous socket closed a moment ago (a restart, another AF_XDP program) is
  // still busy until the kernel's workqueue frees it: retry the bind for up to 2 s on EBUSY.
  // (Another xsk holding it is refused earlier, by the interface lock.)
  const deadline = performance.now() + BUSY_RETRY_MS;
  for (;;) {
    try {
      return new XdpPort({
        ifindex: cfg.ifindex,
        ifname: cfg.ifname,
        queue: cfg.queue,
        mode: 'native',
        bind: cfg.bind,
        frameSize: cfg.frameSize,
        frameCount: cfg.frames,
        ringSize: cfg.ringSize,
        txRingSize: cfg.txRingSize,
        hugepages: cfg.hugepages,
        headStamps: cfg.headStamps,
      });
    } catch (e) {
      if (!(e instanceof SysError && e.errno === EBUSY) || performance.now() >= deadline) throw e;
      Atomics.wait(sleeper, 0, 0, 20);
    }
  }
}
const EBUSY = 16;
const BUSY_RETRY_MS = 2000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

// The warm pipeline: its forward table has every backend resolved (so the rewrite runs) and its
// feed ring is a scratch one, drained and discarded. Every other batch its reader is marked
// parked, so that the commit's wake-the-reader branch is compiled too: the live main thread
// parks between bursts, and that branch's first run was a deopt in the datapath thread. Its
// wake channel is closed at once: the posts go nowhere (a closed port drops them).
function warmTarget() {
  const rules = cfg.forward?.rules.map((r) => ({ ...r, backends: r.backends.map((b) => ({ ...b, mac: b.mac ?? '02:00:00:00:00:fe' })) }));
  const ring = cfg.feedRing ? createFeedRing(1 << 20) : undefined;
  const wake = ring ? createFeedWake() : undefined;
  wake?.reader.close();
  const w = build(rules, ring, wake?.writer, true);
  if (!ring) return { handler: w.pipeline };
  const reader = new FeedRingReader(ring);
  const bell = new Doorbell(ring.doorbell);
  const sink = { record() {} };
  let batches = 0;
  const afterBatch = () => {
    reader.drain(sink);
    if ((++batches & 1) === 0) bell.arm();
    else bell.disarm();
  };
  return { handler: w.pipeline, afterBatch };
}
const hot: HotFunction[] = [
  { name: 'Pipeline.frame', fn: Pipeline.prototype.frame },
  { name: 'FrameParser.parse', fn: FrameParser.prototype.parse },
  ...(cfg.kind === 'afxdp'
    ? [
        { name: 'XdpPort.receive', fn: XdpPort.prototype.receive },
        // The loop itself, compiled as a function and not only on-stack (OSR): the live loop is
        // entered anew after every snapshot, and until V8 compiled it, it ran in baseline code,
        // which boxes the numbers it computes (times, counts) in new heap numbers:
        // ~2 MB of garbage over a 100,000-frame burst, each fresh page of it a page fault.
        { name: 'BlockingLoop.run', fn: BlockingLoop.prototype.run },
      ]
    : []),
];
let rewarms = 0;
const warmer = cfg.warm ? new Warmer({ cfg, build: warmTarget, hot }) : undefined;
const warm = warmer?.run();

// The live socket and pipeline only now, after the warm start: objects built before it could be
// left with shapes V8 has since changed (a field it saw hold other kinds of values), and the
// compiled code would be thrown away at their first batch.
const port = openPort();
port.setWakeFd(cfg.wakeFd);
const live = build(cfg.forward?.rules, cfg.feedRing, cfg.feedWake);
const { pipeline } = live;

let handler: FrameHandler = pipeline;
if (cfg.failAfter !== undefined) {
  // Test hook: a handler that breaks after N frames, as a bug in a stage would.
  const limit = cfg.failAfter;
  handler = {
    beginBatch: () => pipeline.beginBatch(),
    endBatch: () => pipeline.endBatch(),
    frame(buf, off, len) {
      if (pipeline.packets >= limit) throw new Error(`queue ${cfg.queue}: failing on purpose after ${limit} frames (test hook)`);
      return pipeline.frame(buf, off, len);
    },
  };
}
const loop = new BlockingLoop(port as Port, handler, { batchSize: cfg.batchSize, busyPollUs: cfg.busyPollUs, mail: cfg.posted });
/**
 * Polite (give the CPU way when busy-polling finds it wanted) unless this thread has its CPUs to
 * itself: with --cpus the main thread is moved off them, but may be moved back (taskset). The
 * main thread watches its own mask and sends 'affinity' when it changes (runner.ts's
 * AffinityWatch), and this looks again then. (V8's and libuv's helper threads follow the main
 * thread's mask.) Not polite, the loop busy-polls without yielding: a main thread moved onto its
 * CPU would get it only at ticks until then.
 */
function checkPolite(): void {
  loop.polite = !cfg.cpus || mayRunOn(process.pid, cfg.cpus);
}
checkPolite();
// What the warm start and the set-up left behind is collected now, before any traffic: a major
// GC of that garbage (the simulated UMEM counts as external memory) would otherwise come later,
// in the middle of a burst. From here on the datapath allocates nothing per packet.
collectGarbage();
const runtime = new RuntimeWatch();
runtime.start();

/** The counters, for the main thread. (Latency is not in it: the main thread reads the shared histograms.) */
function snapshot(final: boolean): Snapshot {
  const xdp = port instanceof XdpPort ? port : undefined;
  const raw = port instanceof RawPort ? port : undefined;
  const rt = runtime.summary().runtime as Record<string, number>;
  const fwd = live.forward;
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
    txDrops: raw
      ? { ring_full: raw.txRingFull, too_long: raw.txTooLong, flush_errors: raw.txFlushErrors }
      : { ring_full: port.txRingFull },
    kernel: port.kernelStats(),
    rings: xdp ? xdp.ringLevels() : {},
    frames: final && xdp ? xdp.frameAccount() : undefined,
    port: xdp
      ? { bind: xdp.socket.zeroCopy ? 'zero-copy' : 'copy' }
      : { raw_stats: rawStats(raw!) },
    forward: fwd && {
      forwarded: fwd.forwarded,
      checksumCompleted: fwd.checksumCompleted,
      perBackend: fwd.perBackend(),
      drops: { ttl_expired: fwd.ttlExpired, unresolved: fwd.unresolved, family_mismatch: fwd.familyMismatch, bad_checksum: fwd.badChecksum },
    },
    timeSource: pipeline.timeSource(),
    feedOverflows: live.feedTap?.writer.overflows ?? 0,
    runtime: {
      gc_minor: rt.gc_minor,
      gc_major: rt.gc_major,
      gc_ms: rt.gc_ms,
      old_space_growth_bytes: rt.old_space_growth_bytes,
      heap_used_bytes: rt.heap_used_end_bytes,
    },
    loop: { parks: loop.parks, wakeups: loop.wakeups, yielded: loop.yielded, rewarms },
  };
}

function rawStats(raw: RawPort): Record<string, unknown> {
  const k = raw.kernelStats();
  return {
    rx_packets: k.rx_packets,
    rx_dropped: k.rx_dropped,
    rx_freeze_q_cnt: k.rx_freeze_q_cnt,
    qdisc_bypass: raw.socket.qdiscBypass,
    vlan_restored: raw.vlanRestored,
    csum_completed: raw.csumCompleted,
    csum_not_completed: raw.csumNotCompleted,
  };
}

let stopping = false;
let snapshotNow = false;
tick();
let lastSnapshot = clock[0];

function handle(m: ToWorker): void {
  if (m.type === 'stop') stopping = true;
  else if (m.type === 'snapshot') snapshotNow = true;
  else if (m.type === 'forward' && live.forward) live.forward.setTable(tableFrom(m.rules));
  else if (m.type === 'ports') port.setPorts(m.ports);
  else if (m.type === 'mode' && port instanceof XdpPort) port.mode = m.mode;
  else if (m.type === 'affinity') checkPolite();
}

let packetsAtControl = 0;
const hooks = new LoopHooks(
  (mailed: boolean): boolean => {
    // Read the port only when the main thread has posted since (the loop watches cfg.posted).
    if (mailed) for (let m = receiveMessageOnPort(cfg.control); m; m = receiveMessageOnPort(cfg.control)) handle(m.message as ToWorker);
    if (stopping || snapshotNow) return false;
    // Back to the event loop now and then: the snapshot goes out. That
    // takes the loop off the socket for ~0.1-0.2 ms (the code is cache-cold by then), so while
    // frames flow it waits longer: a burst is not interrupted, steady traffic once a second.
    const flowing = pipeline.packets !== packetsAtControl;
    packetsAtControl = pipeline.packets;
    tick();
    return clock[0] - lastSnapshot < (flowing ? SNAPSHOT_BUSY_MS : SNAPSHOT_MS);
  },
  (): void => {
    // A quiet spell: if V8 has dropped the compiled hot path, warm it again before traffic does.
    if (!warmer || warmer.hot()) return;
    rewarms++;
    warmer.run(500);
  },
);

async function finish(): Promise<void> {
  cfg.control.close();
  await port.drainTx();
  runtime.stop();
  post(snapshot(true));
  port.close();
  parentPort!.close();
}

function round(): void {
  loop.run(hooks);
  if (stopping) {
    void finish();
    return;
  }
  tick();
  lastSnapshot = clock[0];
  snapshotNow = false;
  post(snapshot(false));
  setImmediate(round);
}

// The snapshot's code compiled now, not at the first one in the middle of traffic (its first run
// compiles what it calls: ~2-3 ms on this thread, a burst's worth of frames). Not sent.
for (let i = 0; i < 3; i++) snapshot(false);

// AF_XDP: the main thread names the attach mode (it attaches after this); say copy or zero-copy.
const description = port instanceof XdpPort ? (port.socket.zeroCopy ? 'zero-copy' : 'copy') : port.description;
post({ type: 'ready', queue: cfg.queue, fd: port instanceof XdpPort ? port.socket.fd : -1, description, warm, tid: threadId(), sched });
round();
