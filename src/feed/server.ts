/**
 * The gRPC side of the feed (grpc-js): Subscribe and GetState, plaintext or TLS, and a
 * graceful stop (every stream gets a SHUTDOWN event and ends with OK; what a client that no
 * longer reads still holds up is cut after a grace period).
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { decodeSubscribeRequest, feedServiceDefinition } from './proto.js';
import { grpcTarget } from './flags.js';
import type { BatchSink } from './subscriber.js';
import { checkTlsFiles } from './flags.js';
import { listenError } from '../metrics/server.js';

/**
 * While a bind is under way, grpc-js's log line about a failed bind ("No address added out of
 * total 1 resolved", at ERROR) is dropped: start() reports it as one line naming --grpc.
 * Everything else grpc-js logs goes to stderr as before.
 */
let quietBind = 0;
grpc.setLogger({
  // grpc-js's default logger, with that one exception.
  error: (message: unknown, ...rest: unknown[]) => {
    if (quietBind > 0 && String(message).startsWith('No address added')) return;
    console.error(`E ${message}`, ...rest);
  },
  info: (message: unknown, ...rest: unknown[]) => console.error(`I ${message}`, ...rest),
  debug: (message: unknown, ...rest: unknown[]) => console.error(`D ${message}`, ...rest),
} as Partial<Console>);

/** Error details sent to a client are cut to this many characters (they travel in a header). */
export const MAX_DETAILS = 512;

/** `s` cut to `max` characters, saying how long it was. */
export function capText(s: string, max = MAX_DETAILS): string {
  return s.length <= max ? s : `${s.slice(0, max - 40)}... (${s.length} characters in all)`;
}

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
      // Requests with their uint64 fields exact (decimal strings), see decodeSubscribeRequest.
      Subscribe: { ...def.Subscribe, requestDeserialize: (b: Buffer) => decodeSubscribeRequest(b), responseSerialize: (b: Uint8Array) => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)) },
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
      sink.fail(grpc.status.INVALID_ARGUMENT, capText((e as Error).message));
      return;
    }
    const gone = () => {
      ended = true;
      sub.cancelled();
    };
    call.on('cancelled', gone);
    call.on('close', gone);
  }

  /**
   * Bind and serve. A failure is an Error whose message is the one line to show, naming the
   * flag: `--grpc 127.0.0.1:50051: address in use`, `--tls-cert FILE: ...` (grpc-js's own log
   * line about it is kept off stderr).
   */
  async start(): Promise<number> {
    let creds: grpc.ServerCredentials;
    if (this.tls) {
      const bad = checkTlsFiles(this.tls.cert, this.tls.key);
      if (bad) throw new Error(`${bad[0].split(' ')[0]} ${bad[1].replace(/^argument '(.*)' is invalid\. /, '$1: ')}`);
      try {
        creds = grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(this.tls.cert), private_key: readFileSync(this.tls.key) }], false);
      } catch (e) {
        throw new Error(`--tls-cert ${this.tls.cert}, --tls-key ${this.tls.key}: ${(e as Error).message.split('\n')[0]}`);
      }
    } else {
      creds = grpc.ServerCredentials.createInsecure();
    }
    quietBind++;
    try {
      this.port = await new Promise<number>((resolve, reject) =>
        this.server.bindAsync(grpcTarget(this.listen), creds, (err, port) => (err ? reject(err) : resolve(port))),
      );
    } catch (e) {
      const msg = (e as Error).message;
      const code = /\b(E[A-Z]{3,})\b/.exec(msg)?.[1];
      throw new Error(listenError('--grpc', this.listen.host, this.listen.port, { code, message: msg }));
    } finally {
      quietBind--;
    }
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
