/**
 * Count UDP datagrams that reach the kernel's socket layer on a port, for a bounded time:
 *   node dist/sandbox/udp-sink.js --port P [--family 4|6] [--seconds S]
 * Prints "ready" on stderr once bound, and {"received": n, "bytes": b} on stdout at the end
 * (after --seconds, or at SIGTERM).
 */
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    family: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '10' },
  },
});
const sock = dgram.createSocket(values.family === '6' ? 'udp6' : 'udp4');
let received = 0;
let bytes = 0;
sock.on('message', (m) => {
  received++;
  bytes += m.length;
});
function finish(): void {
  process.stdout.write(JSON.stringify({ received, bytes }) + '\n');
  process.exit(0);
}
sock.bind(Number(values.port), () => process.stderr.write('ready\n'));
setTimeout(finish, Number(values.seconds) * 1000);
process.on('SIGTERM', finish);
