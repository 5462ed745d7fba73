/**
 * Samples a running xsk every --interval ms for at most --seconds: its RSS (/proc/PID/status
 * VmRSS) and a few series from its Prometheus endpoint. Runs inside the namespace where xsk
 * serves --metrics (the endpoint is on that namespace's loopback); prints one JSON line a sample:
 *   {"t": ms since start, "rss_bytes", "metrics": {"old_space_bytes", "rx_ring_full", ...}}
 * A scrape that fails gives "error" instead of "metrics" (xsk busy or gone); the loop goes on.
 *   node --import tsx bench/lib/sampler.ts --url http://127.0.0.1:9465/metrics --pid PID
 *        [--pid2 PID] [--interval 1000] [--seconds 700]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    pid: { type: 'string' },
    pid2: { type: 'string' },
    interval: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '700' },
  },
});
if (!values.url || !values.pid) {
  process.stderr.write('sampler: --url and --pid are required\n');
  process.exit(2);
}
const url = values.url;
const interval = Math.max(100, Number(values.interval));
const deadline = Date.now() + Number(values.seconds) * 1000;

/** The series sampled, by the exact name and labels xsk's /metrics gives them. */
const SERIES: Record<string, RegExp> = {
  old_space_bytes: /^nodejs_heap_space_size_used_bytes\{space="old"\} (\S+)$/m,
  heap_used_bytes: /^nodejs_heap_size_used_bytes (\S+)$/m,
  process_rss_bytes: /^process_resident_memory_bytes (\S+)$/m,
  rx_ring_full: /^xsk_kernel_statistics_total\{[^}]*counter="rx_ring_full"[^}]*\} (\S+)$/m,
  rx_packets: /^xsk_rx_packets_total\{[^}]*\} (\S+)$/m,
  feed_messages: /^xsk_feed_messages_total\{[^}]*\} (\S+)$/m,
  feed_skipped: /^xsk_feed_skipped_total\{[^}]*\} (\S+)$/m,
  feed_subscribers: /^xsk_feed_subscribers\{[^}]*\} (\S+)$/m,
  gc_major: /^nodejs_gc_duration_seconds_count\{kind="major"\} (\S+)$/m,
};

/** prom-client shows a GC kind's series only after the first GC of that kind: absent means none. */
const ZERO_UNTIL_SEEN = { gc_major: true };

function rss(pid: string | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

const t0 = Date.now();
let stop = false;
process.on('SIGTERM', () => (stop = true));
process.on('SIGINT', () => (stop = true));
process.stderr.write('sampler up\n');
for (let next = Date.now(); !stop && Date.now() < deadline; ) {
  const t = Date.now() - t0;
  const sample: Record<string, unknown> = { t, rss_bytes: rss(values.pid), rss2_bytes: rss(values.pid2) };
  try {
    const body = await (await fetch(url, { signal: AbortSignal.timeout(Math.max(interval - 100, 500)) })).text();
    sample.metrics = Object.fromEntries(Object.entries(SERIES).map(([k, re]) => [k, Number(re.exec(body)?.[1] ?? (k in ZERO_UNTIL_SEEN ? 0 : NaN))]));
  } catch (e) {
    sample.error = (e as Error).message;
  }
  process.stdout.write(JSON.stringify(sample) + '\n');
  next += interval;
  await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
}
