/**
 * ftrace's files (/sys/kernel/tracing) for the benches that trace: where they are, writing one,
 * and mounting tracefs for a run when it is not mounted.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';

export const TRACEFS = '/sys/kernel/tracing';

/** Write `value` into tracefs's file `file` (e.g. 'tracing_on', 'events/sched/sched_switch/enable'). */
export function traceWrite(file: string, value: string): void {
  writeFileSync(`${TRACEFS}/${file}`, value);
}

/** Mount tracefs if it is not; returns a function that undoes what it did. */
export function mountTracefs(): () => void {
  if (existsSync(`${TRACEFS}/trace`)) return () => {};
  execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS]);
  return () => execFileSync('umount', [TRACEFS]);
}
