/**
 * Command-line flags of `xsk`, parsed with commander. A bad flag or value ends the process
 * with one line naming the flag, and a non-zero exit.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { MAX_TIMER_MS } from '../util/timer.js';
import { fileProblem } from '../util/file.js';
import { parseForward, parseNeighbor } from '../forward/rules.js';
import { parseListenAddress } from '../metrics/server.js';
import { parseCpuList, parseQueueList } from './queues.js';
import { resolveStageModule } from '../run/user-stage.js';
import { FEED_DEFAULTS, feedFlagsFrom, parseDecode, parseGrpcAddress } from '../feed/flags.js';
import { addNatsOptions, natsFlagsFrom } from '../nats/flags.js';

export type { AttachChoice, BindChoice, XskOptions } from '../run/options.js';
import type { XskOptions } from '../run/options.js';
import { DEFAULT_LATENCY_SAMPLE } from '../xdp/meta.js';

function integer(min: number, max: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

function powerOfTwo(min: number, max: number) {
  const int = integer(min, max);
  return (v: string): number => {
    const n = int(v);
    if ((n & (n - 1)) !== 0) throw new InvalidArgumentError(`expected a power of two from ${min} to ${max}`);
    return n;
  };
}

/** Decimal digits with an optional fraction: no sign, exponent, hex, spaces or Infinity. */
const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;

/**
 * The longest --duration: ten years. The runner arms it with longTimeout (src/util/timer.ts):
 * a plain setTimeout turns anything past 2^31 − 1 ms (~24.8 days) into 1 ms.
 */
export const MAX_DURATION_S = Math.floor(MAX_TIMER_MS / 1000);
/** --stats-interval: 0 (none), or from 0.1 s to a day. */
export const MIN_STATS_INTERVAL_S = 0.1;
export const MAX_STATS_INTERVAL_S = 86400;

/** Seconds as a decimal number from `min` to `max`; 0 is always allowed when `zero` is given. */
export function seconds(min: number, max: number, zero?: string) {
  const range = `${zero ? `0 (${zero}) or ` : ''}a decimal number of seconds from ${min} to ${max}`;
  return (v: string): number => {
    if (!DECIMAL.test(v)) throw new InvalidArgumentError(`expected ${range}`);
    const n = Number(v);
    if (n === 0 && zero) return 0;
    if (n < min || n > max) throw new InvalidArgumentError(`expected ${range}`);
    return n;
  };
}

export function parsePorts(v: string): number[] {
  const out = new Set<number>();
  for (const part of v.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new InvalidArgumentError(`"${part}" is not a port or a range (P or P-Q)`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a < 1 || b > 65535 || a > b) throw new InvalidArgumentError(`"${part}" is outside 1-65535`);
    for (let p = a; p <= b; p++) out.add(p);
  }
  return [...out];
}

function stageModule(v: string): string {
  const r = resolveStageModule(v);
  if ('problem' in r) throw new InvalidArgumentError(r.problem);
  return r.url;
}

function listenAddress(v: string): { host: string; port: number } {
  try {
    return parseListenAddress(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/** A repeatable flag: parse each value, keep them all. */
function collect<T>(parse: (v: string) => T) {
  return (v: string, prev: T[]): T[] => {
    try {
      return [...prev, parse(v)];
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}

export function buildCommand(): Command {
  return addNatsOptions(buildBaseCommand());
}

function buildBaseCommand(): Command {
  return new Command('xsk')
    .description('Receive UDP datagrams for the given ports through AF_XDP, parse them in place, count them, forward them.')
    .requiredOption('-i, --iface <name>', 'network interface')
    .addOption(new Option('-q, --queue <n>', 'RX queue to bind').default(0).argParser(integer(0, 255)))
    .option('-p, --port <ports>', 'UDP destination ports: 9000 or 9000,9001 or 9000-9010', parsePorts)
    .option(
      '--forward <rule>',
      'forward a frontend port round-robin: 9000=10.0.0.3:9001,[fd00::3]:9001 (repeatable)',
      collect(parseForward),
      [],
    )
    .option('--neighbor <addr=mac>', "a backend's next-hop MAC, instead of asking the kernel (repeatable)", collect(parseNeighbor), [])
    .option('--config <file>', 'JSON file with ports, forward rules and neighbours; re-read on SIGHUP')
    .addOption(new Option('--tx-ring-size <n>', 'TX ring entries (default: --ring-size)').argParser(powerOfTwo(8, 16384)))
    .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9464)', listenAddress)
    .option('--no-latency', 'do not measure latency (the XDP program then stamps nothing)')
    .addOption(
      new Option(
        '--latency-sample <n>',
        `stamp and measure 1 frame in N (per CPU; a power of two, 1 for every frame); default ${DEFAULT_LATENCY_SAMPLE}, or 1 with --grpc/--nats so that every feed message carries the kernel's receive time`,
      ).argParser(powerOfTwo(1, 65536)),
    )
    .addOption(
      new Option('--queues <list>', "bind several RX queues, one worker thread each: 'all' or a list like 0-3,6").argParser(parseQueueList).conflicts('queue'),
    )
    .addOption(new Option('--cpus <list>', 'pin the datapath threads (one per queue) to these CPUs, round-robin').argParser(parseCpuList))
    .addOption(
      new Option(
        '--datapath-sched <mode>',
        'latency: the datapath threads run at nice -10 with a 100 µs scheduler slice, so a frame\'s wakeup preempts other threads on their CPU, and V8\'s and libuv\'s helper threads at nice 10; normal: as the kernel gives them',
      )
        .choices(['latency', 'normal'])
        .default('latency'),
    )
    .option('--stage <module>', 'a JS module exporting a stage factory, run after parsing and before the built-in stages (repeatable)', collect(stageModule), [])
    .option('--no-warm', 'go live without first running the datapath over synthetic frames (the warm start)')
    .option('--grpc <addr>', 'serve the feed over gRPC at HOST:PORT, [IPv6]:PORT or PORT (127.0.0.1)', parseGrpcAddress)
    .option('--decode <rules>', 'decoder per port: 9000=moldudp64,9001=raw (default raw; repeatable)', parseDecode)
    .option('--tls-cert <file>', 'feed TLS certificate chain (PEM), with --tls-key')
    .option('--tls-key <file>', 'feed TLS private key (PEM), with --tls-cert')
    .addOption(new Option('--feed-history <n>', 'messages the feed keeps for resuming (default 262144)').argParser(integer(1024, 1 << 26)))
    .addOption(new Option('--feed-history-bytes <n>', 'payload bytes the feed keeps (default 64 MiB)').argParser(integer(131072, 2 ** 32 - 1)))
    .addOption(new Option('--feed-queue <n>', 'most messages a subscriber may be behind (default 65536)').argParser(integer(1, 1 << 26)))
    .addOption(new Option('--feed-queue-bytes <n>', 'most payload bytes a subscriber may be behind (default 16 MiB)').argParser(integer(1, 2 ** 31)))
    .addOption(
      new Option('-m, --mode <mode>', 'AF_XDP with XDP in native or generic mode, or raw (AF_PACKET); auto tries native, generic, then raw')
        .choices(['auto', 'native', 'generic', 'raw'])
        .default('auto'),
    )
    .addOption(new Option('--copy', 'force copy mode for the AF_XDP socket').conflicts('zeroCopy'))
    .addOption(new Option('--zero-copy', 'force zero-copy mode (needs driver support)').conflicts('copy'))
    .addOption(new Option('--ring-size <n>', 'RX/TX/completion ring entries (FILL gets twice)').default(2048).argParser(powerOfTwo(64, 16384)))
    .addOption(new Option('--frame-size <bytes>', 'UMEM frame size').default(4096).argParser(powerOfTwo(2048, 65536)))
    .addOption(new Option('--frames <n>', 'UMEM frames (default: 4 × ring size)').argParser(integer(128, 1 << 20)))
    .addOption(new Option('--batch-size <n>', 'frames per ring operation').default(64).argParser(integer(1, 1024)))
    .addOption(
      new Option('--busy-poll <us>', 'keep polling an empty ring this long before sleeping in poll() (0: sleep at once)')
        .default(200)
        .argParser(integer(0, 10_000_000)),
    )
    .option('--hugepages', 'back the UMEM with hugepages', false)
    .addOption(
      new Option('-d, --duration <s>', `stop after this many seconds (0: until a signal; at most ${MAX_DURATION_S})`)
        .default(0)
        .argParser(seconds(0.001, MAX_DURATION_S, 'until a signal')),
    )
    .option('--force', 'replace an XDP program already attached to the interface', false)
    .addOption(
      new Option('--stats-interval <s>', `seconds between stats lines on stderr (0: none; else ${MIN_STATS_INTERVAL_S} to ${MAX_STATS_INTERVAL_S})`)
        .default(1)
        .argParser(seconds(MIN_STATS_INTERVAL_S, MAX_STATS_INTERVAL_S, 'none')),
    )
    .showHelpAfterError(false)
    .allowExcessArguments(false);
}

export function parseOptions(argv: string[]): XskOptions {
  const cmd = buildCommand();
  cmd.parse(argv);
  const o = cmd.opts();
  const ringSize = o.ringSize as number;
  const frames = (o.frames as number | undefined) ?? ringSize * 4;
  if (o.config !== undefined) {
    // A FIFO or a device would block the read (forever, for a FIFO nobody writes to).
    const problem = fileProblem(o.config);
    if (problem) cmd.error(`error: option '--config <file>' argument '${o.config}' is invalid. ${problem}`);
  }
  if (o.neighbor.length > 0 && o.forward.length === 0 && o.config === undefined) {
    cmd.error("error: option '--neighbor <addr=mac>' needs a forwarding rule (--forward or --config): nothing would use it");
  }
  if (!o.port && o.forward.length === 0 && o.config === undefined) {
    cmd.error("error: no ports: give --port, --forward or --config");
  }
  if (o.mode === 'raw' && o.queues) {
    cmd.error("error: option '--queues <list>' is for AF_XDP; --mode raw (AF_PACKET) reads every queue through one socket");
  }
  if (o.mode === 'raw' && (o.zeroCopy || o.hugepages)) {
    cmd.error(`error: option '${o.zeroCopy ? '--zero-copy' : '--hugepages'}' is for AF_XDP; --mode raw (AF_PACKET) has no UMEM`);
  }
  if (frames < ringSize * 2) {
    cmd.error(`error: option '--frames <n>' argument '${frames}' is invalid. need at least 2 × --ring-size (${ringSize * 2})`);
  }
  const feed = feedFlagsFrom(o);
  if (Array.isArray(feed)) return cmd.error(`error: option '${feed[0]}' ${feed[1]}`);
  const nats = natsFlagsFrom(o, o.iface, feed?.historyMessages ?? FEED_DEFAULTS.historyMessages);
  if (Array.isArray(nats)) return cmd.error(`error: option '${nats[0]}' ${nats[1]}`);
  return {
    iface: o.iface,
    queue: o.queue,
    ports: o.port ?? [],
    mode: o.mode,
    bind: o.copy ? 'copy' : o.zeroCopy ? 'zero-copy' : 'auto',
    ringSize,
    frameSize: o.frameSize,
    frames,
    batchSize: o.batchSize,
    busyPollUs: o.busyPoll,
    hugepages: o.hugepages,
    duration: o.duration,
    force: o.force,
    statsInterval: o.statsInterval,
    forward: { ports: [], rules: o.forward, neighbors: new Map(o.neighbor) },
    config: o.config,
    txRingSize: o.txRingSize,
    metrics: o.metrics,
    latency: o.latency,
    // The feed publishes each message's receive time: with a feed, every frame is stamped.
    latencySample: o.latencySample ?? (feed ? 1 : DEFAULT_LATENCY_SAMPLE),
    queues: o.queues,
    cpus: o.cpus,
    datapathSched: o.datapathSched,
    warm: o.warm,
    feed,
    nats,
    stages: o.stage,
  };
}
