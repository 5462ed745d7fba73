/**
 * Timers longer than Node's: setTimeout/setInterval take at most 2^31 − 1 ms (~24.8 days) and
 * turn anything longer into 1 ms (with a TimeoutOverflowWarning). `longTimeout` waits in steps
 * of at most that much, so any duration up to MAX_TIMER_MS fires once, when it should.
 */

/** The most setTimeout itself takes. */
export const NODE_TIMER_MAX_MS = 2 ** 31 - 1;
/** The most longTimeout takes: ten years. */
export const MAX_TIMER_MS = 10 * 365.25 * 24 * 3600 * 1000;

export interface LongTimer {
  /** Cancel it (no effect once it has fired). */
  clear(): void;
  /** Like Timeout.unref(): it does not keep the process alive. */
  unref(): LongTimer;
}

/**
 * Call `fn` once after `ms` milliseconds (0 ≤ ms ≤ MAX_TIMER_MS; throws a RangeError otherwise).
 * `now` is the clock it measures with (for tests).
 */
export function longTimeout(fn: () => void, ms: number, now: () => number = () => performance.now()): LongTimer {
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIMER_MS) throw new RangeError(`timer of ${ms} ms: expected 0 to ${MAX_TIMER_MS} ms`);
  const due = now() + ms;
  let handle: NodeJS.Timeout | undefined;
  let unrefd = false;
  const arm = (): void => {
    const left = due - now();
    if (left <= NODE_TIMER_MAX_MS) {
      handle = setTimeout(fn, Math.max(0, left));
    } else {
      handle = setTimeout(arm, NODE_TIMER_MAX_MS);
    }
    if (unrefd) handle.unref();
  };
  arm();
  const timer: LongTimer = {
    clear: () => clearTimeout(handle),
    unref: () => {
      unrefd = true;
      handle?.unref();
      return timer;
    },
  };
  return timer;
}
