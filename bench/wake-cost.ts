/**
 * What a wake-up from idle costs a receiver after the kernel has woken it: the time from poll()'s
 * return to the first clock reading, which a frame that arrived while the receiver was parked
 * waits out. On this VM, caches and TLBs go cold within ms of idle, and a koffi call then walks
 * a lot of cold memory (sys/park.ts): this is why the datapath parks and reads its clock through
 * the park addon.
 *
 * Readers, each a process of its own on CPU 1, block in poll() on a socket; this process (on
 * CPU 0) writes its CLOCK_MONOTONIC time into that socket every --gap ms; the reader reads the
 * clock as soon as poll() returns, then the message: latency = reader's clock - writer's time.
 * That includes the kernel's cross-CPU wake-up, the same for every reader (most of the total
 * here: waking an idle vCPU takes ~50-80 µs); the difference between readers is what each pays
 * from poll()'s return on. Readers, alternating, --rounds times, --wakes messages each:
 *   C          bench/c/wake_reader.c: poll(), clock_gettime()
 *   addon      xsk's PollSet and tick() (bench/lib/wake-reader.ts), with the park addon
 *   koffi      the same with XSK_PARK_ADDON=0: both through koffi
 * Prints median and p90 per reader (over all its rounds) and each one's median minus C's; writes
 * bench/results/wake-cost.json.
 *   sudo node --import tsx bench/wake-cost.ts [--rounds 3] [--wakes 40] [--gap 100]
 * Bounded: rounds x readers x wakes x gap (~40 s with the defaults), and each reader times out
 * after 10 s without a message.
 */
import { parseArgs } from 'node:util';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, wakes: { type: 'string', default: '40' }, gap: { type: 'string', default: '100' } },
});
const rounds = Number(values.rounds);
const wakes = Number(values.wakes);
const gapMs = Number(values.gap);
if (!(rounds >= 1 && rounds <= 20) || !(Number.isInteger(wakes) && wakes >= 5 && wakes <= 1000) || !(gapMs >= 1 && gapMs <= 1000)) {
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

// The writer: this process's main thread, on CPU 0.
execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });

async function measure(who: Who): Promise<number[]> {
  const r = READERS[who];
  const child: ChildProcess = spawn('taskset', ['-c', '1', ...r.cmd, String(wakes)], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...r.env },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  try {
    for (const t0 = Date.now(); !out.includes('ready\n'); await sleep(20)) {
      if (child.exitCode !== null || Date.now() - t0 > 30_000) throw new Error(`${who} reader did not come up: ${err}`);
    }
    await sleep(500);
    const sock = child.stdio[3] as Writable;
    const msg = Buffer.alloc(8);
    for (let i = 0; i < wakes; i++) {
      await sleep(gapMs);
      msg.writeBigInt64LE(process.hrtime.bigint()); // CLOCK_MONOTONIC, as the readers' clocks
      sock.write(msg);
    }
    const code = await Promise.race([exited, sleep(15_000).then(() => 'timeout' as const)]);
    if (code !== 0) throw new Error(`${who} reader: exit ${code}: ${err}`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  return (JSON.parse(out.slice(out.indexOf('ready\n') + 6)) as number[]).map((ns) => ns / 1000);
}

const pct = (xs: number[], q: number) => {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(q * v.length))];
};
const all: Record<Who, number[]> = { C: [], addon: [], koffi: [] };
const order: Who[] = ['C', 'addon', 'koffi'];
const started = Date.now();
for (let r = 1; r <= rounds; r++) {
  for (const who of r % 2 ? order : [...order].reverse()) {
    const l = await measure(who);
    all[who].push(...l);
    console.log(`round ${r}/${rounds} ${who.padEnd(5)} median ${pct(l, 0.5).toFixed(1)} µs, p90 ${pct(l, 0.9).toFixed(1)} µs`);
  }
}
const cMedian = pct(all.C, 0.5);
const rows = order.map((who) => ({
  reader: who,
  wakes: all[who].length,
  median_us: Number(pct(all[who], 0.5).toFixed(1)),
  p90_us: Number(pct(all[who], 0.9).toFixed(1)),
  over_C_us: Number((pct(all[who], 0.5) - cMedian).toFixed(1)),
}));
console.log(`\nwake-up from ${gapMs} ms idle to the first clock reading (write on CPU 0 -> reader on CPU 1), ${rounds} rounds of ${wakes}:`);
console.table(rows);
const koffiOver = rows[2].over_C_us;
const addonOver = rows[1].over_C_us;
console.log(`after the kernel's wake-up, over C: addon +${addonOver} µs, koffi +${koffiOver} µs`);
mkdirSync(OUT, { recursive: true });
writeFileSync(`${OUT}wake-cost.json`, JSON.stringify({ gap_ms: gapMs, rounds, wakes, rows, seconds: Math.round((Date.now() - started) / 1000) }, null, 2) + '\n');
console.log(`wrote ${OUT}wake-cost.json`);
