/**
 * The frame handler every port calls: parse in place, count what arrived, count malformed
 * frames by reason (and drop them), then hand valid datagrams to the stages in order.
 */
import { Verdict, type FrameHandler } from '../port/port.js';
import { FrameParser } from '../frame/parse.js';
import { InvalidCounters } from '../frame/invalid-reason.js';
import { NEXT, type Stage } from './stage.js';

export class Pipeline implements FrameHandler {
  readonly parser = new FrameParser();
  readonly invalid = new InvalidCounters();
  packets = 0;
  bytes = 0;
  /** Valid UDP datagrams and their payload bytes. */
  datagrams = 0;
  payloadBytes = 0;
  private readonly stages: Stage[];

  constructor(stages: Stage[] = []) {
    this.stages = stages;
  }

  frame(buf: Uint8Array, off: number, len: number): Verdict {
    this.packets++;
    this.bytes += len;
    const p = this.parser;
    const reason = p.parse(buf, off, len);
    if (reason >= 0) {
      this.invalid.count(reason);
      return Verdict.Drop;
    }
    this.datagrams++;
    this.payloadBytes += p.payloadLength;
    const stages = this.stages;
    for (let i = 0; i < stages.length; i++) {
      const v = stages[i].datagram(buf, off, len, p);
      if (v !== NEXT) return v;
    }
    return Verdict.Drop;
  }
}
