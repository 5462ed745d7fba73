/**
 * The park addon (native/park/park.cc): poll() and CLOCK_MONOTONIC as plain V8 callbacks, for
 * the datapath thread's wait for frames and the clock it reads right after.
 *
 * Why not koffi, as every other system call here: a koffi call after a quiet spell is slow, as
 * it walks a lot of cold memory, and the first frame of a burst waits for it. Traced on this VM
 * with ftrace, from poll()'s return in the kernel (sys_exit) to the first clock reading in JS
 * after 100 ms asleep: koffi 25-29 µs, this addon 11-12, an N-API addon 17, C 8.
 * bench/wake-cost.ts measures it side by side, from the same sys_exit.
 * Hot, either costs a fraction of a µs (the addon's clock read ~45 ns, koffi's 70-95).
 *
 * Loaded once per thread. Without it (not built, another node ABI, or XSK_PARK_ADDON=0) the same
 * calls go through koffi: `parkFallback` says why, and the runner logs it.
 */
import { loadNativeAddon } from './native-addon.js';

export interface ParkAddon {
  /** Register a struct pollfd array (kept alive by the addon); its id for wait(). */
  watch(pollfds: Uint8Array): number;
  /** poll() on the first `nfds` entries of a registered array: poll()'s result (-1: error). */
  wait(id: number, nfds: number, timeoutMs: number): number;
  /** Register the array tick() writes into: [0] ms, [1] whole ns. */
  clock(into: Float64Array): void;
  /** CLOCK_MONOTONIC into the registered array. */
  tick(): void;
}

function load(): ParkAddon {
  if (process.env.XSK_PARK_ADDON === '0') throw new Error('XSK_PARK_ADDON=0');
  return loadNativeAddon<ParkAddon>('park');
}

let addon: ParkAddon | undefined;
let reason: string | undefined;
try {
  addon = load();
} catch (e) {
  reason = (e as Error).message.split('\n')[0];
}

/** The addon, or undefined: then koffi makes these calls. */
export const park: ParkAddon | undefined = addon;
/** Why koffi waits and reads the clock instead of the addon; undefined when the addon does. */
export const parkFallback: string | undefined = reason;
