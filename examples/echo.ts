/**
 * A UDP echo server on the datapath: every datagram to the ports goes back to its sender from
 * the very frame it arrived in (addresses and ports swapped, Verdict.Transmit). No socket, no
 * copy.
 *
 *   sudo node echo.js --iface eth0 --ports 7 [--mode auto] [--seconds 10]
 *
 * Prints "ready" on stderr once receiving; at the end one JSON line: {"mode", "echoed", "tx"}.
 */
import { parseArgs } from 'node:util';
import { open, Verdict, FrameParser, PARSE_OK, turnAround, completePartialUdpChecksum, type OpenMode } from 'xsk';

const { values } = parseArgs({
  options: {
    iface: { type: 'string', default: 'eth0' },
    ports: { type: 'string', default: '7' },
    mode: { type: 'string', default: 'auto' },
    seconds: { type: 'string', default: '10' },
  },
});

const port = await open({ iface: values.iface!, ports: values.ports!.split(',').map(Number), mode: values.mode as OpenMode });
const p = new FrameParser();
let echoed = 0;
const loop = port.run({
  frame(buf, off, len) {
    if (p.parse(buf, off, len) !== PARSE_OK) return Verdict.Drop;
    // A sender on this host or over a veth leaves its UDP checksum for the device to finish:
    // finish it, or the sender's kernel would drop the echo.
    completePartialUdpChecksum(buf, p);
    turnAround(buf, off, p);
    echoed++;
    return Verdict.Transmit;
  },
});
process.stderr.write(`ready: ${port.description}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearTimeout(timer);
  await loop.stop();
  await port.close(); // sends what is still on TX first
  process.stdout.write(JSON.stringify({ mode: port.mode, echoed, tx: port.stats().tx }) + '\n');
}
const timer = setTimeout(stop, Number(values.seconds) * 1000);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
