/**
 * The main thread's side of the queue workers: start one per queue, put each one's socket in
 * the XSKMAP when it is ready, keep the latest counter snapshot of each, stop them all, and
 * turn any worker failure into one clean, reasoned failure of the whole process.
 */
import { Worker } from 'node:worker_threads';
import type { XdpProgram } from '../xdp/program.js';
import type { FromWorker, SerializedRule, Snapshot, ToWorker, WorkerConfig } from './protocol.js';

const WORKER_JS = new URL('./queue-worker.js', import.meta.url);

interface Member {
  queue: number;
  worker: Worker;
  ready: boolean;
  description?: string;
  last?: Snapshot;
  final?: Snapshot;
  exited: Promise<void>;
}

export class QueuePool {
  private readonly members: Member[] = [];
  private stopping = false;
  private failed = false;

  constructor(
    private readonly program: XdpProgram,
    /** Called once if any worker fails (throws, exits early, or reports an error). */
    private readonly onFailure: (reason: string) => void,
  ) {}

  /** Start a worker per config; resolves when every socket is bound and in the XSKMAP. */
  async start(configs: WorkerConfig[]): Promise<void> {
    const readies = configs.map((cfg) => {
      const worker = new Worker(WORKER_JS, { workerData: cfg });
      let exitedResolve!: () => void;
      const m: Member = { queue: cfg.queue, worker, ready: false, exited: new Promise((r) => (exitedResolve = r)) };
      this.members.push(m);
      return new Promise<void>((resolve, reject) => {
        worker.on('message', (msg: FromWorker) => {
          if (msg.type === 'ready') {
            this.program.setSocket(msg.queue, msg.fd);
            m.ready = true;
            m.description = msg.description;
            resolve();
          } else if (msg.type === 'snapshot') {
            m.last = msg;
            if (msg.final) m.final = msg;
          } else if (msg.type === 'error') {
            this.fail(`queue ${msg.queue}: ${msg.message}`);
          }
        });
        worker.on('error', (e) => {
          const reason = `queue ${cfg.queue} worker failed: ${e.message}`;
          if (!m.ready) reject(new Error(reason));
          else this.fail(reason);
        });
        worker.on('exit', (code) => {
          exitedResolve();
          if (!this.stopping && m.ready) this.fail(`queue ${cfg.queue} worker exited (code ${code})`);
          if (!m.ready) reject(new Error(`queue ${cfg.queue} worker exited before its socket was ready`));
        });
      });
    });
    await Promise.all(readies);
  }

  private fail(reason: string): void {
    if (this.failed || this.stopping) return;
    this.failed = true;
    this.onFailure(reason);
  }

  broadcast(msg: ToWorker): void {
    for (const m of this.members) m.worker.postMessage(msg);
  }

  updateForward(rules: SerializedRule[]): void {
    this.broadcast({ type: 'forward', rules });
  }

  /** The latest snapshot of every queue (final ones after stop()). */
  snapshots(): Snapshot[] {
    return this.members.map((m) => m.final ?? m.last).filter((s): s is Snapshot => s !== undefined);
  }

  descriptions(): string[] {
    return this.members.map((m) => m.description ?? `queue ${m.queue}`);
  }

  /** Stop every worker: each drains TX, sends its final snapshot and exits (bounded wait). */
  async stop(ms = 5000): Promise<void> {
    this.stopping = true;
    this.broadcast({ type: 'stop' });
    const all = Promise.all(this.members.map((m) => m.exited));
    const timeout = new Promise<void>((r) => setTimeout(r, ms).unref());
    await Promise.race([all, timeout]);
    await Promise.all(this.members.map((m) => m.worker.terminate()));
  }

  /** Kill every worker at once (failure path). */
  async terminate(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.members.map((m) => m.worker.terminate()));
  }
}
