/**
 * The client's Subscription against a bare grpc-js server that writes batches and then ends the
 * stream with an error status at once (as xsk does for a resume that is too old, or a slow
 * subscriber under the disconnect policy). grpc-js alone can drop such last messages when no
 * read is pending (grpc/grpc-node#2764): a consumer that keeps up gets every batch, then the
 * status, and so does one that awaits something before its loop starts (Subscription reads
 * from the start). One that falls behind stops the stream (that is the back-pressure) and gets what it
 * holds (its queue's 16 batches and the paused stream's 16, in order, no gaps), then the
 * status: what grpc-js had not handed over yet is lost, as the issue describes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { feedServiceDefinition, encodeBatch } from '../../src/feed/proto.js';
import { FeedClient } from '../../src/feed/client.js';

const BATCHES = 60;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Batch i: messages with sequences i*10+1 .. i*10+10, 16-byte payloads. */
function batch(i: number): Buffer {
  const messages = Array.from({ length: 10 }, (_, k) => ({ sequence: i * 10 + k + 1, receiveTimeNs: 1, kind: 2, payload: Buffer.alloc(16, k) }));
  return Buffer.from(encodeBatch({ messages, events: [] }));
}

describe('Subscription: batches before an error status', () => {
  let server: grpc.Server;
  let port = 0;
  before(async () => {
    server = new grpc.Server();
    const def = feedServiceDefinition();
    server.addService({ ...def, Subscribe: { ...def.Subscribe, responseSerialize: (b: Buffer) => b } }, {
      Subscribe: (call: grpc.ServerWritableStream<Record<string, any>, Buffer>) => {
        // maxBatch 1 asks for one batch only (the resume_unavailable case: one event, then the status).
        const n = call.request.maxBatch === 1 ? 1 : BATCHES;
        for (let i = 0; i < n; i++) call.write(batch(i));
        call.emit('error', { code: grpc.status.OUT_OF_RANGE, details: 'the end' });
      },
      GetState: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, {}),
    });
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
  });
  after(() => server.forceShutdown());

  async function run(delayMs: number): Promise<{ seqs: number[]; code: number }> {
    const client = new FeedClient(`127.0.0.1:${port}`);
    const sub = client.subscribe();
    const seqs: number[] = [];
    for await (const v of sub.views()) {
      for (let i = 0; i < v.count; i++) seqs.push(v.sequence(i));
      if (delayMs) await sleep(delayMs);
      // Some work per batch, as a real consumer does: the event loop is busy meanwhile.
      const until = performance.now() + 0.3;
      while (performance.now() < until);
    }
    const status = await sub.done;
    client.close();
    return { seqs, code: status.code };
  }

  it(`a consumer that keeps up gets all ${BATCHES} batches, then the status`, async () => {
    for (let round = 0; round < 5; round++) {
      const { seqs, code } = await run(0);
      assert.equal(code, grpc.status.OUT_OF_RANGE, `round ${round}`);
      assert.equal(seqs.length, BATCHES * 10, `round ${round}: got ${seqs.length}`);
      assert.deepEqual(seqs, Array.from({ length: BATCHES * 10 }, (_, k) => k + 1));
    }
  });

  it('a consumer that starts reading late still gets what came before the status', async () => {
    for (let round = 0; round < 5; round++) {
      const client = new FeedClient(`127.0.0.1:${port}`);
      const sub = client.subscribe({ maxBatch: 1 });
      await sleep(50); // the batch and the status arrive before the loop starts
      const seqs: number[] = [];
      for await (const v of sub.views()) for (let i = 0; i < v.count; i++) seqs.push(v.sequence(i));
      const status = await sub.done;
      client.close();
      assert.equal(status.code, grpc.status.OUT_OF_RANGE, `round ${round}`);
      assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], `round ${round}`);
    }
  });

  it('a consumer that falls behind gets an unbroken run of at least what it holds, then the status', async () => {
    for (let round = 0; round < 3; round++) {
      const { seqs, code } = await run(5);
      assert.equal(code, grpc.status.OUT_OF_RANGE, `round ${round}`);
      // Its queue (16 batches) and what the paused stream buffers (16 more) arrive before the end.
      assert.ok(seqs.length >= 32 * 10, `round ${round}: got ${seqs.length}`);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, k) => k + 1));
    }
  });
});
