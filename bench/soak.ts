/**
 * Soak: xsk with the gRPC feed under the generator's full rate for --minutes, one subscriber.
 * Does memory stay flat, and how does the kernel's RX drop count move?
 *
 * One veth sandbox. xsk (native XDP, port 9000, raw decoder, --grpc on the dut namespace's
 * loopback, --metrics there too) with its main thread pinned to CPU 1 once up; one subscriber
 * (dist/feed-client.js, reading batches in place, SKIP when it falls behind) with its main thread
 * on CPU 0 once subscribed (as bench/feed.ts); the generator (dist/gen.js, XDP live frames of 60
 * bytes, pinned to CPU 0) sends at full rate in chunks of --chunk frames (each bounded by
 * --chunk-seconds too), one after the other until --minutes are over.
 *
 * Every --interval ms bench/lib/sampler.ts (in the dut namespace) records xsk's RSS
 * (/proc/PID/status VmRSS), V8's old space (nodejs_heap_space_size_used_bytes{space="old"},
 * prom-client's default metrics on xsk's /metrics) and the kernel's rx_ring_full
 * (xsk_kernel_statistics_total{counter="rx_ring_full"}), plus rx/feed counters and the
 * subscriber's RSS. After a warm-up (the first --warmup-share of the run, default 20 %), a
 * least-squares line over the rest gives each memory series' slope; a series is called flat
 * when that line moves less than max(--flat-mib MiB, 1 % of its mean) over the window.
 * Writes bench/results/soak.json, soak.svg and soak.png (three panels; dashed: end of warm-up,
 * red: the fitted line).
 *   sudo node --import tsx bench/soak.ts [--minutes 10] [--chunk 5000000] [--chunk-seconds 5]
 *        [--interval 1000] [--warmup-share 0.2] [--flat-mib 2]
 * Bounded: traffic stops after --minutes; every process has a time limit past that.
 */
import { parseArgs } from 'node:util';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../src/sandbox/netns.js';
import { XskProcess } from '../src/sandbox/xsk-process.js';
import { GEN_JS } from './lib/measure.js';
import { lineChart, writeChart } from './lib/chart.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    chunk: { type: 'string', default: '5000000' },
    'chunk-seconds': { type: 'string', default: '5' },
    interval: { type: 'string', default: '1000' },
    'warmup-share': { type: 'string', default: '0.2' },
    'flat-mib': { type: 'string', default: '2' },
  },
});
const minutes = Number(values.minutes);
const chunk = Number(values.chunk);
const chunkSeconds = Number(values['chunk-seconds']);
const intervalMs = Number(values.interval);
const warmupShare = Number(values['warmup-share']);
const flatMiB = Number(values['flat-mib']);
if (
  !(minutes > 0 && minutes <= 120) ||
  !(Number.isInteger(chunk) && chunk >= 1000 && chunk <= 50_000_000) ||
  !(Number.isInteger(chunkSeconds) && chunkSeconds >= 1 && chunkSeconds <= 60) ||
  !(intervalMs >= 200 && intervalMs <= 60000) ||
  !(warmupShare >= 0 && warmupShare < 1) ||
  !(flatMiB >= 0)
) {
  process.stderr.write('bench/soak: --minutes (0,120], --chunk 1000..50000000, --chunk-seconds 1..60, --interval 200..60000 ms, --warmup-share [0,1), --flat-mib >= 0\n');
  process.exit(2);
}
const CLIENT = fileURLToPath(new URL('../dist/feed-client.js', import.meta.url));
const SAMPLER = fileURLToPath(new URL('./lib/sampler.ts', import.meta.url));
const OUT = fileURLToPath(new URL('./results/', import.meta.url));
const GRPC = '127.0.0.1:50597';
const METRICS = '127.0.0.1:9465';
const PORT = 9000;
const seconds = minutes * 60;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** `p`, or an error naming `what` after `ms`. */
const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} not up after ${ms} ms`)), ms).unref())]);
const pinMain = (pid: number, cpu: number) => execFileSync('taskset', ['-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });

/** Spawn in a namespace; stdout lines go to `onLine` (if given); `result()` waits for the exit. */
function run(sb: Sandbox, ns: string, cmd: string, args: string[], onLine?: (l: string) => void) {
  const child: ChildProcess = sb.spawn(ns, cmd, args);
  let out = '';
  let err = '';
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (!onLine) return;
    partial += d;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      onLine(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  /** Resolves at its first stderr output (feed-client: "subscribed"; the sampler: "up"). */
  const firstErr = new Promise<void>((resolve) => child.stderr!.once('data', () => resolve()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    firstErr,
    stderr: () => err,
    /** Wait for the exit (SIGKILL after `ms`); the last stdout line as JSON, or null. */
    async result(ms: number): Promise<Record<string, any> | null> {
      const t = setTimeout(() => child.kill('SIGKILL'), ms);
      await exited;
      clearTimeout(t);
      try {
        return JSON.parse(out.trim().split('\n').pop() ?? '');
      } catch {
        return null;
      }
    },
  };
}

interface Sample {
  /** Seconds since traffic started (negative: the idle samples before). */
  t_s: number;
  at: number;
  rss_bytes: number | null;
  client_rss_bytes: number | null;
  old_space_bytes: number | null;
  heap_used_bytes: number | null;
  rx_ring_full: number | null;
  rx_packets: number | null;
  feed_messages: number | null;
  feed_skipped: number | null;
  gc_major: number | null;
  error?: string;
}

/** Least squares y = intercept + slope × x. */
function fit(pts: [number, number][]) {
  const n = pts.length;
  if (n < 2) return { slope: NaN, intercept: NaN };
  const mx = pts.reduce((s, [x]) => s + x, 0) / n;
  const my = pts.reduce((s, [, y]) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of pts) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : NaN;
  return { slope, intercept: my - slope * mx };
}

const samples: Sample[] = [];
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
let tTraffic = 0;

const sb = new Sandbox({ name: 'xsk-soak' });
let chunks = 0;
let sent = 0;
let genSeconds = 0;
let xskSummary: Record<string, any> = {};
let client: Record<string, any> | null = null;
try {
  sb.exec(sb.dut, 'ethtool', ['-K', sb.dutIf, 'gro', 'on']);
  const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', 'native', '--grpc', GRPC, '--metrics', METRICS,
    '--stats-interval', '0', '--duration', String(seconds + 120)]);
  await xsk.up();
  pinMain(xsk.child.pid!, 1);
  const sub = run(sb, sb.dut, process.execPath, [CLIENT, '--addr', GRPC, '--port', String(PORT), '--max-batch', '1024', '--seconds', String(seconds + 90)]);
  await within(sub.firstErr, 15000, 'feed-client');
  pinMain(sub.child.pid!, 0);
  const sampler = run(
    sb,
    sb.dut,
    process.execPath,
    ['--import', 'tsx', SAMPLER, '--url', `http://${METRICS}/metrics`, '--pid', String(xsk.child.pid), '--pid2', String(sub.child.pid), '--interval', String(intervalMs), '--seconds', String(seconds + 60)],
    (l) => {
      let j: Record<string, any>;
      try {
        j = JSON.parse(l);
      } catch {
        return;
      }
      const m = j.metrics ?? {};
      samples.push({
        t_s: tTraffic ? (Date.now() - tTraffic) / 1000 : NaN,
        at: Date.now(),
        rss_bytes: num(j.rss_bytes),
        client_rss_bytes: num(j.rss2_bytes),
        old_space_bytes: num(m.old_space_bytes),
        heap_used_bytes: num(m.heap_used_bytes),
        rx_ring_full: num(m.rx_ring_full),
        rx_packets: num(m.rx_packets),
        feed_messages: num(m.feed_messages),
        feed_skipped: num(m.feed_skipped),
        gc_major: num(m.gc_major),
        ...(j.error ? { error: String(j.error) } : {}),
      });
    },
  );
  await within(sampler.firstErr, 15000, 'sampler');
  await sleep(2000); // a couple of idle samples first
  tTraffic = Date.now();
  for (const s of samples) s.t_s = (s.at - tTraffic) / 1000; // the idle samples: negative
  const end = tTraffic + seconds * 1000;
  let lastReport = 0;
  while (Date.now() < end) {
    const left = Math.ceil((end - Date.now()) / 1000);
    const g = run(sb, sb.gen, 'taskset', ['-c', '0', process.execPath, GEN_JS, '--iface', sb.genIf, '--dst-mac', sb.dutMac, '--src-mac', sb.genMac,
      '--src-ip', sb.genAddr, '--dst-ip', sb.dutAddr, '--dst-port', String(PORT), '--count', String(chunk), '--seconds', String(Math.max(1, Math.min(chunkSeconds, left)))]);
    const r = await g.result((chunkSeconds + 20) * 1000);
    if (!r) throw new Error(`generator failed: ${g.stderr()}`);
    chunks++;
    sent += r.sent;
    genSeconds += r.seconds;
    if (Date.now() - lastReport >= 30_000 || Date.now() >= end) {
      lastReport = Date.now();
      const s = samples[samples.length - 1];
      console.log(
        `${((Date.now() - tTraffic) / 1000).toFixed(0)} s: sent ${sent} in ${chunks} chunks (${(sent / genSeconds / 1e6).toFixed(2)} Mpps while sending); ` +
          `xsk rx ${s?.rx_packets}, rx_ring_full ${s?.rx_ring_full}, RSS ${((s?.rss_bytes ?? NaN) / 2 ** 20).toFixed(1)} MiB, old space ${((s?.old_space_bytes ?? NaN) / 2 ** 20).toFixed(1)} MiB, ` +
          `feed ${s?.feed_messages}, skipped ${s?.feed_skipped}`,
      );
    }
  }
  await sleep(2000); // the tail drains; last samples
  sampler.child.kill('SIGTERM');
  await sampler.result(5000);
  xsk.signal('SIGTERM');
  await xsk.exit(15000);
  xskSummary = xsk.summary();
  client = await sub.result(10000); // the stream ends with xsk's Shutdown event
} finally {
  sb.destroy();
}

// Flatness over the samples after the warm-up (traffic time only).
const traffic = samples.filter((s) => s.t_s >= 0 && s.t_s <= seconds + 5);
const warmEnd = seconds * warmupShare;
const after = traffic.filter((s) => s.t_s >= warmEnd);
function trend(key: 'rss_bytes' | 'old_space_bytes' | 'client_rss_bytes') {
  const pts = after.filter((s) => s[key] !== null).map((s) => [s.t_s, s[key]! / 2 ** 20] as [number, number]);
  const f = fit(pts);
  const x0 = pts[0]?.[0] ?? 0;
  const x1 = pts[pts.length - 1]?.[0] ?? 0;
  const mean = pts.reduce((s, [, y]) => s + y, 0) / Math.max(1, pts.length);
  const growth = f.slope * (x1 - x0);
  const limit = Math.max(flatMiB, mean * 0.01);
  return {
    samples: pts.length,
    window_s: [x0, x1],
    mean_mib: mean,
    min_mib: Math.min(...pts.map(([, y]) => y)),
    max_mib: Math.max(...pts.map(([, y]) => y)),
    slope_mib_per_min: f.slope * 60,
    growth_over_window_mib: growth,
    flat_limit_mib: limit,
    flat: Math.abs(growth) <= limit,
    fit: { x0, x1, slope: f.slope, intercept: f.intercept },
  };
}
/** Major GCs (mark-compact) during the window: without one, old space only grows. */
const majors = after.map((s) => s.gc_major).filter((v): v is number => v !== null);
const majorGcs = majors.length ? majors[majors.length - 1] - majors[0] : NaN;
const rssTrend = trend('rss_bytes');
const oldTrend = trend('old_space_bytes');
const clientTrend = trend('client_rss_bytes');
const ringFull = traffic.map((s) => s.rx_ring_full).filter((v): v is number => v !== null);
const rxs = traffic.map((s) => s.rx_packets).filter((v): v is number => v !== null);
const scrapeErrors = samples.filter((s) => s.error).length;

/**
 * Old space without a major GC in the window can only grow (promotions wait for the first
 * mark-compact): growth there, even under the limit, decides nothing.
 */
const oldVerdict = !oldTrend.flat ? 'NOT FLAT' : majorGcs === 0 && oldTrend.growth_over_window_mib > 0.5 ? 'UNDECIDED (growing, no major GC yet)' : 'FLAT';
const say = (name: string, t: ReturnType<typeof trend>, verdict = t.flat ? 'FLAT' : 'NOT FLAT') =>
  console.log(
    `${name}: ${verdict} after ${warmEnd.toFixed(0)} s warm-up: mean ${t.mean_mib.toFixed(1)} MiB (${t.min_mib.toFixed(1)}–${t.max_mib.toFixed(1)}), ` +
      `slope ${t.slope_mib_per_min.toFixed(3)} MiB/min, ${t.growth_over_window_mib >= 0 ? '+' : ''}${t.growth_over_window_mib.toFixed(2)} MiB over ${(t.window_s[1] - t.window_s[0]).toFixed(0)} s (limit ±${t.flat_limit_mib.toFixed(1)})`,
  );
console.log(`\nsoak: ${minutes} min, ${sent} frames sent in ${chunks} chunks at ${(sent / genSeconds / 1e6).toFixed(2)} Mpps (generator time ${genSeconds.toFixed(0)} s); ` +
  `xsk received ${xskSummary.rx_packets}, rx_ring_full ${xskSummary.xdp_stats?.rx_ring_full}, feed took ${xskSummary.feed?.messages}; ` +
  `subscriber got ${client?.messages} (skipped ${client?.skipped}, status ${client?.status?.code ?? client?.status ?? '?'}); ${samples.length} samples, ${scrapeErrors} scrape errors`);
say('xsk RSS', rssTrend);
say('xsk V8 old space', oldTrend, oldVerdict);
console.log(
  `xsk major GCs in the window: ${majorGcs}` +
    (majorGcs === 0 ? ' — none, so old space could only grow: what the young generation promotes waits for the first mark-compact; a longer soak (--minutes 10) tells a leak from that' : ''),
);
say('subscriber RSS', clientTrend);
console.log(`rx_ring_full: ${ringFull[0] ?? '-'} → ${ringFull[ringFull.length - 1] ?? '-'} (${rxs.length ? ((ringFull[ringFull.length - 1] ?? 0) / Math.max(1, sent)).toFixed(3) : '-'} of frames sent)`);

mkdirSync(OUT, { recursive: true });
const result = {
  date: new Date().toISOString(),
  minutes,
  chunk,
  chunk_seconds: chunkSeconds,
  interval_ms: intervalMs,
  warmup_s: warmEnd,
  sent,
  chunks,
  gen_seconds: genSeconds,
  xsk: {
    rx_packets: xskSummary.rx_packets,
    xdp_stats: xskSummary.xdp_stats,
    runtime: xskSummary.runtime,
    feed: xskSummary.feed,
    latency: xskSummary.latency,
  },
  subscriber: client,
  rss: { ...rssTrend, fit: undefined },
  old_space: { ...oldTrend, fit: undefined, major_gcs_in_window: majorGcs, verdict: oldVerdict },
  subscriber_rss: { ...clientTrend, fit: undefined },
  scrape_errors: scrapeErrors,
  samples,
};
writeFileSync(`${OUT}soak.json`, JSON.stringify(result, null, 1) + '\n');
const series = (key: keyof Sample, scale: number) =>
  traffic.filter((s) => typeof s[key] === 'number').map((s) => [s.t_s, (s[key] as number) / scale] as [number, number]);
const png = writeChart(
  `${OUT}soak.svg`,
  lineChart(
    `xsk --grpc soak: ${minutes} min at the generator's full rate, one subscriber`,
    [
      { label: 'xsk RSS', unit: 'MiB', points: series('rss_bytes', 2 ** 20), fit: rssTrend.fit },
      { label: 'xsk V8 old space used', unit: 'MiB', points: series('old_space_bytes', 2 ** 20), fit: oldTrend.fit },
      { label: 'kernel rx_ring_full', unit: 'frames dropped, cumulative', points: series('rx_ring_full', 1) },
    ],
    'seconds since traffic started',
    warmEnd,
  ),
);
console.log(`wrote ${OUT}soak.json${png ? ` and ${png}` : ''}`);
