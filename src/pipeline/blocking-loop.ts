/**
 * The receive loop of a datapath thread: a plain loop that owns its thread, as a C receiver's
 * does. Nothing else runs on the thread (the main thread is the control plane), so the loop
 * never yields to an event loop; it looks at its control channel between batches instead.
 *
 *   traffic   up to `batchesPerRound` batches back to back, then control() if it is due
 *   idle      keep polling the ring for `busyPollUs` (traffic often comes back within µs).
 *             With its CPU to itself the loop just spins, as a C receiver does. Sharing it
 *             (`polite`), each empty round yields the CPU (sched_yield), and if that let another
 *             thread run for a while (a yield that took > 50 µs), the CPU is wanted elsewhere:
 *             stop spinning and park at once for the next 100 ms. A spinning thread that shares
 *             its core with a busy one (the main thread encoding the feed, say) would otherwise
 *             take half of it, and a parked one is woken ahead of it when a frame comes.
 *   parked    poll() on the socket, blocking this thread: a frame that arrives wakes it with
 *             one kernel → thread wakeup. The timeout (`pollTimeoutMs`) bounds how late a
 *             control message (stop, new rules) is seen while nothing arrives.
 *
 * control() runs when a message came (`mail` moved), every `controlEveryMs` while busy, and
 * after every park that ends without frames (one that ends with frames puts it off by
 * `controlEveryMs`); it returns false to end the loop. Seldom, so that a burst shorter than
 * `controlEveryMs` never meets it: it runs code that the frame path does not, cold each time.
 * Measured with a per-frame record of 4,000-frame bursts after idle: a control() that did next
 * to nothing took 12-45 µs in the middle of a burst, whether V8 had it in baseline, interpreted or
 * optimized code, and the 17-34 frames that came meanwhile made that burst's p99. Every 5 ms, as
 * it ran before, it cost each burst one such stall; reading `mail` is one load in hot code.
 * `idle()` runs when the loop has been parked for `idleEveryMs` in a row (the warm start uses it
 * to check that V8 still has the hot path compiled).
 */
import type { FrameHandler, Port } from '../port/port.js';
import { sched_yield } from '../sys/libc.js';
// Not performance.now(): its result is boxed wherever V8 does not inline it, and this loop reads
// the clock ~300,000 times a second when idle; the garbage made the datapath thread scavenge,
// and wait for V8's helper threads (sys/clock.ts). tick() then clock[0], in ms.
import { clock, tick } from '../sys/clock.js';

/** A sched_yield() that took longer than this (ms) gave the CPU to someone who wanted it. */
const CONTENDED_YIELD_MS = 0.05;
/** After that, park at once when idle for this long (ms) before spinning again. */
const POLITE_MS = 100;

export interface BlockingLoopOptions {
  batchSize?: number;
  batchesPerRound?: number;
  /** How long the ring may stay empty, busy-polled, before the loop parks in poll() (µs). */
  busyPollUs?: number;
  pollTimeoutMs?: number;
  /** control() at least this often while frames flow (ms). */
  controlEveryMs?: number;
  /**
   * A count that whoever sends this thread messages bumps after each (Atomics): control() runs
   * at the next round after it moves.
   */
  mail?: Int32Array;
  idleEveryMs?: number;
  /** Give way when the CPU is wanted (the rule above; default on). See `polite`. */
  polite?: boolean;
  /** A yield longer than this (µs) means the CPU was wanted (default 50). */
  contendedYieldUs?: number;
}

/**
 * What the loop calls between batches. One class for every user (the live datapath, the warm
 * start), so the loop's compiled code sees one call target here whoever drives it: a second
 * one would make V8 throw that code away ("wrong feedback cell") at the first live batch.
 */
export class LoopHooks {
  constructor(
    /**
     * Between batches, when due: handle control messages (`mailed`: the mail count moved since
     * the last call, so the port has some), publish counters. False: stop.
     */
    private readonly onControl: (mailed: boolean) => boolean,
    /** After a long quiet spell (no frames for `idleEveryMs`). */
    private readonly onIdle: () => void = () => {},
  ) {}

  control(mailed: boolean): boolean {
    return this.onControl(mailed);
  }

  idle(): void {
    this.onIdle();
  }
}

export class BlockingLoop {
  private readonly batchSize: number;
  private readonly batchesPerRound: number;
  private readonly busyPollMs: number;
  private readonly pollTimeoutMs: number;
  private readonly controlEveryMs: number;
  private readonly mail: Int32Array;
  /**
   * The mail count control() last ran at. Kept across run()s, from 0: a message posted while the
   * loop was out (the datapath's snapshot turn) or before it first ran moves it past this, and
   * control() runs at the first round.
   */
  private seenMail = 0;
  private readonly idleEveryMs: number;
  private readonly contendedYieldMs: number;
  /**
   * Whether to give way (the idle rule above). The datapath turns it off while no other thread
   * of the process may run on this thread's CPU (--cpus keeps them off, unless someone moved one
   * back): a kernel thread that ran during a yield says nothing about our main thread, and
   * parking at every empty ring for the next 100 ms cost each of a burst's lulls a wakeup
   * (~60-90 µs here).
   */
  polite: boolean;
  /** Times the loop parked in poll(), and how many of those ended with frames ready. */
  parks = 0;
  wakeups = 0;
  /** Busy polls cut short because another thread wanted the CPU. */
  yielded = 0;

  constructor(
    private readonly port: Port,
    private readonly handler: FrameHandler,
    opts: BlockingLoopOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 64;
    this.batchesPerRound = opts.batchesPerRound ?? 16;
    this.busyPollMs = (opts.busyPollUs ?? 200) / 1000;
    this.pollTimeoutMs = opts.pollTimeoutMs ?? 100;
    this.controlEveryMs = opts.controlEveryMs ?? 100;
    this.mail = opts.mail ?? new Int32Array(1);
    this.idleEveryMs = opts.idleEveryMs ?? 1000;
    this.polite = opts.polite ?? true;
    this.contendedYieldMs = (opts.contendedYieldUs ?? CONTENDED_YIELD_MS * 1000) / 1000;
  }

  /** Runs until hooks.control() returns false. Blocks the calling thread. */
  run(hooks: LoopHooks): void {
    const port = this.port;
    const handler = this.handler;
    const batchSize = this.batchSize;
    const mail = this.mail;
    tick();
    let lastControl = clock[0];
    // Flags, not sentinel values (-1) in the time variables: a compare that only ever saw the
    // small integer -1 while warming is compiled for small integers, and the live loop's first
    // idle spell (a time there) threw that code away.
    let idle = false;
    let idleSince = 0;
    let quiet = false;
    let quietSince = 0;
    /** Until when to park at once instead of busy-polling (the CPU is wanted elsewhere). */
    let politeUntil = -1;
    for (;;) {
      let got = 0;
      for (let b = 0; b < this.batchesPerRound; b++) {
        const n = port.receive(batchSize, handler);
        got += n;
        if (n < batchSize) break;
      }
      tick();
      const now = clock[0];
      // The mail first: both ways through it are compiled by the warm start (whose loops run
      // control() every round, so a time test first would leave this load never run there).
      const m = Atomics.load(mail, 0);
      const mailed = m !== this.seenMail;
      if (mailed || now - lastControl >= this.controlEveryMs) {
        this.seenMail = m;
        lastControl = now;
        if (!hooks.control(mailed)) return;
      }
      if (got > 0) {
        idle = false;
        quiet = false;
        continue;
      }
      if (!idle) {
        idle = true;
        idleSince = now;
      }
      if (now - idleSince < this.busyPollMs) {
        // With the CPU to itself, spin as a C receiver does. A yield is a syscall (~1 µs here)
        // that a frame arriving meanwhile waits out, and it hands the CPU to any other process's
        // thread that wants it: with it, a burst's p50 rx_to_user was 0.8-1.1 µs, without it
        // 0.4-0.5 (C's 0.35-0.4), as the loop spends the lulls between frames here.
        if (!this.polite) continue;
        // A spell of politeness ends as soon as the loop need not be polite any more.
        if (now >= politeUntil) {
          sched_yield();
          tick();
          const after = clock[0];
          if (after - now < this.contendedYieldMs) continue;
          this.yielded++;
          politeUntil = after + POLITE_MS;
        }
      }
      // Park. A timeout leaves the loop idle (it parks again after control()); frames reset it.
      this.parks++;
      if (port.waitSync(this.pollTimeoutMs) > 0) {
        this.wakeups++;
        tick();
        idle = false;
        quiet = false;
        // Traffic woke the loop: its first frames first. control() would otherwise be due at
        // once (the last one ran before the park), and after a quiet spell its code is
        // cache-cold: ~20 µs, which the frames arriving behind the first batch waited.
        lastControl = clock[0];
      } else {
        tick();
        const t = clock[0];
        lastControl = t;
        const m = Atomics.load(mail, 0);
        const mailed = m !== this.seenMail;
        this.seenMail = m;
        if (!hooks.control(mailed)) return;
        if (!quiet) {
          quiet = true;
          quietSince = t;
        } else if (t - quietSince >= this.idleEveryMs) {
          quietSince = t;
          hooks.idle();
        }
      }
    }
  }
}
