/**
 * The feed into NATS JetStream next to the gRPC feed, in one run, on the veth sandbox: xsk
 * (native XDP) decodes MoldUDP64 from the C sender (bench/c/mold_send.c, gen namespace) with
 * --grpc AND --nats, so both take the same messages at the same time; one gRPC subscriber
 * (dist/feed-client.js, reading in place) and a nats-server with JetStream (file store in a temp
 * directory) both in the dut namespace. For each publishing mode (one JetStream message per
 * feed message, and --nats-batch):
 *  - throughput: the sender offers --offered messages/s (50 messages of 16 bytes a packet) for
 *    --seconds; JetStream's rate is the median of xsk's per-second stats lines while traffic
 *    flows (messages acknowledged per second), the subscriber's its own active rate;
 *  - latency at --rate messages/s (10 a packet, stamped) for --warmup + --seconds: kernel receive
 *    (XDP stamp) → JetStream publish acknowledgement (xsk's histogram, the whole run), next to
 *    kernel receive → the gRPC subscriber has decoded it (the whole run, and after --warmup).
 * CPUs (2 here): xsk's main and datapath threads on CPU 1, the sender and the subscriber's main
 * thread on CPU 0, nats-server where the scheduler puts it (it is not pinned).
 *   sudo node --import tsx bench/nats.ts [--runs 3] [--seconds 5] [--warmup 2] [--rate 100000] [--offered 1500000]
 * Writes bench/results/nats.json. Bounded: every process has a time limit; about
 * runs × 2 × (2 × seconds + warmup + 12) s.
 */
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../src/sandbox/netns.js';
import { pinMain, runJson } from './lib/run-json.js';
const runJsonResult = (...a: Parameters<typeof runJson>) => runJson(...a).result;
import { XskProcess } from '../src/sandbox/xsk-process.js';
import { NatsServer } from '../src/sandbox/nats-server.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    rate: { type: 'string', default: '100000' },
    offered: { type: 'string', default: '1500000' },
  },
});
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const rate = Number(values.rate);
const offered = Number(values.offered);
const CLIENT = fileURLToPath(new URL('../dist/feed-client.js', import.meta.url));
const MOLD_SEND = fileURLToPath(new URL('../build/bench/mold_send', import.meta.url));
const GRPC = '127.0.0.1:50598';
const NATS_PORT = 4229;
const OUT = fileURLToPath(new URL('./results/', import.meta.url));


/** Per-second JetStream rates from xsk's stats lines ("nats 61.2 kmsg/s ..."). */
function natsRates(stderr: string): number[] {
  const out: number[] = [];
  for (const line of stderr.split('\n')) {
    const m = /nats ([\d.]+) (M|k| )msg\/s/.exec(line);
    if (m) out.push(Number(m[1]) * (m[2] === 'M' ? 1e6 : m[2] === 'k' ? 1e3 : 1));
  }
  return out;
}

const median = (xs: number[]) => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);

async function once(sb: Sandbox, stream: string, batch: boolean, kind: 'throughput' | 'latency') {
  const xsk = new XskProcess(sb, [
    '--iface', sb.dutIf, '--port', '9000', '--mode', 'native', '--decode', '9000=moldudp64', '--grpc', GRPC, '--cpus', '1', '--stats-interval', '1',
    '--nats', `nats://127.0.0.1:${NATS_PORT}`, '--nats-stream', stream, '--nats-subject', `bench.${stream}`, ...(batch ? ['--nats-batch'] : []),
  ]);
  await xsk.up();
  pinMain(xsk.child.pid!, 1);
  const perPacket = kind === 'throughput' ? 50 : 10;
  const msgRate = kind === 'throughput' ? offered : rate;
  const secs = kind === 'throughput' ? seconds : seconds + warmup;
  const packets = Math.round((msgRate / perPacket) * secs);
  const clientArgs = [CLIENT, '--addr', GRPC, '--seconds', String(secs + 4), '--count', String(packets * perPacket), '--max-batch', '1024'];
  if (kind === 'latency') clientArgs.push('--stamps', '--warmup-ms', String(warmup * 1000));
  const client = runJson(sb, sb.dut, process.execPath, clientArgs, 0).result;
  await new Promise((r) => setTimeout(r, 1000));
  const linesBefore = natsRates(xsk.stderr).length;
  const sent = await runJsonResult(sb, sb.gen, 'taskset', ['-c', '0', MOLD_SEND, '--to', sb.dutAddr, '--port', '9000', '--count', String(packets), '--messages', String(perPacket),
    '--size', '16', '--rate', String(msgRate / perPacket), '--seconds', String(secs + 2), ...(kind === 'latency' ? ['--stamp'] : [])]);
  const during = natsRates(xsk.stderr).slice(linesBefore);
  const c = await client;
  // Let the publisher finish what it holds (it has ~2 s more at SIGTERM).
  await new Promise((r) => setTimeout(r, 1500));
  xsk.signal('SIGTERM');
  await xsk.exit(20000);
  const s = xsk.summary();
  // The seconds fully inside the traffic: leave out the first and the last line.
  const inside = during.slice(1, -1).length > 0 ? during.slice(1, -1) : during;
  return { sent, client: c, feed: s.feed, nats: s.nats, nats_rate: median(inside), nats_rate_max: Math.max(0, ...inside), kernel_drops: (s.xdp_stats?.rx_ring_full ?? 0) + (s.xdp_stats?.rx_dropped ?? 0), feed_overflows: s.feed_overflows };
}

const sb = new Sandbox({ name: 'xsk-nbench' });
const nats = new NatsServer({ port: NATS_PORT, sandbox: sb });
try {
  await nats.start();
  const raw: Record<string, unknown>[] = [];
  const agg: Record<string, Record<string, number[]>> = {};
  const put = (mode: string, k: string, v: number) => ((agg[mode] ??= {})[k] ??= []).push(v);
  for (let i = 0; i < runs; i++) {
    for (const batch of [false, true]) {
      const mode = batch ? 'batch' : 'message';
      const t = await once(sb, `TP_${mode}_${i}`, batch, 'throughput');
      put(mode, 'nats_rate', t.nats_rate);
      put(mode, 'grpc_rate', t.client.active_rate);
      raw.push({ run: i + 1, mode, kind: 'throughput', sent_rate: t.sent.messages / t.sent.seconds, feed_messages: t.feed.messages, nats_rate: t.nats_rate, nats_rate_max: t.nats_rate_max, nats: t.nats, grpc_rate: t.client.active_rate, grpc_skipped: t.client.skipped, kernel_drops: t.kernel_drops, feed_overflows: t.feed_overflows });
      console.log(
        `${mode} throughput: offered ${(t.sent.messages / t.sent.seconds / 1e6).toFixed(2)} M msg/s, feed took ${t.feed.messages}; JetStream ${(t.nats_rate / 1e3).toFixed(1)} k msg/s acknowledged (max ${(t.nats_rate_max / 1e3).toFixed(1)} k), published ${t.nats.published}, dropped ${t.nats.dropped}; gRPC subscriber ${(t.client.active_rate / 1e6).toFixed(2)} M msg/s, skipped ${t.client.skipped}`,
      );
      const l = await once(sb, `LAT_${mode}_${i}`, batch, 'latency');
      const ack = l.nats.rx_to_ack ?? {};
      const lag = l.client.lag_all_us ?? {};
      const st = l.client.lag_us ?? {};
      put(mode, 'ack_p50', ack.p50_us);
      put(mode, 'ack_p99', ack.p99_us);
      put(mode, 'grpc_p50', lag.p50);
      put(mode, 'grpc_p99', lag.p99);
      put(mode, 'grpc_steady_p99', st.p99);
      raw.push({ run: i + 1, mode, kind: 'latency', sent_rate: l.sent.messages / l.sent.seconds, nats: l.nats, grpc_lag_all_us: lag, grpc_lag_after_warmup_us: st, grpc_messages: l.client.messages, kernel_drops: l.kernel_drops });
      console.log(
        `${mode} latency at ${(l.sent.messages / l.sent.seconds / 1e3).toFixed(0)} k msg/s, µs, whole run: kernel rx → JetStream ack ${JSON.stringify(ack)} (published ${l.nats.published}, dropped ${l.nats.dropped}); kernel rx → gRPC subscriber ${JSON.stringify(lag)}, after ${warmup} s ${JSON.stringify(st)}`,
      );
    }
  }
  const med: Record<string, Record<string, number>> = {};
  for (const [mode, kv] of Object.entries(agg)) for (const [k, v] of Object.entries(kv)) (med[mode] ??= {})[k] = median(v);
  const result = { bench: 'nats', runs, seconds, warmup_s: warmup, rate, offered, medians: med };
  console.log(JSON.stringify(result));
  mkdirSync(OUT, { recursive: true });
  writeFileSync(`${OUT}nats.json`, JSON.stringify({ date: new Date().toISOString(), ...result, raw }, null, 2) + '\n');
} finally {
  await nats.remove();
  sb.destroy();
}
