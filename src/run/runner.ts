/**
 * The runner: one code path for one queue or many. Each bound queue gets a datapath thread
 * (datapath.ts: socket, pipeline, receive loop); this thread is the control plane:
 *
 *   - the mode ladder: AF_XDP (program loaded here, sockets opened by the datapath threads,
 *     program attached last, once every socket is warm and in the XSKMAP), or raw (AF_PACKET);
 *     first the interface's lock (iface-lock.ts) and AF_XDP's limits (ladder.ts), before acting;
 *     `auto` falls back to raw only when AF_XDP itself is unavailable (ladder.ts classify: by
 *     step and errno), and says why; any other failure ends xsk with its reason;
 *   - forwarding rules, neighbours, SIGHUP reloads (tables go to the threads as messages);
 *   - the feed: the threads copy datagrams into shared rings that ring a doorbell here;
 *   - metrics, the stats line and the exit summary, from the same Components whatever the
 *     queue count (the threads report counter snapshots).
 *
 * Whatever happens, the XDP program goes away with the process (a bpf_link held by it), and a
 * failure in any thread ends the process with its reason and a non-zero exit.
 */
import v8 from 'node:v8';
import type { XskOptions } from './options.js';
import type { XdpProgram } from '../xdp/program.js';
import type { Component } from '../pipeline/stage.js';
import type { Forwarder } from '../forward/component.js';
import { macBytes } from '../forward/table.js';
import { interfaceMac } from '../forward/neighbours.js';
import { createFeed } from '../feed/create.js';
import { warmFeed, warmFeedWire } from './feed-warm.js';
import { settleArrayBufferDetaching } from '../util/detach.js';
import type { FeedComponent } from '../feed/component.js';
import { NatsComponent } from '../nats/component.js';
import { initLatency, Latency } from '../pipeline/latency.js';
import { MetricsComponent } from '../metrics/component.js';
import { RuntimeWatch } from '../metrics/runtime.js';
import { log } from '../log.js';
import { keepOthersOff } from './affinity.js';
import { AffinityWatch } from './affinity-watch.js';
import { describeSched, HELPER_NICE, lowerHelperThreads, type DatapathSched, type ThreadSched } from './sched.js';
import { longTimeout } from '../util/timer.js';
import { checkPorts } from '../rawsock/filter.js';
import { QueuePool, type ReadySocket } from './pool.js';
import { serializeTable } from './forward-table.js';
import { totals } from './aggregate.js';
import { createDoorbell, createFeedRing, createFeedWake, type FeedRingBuffers, type FeedWake } from './feed-ring.js';
import { FeedIngest } from './feed-ingest.js';
import { DatapathComponent } from './datapath-component.js';
import { attachProgram, loadProgram } from './program.js';
import { afxdpProblems, classify, explain, systemParams, type LadderFlags } from './ladder.js';
import { tryLockInterface } from './iface-lock.js';
import { mtuOf } from '../sys/interfaces.js';
import { getpagesize } from '../sys/libc.js';
import { attachedPrograms, describeProgram } from '../xdp/program.js';
import type { DatapathKind, WorkerConfig } from './protocol.js';
import { parkFallback } from '../sys/park.js';

/** Each datapath's ring to the feed: room for ~50 ms of 1 Mpps of small datagrams. */
const FEED_RING_BYTES = 4 << 20;

export interface RunContext {
  opts: XskOptions;
  ifindex: number;
  /** The queues to bind (one datapath thread each). */
  queues: number[];
  /** Whether the user asked for a queue list (--queues) rather than one --queue. */
  queueList: boolean;
  ports: number[];
  forwarder?: Forwarder;
  fail(msg: string): never;
}

export async function run(c: RunContext): Promise<void> {
  const { opts, forwarder, fail } = c;
  // Compiled code and its bytecode stay, however long the datapath has been quiet (the warm
  // start compiled them for the first burst after idle, not for the first one after start only).
  v8.setFlagsFromString('--no-flush-bytecode');

  let program: XdpProgram | undefined;
  let pool: QueuePool | undefined;
  let kind: DatapathKind = opts.mode === 'raw' ? 'raw' : 'afxdp';
  let mode = kind === 'raw' ? 'raw' : 'pending';

  const crash = (e: unknown) => {
    program?.detach();
    fail(e instanceof Error ? e.message : String(e));
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);

  let failing = false;
  const failAll = async (reason: string) => {
    if (failing) return;
    failing = true;
    program?.detach();
    log.error(`stopping: ${reason}`);
    await pool?.terminate();
    fail(reason);
  };

  // One xsk per interface, whatever the mode: the lock comes before anything is loaded or opened.
  lockInterface(opts.iface, c.ifindex, fail);

  const ladder: LadderFlags = { iface: opts.iface, bind: opts.bind, hugepages: opts.hugepages, frameSize: opts.frameSize, mtu: mtuOf(opts.iface) };
  // What AF_XDP can't do with these flags here, before acting: the user's to fix, in auto mode too.
  if (kind === 'afxdp') {
    const problems = afxdpProblems({
      iface: opts.iface,
      frameSize: opts.frameSize,
      frames: opts.frames,
      queues: c.queues.length,
      hugepages: opts.hugepages,
      mtu: ladder.mtu,
      ...systemParams(getpagesize()),
    });
    if (problems.length > 0) fail(problems[0]);
  }

  /**
   * An AF_XDP step failed: auto mode falls back to raw only when AF_XDP itself is unavailable
   * (classify: by step and errno); anything else, and any failure in a forced mode, ends xsk
   * with its reason in one line.
   */
  const fallBack = (e: unknown) => {
    const v = classify(e, ladder);
    if ('error' in v) return fail(v.error);
    const why = v.fallBack;
    if (opts.mode !== 'auto') fail(why);
    // Flags raw mode refuses: say so, rather than land there and ignore them.
    const rawless = opts.bind === 'zero-copy' ? '--zero-copy' : opts.hugepages ? '--hugepages' : undefined;
    if (rawless) fail(`AF_XDP unavailable (${why}), and raw mode (AF_PACKET) has no UMEM for ${rawless}: leave out ${rawless} to run in raw mode`);
    // Raw mode's socket filter has limits of its own: say both reasons rather than fail later.
    const rawProblem = checkPorts('raw', c.ports);
    if (rawProblem) fail(`AF_XDP unavailable (${why}), and raw mode can't take these ports: ${rawProblem}`);
    log.warn(`AF_XDP unavailable (${why}); falling back to raw mode (AF_PACKET)`);
    kind = 'raw';
    mode = 'raw';
  };

  if (kind === 'afxdp') {
    try {
      program = loadProgram(c.ports, undefined, { logger: log, stampEvery: opts.latency ? opts.latencySample : 0 });
    } catch (e) {
      fallBack(e);
    }
    // A busy interface is an answer, not a reason to fall back.
    try {
      program?.makeWay(c.ifindex, opts.iface, opts.force);
    } catch (e) {
      program?.close();
      fail((e as Error).message);
    }
  }

  // Before any warm start on this thread (see util/detach.ts).
  settleArrayBufferDetaching();
  await initLatency();
  if (forwarder) {
    await forwarder.start();
    forwarder.onTableChange = (t) => pool?.updateForward(serializeTable(t));
  }
  const feed: FeedComponent | undefined = opts.feed
    ? createFeed(opts.feed, c.ports, () => ({ iface: opts.iface, mode, ports: forwarder ? forwarder.ports() : c.ports }), fail)
    : undefined;
  // NATS: connected and its stream checked now, so a problem ends xsk before anything is attached.
  const nats = opts.nats && feed ? new NatsComponent(opts.nats, feed, opts.iface) : undefined;
  if (nats) {
    try {
      await nats.connect();
    } catch (e) {
      program?.close();
      fail((e as Error).message);
    }
  }
  const feedInfo = () => ({ iface: opts.iface, mode, ports: c.ports });
  const feedWarm = feed && opts.warm ? warmFeed({ ...opts.feed!, info: feedInfo }) : undefined;
  // With gRPC, the stream's own path too (grpc-js, HTTP/2), over a loopback port of its own.
  const feedWire = feedWarm && opts.feed!.listen ? await warmFeedWire({ ...opts.feed!, info: feedInfo }) : undefined;
  const srcMac = forwarder ? interfaceMac(opts.iface) : undefined;
  if (srcMac) macBytes(srcMac); // a bad MAC fails here, not in every thread

  const failAfterEnv = process.env.XSK_TEST_FAIL_AFTER;
  const failAfter = failAfterEnv !== undefined && /^\d+$/.test(failAfterEnv) ? Number(failAfterEnv) : undefined;

  let feedRings: FeedRingBuffers[] = [];
  let feedWakes: FeedWake[] = [];
  const startDatapaths = async (k: DatapathKind): Promise<ReadySocket[]> => {
    // Raw mode reads every queue through one socket: one thread.
    const queues = k === 'raw' ? [c.queues[0]] : c.queues;
    const doorbell = createDoorbell();
    feedRings = feed ? queues.map(() => createFeedRing(FEED_RING_BYTES, doorbell)) : [];
    // A second start (the mode ladder's next rung) makes new rings: the old channels go.
    for (const w of feedWakes) w.reader.close();
    feedWakes = feedRings.map(() => createFeedWake());
    const configs: Omit<WorkerConfig, 'control' | 'wakeFd' | 'posted'>[] = queues.map((queue, i) => ({
      kind: k,
      ifname: opts.iface,
      ifindex: c.ifindex,
      queue,
      ports: c.ports,
      bind: opts.bind,
      frameSize: opts.frameSize,
      frames: opts.frames,
      ringSize: opts.ringSize,
      txRingSize: opts.txRingSize,
      batchSize: opts.batchSize,
      busyPollUs: opts.busyPollUs,
      hugepages: opts.hugepages,
      latency: opts.latency,
      headStamps: k === 'afxdp' && (program?.headStamps ?? false),
      warm: opts.warm,
      cpus: opts.cpus ? [opts.cpus[i % opts.cpus.length]] : undefined,
      sched: opts.datapathSched,
      forward: forwarder && srcMac ? { rules: serializeTable(forwarder.stage.table), srcMac } : undefined,
      feedRing: feedRings[i],
      feedWake: feedWakes[i]?.writer,
      failAfter: failAfter !== undefined && i === 0 ? failAfter : undefined,
      stages: opts.stages,
    }));
    pool = new QueuePool((reason) => void failAll(reason));
    return pool.start(configs);
  };

  let sockets: ReadySocket[];
  if (kind === 'afxdp') {
    try {
      sockets = await startDatapaths('afxdp');
      for (const s of sockets) program!.setSocket(s.queue, s.fd);
      mode = attachProgram(program!, {
        ifname: opts.iface,
        ifindex: c.ifindex,
        mode: opts.mode === 'auto' ? 'auto' : (opts.mode as 'native' | 'generic'),
        force: opts.force,
        explain: (e) => explain(e, ladder),
      });
      pool!.broadcast({ type: 'mode', mode: mode as 'native' | 'generic' });
    } catch (e) {
      await pool?.stop();
      program?.close();
      program = undefined;
      fallBack(e);
      warnForeignXdp(c.ifindex, opts.iface);
      sockets = await startOrFail('raw');
    }
  } else {
    warnForeignXdp(c.ifindex, opts.iface);
    sockets = await startOrFail('raw');
  }

  async function startOrFail(k: DatapathKind): Promise<ReadySocket[]> {
    try {
      return await startDatapaths(k);
    } catch (e) {
      return fail((e as Error).message);
    }
  }

  const queues = sockets.map((s) => s.queue);
  // --cpus reserves its CPUs for the datapath threads: everything else in the process moves off.
  let affinityWatch: AffinityWatch | undefined;
  if (opts.cpus) {
    const others = keepOthersOff(opts.cpus, sockets.map((s) => s.tid));
    // The datapath threads looked at who may share their CPUs when they started, before this
    // move: they look again now (until then they would give way to threads that can no longer
    // run there, parking at every lull), and whenever the main thread's mask changes.
    pool!.broadcast({ type: 'affinity' });
    affinityWatch = new AffinityWatch(opts.cpus, () => pool!.broadcast({ type: 'affinity' }));
    affinityWatch.start();
    if (others.length > 0) log.info(`datapath threads on CPU ${[...new Set(opts.cpus)].join(',')}; the control plane and V8's helper threads on CPU ${others.join(',')}`);
  }
  const lowered = opts.datapathSched === 'latency' ? lowerHelperThreads([process.pid, ...sockets.map((s) => s.tid)]) : 0;
  logSched(opts.datapathSched, sockets, lowered);
  if (c.queueList && kind === 'raw') log.warn(`raw mode (AF_PACKET) reads every queue of ${opts.iface} through one socket; --queues is not used`);
  const warm = sockets.find((s) => s.warm)?.warm;
  if (warm) {
    log.info(
      `warm start: ${warm.frames} synthetic frames in ${warm.ms} ms` +
        (warm.optimized === undefined ? '' : warm.optimized ? ', hot path compiled' : `, not yet compiled: ${warm.cold?.join(', ')}`) +
        (feedWarm ? `; feed: ${feedWarm.datagrams} datagrams in ${feedWarm.ms} ms` : '') +
        (feedWire ? `, then ${feedWire.received} messages over loopback gRPC in ${feedWire.ms} ms` : ''),
    );
  }

  // Components: the same ones for one queue or many.
  const datapath = new DatapathComponent(pool!, { iface: opts.iface, queues, mode: () => mode, programCounters: program ? (delivered) => program!.counters(delivered) : undefined });
  if (forwarder) forwarder.counts = () => totals(pool!.snapshots()).forward ?? { forwarded: 0, checksumCompleted: 0, perBackend: {}, drops: {} };

  // Latency: the threads' latest histograms merged, plus the feed's (measured here).
  const merged = opts.latency ? new Latency() : undefined;
  const feedLatency = feed && opts.latency ? new Latency() : undefined;
  if (feed) feed.latency = feedLatency;
  const latency = (): Latency | undefined => {
    if (!merged) return undefined;
    merged.reset();
    for (const l of pool!.latencies()) {
      merged.rx_to_user.add(l.rx_to_user);
      merged.rx_to_tx.add(l.rx_to_tx);
    }
    if (feedLatency) merged.rx_to_feed.add(feedLatency.rx_to_feed);
    return merged;
  };
  const timeSource = () => {
    const snaps = pool!.snapshots();
    return snaps.some((s) => s.timeSource === 'kernel') ? 'kernel' : snaps.some((s) => s.timeSource === 'userspace') ? 'userspace' : 'none';
  };

  const components: Component[] = [datapath];
  if (forwarder) components.push(forwarder);
  if (feed) components.push(feed);
  if (nats) components.push(nats);
  const runtime = new RuntimeWatch();
  components.push(runtime);
  if (parkFallback) log.warn(`datapath parks in poll() and reads the clock through koffi (${parkFallback}): a wake-up from idle takes ~15 µs longer`);
  if (runtime.fallback) log.warn(`GC counts from PerformanceObserver entries (${runtime.fallback}): each collection leaves ~3 KB in V8's old space`);
  const metrics = new MetricsComponent({
    listen: opts.metrics,
    labels: { iface: opts.iface, queue: datapath.allQueues, mode },
    latency,
    latencySample: kind === 'afxdp' ? opts.latencySample : undefined,
    timeSource,
    refresh: () => pool!.refresh(),
    components,
  });
  components.push(metrics);
  // The metrics labels need the mode: components start once it is known.
  const ingest = feed ? new FeedIngest(feed.stage, feedRings, feedWakes.map((w) => w.reader)) : undefined;
  for (const comp of components) await comp.start?.();
  ingest?.start();
  const startedAt = process.hrtime.bigint();

  const statsTimer =
    opts.statsInterval > 0
      ? setInterval(() => {
          // Fresh counters from every thread first (they send their own only now and then).
          void pool!.refresh().then(() => {
            if (stopping) return;
            const parts = components.map((comp) => comp.statsLine?.() ?? '').filter((x) => x);
            log.info(parts.join(' | '));
          });
        }, opts.statsInterval * 1000)
      : undefined;

  let stopping = false;
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(statsTimer);
    affinityWatch?.stop();
    durationTimer?.clear();
    // Stop steering first: no frame is redirected to a socket that is about to close.
    program?.detach();
    await pool!.stop();
    ingest?.stop();
    for (const comp of components) await comp.stop?.();
    const result: Record<string, unknown> = {
      mode,
      iface: opts.iface,
      ...(c.queueList ? {} : { queue: queues[0] }),
      queues,
      ports: forwarder ? forwarder.ports() : c.ports,
      duration_s: Number(process.hrtime.bigint() - startedAt) / 1e9,
    };
    for (const comp of components) Object.assign(result, comp.summary?.());
    if (feed) result.feed_overflows = totals(pool!.snapshots()).feedOverflows;
    if (warm) result.warm = { ...warm, ...(feedWarm ? { feed: { ...feedWarm, ...(feedWire ? { wire: feedWire } : {}) } } : {}) };
    program?.close();
    log.info(`xsk stopping (${why})`);
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
  };
  const durationTimer = opts.duration > 0 ? longTimeout(() => void shutdown('duration'), opts.duration * 1000) : undefined;
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // SIGHUP re-reads --config (forward rules, ports, neighbours); sockets and program stay.
  process.on('SIGHUP', () => {
    if (!forwarder) return log.warn('SIGHUP: nothing to reload (no --config)');
    void forwarder.reload({
      checkPorts: (p) => checkPorts(kind === 'raw' ? 'raw' : 'native', p),
      setPorts: (p) => {
        if (program) program.setPorts(p);
        else pool!.broadcast({ type: 'ports', ports: p });
      },
    });
  });
  // Said last, once every signal handler is in place: a signal sent on seeing this line must
  // find its handler, not the default action.
  const described = sockets.map((s) => (kind === 'raw' ? s.description : `${opts.iface} queue ${s.queue}, AF_XDP ${mode} mode, ${s.description}`));
  log.info(`xsk up: ${described.join('; ')}, ports ${c.ports.join(',')} (datapath in ${sockets.length} thread${sockets.length > 1 ? 's' : ''})`);
}

/**
 * Take the interface's lock (iface-lock.ts), or end xsk with who holds it. Where the lock file
 * can't be made at all (no /run/xsk for this user), say so and go on without it.
 */
function lockInterface(iface: string, ifindex: number, fail: (msg: string) => never): void {
  const r = tryLockInterface(ifindex);
  if ('release' in r) return;
  if ('held' in r) {
    const who = r.held > 0 ? `pid ${r.held}` : 'pid unknown';
    fail(`${iface} is in use by another xsk (${who}, lock ${r.path}); stop that one first${r.held > 0 ? ` (kill ${r.held})` : ''}, or give this one another --iface`);
  }
  log.warn(`no interface lock (${r.error}): another xsk on ${iface} would go unnoticed`);
}

/**
 * Raw mode sees frames after XDP: a program on the interface (not xsk's: raw mode attaches none,
 * and the lock keeps other xsks away) may drop or redirect them before they reach the socket.
 */
function warnForeignXdp(ifindex: number, iface: string): void {
  let progs: ReturnType<typeof attachedPrograms>;
  try {
    progs = attachedPrograms(ifindex);
  } catch {
    return;
  }
  for (const p of progs) {
    log.warn(
      `${iface} has an XDP ${describeProgram(p)}: it sees every frame before raw mode (AF_PACKET) does, and what it drops or redirects never reaches xsk (see it with: ip link show dev ${iface})`,
    );
  }
}

/**
 * Say how the datapath threads are scheduled (--datapath-sched): once if they all run alike, a
 * warning naming the flag if the kernel refused to raise them (they then run as the kernel gives).
 */
function logSched(mode: DatapathSched, sockets: ReadySocket[], lowered: number): void {
  const scheds = sockets.map((s) => s.sched);
  const refused = scheds.find((s): s is { error: string } => 'error' in s);
  if (refused) {
    log.warn(`--datapath-sched latency: could not raise the datapath thread${sockets.length > 1 ? 's' : ''} (${refused.error}); they run at normal priority, and frames may wait for other threads on their CPU (--datapath-sched normal silences this)`);
    return;
  }
  const lines = [...new Set((scheds as ThreadSched[]).map(describeSched))];
  const helpers = lowered > 0 ? `; ${lowered} helper threads (V8's, libuv's) at nice ${HELPER_NICE}` : '';
  log.info(`datapath thread${sockets.length > 1 ? 's' : ''} scheduled with ${lines.join('; ')}${helpers} (--datapath-sched ${mode})`);
}
