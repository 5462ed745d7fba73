/**
 * The simplest Node UDP proxy, the yardstick for xsk's forwarder in latency runs: datagrams to
 * --port go to --to ADDR:PORT from one upstream socket; replies go back to the client the
 * request came from (one client at a time, as the latency run has).
 *   node dist/sandbox/udp-proxy.js --port P --to ADDR:PORT [--seconds S]
 */
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string' }, to: { type: 'string' }, seconds: { type: 'string', default: '60' } } });
const [host, port] = values.to!.split(':');
const front = dgram.createSocket('udp4');
const back = dgram.createSocket('udp4');
let client: { address: string; port: number } | undefined;
let relayed = 0;
front.on('message', (m, r) => {
  client = { address: r.address, port: r.port };
  back.send(m, Number(port), host);
});
back.on('message', (m) => {
  if (!client) return;
  relayed++;
  front.send(m, client.port, client.address);
});
function finish(): void {
  process.stdout.write(JSON.stringify({ relayed }) + '\n');
  process.exit(0);
}
front.bind(Number(values.port), () => process.stderr.write('ready\n'));
setTimeout(finish, Number(values.seconds) * 1000);
process.on('SIGTERM', finish);
