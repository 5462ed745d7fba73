/**
 * A compiled BPF object loaded into the kernel through libbpf: open, load, find a program and
 * maps by name, close. The XDP program (program.ts) and the generator (gen/) both use it.
 */
import koffi from 'koffi';
import { SysError } from '../sys/errors.js';
import * as bpf from '../sys/libbpf.js';

let printSilenced = false;

export class BpfObject {
  private constructor(
    private obj: bigint | null,
    readonly path: string,
  ) {}

  /**
   * Open and load `path`. `rodata`, if given, replaces the object's read-only globals (its
   * .rodata map, `const volatile` in C) before the load, so the verifier sees them as constants
   * and drops the code they turn off; it must be exactly the section's size.
   */
  static load(path: string, rodata?: Buffer): BpfObject {
    if (!printSilenced && !process.env.XSK_LIBBPF_DEBUG) {
      bpf.libbpf_set_print(null);
      printSilenced = true;
    }
    const obj = bpf.bpf_object__open_file(path, null);
    if (!obj) throw new SysError('bpf_object__open_file', koffi.errno(), path);
    if (rodata) {
      try {
        setRodata(obj, path, rodata);
      } catch (e) {
        bpf.bpf_object__close(obj);
        throw e;
      }
    }
    const err = bpf.bpf_object__load(obj);
    if (err < 0) {
      bpf.bpf_object__close(obj);
      const hint =
        -err === 1 /* EPERM */
          ? 'loading BPF needs root or CAP_BPF+CAP_NET_ADMIN (and enough RLIMIT_MEMLOCK on kernels before 5.11)'
          : undefined;
      throw new SysError('bpf_object__load', -err, hint);
    }
    return new BpfObject(obj, path);
  }

  programFd(name: string): number {
    const prog = this.obj && bpf.bpf_object__find_program_by_name(this.obj, name);
    if (!prog) throw new Error(`program ${name} not in ${this.path}`);
    return bpf.bpf_program__fd(prog);
  }

  mapFd(name: string): number {
    const fd = this.obj ? bpf.bpf_object__find_map_fd_by_name(this.obj, name) : -1;
    if (fd < 0) throw new Error(`map ${name} not in ${this.path}`);
    return fd;
  }

  close(): void {
    if (this.obj) bpf.bpf_object__close(this.obj);
    this.obj = null;
  }
}

/** The .rodata map (libbpf names it "<object name prefix>.rodata"), its initial value replaced. */
function setRodata(obj: bigint, path: string, data: Buffer): void {
  for (let m = bpf.bpf_object__next_map(obj, null); m; m = bpf.bpf_object__next_map(obj, m)) {
    if (!bpf.bpf_map__name(m).endsWith('.rodata')) continue;
    const size = [0];
    bpf.bpf_map__initial_value(m, size);
    if (size[0] !== data.length) throw new Error(`${path}: .rodata is ${size[0]} bytes, expected ${data.length} (rebuild with npm run build)`);
    const r = bpf.bpf_map__set_initial_value(m, data, data.length);
    if (r < 0) throw new SysError('bpf_map__set_initial_value(.rodata)', -r, path);
    return;
  }
  throw new Error(`${path} has no .rodata (no load-time settings); rebuild with npm run build`);
}

export interface TestRunInput {
  data: Uint8Array;
  /** struct xdp_md fields for the run; without it the kernel uses loopback queue 0. */
  ifindex?: number;
  rxQueue?: number;
  repeat?: number;
  flags?: number;
  batchSize?: number;
  /** Room for the frame as the program leaves it (not allowed with live frames). */
  wantOutput?: boolean;
}

/** BPF_PROG_TEST_RUN: the program's return value, and the output frame when asked for. */
export function testRun(progFd: number, input: TestRunInput): { retval: number; out?: Buffer; durationNs: number } {
  const dataIn = Buffer.from(input.data);
  const dataOut = input.wantOutput ? Buffer.alloc(dataIn.length + 512) : null;
  let ctxIn: Buffer | null = null;
  if (input.ifindex !== undefined || input.rxQueue !== undefined) {
    // struct xdp_md { data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex }
    ctxIn = Buffer.alloc(24);
    ctxIn.writeUInt32LE(dataIn.length, 4);
    ctxIn.writeUInt32LE(input.ifindex ?? 0, 12);
    ctxIn.writeUInt32LE(input.rxQueue ?? 0, 16);
  }
  const opts: bpf.TestRunOpts = {
    sz: koffi.sizeof(bpf.bpf_test_run_opts),
    data_in: dataIn,
    data_out: dataOut,
    data_size_in: dataIn.length,
    data_size_out: dataOut ? dataOut.length : 0,
    ctx_in: ctxIn,
    ctx_out: null,
    ctx_size_in: ctxIn ? ctxIn.length : 0,
    ctx_size_out: 0,
    retval: 0,
    repeat: input.repeat ?? 1,
    duration: 0,
    flags: input.flags ?? 0,
    cpu: 0,
    batch_size: input.batchSize ?? 0,
  };
  const r = bpf.bpf_prog_test_run_opts(progFd, opts);
  if (r < 0) throw new SysError('bpf_prog_test_run_opts', -r);
  return { retval: opts.retval, out: dataOut?.subarray(0, opts.data_size_out), durationNs: opts.duration };
}
