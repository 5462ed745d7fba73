#!/usr/bin/env node
/**
 * xsk: receive UDP datagrams for chosen ports through AF_XDP, parse them in place, and hand
 * them to the stages (forwarding, the feed, ...). Stats on stderr every second; one JSON
 * summary line on stdout at exit.
 */
import { parseOptions } from './cli/options.js';
import { ifindexOf, rxQueueCount } from './cli/interfaces.js';
import { StatsReporter, summary } from './cli/stats.js';
import { openPort, type OpenedPort } from './port/open.js';
import { Pipeline } from './pipeline/pipeline.js';
import type { Component, Stage } from './pipeline/stage.js';
import { RxLoop } from './pipeline/loop.js';
import { Forwarder } from './forward/component.js';
import { RxClock } from './pipeline/rx-clock.js';
import { initLatency, Latency } from './metrics/latency.js';
import { MetricsComponent } from './metrics/component.js';
import { runMultiQueue } from './app/multi-queue.js';
import { RuntimeWatch } from './metrics/runtime.js';
import { createFeed } from './feed/create.js';
import { log } from './log.js';

function fail(msg: string): never {
  process.stderr.write(`xsk: ${msg}\n`);
  process.exit(1);
}

const opts = parseOptions(process.argv);
const ifindex = ifindexOf(opts.iface);
if (!ifindex) fail(`--iface: no interface named "${opts.iface}" in this network namespace`);
const queues = rxQueueCount(opts.iface);
// --queues: the list to bind, each checked against the interface.
const queueList = opts.queues === 'all' ? Array.from({ length: Math.max(queues, 1) }, (_, i) => i) : opts.queues;
for (const q of queueList ?? [opts.queue]) {
  if (queues > 0 && q >= queues) fail(`${queueList ? '--queues' : '--queue'}: ${opts.iface} has ${queues} RX queue(s), no queue ${q}`);
}
const bound = queueList?.length ?? 1;
if (queues > bound && opts.mode !== 'raw') {
  log.warn(
    `${opts.iface} has ${queues} RX queues and xsk binds only ${queueList ? `queues ${queueList.join(',')}` : `queue ${opts.queue}`}: datagrams that RSS puts on the other ${queues - bound} are not seen${queueList ? '' : ' (--queues all takes them all)'}`,
  );
}

// Forwarding rules come from --forward and --config; their frontend ports join --port.
let forwarder: Forwarder | undefined;
if (opts.forward.rules.length > 0 || opts.config) {
  try {
    forwarder = new Forwarder({ ifname: opts.iface, cli: opts.forward, configPath: opts.config, basePorts: opts.ports });
  } catch (e) {
    fail(`${opts.config ? '--config' : '--forward'}: ${(e as Error).message}`);
  }
}
const ports = forwarder ? forwarder.ports() : opts.ports;
if (ports.length === 0) fail('--port: no ports to receive');

if (queueList) {
  // One socket and worker thread per queue; runMultiQueue handles signals and exit itself.
  await runMultiQueue({ opts, ifindex, queues: queueList, ports, forwarder, fail });
} else {
  await runSingleQueue();
}

async function runSingleQueue(): Promise<void> {
  let dp: OpenedPort | undefined;
  // Whatever happens from here on, the XDP program goes away with us.
  function crash(e: unknown): never {
    dp?.close();
    fail(e instanceof Error ? e.message : String(e));
  }
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);

  try {
    dp = openPort({
      ifname: opts.iface,
      ifindex,
      queue: opts.queue,
      ports,
      mode: opts.mode,
      bind: opts.bind,
      force: opts.force,
      frameSize: opts.frameSize,
      frames: opts.frames,
      ringSize: opts.ringSize,
      txRingSize: opts.txRingSize,
      hugepages: opts.hugepages,
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const datapath = dp;
  const { port } = datapath;

  // Features add their stage (per datagram) and component (lifecycle) here, in pipeline order.
  const stages: Stage[] = [];
  const components: Component[] = [...datapath.components, new RuntimeWatch()];
  if (forwarder) {
    stages.push(forwarder.stage);
    components.push(forwarder);
  }
  await initLatency();
  const latency = opts.latency ? new Latency() : undefined;
  if (opts.feed) {
    const feed = createFeed(opts.feed, ports, () => ({ iface: opts.iface, mode: port.mode, ports: forwarder ? forwarder.ports() : ports }), fail);
    feed.latency = latency;
    stages.push(feed.stage);
    components.push(feed);
  }

  const startedAt = process.hrtime.bigint();
  // AF_XDP frames carry the XDP program's receive stamp in the metadata area in front of them.
  const pipeline = new Pipeline(stages, { clock: new RxClock(port.mode === 'native' || port.mode === 'generic'), latency });
  components.push(
    new MetricsComponent({
      listen: opts.metrics,
      labels: { iface: opts.iface, queue: String(opts.queue), mode: port.mode },
      sources: {
        pipeline,
        port,
        latency,
        programCounters: datapath.programCounters,
        tx: datapath.tx,
      },
      components,
    }),
  );
  const loop = new RxLoop(port, pipeline, { batchSize: opts.batchSize, busyPollUs: opts.busyPollUs });
  const reporter = new StatsReporter(pipeline, port, components);
  for (const c of components) await c.start?.();

  const statsTimer =
    opts.statsInterval > 0 ? setInterval(() => log.info(reporter.line()), opts.statsInterval * 1000) : undefined;
  const durationTimer = opts.duration > 0 ? setTimeout(() => void shutdown('duration'), opts.duration * 1000) : undefined;

  let stopping = false;
  async function shutdown(why: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    clearInterval(statsTimer);
    clearTimeout(durationTimer);
    await loop.stop();
    await datapath.drain();
    for (const c of components) await c.stop?.();
    const result = summary(pipeline, port, components, {
      iface: opts.iface,
      queue: opts.queue,
      ports: forwarder ? forwarder.ports() : ports,
      startedAt,
    });
    datapath.close();
    log.info(`xsk stopping (${why})`);
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
  }

  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // SIGHUP re-reads --config (forward rules, ports, neighbours); the socket and program stay.
  process.on('SIGHUP', () => {
    if (forwarder) void forwarder.reload(port);
    else log.warn('SIGHUP: nothing to reload (no --config)');
  });
  // Only now, with every signal handler in place, say we are up: a signal sent on seeing this
  // line must find its handler, not the default action.
  log.info(`xsk up: ${port.description}, ports ${ports.join(',')}`);
  loop.start();
}
