/**
 * The receive loop: drains a port in batches and hands frames to a handler, while leaving the
 * event loop free for timers, signals and servers.
 *
 * Busy: up to `batchesPerTick` batches, then setImmediate (other callbacks run in between).
 * Idle: spin a few more ticks (traffic often comes back within microseconds), then wait in
 * poll() on a koffi worker thread, with a timeout so stop() is never kept waiting long.
 * The loop touches nothing global: a worker thread per queue can run the same code.
 */
import type { FrameHandler, Port } from '../port/port.js';

export interface RxLoopOptions {
  batchSize?: number;
  batchesPerTick?: number;
  /** Empty ticks before parking in poll(). */
  idleSpins?: number;
  pollTimeoutMs?: number;
}

export class RxLoop {
  private running = false;
  private idle = 0;
  private stopped?: () => void;
  private readonly batchSize: number;
  private readonly batchesPerTick: number;
  private readonly idleSpins: number;
  private readonly pollTimeoutMs: number;
  /** Ticks that ended in a poll() wait (for diagnostics). */
  waits = 0;

  constructor(
    private readonly port: Port,
    private readonly handler: FrameHandler,
    opts: RxLoopOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 64;
    this.batchesPerTick = opts.batchesPerTick ?? 64;
    this.idleSpins = opts.idleSpins ?? 200;
    this.pollTimeoutMs = opts.pollTimeoutMs ?? 50;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    setImmediate(this.tick);
  }

  /** Resolves once the loop has stopped touching the port (then it may be closed). */
  stop(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      this.stopped = resolve;
      this.running = false;
    });
  }

  private readonly tick = (): void => {
    if (!this.running) {
      this.stopped?.();
      return;
    }
    let got = 0;
    for (let b = 0; b < this.batchesPerTick; b++) {
      const n = this.port.receive(this.batchSize, this.handler);
      got += n;
      if (n < this.batchSize) break;
    }
    if (got > 0) {
      this.idle = 0;
      setImmediate(this.tick);
    } else if (++this.idle < this.idleSpins) {
      setImmediate(this.tick);
    } else {
      this.idle = 0;
      this.waits++;
      this.port.wait(this.pollTimeoutMs, this.tick);
    }
  };
}
