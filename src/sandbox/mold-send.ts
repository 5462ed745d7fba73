/**
 * Send MoldUDP64 packets through the kernel (node:dgram), bounded in count and time:
 *   node dist/sandbox/mold-send.js --to ADDR --port P --count N [--messages M] [--size B]
 *        [--session NAME] [--first-seq S] [--rate PACKETS_PER_S] [--burst K] [--gap-ms MS]
 *        [--seconds S] [--drop I,J] [--dup I,J] [--swap I,J] [--end] [--stamp]
 * Packet i (from 0) carries messages first-seq + i*M ... + M-1, each mold-packet.ts's
 * testMessage (its sequence, a send time with --stamp, a pattern). --drop leaves packets out
 * (a gap), --dup sends them twice, --swap sends packet i after packet i+1 (a gap, then an
 * out-of-order fill), --end finishes with an end-of-session packet. With --rate, packets go
 * out on a fixed schedule; otherwise `burst` at a time every `gap-ms`.
 * Prints {"sent": packets, "messages": n, "seconds": s} on stdout.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { parseArgs } from 'node:util';
import { moldEndOfSession, moldTestPacket, sessionBytes } from '../feed/mold-packet.js';

const { values } = parseArgs({
  options: {
    to: { type: 'string' },
    port: { type: 'string' },
    count: { type: 'string', default: '100' },
    messages: { type: 'string', default: '10' },
    size: { type: 'string', default: '32' },
    session: { type: 'string', default: 'TEST' },
    'first-seq': { type: 'string', default: '1' },
    rate: { type: 'string', default: '0' },
    burst: { type: 'string', default: '16' },
    'gap-ms': { type: 'string', default: '1' },
    seconds: { type: 'string', default: '30' },
    drop: { type: 'string', default: '' },
    dup: { type: 'string', default: '' },
    swap: { type: 'string', default: '' },
    end: { type: 'boolean', default: false },
    stamp: { type: 'boolean', default: false },
  },
});
if (!values.to || !values.port) {
  process.stderr.write('mold-send: --to and --port are required\n');
  process.exit(2);
}
const to = values.to;
const port = Number(values.port);
const count = Number(values.count);
const perPacket = Number(values.messages);
const size = Number(values.size);
const firstSeq = Number(values['first-seq']);
const rate = Number(values.rate);
const burst = Math.max(1, Number(values.burst));
const gapMs = Number(values['gap-ms']);
const deadline = Date.now() + Number(values.seconds) * 1000;
const list = (v: string) => new Set(v ? v.split(',').map(Number) : []);
const drop = list(values.drop!);
const dup = list(values.dup!);
const swap = list(values.swap!);

// The order packets go out in: swaps exchange i and i+1; drops leave out; dups repeat.
const order: number[] = [];
for (let i = 0; i < count; i++) {
  if (swap.has(i) && i + 1 < count) {
    order.push(i + 1, i);
    i++;
    continue;
  }
  order.push(i);
}
const plan: number[] = [];
for (const i of order) {
  if (drop.has(i)) continue;
  plan.push(i);
  if (dup.has(i)) plan.push(i);
}

const sock = dgram.createSocket(isIPv6(to) ? 'udp6' : 'udp4');
const started = process.hrtime.bigint();
let next = 0;
let sent = 0;
let messages = 0;
let inflight = 0;

const session = sessionBytes(values.session!);
function packet(i: number): Buffer {
  const now = values.stamp ? process.hrtime.bigint() : 0n;
  return moldTestPacket(session, firstSeq + i * perPacket, perPacket, size, now);
}

// One callback for every send (no closure per packet). The socket is not connected: on a
// connected one an ICMP error from the host would fail the next send, and tests count exactly.
function onSent(err: Error | null): void {
  inflight--;
  if (err) {
    process.stderr.write(`mold-send: ${err.message}\n`);
    process.exitCode = 1;
  }
}

function sendOne(b: Buffer, msgs: number): void {
  inflight++;
  sock.send(b, port, to, onSent);
  sent++;
  messages += msgs;
}

function finish(): void {
  if (values.end) sendOne(moldEndOfSession(values.session!, firstSeq + count * perPacket), 0);
  const wait = () => (inflight > 0 ? setImmediate(wait) : done());
  wait();
}

function done(): void {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  sock.close();
  process.stdout.write(JSON.stringify({ sent, messages, seconds }) + '\n');
}

function step(): void {
  if (next >= plan.length || Date.now() > deadline) return finish();
  let due: number;
  if (rate > 0) due = Math.min(plan.length, Math.floor((Number(process.hrtime.bigint() - started) / 1e9) * rate));
  else due = Math.min(plan.length, next + burst);
  // Never more than a few thousand in flight at once (dgram queues them otherwise).
  due = Math.min(due, next + 4096);
  while (next < due) sendOne(packet(plan[next++]), perPacket);
  if (rate > 0) setTimeout(step, 1);
  else if (gapMs > 0) setTimeout(step, gapMs);
  else setImmediate(step);
}
step();
