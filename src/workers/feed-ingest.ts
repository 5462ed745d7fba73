/**
 * The main thread's side of the workers' feed rings: every millisecond (and once more at the
 * end) it drains each queue's ring into the feed, in one place, so the feed's sequence numbers
 * are global and contiguous across queues. Records are handed to the feed's own stage through
 * a parser whose fields are set from the record (the stage reads only those fields).
 */
import { FrameParser } from '../frame/parse.js';
import type { FeedStage } from '../feed/stage.js';
import { FeedRingReader, type FeedRecordSink, type FeedRingBuffers } from './feed-ring.js';

export class FeedIngest implements FeedRecordSink {
  private readonly readers: FeedRingReader[];
  private readonly p = new FrameParser();
  private timer?: NodeJS.Timeout;
  records = 0;

  constructor(
    private readonly stage: FeedStage,
    rings: FeedRingBuffers[],
  ) {
    this.readers = rings.map((r) => new FeedRingReader(r));
  }

  start(): void {
    this.timer = setInterval(() => this.drain(), 1);
  }

  stop(): void {
    clearInterval(this.timer);
    this.drain();
  }

  drain(): number {
    let n = 0;
    for (const r of this.readers) n += r.drain(this);
    return n;
  }

  record(data: Uint8Array, off: number, len: number, rxNs: number, family: number, addrOff: number, srcPort: number, dstPort: number): void {
    const p = this.p;
    p.ipVersion = family;
    p.srcAddrOffset = addrOff;
    p.srcPort = srcPort;
    p.dstPort = dstPort;
    p.payloadOffset = off;
    p.payloadLength = len;
    this.records++;
    this.stage.datagram(data, off, len, p, rxNs);
  }
}
