/**
 * The receive loop: drains a port in batches and hands frames to a handler, while leaving the
 * event loop free for timers, signals and servers.
 *
 * Busy: up to `batchesPerTick` batches, then setImmediate (other callbacks run in between).
 * Idle: keep polling the ring (busy polling: traffic often comes back within microseconds) for
 * `busyPollUs` in all, checking it in place for up to 50 µs per tick; then wait in poll() on a
 * koffi worker thread, with a timeout so stop() is never kept waiting long. Parking gives the
 * CPU back: on a machine with few cores a loop that spins for long takes it from the very
 * processes (and softirqs) that produce and consume its traffic, and latency suffers.
 * The loop touches nothing global: a worker thread per queue can run the same code.
 */
import type { FrameHandler, Port } from '../port/port.js';

export interface RxLoopOptions {
  batchSize?: number;
  batchesPerTick?: number;
  /** How long the ring may stay empty, busy-polled, before the loop parks in poll() (µs). */
  busyPollUs?: number;
  pollTimeoutMs?: number;
  /** Within a tick, how long to keep checking an empty ring before yielding (µs). */
  spinUs?: number;
}

export class RxLoop {
  private running = false;
  /** performance.now() when the ring was first found empty, or -1 while traffic flows. */
  private idleSince = -1;
  private stopped?: () => void;
  private readonly batchSize: number;
  private readonly batchesPerTick: number;
  private readonly busyPollMs: number;
  private readonly pollTimeoutMs: number;
  private readonly spinUs: number;
  /** Ticks that ended in a poll() wait (for diagnostics). */
  waits = 0;

  constructor(
    private readonly port: Port,
    private readonly handler: FrameHandler,
    opts: RxLoopOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 64;
    this.batchesPerTick = opts.batchesPerTick ?? 64;
    this.busyPollMs = (opts.busyPollUs ?? 200) / 1000;
    this.pollTimeoutMs = opts.pollTimeoutMs ?? 50;
    this.spinUs = opts.spinUs ?? 50;
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

  /**
   * Poll the port for up to `spinUs` µs without leaving this tick. Each setImmediate allocates
   * (an Immediate object, ~100 bytes); checking the ring in place does not, so a loop that is
   * faster than its traffic makes far fewer ticks, and far less garbage, this way.
   */
  private spin(): number {
    const until = performance.now() + Math.min(this.spinUs / 1000, this.busyPollMs);
    do {
      // Reading the clock boxes a double; check the ring 32 times per clock read.
      for (let i = 0; i < 32; i++) {
        const n = this.port.receive(this.batchSize, this.handler);
        if (n > 0) return n;
      }
    } while (performance.now() < until);
    return 0;
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
    if (got === 0 && this.busyPollMs > 0) got = this.spin();
    if (got > 0) {
      this.idleSince = -1;
      setImmediate(this.tick);
      return;
    }
    const now = performance.now();
    if (this.idleSince < 0) this.idleSince = now;
    if (now - this.idleSince < this.busyPollMs) {
      setImmediate(this.tick);
    } else {
      this.idleSince = -1;
      this.waits++;
      this.port.wait(this.pollTimeoutMs, this.tick);
    }
  };
}
