/**
 * Round-trip latency at a fixed rate: send --rate datagrams a second for --seconds to
 * ADDR:PORT, each carrying its send time, and put the time until its echo comes back into an
 * HDR histogram. Prints {"sent","received","p50_us","p90_us","p99_us","p99.9_us","max_us"}.
 *   node dist/sandbox/udp-rtt.js --to ADDR --port P [--rate 10000] [--seconds 5] [--size 64]
 */
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';

const { values } = parseArgs({
  options: {
    to: { type: 'string' },
    port: { type: 'string' },
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '5' },
    size: { type: 'string', default: '64' },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const size = Math.max(16, Number(values.size));
const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: 3 });
const sock = dgram.createSocket('udp4');
let sent = 0;
let received = 0;
sock.on('message', (m) => {
  if (m.length < 8) return;
  received++;
  h.recordValue(Math.max(0, Number(process.hrtime.bigint() - m.readBigUInt64BE(0))));
});
sock.bind(0, () => {
  const started = process.hrtime.bigint();
  const total = Math.round(rate * seconds);
  // Every millisecond, send what the schedule says is due: a fixed rate, whatever the timer jitter.
  const timer = setInterval(() => {
    const due = Math.min(total, Math.floor((Number(process.hrtime.bigint() - started) / 1e9) * rate));
    while (sent < due) {
      const b = Buffer.alloc(size);
      b.writeBigUInt64BE(process.hrtime.bigint(), 0);
      sock.send(b, Number(values.port), values.to);
      sent++;
    }
    if (sent >= total) {
      clearInterval(timer);
      setTimeout(() => {
        const us = (v: number) => Math.round(v / 10) / 100;
        process.stdout.write(
          JSON.stringify({
            sent,
            received,
            p50_us: us(h.getValueAtPercentile(50)),
            p90_us: us(h.getValueAtPercentile(90)),
            p99_us: us(h.getValueAtPercentile(99)),
            'p99.9_us': us(h.getValueAtPercentile(99.9)),
            max_us: us(h.maxValue),
          }) + '\n',
        );
        sock.close();
      }, 500);
    }
  }, 1);
});
