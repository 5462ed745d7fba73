/**
 * Count UDP datagrams that reach the kernel's socket layer on a port, for a bounded time:
 *   node dist/sandbox/udp-sink.js --port P [--family 4|6] [--seconds S]
 * Prints "ready" on stderr once bound, and {"received", "bytes", "corrupt", "distinct"} on stdout at the end
 * (after --seconds, or at SIGTERM).
 */
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { patternByte } from './pattern.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    family: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '10' },
  },
});
// A deep receive buffer (up to net.core.rmem_max): a sink that is kept off its CPU for a few ms
// (a loaded 2-core machine) must not drop what it is there to count.
const sock = dgram.createSocket({ type: values.family === '6' ? 'udp6' : 'udp4', recvBufferSize: 4 << 20 });
let received = 0;
let bytes = 0;
/** Datagrams whose payload is not udp-send's (sequence number + pattern), byte for byte. */
let corrupt = 0;
const seqs = new Set<number>();
sock.on('message', (m) => {
  received++;
  bytes += m.length;
  if (m.length >= 4) seqs.add(m.readUInt32BE(0));
  for (let j = 4; j < m.length; j++) {
    if (m[j] !== patternByte(j)) {
      corrupt++;
      break;
    }
  }
});
function finish(): void {
  process.stdout.write(JSON.stringify({ received, bytes, corrupt, distinct: seqs.size }) + '\n');
  process.exit(0);
}
sock.bind(Number(values.port), () => process.stderr.write('ready\n'));
setTimeout(finish, Number(values.seconds) * 1000);
process.on('SIGTERM', finish);
