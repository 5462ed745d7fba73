import { Sandbox } from '../src/sandbox/netns.js';
import { XskProcess } from '../src/sandbox/xsk-process.js';
import { generate, pin } from './lib/measure.js';
const which = process.argv[2] ?? '/work/main/dist/xsk.js';
const count = Number(process.argv[3] ?? 20000);
const extra = process.argv.slice(4);
const sb = new Sandbox({ name: 'tmpb' });
try {
  sb.exec(sb.dut, 'ethtool', ['-K', sb.dutIf, 'gro', 'on']);
  const child = sb.spawn(sb.dut, process.execPath, [which, '--iface', sb.dutIf, '--port', '9000', '--mode', 'native', '--stats-interval', '0', ...extra]);
  let out = '', err = '';
  child.stdout!.on('data', (d) => (out += d)); child.stderr!.on('data', (d) => (err += d));
  while (!err.includes('xsk up')) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 5000));
  const g = generate(sb, 9000, count);
  await new Promise((r) => setTimeout(r, 500));
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  const s = JSON.parse(out.trim().split('\n').pop()!);
  console.log(JSON.stringify({ which, sent: g.sent, pps: Math.round(g.pps), rx: s.rx_packets, ring_full: s.xdp_stats.rx_ring_full, p50: s.latency?.rx_to_user?.p50_us, p99: s.latency?.rx_to_user?.p99_us, warm: s.warm?.ms }));
} finally { sb.destroy(); }
