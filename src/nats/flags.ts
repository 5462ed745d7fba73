/**
 * The NATS JetStream publisher's command-line flags (`--nats URL` and the `--nats-*` ones),
 * registered on xsk's command and checked together. Bad values throw commander's
 * InvalidArgumentError (the error line names the flag); problems across flags come back as
 * `[flag, message]` for the caller's one-line error.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { fileProblem } from '../util/file.js';

export interface NatsFlags {
  /** Server URLs, in the order given (the client tries them all and reconnects to any). */
  servers: string[];
  /** A NATS credentials file (JWT + NKey seed). */
  creds?: string;
  tls?: { ca?: string; cert?: string; key?: string };
  /** Subjects are `<prefix>.<port>` (raw) or `<prefix>.<session>` (MoldUDP64). */
  subjectPrefix: string;
  stream: string;
  /** Limits for a stream xsk creates; checked against one that exists when given. */
  maxBytes?: number;
  maxAgeS?: number;
  /** One JetStream message per feed batch (a FeedBatch, proto/feed.proto) instead of one per message. */
  batch: boolean;
  /** JetStream messages published and not yet acknowledged, at most. */
  window: number;
  /** Feed messages waiting to be published, at most (beyond: the oldest are dropped, counted). */
  queueMessages: number;
  /** Other publishers write to the stream too: no Nats-Expected-Last-Msg-Id chain. */
  shared: boolean;
}

export const NATS_DEFAULTS = { window: 1024, queueMessages: 65536 };

/** A server URL: nats://, tls://, or host:port / host (nats:// is assumed). */
export function parseNatsUrl(v: string): string {
  const url = /^[a-z]+:\/\//i.test(v) ? v : `nats://${v}`;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidArgumentError(`"${v}" is not a NATS URL (nats://HOST:PORT, tls://HOST:PORT or HOST:PORT)`);
  }
  if (!['nats:', 'tls:'].includes(u.protocol)) throw new InvalidArgumentError(`"${v}": the scheme must be nats:// or tls://`);
  if (!u.hostname) throw new InvalidArgumentError(`"${v}" has no host`);
  return url;
}

/** Subject tokens: printable, no spaces, no wildcards; dots separate tokens. */
export function parseSubjectPrefix(v: string): string {
  if (!/^[!-~]+$/.test(v) || /[*>]/.test(v) || v.split('.').some((t) => t === '')) {
    throw new InvalidArgumentError(`"${v}" is not a subject prefix (dot-separated tokens of printable characters, no spaces, no * or >)`);
  }
  return v;
}

/** JetStream stream names: no spaces, dots, wildcards or path separators. */
export function parseStreamName(v: string): string {
  if (!/^[!-~]+$/.test(v) || /[.*>/\\]/.test(v) || v.length > 255) {
    throw new InvalidArgumentError(`"${v}" is not a stream name (printable, no spaces, '.', '*', '>', '/' or '\\')`);
  }
  return v;
}

function natsInteger(min: number, max: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

function natsSeconds(v: string): number {
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(v)) throw new InvalidArgumentError('expected a decimal number of seconds from 0.001 to 315360000 (ten years)');
  const n = Number(v);
  if (n < 0.001 || n > 315_360_000) throw new InvalidArgumentError('expected a decimal number of seconds from 0.001 to 315360000 (ten years)');
  return n;
}

/** Add the NATS flags to xsk's command. */
export function addNatsOptions(cmd: Command): Command {
  return cmd
    .option('--nats <url>', 'publish the feed to NATS JetStream at this server: nats://HOST:PORT, tls://HOST:PORT (repeatable: a cluster)', (v: string, prev: string[] = []) => [...prev, parseNatsUrl(v)])
    .option('--nats-creds <file>', 'NATS credentials file (JWT and NKey seed)')
    .option('--nats-tls-ca <file>', "CA certificate(s) (PEM) to verify the NATS server's")
    .option('--nats-tls-cert <file>', 'NATS client certificate (PEM), with --nats-tls-key')
    .option('--nats-tls-key <file>', 'NATS client private key (PEM), with --nats-tls-cert')
    .option('--nats-subject <prefix>', 'subject prefix: messages go to PREFIX.<port> or PREFIX.<MoldUDP64 session> (default xsk.<iface>)', parseSubjectPrefix)
    .option('--nats-stream <name>', 'JetStream stream: created if absent, else bound to (default XSK_<iface>)', parseStreamName)
    .addOption(new Option('--nats-max-bytes <n>', 'the stream keeps at most this many bytes (a stream xsk creates; checked on one that exists)').argParser(natsInteger(1024, Number.MAX_SAFE_INTEGER)))
    .addOption(new Option('--nats-max-age <s>', 'the stream keeps messages this many seconds (a stream xsk creates; checked on one that exists)').argParser(natsSeconds))
    .option('--nats-batch', 'one JetStream message per feed batch (a FeedBatch protobuf) instead of one per feed message')
    .addOption(new Option('--nats-window <n>', `JetStream messages in flight (published, not yet acknowledged), at most (default ${NATS_DEFAULTS.window})`).argParser(natsInteger(1, 65536)))
    .addOption(
      new Option('--nats-queue <n>', `feed messages waiting for NATS, at most; beyond, the oldest are dropped and counted (default ${NATS_DEFAULTS.queueMessages})`).argParser(
        natsInteger(16, 1 << 26),
      ),
    )
    .option('--nats-shared', 'other publishers write to the stream too: do not chain messages with Nats-Expected-Last-Msg-Id');
}

const NATS_ONLY: [string, string][] = [
  ['natsCreds', '--nats-creds'],
  ['natsTlsCa', '--nats-tls-ca'],
  ['natsTlsCert', '--nats-tls-cert'],
  ['natsTlsKey', '--nats-tls-key'],
  ['natsSubject', '--nats-subject'],
  ['natsStream', '--nats-stream'],
  ['natsMaxBytes', '--nats-max-bytes'],
  ['natsMaxAge', '--nats-max-age'],
  ['natsBatch', '--nats-batch'],
  ['natsWindow', '--nats-window'],
  ['natsQueue', '--nats-queue'],
  ['natsShared', '--nats-shared'],
];

/** An interface name as one subject token / a stream name: what is not [A-Za-z0-9_-] becomes _. */
export function ifaceToken(iface: string): string {
  return iface.replace(/[^A-Za-z0-9_-]/g, '_');
}

/**
 * The NATS settings from commander's options, checked together (`historyMessages`: the feed's
 * history, which bounds the queue). undefined without --nats.
 */
export function natsFlagsFrom(o: Record<string, any>, iface: string, historyMessages: number): NatsFlags | undefined | [string, string] {
  if (!o.nats) {
    for (const [key, flag] of NATS_ONLY) if (o[key] !== undefined) return [flag, 'needs --nats'];
    return undefined;
  }
  for (const [key, flag] of [
    ['natsCreds', '--nats-creds <file>'],
    ['natsTlsCa', '--nats-tls-ca <file>'],
    ['natsTlsCert', '--nats-tls-cert <file>'],
    ['natsTlsKey', '--nats-tls-key <file>'],
  ] as const) {
    if (o[key] === undefined) continue;
    const p = fileProblem(o[key]);
    if (p) return [flag, `argument '${o[key]}' is invalid. ${p}`];
  }
  if ((o.natsTlsCert === undefined) !== (o.natsTlsKey === undefined)) {
    return [o.natsTlsCert ? '--nats-tls-key' : '--nats-tls-cert', 'a NATS client certificate needs both --nats-tls-cert and --nats-tls-key'];
  }
  const queueMessages = o.natsQueue ?? Math.min(NATS_DEFAULTS.queueMessages, historyMessages);
  if (queueMessages > historyMessages) return ['--nats-queue', `${queueMessages} is more than --feed-history (${historyMessages}): the queue is a stretch of the feed's history`];
  const tls = o.natsTlsCa || o.natsTlsCert ? { ca: o.natsTlsCa, cert: o.natsTlsCert, key: o.natsTlsKey } : undefined;
  return {
    servers: o.nats,
    creds: o.natsCreds,
    tls,
    subjectPrefix: o.natsSubject ?? `xsk.${ifaceToken(iface)}`,
    stream: o.natsStream ?? `XSK_${ifaceToken(iface)}`,
    maxBytes: o.natsMaxBytes,
    maxAgeS: o.natsMaxAge,
    batch: o.natsBatch === true,
    window: o.natsWindow ?? NATS_DEFAULTS.window,
    queueMessages,
    shared: o.natsShared === true,
  };
}
