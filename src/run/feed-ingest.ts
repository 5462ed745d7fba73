/**
 * The main thread's side of the workers' feed rings: woken by the rings' doorbell when a worker
 * publishes (and once more at the end), it drains each queue's ring into the feed, in one place,
 * so the feed's sequence numbers are global and contiguous across queues. While records keep
 * coming it drains once per event-loop turn; it parks on the doorbell only when all are empty.
 * Records are handed to the feed's own stage as the ring reader's view of them (the stage reads
 * only the fields the reader sets).
 */
import type { Datagram } from '../frame/datagram.js';
import type { FeedStage } from '../feed/stage.js';
import { Doorbell, FeedRingReader, type FeedRecordSink, type FeedRingBuffers } from './feed-ring.js';

export class FeedIngest implements FeedRecordSink {
  private readonly readers: FeedRingReader[];
  private readonly bell?: Doorbell;
  private running = false;
  records = 0;
  /** How often the reader was woken by the doorbell (diagnostics). */
  wakeups = 0;

  constructor(
    private readonly stage: FeedStage,
    rings: FeedRingBuffers[],
  ) {
    this.readers = rings.map((r) => new FeedRingReader(r));
    if (rings.length > 0) this.bell = new Doorbell(rings[0].doorbell);
  }

  start(): void {
    this.running = true;
    this.step();
  }

  stop(): void {
    this.running = false;
    this.bell?.disarm();
    this.drain();
  }

  /**
   * One look at the rings. Busy: come back after whatever else this turn of the event loop has
   * to do (one Immediate a turn, no promise). All empty: park on the doorbell.
   */
  private readonly step = (): void => {
    const bell = this.bell;
    if (!bell || !this.running) return;
    if (this.drain() > 0) {
      setImmediate(this.step);
      return;
    }
    const seen = bell.arm();
    // A record published before arm() would not ring: look once more before sleeping.
    if (this.drain() > 0) {
      bell.disarm();
      setImmediate(this.step);
      return;
    }
    // The timeout only bounds how long stop() can leave it parked; records ring.
    const p = bell.wait(seen, 1000);
    if (p) void p.then(this.woken);
    else this.woken();
  };

  private readonly woken = (): void => {
    this.wakeups++;
    this.step();
  };

  drain(): number {
    let n = 0;
    for (const r of this.readers) n += r.drain(this);
    return n;
  }

  record(data: Uint8Array, p: Datagram): void {
    this.records++;
    this.stage.datagram(data, p.payloadOffset, p.payloadLength, p);
  }
}
