/**
 * The gRPC feed's speed on the veth sandbox: xsk (native XDP) decodes MoldUDP64 from the C
 * sender (bench/c/mold_send.c, gen namespace) and serves one local subscriber,
 * dist/feed-client.js (dut namespace), which reads batches in place (Subscription.views()).
 *  - throughput: the sender offers --offered messages/s (50 messages of 16 bytes a packet) for
 *    --seconds; the subscriber's rate while traffic flows, and what it missed (skipped);
 *  - latency at --rate messages/s (10 a packet, each stamped with its send time) for
 *    --warmup + --seconds: xsk's receive stamp (XDP, the wire's side of the host) → the
 *    subscriber has decoded the message, HDR percentiles over the whole run and after the
 *    first --warmup seconds (JIT compilation of xsk's and the client's paths); send → subscriber too.
 * CPUs (2 here): xsk's main thread on CPU 1; the subscriber's main thread and the sender on CPU 0.
 * Only the main threads are pinned: V8's helper threads (compilers, concurrent GC) run where
 * there is room, rather than queue behind the thread they help.
 *   sudo node --import tsx bench/feed.ts [--runs 3] [--seconds 5] [--warmup 2] [--rate 100000] [--offered 1500000]
 * Writes bench/results/feed.json (every run, and the medians).
 * Bounded: every process has a time limit; the whole run takes about runs × (2 × seconds + warmup + 8) s.
 */
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../src/sandbox/netns.js';
import { collectHarnessGarbage, lowerHarnessHelpers, pinMain, runJson } from './lib/run-json.js';
import { XskProcess } from '../src/sandbox/xsk-process.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    rate: { type: 'string', default: '100000' },
    offered: { type: 'string', default: '1500000' },
    /** CPU(s) for xsk's datapath thread (--cpus); its main thread is pinned to CPU 1. */
    'xsk-cpus': { type: 'string', default: '1' },
    /**
     * A/B of the subscriber's warm-up: latency runs only, alternating feed-client with and
     * without --no-warm (runs pairs), each side's figures printed and written.
     */
    'ab-client-warm': { type: 'boolean', default: false },
    /**
     * A/B of two argument sets, as --ab-client-warm: 'name=client args|name=client args', where
     * 'client args // xsk args' gives xsk arguments too.
     */
    'ab-client': { type: 'string' },
  },
});
const xskCpus = values['xsk-cpus']!;
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const rate = Number(values.rate);
const offered = Number(values.offered);
const CLIENT = fileURLToPath(new URL('../dist/feed-client.js', import.meta.url));
const MOLD_SEND = fileURLToPath(new URL('../build/bench/mold_send', import.meta.url));
const GRPC = '127.0.0.1:50599';
const OUT = fileURLToPath(new URL('./results/', import.meta.url));


async function once(sb: Sandbox, kind: 'throughput' | 'latency', clientExtra: string[] = [], xskExtra: string[] = []) {
  // xsk's datapath thread (--cpus) and its main thread (the feed, gRPC) both on CPU 1, as the
  // one thread that did both before; the sender and the subscriber on CPU 0. Every message timed
  // from the kernel's receive stamp (--latency-sample 1: by default only 1 frame in 64 has one).
  const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000', '--mode', 'native', '--decode', '9000=moldudp64', '--grpc', GRPC, '--stats-interval', '0', '--cpus', xskCpus,
    '--latency-sample', '1', ...(process.env.XSK_EXTRA ? process.env.XSK_EXTRA.split(' ') : []), ...xskExtra]);
  await xsk.up();
  pinMain(xsk.child.pid!, 1);
  const perPacket = kind === 'throughput' ? 50 : 10;
  const msgRate = kind === 'throughput' ? offered : rate;
  const secs = kind === 'throughput' ? seconds : seconds + warmup;
  const packets = Math.round((msgRate / perPacket) * secs);
  const clientArgs = [CLIENT, '--addr', GRPC, '--seconds', String(secs + 4), '--count', String(packets * perPacket), '--max-batch', '1024'];
  if (kind === 'latency') clientArgs.push('--stamps', '--warmup-ms', String(warmup * 1000));
  clientArgs.push(...clientExtra);
  const client = runJson(sb, sb.dut, process.execPath, clientArgs, 0);
  // Subscribed (after its warm-up), or gone: then its result says why.
  await Promise.race([client.firstErr, client.result.catch(() => {}), new Promise((r) => setTimeout(r, 15000))]);
  await new Promise((r) => setTimeout(r, 200));
  collectHarnessGarbage();
  const sender = runJson(sb, sb.gen, 'taskset', ['-c', '0', MOLD_SEND, '--to', sb.dutAddr, '--port', '9000', '--count', String(packets), '--messages', String(perPacket),
    '--size', '16', '--rate', String(msgRate / perPacket), '--seconds', String(secs + 2), ...(kind === 'latency' ? ['--stamp'] : [])]);
  const sent = await sender.result;
  const c = await client.result;
  xsk.signal('SIGTERM');
  await xsk.exit();
  const s = xsk.summary();
  return { kind, sent_messages: sent.messages, sent_rate: sent.messages / sent.seconds, feed_messages: s.feed.messages, client: c, kernel_drops: (s.xdp_stats.rx_ring_full ?? 0) + (s.xdp_stats.rx_dropped ?? 0),
    // Mark-compacts of xsk's main thread (the feed's): each one used to leave a burst of late messages.
    main_gc_major: s.runtime?.gc_major ?? NaN,
    // xsk's own side of the tail: its receive stamp → the message written to the subscriber's stream.
    rx_to_feed_us: s.latency?.rx_to_feed };
}

/** The client's 250 ms windows that had messages later than 1 ms, as "0.25: 120 (4.1)". */
function lateWindows(w?: { window_ms: number; windows: { n: number; over_1ms: number; max_us: number }[] }): string {
  if (!w) return 'n/a';
  const late = w.windows.map((x, i) => ({ ...x, at: (i * w.window_ms) / 1000 })).filter((x) => x.over_1ms > 0);
  return late.length ? late.map((x) => `${x.at}: ${x.over_1ms} (${(x.max_us / 1000).toFixed(1)})`).join(', ') : 'none';
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sb = new Sandbox({ name: 'xsk-fbench' });
lowerHarnessHelpers();
/** The argument sets to A/B (--ab-client, --ab-client-warm), or none. */
const ab: [string, string[], string[]][] | undefined = values['ab-client']
  ? values['ab-client'].split('|').map((x) => {
      const [client, xsk = ''] = x.split('=').slice(1).join('=').split('//');
      const words = (s: string) => s.split(' ').filter((a) => a);
      return [x.split('=')[0], words(client), words(xsk)] as [string, string[], string[]];
    })
  : values['ab-client-warm']
    ? ([['warm', [], []], ['no-warm', ['--no-warm'], []]] as [string, string[], string[]][])
    : undefined;

/** Latency runs only, alternating the sides of `ab`; each side's figures printed and written. */
async function abRuns(ab: [string, string[], string[]][]): Promise<void> {
  const sides: Record<string, { whole: number[]; steady: number[]; first250: number[] }> = {};
  for (let i = 0; i < runs; i++) {
    for (const [name, extra, xskExtra] of i & 1 ? [...ab].reverse() : ab) {
      const l = await once(sb, 'latency', extra, xskExtra);
      const s = (sides[name] ??= { whole: [], steady: [], first250: [] });
      s.whole.push(l.client.lag_all_us?.p99 ?? NaN);
      s.steady.push(l.client.lag_us?.p99 ?? NaN);
      s.first250.push(l.client.lag_windows?.windows?.[0]?.over_1ms ?? NaN);
      const rt = l.client.runtime;
      console.log(
        `${name}: whole-run p99 ${l.client.lag_all_us?.p99} µs, after ${warmup} s ${l.client.lag_us?.p99} µs; subscriber GCs ${rt?.gc_minor} minor (${rt?.gc_ms} ms), ${rt?.gc_major} major, longest ${rt?.gc_max_ms} ms; late > 1 ms: ${lateWindows(l.client.lag_windows)}`,
      );
    }
  }
  for (const [name, s] of Object.entries(sides)) {
    console.log(`${name}: whole-run p99 median ${median(s.whole)} µs (${s.whole.join(', ')}); after warm-up ${median(s.steady)} µs; first 250 ms late ${s.first250.join(', ')}`);
  }
  mkdirSync(OUT, { recursive: true });
  writeFileSync(`${OUT}feed-ab-client.json`, JSON.stringify({ date: new Date().toISOString(), rate, seconds, warmup, sides }, null, 2) + '\n');
}

/** Throughput and latency runs, and their medians. */
async function fullRuns(): Promise<void> {
  const tp: number[] = [];
  const raw: Record<string, unknown>[] = [];
  const r = { p50: [] as number[], p99: [] as number[], p999: [] as number[], steadyP50: [] as number[], steadyP99: [] as number[], steadyP999: [] as number[], sendP99: [] as number[] };
  for (let i = 0; i < runs; i++) {
    const t = await once(sb, 'throughput');
    tp.push(t.client.active_rate);
    raw.push({ run: i + 1, kind: t.kind, sent_messages: t.sent_messages, sent_rate: t.sent_rate, feed_messages: t.feed_messages, kernel_drops: t.kernel_drops, subscriber_messages: t.client.messages, subscriber_rate: t.client.active_rate, skipped: t.client.skipped, main_gc_major: t.main_gc_major });
    console.log(
      `throughput: offered ${(t.sent_rate / 1e6).toFixed(2)} M msg/s (${t.sent_messages}), feed took ${t.feed_messages}, subscriber got ${t.client.messages} at ${(t.client.active_rate / 1e6).toFixed(2)} M msg/s, skipped ${t.client.skipped}, kernel drops ${t.kernel_drops}, xsk main major GCs ${t.main_gc_major}`,
    );
    const l = await once(sb, 'latency');
    const lag = l.client.lag_all_us ?? {};
    const st = l.client.lag_us ?? {};
    raw.push({ run: i + 1, kind: l.kind, sent_messages: l.sent_messages, sent_rate: l.sent_rate, subscriber_messages: l.client.messages, skipped: l.client.skipped, lag_all_us: lag, lag_after_warmup_us: st, send_to_subscriber_after_warmup_us: l.client.wire_us, lag_windows: l.client.lag_windows, main_gc_major: l.main_gc_major, xsk_rx_to_feed_us: l.rx_to_feed_us, subscriber_runtime: l.client.runtime });
    r.p50.push(lag.p50 ?? NaN);
    r.p99.push(lag.p99 ?? NaN);
    r.p999.push(lag['p99.9'] ?? NaN);
    r.steadyP50.push(st.p50 ?? NaN);
    r.steadyP99.push(st.p99 ?? NaN);
    r.steadyP999.push(st['p99.9'] ?? NaN);
    r.sendP99.push(l.client.wire_us?.p99 ?? NaN);
    console.log(
      `latency at ${(l.sent_rate / 1e3).toFixed(0)} k msg/s, xsk rx stamp → subscriber, µs: whole run ${JSON.stringify(lag)}; after ${warmup} s ${JSON.stringify(st)}; send → subscriber after ${warmup} s ${JSON.stringify(l.client.wire_us)}; got ${l.client.messages}/${l.sent_messages}, skipped ${l.client.skipped}, xsk main major GCs ${l.main_gc_major}; xsk's rx_to_feed ${JSON.stringify(l.rx_to_feed_us)}; subscriber GCs ${l.client.runtime?.gc_major} major, ${l.client.runtime?.gc_minor} minor, longest ${l.client.runtime?.gc_max_ms} ms`,
    );
    console.log(`  where the messages later than 1 ms were (s from the first message: count, latest ms): ${lateWindows(l.client.lag_windows)}`);
  }
  const result = {
    bench: 'feed',
    runs,
    seconds,
    warmup_s: warmup,
    rate,
    offered,
    throughput_msgs_per_s: median(tp),
    latency_p50_us: median(r.p50),
    latency_p99_us: median(r.p99),
    'latency_p99.9_us': median(r.p999),
    steady_latency_p50_us: median(r.steadyP50),
    steady_latency_p99_us: median(r.steadyP99),
    'steady_latency_p99.9_us': median(r.steadyP999),
    steady_send_to_subscriber_p99_us: median(r.sendP99),
  };
  console.log(JSON.stringify(result));
  mkdirSync(OUT, { recursive: true });
  writeFileSync(`${OUT}feed.json`, JSON.stringify({ date: new Date().toISOString(), ...result, raw }, null, 2) + '\n');
}

try {
  if (ab) await abRuns(ab);
  else await fullRuns();
} finally {
  sb.destroy();
}
