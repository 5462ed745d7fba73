/**
 * The default frame handler: parse in place, count what arrived, count malformed frames by
 * reason, drop. Later stages (forwarding, the feed) replace or wrap it.
 */
import { Verdict, type FrameHandler } from '../port/port.js';
import { FrameParser } from '../frame/parse.js';
import { InvalidCounters } from '../frame/invalid-reason.js';

export class CountHandler implements FrameHandler {
  readonly parser = new FrameParser();
  readonly invalid = new InvalidCounters();
  packets = 0;
  bytes = 0;
  /** Valid UDP datagrams and their payload bytes. */
  datagrams = 0;
  payloadBytes = 0;

  frame(buf: Uint8Array, off: number, len: number): Verdict {
    this.packets++;
    this.bytes += len;
    const reason = this.parser.parse(buf, off, len);
    if (reason >= 0) {
      this.invalid.count(reason);
    } else {
      this.datagrams++;
      this.payloadBytes += this.parser.payloadLength;
    }
    return Verdict.Drop;
  }
}
