/**
 * The main thread's side of the datapath threads: start one per queue, hand each socket to the
 * caller when it is ready (it goes in the XSKMAP), keep the latest counter snapshot of each,
 * stop them all, and turn any failure into one clean, reasoned failure of the whole process.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { closeWakeFd, createWakeFd, ringWakeFd } from '../sys/wake-fd.js';
import { SharedLatency } from '../pipeline/shared-histogram.js';
import { Latency } from '../pipeline/latency.js';
import type { FromWorker, SerializedRule, Snapshot, ToWorker, WarmReport, WorkerConfig } from './protocol.js';
import type { ThreadSched } from './sched.js';

const WORKER_JS = new URL('./datapath.js', import.meta.url);

/**
 * A datapath thread's young generation (MB; V8 splits it into two 4 MB semi-spaces and room for
 * large objects). The main thread's is pinned at 32 MB (cli/heap.ts's --min-semi-space-size,
 * which is process-wide): the datapath needs far less (it allocates next to nothing per packet;
 * its young generation never went past 8 MB in the soak), and with the flag and no limit here
 * every datapath thread would hold 32 MB too. Capped, the flag pins it at the cap: flat.
 */
const DATAPATH_YOUNG_GENERATION_MB = 12;

interface Member {
  queue: number;
  worker: Worker;
  control: MessagePort;
  wakeFd: number;
  /** Messages posted on `control` (WorkerConfig.posted). */
  posted: Int32Array;
  ready: boolean;
  /** Resolvers waiting for this thread's next snapshot (refresh()). */
  waiting: (() => void)[];
  description?: string;
  warm?: WarmReport;
  last?: Snapshot;
  final?: Snapshot;
  /** This thread's latency: the shared histograms it records into, and what was read of them. */
  latency?: { shared: SharedLatency; read: Latency };
  exited: Promise<void>;
}

export interface ReadySocket {
  queue: number;
  /** The datapath thread's id. */
  tid: number;
  fd: number;
  description: string;
  warm?: WarmReport;
  /** What the thread runs with (--datapath-sched), or why it could not be raised. */
  sched: ThreadSched | { error: string };
}

export class QueuePool {
  private readonly members: Member[] = [];
  private stopping = false;
  private failed = false;

  constructor(
    /** Called once if any worker fails after start() resolved (throws, exits early, reports an error). */
    private readonly onFailure: (reason: string) => void,
  ) {}

  /**
   * Start a datapath per config; resolves with their sockets when every one is bound and warm.
   * Rejects (after terminating them all) if any fails to start.
   */
  async start(configs: Omit<WorkerConfig, 'control' | 'wakeFd' | 'posted'>[]): Promise<ReadySocket[]> {
    const readies = configs.map((cfg) => {
      const { port1, port2 } = new MessageChannel();
      const wakeFd = createWakeFd();
      const posted = new Int32Array(new SharedArrayBuffer(4));
      const latency = cfg.latency ? { shared: new SharedLatency(), read: new Latency() } : undefined;
      const worker = new Worker(WORKER_JS, {
        workerData: { ...cfg, control: port2, wakeFd, posted, latencyBuffers: latency?.shared.buffers },
        transferList: cfg.feedWake ? [port2, cfg.feedWake] : [port2],
        resourceLimits: { maxYoungGenerationSizeMb: DATAPATH_YOUNG_GENERATION_MB },
      });
      let exitedResolve!: () => void;
      const m: Member = {
        queue: cfg.queue,
        worker,
        control: port1,
        wakeFd,
        posted,
        ready: false,
        waiting: [],
        latency,
        exited: new Promise((r) => (exitedResolve = r)),
      };
      this.members.push(m);
      return new Promise<ReadySocket>((resolve, reject) => {
        worker.on('message', (msg: FromWorker) => {
          if (msg.type === 'ready') {
            m.ready = true;
            m.description = msg.description;
            m.warm = msg.warm;
            resolve({ queue: msg.queue, tid: msg.tid, fd: msg.fd, description: msg.description, warm: msg.warm, sched: msg.sched });
          } else if (msg.type === 'snapshot') {
            m.last = msg;
            if (msg.final) m.final = msg;
            for (const w of m.waiting.splice(0)) w();
          } else if (msg.type === 'error') {
            this.fail(`queue ${msg.queue}: ${msg.message}`);
          }
        });
        worker.on('error', (e) => {
          if (!m.ready) reject(e);
          else this.fail(`queue ${cfg.queue}: ${e.message}`);
        });
        worker.on('exit', (code) => {
          exitedResolve();
          // Closed only now: the thread can't be polling it any more, and no ring goes astray.
          closeWakeFd(m.wakeFd);
          m.wakeFd = -1;
          for (const w of m.waiting.splice(0)) w();
          if (!this.stopping && m.ready) this.fail(`queue ${cfg.queue} datapath exited (code ${code})`);
          if (!m.ready) reject(new Error(`queue ${cfg.queue}: datapath exited before its socket was ready`));
        });
      });
    });
    try {
      return await Promise.all(readies);
    } catch (e) {
      await this.terminate();
      throw e;
    }
  }

  private fail(reason: string): void {
    if (this.failed || this.stopping) return;
    this.failed = true;
    this.onFailure(reason);
  }

  broadcast(msg: ToWorker): void {
    for (const m of this.members) {
      m.control.postMessage(msg);
      // After the post: a thread that sees the count move finds the message on its port.
      Atomics.add(m.posted, 0, 1);
      if (m.wakeFd >= 0) ringWakeFd(m.wakeFd);
    }
  }

  /** Ask every thread for a snapshot now; resolves when all came (or after `ms`). */
  async refresh(ms = 200): Promise<void> {
    const live = this.members.filter((m) => m.ready && m.wakeFd >= 0 && !m.final);
    const all = Promise.all(live.map((m) => new Promise<void>((r) => m.waiting.push(r))));
    this.broadcast({ type: 'snapshot' });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  updateForward(rules: SerializedRule[]): void {
    this.broadcast({ type: 'forward', rules });
  }

  /** The latest snapshot of every queue (final ones after stop()). */
  snapshots(): Snapshot[] {
    return this.members.map((m) => m.final ?? m.last).filter((s): s is Snapshot => s !== undefined);
  }

  /** Each thread's latency histograms, up to date (what it recorded since the last call is added). */
  latencies(): Latency[] {
    const out: Latency[] = [];
    for (const m of this.members) {
      if (!m.latency) continue;
      m.latency.shared.drainInto(m.latency.read);
      out.push(m.latency.read);
    }
    return out;
  }

  /** Stop every datapath: each drains TX, sends its final snapshot and exits (bounded wait). */
  async stop(ms = 5000): Promise<void> {
    this.stopping = true;
    this.broadcast({ type: 'stop' });
    const all = Promise.all(this.members.map((m) => m.exited));
    const timeout = new Promise<void>((r) => setTimeout(r, ms).unref());
    await Promise.race([all, timeout]);
    await Promise.all(this.members.map((m) => m.worker.terminate()));
  }

  /** Kill every datapath at once (failure path). */
  async terminate(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.members.map((m) => m.worker.terminate()));
  }
}
