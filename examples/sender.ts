/**
 * Send UDP datagrams built straight into free UMEM frames (port.transmit), paced, bounded in
 * count and time. Each carries its number in its first 4 payload bytes.
 *
 *   sudo node sender.js --iface eth0 --dst-mac 02:..:01 --src-ip 10.0.0.2 --dst-ip 10.0.0.1 \
 *        --port 9000 --count 10000 [--size 64] [--rate 50000] [--mode auto] [--seconds 10]
 *
 * Prints one JSON line: {"mode", "sent", "tx"}.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { open, buildUdpFrame, type OpenMode } from 'xsk';

const { values } = parseArgs({
  options: {
    iface: { type: 'string', default: 'eth0' },
    'dst-mac': { type: 'string' },
    'src-ip': { type: 'string' },
    'dst-ip': { type: 'string' },
    port: { type: 'string', default: '9000' },
    count: { type: 'string', default: '1000' },
    size: { type: 'string', default: '64' },
    rate: { type: 'string', default: '50000' },
    mode: { type: 'string', default: 'auto' },
    seconds: { type: 'string', default: '10' },
  },
});
const iface = values.iface!;
const count = Number(values.count);
const rate = Number(values.rate);
const deadline = Date.now() + Number(values.seconds) * 1000;

// One template frame, built once (IPv4, UDP checksum 0: "none", so the numbers need no new sum).
const template = buildUdpFrame({
  srcMac: readFileSync(`/sys/class/net/${iface}/address`, 'utf8').trim(),
  dstMac: values['dst-mac'],
  srcIp: values['src-ip'],
  dstIp: values['dst-ip'],
  srcPort: 40000,
  dstPort: Number(values.port),
  payload: Number(values.size),
  udpChecksum: 0,
});
const payloadAt = template.length - Number(values.size);

// ports: [] — a send-only port: nothing is steered to it.
const port = await open({ iface, ports: [], mode: values.mode as OpenMode });
const started = performance.now();
let sent = 0;
while (sent < count && Date.now() < deadline) {
  // What the rate allows by now, in batches of at most 64.
  const due = Math.min(count, Math.floor(((performance.now() - started) / 1000) * rate));
  const n = due > sent ? port.transmit(Math.min(64, due - sent), (buf, off, i) => {
    buf.set(template, off);
    const seq = sent + i;
    buf[off + payloadAt] = seq >>> 24;
    buf[off + payloadAt + 1] = (seq >>> 16) & 0xff;
    buf[off + payloadAt + 2] = (seq >>> 8) & 0xff;
    buf[off + payloadAt + 3] = seq & 0xff;
    return template.length;
  }) : 0;
  sent += n;
  // Give the event loop (and the kernel's completions) a turn.
  await new Promise((r) => setTimeout(r, n === 0 ? 1 : 0));
}
await port.close(); // waits until the kernel has sent everything
process.stdout.write(JSON.stringify({ mode: port.mode, sent, tx: port.stats().tx }) + '\n');
