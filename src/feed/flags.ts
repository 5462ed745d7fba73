/**
 * The feed's command-line values: `--decode PORT=DECODER,...` and `--grpc ADDR` (a port alone
 * means loopback), and the rest of the feed's flags. Bad values throw commander's
 * InvalidArgumentError, so the error line names the flag.
 */
import { InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { fileProblem } from '../util/file.js';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

export type DecoderName = 'raw' | 'moldudp64';
export const DECODERS: DecoderName[] = ['raw', 'moldudp64'];

/**
 * `9000=moldudp64,9001=raw` or `9000-9003=moldudp64` → port → decoder, added to `prev` (the
 * earlier --decode values). A port given a decoder twice, in one value or across repeated
 * flags, is refused (it would otherwise be the last one silently).
 */
export function parseDecode(v: string, prev?: Map<number, DecoderName>): Map<number, DecoderName> {
  const out = new Map<number, DecoderName>(prev);
  for (const part of v.split(',')) {
    const m = /^(\d+)(?:-(\d+))?=([a-z0-9]+)$/.exec(part.trim());
    if (!m) throw new InvalidArgumentError(`"${part}" is not PORT=DECODER (decoders: ${DECODERS.join(', ')})`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a < 1 || b > 65535 || a > b) throw new InvalidArgumentError(`"${part}": ports must be within 1-65535`);
    if (!DECODERS.includes(m[3] as DecoderName)) throw new InvalidArgumentError(`"${m[3]}" is not a decoder (${DECODERS.join(', ')})`);
    for (let p = a; p <= b; p++) {
      const had = out.get(p);
      if (had !== undefined) throw new InvalidArgumentError(`port ${p} already has a decoder (${had}); give each port one`);
      out.set(p, m[3] as DecoderName);
    }
  }
  return out;
}

/** `HOST:PORT`, `[IPv6]:PORT`, or `PORT` (127.0.0.1). */
export function parseGrpcAddress(v: string): { host: string; port: number } {
  const m = /^(\d+)$/.exec(v) ?? /^\[([^\]]+)\]:(\d+)$/.exec(v) ?? /^([^:]+):(\d+)$/.exec(v);
  if (!m) throw new InvalidArgumentError(`"${v}" is not HOST:PORT, [IPv6]:PORT or PORT`);
  const host = m.length === 2 ? '127.0.0.1' : m[1];
  const port = Number(m[m.length - 1]);
  if (port > 65535) throw new InvalidArgumentError(`"${v}": port outside 0-65535`);
  if (host !== 'localhost' && isIP(host) === 0) throw new InvalidArgumentError(`"${host}" is not an IP address`);
  return { host, port };
}

/** `host:port` for grpc-js (brackets around IPv6). */
export function grpcTarget(a: { host: string; port: number }): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** The feed's settings from the command line (present when --grpc or --nats is given). */
export interface FeedFlags {
  /** The gRPC server's address; undefined with --nats alone (the feed then serves no gRPC). */
  listen?: { host: string; port: number };
  tls?: { cert: string; key: string };
  decoders: Map<number, DecoderName>;
  historyMessages: number;
  historyBytes: number;
  queueMessages: number;
  queueBytes: number;
}

export const FEED_DEFAULTS = {
  historyMessages: 262144,
  historyBytes: 64 << 20,
  queueMessages: 65536,
  queueBytes: 16 << 20,
};

/**
 * The feed's flags from commander's parsed options, checked together; a problem is returned
 * as `[flag, message]` for the caller's one-line error.
 */
export function feedFlagsFrom(o: Record<string, any>): FeedFlags | undefined | [string, string] {
  // The history and the decoders serve the NATS publisher too (--nats without --grpc); the
  // subscribers' flags need gRPC.
  const grpcOnly = [
    ['tlsCert', '--tls-cert'],
    ['tlsKey', '--tls-key'],
    ['feedQueue', '--feed-queue'],
    ['feedQueueBytes', '--feed-queue-bytes'],
  ] as const;
  if (!o.grpc) {
    if (!o.nats) {
      for (const [key, flag] of [['decode', '--decode'], ['feedHistory', '--feed-history'], ['feedHistoryBytes', '--feed-history-bytes']] as const) {
        if (o[key] !== undefined) return [flag, 'needs --grpc or --nats'];
      }
    }
    for (const [key, flag] of grpcOnly) if (o[key] !== undefined) return [flag, 'needs --grpc'];
    if (!o.nats) return undefined;
  }
  if (o.decode && o.config === undefined) {
    // (With --config, its ports count too: checked once it is read.)
    const missing = [...(o.decode as Map<number, DecoderName>).keys()].filter((p) => !(o.port ?? []).includes(p));
    if (missing.length > 0) return ['--decode', `port(s) ${missing.join(',')} not received (add them to --port)`];
  }
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) return [o.tlsCert ? '--tls-key' : '--tls-cert', 'TLS needs both --tls-cert and --tls-key'];
  if (o.tlsCert !== undefined) {
    const bad = checkTlsFiles(o.tlsCert, o.tlsKey);
    if (bad) return bad;
  }
  const f: FeedFlags = {
    listen: o.grpc,
    tls: o.tlsCert ? { cert: o.tlsCert, key: o.tlsKey } : undefined,
    decoders: o.decode ?? new Map(),
    historyMessages: o.feedHistory ?? FEED_DEFAULTS.historyMessages,
    historyBytes: o.feedHistoryBytes ?? FEED_DEFAULTS.historyBytes,
    queueMessages: 0,
    queueBytes: 0,
  };
  // Unless given, the queue bounds follow a smaller history down.
  f.queueMessages = o.feedQueue ?? Math.min(FEED_DEFAULTS.queueMessages, f.historyMessages);
  f.queueBytes = o.feedQueueBytes ?? Math.min(FEED_DEFAULTS.queueBytes, Math.floor(f.historyBytes / 2));
  if (f.queueMessages > f.historyMessages) return ['--feed-queue', `${f.queueMessages} is more than --feed-history (${f.historyMessages})`];
  if (f.queueBytes > f.historyBytes / 2) return ['--feed-queue-bytes', `${f.queueBytes} is more than half of --feed-history-bytes (${f.historyBytes})`];
  return f;
}

/**
 * The TLS files checked before anything starts: each a regular file, the certificate a PEM
 * certificate, the key a PEM private key (unencrypted), and the key the certificate's. A
 * problem comes back as `[flag, message]`; the message names the file.
 */
export function checkTlsFiles(certPath: string, keyPath: string): [string, string] | undefined {
  const bad = (flag: string, file: string, why: string): [string, string] => [`${flag} <file>`, `argument '${file}' is invalid. ${why}`];
  for (const [flag, file] of [['--tls-cert', certPath], ['--tls-key', keyPath]]) {
    const p = fileProblem(file);
    if (p) return bad(flag, file, p);
  }
  let cert: X509Certificate;
  let key: KeyObject;
  const certPem = readFileSync(certPath, 'latin1');
  if (!certPem.includes('-----BEGIN CERTIFICATE-----')) return bad('--tls-cert', certPath, 'not a PEM certificate (no "-----BEGIN CERTIFICATE-----" line)');
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return bad('--tls-cert', certPath, 'not a PEM certificate (the certificate does not parse)');
  }
  const keyPem = readFileSync(keyPath, 'latin1');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyPem)) return bad('--tls-key', keyPath, 'not a PEM private key (no "-----BEGIN ... PRIVATE KEY-----" line)');
  if (keyPem.includes('ENCRYPTED')) return bad('--tls-key', keyPath, 'an encrypted private key: xsk needs it unencrypted');
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return bad('--tls-key', keyPath, 'not a PEM private key (the key does not parse)');
  }
  if (!cert.checkPrivateKey(key)) return bad('--tls-key', keyPath, `not the private key of the certificate in --tls-cert ${certPath}`);
  return undefined;
}
