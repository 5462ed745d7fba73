/**
 * What kept one thread off its CPU over a span, from ftrace (/sys/kernel/tracing): each time it
 * slept (parked in poll(), say), how long from the kernel waking it (sched_waking) to it running
 * (sched_switch in), and each time it was preempted, how long until it ran again and who ran
 * instead. For benches that ask why a receiver was late: a frame that arrived meanwhile waited
 * at least that long.
 *
 *   const t = OffCpuTrace.start(tid); ...traffic...; const s = t.stop();
 *
 * One trace at a time (it owns the trace buffer); tracefs must be mounted (tracefs.ts's mountTracefs()).
 */
import { readFileSync } from 'node:fs';
import { TRACEFS as T, traceWrite as w } from './tracefs.js';

export interface OffCpu {
  /** Times the thread went to sleep (blocked: parked, or waiting on anything else). */
  sleeps: number;
  /** The longest time from a wake-up of the thread to it running, µs. */
  max_wake_us: number;
  /** Preemptions (switched out while runnable), the longest in µs, and who ran at its start. */
  preemptions: number;
  max_preempt_us: number;
  preempted_by: string;
}

export class OffCpuTrace {
  private constructor(private readonly tid: number) {}

  static start(tid: number): OffCpuTrace {
    w('tracing_on', '0');
    w('trace', '');
    w('trace_clock', 'mono'); // one clock for every CPU: the waking and the switch are on different ones
    w('events/sched/sched_switch/filter', `prev_pid == ${tid} || next_pid == ${tid}`);
    w('events/sched/sched_waking/filter', `pid == ${tid}`);
    w('events/sched/sched_switch/enable', '1');
    w('events/sched/sched_waking/enable', '1');
    w('tracing_on', '1');
    return new OffCpuTrace(tid);
  }

  stop(): OffCpu {
    w('tracing_on', '0');
    const lines = readFileSync(`${T}/trace`, 'utf8').split('\n');
    w('events/sched/sched_switch/enable', '0');
    w('events/sched/sched_waking/enable', '0');
    w('events/sched/sched_switch/filter', '0');
    w('events/sched/sched_waking/filter', '0');
    w('trace', '');
    return OffCpuTrace.parse(lines, this.tid);
  }

  /** The trace's lines (ftrace's text format) for thread `tid`. */
  static parse(lines: string[], tid: number): OffCpu {
    const r: OffCpu = { sleeps: 0, max_wake_us: 0, preemptions: 0, max_preempt_us: 0, preempted_by: '' };
    let outAt = NaN;
    let slept = false;
    let by = '';
    let wokeAt = NaN;
    for (const l of lines) {
      const ts = /\s(\d+\.\d+): sched_/.exec(l);
      if (!ts) continue;
      const t = Number(ts[1]) * 1e6;
      if (l.includes('sched_waking:')) {
        if (slept && Number.isNaN(wokeAt)) wokeAt = t;
        continue;
      }
      const m = /prev_comm=(.*) prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> next_comm=(.*) next_pid=(\d+)/.exec(l);
      if (!m) continue;
      if (Number(m[2]) === tid) {
        outAt = t;
        slept = !m[3].startsWith('R');
        by = m[4];
        wokeAt = NaN;
        if (slept) r.sleeps++;
        else r.preemptions++;
      } else if (Number(m[5]) === tid && !Number.isNaN(outAt)) {
        if (slept && !Number.isNaN(wokeAt)) r.max_wake_us = Math.max(r.max_wake_us, t - wokeAt);
        if (!slept && t - outAt > r.max_preempt_us) {
          r.max_preempt_us = t - outAt;
          r.preempted_by = by;
        }
        outAt = NaN;
      }
    }
    r.max_wake_us = Math.round(r.max_wake_us);
    r.max_preempt_us = Math.round(r.max_preempt_us);
    return r;
  }
}
