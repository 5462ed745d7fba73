/**
 * The library's receive loop: drains a port in batches and hands frames to a handler while
 * leaving the event loop free for the caller's own timers, sockets and servers (the CLI's
 * datapath threads use blocking-loop.ts instead: they own their thread).
 *
 *   busy   up to `batchesPerTick` batches, then setImmediate (other callbacks run in between)
 *   idle   keep polling the ring for `busyPollUs` in all (traffic often comes back within µs),
 *          checking it in place for up to 50 µs a tick; then wait in poll() on a koffi helper
 *          thread (port.wait), with a timeout so that stop() is never kept waiting long.
 *
 * Parking gives the CPU back: on a machine with few cores a loop that spins for long takes it
 * from the very processes (and softirqs) that produce and consume its traffic. A wakeup from
 * the parked state costs two thread switches (kernel → koffi's helper thread → event loop);
 * a thread of its own parked in poll() (blocking-loop.ts) needs one.
 *
 * (The design of the event-loop loop the CLI used before it moved its datapath to threads:
 * git show a2606e5:src/rx/loop.ts. New here: a handler that throws stops the loop cleanly.)
 */
import type { FrameHandler, Port } from '../port/port.js';
// Not performance.now(), which boxes its result wherever V8 does not inline it (sys/clock.ts).
import { clock, tick } from '../sys/clock.js';

export interface EventLoopOptions {
  /** Frames per port.receive() call (default 64). */
  batchSize?: number;
  /** Batches back to back before the loop yields to the event loop (default 16). */
  batchesPerTick?: number;
  /** How long the ring may stay empty, polled, before the loop parks in poll() (µs; default 50; 0: park at once). */
  busyPollUs?: number;
  /** How long one park lasts at most (ms; default 50): bounds how long stop() waits. */
  pollTimeoutMs?: number;
  /** Within a tick, how long to keep checking an empty ring before yielding (µs; default 50). */
  spinUs?: number;
  /**
   * Called when the handler throws: the loop has stopped (the port's rings are consistent, see
   * the port's receive()). Without it, the error is thrown from the loop's callback: an
   * uncaught exception, as an EventEmitter's 'error' without a listener.
   */
  onError?: (err: unknown) => void;
}

export class EventLoop {
  private running = false;
  private idleSince = -1;
  private stopped?: () => void;
  private readonly batchSize: number;
  private readonly batchesPerTick: number;
  private readonly busyPollMs: number;
  private readonly pollTimeoutMs: number;
  private readonly spinUs: number;
  /** Ticks that ended parked in poll(). */
  waits = 0;
  /** The error that stopped the loop, if a handler threw. */
  error: unknown = undefined;

  constructor(
    private readonly port: Pick<Port, 'receive' | 'wait'>,
    private readonly handler: FrameHandler,
    private readonly opts: EventLoopOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 64;
    this.batchesPerTick = opts.batchesPerTick ?? 16;
    this.busyPollMs = (opts.busyPollUs ?? 50) / 1000;
    this.pollTimeoutMs = opts.pollTimeoutMs ?? 50;
    this.spinUs = opts.spinUs ?? 50;
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): this {
    if (this.running) return this;
    this.running = true;
    this.schedule(false);
    return this;
  }

  /** Resolves once the loop has stopped touching the port (then the port may be closed). */
  stop(): Promise<void> {
    if (!this.running && !this.pending) return Promise.resolve();
    return new Promise((resolve) => {
      const before = this.stopped;
      this.stopped = () => {
        before?.();
        resolve();
      };
      this.running = false;
    });
  }

  /** Whether a tick or a wait is still scheduled (stop() waits for it). */
  private pending = false;

  private spin(): number {
    tick();
    const until = clock[0] + Math.min(this.spinUs / 1000, this.busyPollMs);
    do {
      // A clock read is an FFI call (~0.1 µs): check the ring 32 times per read.
      for (let i = 0; i < 32; i++) {
        const n = this.port.receive(this.batchSize, this.handler);
        if (n > 0) return n;
      }
      tick();
    } while (clock[0] < until);
    return 0;
  }

  private schedule(parked: boolean): void {
    this.pending = true;
    if (parked) this.port.wait(this.pollTimeoutMs, this.tick);
    else setImmediate(this.tick);
  }

  private finish(): void {
    this.pending = false;
    const s = this.stopped;
    this.stopped = undefined;
    s?.();
  }

  private readonly tick = (): void => {
    this.pending = false;
    if (!this.running) return this.finish();
    let got = 0;
    try {
      for (let b = 0; b < this.batchesPerTick; b++) {
        const n = this.port.receive(this.batchSize, this.handler);
        got += n;
        if (n < this.batchSize) break;
      }
      if (got === 0 && this.busyPollMs > 0) got = this.spin();
    } catch (e) {
      this.running = false;
      this.error = e;
      this.finish();
      if (this.opts.onError) this.opts.onError(e);
      else throw e;
      return;
    }
    if (got > 0) {
      this.idleSince = -1;
      return this.schedule(false);
    }
    tick();
    const now = clock[0];
    if (this.idleSince < 0) this.idleSince = now;
    if (now - this.idleSince < this.busyPollMs) return this.schedule(false);
    this.idleSince = -1;
    this.waits++;
    this.schedule(true);
  };
}
