/**
 * Send Ethernet frames as they are, through an AF_PACKET socket, bounded by the file:
 *   node dist/sandbox/raw-send.js --iface gen0 --frames FILE [--gap-every 32] [--gap-ms 1]
 * FILE holds one frame a line, in hex. Malformed frames go out untouched (no checksum or length
 * fixed up), which is the point: tests send a corpus of them. Every `gap-every` frames it waits
 * `gap-ms`, so a receiver keeps up when exact counts matter. Prints {"sent": n} on stdout.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import koffi from 'koffi';
import * as libc from '../sys/libc.js';
import * as p from '../sys/if-packet.js';

const { values } = parseArgs({
  options: {
    iface: { type: 'string' },
    frames: { type: 'string' },
    'gap-every': { type: 'string', default: '32' },
    'gap-ms': { type: 'string', default: '1' },
  },
});
if (!values.iface || !values.frames) {
  process.stderr.write('raw-send: --iface and --frames are required\n');
  process.exit(2);
}
const frames = readFileSync(values.frames, 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => Buffer.from(l.trim(), 'hex'));
const ifindex = libc.if_nametoindex(values.iface);
if (!ifindex) throw new Error(`no interface ${values.iface}`);
const fd = libc.socket(libc.AF_PACKET, libc.SOCK_RAW | libc.SOCK_CLOEXEC, 0);
if (fd < 0) throw new Error(`socket(AF_PACKET): errno ${koffi.errno()}`);
const sa = Buffer.alloc(koffi.sizeof(p.sockaddr_ll));
sa.writeUInt16LE(libc.AF_PACKET, koffi.offsetof(p.sockaddr_ll, 'sll_family'));
sa.writeUInt16BE(0, koffi.offsetof(p.sockaddr_ll, 'sll_protocol')); // send only, receive nothing
sa.writeInt32LE(ifindex, koffi.offsetof(p.sockaddr_ll, 'sll_ifindex'));
if (libc.bind(fd, sa, sa.length) < 0) throw new Error(`bind(AF_PACKET): errno ${koffi.errno()}`);
const every = Math.max(1, Number(values['gap-every']));
const gapMs = Number(values['gap-ms']);
let sent = 0;
for (const f of frames) {
  const r = libc.write(fd, f, f.length);
  if (r !== f.length) throw new Error(`write: ${r}, errno ${koffi.errno()} (frame ${sent}, ${f.length} bytes)`);
  sent++;
  if (sent % every === 0 && gapMs > 0) await new Promise((res) => setTimeout(res, gapMs));
}
libc.close(fd);
process.stdout.write(JSON.stringify({ sent }) + '\n');
