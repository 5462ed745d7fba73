/**
 * The feed's stage inside a queue worker: it copies each datagram's payload and metadata into
 * the worker's feed ring (feed-ring.ts) and publishes the batch at its end; the main thread
 * gives the messages their global sequence numbers. When the ring is full the datagram is not
 * fed (counted as `overflows`); the frame still goes on (NEXT) either way.
 */
import type { MessagePort } from 'node:worker_threads';
import { NEXT, type Stage } from '../pipeline/stage.js';
import type { Datagram } from '../frame/datagram.js';
import { FeedRingWriter, type FeedRingBuffers } from './feed-ring.js';

export class FeedTapStage implements Stage {
  readonly writer: FeedRingWriter;
  private dirty = false;

  /** `wake`: the writer's end of the ring's FeedWake channel (wakes the main thread when parked). */
  constructor(ring: FeedRingBuffers, wake: MessagePort | undefined) {
    this.writer = new FeedRingWriter(ring, wake);
  }

  datagram(buf: Uint8Array, _off: number, _len: number, p: Datagram): typeof NEXT {
    this.writer.write(buf, p);
    this.dirty = true;
    return NEXT;
  }

  endBatch(): void {
    if (!this.dirty) return;
    this.dirty = false;
    this.writer.commit();
  }
}
