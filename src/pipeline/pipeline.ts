/**
 * The frame handler every port calls: parse in place, count what arrived, count malformed
 * frames by reason (and drop them), then hand valid datagrams to the stages in order. With a
 * clock and histograms it also measures kernel-RX → userspace for every stamped frame (the XDP
 * program stamps 1 in N: --latency-sample) and kernel-RX → TX for every stamped frame sent
 * (taken once the port has kicked TX, at endBatch).
 */
import { Verdict, type FrameHandler } from '../port/port.js';
import { FrameParser } from '../frame/parse.js';
import { InvalidCounters } from '../frame/invalid-reason.js';
import { NEXT, type Stage } from './stage.js';
import { RxClock } from './rx-clock.js';
import type { LatencyRecorder } from './shared-histogram.js';
import { clock, tick } from '../sys/clock.js';

export class Pipeline implements FrameHandler {
  readonly parser = new FrameParser();
  readonly invalid = new InvalidCounters();
  packets = 0;
  bytes = 0;
  /** Valid UDP datagrams and their payload bytes. */
  datagrams = 0;
  payloadBytes = 0;
  private readonly stages: Stage[];
  private readonly batchEnders: Stage[];
  private readonly clock: RxClock;
  private readonly latency?: LatencyRecorder;
  /** Receive times of this batch's frames that are going out on TX. */
  private readonly txTimes = new Float64Array(4096);
  private txCount = 0;

  constructor(stages: Stage[] = [], opts: { clock?: RxClock; latency?: LatencyRecorder } = {}) {
    this.stages = stages;
    this.batchEnders = stages.filter((s) => s.endBatch !== undefined);
    this.clock = opts.clock ?? new RxClock(false);
    this.latency = opts.latency;
  }

  beginBatch(): void {
    this.clock.beginBatch();
  }

  frame(buf: Uint8Array, off: number, len: number): Verdict {
    this.packets++;
    this.bytes += len;
    const clock = this.clock;
    const stamped = clock.readFrameTime(buf, off);
    const rxNs = clock.frameNs[0];
    const lat = this.latency;
    // The XDP program stamps a sample of the frames: only those are timed from the kernel.
    // Where no frame has had a stamp (no metadata on this driver; AF_PACKET) every frame is
    // timed from the userspace receive time (rx_to_tx; rx_to_user would be ~0).
    if (lat !== undefined && stamped) lat.rx_to_user.recordValue(clock.batchNs - rxNs);
    const timed = stamped || clock.stamped === 0;
    const p = this.parser;
    const reason = p.parse(buf, off, len);
    if (reason >= 0) {
      this.invalid.count(reason);
      return Verdict.Drop;
    }
    this.datagrams++;
    this.payloadBytes += p.payloadLength;
    p.rxNs = rxNs;
    const stages = this.stages;
    for (let i = 0; i < stages.length; i++) {
      const v = stages[i].datagram(buf, off, len, p);
      if (v !== NEXT) {
        if (v === Verdict.Transmit && timed && lat !== undefined && this.txCount < this.txTimes.length) this.txTimes[this.txCount++] = rxNs;
        return v;
      }
    }
    return Verdict.Drop;
  }

  endBatch(): void {
    const batchEnders = this.batchEnders;
    for (let i = 0; i < batchEnders.length; i++) batchEnders[i].endBatch!();
    const n = this.txCount;
    if (n === 0 || this.latency === undefined) return;
    this.txCount = 0;
    tick(); // the clock RxClock reads, without boxing a return value (sys/clock.ts)
    const now = clock[1];
    const h = this.latency.rx_to_tx;
    for (let i = 0; i < n; i++) h.recordValue(now - this.txTimes[i]);
  }

  /** 'kernel' when frames carry the XDP program's receive stamp, 'userspace' when they don't. */
  timeSource(): 'kernel' | 'userspace' | 'none' {
    const c = this.clock;
    return c.stamped > 0 ? 'kernel' : c.unstamped > 0 ? 'userspace' : 'none';
  }
}
