/**
 * `npm run bench`: every receiver measured side by side in one run, on one veth sandbox.
 * Cases alternate (round r runs every case once) to spread noise evenly; each reports the
 * median of its runs. Prints a table and the ratios, writes bench/results/bench.json and a
 * chart (bench.svg / bench.png). Bounded: each run sends --count frames and stops within 10 s.
 * Then (unless --only or --skip-burst) bench/burst.ts with the same --runs: bursts after an idle
 * start and sparse traffic, xsk against the C reference (bench/results/burst.json).
 * On a shared machine, --idle-wait S waits up to S seconds before each run for a second in which
 * the CPUs were at least 90 % idle (others' work is what makes veth rates swing by 5x); each
 * run records the load average and that idle share either way.
 *   sudo npm run bench -- [--runs 3] [--count 5000000] [--only 'xsk rx native,node dgram rx'] [--skip-burst] [--idle-wait 0]
 */
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../src/sandbox/netns.js';
import { CASES } from './lib/cases.js';
import type { CaseResult } from './lib/measure.js';
import { barChart, writeChart } from './lib/chart.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    count: { type: 'string', default: '5000000' },
    only: { type: 'string' },
    'skip-burst': { type: 'boolean', default: false },
    'idle-wait': { type: 'string', default: '0' },
  },
});
const runs = Number(values.runs);
const count = Number(values.count);
const names = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(CASES);
for (const n of names) if (!CASES[n]) throw new Error(`no case "${n}"; cases: ${Object.keys(CASES).join(', ')}`);

const idleWait = Number(values['idle-wait']);

/** Share of CPU time idle over the next `ms` (all CPUs, /proc/stat). */
async function idleShare(ms = 1000): Promise<number> {
  const read = () => readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  const d = b.map((v, i) => v - a[i]);
  const total = d.reduce((x, y) => x + y, 0);
  return total > 0 ? (d[3] + d[4]) / total : 0;
}

/** Wait (at most `s` seconds) for a second with the CPUs ≥ 90 % idle; the last second's idle share. */
async function waitIdle(s: number): Promise<number> {
  const until = Date.now() + s * 1000;
  let idle = await idleShare();
  while (idle < 0.9 && Date.now() < until) idle = await idleShare();
  return idle;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const OUT = fileURLToPath(new URL('./results/', import.meta.url));

const sb = new Sandbox({ name: 'xsk-bench' });
const results = new Map<string, CaseResult[]>(names.map((n) => [n, []]));
try {
  // The generator's XDP_TX into veth needs NAPI on dut0: GRO gives it when no native program does.
  sb.exec(sb.dut, 'ethtool', ['-K', sb.dutIf, 'gro', 'on']);
  // Frames forwarded back to gen0 are dropped at its driver (not charged to anyone's stack).
  const sink = fileURLToPath(new URL('../dist/bpf/xsk_sink.o', import.meta.url));
  sb.exec(sb.gen, 'ip', ['link', 'set', 'dev', sb.genIf, 'xdpdrv', 'obj', sink, 'sec', 'xdp']);
  for (let r = 1; r <= runs; r++) {
    for (const name of names) {
      const idle = idleWait > 0 ? await waitIdle(idleWait) : undefined;
      const load = loadavg()[0];
      const res = await CASES[name](sb, count);
      res.extra = { ...res.extra, loadavg_1m: Number(load.toFixed(2)), ...(idle !== undefined ? { idle_before: Number(idle.toFixed(2)) } : {}) };
      results.get(name)!.push(res);
      console.log(
        `run ${r}/${runs} ${name.padEnd(20)} ${res.mpps.toFixed(2)} Mpps, ${res.cpuNsPerPacket.toFixed(0)} ns CPU/pkt (${res.handled}/${res.sent})` +
          ` load ${load.toFixed(2)}${idle !== undefined ? `, idle before ${(idle * 100).toFixed(0)} %` : ''}`,
      );
    }
  }
} finally {
  sb.destroy();
}

const table = names.map((name) => {
  const rs = results.get(name)!;
  return {
    case: name,
    mpps: median(rs.map((r) => r.mpps)),
    cpu_ns_per_pkt: median(rs.map((r) => r.cpuNsPerPacket)),
    handled_share: median(rs.map((r) => r.handled / r.sent)),
    runs: rs.length,
  };
});
console.table(table.map((t) => ({ ...t, mpps: t.mpps.toFixed(2), cpu_ns_per_pkt: t.cpu_ns_per_pkt.toFixed(0), handled_share: t.handled_share.toFixed(3) })));

const m = (n: string) => table.find((t) => t.case === n)?.mpps;
const ratio = (a: string, b: string) => (m(a) && m(b) ? m(a)! / m(b)! : undefined);
const ratios: Record<string, number | undefined> = {
  'xsk rx native / node dgram rx': ratio('xsk rx native', 'node dgram rx'),
  'xsk rx native / C rxdrop native': ratio('xsk rx native', 'C rxdrop native'),
  'xsk rx native / C minimal native': ratio('xsk rx native', 'C minimal native'),
  'xsk rx native no-latency / C minimal native': ratio('xsk rx native no-latency', 'C minimal native'),
  'xsk rx native cpus1 / C minimal native': ratio('xsk rx native cpus1', 'C minimal native'),
  'xsk rx native no-latency cpus1 / C minimal native': ratio('xsk rx native no-latency cpus1', 'C minimal native'),
  'xsk rx generic / C rxdrop generic': ratio('xsk rx generic', 'C rxdrop generic'),
  'xsk forward native / C l2fwd native': ratio('xsk forward native', 'C l2fwd native'),
  'xsk raw rx / node dgram rx': ratio('xsk raw rx', 'node dgram rx'),
};
for (const [k, v] of Object.entries(ratios)) if (v !== undefined) console.log(`${k}: ${v.toFixed(2)}x`);

mkdirSync(OUT, { recursive: true });
const result = { date: new Date().toISOString(), count, runs, cases: table, ratios, raw: Object.fromEntries(results) };
writeFileSync(`${OUT}bench.json`, JSON.stringify(result, null, 2) + '\n');
const png = writeChart(`${OUT}bench.svg`, barChart(`xsk on a veth sandbox, ${count} frames x ${runs} runs (median)`, table.map((t) => ({ label: t.case, value: t.mpps })), 'Mpps'));
console.log(`wrote ${OUT}bench.json${png ? ` and ${png}` : ''}`);

if (!values.only && !values['skip-burst']) {
  console.log('\nbursts after an idle start (bench/burst.ts):');
  const burst = fileURLToPath(new URL('./burst.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', burst, '--runs', String(runs)], { stdio: 'inherit', timeout: 15 * 60_000 });
  if (r.status !== 0) {
    process.stderr.write(`bench/burst.ts failed (${r.status ?? r.signal})\n`);
    process.exitCode = 1;
  }
}
