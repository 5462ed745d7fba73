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
import { silentLogger, type Logger } from '../util/logger.js';
import { DEFAULT_LATENCY_SAMPLE } from './meta.js';

export type AttachMode = 'native' | 'generic';

const EINVAL = 22;
const EOPNOTSUPP = 95;
const ENOTSUPP = 524;
/** Whether bpf_map_update_batch works on the ports array (found out on first use). */
let batchUpdate = true;

export const COUNTER_NAMES = ['seen', 'redirected', 'passed', 'meta_failed'] as const;
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

/**
 * Where xsk_redirect.c puts a receive stamp: in the frame's metadata area (bpf_xdp_adjust_meta),
 * or, on kernels whose verifier refuses that helper to XDP programs, in 16 bytes grown at the
 * frame's head (bpf_xdp_adjust_head), which the port skips (XdpPortOptions.headStamps).
 */
export type StampPlace = 'meta' | 'head';

/**
 * bpf/xsk_redirect.c's `xsk_config` (.rodata): u32 stamp (0: none, 1: metadata area, 2: frame
 * head), u32 sample_mask (N - 1).
 */
export function programConfig(stampEvery: number, place: StampPlace = 'meta'): Buffer {
  if (!Number.isInteger(stampEvery) || stampEvery < 0 || stampEvery > 65536 || (stampEvery & (stampEvery - 1)) !== 0) {
    throw new Error(`latency sample ${stampEvery}: expected 0 or a power of two up to 65536`);
  }
  const b = Buffer.alloc(8);
  b.writeUInt32LE(stampEvery > 0 ? (place === 'head' ? 2 : 1) : 0, 0);
  b.writeUInt32LE(stampEvery > 0 ? stampEvery - 1 : 0, 4);
  return b;
}

/**
 * What to find in the object, by name. The defaults are bpf/xsk_redirect.c's; an object of your
 * own needs at least a program and an XSKMAP. Without a ports map, setPorts() throws (your
 * program decides what it redirects); without counters, counters() reads zeros.
 */
export interface ProgramNames {
  program?: string;
  xsks?: string;
  /** An array map of 65,536 u8 entries keyed by u32 port (1 = steer); null: none. */
  ports?: string | null;
  /**
   * A per-CPU array of u64 counters (seen, redirected, passed, meta_failed); null: none. A seen
   * left at 0 reads as redirected + passed (xsk_redirect.c writes one counter a frame).
   */
  counters?: string | null;
}

export interface LoadOptions {
  names?: ProgramNames;
  /** Where warnings go (--force replacing a program); silent by default. */
  logger?: Logger;
  /**
   * xsk_redirect.c's receive stamp: on 1 redirected frame in N (per CPU: those whose CPU's
   * `redirected` count before them is a multiple of N; a power of two), 0 for none
   * (--no-latency). Written into the object's read-only globals (.rodata) before the load, so
   * the verifier removes what is off. Unset: the object's own (xsk_redirect.o's: 1 in 64,
   * DEFAULT_LATENCY_SAMPLE); an object of your own needs xsk_config's 8-byte layout to take it.
   */
  stampEvery?: number;
  /**
   * Where xsk_redirect.o stamps (StampPlace). Unset: the metadata area, or the frame's head
   * where this kernel refuses bpf_xdp_adjust_meta (the load is retried that way, and an info
   * line says so). Ignored for an object of your own.
   */
  stampPlace?: StampPlace;
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
    /** Where this program's warnings go (the CLI passes its logger; the library the caller's). */
    readonly logger: Logger,
    /** 1 frame in N is stamped (0: none; undefined: unknown, an object of the caller's). */
    private readonly stampEvery?: number,
    /** xsk's own xsk_redirect.o (not an object of the caller's). */
    private readonly ownObject = false,
    /**
     * The program grows stamped frames by a 16-byte stamp at their head (StampPlace 'head'):
     * the sockets fed by it must be opened with XdpPortOptions.headStamps.
     */
    readonly headStamps = false,
  ) {}

  /**
   * Whether the program counts its redirects. xsk_redirect.o does not when it stamps nothing
   * (--no-latency: the count only picks the frames to stamp); counters() then takes the number
   * from the caller, who has it from the sockets.
   */
  get countsRedirects(): boolean {
    return !(this.ownObject && this.stampEvery === 0);
  }

  static load(objPath = objectPath(), o: LoadOptions = {}): XdpProgram {
    const own = objPath === objectPath();
    const stampEvery = o.stampEvery ?? (own ? DEFAULT_LATENCY_SAMPLE : undefined);
    const logger = o.logger ?? silentLogger;
    let place: StampPlace = o.stampPlace ?? 'meta';
    let obj: BpfObject;
    if (!own) {
      obj = BpfObject.load(objPath, o.stampEvery === undefined ? undefined : programConfig(o.stampEvery));
    } else {
      try {
        obj = BpfObject.load(objPath, programConfig(stampEvery!, place));
      } catch (e) {
        // The verifier refuses bpf_xdp_adjust_meta on some kernels (EINVAL): stamp in the head.
        if (!(e instanceof SysError && e.errno === EINVAL) || stampEvery === 0 || place === 'head' || o.stampPlace) throw e;
        try {
          obj = BpfObject.load(objPath, programConfig(stampEvery!, 'head'));
        } catch {
          throw e;
        }
        place = 'head';
        // Nothing is lost or changed for the user: said, not warned.
        logger.info(
          "this kernel's verifier refuses bpf_xdp_adjust_meta to XDP programs: receive stamps go in 16 bytes at the head of each stamped frame instead, which xsk skips",
        );
      }
    }
    const n = o.names ?? {};
    try {
      const ports = n.ports === null ? -1 : obj.mapFd(n.ports ?? 'ports');
      const counters = n.counters === null ? -1 : obj.mapFd(n.counters ?? 'counters');
      const headStamps = own && stampEvery !== 0 && place === 'head';
      return new XdpProgram(obj, obj.programFd(n.program ?? 'xsk_redirect'), obj.mapFd(n.xsks ?? 'xsks'), ports, counters, logger, stampEvery, own, headStamps);
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  /**
   * Replace the set of steered UDP destination ports; takes effect at once, no reattach. The
   * `ports` map is an array with an entry for every port (1 = steer), so any set fits: only the
   * entries that change are written, in one bpf_map_update_batch (per entry where the kernel
   * has no batch op for arrays). Throws on a port outside 1-65535 before writing anything.
   */
  setPorts(ports: Iterable<number>): void {
    if (this.portsFd < 0) throw new Error('this XDP program has no ports map: it decides itself what it redirects');
    const next = new Set(ports);
    for (const p of next) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`port ${p} is outside 1-65535`);
    const changes: [number, number][] = [];
    for (const p of next) if (!this.portSet.has(p)) changes.push([p, 1]);
    for (const p of this.portSet) if (!next.has(p)) changes.push([p, 0]);
    if (changes.length > 0) this.writePorts(changes);
    this.portSet = next;
  }

  private writePorts(changes: [number, number][]): void {
    const keys = Buffer.alloc(4 * changes.length);
    const values = Buffer.alloc(changes.length);
    changes.forEach(([p, v], i) => {
      keys.writeUInt32LE(p, 4 * i);
      values[i] = v;
    });
    if (batchUpdate) {
      const count = [changes.length];
      const r = bpf.bpf_map_update_batch(this.portsFd, keys, values, count, { sz: koffi.sizeof(bpf.bpf_map_batch_opts), elem_flags: 0, flags: 0 });
      if (r === 0) return;
      // No batch op for this map type here (older kernels): one entry at a time, from the start.
      if (-r !== EINVAL && -r !== ENOTSUPP && -r !== EOPNOTSUPP) throw new SysError('bpf_map_update_batch(ports)', -r);
      batchUpdate = false;
    }
    const one = Buffer.alloc(1);
    changes.forEach(([p, v], i) => {
      one[0] = v;
      const r = bpf.bpf_map_update_elem(this.portsFd, keys.subarray(4 * i, 4 * i + 4), one, 0);
      if (r < 0) throw new SysError('bpf_map_update_elem(ports)', -r, `port ${p}`);
    });
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
    const what = existing.map(describeProgram).join(', ');
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
      this.logger.warn(`--force: replaced the XDP ${describeProgram(e)} on ${ifname}`);
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

  /**
   * The counters, summed over CPUs, and `stamped` (xsk's own program): how many frames it gave a
   * receive stamp. It stamps a frame when its CPU's count of redirects is a multiple of N, so
   * each CPU stamps ceil(redirected / N) (less those whose metadata could not be made): a
   * receiver that loses nothing reads exactly that many stamps.
   *
   * `delivered`: what the program's sockets account for (sys/if-xdp.ts: socketAccounted,
   * summed). Where the program does not count redirects (countsRedirects), that is the
   * redirected count; without it, 0.
   */
  counters(delivered = 0): ProgramCounters & { stamped?: number } {
    const key = Buffer.alloc(4);
    const vals = Buffer.alloc(8 * this.ncpus);
    const out: ProgramCounters & { stamped?: number } = { seen: 0, redirected: 0, passed: 0, meta_failed: 0 };
    if (this.countersFd < 0) return out;
    let stamped = 0;
    COUNTER_NAMES.forEach((name, i) => {
      key.writeUInt32LE(i);
      if (bpf.bpf_map_lookup_elem(this.countersFd, key, vals) < 0) return;
      let sum = 0;
      for (let c = 0; c < this.ncpus; c++) {
        const v = Number(vals.readBigUInt64LE(8 * c));
        sum += v;
        if (name === 'redirected' && this.stampEvery) stamped += Math.ceil(v / this.stampEvery);
      }
      out[name] = sum;
    });
    if (!this.countsRedirects) out.redirected = delivered;
    // xsk_redirect.c writes at most one counter a frame: seen is redirected + passed.
    if (out.seen === 0) out.seen = out.redirected + out.passed;
    if (this.stampEvery !== undefined) out.stamped = Math.max(0, stamped - out.meta_failed);
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

export interface AttachedProgram {
  id: number;
  mode: AttachMode | 'offload';
  /** The program's name and tag (hex), when the kernel still has it and lets us see it. */
  name?: string;
  tag?: string;
}

/** `program id 42 "xdp_drop" (native, tag 0123456789abcdef)`. */
export function describeProgram(p: AttachedProgram): string {
  return `program id ${p.id}${p.name !== undefined ? ` "${p.name}"` : ''} (${p.mode}${p.tag ? `, tag ${p.tag}` : ''})`;
}

/**
 * A loaded program's name and tag by id (bpf_prog_get_fd_by_id + BPF_OBJ_GET_INFO_BY_FD);
 * undefined if it is gone or we may not look (needs CAP_SYS_ADMIN).
 */
export function programInfo(id: number): { name: string; tag: string } | undefined {
  const fd = bpf.bpf_prog_get_fd_by_id(id);
  if (fd < 0) return undefined;
  try {
    // struct bpf_prog_info up to name: type, id, tag[8] at 8, ..., name[16] at 64.
    const info = Buffer.alloc(80);
    if (bpf.bpf_obj_get_info_by_fd(fd, info, [info.length]) < 0) return undefined;
    const name = info.subarray(64, 80);
    const end = name.indexOf(0);
    return { name: name.subarray(0, end < 0 ? 16 : end).toString('latin1'), tag: info.subarray(8, 16).toString('hex') };
  } finally {
    close(fd);
  }
}

/** XDP programs attached to an interface, per mode, with their names where they can be had. */
export function attachedPrograms(ifindex: number): AttachedProgram[] {
  const found: AttachedProgram[] = [];
  const modes: [number, AttachMode | 'offload'][] = [
    [bpf.XDP_FLAGS_DRV_MODE, 'native'],
    [bpf.XDP_FLAGS_SKB_MODE, 'generic'],
    [bpf.XDP_FLAGS_HW_MODE, 'offload'],
  ];
  for (const [flag, mode] of modes) {
    const id = [0];
    const r = bpf.bpf_xdp_query_id(ifindex, flag, id);
    if (r < 0 && r !== -22) throw new SysError('bpf_xdp_query_id', -r);
    if (r === 0 && id[0]) found.push({ id: id[0], mode, ...programInfo(id[0]) });
  }
  return found;
}

