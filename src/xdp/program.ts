/**
 * The XDP program (bpf/xsk_redirect.c) seen from userspace: load it, fill its maps, attach it
 * to an interface through a bpf_link, read its counters, run it on test frames.
 *
 * Attachment uses BPF_LINK_CREATE, not netlink: the link lives as long as a file descriptor
 * of this process refers to it, so when the process exits for any reason (SIGKILL included)
 * the kernel detaches the program. Nothing is pinned.
 */
import koffi from 'koffi';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { close } from '../sys/libc.js';
import { SysError } from '../sys/errors.js';
import * as bpf from '../sys/libbpf.js';

export type AttachMode = 'native' | 'generic';

const COUNTER_NAMES = ['seen', 'redirected', 'passed'] as const;
export type ProgramCounters = Record<(typeof COUNTER_NAMES)[number], number>;

let printSilenced = false;

/** Where the build puts the compiled object: dist/bpf/ next to the code, or build/ in a checkout. */
export function defaultObjectPath(): string {
  const candidates = [
    fileURLToPath(new URL('../bpf/xsk_redirect.o', import.meta.url)),
    fileURLToPath(new URL('../../build/xsk_redirect.o', import.meta.url)),
    fileURLToPath(new URL('../../dist/bpf/xsk_redirect.o', import.meta.url)),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`xsk_redirect.o not found (looked in ${candidates.join(', ')}); run npm run build`);
  return found;
}

export class XdpProgram {
  private linkFd = -1;
  private attachedIfindex = 0;
  private portSet = new Set<number>();
  private readonly ncpus = bpf.libbpf_num_possible_cpus();

  private constructor(
    private obj: bigint | null,
    readonly progFd: number,
    private readonly xsksFd: number,
    private readonly portsFd: number,
    private readonly countersFd: number,
  ) {}

  static load(objPath = defaultObjectPath()): XdpProgram {
    if (!printSilenced && !process.env.XSK_LIBBPF_DEBUG) {
      bpf.libbpf_set_print(null);
      printSilenced = true;
    }
    const obj = bpf.bpf_object__open_file(objPath, null);
    if (!obj) throw new SysError('bpf_object__open_file', koffi.errno(), objPath);
    const err = bpf.bpf_object__load(obj);
    if (err < 0) {
      bpf.bpf_object__close(obj);
      const hint =
        -err === 1 /* EPERM */
          ? 'loading BPF needs root or CAP_BPF+CAP_NET_ADMIN (and enough RLIMIT_MEMLOCK on kernels before 5.11)'
          : undefined;
      throw new SysError('bpf_object__load', -err, hint);
    }
    const prog = bpf.bpf_object__find_program_by_name(obj, 'xsk_redirect');
    if (!prog) throw new Error('program xsk_redirect not in the object');
    const fd = (name: string) => {
      const r = bpf.bpf_object__find_map_fd_by_name(obj, name);
      if (r < 0) throw new Error(`map ${name} not in the object`);
      return r;
    };
    return new XdpProgram(obj, bpf.bpf_program__fd(prog), fd('xsks'), fd('ports'), fd('counters'));
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
   * Attach to `ifindex`. If another XDP program is there, refuse unless `force`; with `force`,
   * detach a netlink-attached one first (one held by another process's link can't be taken).
   */
  attach(ifindex: number, ifname: string, mode: AttachMode, force = false): void {
    const flags = mode === 'native' ? bpf.XDP_FLAGS_DRV_MODE : bpf.XDP_FLAGS_SKB_MODE;
    const existing = attachedPrograms(ifindex);
    if (existing.length > 0) {
      const what = existing.map((e) => `program id ${e.id} (${e.mode})`).join(', ');
      if (!force) {
        throw new Error(
          `${ifname} already has an XDP ${what}; refusing to replace it (use --force, or remove it with: ip link set dev ${ifname} xdp off)`,
        );
      }
      for (const e of existing) {
        const r = bpf.bpf_xdp_detach(ifindex, e.mode === 'native' ? bpf.XDP_FLAGS_DRV_MODE : bpf.XDP_FLAGS_SKB_MODE, null);
        if (r < 0) {
          throw new SysError(
            'bpf_xdp_detach',
            -r,
            `${ifname} ${what} is held by a bpf_link of another process; stop that process first`,
          );
        }
      }
    }
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
    const out = { seen: 0, redirected: 0, passed: 0 };
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
    const dataIn = Buffer.from(frame);
    const dataOut = Buffer.alloc(frame.length + 512);
    let ctxIn: Buffer | null = null;
    if (ctx) {
      // struct xdp_md { data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex }
      ctxIn = Buffer.alloc(24);
      ctxIn.writeUInt32LE(frame.length, 4);
      ctxIn.writeUInt32LE(ctx.ifindex ?? 0, 12);
      ctxIn.writeUInt32LE(ctx.rxQueue ?? 0, 16);
    }
    const opts: bpf.TestRunOpts = {
      sz: koffi.sizeof(bpf.bpf_test_run_opts),
      data_in: dataIn,
      data_out: dataOut,
      data_size_in: dataIn.length,
      data_size_out: dataOut.length,
      ctx_in: ctxIn,
      ctx_out: null,
      ctx_size_in: ctxIn ? ctxIn.length : 0,
      ctx_size_out: 0,
      retval: 0,
      repeat: 1,
      duration: 0,
      flags: 0,
      cpu: 0,
      batch_size: 0,
    };
    const r = bpf.bpf_prog_test_run_opts(this.progFd, opts);
    if (r < 0) throw new SysError('bpf_prog_test_run_opts', -r);
    return { verdict: opts.retval, out: dataOut.subarray(0, opts.data_size_out) };
  }

  close(): void {
    this.detach();
    if (this.obj) {
      bpf.bpf_object__close(this.obj);
      this.obj = null;
    }
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

