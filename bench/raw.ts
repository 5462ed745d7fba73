/**
 * Raw mode (AF_PACKET, TPACKET_V3) receive rate against Node's dgram on the same sandbox, runs
 * alternating to even out noise. The generator is dist/gen.js (XDP live frames out of gen0),
 * pinned to CPU 0; the receiver is pinned to CPU 1 (bench/lib/measure.ts). No XDP program is on
 * dut0 in either case, so GRO is turned on there for the generator's XDP_TX to be accepted.
 *
 *   raw:   xsk --mode raw --port 9000, full parsing; counts rx_packets (and the ring's drops).
 *   dgram: the smallest Node receiver there is (a udp4 socket whose 'message' handler adds 1),
 *          so the baseline is as fast as dgram gets.
 *
 * In both cases the kernel's UDP stack sees every frame (in raw mode nothing listens on 9000,
 * so the host also tries ICMP port unreachable, rate-limited); the generator's rate bounds both,
 * and here the kernel's own work on every frame (on the generator's CPU) is what bounds the
 * generator. When `nft` is installed a third case, raw+nft, runs raw mode with the README's
 * nftables rule (drop UDP to the port at prerouting; AF_PACKET has seen the frame before): the
 * stack's work is gone, the generator goes faster, and raw mode shows more of its ceiling.
 * Rate = frames the receiver handled / generator seconds.
 *   sudo node --import tsx bench/raw.ts [--runs 3] [--count 3000000]
 * Bounded: each run stops at --count frames or 10 s of generator time.
 */
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { Sandbox } from '../src/sandbox/netns.js';
import { XskProcess } from '../src/sandbox/xsk-process.js';
import { measure, type CaseResult } from './lib/measure.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, count: { type: 'string', default: '3000000' } } });
const runs = Number(values.runs);
const count = Number(values.count);
if (!(runs >= 1 && runs <= 20) || !(count >= 1000 && count <= 50_000_000)) {
  process.stderr.write('bench/raw: --runs 1..20, --count 1000..50000000\n');
  process.exit(2);
}

const DGRAM_RX = `
const s = require('node:dgram').createSocket('udp4');
let n = 0;
s.on('message', () => { n++; });
s.bind(9000, () => process.stderr.write('ready\\n'));
process.on('SIGTERM', () => { process.stdout.write(JSON.stringify({ received: n }) + '\\n'); process.exit(0); });
setTimeout(() => process.exit(3), 60000);
`;

async function raw(sb: Sandbox): Promise<CaseResult> {
  const x = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000', '--mode', 'raw', '--stats-interval', '0']);
  await x.up();
  const r = await measure(sb, x.child.pid!, 9000, count, async () => {
    x.signal('SIGTERM');
    await x.exit();
    return x.summary().rx_packets;
  });
  r.extra = { ring_drops: x.summary().raw_stats.rx_dropped };
  return r;
}

const NFT_ADD = 'add table inet xskbench; add chain inet xskbench pre { type filter hook prerouting priority raw; }; add rule inet xskbench pre udp dport 9000 drop';

async function rawNft(sb: Sandbox): Promise<CaseResult> {
  sb.exec(sb.dut, 'nft', [NFT_ADD]);
  try {
    return await raw(sb);
  } finally {
    sb.exec(sb.dut, 'nft', ['delete table inet xskbench']);
  }
}

async function dgram(sb: Sandbox): Promise<CaseResult> {
  const child = sb.spawn(sb.dut, process.execPath, ['-e', DGRAM_RX]);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  await new Promise<void>((resolve, reject) => {
    child.stderr!.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`dgram receiver exited ${c}`)));
  });
  const exited = new Promise((r) => child.on('exit', r));
  return measure(sb, child.pid!, 9000, count, async () => {
    child.kill('SIGTERM');
    await exited;
    return JSON.parse(out.trim()).received as number;
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const hasNft = (() => {
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const sb = new Sandbox({ name: 'xsk-rawb' });
try {
  sb.exec(sb.dut, 'ethtool', ['-K', sb.dutIf, 'gro', 'on']);
  type Name = 'raw' | 'dgram' | 'raw+nft';
  const cases: [Name, (sb: Sandbox) => Promise<CaseResult>][] = [['raw', raw], ['dgram', dgram]];
  if (hasNft) cases.push(['raw+nft', rawNft]);
  else console.log('(no nft: the raw+nft case is skipped)');
  const results = new Map<Name, CaseResult[]>(cases.map(([n]) => [n, []]));
  for (let i = 0; i < runs; i++) {
    for (const [name, fn] of cases) {
      const r = await fn(sb);
      results.get(name)!.push(r);
      console.log(
        `${name.padEnd(7)} sent ${r.sent} | handled ${r.handled} (${(r.handled / r.sent * 100).toFixed(1)} %) at ${r.mpps.toFixed(3)} Mpps, ` +
          `${r.cpuNsPerPacket.toFixed(0)} ns CPU/frame${r.extra ? ` | ${JSON.stringify(r.extra)}` : ''}`,
      );
    }
  }
  const table = [...results].map(([name, rs]) => ({
    receiver: name,
    runs: rs.length,
    mpps: median(rs.map((r) => r.mpps)),
    handled_share: median(rs.map((r) => r.handled / r.sent)),
    cpu_ns_per_frame: median(rs.map((r) => r.cpuNsPerPacket)),
  }));
  console.table(table);
  const ratio = table[0].mpps / table[1].mpps;
  console.log(`raw / dgram: ${ratio.toFixed(2)}× the rate, ${(table[1].cpu_ns_per_frame / table[0].cpu_ns_per_frame).toFixed(2)}× less CPU per frame`);
  if (table[2]) console.log(`raw+nft / dgram: ${(table[2].mpps / table[1].mpps).toFixed(2)}× the rate`);
  console.log(JSON.stringify({ bench: 'raw', count, results: table, ratio }));
} finally {
  sb.destroy();
}
