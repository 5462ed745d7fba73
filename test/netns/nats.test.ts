/**
 * Publishing the feed to NATS JetStream end to end, as root: nats-server (-js, a temp store)
 * and xsk in the "dut" namespace (nats-server on that namespace's own loopback), MoldUDP64 from
 * the "gen" namespace, and the stream read back by dist/nats-consumer.js, a durable pull
 * consumer in another process.
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../../src/sandbox/netns.js';
import { XskProcess, runTool, stopLeftoverXsks } from '../../src/sandbox/xsk-process.js';
import { NatsServer } from '../../src/sandbox/nats-server.js';

// An xsk left running by a failed assertion would hold the interface for every later test.
afterEach(stopLeftoverXsks);

const PORT = 9000;
const NATS_PORT = 4222;
const NATS = `nats://127.0.0.1:${NATS_PORT}`;
const CONSUMER = fileURLToPath(new URL('../../dist/nats-consumer.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startXsk(sb: Sandbox, stream: string, extra: string[] = []): XskProcess {
  return new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', 'native', '--decode', `${PORT}=moldudp64`, '--nats', NATS, '--nats-stream', stream, '--nats-subject', `xsk.${stream}`, ...extra]);
}

function mold(sb: Sandbox, args: string[]) {
  return runTool(sb, sb.gen, 'mold-send', ['--to', sb.dutAddr, '--port', String(PORT), ...args]);
}

/** dist/nats-consumer.js in the dut namespace: its JSON line. */
function consumer(sb: Sandbox, args: string[]): Promise<Record<string, any>> {
  const child = sb.spawn(sb.dut, process.execPath, [CONSUMER, '--server', NATS, ...args]);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => {
      try {
        if (code !== 0) throw new Error();
        resolve(JSON.parse(out.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`nats-consumer exited ${code}: ${out} ${err}`));
      }
    }),
  );
}

describe('NATS JetStream publisher, native mode', () => {
  let sb: Sandbox;
  let nats: NatsServer;
  before(async () => {
    sb = new Sandbox({ name: 'xskn' });
    nats = new NatsServer({ port: NATS_PORT, sandbox: sb });
    await nats.start();
  });
  after(async () => {
    await nats?.remove();
    sb?.destroy();
  });

  it('N datagrams in → N messages in the stream, in order, no duplicates; a durable consumer in another process replays from a given sequence and resumes', async () => {
    const xsk = startXsk(sb, 'ORDER');
    await xsk.up();
    assert.match(xsk.stderr, /nats: publishing to stream ORDER \(created\)/);
    const sent = await mold(sb, ['--count', '2000', '--messages', '10', '--size', '40', '--burst', '16', '--gap-ms', '1']);
    assert.equal(sent.sent, 2000);
    await sleep(500);
    xsk.signal('SIGTERM');
    assert.equal(await xsk.exit(), 0, xsk.stderr);
    const s = xsk.summary();
    assert.equal(s.feed.messages, 20000);
    assert.equal(s.nats.published, 20000, JSON.stringify(s.nats));
    assert.equal(s.nats.dropped, 0);
    assert.equal(s.nats.rx_to_ack.count, 20000);
    // Everything, from the start.
    const all = await consumer(sb, ['--stream', 'ORDER', '--count', '20000', '--seconds', '30']);
    assert.equal(all.messages, 20000, JSON.stringify(all));
    assert.equal(all.first_sequence, 1);
    assert.equal(all.last_sequence, 20000);
    assert.equal(all.first_stream_seq, 1);
    assert.equal(all.last_stream_seq, 20000);
    assert.equal(all.sequence_jumps, 0);
    assert.equal(all.sequence_backwards, 0);
    assert.equal(all.duplicates, 0);
    assert.equal(all.payload_bytes, 20000 * 40);
    // A durable consumer from stream sequence 5001: 3000 messages, then (run again) it resumes.
    const first = await consumer(sb, ['--stream', 'ORDER', '--durable', 'replay', '--from', '5001', '--count', '3000', '--seconds', '30']);
    assert.equal(first.first_stream_seq, 5001, JSON.stringify(first));
    assert.equal(first.last_stream_seq, 8000);
    assert.equal(first.first_sequence, 5001);
    assert.equal(first.messages, 3000);
    const again = await consumer(sb, ['--stream', 'ORDER', '--durable', 'replay', '--count', '1000', '--seconds', '30']);
    assert.equal(again.first_stream_seq, 8001, JSON.stringify(again));
    assert.equal(again.last_sequence, 9000);
    assert.equal(again.sequence_jumps, 0);
  });

  it('NATS restarts while traffic continues: what is lost is counted and announced on the stream, nothing is duplicated, order is kept', async () => {
    const xsk = startXsk(sb, 'RESTART', ['--nats-queue', '2000', '--stats-interval', '0.5']);
    await xsk.up();
    // 2000 packets/s of 5 messages (10 k messages/s) for 6 s; NATS is away from 1.5 s to ~3.5 s.
    const sending = mold(sb, ['--count', '12000', '--messages', '5', '--size', '24', '--rate', '2000']);
    await sleep(1500);
    await nats.stop();
    await sleep(2000);
    await nats.start();
    const sent = await sending;
    assert.equal(sent.sent, 12000);
    await sleep(1500);
    xsk.signal('SIGTERM');
    assert.equal(await xsk.exit(), 0, xsk.stderr);
    const s = xsk.summary();
    const n = s.nats;
    assert.equal(s.feed.messages, 60000, JSON.stringify(s.feed));
    assert.ok(n.disconnects >= 1 && n.reconnects >= 1, JSON.stringify(n));
    assert.ok(n.dropped > 0, `a 2 s outage at 10 k msg/s overflows a queue of 2000: ${JSON.stringify(n)}`);
    assert.equal(n.published + n.dropped, 60000, JSON.stringify(n));
    assert.ok(n.loss_events >= 1);
    assert.match(xsk.stderr, /nats: disconnected/);
    assert.match(xsk.stderr, /nats: reconnected/);
    const r = await consumer(sb, ['--stream', 'RESTART', '--seconds', '30', '--idle-ms', '2000']);
    assert.equal(r.messages, n.published, JSON.stringify(r));
    assert.equal(r.duplicates, 0);
    assert.equal(r.sequence_backwards, 0);
    assert.equal(r.lost_events, n.loss_events);
    assert.equal(r.lost_messages, n.dropped, 'the lost events announce every message dropped');
    assert.equal(r.sequence_missing, n.dropped, 'and nothing else is missing');
    assert.equal(r.first_sequence, 1);
    assert.equal(r.last_sequence, 60000);
  });

  it('a stream that exists with other limits, or no NATS at all, is a clear error at start', async () => {
    const ok = startXsk(sb, 'LIMITS', ['--nats-max-bytes', String(1 << 20)]);
    await ok.up();
    ok.signal('SIGTERM');
    assert.equal(await ok.exit(), 0);
    const bad = startXsk(sb, 'LIMITS', ['--nats-max-bytes', String(2 << 20)]);
    assert.equal(await bad.exit(), 1);
    assert.match(bad.stderr, /--nats-stream LIMITS: the stream exists but does not fit: its max_bytes is 1048576, not 2097152 \(--nats-max-bytes\)/);
    assert.doesNotMatch(bad.stderr, /xsk up/);
    const none = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--nats', 'nats://127.0.0.1:4299']);
    assert.equal(await none.exit(), 1);
    assert.match(none.stderr, /--nats nats:\/\/127\.0\.0\.1:4299: cannot connect/);
  });
});
