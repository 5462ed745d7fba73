/** Running the benches' helper processes: pin a main thread, run a command that ends with a JSON line. */
import { execFileSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Sandbox } from '../../src/sandbox/netns.js';
import { lowerHelperThreads } from '../../src/run/sched.js';

/**
 * Give this bench process's threads but its main one nice 19. The harness is not what is
 * measured, yet in the feed bench ftrace showed its V8 and libuv helper threads (its own garbage
 * collections and compile jobs; ~50 ms of CPU over a 7 s run) holding xsk's main thread off its
 * CPU for 2.5-3.9 ms at a time, as often as anything else did. The main thread keeps nice 0: the
 * processes it spawns inherit its nice. Threads made later inherit their creator's.
 */
export function lowerHarnessHelpers(): number {
  return lowerHelperThreads([process.pid], 19);
}

/**
 * The harness's own garbage: collected now, before traffic, rather than when V8's memory reducer
 * decides to, a few seconds after the harness goes quiet, which is in the middle of a run (a
 * --cpu-prof of the feed bench: 12 ms of the harness's mark-compact, its helper threads with it,
 * in the latency run's traffic). The memory reducer is turned off as well.
 */
export function collectHarnessGarbage(): void {
  if (!harnessGc) {
    setFlagsFromString('--no-memory-reducer');
    setFlagsFromString('--expose-gc');
    harnessGc = runInNewContext('gc') as () => void;
  }
  harnessGc();
}
let harnessGc: (() => void) | undefined;

/** Pin one thread (the main thread: its tid is the pid) to a CPU. */
export const pinMain = (pid: number, cpu: number) => execFileSync('taskset', ['-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });

/**
 * Run a command in a namespace that ends with a JSON line on stdout. With `cpu`, its main thread
 * is pinned once it has said something on stderr (feed-client: "subscribed at"): by then node
 * has made its helper threads, and they keep their freedom; pinned at spawn, they would inherit
 * the pin.
 */
export function runJson(
  sb: Sandbox,
  ns: string,
  cmd: string,
  args: string[],
  cpu?: number,
): { pid: number; result: Promise<Record<string, any>>; firstErr: Promise<void> } {
  const child = sb.spawn(ns, cmd, args);
  let out = '';
  let err = '';
  let said = () => {};
  /** Resolves at its first stderr output (feed-client: "subscribed at"). */
  const firstErr = new Promise<void>((r) => (said = r));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    said();
    if (cpu !== undefined && err === '') {
      try {
        pinMain(child.pid!, cpu);
      } catch {
        // Already gone: its exit code and stderr tell why.
      }
    }
    err += d;
  });
  const result = new Promise<Record<string, any>>((resolve, reject) =>
    child.on('exit', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`${cmd} ${args[0]} exited ${code} without JSON: ${err}`));
      }
    }),
  );
  return { pid: child.pid!, result, firstErr };
}
