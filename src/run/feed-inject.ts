/**
 * Datagrams put into a feed the way the datapath hands them over: written into a feed ring of
 * its own and drained by a FeedIngest, so they take the live path (ring reader → ingest → feed
 * stage). For the feed's warm start and for tests; not for the hot path (the datagram's
 * fields are arguments here). flush() drains at once; after start(), the ingest's own loop does,
 * woken by the ring's doorbell as the live one is.
 */
import type { FeedStage } from '../feed/stage.js';
import { FrameParser } from '../frame/parse.js';
import { FeedIngest } from './feed-ingest.js';
import { createFeedRing, createFeedWake, FeedRingWriter } from './feed-ring.js';

export class FeedInjector {
  private readonly writer: FeedRingWriter;
  private readonly ingest: FeedIngest;
  private readonly view = new FrameParser();
  private started = false;

  constructor(stage: FeedStage, ringBytes = 1 << 20) {
    const ring = createFeedRing(ringBytes);
    const wake = createFeedWake();
    this.writer = new FeedRingWriter(ring, wake.writer);
    this.ingest = new FeedIngest(stage, [ring], [wake.reader]);
  }

  /**
   * One datagram: payload `data[off, off+len)`, source address at `data[addrOff]` (4 or 16
   * bytes by `family`). Goes in with the next flush(), or at once when the ring is full.
   */
  put(data: Uint8Array, off: number, len: number, rxNs: number, family: 4 | 6, addrOff: number, srcPort: number, dstPort: number): void {
    const v = this.view;
    v.payloadOffset = off;
    v.payloadLength = len;
    v.rxNs = rxNs;
    v.ipVersion = family;
    v.srcAddrOffset = addrOff;
    v.srcPort = srcPort;
    v.dstPort = dstPort;
    if (this.writer.write(data, v)) return;
    this.writer.commit();
    this.ingest.drain();
    if (!this.writer.write(data, v)) throw new Error(`feed injector: a ${len}-byte datagram does not fit its ring`);
  }

  /** Hand everything put so far to the feed's stage (started: ring the ingest's doorbell). */
  flush(): void {
    this.writer.commit();
    if (!this.started) this.ingest.drain();
  }

  /** From now on the ingest's loop drains, woken by the doorbell (until stop()). */
  start(): void {
    this.started = true;
    this.ingest.start();
  }

  /** Drain what is left and stop the ingest's loop. */
  stop(): void {
    this.writer.commit();
    this.started = false;
    this.ingest.stop();
  }
}
