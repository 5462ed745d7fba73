/** Running the benches' helper processes: pin a main thread, run a command that ends with a JSON line. */
import { execFileSync } from 'node:child_process';
import type { Sandbox } from '../../src/sandbox/netns.js';

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
