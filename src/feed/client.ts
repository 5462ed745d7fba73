/**
 * The feed's client, as a typed library:
 *
 *   const feed = new FeedClient('127.0.0.1:50051');
 *   const sub = feed.subscribe({ ports: [9000], fromSequence: 1 });
 *   for await (const batch of sub) for (const m of batch.messages) use(m.sequence, m.payload);
 *   await sub.done;   // the final status: OK after a SHUTDOWN event, or the error
 *
 * At high rates, read batches in place instead: no object per message (see decode.ts).
 *
 *   for await (const v of sub.views()) for (let i = 0; i < v.count; i++) use(v.sequence(i), v.payloadOffset(i), v.payloadLength(i), v.bytes);
 *
 * Batches come as they were sent (messages in sequence order, status events marked with the
 * sequence they come before). Not iterating is, after a few batches, not reading: the
 * subscription holds up to 16 batches (the stream 16 more), then the server sees the stream's
 * flow control and applies the subscription's slow policy.
 */
import * as grpc from '@grpc/grpc-js';
import { feedServiceDefinition, MessageKind, SlowPolicy } from './proto.js';
import { BatchView, decodeFeedBatch } from './decode.js';
import type { FeedBatch, FeedMessage, Kind, StatusEvent } from './types.js';

export { BatchView } from './decode.js';
export type { FeedBatch, FeedMessage, Kind, StatusEvent } from './types.js';


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
    // Batches stay bytes until they are read (decode.ts: as FeedBatch or in place); the rest
    // is decoded as proto-loader does.
    const def = feedServiceDefinition();
    const service = { ...def, Subscribe: { ...def.Subscribe, responseDeserialize: (b: Buffer) => b } };
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

/** Batches a Subscription holds for a consumer that is behind, before it stops reading the stream. */
const QUEUE_HIGH = 16;
const QUEUE_LOW = 4;

export class Subscription implements AsyncIterable<FeedBatch> {
  /** The stream's final status (code 0: OK). Never rejects. */
  readonly done: Promise<FinalStatus>;
  /** Batches received and not yet taken by the consumer. */
  private readonly queue: Buffer[] = [];
  private ended = false;
  private failure?: grpc.ServiceError;
  private wake?: () => void;

  /**
   * Reading starts here, not when the consumer starts iterating: the stream runs in flowing
   * mode into a small queue of our own (paused past QUEUE_HIGH batches, resumed at QUEUE_LOW).
   * grpc-js drops the last messages of a stream that ends with an error status when no read is
   * pending as they arrive (grpc/grpc-node#2764); a resume_unavailable event before
   * OUT_OF_RANGE is exactly such a message, and a consumer that awaits anything between
   * subscribe() and its loop would have lost it. Flowing, a read is always pending unless the
   * consumer is far behind, and then the server's slow policy applies anyway.
   */
  constructor(private readonly call: grpc.ClientReadableStream<any>) {
    this.done = new Promise((resolve) => call.on('status', (s: grpc.StatusObject) => resolve({ code: s.code, details: s.details })));
    call.on('data', (b: Buffer) => {
      this.queue.push(b);
      if (this.queue.length >= QUEUE_HIGH && !this.failure) call.pause();
      this.notify();
    });
    call.on('end', () => {
      this.ended = true;
      this.notify();
    });
    // Errors end the iteration; the status says which. What the stream still buffers (paused)
    // is delivered before the end.
    call.on('error', (e: grpc.ServiceError) => {
      this.failure = e;
      if (call.isPaused()) call.resume();
      this.notify();
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<FeedBatch> {
    for await (const bytes of this.batches()) yield decodeFeedBatch(bytes);
  }

  /**
   * The batches read in place, into one BatchView that is reused: what it says is valid until
   * the loop asks for the next batch. Allocates nothing per message.
   */
  async *views(): AsyncGenerator<BatchView> {
    const view = new BatchView();
    for await (const bytes of this.batches()) yield view.decode(bytes);
  }

  /** The batches' bytes, in order (one consumer: the iterator or views(), once). */
  private async *batches(): AsyncGenerator<Buffer> {
    const call = this.call;
    const queue = this.queue;
    try {
      for (;;) {
        const b = queue.shift();
        if (b !== undefined) {
          if (queue.length <= QUEUE_LOW && call.isPaused()) call.resume();
          yield b;
        } else if (this.ended || (this.failure && call.readableLength === 0)) {
          break;
        } else {
          await new Promise<void>((r) => (this.wake = r));
        }
      }
    } finally {
      // Left early (break, return, throw in the loop): the consumer is done with the stream.
      if (!this.ended && !this.failure) call.cancel();
    }
    // A gRPC error status ends the iteration (`done` has it); anything else is thrown.
    const f = this.failure;
    if (f && f.code === undefined) throw f;
  }

  cancel(): void {
    this.call.cancel();
  }
}
