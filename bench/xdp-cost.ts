/**
 * What each feature of the XDP program costs per frame, with BPF_PROG_TEST_RUN (`repeat`: the
 * kernel runs the program N times on one frame and reports ns per run), side by side, runs
 * alternating between the variants to even out a shared machine's noise:
 *
 *   minimal        bpf/xsk_minimal.c: Ethernet, IPv4, UDP, the ports array, redirect
 *   no stamp       bpf/xsk_redirect.c with --no-latency: + VLAN tags, IPv6, fragments (no counter: a redirect writes no map)
 *   stamp 1/N      the same, the receive stamp on 1 frame in N (xsk's default N, and others)
 *   stamp every    the same, a stamp on every frame (xsk before sampling)
 *   --obj extra.o  any other object with the same maps (e.g. an older build), stamping as built
 *
 * The frame is an IPv4 UDP datagram to a steered port, and bpf_redirect_map must find a socket
 * for the verdict to be XDP_REDIRECT (and the stamp to be written), so an AF_XDP socket is bound
 * to a veth of a throwaway namespace (copy mode, nothing attached) and put in each XSKMAP, as
 * test/netns/verdict.test.ts does. Also prints each variant's size after the verifier
 * (xlated instructions): --no-latency's has no stamping code left. Nothing is attached.
 *   sudo node --import tsx bench/xdp-cost.ts [--repeat 1000000] [--runs 9] [--sample 16,64,256] [--obj old.o]
 */
import { parseArgs } from 'node:util';
import { objectPath, programConfig, XdpProgram } from '../src/xdp/program.js';
import { BpfObject, testRun } from '../src/xdp/object.js';
import { buildUdpFrame } from '../src/frame/build.js';
import { Sandbox } from '../src/sandbox/netns.js';
import { XdpPort } from '../src/afxdp/xdp-port.js';
import { ifindexOf } from '../src/sys/interfaces.js';
import { DEFAULT_LATENCY_SAMPLE } from '../src/xdp/meta.js';
import { XDP_REDIRECT } from '../src/sys/libbpf.js';
import * as bpf from '../src/sys/libbpf.js';
import { enterNetns } from '../test/helpers/setns.js';

const { values } = parseArgs({
  options: {
    repeat: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '9' },
    sample: { type: 'string', default: `16,${DEFAULT_LATENCY_SAMPLE},256` },
    obj: { type: 'string' },
  },
});
const repeat = Number(values.repeat);
const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const PORT = 9000;
const frame = buildUdpFrame({ dstPort: PORT });

interface Variant {
  name: string;
  obj: BpfObject;
  prog: number;
  ns: number[];
}

const sb = new Sandbox({ name: 'xsk-xdpcost' });
const leave = enterNetns(sb.dut);
const variants: Variant[] = [];
let port: XdpPort | undefined;
try {
  port = new XdpPort({ ifindex: ifindexOf(sb.dutIf), ifname: sb.dutIf, queue: 0, mode: 'generic', bind: 'copy', frameSize: 4096, frameCount: 256, ringSize: 64 });
  const add = (name: string, path: string, rodata?: Buffer) => {
    const obj = BpfObject.load(path, rodata);
    variants.push({ name, obj, prog: obj.programFd('xsk_redirect'), ns: [] });
    const key = Buffer.alloc(4);
    key.writeUInt32LE(PORT);
    if (bpf.bpf_map_update_elem(obj.mapFd('ports'), key, Buffer.from([1]), 0) < 0) throw new Error(`${name}: ports`);
    key.writeUInt32LE(0);
    const fd = Buffer.alloc(4);
    fd.writeUInt32LE(port!.socket.fd);
    if (bpf.bpf_map_update_elem(obj.mapFd('xsks'), key, fd, 0) < 0) throw new Error(`${name}: xsks`);
  };
  add('minimal (xsk_minimal.c)', objectPath('xsk_minimal.o'));
  add('xsk, no stamp (--no-latency)', objectPath(), programConfig(0));
  // Where the verifier refuses bpf_xdp_adjust_meta, xsk stamps in the frame's head instead
  // (program.ts); BPF_PROG_TEST_RUN's repeats run on one buffer, so from the second repeat on the
  // program would parse its own stamp as Ethernet and pass the frame: not measurable this way.
  const probe = XdpProgram.load(objectPath(), { stampEvery: 1 });
  const metaRefused = probe.headStamps;
  probe.close();
  if (metaRefused) console.log('this kernel refuses bpf_xdp_adjust_meta to XDP programs: the stamping variants (head stamps here) are not measured');
  else {
    for (const n of values.sample!.split(',').map(Number)) add(`xsk, stamp 1/${n}${n === DEFAULT_LATENCY_SAMPLE ? ' (default)' : ''}`, objectPath(), programConfig(n));
    add('xsk, stamp every frame', objectPath(), programConfig(1));
  }
  for (const path of values.obj?.split(',') ?? []) add(path, path);

  for (const v of variants) {
    const r = testRun(v.prog, { data: frame });
    if (r.retval !== XDP_REDIRECT) throw new Error(`${v.name}: verdict ${r.retval}, not XDP_REDIRECT`);
  }
  for (let r = 0; r < runs; r++) for (const v of variants) v.ns.push(testRun(v.prog, { data: frame, repeat }).durationNs);

  const base = median(variants[0].ns);
  const rows = variants.map((v) => {
    const info = Buffer.alloc(24);
    bpf.bpf_obj_get_info_by_fd(v.prog, info, [info.length]);
    const ns = median(v.ns);
    return { variant: v.name, ns_per_frame: ns, over_minimal: ns - base, xlated_insns: info.readUInt32LE(20) / 8, spread: `${Math.min(...v.ns)}-${Math.max(...v.ns)}` };
  });
  console.table(rows);
  console.log(JSON.stringify({ repeat, runs, loadavg: (await import('node:os')).loadavg().map((x) => x.toFixed(2)), rows }));
} finally {
  for (const v of variants) v.obj.close();
  port?.close();
  leave();
  sb.destroy();
}
