/**
 * What a wake-up from idle costs a receiver after the kernel has done its part: the time from
 * poll()'s return in the kernel (ftrace's raw_syscalls:sys_exit, on CLOCK_MONOTONIC) to the
 * first clock reading in the receiver's code. A frame that arrived while the receiver was parked
 * waits that out on top of the kernel's wake-up. On this VM caches and TLBs go cold within ms of
 * idle, and a koffi call then walks a lot of cold memory (sys/park.ts): this is why the datapath
 * parks and reads its clock through the park addon.
 *
 * Readers, each a process of its own on CPU 1, sleep in poll() for --gap ms (it times out: the
 * code after poll() is the same whatever woke it) and read the clock at once, --wakes times:
 *   C          bench/c/wake_reader.c: poll(), clock_gettime()
 *   addon      xsk's PollSet and tick() (bench/lib/wake-reader.ts), with the park addon
 *   koffi      the same with XSK_PARK_ADDON=0: both through koffi
 * alternating, --rounds times. Prints median and p90 per reader (all its rounds) and each one's
 * median over C's; writes bench/results/wake-cost.json. (Measured end to end instead, from a
 * write on the other CPU, the ~160 µs of the whole wake-up varied by ±20 µs from round to round
 * and hid the difference.)
 *   sudo node --import tsx bench/wake-cost.ts [--rounds 3] [--wakes 40] [--gap 100]
 * Bounded: rounds x readers x wakes x gap (~40 s with the defaults); a reader that has not
 * finished 10 s after it should have is killed.
 */
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mountTracefs, TRACEFS as T, traceWrite as w } from './lib/tracefs.js';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, wakes: { type: 'string', default: '40' }, gap: { type: 'string', default: '100' } },
});
const rounds = Number(values.rounds);
const wakes = Number(values.wakes);
const gapMs = Number(values.gap);
if (!(rounds >= 1 && rounds <= 20) || !(Number.isInteger(wakes) && wakes >= 5 && wakes <= 1000) || !(Number.isInteger(gapMs) && gapMs >= 1 && gapMs <= 1000)) {
  process.stderr.write('bench/wake-cost: --rounds 1..20, --wakes 5..1000, --gap 1..1000 (ms)\n');
  process.exit(2);
}
const C_READER = fileURLToPath(new URL('../build/bench/wake_reader', import.meta.url));
const NODE_READER = fileURLToPath(new URL('./lib/wake-reader.ts', import.meta.url));
const OUT = fileURLToPath(new URL('./results/', import.meta.url));
if (!existsSync(C_READER)) {
  process.stderr.write(`bench/wake-cost: ${C_READER} not built: npm run build\n`);
  process.exit(2);
}

type Who = 'C' | 'addon' | 'koffi';
const READERS: Record<Who, { cmd: string[]; env?: Record<string, string> }> = {
  C: { cmd: [C_READER] },
  addon: { cmd: [process.execPath, '--import', 'tsx', NODE_READER] },
  koffi: { cmd: [process.execPath, '--import', 'tsx', NODE_READER], env: { XSK_PARK_ADDON: '0' } },
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const POLL = 7; // __NR_poll on x86-64

/** One reader's run: for each wake, µs from poll()'s sys_exit to its clock reading. */
async function measure(who: Who): Promise<number[]> {
  const r = READERS[who];
  // taskset execs the reader in place: the child's pid is the reader's (its main thread).
  const child = spawn('taskset', ['-c', '1', ...r.cmd, String(wakes), String(gapMs)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...r.env } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  try {
    for (const t0 = Date.now(); !out.includes('ready\n'); await sleep(10)) {
      if (child.exitCode !== null || Date.now() - t0 > 30_000) throw new Error(`${who} reader did not come up: ${err}`);
    }
    w('tracing_on', '0');
    w('trace', '');
    w('trace_clock', 'mono');
    w('events/raw_syscalls/sys_exit/filter', `common_pid == ${child.pid} && id == ${POLL}`);
    w('events/raw_syscalls/sys_exit/enable', '1');
    w('tracing_on', '1');
    const code = await Promise.race([exited, sleep(1000 + wakes * gapMs + 10_000).then(() => 'timeout' as const)]);
    if (code !== 0) throw new Error(`${who} reader: exit ${code}: ${err}`);
  } finally {
    w('tracing_on', '0');
    w('events/raw_syscalls/sys_exit/enable', '0');
    w('events/raw_syscalls/sys_exit/filter', '0');
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  const exits = readFileSync(`${T}/trace`, 'utf8')
    .split('\n')
    .map((l) => /\s(\d+)\.(\d+): sys_exit: NR 7 /.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]) * 1e9 + Number(m[2].padEnd(9, '0')));
  w('trace', '');
  const readings = JSON.parse(out.slice(out.indexOf('ready\n') + 6)) as number[];
  const us: number[] = [];
  let j = 0;
  for (const at of readings) {
    while (j + 1 < exits.length && exits[j + 1] <= at) j++;
    if (exits[j] !== undefined && exits[j] <= at && at - exits[j] < 1e6) us.push((at - exits[j]) / 1000);
  }
  if (us.length < wakes * 0.9) throw new Error(`${who}: only ${us.length} of ${wakes} wakes matched a poll() in the trace`);
  return us;
}

const pct = (xs: number[], q: number) => {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(q * v.length))];
};
const all: Record<Who, number[]> = { C: [], addon: [], koffi: [] };
const order: Who[] = ['C', 'addon', 'koffi'];
const started = Date.now();
const unmount = mountTracefs();
try {
  for (let r = 1; r <= rounds; r++) {
    for (const who of r % 2 ? order : [...order].reverse()) {
      const l = await measure(who);
      all[who].push(...l);
      console.log(`round ${r}/${rounds} ${who.padEnd(5)} median ${pct(l, 0.5).toFixed(1)} µs, p90 ${pct(l, 0.9).toFixed(1)} µs`);
    }
  }
} finally {
  unmount();
}
const cMedian = pct(all.C, 0.5);
const rows = order.map((who) => ({
  reader: who,
  wakes: all[who].length,
  median_us: Number(pct(all[who], 0.5).toFixed(1)),
  p90_us: Number(pct(all[who], 0.9).toFixed(1)),
  over_C_us: Number((pct(all[who], 0.5) - cMedian).toFixed(1)),
}));
console.log(`\npoll()'s return (kernel) -> first clock reading, after ${gapMs} ms asleep on CPU 1, ${rounds} rounds of ${wakes}:`);
console.table(rows);
console.log(`over C: addon +${rows[1].over_C_us} µs, koffi +${rows[2].over_C_us} µs; koffi / addon ${(rows[2].median_us / rows[1].median_us).toFixed(1)}x`);
mkdirSync(OUT, { recursive: true });
writeFileSync(`${OUT}wake-cost.json`, JSON.stringify({ gap_ms: gapMs, rounds, wakes, rows, seconds: Math.round((Date.now() - started) / 1000) }, null, 2) + '\n');
console.log(`wrote ${OUT}wake-cost.json`);
