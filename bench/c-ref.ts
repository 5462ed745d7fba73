/**
 * xsk against the C reference (bench/c/xsk_ref.c on libxdp's rings), same kernel program, same
 * sandbox, runs alternating to spread noise: receive with full parsing in native and generic
 * mode, and forwarding in native mode. The generator (dist/gen.js, XDP live frames, 60-byte
 * frames) is pinned to CPU 0, the receiver to CPU 1 (bench/lib/measure.ts); the rate is frames
 * handled (received, or sent on for forwarding) per second of generator time, and the CPU time
 * per frame is the receiver's user + system time (/proc/PID/stat) over the generator's run.
 *
 * Forwarding goes to a backend (Sandbox backends: 1): dut0 → gen0 → br0 → bk1 → bk0, where
 * bpf/xsk_sink.c drops it at the driver so no receiving stack is charged to anyone; with
 * `--target gen` it goes straight back to gen0 and is dropped there (bench/run.ts's path, no
 * bridge). xsk is told the next hop's MAC with --neighbor, the C reference with --fwd-mac.
 *
 * Both receivers get the same --busy-poll: µs of polling an empty ring before sleeping in
 * poll(), default 200 (xsk's own default). On veth the generator, not the receiver, bounds the
 * rate (the kernel's copy into the UMEM runs on the generator's CPU), so a receiver that
 * busy-polls is never idle and its CPU per frame is just 1 / rate: the rates are the thing to
 * compare. With --busy-poll 0 CPU time goes only to frames and the wakeups that bring them,
 * which compares per-frame cost (in generic mode the kernel wakes a sleeping receiver for
 * every frame, so there it mostly measures wakeups).
 *
 *   sudo node --import tsx bench/c-ref.ts [--runs 3] [--count 3000000] [--target backend|gen] [--busy-poll 0]
 * Bounded: each run sends --count frames and stops within 10 s; writes bench/results/c-ref.json.
 */
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../src/sandbox/netns.js';
import type { CaseResult } from './lib/measure.js';
import { xsk as runXsk } from './lib/cases.js';
import { haveRef, measureRef, XSK_REF } from './c/ref.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    count: { type: 'string', default: '3000000' },
    target: { type: 'string', default: 'backend' },
    'busy-poll': { type: 'string', default: '200' },
  },
});
const runs = Number(values.runs);
const count = Number(values.count);
const target = values.target;
const busyPoll = Number(values['busy-poll']);
if (!(busyPoll >= 0 && busyPoll <= 10000) || !(runs >= 1 && runs <= 20) || !(count >= 1000 && count <= 50_000_000) || (target !== 'backend' && target !== 'gen')) {
  process.stderr.write('bench/c-ref: --runs 1..20, --count 1000..50000000, --target backend|gen, --busy-poll 0..10000\n');
  process.exit(2);
}
if (!haveRef()) {
  process.stderr.write(`bench/c-ref: ${XSK_REF} not built: npm run build\n`);
  process.exit(2);
}

const xsk = (sb: Sandbox, args: string[], pick: (s: Record<string, any>) => number) =>
  runXsk(sb, count, ['--busy-poll', String(busyPoll), ...args], pick);

type Pair = { name: string; xsk: (sb: Sandbox) => Promise<CaseResult>; c: (sb: Sandbox) => Promise<CaseResult> };

function pairs(sb: Sandbox, to: { addr: string; mac: string }): Pair[] {
  return [
    ...(['native', 'generic'] as const).map((mode) => ({
      name: `rx ${mode}`,
      xsk: () => xsk(sb, ['--port', '9000', '--mode', mode], (s) => s.rx_packets),
      c: () => measureRef(sb, count, { app: 'rxdrop', mode, busyPoll }),
    })),
    {
      name: 'forward native',
      xsk: () => xsk(sb, ['--forward', `9000=${to.addr}:9001`, '--neighbor', `${to.addr}=${to.mac}`, '--mode', 'native'], (s) => s.tx_packets),
      c: () => measureRef(sb, count, { app: 'l2fwd', mode: 'native', fwdDst: `${to.addr}:9001`, fwdMac: to.mac, busyPoll }),
    },
  ];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const OUT = fileURLToPath(new URL('./results/', import.meta.url));

const sb = new Sandbox({ name: 'xsk-cref', backends: 1 });
const results = new Map<string, CaseResult[]>();
let list: Pair[] = [];
try {
  // The generator's XDP_TX into veth needs NAPI on dut0: GRO gives it when no native program does.
  sb.exec(sb.dut, 'ethtool', ['-K', sb.dutIf, 'gro', 'on']);
  // Forwarded frames end at a driver (bpf/xsk_sink.c drops them), so no receiving stack is
  // charged to anyone: the backend's bk0, or with --target gen the generator's own gen0.
  const sink = fileURLToPath(new URL('../dist/bpf/xsk_sink.o', import.meta.url));
  const b = sb.backends[0];
  let to = { addr: sb.genAddr, mac: sb.genMac };
  if (target === 'backend') {
    const [link] = JSON.parse(sb.exec(b.ns, 'ip', ['-j', 'link', 'show', b.dev])) as { address: string }[];
    to = { addr: b.addr, mac: link.address };
    // One ping teaches the bridge which port bk0 is on, so forwarded frames are not flooded.
    sb.exec(b.ns, 'ping', ['-c', '1', '-W', '1', sb.genAddr]);
    sb.exec(b.ns, 'ip', ['link', 'set', 'dev', b.dev, 'xdpdrv', 'obj', sink, 'sec', 'xdp']);
  } else {
    sb.exec(sb.gen, 'ip', ['link', 'set', 'dev', sb.genIf, 'xdpdrv', 'obj', sink, 'sec', 'xdp']);
  }
  list = pairs(sb, to);
  for (let r = 1; r <= runs; r++) {
    for (const p of list) {
      for (const who of ['xsk', 'C'] as const) {
        const key = `${who} ${p.name}`;
        const res = await (who === 'xsk' ? p.xsk : p.c)(sb);
        if (!results.has(key)) results.set(key, []);
        results.get(key)!.push(res);
        console.log(`run ${r}/${runs} ${key.padEnd(20)} ${res.mpps.toFixed(2)} Mpps, ${res.cpuNsPerPacket.toFixed(0)} ns CPU/pkt ` +
          `(${res.handled}/${res.sent})${res.extra ? ` ${JSON.stringify(res.extra)}` : ''}`);
      }
    }
  }
} finally {
  sb.destroy();
}

const stat = (key: string) => {
  const rs = results.get(key)!;
  return { mpps: median(rs.map((r) => r.mpps)), cpu_ns_per_pkt: median(rs.map((r) => r.cpuNsPerPacket)), handled_share: median(rs.map((r) => r.handled / r.sent)) };
};
const table = list.map((p) => {
  const x = stat(`xsk ${p.name}`);
  const c = stat(`C ${p.name}`);
  return {
    case: p.name,
    xsk_mpps: x.mpps,
    c_mpps: c.mpps,
    mpps_xsk_over_c: x.mpps / c.mpps,
    xsk_cpu_ns_per_pkt: x.cpu_ns_per_pkt,
    c_cpu_ns_per_pkt: c.cpu_ns_per_pkt,
    cpu_xsk_over_c: x.cpu_ns_per_pkt / c.cpu_ns_per_pkt,
    xsk_handled_share: x.handled_share,
    c_handled_share: c.handled_share,
  };
});
console.table(
  table.map((t) => ({
    case: t.case,
    'xsk Mpps': t.xsk_mpps.toFixed(2),
    'C Mpps': t.c_mpps.toFixed(2),
    'xsk/C rate': t.mpps_xsk_over_c.toFixed(2),
    'xsk ns/pkt': t.xsk_cpu_ns_per_pkt.toFixed(0),
    'C ns/pkt': t.c_cpu_ns_per_pkt.toFixed(0),
    'xsk/C CPU': t.cpu_xsk_over_c.toFixed(2),
    'xsk share': t.xsk_handled_share.toFixed(3),
    'C share': t.c_handled_share.toFixed(3),
  })),
);
mkdirSync(OUT, { recursive: true });
writeFileSync(`${OUT}c-ref.json`, JSON.stringify({ date: new Date().toISOString(), count, runs, target, busy_poll_us: busyPoll, table, raw: Object.fromEntries(results) }, null, 2) + '\n');
console.log(`wrote ${OUT}c-ref.json`);
