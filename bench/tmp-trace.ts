import { Sandbox } from '../src/sandbox/netns.js';
import { XSK_JS } from '../src/sandbox/xsk-process.js';
import { generate } from './lib/measure.js';
const sb = new Sandbox({ name: 'trc' });
try {
  sb.exec(sb.dut, 'ethtool', ['-K', sb.dutIf, 'gro', 'on']);
  const c = sb.spawn(sb.dut, process.execPath, ['--trace-deopt', XSK_JS, '--iface', sb.dutIf, '--port', '9000', '--mode', 'native', '--stats-interval', '0', '--cpus', '1'], { env: { ...process.env, XSK_DEBUG: '1' } });
  let out = '', err = '';
  c.stdout!.on('data', (d) => (out += d)); c.stderr!.on('data', (d) => (err += d));
  while (!err.includes('xsk up')) await new Promise((r) => setTimeout(r, 20));
  const x = { signal: (s: any) => c.kill(s), exit: () => new Promise((r) => c.on('exit', r)), get stdout() { return out; }, summary: () => JSON.parse(out.trim().split('\n').pop()!) };
  await new Promise((r) => setTimeout(r, 3000));
  const t = performance.now();
  out += 'GEN START\n';
  generate(sb, 9000, 4000);
  await new Promise((r) => setTimeout(r, 300));
  x.signal('SIGTERM'); await x.exit();
  console.log(x.stdout.split('\n').filter((l) => !l.startsWith('{')).slice(-60).join('\n'));
  const s = x.summary(); console.log(s.rx_packets, s.xdp_stats.rx_ring_full, JSON.stringify(s.latency.rx_to_user));
} finally { sb.destroy(); }
