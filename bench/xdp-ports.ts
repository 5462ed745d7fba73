/**
 * The XDP program's cost per frame with BPF_PROG_TEST_RUN (`repeat`: the kernel runs it N times
 * and reports ns per run), for port sets of several sizes, with one or more compiled objects
 * side by side (runs alternate between them, to even out the noise of a shared machine):
 *   - a UDP frame to a port in the set (looked up; bpf_redirect_map finds no socket: XDP_PASS),
 *   - a UDP frame to a port not in the set,
 *   - a TCP frame (no lookup).
 * The ports map may be the old hash (u16 keys) or the array (u32 keys): its key size says which.
 * Medians of --runs runs. Nothing is attached.
 *   sudo node --import tsx bench/xdp-ports.ts [--obj a.o,b.o] [--repeat 1000000] [--runs 9] [--sizes 1,1000]
 */
import { parseArgs } from 'node:util';
import { objectPath } from '../src/xdp/program.js';
import { BpfObject, testRun } from '../src/xdp/object.js';
import { buildUdpFrame } from '../src/frame/build.js';
import * as bpf from '../src/sys/libbpf.js';

const { values } = parseArgs({
  options: {
    obj: { type: 'string' },
    repeat: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '9' },
    sizes: { type: 'string', default: '1,1000' },
  },
});
const repeat = Number(values.repeat);
const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const IN = 9000;
const OUT = 9001;
const frames: [string, Uint8Array][] = [
  ['in set', buildUdpFrame({ dstPort: IN })],
  ['udp not in set', buildUdpFrame({ dstPort: OUT })],
  ['tcp', buildUdpFrame({ dstPort: IN, protocol: 6 })],
];

interface Loaded {
  path: string;
  obj: BpfObject;
  prog: number;
  ports: number;
  keySize: number;
  written: number[];
}

const objs: Loaded[] = (values.obj?.split(',') ?? [objectPath()]).map((path) => {
  const obj = BpfObject.load(path);
  const ports = obj.mapFd('ports');
  const info = Buffer.alloc(80);
  if (bpf.bpf_obj_get_info_by_fd(ports, info, [info.length]) < 0) throw new Error('map info');
  return { path, obj, prog: obj.programFd('xsk_redirect'), ports, keySize: info.readUInt32LE(8), written: [] };
});

function setPorts(o: Loaded, ports: number[]): void {
  const key = Buffer.alloc(o.keySize);
  const put = (p: number, v: number) => {
    if (o.keySize === 2) key.writeUInt16LE(p);
    else key.writeUInt32LE(p);
    const r = v || o.keySize === 4 ? bpf.bpf_map_update_elem(o.ports, key, Buffer.from([v]), 0) : bpf.bpf_map_delete_elem(o.ports, key);
    if (r < 0 && v) throw new Error(`port ${p}: ${r}`);
  };
  for (const p of o.written) put(p, 0);
  for (const p of ports) put(p, 1);
  o.written = ports;
}

const out: Record<string, Record<string, Record<string, number>>> = {};
for (const size of values.sizes!.split(',').map(Number)) {
  // IN and size-1 others spread over 1-65535, never OUT.
  const set = new Set([IN]);
  const step = 65535 / size;
  for (let i = 0; set.size < size && i < 200000; i++) {
    const p = 1 + (Math.floor(i * step) % 65535);
    if (p !== OUT) set.add(p);
  }
  const ports = [...set];
  const ns = new Map<string, number[]>();
  // The old hash holds 1,024 ports at most.
  const fit = objs.filter((o) => o.keySize === 4 || ports.length <= 1024);
  for (const o of fit) setPorts(o, ports);
  for (let r = 0; r < runs; r++) {
    for (const o of fit) {
      for (const [name, f] of frames) {
        const k = `${o.path}\0${name}`;
        if (!ns.has(k)) ns.set(k, []);
        ns.get(k)!.push(testRun(o.prog, { data: f, repeat }).durationNs);
      }
    }
  }
  for (const o of fit) {
    const row: Record<string, number> = {};
    for (const [name] of frames) row[name] = median(ns.get(`${o.path}\0${name}`)!);
    ((out[o.keySize === 2 ? `hash ${o.path}` : `array ${o.path}`] ??= {})[`${ports.length} ports`] = row);
  }
}
for (const o of objs) o.obj.close();
console.log(JSON.stringify({ repeat, runs, ns_per_run: out }, null, 1));
