/**
 * The XDP program (bpf/xsk_redirect.c) seen from userspace: load it, fill its maps, attach it
 * to an interface through a bpf_link, read its counters, run it on test frames.
 *
 * Attachment uses BPF_LINK_CREATE, not netlink: the link lives as long as a file descriptor
 * of this process refers to it, so when the process exits for any reason (SIGKILL included)
 * the kernel detaches the program. Nothing is pinned.
 */
import koffi from 'koffi';
import { BpfObject, testRun } from './object.js';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { close } from '../sys/libc.js';
import { SysError } from '../sys/errors.js';
import * as bpf from '../sys/libbpf.js';

export type AttachMode = 'native' | 'generic';

const COUNTER_NAMES = ['seen', 'redirected', 'passed', 'meta_failed'] as const;
export type ProgramCounters = Record<(typeof COUNTER_NAMES)[number], number>;

/** Where the build puts a compiled BPF object: dist/bpf/ (also found from src/ under tsx). */
export function objectPath(file = 'xsk_redirect.o'): string {
  const candidates = [
    fileURLToPath(new URL(`../bpf/${file}`, import.meta.url)),
    fileURLToPath(new URL(`../../dist/bpf/${file}`, import.meta.url)),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`${file} not found (looked in ${candidates.join(', ')}); run npm run build`);
  return found;
}

export class XdpProgram {
  private linkFd = -1;
  private attachedIfindex = 0;
  private portSet = new Set<number>();
  private readonly ncpus = bpf.libbpf_num_possible_cpus();

  private constructor(
    private readonly obj: BpfObject,
    readonly progFd: number,
    private readonly xsksFd: number,
    private readonly portsFd: number,
    private readonly countersFd: number,
  ) {}

  static load(objPath = objectPath()): XdpProgram {
    const obj = BpfObject.load(objPath);
    try {
      return new XdpProgram(obj, obj.programFd('xsk_redirect'), obj.mapFd('xsks'), obj.mapFd('ports'), obj.mapFd('counters'));
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  /** Replace the set of steered UDP destination ports; takes effect at once, no reattach. */
  setPorts(ports: Iterable<number>): void {
    const next = new Set(ports);
    const key = Buffer.alloc(2);
    const one = Buffer.from([1]);
    for (const p of next) {
      if (this.portSet.has(p)) continue;
      key.writeUInt16LE(p);
      const r = bpf.bpf_map_update_elem(this.portsFd, key, one, 0);
      if (r < 0) throw new SysError('bpf_map_update_elem(ports)', -r, `port ${p}`);
    }
    for (const p of this.portSet) {
      if (next.has(p)) continue;
      key.writeUInt16LE(p);
      bpf.bpf_map_delete_elem(this.portsFd, key);
    }
    this.portSet = next;
  }

  ports(): number[] {
    return [...this.portSet].sort((a, b) => a - b);
  }

  /** Point queue `queue` of the XSKMAP at an AF_XDP socket. */
  setSocket(queue: number, socketFd: number): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(queue);
    const val = Buffer.alloc(4);
    val.writeUInt32LE(socketFd);
    const r = bpf.bpf_map_update_elem(this.xsksFd, key, val, 0);
    if (r < 0) throw new SysError('bpf_map_update_elem(xsks)', -r, `queue ${queue}`);
  }

  clearSocket(queue: number): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(queue);
    bpf.bpf_map_delete_elem(this.xsksFd, key);
  }

  /**
   * Make sure nothing else is attached to `ifindex`: refuse if another XDP program is there,
   * unless `force`; with `force`, detach a netlink-attached one (one held by another process's
   * link can't be taken). The runner calls this before it opens any socket, so that a busy
   * interface is reported as such, not as the EBUSY of a queue the other program's socket holds.
   */
  makeWay(ifindex: number, ifname: string, force = false): void {
    const existing = attachedPrograms(ifindex);
    if (existing.length === 0) return;
    const what = existing.map((e) => `program id ${e.id} (${e.mode})`).join(', ');
    if (!force) {
      throw new Error(
        `${ifname} already has an XDP ${what}; refusing to replace it (use --force, or remove it with: ip link set dev ${ifname} xdp off)`,
      );
    }
    for (const e of existing) {
      const r = bpf.bpf_xdp_detach(ifindex, e.mode === 'native' ? bpf.XDP_FLAGS_DRV_MODE : bpf.XDP_FLAGS_SKB_MODE, null);
      if (r < 0) {
        throw new SysError('bpf_xdp_detach', -r, `${ifname} ${what} is held by a bpf_link of another process; stop that process first`);
      }
    }
  }

  /** Attach to `ifindex` (after makeWay: another program there is refused or replaced). */
  attach(ifindex: number, ifname: string, mode: AttachMode, force = false): void {
    const flags = mode === 'native' ? bpf.XDP_FLAGS_DRV_MODE : bpf.XDP_FLAGS_SKB_MODE;
    this.makeWay(ifindex, ifname, force);
    const opts = { sz: koffi.sizeof(bpf.bpf_link_create_opts), flags };
    const fd = bpf.bpf_link_create(this.progFd, ifindex, bpf.BPF_XDP, opts);
    if (fd < 0) throw new SysError('bpf_link_create', -fd, `attaching in ${mode} mode to ${ifname}`);
    this.linkFd = fd;
    this.attachedIfindex = ifindex;
  }

  get attached(): boolean {
    return this.linkFd >= 0;
  }

  /** Closing the only reference to the link detaches the program. */
  detach(): void {
    if (this.linkFd >= 0) {
      close(this.linkFd);
      this.linkFd = -1;
      this.attachedIfindex = 0;
    }
  }

  counters(): ProgramCounters {
    const key = Buffer.alloc(4);
    const vals = Buffer.alloc(8 * this.ncpus);
    const out = { seen: 0, redirected: 0, passed: 0, meta_failed: 0 };
    COUNTER_NAMES.forEach((name, i) => {
      key.writeUInt32LE(i);
      if (bpf.bpf_map_lookup_elem(this.countersFd, key, vals) < 0) return;
      let sum = 0;
      for (let c = 0; c < this.ncpus; c++) sum += Number(vals.readBigUInt64LE(8 * c));
      out[name] = sum;
    });
    return out;
  }

  /** BPF_PROG_TEST_RUN on one frame: the verdict (and the frame as the program left it). */
  testRun(frame: Uint8Array, ctx?: { ifindex?: number; rxQueue?: number }): { verdict: number; out: Buffer } {
    const r = testRun(this.progFd, { data: frame, ...ctx, wantOutput: true });
    return { verdict: r.retval, out: r.out! };
  }

  close(): void {
    this.detach();
    this.obj.close();
  }
}

/** XDP programs attached to an interface, per mode. */
export function attachedPrograms(ifindex: number): { id: number; mode: AttachMode | 'offload' }[] {
  const found: { id: number; mode: AttachMode | 'offload' }[] = [];
  const modes: [number, AttachMode | 'offload'][] = [
    [bpf.XDP_FLAGS_DRV_MODE, 'native'],
    [bpf.XDP_FLAGS_SKB_MODE, 'generic'],
    [bpf.XDP_FLAGS_HW_MODE, 'offload'],
  ];
  for (const [flag, mode] of modes) {
    const id = [0];
    const r = bpf.bpf_xdp_query_id(ifindex, flag, id);
    if (r < 0 && r !== -22) throw new SysError('bpf_xdp_query_id', -r);
    if (r === 0 && id[0]) found.push({ id: id[0], mode });
  }
  return found;
}

