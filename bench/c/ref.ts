/**
 * The C reference (bench/c/xsk_ref.c, built to build/bench/xsk_ref) driven from TypeScript: run
 * it in a sandbox namespace, wait for it to come up, stop it, read its one JSON line. Also the
 * C cases in the shape of bench/lib/cases.ts, for `npm run bench` to pick up.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Sandbox } from '../../src/sandbox/netns.js';
import { measure, type CaseResult } from '../lib/measure.js';

export const XSK_REF = fileURLToPath(new URL('../../build/bench/xsk_ref', import.meta.url));
export const haveRef = (): boolean => existsSync(XSK_REF);

export interface RefOptions {
  app: 'rxdrop' | 'l2fwd';
  mode: 'native' | 'generic';
  port?: number;
  queue?: number;
  /** Seconds before it stops by itself (it is normally stopped with SIGTERM before). */
  duration?: number;
  /** l2fwd: where to send, and the next hop's MAC. */
  fwdDst?: string;
  fwdMac?: string;
  /** µs to keep polling an empty RX ring before sleeping in poll() (xsk_ref's default: 200, as xsk). */
  busyPoll?: number;
  /** Another compiled XDP program (dist/bpf/xsk_minimal.o for the minimal receiver). */
  obj?: string;
  /** Stamp 1 redirected frame in N (xsk's --latency-sample; 0: none); default: the object's, xsk's default. */
  stampEvery?: number;
  /** Read one byte of each frame instead of parsing it, and look for no stamp (the minimal receiver). */
  touch?: boolean;
}

export const MINIMAL_OBJ = fileURLToPath(new URL('../../dist/bpf/xsk_minimal.o', import.meta.url));

export class RefProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(sb: Sandbox, o: RefOptions, ns = sb.dut) {
    const args = [o.app, '--iface', sb.dutIf, '--queue', String(o.queue ?? 0), '--port', String(o.port ?? 9000), '--mode', o.mode,
      '--duration', String(o.duration ?? 60)];
    if (o.fwdDst) args.push('--fwd-dst', o.fwdDst);
    if (o.fwdMac) args.push('--fwd-mac', o.fwdMac);
    if (o.busyPoll !== undefined) args.push('--busy-poll', String(o.busyPoll));
    if (o.obj) args.push('--obj', o.obj);
    if (o.stampEvery !== undefined) args.push('--stamp-every', String(o.stampEvery));
    if (o.touch) args.push('--touch');
    // `ip netns exec` execs in place: the child's pid is xsk_ref's.
    this.child = sb.spawn(ns, XSK_REF, args);
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves once the program is attached and the socket is in the XSKMAP. */
  async up(ms = 10000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.stderr.includes('xsk_ref up')) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`xsk_ref exited before coming up: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`xsk_ref not up after ${ms} ms: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Wait for it to exit (SIGKILL after `ms`); the exit code. */
  async exit(ms = 10000): Promise<number | null> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, wait, and the JSON summary (throws if it failed). */
  async stop(): Promise<Record<string, any>> {
    this.child.kill('SIGTERM');
    const code = await this.exit();
    if (code !== 0) throw new Error(`xsk_ref exited ${code}: ${this.stderr}`);
    return this.summary();
  }

  summary(): Record<string, any> {
    try {
      return JSON.parse(this.stdout.trim().split('\n').pop() ?? '');
    } catch {
      throw new Error(`xsk_ref printed no JSON (${JSON.stringify(this.stdout)}): ${this.stderr}`);
    }
  }
}

/**
 * Start xsk_ref and wait until it is up, starting it again while the queue is still busy with a
 * socket that closed a moment ago (EBUSY: the kernel frees it on a workqueue), for up to 2 s.
 */
export async function startRef(sb: Sandbox, o: RefOptions, ns = sb.dut): Promise<RefProcess> {
  for (let tries = 0; ; tries++) {
    const ref = new RefProcess(sb, o, ns);
    try {
      await ref.up();
      return ref;
    } catch (e) {
      ref.child.kill('SIGKILL');
      if (tries >= 20 || !/Device or resource busy/.test(String(e))) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** One measured run of the C reference (bench/lib/measure.ts: generator on CPU 0, it on CPU 1). */
export async function measureRef(sb: Sandbox, count: number, o: RefOptions): Promise<CaseResult> {
  const ref = await startRef(sb, o);
  let s: Record<string, any> = {};
  const r = await measure(sb, ref.pid, o.port ?? 9000, count, async () => {
    s = await ref.stop();
    return o.app === 'l2fwd' ? s.tx_packets : s.rx_packets;
  });
  r.extra = {
    kernel_drops: (s.xdp_stats.rx_ring_full ?? 0) + (s.xdp_stats.rx_dropped ?? 0),
    tx_ring_full: s.tx_drops.ring_full,
    xdp_program: s.xdp_program,
    cpu_s_total: s.cpu_s,
    sys_share: s.cpu_s > 0 ? Number((s.sys_s / s.cpu_s).toFixed(2)) : 0,
  };
  return r;
}

/**
 * The C cases as bench/run.ts names them, forwarding to the generator's own address as
 * bench/lib/cases.ts's 'xsk forward native' does (run.ts drops those frames at gen0's driver).
 * To add them there: `...C_CASES` in CASES.
 */
export const C_CASES: Record<string, (sb: Sandbox, count: number) => Promise<CaseResult>> = {
  'C rxdrop native': (sb, n) => measureRef(sb, n, { app: 'rxdrop', mode: 'native' }),
  // The yardstick for the XDP program's features: port match and redirect, one byte read.
  'C minimal native': (sb, n) => measureRef(sb, n, { app: 'rxdrop', mode: 'native', obj: MINIMAL_OBJ, touch: true }),
  'C rxdrop generic': (sb, n) => measureRef(sb, n, { app: 'rxdrop', mode: 'generic' }),
  'C l2fwd native': (sb, n) => measureRef(sb, n, { app: 'l2fwd', mode: 'native', fwdDst: `${sb.genAddr}:9001`, fwdMac: sb.genMac }),
};
