#!/usr/bin/env node
/**
 * xsk-feed-client: subscribe to xsk's gRPC feed and say what arrives.
 *
 *   node dist/feed-client.js --addr 127.0.0.1:50051 [--port 9000] [--source ADDR]
 *        [--kind raw,moldudp64] [--types AE] [--from SEQ] [--max-batch N] [--heartbeat-ms MS]
 *        [--policy skip|disconnect] [--queue N] [--queue-bytes N] [--tls] [--ca FILE]
 *        [--server-name NAME] [--count N] [--seconds S] [--print] [--verify] [--stamps] [--warmup-ms MS]
 *        [--pause-after N --pause-ms MS] [--state]
 *
 * Every second a line on stderr: messages per second, total, gaps, skipped, the last
 * sequence. At the end (count reached, seconds over, the stream ended, SIGINT/SIGTERM) one
 * JSON line on stdout with the totals, the stream's final status and the latency from the
 * server's receive time to here (same host: CLOCK_MONOTONIC is shared). --print writes each
 * message as a JSON line first. --verify checks MoldUDP64 payloads made by mold-send;
 * --stamps measures from mold-send's send times too; --warmup-ms leaves the first ms out of the latency
 * figures. --state prints the server's state.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import * as hdr from 'hdr-histogram-js';
import { FeedClient, type Kind, type SubscribeOptions } from './feed/client.js';
import { parseGrpcAddress, grpcTarget } from './feed/flags.js';
import { checkTestMessageAt, testMessageSendNs } from './feed/mold-packet.js';
import { initLatency } from './pipeline/latency.js';
import { RuntimeWatch } from './metrics/runtime.js';
import { warmFeedWire } from './run/feed-warm.js';
import type { BatchView } from './feed/decode.js';

/** How long the warm-up feeds this client synthetic messages. */
const WARM_MS = 300;

function int(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a non-negative integer');
  return Number(v);
}

function kinds(v: string): Kind[] {
  const out = v.split(',').map((k) => k.trim());
  for (const k of out) if (k !== 'raw' && k !== 'moldudp64') throw new InvalidArgumentError(`"${k}" is not raw or moldudp64`);
  return out as Kind[];
}

function ports(v: string): number[] {
  return v.split(',').map((p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || n < 1 || n > 65535) throw new InvalidArgumentError(`"${p}" is not a port`);
    return n;
  });
}

const cmd = new Command('xsk-feed-client')
  .description("Subscribe to xsk's gRPC feed: rate, gaps, skips; optionally every message")
  .requiredOption('--addr <addr>', 'server: HOST:PORT, [IPv6]:PORT or PORT (127.0.0.1)', parseGrpcAddress)
  .option('--port <ports>', 'destination ports to receive (comma list)', ports)
  .option('--source <addr>', 'source address to receive from')
  .option('--kind <kinds>', 'raw and/or moldudp64', kinds)
  .option('--types <chars>', 'MoldUDP64 message types (first byte), e.g. AE')
  .option('--from <seq>', 'resume from this server sequence', int)
  .option('--max-batch <n>', 'messages per batch', int)
  .option('--heartbeat-ms <ms>', 'heartbeat interval on an idle stream', int)
  .addOption(new Option('--policy <policy>', 'when this client falls behind').choices(['skip', 'disconnect']).default('skip'))
  .option('--queue <n>', 'messages this client may be behind', int)
  .option('--queue-bytes <n>', 'payload bytes this client may be behind', int)
  .option('--tls', 'connect with TLS (system CAs unless --ca)', false)
  .option('--ca <file>', 'trust this CA certificate (PEM); implies --tls')
  .option('--server-name <name>', "the name to expect in the server's certificate")
  .option('--count <n>', 'stop after this many messages', int)
  .option('--seconds <s>', 'stop after this many seconds', (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected seconds > 0');
    return n;
  })
  .option('--print', 'print every message and event as a JSON line', false)
  .option('--verify', "check MoldUDP64 payloads made by xsk's mold-send", false)
  .option('--stamps', "also measure from mold-send's send times (mold-send --stamp)", false)
  .option('--warmup-ms <ms>', 'leave the first MS after the first message out of the latency figures (JIT warm-up)', int)
  .option('--pause-after <n>', 'stop reading after this many messages (testing slow consumers)', int)
  .option('--pause-ms <ms>', '... for this long', int)
  .option('--state', "print the server's state and exit", false)
  .option('--no-warm', 'subscribe at once, without first running the read path over synthetic messages')
  .showHelpAfterError(false)
  .allowExcessArguments(false);
cmd.parse(process.argv);
const o = cmd.opts();

const tls = o.ca || o.tls ? { ca: o.ca ? readFileSync(o.ca) : undefined, serverName: o.serverName } : undefined;
const client = new FeedClient(grpcTarget(o.addr), { tls });

if (o.state) {
  try {
    process.stdout.write(JSON.stringify(await client.state()) + '\n');
    process.exit(0);
  } catch (e) {
    process.stderr.write(`xsk-feed-client: ${(e as Error).message}\n`);
    process.exit(1);
  }
}

const req: SubscribeOptions = {
  ports: o.port,
  source: o.source,
  kinds: o.kind,
  messageTypes: o.types,
  fromSequence: o.from,
  maxBatch: o.maxBatch,
  heartbeatMs: o.heartbeatMs,
  slowPolicy: o.policy,
  maxQueueMessages: o.queue,
  maxQueueBytes: o.queueBytes,
};
// The WebAssembly histograms: ~40 ns a sample, where the JS build's Math.pow took a third of
// this client's time at high rates.
await initLatency();
const hist = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: true });
/**
 * With --warmup-ms, where in the run the tail is: per 250 ms window from the first message, the
 * messages, those later than 1 ms, and the latest (lag_windows in the result).
 */
const WINDOW_MS = 250;
/** What the client counts and measures: the live one, and the warm-up's throwaway one. */
function newTally() {
  return {
    t: {
      messages: 0,
      batches: 0,
      payload_bytes: 0,
      first_sequence: 0,
      last_sequence: 0,
      sequence_jumps: 0,
      out_of_order: 0,
      gaps: 0,
      gap_messages: 0,
      skipped: 0,
      skip_events: 0,
      heartbeats: 0,
      end_of_session: 0,
      shutdown: false,
      resume_unavailable: undefined as undefined | { requested: number; oldest: number },
      corrupt: 0,
      mold_duplicates: 0,
    },
    lagNs: hist(),
    wireNs: hist(),
    /** With --warmup-ms: the whole run's latency too (warm-up included). */
    lagAllNs: o.warmupMs ? hist() : undefined,
    windows: [] as { n: number; over_1ms: number; max_us: number }[],
    /** When the first and the latest message arrived (the rate while traffic flowed). */
    firstAt: 0,
    lastAt: 0,
    /** --warmup-ms: latency is recorded from this performance.now() on (0: from the start). */
    warmupUntil: 0,
  };
}
type Tally = ReturnType<typeof newTally>;
const live = newTally();
const t = live.t;
/** MoldUDP64 sequences seen, per session, as bitmaps (--verify: duplicates). */
const moldSeen = new Map<string, { base: number; bits: Uint8Array }>();
function seen(session: string, seq: number): boolean {
  let s = moldSeen.get(session);
  if (!s) moldSeen.set(session, (s = { base: seq, bits: new Uint8Array(1 << 16) }));
  const i = seq - s.base;
  if (i < 0 || i >= 1 << 30) return false; // outside what a test sends: not tracked
  if (i >> 3 >= s.bits.length) {
    const bigger = new Uint8Array(Math.max(s.bits.length * 2, (i >> 3) + 1));
    bigger.set(s.bits);
    s.bits = bigger;
  }
  const was = (s.bits[i >> 3] >> (i & 7)) & 1;
  s.bits[i >> 3] |= 1 << (i & 7);
  return was === 1;
}
const startedAt = performance.now();
/** This client's garbage collections (in the summary): its own pauses are part of what it measures. */
const runtime = new RuntimeWatch();
runtime.start();
let lastLineAt = startedAt;
let lastLineMessages = 0;

function line(): void {
  const now = performance.now();
  const rate = ((t.messages - lastLineMessages) * 1000) / (now - lastLineAt || 1);
  lastLineAt = now;
  lastLineMessages = t.messages;
  process.stderr.write(
    `${rate.toFixed(0)} msg/s | total ${t.messages} | gaps ${t.gaps} (${t.gap_messages} msgs) | skipped ${t.skipped} | last seq ${t.last_sequence}\n`,
  );
}
const lineTimer = setInterval(line, 1000);
const us = (h: hdr.Histogram) =>
  h.totalCount === 0
    ? null
    : {
        count: h.totalCount,
        p50: Math.round(h.getValueAtPercentile(50) / 100) / 10,
        p90: Math.round(h.getValueAtPercentile(90) / 100) / 10,
        p99: Math.round(h.getValueAtPercentile(99) / 100) / 10,
        'p99.9': Math.round(h.getValueAtPercentile(99.9) / 100) / 10,
        max: Math.round(h.maxValue / 100) / 10,
      };

let paused = false;
// Options read once, not per message.
const print = o.print === true;
const verify = o.verify === true;
const stamps = o.stamps === true;
const stopAt: number = o.count ?? 0;

/**
 * One batch into `s`: events counted, each message's sequence checked and its latency recorded.
 * Batches are read in place (no object per message); --print makes objects for JSON. Returns
 * true when --count is reached. The warm-up runs this very function, on a tally of its own.
 */
function take(v: BatchView, s: Tally, isLive: boolean): boolean {
  const printing = print && isLive;
  const nowNs = Number(process.hrtime.bigint());
  const t = s.t;
  t.batches++;
  for (const e of v.events) {
    if (printing) process.stdout.write(JSON.stringify({ event: e }) + '\n');
    switch (e.type) {
      case 'gap':
        t.gaps++;
        t.gap_messages += e.count;
        break;
      case 'skipped':
        t.skipped += e.count;
        t.skip_events++;
        break;
      case 'heartbeat':
        t.heartbeats++;
        break;
      case 'end_of_session':
        t.end_of_session++;
        break;
      case 'shutdown':
        t.shutdown = true;
        break;
      case 'subscribed':
        if (isLive) process.stderr.write(`subscribed at ${e.nextSequence}\n`);
        break;
      case 'resume_unavailable':
        t.resume_unavailable = { requested: e.requestedSequence, oldest: e.oldestSequence };
        break;
    }
  }
  if (v.count === 0) return false;
  const batchAt = performance.now();
  if (t.messages === 0) {
    t.first_sequence = v.sequence(0);
    s.firstAt = batchAt;
    if (o.warmupMs) s.warmupUntil = s.firstAt + o.warmupMs;
  }
  const bytes = v.bytes;
  const timed = s.warmupUntil === 0 || batchAt >= s.warmupUntil;
  let win: Tally['windows'][number] | undefined;
  if (o.warmupMs) {
    const w = Math.floor((batchAt - s.firstAt) / WINDOW_MS);
    while (s.windows.length <= w) s.windows.push({ n: 0, over_1ms: 0, max_us: 0 });
    win = s.windows[w];
  }
  const { lagNs, lagAllNs, wireNs } = s;
  // The batch's tallies in locals, written back once per batch.
  let messages = t.messages;
  let last = t.last_sequence;
  let payloadBytes = 0;
  let reachedCount = false;
  for (let i = 0; i < v.count; i++) {
    const seq = v.sequence(i);
    if (printing) {
      const m = v.message(i);
      process.stdout.write(JSON.stringify({ ...m, payload: m.payload.toString('hex') }) + '\n');
    }
    if (messages > 0) {
      if (seq <= last) t.out_of_order++;
      else if (seq !== last + 1) t.sequence_jumps++;
    }
    last = seq;
    messages++;
    const off = v.payloadOffset(i);
    const len = v.payloadLength(i);
    payloadBytes += len;
    const lag = Math.max(1, nowNs - v.receiveTimeNs(i));
    if (timed) lagNs.recordValue(lag);
    if (lagAllNs) lagAllNs.recordValue(lag);
    if (win) {
      win.n++;
      if (lag > 1e6) win.over_1ms++;
      if (lag > win.max_us * 1000) win.max_us = Math.round(lag / 1000);
    }
    if ((verify || stamps) && len >= 16 && v.isMold(i)) {
      if (stamps && timed) {
        const sentNs = testMessageSendNs(bytes, off, len);
        if (sentNs > 0) wireNs.recordValue(Math.max(1, nowNs - sentNs));
      }
      if (verify) {
        const moldSeq = v.moldSequence(i);
        if (!checkTestMessageAt(bytes, off, len, moldSeq)) t.corrupt++;
        if (seen(v.moldSession(i), moldSeq)) t.mold_duplicates++;
      }
    }
    if (stopAt && messages >= stopAt) {
      reachedCount = true;
      break;
    }
  }
  t.messages = messages;
  t.last_sequence = last;
  t.payload_bytes += payloadBytes;
  s.lastAt = performance.now();
  return reachedCount;
}

// The warm-up (--no-warm: none): this client's whole read path, grpc-js's and HTTP/2's included,
// run over synthetic MoldUDP64 datagrams from a throwaway feed on a loopback port of its own, so
// the first live messages meet compiled code rather than the interpreter (that cold start made
// the first quarter second's messages up to ~10 ms late at 100 k msg/s).
/** What the warm-up took (in the result; nothing on stderr, where "subscribed at" comes first). */
let warmed: { ms: number; messages: number } | undefined;
if (o.warm && !print) {
  const scratch = newTally();
  const w = await warmFeedWire(
    { decoders: new Map([[9000, 'moldudp64'], [9001, 'raw']]), historyMessages: 1 << 16, historyBytes: 8 << 20, queueMessages: 1 << 16, queueBytes: 64 << 20, info: () => ({ iface: 'warm', mode: 'warm', ports: [9000, 9001] }) },
    WARM_MS,
    (v) => void take(v, scratch, false),
  );
  warmed = { ms: w.ms, messages: w.received };
}
moldSeen.clear();

const sub = client.subscribe(req);
let stopTimer: NodeJS.Timeout | undefined;
if (o.seconds) stopTimer = setTimeout(() => sub.cancel(), o.seconds * 1000);
process.on('SIGINT', () => sub.cancel());
process.on('SIGTERM', () => sub.cancel());
for await (const v of sub.views()) {
  if (take(v, live, true)) break;
  if (o.pauseAfter !== undefined && !paused && t.messages >= o.pauseAfter) {
    paused = true;
    await new Promise((r) => setTimeout(r, o.pauseMs ?? 1000));
  }
}
sub.cancel();
const status = await sub.done;
clearInterval(lineTimer);
clearTimeout(stopTimer);
client.close();
const seconds = (performance.now() - startedAt) / 1000;
process.stdout.write(
  JSON.stringify({
    ...t,
    seconds,
    rate: t.messages / seconds,
    active_seconds: (live.lastAt - live.firstAt) / 1000,
    active_rate: live.lastAt > live.firstAt ? (t.messages - 1) / ((live.lastAt - live.firstAt) / 1000) : 0,
    status: { code: status.code, details: status.details },
    lag_us: us(live.lagNs),
    ...(live.lagAllNs ? { lag_all_us: us(live.lagAllNs), lag_windows: { window_ms: WINDOW_MS, windows: live.windows } } : {}),
    wire_us: us(live.wireNs),
    ...(warmed ? { warm: warmed } : {}),
    ...runtime.summary(),
  }) + '\n',
);
// Cancelled by us (count, seconds, signal) is a normal end.
process.exit(status.code === 0 || status.code === 1 ? 0 : 2);
