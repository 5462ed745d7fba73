/**
 * The feed's client, as a typed library:
 *
 *   const feed = new FeedClient('127.0.0.1:50051');
 *   const sub = feed.subscribe({ ports: [9000], fromSequence: 1 });
 *   for await (const batch of sub) for (const m of batch.messages) use(m.sequence, m.payload);
 *   await sub.done;   // the final status: OK after a SHUTDOWN event, or the error
 *
 * Batches come as they were sent (messages in sequence order, status events marked with the
 * sequence they come before). Not iterating is not reading: the server sees the stream's
 * flow control and applies the subscription's slow policy.
 */
import * as grpc from '@grpc/grpc-js';
import { decodeBatch, feedServiceDefinition, MessageKind, SlowPolicy } from './proto.js';
import { formatAddress } from './filter.js';

export type Kind = 'raw' | 'moldudp64';

export interface SubscribeOptions {
  /** Destination ports; none: all. */
  ports?: number[];
  /** Source address; none: any. */
  source?: string;
  kinds?: Kind[];
  /** MoldUDP64 message types (first byte of a message), e.g. 'AE'. */
  messageTypes?: string;
  /** Resume from this server sequence (if still in history); none: live. */
  fromSequence?: number;
  maxBatch?: number;
  heartbeatMs?: number;
  slowPolicy?: 'skip' | 'disconnect';
  maxQueueMessages?: number;
  maxQueueBytes?: number;
}

export interface FeedMessage {
  sequence: number;
  /** CLOCK_MONOTONIC ns at the server when the datagram was received. */
  receiveTimeNs: number;
  source: string;
  sourcePort: number;
  destinationPort: number;
  kind: Kind;
  payload: Buffer;
  /** MoldUDP64 only: the session and the sender's sequence number of this message. */
  mold?: { session: string; sequence: number };
}

interface EventBase {
  /** The event comes before the message with this sequence. */
  nextSequence: number;
  timeNs: number;
}

export type StatusEvent = EventBase &
  (
    | { type: 'heartbeat' }
    | { type: 'gap'; session: string; port: number; firstMissing: number; count: number }
    | { type: 'skipped'; count: number; firstSequence: number; lastSequence: number }
    | { type: 'resume_unavailable'; requestedSequence: number; oldestSequence: number; latestNext: number }
    | { type: 'end_of_session'; session: string; port: number }
    | { type: 'shutdown'; reason: string }
    | { type: 'subscribed'; oldestSequence: number }
  );

export interface FeedBatch {
  messages: FeedMessage[];
  events: StatusEvent[];
}

export interface ServerState {
  iface: string;
  mode: string;
  ports: number[];
  decoders: string[];
  datagrams: number;
  messages: number;
  payloadBytes: number;
  oldestSequence: number;
  nextSequence: number;
  historyCapacity: number;
  historyBytesCapacity: number;
  mold: { packets: number; heartbeats: number; gaps: number; gapMessages: number; duplicates: number; outOfOrder: number; malformed: number; endOfSession: number };
  sessions: { session: string; port: number; nextExpected: number; openGapMessages: number; ended: boolean }[];
  subscribers: { id: number; peer: string; nextSequence: number; sent: number; skipped: number; batches: number; waitingForDrain: boolean }[];
}

export interface ClientOptions {
  /** TLS: trust these CA certificates (PEM); `true`: the system's. */
  tls?: { ca?: Buffer; serverName?: string } | boolean;
  /** Largest message accepted (default 16 MB; the server's batches are at most ~1 MB). */
  maxReceiveBytes?: number;
}

type RawClient = grpc.Client & {
  Subscribe(req: object): grpc.ClientReadableStream<any>;
  GetState(req: object, cb: (err: grpc.ServiceError | null, res: any) => void): void;
};

export class FeedClient {
  private readonly client: RawClient;

  constructor(address: string, opts: ClientOptions = {}) {
    // Batches are decoded by protobufjs straight (see proto.ts), the rest as proto-loader does.
    const def = feedServiceDefinition();
    const service = { ...def, Subscribe: { ...def.Subscribe, responseDeserialize: (b: Buffer) => decodeBatch(b) } };
    const Ctor = grpc.makeGenericClientConstructor(service, 'Feed') as unknown as new (addr: string, creds: grpc.ChannelCredentials, o: object) => RawClient;
    const tls = opts.tls;
    const creds = tls ? grpc.credentials.createSsl(typeof tls === 'object' ? (tls.ca ?? null) : null) : grpc.credentials.createInsecure();
    const channelOpts: Record<string, unknown> = {
      'grpc.max_receive_message_length': opts.maxReceiveBytes ?? 16 << 20,
      // HTTP/2's default 64 KB window is a couple of batches: the server would stall on it.
      'grpc-node.flow_control_window': 4 << 20,
    };
    if (typeof tls === 'object' && tls.serverName) channelOpts['grpc.ssl_target_name_override'] = tls.serverName;
    this.client = new Ctor(address, creds, channelOpts);
  }

  subscribe(o: SubscribeOptions = {}): Subscription {
    const req: Record<string, unknown> = {
      ports: o.ports ?? [],
      source: o.source ?? '',
      kinds: (o.kinds ?? []).map((k) => (k === 'raw' ? MessageKind.RAW : MessageKind.MOLDUDP64)),
      messageTypes: Buffer.from(o.messageTypes ?? '', 'latin1'),
      maxBatch: o.maxBatch ?? 0,
      heartbeatMs: o.heartbeatMs ?? 0,
      slowPolicy: o.slowPolicy === 'disconnect' ? SlowPolicy.DISCONNECT : SlowPolicy.SKIP,
      maxQueueMessages: o.maxQueueMessages ?? 0,
      maxQueueBytes: o.maxQueueBytes ?? 0,
    };
    if (o.fromSequence !== undefined) req.fromSequence = o.fromSequence;
    return new Subscription(this.client.Subscribe(req));
  }

  state(): Promise<ServerState> {
    return new Promise((resolve, reject) => this.client.GetState({}, (err, res) => (err ? reject(err) : resolve(res as ServerState))));
  }

  close(): void {
    this.client.close();
  }
}

export interface FinalStatus {
  code: number;
  details: string;
}

export class Subscription implements AsyncIterable<FeedBatch> {
  /** The stream's final status (code 0: OK). Never rejects. */
  readonly done: Promise<FinalStatus>;

  constructor(private readonly call: grpc.ClientReadableStream<any>) {
    this.done = new Promise((resolve) => call.on('status', (s: grpc.StatusObject) => resolve({ code: s.code, details: s.details })));
    // Errors end the iteration; the status says which.
    call.on('error', () => {});
  }

  async *[Symbol.asyncIterator](): AsyncIterator<FeedBatch> {
    try {
      for await (const raw of this.call) yield toBatch(raw);
    } catch (e) {
      if ((e as grpc.ServiceError).code === undefined) throw e;
      // A gRPC error status: the iteration ends; `done` has it.
    }
  }

  cancel(): void {
    this.call.cancel();
  }
}

/** The last source address formatted (a feed's messages mostly come from a few senders). */
let lastAddr: Buffer = Buffer.alloc(0);
let lastAddrText = '';
function sourceText(b: Buffer): string {
  if (!b.equals(lastAddr)) {
    lastAddr = Buffer.from(b);
    lastAddrText = formatAddress(b);
  }
  return lastAddrText;
}

/** A uint64 as protobufjs decodes it (a Long, or a number) → number. */
function num(v: any): number {
  return typeof v === 'number' ? v : v.toNumber();
}

function toBatch(raw: any): FeedBatch {
  const messages: FeedMessage[] = raw.messages.map((m: any) => {
    const msg: FeedMessage = {
      sequence: num(m.sequence),
      receiveTimeNs: num(m.receiveTimeNs),
      source: sourceText(m.sourceAddress),
      sourcePort: m.sourcePort,
      destinationPort: m.destinationPort,
      kind: m.kind === MessageKind.MOLDUDP64 ? 'moldudp64' : 'raw',
      payload: m.payload,
    };
    if (m.mold) msg.mold = { session: m.mold.session, sequence: num(m.mold.sequence) };
    return msg;
  });
  const events: StatusEvent[] = raw.events.map((e: any): StatusEvent => {
    const base = { nextSequence: num(e.nextSequence), timeNs: num(e.timeNs) };
    switch (e.event) {
      case 'gap':
        return { ...base, type: 'gap', session: e.gap.session, port: e.gap.port, firstMissing: num(e.gap.firstMissing), count: num(e.gap.count) };
      case 'skipped':
        return { ...base, type: 'skipped', count: num(e.skipped.count), firstSequence: num(e.skipped.firstSequence), lastSequence: num(e.skipped.lastSequence) };
      case 'resumeUnavailable':
        return {
          ...base,
          type: 'resume_unavailable',
          requestedSequence: num(e.resumeUnavailable.requestedSequence),
          oldestSequence: num(e.resumeUnavailable.oldestSequence),
          latestNext: num(e.resumeUnavailable.nextSequence),
        };
      case 'endOfSession':
        return { ...base, type: 'end_of_session', session: e.endOfSession.session, port: e.endOfSession.port };
      case 'shutdown':
        return { ...base, type: 'shutdown', reason: e.shutdown.reason };
      case 'subscribed':
        return { ...base, type: 'subscribed', oldestSequence: num(e.subscribed.oldestSequence) };
      default:
        return { ...base, type: 'heartbeat' };
    }
  });
  return { messages, events };
}
