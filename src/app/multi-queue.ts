/**
 * `--queues all|LIST`: one AF_XDP socket per RX queue, each with its own UMEM, rings and
 * pipeline in its own worker thread (workers/queue-worker.ts). This thread owns the XDP program
 * (one XSKMAP entry per queue), the forwarding rules and their neighbour lookups, the metrics
 * endpoint, the stats line (total and busiest queue) and the summary (per queue and in total).
 * A worker that fails takes the whole process down cleanly: program detached, reason said,
 * non-zero exit.
 */
import type { XskOptions } from '../cli/options.js';
import { loadAndAttach } from '../afxdp/open.js';
import type { XdpProgram } from '../xdp/program.js';
import type { Forwarder } from '../forward/component.js';
import { macBytes } from '../forward/table.js';
import { interfaceMac } from '../forward/neighbours.js';
import { QueuePool } from '../workers/pool.js';
import { serializeTable } from '../workers/forward-table.js';
import { invalidJSON, queueJSON, totals } from '../workers/aggregate.js';
import type { Snapshot, WorkerConfig } from '../workers/protocol.js';
import { initLatency, Latency } from '../metrics/latency.js';
import { MetricsServer } from '../metrics/server.js';
import { registerQueueMetrics } from '../metrics/queue-metrics.js';
import { fmtRate, kernelDrops } from '../cli/stats.js';
import { log } from '../log.js';
import { createFeed } from '../feed/create.js';
import { createFeedRing } from '../workers/feed-ring.js';
import { FeedIngest } from '../workers/feed-ingest.js';

/** Each worker's ring to the feed: room for ~50 ms of 1 Mpps of small datagrams. */
const FEED_RING_BYTES = 4 << 20;

export interface MultiQueueContext {
  opts: XskOptions;
  ifindex: number;
  queues: number[];
  ports: number[];
  forwarder?: Forwarder;
  fail(msg: string): never;
}

export async function runMultiQueue(c: MultiQueueContext): Promise<void> {
  const { opts, queues, forwarder } = c;
  let program: XdpProgram;
  let mode: 'native' | 'generic';
  try {
    ({ program, mode } = loadAndAttach({ ifname: opts.iface, ifindex: c.ifindex, ports: c.ports, mode: opts.mode === 'raw' ? c.fail('--queues: raw mode (AF_PACKET) reads every queue through one socket; drop --queues') : opts.mode, force: opts.force }));
  } catch (e) {
    c.fail((e as Error).message);
  }
  const crash = (e: unknown) => {
    program.detach();
    c.fail(e instanceof Error ? e.message : String(e));
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);

  let pool: QueuePool;
  const failAll = async (reason: string) => {
    program.detach();
    log.error(`stopping: ${reason}`);
    await pool.terminate();
    c.fail(reason);
  };
  pool = new QueuePool(program, (reason) => void failAll(reason));

  await initLatency();
  if (forwarder) {
    await forwarder.start();
    forwarder.onTableChange = (t) => pool.updateForward(serializeTable(t));
  }
  // The feed lives here; each worker copies its datagrams into a ring that this thread drains.
  const feed = opts.feed
    ? createFeed(opts.feed, c.ports, () => ({ iface: opts.iface, mode, ports: forwarder ? forwarder.ports() : c.ports }), c.fail)
    : undefined;
  const feedRings = feed ? queues.map(() => createFeedRing(FEED_RING_BYTES)) : [];
  if (feed) await feed.start();
  const srcMac = interfaceMac(opts.iface);
  macBytes(srcMac); // a bad MAC fails here, not in every worker
  const configs: WorkerConfig[] = queues.map((queue, i) => ({
    ifname: opts.iface,
    ifindex: c.ifindex,
    queue,
    mode,
    bind: opts.bind,
    frameSize: opts.frameSize,
    frames: opts.frames,
    ringSize: opts.ringSize,
    txRingSize: opts.txRingSize,
    batchSize: opts.batchSize,
    busyPollUs: opts.busyPollUs,
    hugepages: opts.hugepages,
    latency: opts.latency,
    cpus: opts.cpus ? [opts.cpus[i % opts.cpus.length]] : undefined,
    forward: forwarder ? { rules: serializeTable(forwarder.stage.table), srcMac } : undefined,
    failAfter: opts.failAfter !== undefined && queue === queues[0] ? opts.failAfter : undefined,
    feedRing: feedRings[i],
  }));
  const startedAt = process.hrtime.bigint();
  try {
    await pool.start(configs);
  } catch (e) {
    await failAll((e as Error).message);
  }

  const ingest = feed ? new FeedIngest(feed.stage, feedRings) : undefined;
  ingest?.start();

  // Latency: each queue's latest histograms, merged on demand.
  const latestLatency = new Map<number, Record<string, string>>();
  const mergedLatency = opts.latency ? new Latency() : undefined;
  // The feed runs in this thread: its rx_to_feed samples go straight into a histogram here.
  const feedLatency = feed && opts.latency ? new Latency() : undefined;
  if (feed) feed.latency = feedLatency;
  const snapshots = (): Snapshot[] => {
    const snaps = pool.snapshots();
    for (const s of snaps) if (s.latency) latestLatency.set(s.queue, s.latency);
    return snaps;
  };
  const merged = (): Latency | undefined => {
    if (!mergedLatency) return undefined;
    mergedLatency.reset();
    for (const enc of latestLatency.values()) mergedLatency.addEncoded(enc);
    if (feedLatency) mergedLatency.rx_to_feed.add(feedLatency.rx_to_feed);
    return mergedLatency;
  };

  let metrics: MetricsServer | undefined;
  if (opts.metrics) {
    metrics = new MetricsServer(opts.metrics.host, opts.metrics.port);
    registerQueueMetrics(metrics.registry, { iface: opts.iface, mode }, snapshots, merged, () => program.counters());
    feed?.metrics(metrics.registry, { iface: opts.iface, queue: 'all', mode });
    const addr = await metrics.start();
    log.info(`metrics on http://${addr.address}:${addr.port}/metrics`);
  }


  // Stats line: total rate and the busiest queue.
  let last = new Map<number, number>();
  let lastAt = process.hrtime.bigint();
  const statsTimer =
    opts.statsInterval > 0
      ? setInterval(() => {
          const now = process.hrtime.bigint();
          const dt = Number(now - lastAt) / 1e9 || 1;
          const snaps = snapshots();
          const t = totals(snaps);
          let busiest = { queue: -1, pps: -1 };
          let totalPps = 0;
          for (const s of snaps) {
            const pps = (s.packets - (last.get(s.queue) ?? 0)) / dt;
            totalPps += pps;
            if (pps > busiest.pps) busiest = { queue: s.queue, pps };
          }
          last = new Map(snaps.map((s) => [s.queue, s.packets]));
          lastAt = now;
          log.info(
            `rx ${fmtRate(totalPps)}pps | total ${t.packets} pkts | busiest queue ${busiest.queue} ${fmtRate(Math.max(0, busiest.pps))}pps` +
              ` | invalid ${t.invalid.reduce((a, b) => a + b, 0)} | kernel drops ${kernelDrops(t.kernel)}` +
              ` | mode ${mode}${t.forward ? ` | fwd ${t.forward.forwarded}` : ''}${feed ? ` | ${feed.statsLine()}` : ''}`,
          );
        }, opts.statsInterval * 1000)
      : undefined;

  let stopping = false;
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(statsTimer);
    clearTimeout(durationTimer);
    program.detach();
    await pool.stop();
    ingest?.stop();
    await feed?.stop();
    forwarder?.stop();
    await metrics?.stop();
    const snaps = snapshots();
    const t = totals(snaps);
    const lat = merged();
    const result: Record<string, unknown> = {
      mode,
      iface: opts.iface,
      queues,
      ports: forwarder ? forwarder.ports() : c.ports,
      duration_s: Number(process.hrtime.bigint() - startedAt) / 1e9,
      rx_packets: t.packets,
      rx_bytes: t.bytes,
      rx_datagrams: t.datagrams,
      rx_payload_bytes: t.payloadBytes,
      invalid: invalidJSON(t.invalid),
      tx_packets: t.txPackets,
      tx_bytes: t.txBytes,
      tx_drops: { ring_full: t.txRingFull },
      xdp_stats: t.kernel,
      xdp_program: program.counters(),
      per_queue: snaps.map(queueJSON),
      ...(t.forward
        ? { forward: { forwarded: t.forward.forwarded, per_backend: t.forward.perBackend, drops: t.forward.drops } }
        : {}),
      ...(feed ? { ...feed.summary(), feed_overflows: snaps.reduce((a, q) => a + (q.feedOverflows ?? 0), 0) } : {}),
      ...(lat ? { latency: { ...lat.toJSON(), source: snaps.some((s) => s.timeSource === 'kernel') ? 'kernel' : 'userspace' } } : {}),
    };
    program.close();
    log.info(`xsk stopping (${why})`);
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
  };
  const durationTimer = opts.duration > 0 ? setTimeout(() => void shutdown('duration'), opts.duration * 1000) : undefined;
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGHUP', () => {
    if (forwarder) void forwarder.reload({ setPorts: (p) => program.setPorts(p) });
    else log.warn('SIGHUP: nothing to reload (no --config)');
  });
  // Said last, once the signal handlers are in place (see xsk.ts).
  log.info(`xsk up: ${opts.iface}, ${queues.length} queue(s) ${queues.join(',')} in worker threads, AF_XDP ${mode} mode, ports ${c.ports.join(',')}`);
}
