/**
 * Latency through a forwarder at a fixed rate, xsk next to the simplest Node dgram proxy.
 *
 *   client (gen ns) ──► 10.199.0.2:9000 (dut ns) ──► backend 10.199.0.11:9001 (echo)
 *
 * With xsk the backend's echo goes straight back to the client (xsk rewrites only the
 * destination, so the source is still the client); through the Node proxy it goes back via the
 * proxy. The client (src/sandbox/udp-rtt.ts) sends --rate datagrams a second and records every
 * round trip in an HDR histogram.
 *   sudo node --import tsx bench/latency.ts [--rate 10000] [--seconds 5] [--runs 2]
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Sandbox } from '../src/sandbox/netns.js';
import { XskProcess, runTool } from '../src/sandbox/xsk-process.js';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '5' }, runs: { type: 'string', default: '2' } } });
const DIST = fileURLToPath(new URL('../dist/sandbox/', import.meta.url));
const OUT = fileURLToPath(new URL('./results/', import.meta.url));

const sb = new Sandbox({ name: 'xsk-lat', backends: 1 });
const rows: Record<string, unknown>[] = [];
try {
  const b = sb.backends[0];
  const echo = sb.spawn(b.ns, process.execPath, [`${DIST}udp-echo.js`, '--port', '9001', '--seconds', '600']);
  await new Promise((r) => echo.stderr!.once('data', r));
  const rtt = () => runTool(sb, sb.gen, 'udp-rtt', ['--to', sb.dutAddr, '--port', '9000', '--rate', values.rate!, '--seconds', values.seconds!]);
  for (let run = 1; run <= Number(values.runs); run++) {
    const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--forward', `9000=${b.addr}:9001`, '--stats-interval', '0']);
    await xsk.up();
    const viaXsk = await rtt();
    xsk.signal('SIGTERM');
    await xsk.exit();
    const s = xsk.summary();
    rows.push({ run, path: 'xsk forwarder', ...viaXsk, xsk_rx_to_tx_p99_us: s.latency?.rx_to_tx?.p99_us });

    const proxy = sb.spawn(sb.dut, process.execPath, [`${DIST}udp-proxy.js`, '--port', '9000', '--to', `${b.addr}:9001`, '--seconds', '600']);
    await new Promise((r) => proxy.stderr!.once('data', r));
    const viaProxy = await rtt();
    proxy.kill('SIGTERM');
    await new Promise((r) => proxy.on('exit', r));
    rows.push({ run, path: 'node dgram proxy', ...viaProxy });
  }
  echo.kill('SIGTERM');
} finally {
  sb.destroy();
}
console.table(rows);
mkdirSync(OUT, { recursive: true });
writeFileSync(`${OUT}latency.json`, JSON.stringify({ date: new Date().toISOString(), rate: Number(values.rate), seconds: Number(values.seconds), rows }, null, 2) + '\n');
console.log(`wrote ${OUT}latency.json`);
