/**
 * --cpus: the main thread's watch over its own CPU mask (run/affinity-watch.ts), which tells the
 * datapath threads to give way or not. Moves this process's main thread (sched_setaffinity) and
 * puts its mask back.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { execFileSync } from 'node:child_process';
import { AffinityWatch } from '../../src/run/affinity-watch.js';
import { mayRunOn } from '../../src/run/affinity.js';

/** The main thread's mask as taskset prints it (a CPU list). */
const maskOf = (pid: number) => execFileSync('taskset', ['-pc', String(pid)], { encoding: 'utf8' }).trim().split(': ').pop()!;

describe('affinity watch', () => {
  it('says when the main thread starts and stops being allowed on the datapath CPUs', { skip: availableParallelism() < 2 ? 'needs 2 CPUs' : false }, () => {
    const before = maskOf(process.pid);
    const datapathCpu = availableParallelism() - 1;
    const changes: boolean[] = [];
    try {
      execFileSync('taskset', ['-pc', '0-' + (availableParallelism() - 1), String(process.pid)]);
      const watch = new AffinityWatch([datapathCpu], (shared) => changes.push(shared));
      assert.equal(watch.check(), false, 'nothing changed yet');
      // Off the datapath CPU, as keepOthersOff moves it:
      execFileSync('taskset', ['-pc', '0', String(process.pid)]);
      assert.equal(mayRunOn(process.pid, [datapathCpu]), false);
      assert.equal(watch.check(), true);
      assert.equal(watch.check(), false, 'told once');
      // Moved back by someone (taskset):
      execFileSync('taskset', ['-pc', `0,${datapathCpu}`, String(process.pid)]);
      assert.equal(watch.check(), true);
      assert.deepEqual(changes, [false, true]);
    } finally {
      execFileSync('taskset', ['-pc', before, String(process.pid)]);
    }
  });
});
