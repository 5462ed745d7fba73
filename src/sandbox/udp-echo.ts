/**
 * A UDP echo server for latency runs: every datagram goes back, unchanged, to its sender.
 *   node dist/sandbox/udp-echo.js --port P [--family 4|6] [--seconds S]
 * Prints "ready" on stderr once bound; {"echoed": n} on stdout at the end (or at SIGTERM).
 */
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { port: { type: 'string' }, family: { type: 'string', default: '4' }, seconds: { type: 'string', default: '60' } },
});
const sock = dgram.createSocket(values.family === '6' ? 'udp6' : 'udp4');
let echoed = 0;
sock.on('message', (m, r) => {
  echoed++;
  sock.send(m, r.port, r.address);
});
function finish(): void {
  process.stdout.write(JSON.stringify({ echoed }) + '\n');
  process.exit(0);
}
sock.bind(Number(values.port), () => process.stderr.write('ready\n'));
setTimeout(finish, Number(values.seconds) * 1000);
process.on('SIGTERM', finish);
