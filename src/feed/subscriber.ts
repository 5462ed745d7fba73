/**
 * One subscriber of the feed: a cursor into the shared history, and the rules that bound what
 * it may hold up.
 *
 * Its queue is the stretch of history between its cursor and the newest message: nothing is
 * copied per subscriber, and the bound is on that stretch (messages and payload bytes). What
 * is written but not yet taken by the client is bounded by the stream itself: a write that
 * returns false stops this subscriber until the stream's 'drain'. Meanwhile traffic goes on
 * into the history and the cursor falls behind; past its bound the subscriber's policy applies:
 *  - skip: the cursor jumps to the newest message; the messages jumped over that match its
 *    filter are counted and reported once it is written to again (one SKIPPED event, merged
 *    while it stays blocked);
 *  - disconnect: the stream ends with RESOURCE_EXHAUSTED.
 * Batches are encoded here, when they are made (encode.ts: straight from the history's arrays,
 * no object per message), so nothing refers to history slots that may be overwritten later.
 */
import type { Filter } from './filter.js';
import { Latency, type Histogram } from '../pipeline/latency.js';
import { EventType, type History } from './history.js';
import { BatchWriter, type EventObject, type SessionNames } from './encode.js';

/** Where batches go: a gRPC server stream, or a test's fake. */
export interface BatchSink {
  /** Returns false when the stream's buffer is full: wait for onDrain before writing again. */
  write(bytes: Uint8Array): boolean;
  onDrain(cb: () => void): void;
  /** End the stream with status OK. */
  end(): void;
  /** End the stream with an error status (grpc status code). */
  fail(code: number, details: string): void;
}

export interface SubscriberOptions {
  id: number;
  peer: string;
  filter: Filter;
  /** Resume from this sequence; undefined: live. Exact: a bigint past 2^53 − 1. */
  fromSequence?: number | bigint;
  maxBatch: number;
  /** A cap on a batch's payload bytes (clients refuse messages over 4 MB by default). */
  maxBatchBytes: number;
  heartbeatMs: number;
  policy: 'skip' | 'disconnect';
  maxQueueMessages: number;
  maxQueueBytes: number;
  /** MoldUDP64 session names by index (the MoldTracker). */
  sessions: SessionNames;
  /** The time in CLOCK_MONOTONIC ns. */
  nowNs(): number;
  /** The stream drained: flush this subscriber soon. */
  wake(): void;
  /** Where to record kernel RX → written-to-this-subscriber latency (ns), if anywhere. */
  rxToFeed?: () => Histogram | undefined;
}

/** grpc status codes used here. */
export const OUT_OF_RANGE = 11;
export const RESOURCE_EXHAUSTED = 8;

/** Slots looked at per flush, per subscriber (a narrow filter over a long backlog). */
const SCAN_BUDGET = 1 << 16;
/** Batches written per flush, per subscriber, so one does not starve the others. */
const BATCHES_PER_FLUSH = 4;

interface PendingSkip {
  count: number;
  first: number;
  last: number;
  nextSequence: number;
  timeNs: number;
}

export class Subscriber {
  /** Receive times of the messages in the batch being made (for the rx_to_feed histogram). */
  private readonly batchRx = new Float64Array(8192);
  private batchCount = 0;
  readonly id: number;
  readonly peer: string;
  cursor: number;
  private eventCursor: number;
  sent = 0;
  skipped = 0;
  skipEvents = 0;
  batches = 0;
  bytes = 0;
  waiting = false;
  closed = false;
  /** Why it ended: 'client', 'slow', 'resume', 'shutdown'. */
  endReason = '';
  private lastWriteMs = 0;
  private local: EventObject[] = [];
  private pendingSkip?: PendingSkip;
  private readonly writer: BatchWriter;

  constructor(
    private readonly o: SubscriberOptions,
    private readonly h: History,
    private readonly sink: BatchSink,
    nowMs: number,
  ) {
    this.id = o.id;
    this.peer = o.peer;
    this.lastWriteMs = nowMs;
    this.writer = new BatchWriter(o.sessions);
    const from = o.fromSequence;
    if (from !== undefined && (from < h.oldest || from > h.next)) {
      // Not (or no longer) in history: say what can be had, and end.
      this.cursor = h.next;
      this.eventCursor = h.nextEvent;
      this.sink.write(
        this.eventsOnly([
          {
            nextSequence: h.next,
            timeNs: o.nowNs(),
            resumeUnavailable: { requestedSequence: from, oldestSequence: h.oldest, nextSequence: h.next },
          },
        ]),
      );
      this.close('resume');
      const why = from < h.oldest ? 'is no longer in history' : 'has not been assigned yet';
      sink.fail(OUT_OF_RANGE, `sequence ${from} ${why}; the oldest held is ${h.oldest}, the next is ${h.next}`);
      return;
    }
    this.cursor = from === undefined ? h.next : Number(from);
    this.eventCursor = h.eventAtOrAfter(this.cursor);
    this.local.push({ nextSequence: this.cursor, timeNs: o.nowNs(), subscribed: { oldestSequence: h.oldest } });
  }

  /** Messages between the cursor and the newest. */
  get lag(): number {
    return this.h.next - this.cursor;
  }

  /**
   * Apply the queue bound, then write what is due (messages, events, a heartbeat) unless the
   * stream is full. Returns true when more is ready to send right away.
   */
  flush(nowMs: number): boolean {
    if (this.closed) return false;
    const h = this.h;
    const o = this.o;
    if (this.cursor < h.oldest || h.next - this.cursor > o.maxQueueMessages || h.bytesFrom(this.cursor) > o.maxQueueBytes) {
      if (o.policy === 'disconnect') {
        const behind = h.next - this.cursor;
        this.close('slow');
        this.sink.fail(RESOURCE_EXHAUSTED, `subscriber fell behind: ${behind} messages queued (limit ${o.maxQueueMessages} messages, ${o.maxQueueBytes} bytes)`);
        return false;
      }
      this.skipToNewest();
    }
    if (this.waiting) return false;
    for (let b = 0; b < BATCHES_PER_FLUSH; b++) {
      if (!this.nextBatch()) break;
      if (!this.write(nowMs)) return false;
    }
    if (this.cursor < h.next || this.eventCursor < h.nextEvent) return true;
    if (nowMs - this.lastWriteMs >= o.heartbeatMs) {
      this.writer.reset();
      this.writer.event({ nextSequence: h.next, timeNs: o.nowNs(), heartbeat: {} });
      this.write(nowMs);
    }
    return false;
  }

  /** Server stopping: send what can be sent now, then a SHUTDOWN event, and end the stream. */
  shutdown(reason: string, nowMs: number): void {
    if (this.closed) return;
    this.flush(nowMs);
    if (this.closed) return;
    this.sink.write(this.eventsOnly([...this.takeLocal(), { nextSequence: this.cursor, timeNs: this.o.nowNs(), shutdown: { reason } }]));
    this.close('shutdown');
    this.sink.end();
  }

  /** The client went away. */
  cancelled(): void {
    this.close('client');
  }

  private close(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.endReason = why;
  }

  /** A batch of events only. */
  private eventsOnly(events: EventObject[]): Buffer {
    this.writer.reset();
    for (const e of events) this.writer.event(e);
    return this.writer.finish();
  }

  /** Write the batch in the writer. */
  private write(nowMs: number): boolean {
    const sent = this.writer.messages;
    const bytes = this.writer.finish();
    const hist = this.o.rxToFeed?.();
    if (hist) {
      const now = this.o.nowNs();
      for (let i = 0; i < this.batchCount; i++) Latency.record(hist, now - this.batchRx[i]);
    }
    this.batches++;
    this.bytes += bytes.length;
    this.sent += sent;
    this.lastWriteMs = nowMs;
    if (this.sink.write(bytes)) return true;
    this.waiting = true;
    this.sink.onDrain(() => {
      this.waiting = false;
      this.o.wake();
    });
    return false;
  }

  private skipToNewest(): void {
    const h = this.h;
    const f = this.o.filter;
    let count = 0;
    let first = -1;
    let last = -1;
    let s = this.cursor;
    if (s < h.oldest) {
      // Overwritten before it could be looked at: counted whether it matched or not.
      count += h.oldest - s;
      first = s;
      last = h.oldest - 1;
      s = h.oldest;
    }
    for (; s < h.next; s++) {
      if (!f.matches(h, h.slot(s))) continue;
      count++;
      if (first < 0) first = s;
      last = s;
    }
    this.cursor = h.next;
    if (count === 0) return;
    this.skipped += count;
    this.skipEvents++;
    const p = this.pendingSkip;
    if (p) {
      p.count += count;
      p.last = last;
      p.nextSequence = h.next;
    } else {
      this.pendingSkip = { count, first, last, nextSequence: h.next, timeNs: this.o.nowNs() };
    }
  }

  private takeLocal(): EventObject[] {
    const out = this.local;
    this.local = [];
    const p = this.pendingSkip;
    if (p) {
      this.pendingSkip = undefined;
      out.push({ nextSequence: p.nextSequence, timeNs: p.timeNs, skipped: { count: p.count, firstSequence: p.first, lastSequence: p.last } });
    }
    return out;
  }

  /**
   * The next batch, into the writer: this subscriber's own events, then messages and stream
   * events in order. False when there is nothing to send.
   */
  private nextBatch(): boolean {
    const h = this.h;
    const o = this.o;
    const f = o.filter;
    const w = this.writer;
    w.reset();
    for (const e of this.takeLocal()) w.event(e);
    if (this.eventCursor < h.oldestEvent) this.eventCursor = h.oldestEvent;
    let bytes = 0;
    let scanned = 0;
    let count = 0;
    this.batchCount = 0;
    for (;;) {
      // Events that come before the message at the cursor.
      while (this.eventCursor < h.nextEvent && h.evNextSeq[this.eventCursor % h.eventCapacity] <= this.cursor) {
        const e = this.streamEvent(this.eventCursor % h.eventCapacity);
        if (e) w.event(e);
        this.eventCursor++;
      }
      if (this.cursor >= h.next || count >= o.maxBatch || bytes >= o.maxBatchBytes || scanned >= SCAN_BUDGET) break;
      const slot = h.slot(this.cursor);
      scanned++;
      if (f.matches(h, slot)) {
        w.message(h, slot, this.cursor);
        if (count < this.batchRx.length) this.batchRx[count] = h.rxNs[slot];
        count++;
        this.batchCount = count;
        bytes += h.length[slot] + 40;
      }
      this.cursor++;
    }
    return !w.empty;
  }

  private streamEvent(i: number): EventObject | undefined {
    const h = this.h;
    const port = h.evPort[i];
    if (!this.o.filter.wantsEvent(port)) return undefined;
    const base = { nextSequence: h.evNextSeq[i], timeNs: h.evTime[i] };
    const session = this.o.sessions.sessionName(h.evSession[i]);
    switch (h.evType[i]) {
      case EventType.Gap:
        return { ...base, gap: { session, port, firstMissing: h.evFirst[i], count: h.evCount[i] } };
      case EventType.EndOfSession:
        return { ...base, endOfSession: { session, port } };
      default:
        return undefined;
    }
  }
}
