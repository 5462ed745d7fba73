/**
 * --cpus: the main thread watches whether it may run on the datapath CPUs (someone may move it
 * back there, as `taskset` does; V8's and libuv's helper threads follow its mask) and tells the
 * datapath threads when that changes, so that they give way (polite) or stop giving way.
 *
 * Here and not in the datapath: the datapath used to look every 20 ms from its control(), and
 * control() is kept rare during traffic (pipeline/blocking-loop.ts). One sched_getaffinity every
 * 20 ms costs this thread nothing. 20 ms because once a second was too slow: the feed bench moves
 * xsk's main thread onto the datapath's CPU right after start, and its first second of traffic
 * met a main thread starved by a loop that spun without yielding (whole-run p99 2.9-3.2 ms,
 * against 0.5-0.9 ms with the 20 ms look).
 */
import { mayRunOn } from './affinity.js';

export class AffinityWatch {
  private timer?: NodeJS.Timeout;
  private shared: boolean;

  constructor(
    private readonly cpus: number[],
    /** Called when the main thread's mask starts or stops covering any of `cpus`. */
    private readonly onChange: (shared: boolean) => void,
    private readonly everyMs = 20,
  ) {
    this.shared = mayRunOn(process.pid, cpus);
  }

  start(): void {
    this.timer = setInterval(() => this.check(), this.everyMs);
    this.timer.unref();
  }

  /** Look now; true when it changed (and onChange was called). */
  check(): boolean {
    const now = mayRunOn(process.pid, this.cpus);
    if (now === this.shared) return false;
    this.shared = now;
    this.onChange(now);
    return true;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
