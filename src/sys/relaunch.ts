/**
 * Start this process again, in place, with some of node's own flags: one execve(2) of the same
 * node binary with the same script, arguments and environment, and the flags added. The pid
 * stays (a supervisor, `sudo`, a test that signals or pins it sees one process), stdin/stdout/
 * stderr stay (node marks them close-on-exec at start; they are unmarked first).
 *
 * Why: some V8 settings can only be given when the isolate is made, on node's command line, not
 * later (v8.setFlagsFromString is too late for heap sizing) and not in NODE_OPTIONS
 * (node refuses V8's heap-growing flags there). A CLI users run as `node dist/xsk.js` would
 * otherwise depend on everyone typing them. See cli/heap.ts for what xsk asks for and why.
 *
 * A flag the user gave on node's command line already (by name, any value, either polarity) is
 * theirs and is not added; once every flag is there nothing happens, so the new image does not
 * loop. If execve fails the process goes on as it is, and the caller is told why.
 */
import koffi from 'koffi';
import { libc } from './libc.js';

const execve = libc.func('int execve(const char *path, const char **argv, const char **envp)') as (
  path: string,
  argv: (string | null)[],
  envp: (string | null)[],
) => number;
const fcntl = libc.func('int fcntl(int fd, int cmd, ...)') as (fd: number, cmd: number, ...rest: unknown[]) => number;
const F_SETFD = 2;

/**
 * The flags in `want` (`--name=value`, `--name`, `--no-name`) that node was not started with, by
 * name: `--memory-reducer` given is the user's choice about `--no-memory-reducer`.
 */
export function missingNodeFlags(want: string[], execArgv: string[] = process.execArgv): string[] {
  const name = (f: string) => f.split('=')[0].replace(/_/g, '-').replace(/^--no-/, '--');
  const have = new Set(execArgv.map(name));
  return want.filter((f) => !have.has(name(f)));
}

/**
 * Replace this process with node started with `flags` added. Returns only if nothing was
 * missing (undefined) or the kernel refused (the reason as text).
 */
export function relaunchWithNodeFlags(flags: string[]): string | undefined {
  const add = missingNodeFlags(flags);
  if (add.length === 0) return undefined;
  for (const fd of [0, 1, 2]) fcntl(fd, F_SETFD, 'int', 0);
  const argv = [process.execPath, ...process.execArgv, ...add, ...process.argv.slice(1), null];
  const env = [...Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ''}`), null];
  execve(process.execPath, argv, env);
  return `execve ${process.execPath}: errno ${koffi.errno()}`;
}
