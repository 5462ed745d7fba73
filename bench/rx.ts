/**
 * Receive rate of xsk on the veth sandbox, native and generic XDP, alternating runs to even out
 * noise. The generator is dist/gen.js (BPF_PROG_TEST_RUN live frames, XDP_TX out of gen0),
 * pinned to CPU 0; xsk is pinned to CPU 1. For each run: frames sent, frames xsk parsed and
 * counted, the kernel's drops, and xsk's rate = frames received / generator time.
 *   sudo node --import tsx bench/rx.ts [--runs 3] [--count 10000000]
 * Bounded: each run stops at --count frames or 10 s.
 */
import { parseArgs } from 'node:util';
import { Sandbox } from '../src/sandbox/netns.js';
import { XskProcess } from '../src/sandbox/xsk-process.js';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, count: { type: 'string', default: '10000000' } } });
const runs = Number(values.runs);
const count = Number(values.count);
const GEN = fileURLToPath(new URL('../dist/gen.js', import.meta.url));

interface Run {
  mode: string;
  sent: number;
  genPps: number;
  received: number;
  drops: number;
  rxMpps: number;
}

async function once(sb: Sandbox, mode: 'native' | 'generic'): Promise<Run> {
  const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000', '--mode', mode, '--stats-interval', '0']);
  // taskset through the namespace: xsk on CPU 1, the generator (and its softirq) on CPU 0.
  await xsk.up();
  // `ip netns exec` execs node in place: the child's pid is xsk's.
  execFileSync('taskset', ['-a', '-p', '-c', '1', String(xsk.child.pid)], { stdio: 'ignore' });
  const gen = JSON.parse(
    sb.exec(sb.gen, 'taskset', ['-c', '0', process.execPath, GEN, '--iface', sb.genIf, '--dst-mac', sb.dutMac,
      '--src-mac', sb.genMac, '--src-ip', sb.genAddr, '--dst-ip', sb.dutAddr, '--dst-port', '9000',
      '--count', String(count), '--seconds', '10']),
  );
  await new Promise((r) => setTimeout(r, 300));
  xsk.signal('SIGTERM');
  await xsk.exit();
  const s = xsk.summary();
  const drops = (s.xdp_stats.rx_ring_full ?? 0) + (s.xdp_stats.rx_dropped ?? 0);
  return { mode, sent: gen.sent, genPps: gen.pps, received: s.rx_packets, drops, rxMpps: s.rx_packets / gen.seconds / 1e6 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const sb = new Sandbox({ name: 'xsk-bench' });
try {
  // veth's XDP transmit (the generator's XDP_TX) needs NAPI on the peer: an XDP program in native
  // mode gives it; in generic mode GRO does.
  sb.exec(sb.dut, 'ethtool', ['-K', sb.dutIf, 'gro', 'on']);
  const results: Run[] = [];
  for (let i = 0; i < runs; i++) {
    for (const mode of ['native', 'generic'] as const) {
      const r = await once(sb, mode);
      results.push(r);
      console.log(`${mode.padEnd(8)} sent ${r.sent} at ${(r.genPps / 1e6).toFixed(2)} Mpps | xsk received ${r.received} (${r.rxMpps.toFixed(2)} Mpps), kernel drops ${r.drops}`);
    }
  }
  const table = ['native', 'generic'].map((mode) => {
    const rs = results.filter((r) => r.mode === mode);
    return { mode, runs: rs.length, gen_mpps: median(rs.map((r) => r.genPps / 1e6)), xsk_rx_mpps: median(rs.map((r) => r.rxMpps)), received_ratio: median(rs.map((r) => r.received / r.sent)) };
  });
  console.table(table);
  console.log(JSON.stringify({ bench: 'rx', count, results: table }));
} finally {
  sb.destroy();
}
