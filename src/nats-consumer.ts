#!/usr/bin/env node
/**
 * xsk-nats-consumer: read what xsk published to a JetStream stream, with a durable pull
 * consumer (or an ephemeral one), and say what arrived.
 *
 *   node dist/nats-consumer.js --server nats://127.0.0.1:4222 --stream XSK_eth0
 *        [--durable NAME] [--from STREAM_SEQ] [--filter SUBJECT] [--count N] [--seconds S]
 *        [--idle-ms MS] [--creds FILE] [--print] [--info]
 *
 * A durable consumer is created if absent, from --from (a stream sequence; default the
 * first), and resumes where it left off when run again. One JSON line on stdout at the end:
 * messages, the stream and feed sequences seen, jumps, duplicates, and the publisher's `lost`
 * and MoldUDP64 `gap` events (see src/nats/consume.ts). --print writes each message's
 * headers as a JSON line first.
 */
import { Command, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { consume } from './nats/consume.js';

function int(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a non-negative integer');
  return Number(v);
}

const cmd = new Command('xsk-nats-consumer')
  .requiredOption('--server <url>', 'NATS server URL (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
  .requiredOption('--stream <name>', 'the stream')
  .option('--durable <name>', 'a durable consumer: created if absent, else resumed')
  .option('--from <seq>', 'first stream sequence (a new consumer)', int)
  .option('--filter <subject>', 'only this subject')
  .option('--count <n>', 'stop after N feed messages', int)
  .option('--seconds <s>', 'stop after S seconds', int, 30)
  .option('--idle-ms <ms>', 'stop once nothing more arrives for MS', int)
  .option('--creds <file>', 'NATS credentials file')
  .option('--print', 'print each message (subject, stream sequence, headers) as a JSON line')
  .option('--info', "print the stream's state and config as one JSON line, and read nothing")
  .allowExcessArguments(false);
cmd.parse();
const o = cmd.opts();

const nc = await connect({
  servers: o.server,
  authenticator: o.creds ? credsAuthenticator(new Uint8Array(readFileSync(o.creds))) : undefined,
  name: 'xsk-nats-consumer',
});
try {
  if (o.info) {
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const si = await (await jetstreamManager(nc)).streams.info(o.stream);
    process.stdout.write(JSON.stringify({ state: si.state, config: si.config }) + '\n');
    process.exit(0);
  }
  const r = await consume(nc, {
    stream: o.stream,
    durable: o.durable,
    from: o.from,
    filter: o.filter,
    count: o.count,
    ms: o.seconds * 1000,
    idleMs: o.idleMs,
    onMessage: o.print
      ? (m) => {
          const h: Record<string, string> = {};
          for (const k of m.headers?.keys() ?? []) h[k] = m.headers!.get(k);
          process.stdout.write(JSON.stringify({ subject: m.subject, stream_seq: m.seq, headers: h, bytes: m.data.length }) + '\n');
        }
      : undefined,
  });
  await nc.flush();
  process.stdout.write(JSON.stringify(r) + '\n');
} finally {
  await nc.drain().catch(() => {});
}
