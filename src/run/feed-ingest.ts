/**
 * The main thread's side of the workers' feed rings: woken by the rings' doorbell when a worker
 * publishes (and once more at the end), it drains each queue's ring into the feed, in one place,
 * so the feed's sequence numbers are global and contiguous across queues. While records keep
 * coming it drains once per event-loop turn; it parks on the doorbell only when all are empty.
 * Records are handed to the feed's own stage as the ring reader's view of them (the stage reads
 * only the fields the reader sets).
 */
import type { MessagePort } from 'node:worker_threads';
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

  /** Parked on the doorbell (a ring message is awaited). */
  private parked = false;

  /** `wakes`: the reader's ends of the rings' FeedWake channels, one per ring. */
  constructor(
    private readonly stage: FeedStage,
    rings: FeedRingBuffers[],
    wakes: MessagePort[],
  ) {
    this.readers = rings.map((r) => new FeedRingReader(r));
    if (rings.length > 0) this.bell = new Doorbell(rings[0].doorbell, wakes);
  }

  start(): void {
    this.running = true;
    this.bell?.listen(this.woken);
    this.step();
  }

  stop(): void {
    this.running = false;
    this.bell?.disarm();
    this.bell?.close();
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
    bell.arm();
    // A record published before arm() would not ring: look once more before sleeping.
    if (this.drain() > 0) {
      bell.disarm();
      setImmediate(this.step);
      return;
    }
    this.parked = true;
  };

  /** A ring message: step again if parked (a late one, after a disarm, is ignored). */
  private readonly woken = (): void => {
    if (!this.parked || !this.running) return;
    this.parked = false;
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
