#!/usr/bin/env node
/**
 * xsk-gen: send UDP frames out of an interface at driver speed: XDP live frames
 * (gen/live-frames.ts), or where the kernel refuses those, an AF_XDP socket's TX ring (gen/xsk-tx.ts).
 *   sudo node dist/gen.js --iface IF --dst-mac MAC --src-ip A --dst-ip B --dst-port P
 *        [--src-mac MAC] [--src-port P] [--size BYTES] [--count N] [--seconds S] [--method auto|live|afxdp]
 * Bounded by --count and --seconds; prints {"sent","seconds","pps"} as one JSON line.
 * Frames actually leave the interface: only aim it at hosts you own (a namespace of yours).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { isIP } from 'node:net';
import { buildUdpFrame } from './frame/build.js';
import { generate } from './gen/live-frames.js';
import { generateXskTx } from './gen/xsk-tx.js';
import { SysError } from './sys/errors.js';
import { ifindexOf } from './sys/interfaces.js';

const int = (min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
  return n;
};
const ipArg = (v: string) => {
  if (!isIP(v)) throw new InvalidArgumentError('expected an IPv4 or IPv6 address');
  return v;
};
const macArg = (v: string) => {
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(v)) throw new InvalidArgumentError('expected a MAC address aa:bb:cc:dd:ee:ff');
  return v;
};

const o = new Command('xsk-gen')
  .requiredOption('-i, --iface <name>', 'interface to send out of')
  .requiredOption('--dst-mac <mac>', 'destination MAC', macArg)
  .option('--src-mac <mac>', 'source MAC', macArg, '02:00:00:00:00:01')
  .requiredOption('--src-ip <addr>', 'source address', ipArg)
  .requiredOption('--dst-ip <addr>', 'destination address (same family as --src-ip)', ipArg)
  .addOption(new Option('--src-port <n>').default(40000).argParser(int(1, 65535)))
  .requiredOption('--dst-port <n>', 'destination UDP port', int(1, 65535))
  .addOption(new Option('--size <bytes>', 'UDP payload bytes').default(18).argParser(int(0, 1400)))
  .addOption(new Option('--count <n>', 'frames to send').default(1_000_000).argParser(int(1, 1e10)))
  .addOption(new Option('--seconds <s>', 'stop after this long').default(10).argParser(int(1, 600)))
  .addOption(
    new Option('--method <how>', 'live: XDP live frames; afxdp: an AF_XDP socket\'s TX ring (copy mode); auto: live, else afxdp')
      .choices(['auto', 'live', 'afxdp'])
      .default('auto'),
  )
  .showHelpAfterError(false)
  .parse(process.argv)
  .opts();

if (isIP(o.srcIp) !== isIP(o.dstIp)) {
  process.stderr.write('xsk-gen: --src-ip and --dst-ip must be the same family\n');
  process.exit(1);
}
const ifindex = ifindexOf(o.iface);
if (!ifindex) {
  process.stderr.write(`xsk-gen: --iface: no interface named "${o.iface}"\n`);
  process.exit(1);
}
const frame = buildUdpFrame({
  srcMac: o.srcMac,
  dstMac: o.dstMac,
  srcIp: o.srcIp,
  dstIp: o.dstIp,
  srcPort: o.srcPort,
  dstPort: o.dstPort,
  payload: o.size,
});
/** Errors with which a kernel refuses XDP live frames: EPERM (seen on a 6.18 build), EINVAL, EOPNOTSUPP. */
const REFUSED = new Set([1, 22, 95]);

try {
  let method: 'live' | 'afxdp' = o.method === 'afxdp' ? 'afxdp' : 'live';
  let r;
  if (method === 'live') {
    try {
      r = generate({ ifindex, frame, count: o.count, seconds: o.seconds });
    } catch (e) {
      if (o.method !== 'auto' || !(e instanceof SysError && e.call === 'bpf_prog_test_run_opts' && REFUSED.has(e.errno))) throw e;
      process.stderr.write(`xsk-gen: this kernel refuses XDP live frames (${e.message}); sending through an AF_XDP socket's TX ring instead\n`);
      method = 'afxdp';
    }
  }
  r ??= generateXskTx({ ifindex, ifname: o.iface, frame, count: o.count, seconds: o.seconds });
  process.stdout.write(JSON.stringify({ ...r, frame_bytes: frame.length, method }) + '\n');
} catch (e) {
  process.stderr.write(`xsk-gen: ${(e as Error).message}\n`);
  process.exit(1);
}
