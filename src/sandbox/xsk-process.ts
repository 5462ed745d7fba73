/**
 * Run the built xsk CLI inside a sandbox namespace and talk to it as a user would: wait for it
 * to come up, signal it, read its stderr lines and its one-line JSON summary.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Sandbox } from './netns.js';

/** The built scripts, also when this module runs from src/ under tsx (tests). */
const DIST_SANDBOX = fileURLToPath(new URL('.', import.meta.url)).replace(/\/src\/sandbox\/$/, '/dist/sandbox/');
export const XSK_JS = `${DIST_SANDBOX}../xsk.js`;

/** Every XskProcess started in this process that has not exited yet. */
const running = new Set<XskProcess>();

/**
 * Stop every xsk still running (SIGTERM, then up to 5 s). For a test's afterEach: a test whose
 * assertion failed before it stopped its xsk left it holding the interface's lock, and every
 * later test in the file then failed at start ("dut0 is in use by another xsk").
 */
export async function stopLeftoverXsks(): Promise<void> {
  for (const x of [...running]) {
    x.signal('SIGTERM');
    await x.exit(5000).catch(() => {});
  }
  running.clear();
}

export class XskProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  private readonly exited: Promise<number | null>;
  /** Called with each stderr line as it arrives. */
  onLine?: (line: string) => void;

  /** `env`: extra environment variables (test hooks such as XSK_TEST_FAIL_AFTER). */
  constructor(sandbox: Sandbox, args: string[], ns = sandbox.dut, env: Record<string, string> = {}) {
    this.child = sandbox.spawn(ns, process.execPath, [XSK_JS, ...args], { env: { ...process.env, ...env } });
    running.add(this);
    this.child.once('exit', () => running.delete(this));
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    let partial = '';
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      partial += d;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        this.onLine?.(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve(signal ? null : code)));
  }

  /** Resolves when xsk says it is up; rejects if it exits first or takes longer than `ms`. */
  async up(ms = 15000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.stderr.includes('xsk up')) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`xsk exited before coming up:\n${this.stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`xsk not up after ${ms} ms:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** The exit code (null when killed by a signal), waiting at most `ms`. */
  async exit(ms = 15000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error(`xsk did not exit within ${ms} ms:\n${this.stderr}`));
      }, ms);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The JSON summary line from stdout. */
  summary(): Record<string, any> {
    const line = this.stdout.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(line);
    } catch {
      throw new Error(`no JSON summary on stdout (${JSON.stringify(this.stdout)}); stderr:\n${this.stderr}`);
    }
  }
}

/** Run a sandbox tool (udp-send, udp-sink) in a namespace and wait for its JSON line. */
/**
 * Run a sandbox tool (dist/sandbox/TOOL.js) in a namespace; its last JSON line. `cpu` pins it
 * (taskset): a sender on one CPU has every frame's XDP program run on that CPU, so per-CPU
 * sampling (the latency stamp on 1 frame in N) is exact to predict.
 */
export function runTool(sandbox: Sandbox, ns: string, tool: string, args: string[], opts: { cpu?: number } = {}): Promise<Record<string, any>> {
  const script = `${DIST_SANDBOX}${tool}.js`;
  const child =
    opts.cpu === undefined
      ? sandbox.spawn(ns, process.execPath, [script, ...args])
      : sandbox.spawn(ns, 'taskset', ['-c', String(opts.cpu), process.execPath, script, ...args]);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${tool} exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`${tool} printed no JSON: ${out} ${err}`));
      }
    });
  });
}

export interface RunningSink {
  /** The sink's process id (`ip netns exec` execs node in place). */
  pid: number;
  /** Resolves once the socket is bound. */
  ready: Promise<void>;
  /** SIGTERM it and read its JSON line. */
  stop(): Promise<Record<string, any>>;
}

/** Start udp-sink in a namespace: it counts (and checks) what reaches a kernel UDP socket. */
export function startSink(sandbox: Sandbox, ns: string, port: number, family: 4 | 6 = 4, seconds = 60): RunningSink {
  const child = sandbox.spawn(ns, process.execPath, [`${DIST_SANDBOX}udp-sink.js`, '--port', String(port), '--family', String(family), '--seconds', String(seconds)]);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`udp-sink exited ${code} before it was ready`)));
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    pid: child.pid!,
    ready,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      return JSON.parse(out.trim().split('\n').pop() ?? '');
    },
  };
}
