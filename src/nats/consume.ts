/**
 * Reading what xsk published to a JetStream stream, as a consumer on another host would: a
 * durable pull consumer (created if absent, from a given stream sequence, explicit acks) or an
 * ephemeral one, fetching in batches and acknowledging each message. What arrives is checked
 * as it comes: the feed's sequence (Xsk-Seq) must only go up; jumps are counted, and the
 * publisher's `lost` events (and MoldUDP64 `gap` events) are tallied, so that a consumer can
 * tell "lost and announced" from "missing".
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, AckPolicy, DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { decodeFeedBatch } from '../feed/decode.js';

export interface ConsumeOptions {
  stream: string;
  /** A durable consumer's name: created if absent (from `from`), else resumed where it was. */
  durable?: string;
  /** The first stream sequence (a new consumer only). */
  from?: number;
  /** Only this subject (e.g. xsk.dut0.9000, or xsk.dut0.>). */
  filter?: string;
  /** Stop after this many feed messages (batches count their messages). */
  count?: number;
  /** Stop after this many ms. */
  ms: number;
  /** Stop once the stream has nothing more for this many ms (0: wait for count/ms). */
  idleMs?: number;
  /** Each message as it comes. */
  onMessage?(m: JsMsg): void;
}

export interface ConsumeResult {
  /** JetStream messages read (messages, batches, events). */
  jetstream_messages: number;
  /** Feed messages read (a batch counts its messages). */
  messages: number;
  batches: number;
  first_stream_seq: number;
  last_stream_seq: number;
  first_sequence: number;
  last_sequence: number;
  /** Xsk-Seq not one above the one before (the jump is counted in sequence_missing). */
  sequence_jumps: number;
  sequence_missing: number;
  /** Xsk-Seq not above the one before: a duplicate or out of order. */
  sequence_backwards: number;
  /** Xsk-Seq seen twice. */
  duplicates: number;
  lost_events: number;
  /** Feed messages the lost events say were dropped. */
  lost_messages: number;
  /** The lost events' ranges. */
  lost_ranges: [number, number][];
  gap_events: number;
  gap_messages: number;
  end_of_session_events: number;
  payload_bytes: number;
  /** Pending in the consumer when it stopped. */
  pending: number;
}

export async function consume(nc: NatsConnection, o: ConsumeOptions): Promise<ConsumeResult> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const deliver = o.from && o.from > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: o.from } : { deliver_policy: DeliverPolicy.All };
  let name: string;
  if (o.durable) {
    try {
      await jsm.consumers.info(o.stream, o.durable);
    } catch {
      await jsm.consumers.add(o.stream, { durable_name: o.durable, ack_policy: AckPolicy.Explicit, ...deliver, ...(o.filter ? { filter_subject: o.filter } : {}) });
    }
    name = o.durable;
  } else {
    const ci = await jsm.consumers.add(o.stream, { ack_policy: AckPolicy.Explicit, inactive_threshold: 30e9, ...deliver, ...(o.filter ? { filter_subject: o.filter } : {}) });
    name = ci.name;
  }
  const consumer = await js.consumers.get(o.stream, name);
  const r: ConsumeResult = {
    jetstream_messages: 0,
    messages: 0,
    batches: 0,
    first_stream_seq: 0,
    last_stream_seq: 0,
    first_sequence: 0,
    last_sequence: 0,
    sequence_jumps: 0,
    sequence_missing: 0,
    sequence_backwards: 0,
    duplicates: 0,
    lost_events: 0,
    lost_messages: 0,
    lost_ranges: [],
    gap_events: 0,
    gap_messages: 0,
    end_of_session_events: 0,
    payload_bytes: 0,
    pending: 0,
  };
  const seen = new Set<number>();
  const see = (seq: number) => {
    if (seen.has(seq)) r.duplicates++;
    seen.add(seq);
    if (r.first_sequence === 0) r.first_sequence = seq;
    else if (seq <= r.last_sequence) r.sequence_backwards++;
    else if (seq !== r.last_sequence + 1) {
      r.sequence_jumps++;
      r.sequence_missing += seq - r.last_sequence - 1;
    }
    if (seq > r.last_sequence) r.last_sequence = seq;
    r.messages++;
  };
  const deadline = Date.now() + o.ms;
  let idleSince = Date.now();
  while (Date.now() < deadline && (o.count === undefined || r.messages < o.count)) {
    const want = o.count === undefined ? 1024 : Math.max(1, Math.min(1024, o.count - r.messages));
    const it = await consumer.fetch({ max_messages: want, expires: Math.max(1000, Math.min(2000, deadline - Date.now())) });
    let got = 0;
    for await (const m of it) {
      got++;
      r.jetstream_messages++;
      const sseq = m.seq;
      if (r.first_stream_seq === 0) r.first_stream_seq = sseq;
      r.last_stream_seq = sseq;
      o.onMessage?.(m);
      const ev = m.headers?.get('Xsk-Event');
      if (ev) {
        const body = m.json<Record<string, number>>();
        if (ev === 'lost') {
          r.lost_events++;
          r.lost_messages += body.count;
          r.lost_ranges.push([body.first_sequence, body.last_sequence]);
        } else if (ev === 'gap') {
          r.gap_events++;
          r.gap_messages += body.count;
        } else if (ev === 'end_of_session') r.end_of_session_events++;
      } else if (m.headers?.get('Xsk-Kind') === 'batch') {
        r.batches++;
        const b = decodeFeedBatch(Buffer.from(m.data));
        for (const fm of b.messages) {
          see(fm.sequence);
          r.payload_bytes += fm.payload.length;
        }
      } else {
        see(Number(m.headers?.get('Xsk-Seq')));
        r.payload_bytes += m.data.length;
      }
      m.ack();
      if (o.count !== undefined && r.messages >= o.count) break;
    }
    if (got > 0) idleSince = Date.now();
    else if (o.idleMs && Date.now() - idleSince >= o.idleMs) break;
  }
  try {
    r.pending = (await consumer.info()).num_pending;
  } catch {
    // (gone already: an ephemeral consumer after its inactivity)
  }
  return r;
}
