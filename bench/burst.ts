/**
 * Issue 12: what is lost, and how late, when traffic starts after the receiver has been idle.
 *
 * One veth sandbox, one RX queue. For each burst size (--sizes, default 4000,20000,100000) and
 * each receiver — xsk (`--mode native`, port 9000, default flags: --busy-poll 200) and the C
 * reference (build/bench/xsk_ref rxdrop, the same XDP program and ring sizes, --busy-poll 200) —
 * alternating, --runs times: start the receiver fresh, wait until it is up, pin its main thread
 * to CPU 1 (only the main thread, as bench/feed.ts: xsk's V8 helper threads and its poll() thread
 * run where there is room; xsk_ref has one thread), stay idle --idle seconds, send one burst at
 * the generator's full rate (dist/gen.js, XDP live frames of 60 bytes, pinned to CPU 0, as
 * bench/lib/measure.ts's generate()), wait --settle ms, stop the receiver and read its summary:
 * frames received of sent, the kernel's XDP_STATISTICS (rx_ring_full: RX ring full, frame
 * dropped; rx_dropped) and rx_to_user latency (XDP program's receive stamp → the receiver's
 * batch, both on CLOCK_MONOTONIC; xsk's latency.rx_to_user, xsk_ref's the same fields), every frame
 * stamped (--latency-sample 1, --stamp-every 1).
 *
 * Then the sparse case: --sparse-rate datagrams a second for --sparse-seconds (bench/c/mold_send,
 * one 16-byte message a packet, through the gen namespace's UDP stack, pinned to CPU 0), after
 * the same idle start, for each receiver, --runs times: rx_to_user p50/p99 (with 50 samples the
 * p99 is the largest but one or so).
 *
 * Others share this machine: each run records the load average and how long the receiver's main
 * thread waited for a CPU (schedstat run_delay) from just before the traffic until it was
 * stopped: a run with tens of ms there measured the neighbours as much as the receiver. And
 * that thread's page faults over the same span (this VM's DAMON pages out file-backed memory
 * left idle for a minute, and a major fault reads it back).
 * Medians over the runs; prints a table per burst size and writes bench/results/burst.json.
 *   sudo node --import tsx bench/burst.ts [--runs 3] [--sizes 4000,20000,100000] [--idle 5]
 *        [--settle 500] [--busy-poll 200] [--sparse-rate 10] [--sparse-seconds 5] [--no-sparse]
 *        [--trace]   (ftrace: how long the receiving thread took to run after each wake-up, and
 *                     its longest preemption and by whom, in each run: bench/lib/off-cpu.ts)
 * Bounded: every process has a time limit (receivers --duration 60 and SIGKILL after 10 s of
 * SIGTERM, the generator --seconds 10); with the defaults the whole bench takes ~3-4 minutes.
 */
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../src/sandbox/netns.js';
import { XskProcess } from '../src/sandbox/xsk-process.js';
import { generate } from './lib/measure.js';
import { haveRef, RefProcess, XSK_REF } from './c/ref.js';
import { OffCpuTrace, type OffCpu } from './lib/off-cpu.js';
import { mountTracefs } from './lib/tracefs.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    sizes: { type: 'string', default: '4000,20000,100000' },
    idle: { type: 'string', default: '5' },
    settle: { type: 'string', default: '500' },
    'busy-poll': { type: 'string', default: '200' },
    'sparse-rate': { type: 'string', default: '10' },
    'sparse-seconds': { type: 'string', default: '5' },
    'no-sparse': { type: 'boolean', default: false },
    /** Record, with ftrace, what kept the receiving thread off its CPU in each run (bench/lib/off-cpu.ts). */
    trace: { type: 'boolean', default: false },
    /** Extra xsk flags, comma-separated (e.g. --xsk-args=--no-warm). */
    'xsk-args': { type: 'string', default: '' },
  },
});
const runs = Number(values.runs);
const sizes = values.sizes!.split(',').map(Number);
const idleS = Number(values.idle);
const settleMs = Number(values.settle);
const busyPoll = Number(values['busy-poll']);
const sparseRate = Number(values['sparse-rate']);
const sparseSeconds = Number(values['sparse-seconds']);
const xskExtra = values['xsk-args'] ? values['xsk-args'].split(',') : [];
if (
  !(runs >= 1 && runs <= 20) ||
  !sizes.every((n) => Number.isInteger(n) && n >= 1 && n <= 5_000_000) ||
  !(idleS >= 0 && idleS <= 60) ||
  !(settleMs >= 0 && settleMs <= 10000) ||
  !(busyPoll >= 0 && busyPoll <= 10000) ||
  !(sparseRate >= 1 && sparseRate <= 10000) ||
  !(sparseSeconds >= 1 && sparseSeconds <= 60)
) {
  process.stderr.write('bench/burst: --runs 1..20, --sizes n,n,.. (1..5000000), --idle 0..60, --settle 0..10000, --busy-poll 0..10000, --sparse-rate 1..10000, --sparse-seconds 1..60\n');
  process.exit(2);
}
if (!haveRef()) {
  process.stderr.write(`bench/burst: ${XSK_REF} not built: npm run build\n`);
  process.exit(2);
}
const MOLD_SEND = fileURLToPath(new URL('../build/bench/mold_send', import.meta.url));
const OUT = fileURLToPath(new URL('./results/', import.meta.url));
const PORT = 9000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Pin one thread (the main thread: its tid is the pid) to a CPU. */
const pinMain = (pid: number, cpu: number) => execFileSync('taskset', ['-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });

type Who = 'xsk' | 'C';
interface Lat {
  count: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  max_us: number;
  first_us?: number;
}
interface Run {
  who: Who;
  sent: number;
  received: number;
  rx_ring_full: number;
  rx_dropped: number;
  fill_ring_empty: number;
  redirected: number;
  gen_pps?: number;
  latency: Lat | null;
  /** The 1-minute load average when the run started (others share this machine). */
  load1: number;
  /**
   * ms the receiving thread spent runnable but waiting for a CPU (schedstat run_delay)
   * from just before the traffic until the receiver was stopped: time it lost to others.
   */
  wait_ms: number;
  /** Page faults of the receiving thread over the same span (minor, major: a major one read a page back from disk). */
  faults: { minor: number; major: number };
  /** With --trace: what kept the receiving thread off its CPU over the same span. */
  off_cpu?: OffCpu;
  /**
   * xsk only: its warm start and its datapath loop's and heap's counters (parks, wakeups,
   * polite yields, re-warms, GCs), to tell a slow start's cause from the summary.
   */
  xsk?: { warm?: unknown; loop?: unknown; runtime?: unknown };
}

/** `tid`: the thread that receives (xsk's datapath thread; the C reference's only one). */
type Receiver = { pid: number; tid: number; stop: () => Promise<Record<string, any>> };

/**
 * A receiver, started fresh and up, main thread on CPU 1. The kernel lets go of the previous
 * receiver's AF_XDP socket on the queue a little after that process exits (longer on a busy
 * machine), and binding meanwhile fails with EBUSY: then try again, for up to 5 s.
 */
async function start(sb: Sandbox, who: Who): Promise<Receiver> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(sb, who);
    } catch (e) {
      if (attempt >= 10 || !/EBUSY|resource busy/i.test(String((e as Error).message))) throw e;
      await sleep(500);
    }
  }
}

async function startOnce(sb: Sandbox, who: Who): Promise<Receiver> {
  if (who === 'xsk') {
    // xsk's datapath runs in a thread of its own: --cpus 1 pins that thread to CPU 1, as the C
    // reference's one thread is (its main thread, the control plane, goes where there is room).
    const x = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', 'native', '--stats-interval', '0', '--busy-poll', String(busyPoll), '--duration', '60', '--cpus', '1',
      // Every frame stamped, as in xsk_ref below: sparse traffic is 50 frames, a sample of 1 in 64 would be one.
      '--latency-sample', '1', ...xskExtra]);
    try {
      await x.up();
    } catch (e) {
      x.signal('SIGKILL');
      throw e;
    }
    return {
      pid: x.child.pid!,
      tid: datapathTid(x.child.pid!),
      stop: async () => {
        x.signal('SIGTERM');
        const code = await x.exit(10000);
        if (code !== 0) throw new Error(`xsk exited ${code}: ${x.stderr}`);
        return x.summary();
      },
    };
  }
  const ref = new RefProcess(sb, { app: 'rxdrop', mode: 'native', port: PORT, busyPoll, duration: 60, stampEvery: 1 });
  try {
    await ref.up();
    pinMain(ref.pid, 1);
  } catch (e) {
    ref.child.kill('SIGKILL');
    throw e;
  }
  return { pid: ref.pid, tid: ref.pid, stop: () => ref.stop() };
}

/** The thread pinned to CPU 1 alone: xsk's datapath thread (--cpus 1). */
function datapathTid(pid: number): number {
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const st = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
    if (/Cpus_allowed_list:\s*1\s*$/m.test(st)) return Number(t);
  }
  return pid;
}

const load1 = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
/** ns a thread has spent waiting on a run queue (/proc/PID/task/TID/schedstat, second field). */
const runDelayNs = (pid: number, tid = pid) => {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
  } catch {
    return NaN;
  }
};

/** [minor, major] page faults of a thread (/proc/PID/task/TID/stat, fields 10 and 12). */
const faultsOf = (pid: number, tid = pid): [number, number] => {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd on
    return [Number(f[7]), Number(f[9])];
  } catch {
    return [NaN, NaN];
  }
};

/** What the receiving thread spent waiting for a CPU (ns) and its page faults between two points. */
interface Span {
  waitNs: number;
  faults: [number, number];
  offCpu?: OffCpu;
}
const NO_SPAN: Span = { waitNs: NaN, faults: [NaN, NaN] };
/** Starts a span of the thread now (and its trace, with --trace); the function returned ends it. */
function threadSpan(pid: number, tid: number): () => Span {
  const w0 = runDelayNs(pid, tid);
  const f0 = faultsOf(pid, tid);
  const trace = values.trace ? OffCpuTrace.start(tid) : undefined;
  return () => {
    const offCpu = trace?.stop();
    const f1 = faultsOf(pid, tid);
    return { waitNs: runDelayNs(pid, tid) - w0, faults: [f1[0] - f0[0], f1[1] - f0[1]], offCpu };
  };
}

function result(who: Who, sent: number, s: Record<string, any>, load: number, { waitNs, faults, offCpu }: Span, genPps?: number): Run {
  const l = s.latency?.rx_to_user;
  return {
    who,
    sent,
    received: s.rx_packets,
    rx_ring_full: s.xdp_stats?.rx_ring_full ?? 0,
    rx_dropped: s.xdp_stats?.rx_dropped ?? 0,
    fill_ring_empty: s.xdp_stats?.rx_fill_ring_empty_descs ?? 0,
    redirected: s.xdp_program?.redirected ?? 0,
    gen_pps: genPps,
    latency: l ? { count: l.count, p50_us: l.p50_us, p90_us: l.p90_us, p99_us: l.p99_us, max_us: l.max_us, first_us: l.first_us } : null,
    load1: load,
    wait_ms: Math.round(waitNs / 1e4) / 100,
    faults: { minor: faults[0], major: faults[1] },
    ...(offCpu ? { off_cpu: offCpu } : {}),
    ...(who === 'xsk' ? { xsk: { warm: s.warm, loop: s.datapath?.loop, runtime: s.datapath?.runtime } } : {}),
  };
}

async function burst(sb: Sandbox, who: Who, size: number): Promise<Run> {
  const load = load1();
  const rx = await start(sb, who);
  let s: Record<string, any>;
  let g!: ReturnType<typeof generate>;
  let span = NO_SPAN;
  try {
    await sleep(idleS * 1000);
    const end = threadSpan(rx.pid, rx.tid);
    g = generate(sb, PORT, size, 10);
    await sleep(settleMs);
    span = end();
  } finally {
    s = await rx.stop();
  }
  return result(who, g.sent, s, load, span, g.pps);
}

async function sparse(sb: Sandbox, who: Who): Promise<Run> {
  const load = load1();
  const rx = await start(sb, who);
  let s: Record<string, any>;
  let sent = 0;
  let span = NO_SPAN;
  try {
    await sleep(idleS * 1000);
    const end = threadSpan(rx.pid, rx.tid);
    const count = Math.round(sparseRate * sparseSeconds);
    const out = sb.exec(sb.gen, 'taskset', ['-c', '0', MOLD_SEND, '--to', sb.dutAddr, '--port', String(PORT), '--count', String(count), '--messages', '1', '--size', '16',
      '--rate', String(sparseRate), '--seconds', String(sparseSeconds + 2)]);
    sent = JSON.parse(out.trim().split('\n').pop()!).sent;
    await sleep(settleMs);
    span = end();
  } finally {
    s = await rx.stop();
  }
  return result(who, sent, s, load, span);
}

const median = (xs: number[]) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : NaN;
};
const fmt = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
function summarize(rs: Run[]) {
  return {
    runs: rs.length,
    sent: median(rs.map((r) => r.sent)),
    received: median(rs.map((r) => r.received)),
    received_share: median(rs.map((r) => r.received / r.sent)),
    rx_ring_full: median(rs.map((r) => r.rx_ring_full)),
    rx_dropped: median(rs.map((r) => r.rx_dropped)),
    p50_us: median(rs.map((r) => r.latency?.p50_us ?? NaN)),
    p99_us: median(rs.map((r) => r.latency?.p99_us ?? NaN)),
    max_us: median(rs.map((r) => r.latency?.max_us ?? NaN)),
    first_us: median(rs.map((r) => r.latency?.first_us ?? NaN)),
    gen_mpps: median(rs.map((r) => (r.gen_pps ?? NaN) / 1e6)),
    load1: median(rs.map((r) => r.load1)),
    wait_ms: median(rs.map((r) => r.wait_ms)),
  };
}

const WHO: Who[] = ['xsk', 'C'];
const raw: Record<string, Run[]> = {};
const push = (key: string, r: Run) => (raw[key] ??= []).push(r);
const line = (key: string, r: Run) =>
  console.log(
    `${key.padEnd(18)} ${String(r.received).padStart(7)}/${r.sent} received, rx_ring_full ${r.rx_ring_full}, rx_dropped ${r.rx_dropped}` +
      (r.gen_pps ? `, gen ${(r.gen_pps / 1e6).toFixed(2)} Mpps` : '') +
      `, load ${r.load1}, waited ${r.wait_ms} ms for a CPU, faults ${r.faults.minor}/${r.faults.major}` +
      (r.latency ? `, rx_to_user p50 ${r.latency.p50_us} µs p99 ${r.latency.p99_us} µs max ${r.latency.max_us} µs${r.latency.first_us !== undefined ? ` first ${r.latency.first_us} µs` : ''}` : ', no latency') +
      (r.off_cpu
        ? `; off CPU: ${r.off_cpu.sleeps} sleeps, longest wake-up ${r.off_cpu.max_wake_us} µs, ${r.off_cpu.preemptions} preemptions, longest ${r.off_cpu.max_preempt_us} µs${r.off_cpu.preempted_by ? ` (${r.off_cpu.preempted_by})` : ''}`
        : ''),
  );

const started = Date.now();
const unmount = values.trace ? mountTracefs() : () => {};
const sb = new Sandbox({ name: 'xsk-burst' });
try {
  // As bench/run.ts: the generator's XDP_TX into veth needs NAPI on dut0 (both receivers attach
  // a native program, which gives it; GRO keeps it so between runs).
  sb.exec(sb.dut, 'ethtool', ['-K', sb.dutIf, 'gro', 'on']);
  for (let r = 1; r <= runs; r++) {
    for (const size of sizes) {
      for (const who of r % 2 ? WHO : [...WHO].reverse()) {
        const key = `${who} burst ${size}`;
        const res = await burst(sb, who, size);
        push(key, res);
        line(`run ${r}/${runs} ${key}`, res);
      }
    }
    if (!values['no-sparse']) {
      for (const who of r % 2 ? WHO : [...WHO].reverse()) {
        const key = `${who} sparse`;
        const res = await sparse(sb, who);
        push(key, res);
        line(`run ${r}/${runs} ${key}`, res);
      }
    }
  }
} finally {
  sb.destroy();
  unmount();
}

const bursts = sizes.map((size) => {
  const x = summarize(raw[`xsk burst ${size}`]);
  const c = summarize(raw[`C burst ${size}`]);
  return { size, xsk: x, c, p50_xsk_over_c: x.p50_us / c.p50_us, p99_xsk_over_c: x.p99_us / c.p99_us };
});
for (const b of bursts) {
  console.log(`\nburst of ${b.size} frames after ${idleS} s idle (medians of ${runs} runs; generator ${fmt(b.xsk.gen_mpps, 2)}/${fmt(b.c.gen_mpps, 2)} Mpps):`);
  console.table(
    (['xsk', 'c'] as const).map((k) => ({
      receiver: k === 'xsk' ? 'xsk' : 'C xsk_ref',
      'received/sent': `${b[k].received}/${b[k].sent}`,
      share: fmt(b[k].received_share, 3),
      'rx_ring_full': b[k].rx_ring_full,
      'rx_dropped': b[k].rx_dropped,
      'p50 µs': fmt(b[k].p50_us, 1),
      'p99 µs': fmt(b[k].p99_us, 1),
      'max µs': fmt(b[k].max_us, 1),
      load: b[k].load1,
      'CPU wait ms': b[k].wait_ms,
    })),
  );
  console.log(`xsk/C: p50 ${fmt(b.p50_xsk_over_c, 1)}x, p99 ${fmt(b.p99_xsk_over_c, 1)}x`);
}
let sparseOut: Record<string, unknown> | undefined;
if (!values['no-sparse']) {
  const x = summarize(raw['xsk sparse']);
  const c = summarize(raw['C sparse']);
  sparseOut = { rate: sparseRate, seconds: sparseSeconds, xsk: x, c, p50_xsk_over_c: x.p50_us / c.p50_us, p99_xsk_over_c: x.p99_us / c.p99_us };
  console.log(`\nsparse: ${sparseRate} datagrams/s for ${sparseSeconds} s after ${idleS} s idle (medians of ${runs} runs):`);
  console.table(
    ([['xsk', x], ['C xsk_ref', c]] as const).map(([name, s]) => ({
      receiver: name,
      'received/sent': `${s.received}/${s.sent}`,
      'p50 µs': fmt(s.p50_us, 1),
      'p99 µs': fmt(s.p99_us, 1),
      'max µs': fmt(s.max_us, 1),
      load: s.load1,
      'CPU wait ms': s.wait_ms,
    })),
  );
  console.log(`xsk/C: p50 ${fmt(x.p50_us / c.p50_us, 1)}x, p99 ${fmt(x.p99_us / c.p99_us, 1)}x`);
}
mkdirSync(OUT, { recursive: true });
writeFileSync(
  `${OUT}burst.json`,
  JSON.stringify({ date: new Date().toISOString(), runs, idle_s: idleS, settle_ms: settleMs, busy_poll_us: busyPoll, bursts, sparse: sparseOut, raw }, null, 2) + '\n',
);
console.log(`wrote ${OUT}burst.json (${((Date.now() - started) / 1000).toFixed(0)} s)`);
