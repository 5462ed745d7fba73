/**
 * Send UDP datagrams through the kernel (node:dgram), bounded in count and time:
 *   node dist/sandbox/udp-send.js --to ADDR --port P --count N [--size B] [--burst K]
 *        [--gap-ms MS] [--seconds S] [--sockets K]
 * Every `burst` datagrams it waits `gap-ms` (0: only yields), so a receiver can keep up when the
 * exact count matters. Prints {"sent": n, "seconds": s} on stdout.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { parseArgs } from 'node:util';
import { patternByte } from './pattern.js';

const { values } = parseArgs({
  options: {
    to: { type: 'string' },
    port: { type: 'string' },
    count: { type: 'string', default: '1000' },
    size: { type: 'string', default: '64' },
    burst: { type: 'string', default: '32' },
    'gap-ms': { type: 'string', default: '1' },
    seconds: { type: 'string', default: '30' },
    sockets: { type: 'string', default: '1' },
  },
});
if (!values.to || !values.port) {
  process.stderr.write('udp-send: --to and --port are required\n');
  process.exit(2);
}
const to = values.to;
const port = Number(values.port);
const count = Number(values.count);
const burst = Math.max(1, Number(values.burst));
const gapMs = Number(values['gap-ms']);
const deadline = Date.now() + Number(values.seconds) * 1000;
const payload = Buffer.alloc(Number(values.size));
// After the 4-byte sequence number, a fixed pattern a receiver can check byte for byte.
for (let j = 4; j < payload.length; j++) payload[j] = patternByte(j);
// Several sockets: several source ports, so several flows (RSS spreads them over queues).
const socks = Array.from({ length: Math.max(1, Number(values.sockets)) }, () => dgram.createSocket(isIPv6(to) ? 'udp6' : 'udp4'));
const started = process.hrtime.bigint();
let sent = 0;
let inflight = 0;

function done(): void {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  for (const s of socks) s.close();
  process.stdout.write(JSON.stringify({ sent, seconds }) + '\n');
}

function onSent(err: Error | null): void {
  inflight--;
  if (err) {
    process.stderr.write(`udp-send: ${err.message}\n`);
    process.exitCode = 1;
  }
}

function step(): void {
  if (sent >= count || Date.now() > deadline) {
    const wait = () => (inflight > 0 ? setImmediate(wait) : done());
    wait();
    return;
  }
  for (let i = 0; i < burst && sent < count; i++) {
    // The first 4 bytes carry the datagram's number, so a receiver can check order and content.
    // dgram copies the data only when it really sends: each datagram needs its own buffer.
    const dgram = Buffer.from(payload);
    dgram.writeUInt32BE(sent >>> 0, 0);
    inflight++;
    socks[sent % socks.length].send(dgram, port, to, onSent);
    sent++;
  }
  if (gapMs > 0) setTimeout(step, gapMs);
  else setImmediate(step);
}
step();
