/**
 * The gRPC side of the feed (grpc-js): Subscribe and GetState, plaintext or TLS, and a
 * graceful stop (every stream gets a SHUTDOWN event and ends with OK; what a client that no
 * longer reads still holds up is cut after a grace period).
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { feedServiceDefinition } from './proto.js';
import { grpcTarget } from './flags.js';
import type { BatchSink } from './subscriber.js';

export interface TlsFiles {
  cert: string;
  key: string;
}

/** What the server asks of the feed. */
export interface FeedCore {
  /** Start a subscription; throws an Error whose message is for the client (bad request). */
  subscribe(request: Record<string, any>, sink: BatchSink, peer: string): { cancelled(): void };
  state(): Record<string, unknown>;
}

export class FeedServer {
  private readonly server = new grpc.Server({
    // Batches are at most ~1 MB; leave room.
    'grpc.max_send_message_length': 16 << 20,
  });
  port = 0;

  constructor(
    private readonly core: FeedCore,
    private readonly listen: { host: string; port: number },
    private readonly tls?: TlsFiles,
  ) {
    const def = feedServiceDefinition();
    // Subscribe's batches arrive already encoded (see subscriber.ts): pass them through.
    const service = {
      ...def,
      Subscribe: { ...def.Subscribe, responseSerialize: (b: Uint8Array) => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)) },
    };
    this.server.addService(service, {
      Subscribe: (call: grpc.ServerWritableStream<Record<string, any>, Uint8Array>) => this.subscribe(call),
      GetState: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, this.core.state()),
    });
  }

  private subscribe(call: grpc.ServerWritableStream<Record<string, any>, Uint8Array>): void {
    let ended = false;
    const sink: BatchSink = {
      write: (b) => (ended ? true : call.write(b)),
      onDrain: (cb) => call.once('drain', cb),
      end: () => {
        if (ended) return;
        ended = true;
        call.end();
      },
      fail: (code, details) => {
        if (ended) return;
        ended = true;
        call.emit('error', { code, details });
      },
    };
    let sub: { cancelled(): void };
    try {
      sub = this.core.subscribe(call.request, sink, call.getPeer());
    } catch (e) {
      sink.fail(grpc.status.INVALID_ARGUMENT, (e as Error).message);
      return;
    }
    const gone = () => {
      ended = true;
      sub.cancelled();
    };
    call.on('cancelled', gone);
    call.on('close', gone);
  }

  async start(): Promise<number> {
    const creds = this.tls
      ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(this.tls.cert), private_key: readFileSync(this.tls.key) }], false)
      : grpc.ServerCredentials.createInsecure();
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(grpcTarget(this.listen), creds, (err, port) => (err ? reject(err) : resolve(port))),
    );
    return this.port;
  }

  /** Wait up to `graceMs` for the streams to finish, then cut what is left. */
  async stop(graceMs = 1000): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
