/**
 * MoldUDP64 (the downstream framing of Nasdaq-style feeds), decoded in place on the hot path.
 *
 *   packet:  session (10 bytes) | sequence of the first message (u64 BE) | count (u16 BE)
 *            then `count` messages, each: length (u16 BE) | bytes
 *   count 0: a heartbeat (the sequence is the next one the sender will use);
 *   count 0xFFFF: end of session.
 *
 * The sender's sequence is tracked per session (the 10 bytes, whatever port it arrives on, so
 * the same session on an A and a B line is arbitrated: the first copy is delivered, the second
 * is a duplicate):
 *  - a jump forward is a gap: counted, recorded as an open range, and put in the stream as a
 *    status event;
 *  - a message below the expected sequence that fills an open gap arrived out of order: it is
 *    delivered and counted; any other is a duplicate: counted, not delivered.
 * Open gaps are kept per session up to GAPS_PER_SESSION ranges (the oldest is forgotten past
 * that; its messages then count as duplicates if they ever come). Sessions are kept up to
 * MAX_SESSIONS; packets of further sessions are counted (`session_overflow`) and dropped.
 * No allocation per packet: a session's name is made once, when it is first seen.
 */
import type { Datagram } from '../frame/datagram.js';
import { EventType, Kind, type History } from './history.js';

export const MOLD_HEADER = 20;
export const MOLD_END_OF_SESSION = 0xffff;
export const MAX_SESSIONS = 4096;
export const GAPS_PER_SESSION = 16;

export class MoldTracker {
  /**
   * Session names as sent (latin1), by index: the first `sessionCount`. Filled from the start,
   * so the array never changes its kind of elements: it did at the first session, and V8 then
   * gave the trackers made after that (the live one, after the warm start's) another shape,
   * which the compiled lookup and encoder did not expect (a deopt at the first live message).
   */
  private readonly names: string[] = Array.from({ length: MAX_SESSIONS }, () => '');
  private count = 0;
  private readonly keys = new Uint8Array(MAX_SESSIONS * 10);
  /** Next sequence expected from each session (valid once `known`). */
  readonly expected = new Float64Array(MAX_SESSIONS);
  private readonly known = new Uint8Array(MAX_SESSIONS);
  readonly ended = new Uint8Array(MAX_SESSIONS);
  readonly ports = new Uint16Array(MAX_SESSIONS);
  private readonly gapFrom = new Float64Array(MAX_SESSIONS * GAPS_PER_SESSION);
  private readonly gapTo = new Float64Array(MAX_SESSIONS * GAPS_PER_SESSION);
  private readonly gapCount = new Uint8Array(MAX_SESSIONS);
  private last = -1;

  packets = 0;
  heartbeats = 0;
  gaps = 0;
  gapMessages = 0;
  duplicates = 0;
  outOfOrder = 0;
  malformed = 0;
  endOfSession = 0;
  sessionOverflow = 0;
  /** Messages delivered (appended to the history). */
  messages = 0;

  constructor(private readonly history: History) {}

  /** A session's name by index ('' for none): what the feed's encoders call (encode.ts SessionNames). */
  sessionName(index: number): string {
    return this.names[index] ?? '';
  }

  get sessionCount(): number {
    return this.count;
  }

  /** The sessions' names, by index. */
  sessionNames(): string[] {
    return this.names.slice(0, this.count);
  }

  /** Messages still missing in the open gaps of session `s`. */
  openGapMessages(s: number): number {
    let n = 0;
    for (let g = 0; g < this.gapCount[s]; g++) n += this.gapTo[s * GAPS_PER_SESSION + g] - this.gapFrom[s * GAPS_PER_SESSION + g];
    return n;
  }

  /** Decode the MoldUDP64 packet in `buf[off, off+len)` (a UDP payload) into the history. */
  packet(buf: Uint8Array, off: number, len: number, p: Datagram): void {
    if (len < MOLD_HEADER) {
      this.malformed++;
      return;
    }
    const s = this.lookup(buf, off, p.dstPort);
    if (s < 0) {
      this.sessionOverflow++;
      return;
    }
    this.packets++;
    const hi = ((buf[off + 10] << 24) | (buf[off + 11] << 16) | (buf[off + 12] << 8) | buf[off + 13]) >>> 0;
    const lo = ((buf[off + 14] << 24) | (buf[off + 15] << 16) | (buf[off + 16] << 8) | buf[off + 17]) >>> 0;
    const first = hi * 4294967296 + lo;
    const count = (buf[off + 18] << 8) | buf[off + 19];
    if (count === 0 || count === MOLD_END_OF_SESSION) {
      // Both carry the next sequence the sender would use: a jump is a gap.
      if (count === 0) this.heartbeats++;
      if (this.known[s] === 0) {
        this.known[s] = 1;
        this.expected[s] = first;
      } else if (first > this.expected[s]) {
        this.gap(s, p.dstPort, first, p.rxNs);
      }
      if (count === MOLD_END_OF_SESSION && this.ended[s] === 0) {
        this.ended[s] = 1;
        this.endOfSession++;
        this.history.event(EventType.EndOfSession, p.rxNs, s, p.dstPort, this.expected[s], 0);
      }
      return;
    }
    if (this.known[s] === 0) {
      // The first packet seen of a session starts the count (joining late is not a gap).
      this.known[s] = 1;
      this.expected[s] = first;
    }
    const h = this.history;
    const end = off + len;
    let pos = off + MOLD_HEADER;
    for (let i = 0; i < count; i++) {
      if (pos + 2 > end) {
        this.malformed++;
        return;
      }
      const mlen = (buf[pos] << 8) | buf[pos + 1];
      pos += 2;
      if (pos + mlen > end) {
        this.malformed++;
        return;
      }
      const m = first + i;
      const e = this.expected[s];
      let deliver = true;
      if (m >= e) {
        if (m > e) this.gap(s, p.dstPort, m, p.rxNs);
        this.expected[s] = m + 1;
      } else if (this.fill(s, m)) {
        this.outOfOrder++;
      } else {
        this.duplicates++;
        deliver = false;
      }
      if (deliver) {
        h.append(buf, pos, mlen, p, Kind.Mold, s, m);
        this.messages++;
      }
      pos += mlen;
    }
  }

  /** Messages from expected[s] up to `upTo` (exclusive) are missing. */
  private gap(s: number, port: number, upTo: number, rxNs: number): void {
    const from = this.expected[s];
    const n = upTo - from;
    this.gaps++;
    this.gapMessages += n;
    this.history.event(EventType.Gap, rxNs, s, port, from, n);
    const base = s * GAPS_PER_SESSION;
    let c = this.gapCount[s];
    if (c === GAPS_PER_SESSION) {
      // Forget the oldest open gap.
      for (let g = 1; g < c; g++) {
        this.gapFrom[base + g - 1] = this.gapFrom[base + g];
        this.gapTo[base + g - 1] = this.gapTo[base + g];
      }
      c--;
    }
    this.gapFrom[base + c] = from;
    this.gapTo[base + c] = upTo;
    this.gapCount[s] = c + 1;
    this.expected[s] = upTo;
  }

  /** If `m` is in an open gap of session `s`, take it out of the gap and return true. */
  private fill(s: number, m: number): boolean {
    const base = s * GAPS_PER_SESSION;
    const c = this.gapCount[s];
    for (let g = 0; g < c; g++) {
      const from = this.gapFrom[base + g];
      const to = this.gapTo[base + g];
      if (m < from || m >= to) continue;
      if (m === from) this.gapFrom[base + g] = from + 1;
      else if (m === to - 1) this.gapTo[base + g] = to - 1;
      else {
        // Split [from, to) into [from, m) and [m+1, to), making room if need be.
        this.gapTo[base + g] = m;
        let n = c;
        let at = g + 1;
        if (n === GAPS_PER_SESSION) {
          for (let k = 1; k < n; k++) {
            this.gapFrom[base + k - 1] = this.gapFrom[base + k];
            this.gapTo[base + k - 1] = this.gapTo[base + k];
          }
          n--;
          at--;
        }
        for (let k = n; k > at; k--) {
          this.gapFrom[base + k] = this.gapFrom[base + k - 1];
          this.gapTo[base + k] = this.gapTo[base + k - 1];
        }
        this.gapFrom[base + at] = m + 1;
        this.gapTo[base + at] = to;
        this.gapCount[s] = n + 1;
        return true;
      }
      if (this.gapFrom[base + g] === this.gapTo[base + g]) {
        for (let k = g + 1; k < c; k++) {
          this.gapFrom[base + k - 1] = this.gapFrom[base + k];
          this.gapTo[base + k - 1] = this.gapTo[base + k];
        }
        this.gapCount[s] = c - 1;
      }
      return true;
    }
    return false;
  }

  /** The index of the session named by `buf[off, off+10)`, made on first sight; -1 when full. */
  private lookup(buf: Uint8Array, off: number, port: number): number {
    const keys = this.keys;
    const last = this.last;
    if (last >= 0 && sameKey(keys, last * 10, buf, off)) return last;
    const n = this.count;
    for (let s = 0; s < n; s++) {
      if (sameKey(keys, s * 10, buf, off)) {
        this.last = s;
        return s;
      }
    }
    if (n === MAX_SESSIONS) return -1;
    let name = '';
    for (let i = 0; i < 10; i++) {
      keys[n * 10 + i] = buf[off + i];
      name += String.fromCharCode(buf[off + i]);
    }
    this.names[n] = name;
    this.count = n + 1;
    this.ports[n] = port;
    this.last = n;
    return n;
  }

  counters(): Record<string, number> {
    return {
      packets: this.packets,
      messages: this.messages,
      heartbeats: this.heartbeats,
      gaps: this.gaps,
      gap_messages: this.gapMessages,
      duplicates: this.duplicates,
      out_of_order: this.outOfOrder,
      malformed: this.malformed,
      end_of_session: this.endOfSession,
      session_overflow: this.sessionOverflow,
      sessions: this.count,
    };
  }
}

function sameKey(keys: Uint8Array, k: number, buf: Uint8Array, off: number): boolean {
  for (let i = 0; i < 10; i++) if (keys[k + i] !== buf[off + i]) return false;
  return true;
}
