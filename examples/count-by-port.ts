/**
 * Count UDP datagrams by destination port, with the library on this thread.
 *
 *   sudo node count-by-port.js --iface eth0 --ports 9000,9001 [--mode auto] [--seconds 10]
 *
 * Prints "ready" on stderr once receiving; at the end (--seconds, SIGINT or SIGTERM) one JSON
 * line on stdout: {"mode", "byPort": {"9000": n, ...}, "invalid", "rx"}.
 */
import { parseArgs } from 'node:util';
import { open, Verdict, FrameParser, PARSE_OK, type OpenMode } from 'xsk';

const { values } = parseArgs({
  options: {
    iface: { type: 'string', default: 'eth0' },
    ports: { type: 'string', default: '9000' },
    mode: { type: 'string', default: 'auto' },
    seconds: { type: 'string', default: '10' },
  },
});
const ports = values.ports!.split(',').map(Number);

const port = await open({ iface: values.iface!, queue: 0, ports, mode: values.mode as OpenMode });
const parser = new FrameParser();
const byPort = new Float64Array(65536); // no allocation per frame
let invalid = 0;

const loop = port.run({
  frame(buf, off, len) {
    if (parser.parse(buf, off, len) === PARSE_OK) byPort[parser.dstPort]++;
    else invalid++;
    return Verdict.Drop;
  },
});
process.stderr.write(`ready: ${port.description}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearTimeout(timer);
  await loop.stop();
  const stats = port.stats();
  await port.close();
  const counts: Record<string, number> = {};
  byPort.forEach((n, p) => {
    if (n > 0) counts[p] = n;
  });
  process.stdout.write(JSON.stringify({ mode: port.mode, byPort: counts, invalid, rx: stats.rx }) + '\n');
}
const timer = setTimeout(stop, Number(values.seconds) * 1000);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
