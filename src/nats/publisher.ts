/**
 * The NATS JetStream publisher's engine: a reader of the feed's history with a cursor of its own
 * (as a gRPC subscriber is), which turns what is new into JetStream messages and keeps their
 * acknowledgements in order. It never waits: it runs when the feed flushes (once per event-loop
 * turn that brought data, and every 10 ms) and when acknowledgements arrive.
 *
 *   history ──cursor──► entries (≤ window in flight) ──publish, reply inbox.<entry>.<gen>──► JetStream
 *                                                   ◄──────────── PubAck / error ──────────┘
 *
 * - One JetStream message per feed message (a raw datagram's payload, or one MoldUDP64
 *   message), or with `batch` one per run of feed messages on the same subject (a FeedBatch,
 *   proto/feed.proto, as the gRPC feed sends it).
 * - Subjects: PREFIX.<port> (raw), PREFIX.<session> (MoldUDP64; the session's name trimmed,
 *   characters other than [A-Za-z0-9_-] as %XX), PREFIX._xsk for the publisher's own events.
 * - Headers: Xsk-Seq (the feed's server sequence), Xsk-Kind, Xsk-Source (address:port),
 *   Xsk-Dst-Port, Xsk-Rx-Ns (CLOCK_MONOTONIC ns of the kernel receive, as the gRPC feed's
 *   receive_time_ns), Xsk-Rx-Unix-Ns (the same instant on the wall clock), and for MoldUDP64
 *   Xsk-Session, Xsk-Mold-Seq.
 * - Nats-Msg-Id: `<session>:<mold seq>` for a MoldUDP64 message (the same message from another
 *   xsk, or after a restart, is stored once), `<run>:<seq>` for a raw one (`run`: this process,
 *   time-stamped), `<run>:<first>-<last>` for a batch. A retry carries the same id: JetStream
 *   stores it once (within the stream's duplicate window) and acknowledges the retry as a
 *   duplicate.
 * - Order: unless `shared`, each message carries Nats-Expected-Last-Msg-Id, the id of the one
 *   published before it: JetStream stores it only right after that one. When one is lost
 *   (NATS restarting, a timeout), the ones after it are refused too instead of being stored
 *   ahead of it, and everything from the first unacknowledged is published again, in order.
 *   With `shared` (other publishers on the stream), no chain: a retry may land after newer
 *   messages.
 * - Bounds: at most `window` JetStream messages in flight; at most `queueMessages` feed messages
 *   waiting behind the cursor. When NATS is slow or down the cursor falls behind; past the bound
 *   the oldest are dropped (counted), and once publishing works again a `lost` event on
 *   PREFIX._xsk says which feed sequences, before the messages that follow them.
 * - MoldUDP64 gaps and ends of session (the decoder's events in the history) are published
 *   in their place, on the session's subject, as messages with an Xsk-Event header and a JSON
 *   body.
 */
import { Kind, EventType, type History } from '../feed/history.js';
import { BatchWriter, type SessionNames } from '../feed/encode.js';
import { formatAddress } from '../feed/filter.js';
import { Latency, type Histogram } from '../pipeline/latency.js';

/** What the publisher needs from a NATS connection (a fake in unit tests). */
export interface NatsSender {
  /** Publish with a reply subject and raw header bytes ("NATS/1.0\r\n...\r\n\r\n"). */
  send(subject: string, reply: string, headers: Uint8Array, payload: Uint8Array): void;
  /** The server's max_payload. */
  maxPayload(): number;
}

export interface PublisherOptions {
  subjectPrefix: string;
  batch: boolean;
  window: number;
  queueMessages: number;
  shared: boolean;
  /** The reply subject prefix (a subscription to `${inbox}.>` hands replies to reply()). */
  inbox: string;
  /** Distinguishes this process's ids (raw messages, batches, events). */
  runId: string;
  /** MoldUDP64 session names by index (the MoldTracker). */
  sessions: SessionNames;
  /** CLOCK_MONOTONIC ns. */
  nowNs(): number;
  /** ms; performance.now() unless a test says otherwise. */
  nowMs?: () => number;
  /** An acknowledgement not back after this long (connected) counts as lost: publish again. */
  ackTimeoutMs?: number;
  /** A batch holds at most this many feed messages. */
  maxBatch?: number;
  /** Log a line (warnings about errors, once per kind and so often). */
  warn?(msg: string): void;
}

const ENTRY_MSG = 1;
const ENTRY_BATCH = 2;
const ENTRY_EVENT = 3;

const DEFAULT_ACK_TIMEOUT_MS = 2000;
const DEFAULT_MAX_BATCH = 1024;
const BATCH_BYTES = 256 << 10;
const MAX_BACKOFF_MS = 2000;

interface EventEntry {
  subject: string;
  type: string;
  body: string;
  /** Set for a loss announcement: the lost range (feed sequences). */
  loss?: { count: number; first: number; last: number };
}

/** The session name as one subject token: trimmed, what is not [A-Za-z0-9_-] as %XX. */
export function sessionToken(name: string): string {
  const t = name.replace(/[ \0]+$/, '');
  if (t === '') return '%20';
  let out = '';
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45;
    out += ok ? t[i] : `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export class NatsPublisher {
  /** Next feed sequence to make an entry from. */
  cursor: number;
  private eventCursor: number;
  // The deque of entries, by running number: [head, tail) held; [head, sendIdx) sent in the
  // current generation; [sendIdx, tail) to send. Slots are `n % cap`.
  private readonly cap: number;
  private head = 0;
  private sendIdx = 0;
  private tail = 0;
  private readonly eType: Uint8Array;
  private readonly eFirst: Float64Array;
  private readonly eLast: Float64Array;
  private readonly eAcked: Uint8Array;
  private readonly eSentMs: Float64Array;
  /** Sent with Nats-Expected-Last-Msg-Id (its acknowledgement vouches for the ones before). */
  private readonly eChained: Uint8Array;
  private readonly eId: string[];
  private readonly eEvent: (EventEntry | undefined)[];
  /** Bumped by every rewind: replies to earlier attempts are told apart. */
  private gen = 0;
  private lastAckedId = '';
  private lastSentId = '';
  connected = false;
  private retryAtMs = 0;
  private failuresInARow = 0;
  private pendingLoss?: { count: number; first: number; last: number };
  private readonly writer: BatchWriter;
  private readonly subjects = new Map<number, string>();
  private readonly sessionSubjects: string[] = [];
  private readonly sessionIds: string[] = [];
  private readonly eventSubject: string;
  private readonly nowMs: () => number;
  private readonly ackTimeoutMs: number;
  private readonly maxBatch: number;
  /** The wall clock minus the monotonic one, ns (for Xsk-Rx-Unix-Ns). */
  private readonly wallOffsetNs: number;
  private readonly warned = new Map<string, number>();

  // Counters.
  /** Feed messages JetStream has acknowledged (stored, once). */
  published = 0;
  /** JetStream messages acknowledged (messages, batches, events). */
  acked = 0;
  /** Acknowledgements saying the stream already had the message (a retry, another xsk). */
  duplicates = 0;
  /** Feed messages never published (the queue's bound, or gone from history before a retry). */
  dropped = 0;
  /** History events (MoldUDP64 gaps, ends of session) the ring overwrote before they went out. */
  eventsDropped = 0;
  lossEvents = 0;
  gapEvents = 0;
  endOfSessionEvents = 0;
  /** Times the in-flight messages were published again (reconnection, an error, a timeout). */
  rewinds = 0;
  /** JetStream messages published again. */
  resent = 0;
  timeouts = 0;
  errors = 0;
  lastError = '';
  sentMessages = 0;
  sentBytes = 0;
  /** Kernel receive → JetStream acknowledgement, ns, one sample per feed message acknowledged the first time. */
  readonly rxToAck: Histogram;

  constructor(
    private readonly h: History,
    private readonly sender: NatsSender,
    private readonly o: PublisherOptions,
  ) {
    this.cursor = h.next;
    this.eventCursor = h.nextEvent;
    this.cap = o.window;
    this.eType = new Uint8Array(this.cap);
    this.eFirst = new Float64Array(this.cap);
    this.eLast = new Float64Array(this.cap);
    this.eAcked = new Uint8Array(this.cap);
    this.eSentMs = new Float64Array(this.cap);
    this.eChained = new Uint8Array(this.cap);
    this.eId = new Array<string>(this.cap).fill('');
    this.eEvent = new Array<EventEntry | undefined>(this.cap).fill(undefined);
    this.writer = new BatchWriter(o.sessions);
    this.eventSubject = `${o.subjectPrefix}._xsk`;
    this.nowMs = o.nowMs ?? (() => performance.now());
    this.ackTimeoutMs = o.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    this.maxBatch = o.maxBatch ?? DEFAULT_MAX_BATCH;
    this.wallOffsetNs = Date.now() * 1e6 - o.nowNs();
    this.rxToAck = new Latency().rx_to_feed;
  }

  /** Feed messages taken into the history and not yet made into entries. */
  get queued(): number {
    return this.h.next - this.cursor;
  }

  get inFlight(): number {
    return this.tail - this.head;
  }

  /** Nothing waiting, nothing in flight. */
  get idle(): boolean {
    return this.queued === 0 && this.tail === this.head && this.eventCursor >= this.h.nextEvent && !this.pendingLoss;
  }

  /** Connection up (again): everything not acknowledged is published again. */
  setConnected(up: boolean): void {
    if (up === this.connected) return;
    this.connected = up;
    if (up) {
      this.retryAtMs = 0;
      this.rewind();
    }
  }

  /**
   * Do what is due: the queue's bound, timeouts, (re)sending held entries, new entries while the
   * window has room. Called on every feed flush and after acknowledgements.
   */
  pump(): void {
    const h = this.h;
    // The bound, applied whether NATS is up or not.
    const floor = Math.max(h.oldest, h.next - this.o.queueMessages);
    if (this.cursor < floor) this.lose(this.cursor, floor - 1);
    if (this.eventCursor < h.oldestEvent) {
      this.eventsDropped += h.oldestEvent - this.eventCursor;
      this.eventCursor = h.oldestEvent;
    }
    if (!this.connected) return;
    const now = this.nowMs();
    if (this.head < this.sendIdx && now - this.eSentMs[this.head % this.cap] > this.ackTimeoutMs) {
      this.timeouts++;
      this.fail(`no acknowledgement within ${this.ackTimeoutMs} ms`);
    }
    if (now < this.retryAtMs) return;
    while (this.sendIdx < this.tail) this.sendEntry(this.sendIdx++, now, true);
    while (this.tail - this.head < this.cap) {
      if (!this.makeEntry()) break;
      this.sendEntry(this.sendIdx++, now, false);
    }
  }

  /** Feed sequences [first, last] will not be published: count them, announce them later. */
  private lose(first: number, last: number): void {
    const n = last - first + 1;
    if (n <= 0) return;
    this.dropped += n;
    const p = this.pendingLoss;
    if (p && p.last + 1 >= first) {
      p.count += n;
      p.last = Math.max(p.last, last);
    } else if (p) {
      // Not contiguous (an entry lost on resend, behind the cursor): one event says both.
      p.count += n;
      p.first = Math.min(p.first, first);
      p.last = Math.max(p.last, last);
    } else {
      this.pendingLoss = { count: n, first, last };
    }
    if (this.cursor <= last) this.cursor = last + 1;
  }

  /** Add the next entry at the tail. False when there is nothing to add. */
  private makeEntry(): boolean {
    const h = this.h;
    const slot = this.tail % this.cap;
    const p = this.pendingLoss;
    if (p) {
      this.pendingLoss = undefined;
      this.setEvent(slot, {
        subject: this.eventSubject,
        type: 'lost',
        body: JSON.stringify({ type: 'lost', count: p.count, first_sequence: p.first, last_sequence: p.last, next_sequence: this.cursor, time_ns: this.o.nowNs() }),
        loss: p,
      }, `${this.o.runId}:l${p.first}-${p.last}`);
      this.tail++;
      return true;
    }
    if (this.eventCursor < h.nextEvent && h.evNextSeq[this.eventCursor % h.eventCapacity] <= this.cursor) {
      const i = this.eventCursor % h.eventCapacity;
      const type = h.evType[i] === EventType.Gap ? 'gap' : h.evType[i] === EventType.EndOfSession ? 'end_of_session' : 'unknown';
      const session = this.o.sessions.sessionName(h.evSession[i]);
      const body: Record<string, unknown> = { type, session, port: h.evPort[i], next_sequence: h.evNextSeq[i], time_ns: h.evTime[i] };
      if (h.evType[i] === EventType.Gap) {
        body.first_missing = h.evFirst[i];
        body.count = h.evCount[i];
      }
      this.setEvent(slot, { subject: this.sessionSubject(h.evSession[i]), type, body: JSON.stringify(body) }, `${this.o.runId}:e${this.eventCursor}`);
      this.eventCursor++;
      this.tail++;
      return true;
    }
    if (this.cursor >= h.next) return false;
    const first = this.cursor;
    let last = first;
    if (this.o.batch) {
      // A run on one subject, up to the next event, maxBatch messages, ~BATCH_BYTES.
      const stop = this.eventCursor < h.nextEvent ? h.evNextSeq[this.eventCursor % h.eventCapacity] : Infinity;
      const key = this.subjectKey(h.slot(first));
      let bytes = h.length[h.slot(first)];
      const limit = Math.min(BATCH_BYTES, this.sender.maxPayload() / 2);
      while (last + 1 < h.next && last + 1 < stop && last + 1 - first < this.maxBatch) {
        const s = h.slot(last + 1);
        if (this.subjectKey(s) !== key || bytes + h.length[s] + 64 > limit) break;
        bytes += h.length[s] + 64;
        last++;
      }
      this.eType[slot] = ENTRY_BATCH;
      this.eId[slot] = `${this.o.runId}:${first}-${last}`;
    } else {
      this.eType[slot] = ENTRY_MSG;
      const s = h.slot(first);
      this.eId[slot] = h.kind[s] === Kind.Mold ? `${this.sessionId(h.session[s])}:${h.moldSeq[s]}` : `${this.o.runId}:${first}`;
    }
    this.eFirst[slot] = first;
    this.eLast[slot] = last;
    this.eAcked[slot] = 0;
    this.eEvent[slot] = undefined;
    this.cursor = last + 1;
    this.tail++;
    return true;
  }

  private setEvent(slot: number, e: EventEntry, id: string): void {
    this.eType[slot] = ENTRY_EVENT;
    this.eEvent[slot] = e;
    this.eId[slot] = id;
    this.eFirst[slot] = 0;
    this.eLast[slot] = -1;
    this.eAcked[slot] = 0;
  }

  /** Messages of one subject share a key: the port (raw) or 65536 + the session (MoldUDP64). */
  private subjectKey(slot: number): number {
    return this.h.kind[slot] === Kind.Mold ? 65536 + this.h.session[slot] : this.h.dstPort[slot];
  }

  private subjectOf(slot: number): string {
    const h = this.h;
    if (h.kind[slot] === Kind.Mold) return this.sessionSubject(h.session[slot]);
    const port = h.dstPort[slot];
    let s = this.subjects.get(port);
    if (s === undefined) {
      s = `${this.o.subjectPrefix}.${port}`;
      this.subjects.set(port, s);
    }
    return s;
  }

  private sessionId(index: number): string {
    return (this.sessionIds[index] ??= sessionToken(this.o.sessions.sessionName(index)));
  }

  private sessionSubject(index: number): string {
    return (this.sessionSubjects[index] ??= `${this.o.subjectPrefix}.${this.sessionId(index)}`);
  }

  /** Publish entry `n` (its slot must still be in the deque). */
  private sendEntry(n: number, now: number, resend: boolean): void {
    const slot = n % this.cap;
    if (this.eAcked[slot] === 1) return; // (shared mode: acknowledged after a later one failed)
    const h = this.h;
    const type = this.eType[slot];
    const id = this.eId[slot];
    const reply = `${this.o.inbox}.${n}.${this.gen}`;
    let hdr = `NATS/1.0\r\nNats-Msg-Id: ${id}\r\n`;
    const chained = !this.o.shared && this.lastSentId !== '';
    if (chained) hdr += `Nats-Expected-Last-Msg-Id: ${this.lastSentId}\r\n`;
    this.eChained[slot] = chained ? 1 : 0;
    let subject: string;
    let payload: Uint8Array;
    if (type === ENTRY_EVENT) {
      const e = this.eEvent[slot]!;
      subject = e.subject;
      hdr += `Xsk-Event: ${e.type}\r\n\r\n`;
      payload = Buffer.from(e.body, 'utf8');
    } else {
      const first = this.eFirst[slot];
      const last = this.eLast[slot];
      if (first < h.oldest) {
        // Overwritten in history before it could go out again: lost.
        this.eAcked[slot] = 1;
        this.eType[slot] = 0;
        this.lose(first, last);
        this.popAcked();
        return;
      }
      const s = h.slot(first);
      subject = this.subjectOf(s);
      if (type === ENTRY_MSG) {
        const isMold = h.kind[s] === Kind.Mold;
        const rx = h.rxNs[s];
        hdr +=
          `Xsk-Seq: ${first}\r\nXsk-Kind: ${isMold ? 'moldudp64' : 'raw'}\r\nXsk-Source: ${this.source(s)}\r\nXsk-Dst-Port: ${h.dstPort[s]}\r\n` +
          `Xsk-Rx-Ns: ${rx}\r\nXsk-Rx-Unix-Ns: ${Math.round(rx + this.wallOffsetNs)}\r\n`;
        if (isMold) hdr += `Xsk-Session: ${this.sessionId(h.session[s])}\r\nXsk-Mold-Seq: ${h.moldSeq[s]}\r\n`;
        hdr += '\r\n';
        const off = h.dataOff[s];
        payload = h.data.subarray(off, off + h.length[s]);
      } else {
        const w = this.writer;
        w.reset();
        for (let q = first; q <= last; q++) w.message(h, h.slot(q), q);
        payload = w.finish();
        hdr += `Xsk-Seq: ${first}\r\nXsk-Count: ${last - first + 1}\r\nXsk-Kind: batch\r\nXsk-Rx-Ns: ${h.rxNs[s]}\r\n\r\n`;
      }
    }
    const hb = Buffer.from(hdr, 'latin1');
    this.sender.send(subject, reply, hb, payload);
    this.eSentMs[slot] = now;
    this.lastSentId = id;
    this.sentMessages++;
    this.sentBytes += hb.length + payload.length;
    if (resend) this.resent++;
  }

  private source(slot: number): string {
    const h = this.h;
    const a = slot * 16;
    const addr = h.family[slot] === 4 ? `${h.srcAddr[a]}.${h.srcAddr[a + 1]}.${h.srcAddr[a + 2]}.${h.srcAddr[a + 3]}` : `[${formatAddress(h.srcAddr.subarray(a, a + 16))}]`;
    return `${addr}:${h.srcPort[slot]}`;
  }

  /**
   * A reply on `${inbox}.<entry>.<gen>`: a PubAck (`{"stream":..,"seq":..[,"duplicate":true]}`),
   * a JetStream error (`{"error":{..}}`), or an empty message with status 503 (no responders).
   */
  reply(subject: string, data: Uint8Array, status?: number): void {
    const dot2 = subject.lastIndexOf('.');
    const dot1 = subject.lastIndexOf('.', dot2 - 1);
    const n = Number(subject.slice(dot1 + 1, dot2));
    const gen = Number(subject.slice(dot2 + 1));
    if (!(n >= this.head && n < this.sendIdx)) return; // already done with, or not sent yet (stale)
    const slot = n % this.cap;
    if (this.eAcked[slot] === 1) return;
    const text = data.length > 0 ? Buffer.from(data.buffer, data.byteOffset, data.length).toString('latin1') : '';
    if (status === 503 || data.length === 0 || text.includes('"error"')) {
      if (gen !== this.gen) return; // an earlier attempt's answer: the retry answers for itself
      const why = status === 503 || data.length === 0 ? 'no responders (JetStream not ready, or no stream for the subject)' : errorText(text);
      // "wrong last msg ID: X": X is what the stream holds last; go on from there.
      const m = /wrong last msg ID: ?([^"]*)"/.exec(text);
      this.fail(why, m ? m[1] : undefined);
      return;
    }
    this.eAcked[slot] = 1;
    this.acked++;
    this.failuresInARow = 0;
    const duplicate = text.includes('"duplicate"');
    if (duplicate) this.duplicates++;
    const type = this.countStored(slot);
    if (type !== ENTRY_EVENT && type !== 0) {
      const h = this.h;
      const now = this.o.nowNs();
      const hist = this.rxToAck;
      for (let q = Math.max(this.eFirst[slot], h.oldest); q <= this.eLast[slot]; q++) Latency.record(hist, now - h.rxNs[h.slot(q)]);
    }
    if (!duplicate && this.eChained[slot] === 1) {
      // The chain: JetStream stored it right after the one before, so everything before is stored.
      for (let k = this.head; k < n; k++) this.settle(k);
    }
    this.popAcked();
  }

  /** Entry `k` is known to be stored (a later one in the chain was acknowledged). */
  private settle(k: number): void {
    const slot = k % this.cap;
    if (this.eAcked[slot] === 1) return;
    this.eAcked[slot] = 1;
    this.acked++;
    this.countStored(slot);
  }

  /** Count what the stored entry at `slot` was (an event by kind, or feed messages); its type. */
  private countStored(slot: number): number {
    const type = this.eType[slot];
    if (type === ENTRY_EVENT) {
      const e = this.eEvent[slot]!;
      if (e.loss) this.lossEvents++;
      else if (e.type === 'gap') this.gapEvents++;
      else if (e.type === 'end_of_session') this.endOfSessionEvents++;
    } else if (type !== 0) {
      this.published += this.eLast[slot] - this.eFirst[slot] + 1;
    }
    return type;
  }

  private popAcked(): void {
    while (this.head < this.tail && this.eAcked[this.head % this.cap] === 1) {
      const slot = this.head % this.cap;
      if (this.eType[slot] !== 0) this.lastAckedId = this.eId[slot];
      this.eEvent[slot] = undefined;
      this.head++;
    }
    if (this.sendIdx < this.head) this.sendIdx = this.head;
  }

  /**
   * A publish failed (an error reply, a timeout): publish everything unacknowledged again.
   * `streamLast`: the stream's last Nats-Msg-Id, when JetStream said it (a broken chain).
   */
  private fail(why: string, streamLast?: string): void {
    this.errors++;
    this.lastError = why;
    this.failuresInARow++;
    if (streamLast === undefined) this.warnOnce(why);
    // A broken chain is put right at once; anything else waits a little longer each time.
    this.retryAtMs = streamLast !== undefined && this.failuresInARow < 4 ? 0 : this.nowMs() + Math.min(MAX_BACKOFF_MS, 25 * 2 ** Math.min(this.failuresInARow, 10));
    this.rewind(streamLast);
  }

  /**
   * Everything from the first unacknowledged entry goes out again, as a new generation. With
   * `streamLast` (what JetStream holds last): if it is one of ours still held, it and those
   * before it are stored (its acknowledgement was lost); the chain goes on from it either way.
   */
  private rewind(streamLast?: string): void {
    this.popAcked();
    if (streamLast !== undefined && streamLast !== '') {
      for (let k = this.tail - 1; k >= this.head; k--) {
        if (this.eId[k % this.cap] !== streamLast) continue;
        for (let j = this.head; j <= k; j++) this.settle(j);
        this.popAcked();
        break;
      }
    }
    this.gen++;
    if (this.head < this.sendIdx) this.rewinds++;
    this.sendIdx = this.head;
    this.lastSentId = streamLast ?? this.lastAckedId;
  }

  private warnOnce(why: string): void {
    const key = why.replace(/\d+/g, '#');
    const now = this.nowMs();
    const last = this.warned.get(key);
    if (last !== undefined && now - last < 10_000) return;
    this.warned.set(key, now);
    this.o.warn?.(`nats: ${why}; publishing again from feed sequence ${this.head < this.tail ? this.eFirst[this.head % this.cap] || this.cursor : this.cursor}`);
  }

  counters(): Record<string, number> {
    return {
      published: this.published,
      jetstream_acks: this.acked,
      duplicates: this.duplicates,
      dropped: this.dropped,
      events_dropped: this.eventsDropped,
      loss_events: this.lossEvents,
      gap_events: this.gapEvents,
      end_of_session_events: this.endOfSessionEvents,
      rewinds: this.rewinds,
      resent: this.resent,
      timeouts: this.timeouts,
      errors: this.errors,
      sent: this.sentMessages,
      sent_bytes: this.sentBytes,
      in_flight: this.inFlight,
      queued: this.queued,
    };
  }
}

function errorText(json: string): string {
  try {
    const e = JSON.parse(json).error;
    return `JetStream error ${e.err_code ?? e.code}: ${e.description}`;
  } catch {
    return `JetStream error: ${json.slice(0, 200)}`;
  }
}
