/**
 * `xsk/feed`: the client of xsk's gRPC feed (`xsk --grpc ...`).
 *
 * ```ts
 * import { FeedClient } from 'xsk/feed';
 * const feed = new FeedClient('127.0.0.1:50051');
 * const sub = feed.subscribe({ ports: [9000], fromSequence: 1 });
 * for await (const batch of sub) for (const m of batch.messages) use(m.sequence, m.payload);
 * ```
 *
 * @packageDocumentation
 * @module xsk/feed
 */
export * from '../feed/client.js';
