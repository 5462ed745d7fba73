/**
 * Connecting to NATS and making sure the JetStream stream is there: created if absent (subjects
 * `PREFIX.>`, file storage, limits retention, discard old, the limits given), else bound to,
 * after checking that it takes `PREFIX.>` and has the limits asked for. Any problem is one line
 * that says what to change, at start, before xsk attaches anything.
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig, type StreamInfo } from '@nats-io/jetstream';
import type { NatsFlags } from './flags.js';

/** Time JetStream remembers a Nats-Msg-Id (the stream's duplicate_window) when xsk creates it. */
export const DUPLICATE_WINDOW_S = 120;
const NS = 1e9;

export interface NatsConnectOptions {
  /** The client name the server shows (connz). */
  name: string;
}

/** Connect, with automatic reconnection for ever (250 ms apart, with jitter). */
export async function connectNats(f: NatsFlags, o: NatsConnectOptions): Promise<NatsConnection> {
  const tlsWanted = f.tls !== undefined || f.servers.some((s) => s.startsWith('tls://'));
  try {
    return await connect({
      servers: f.servers,
      name: o.name,
      authenticator: f.creds ? credsAuthenticator(new Uint8Array(readFileSync(f.creds))) : undefined,
      tls: tlsWanted ? { caFile: f.tls?.ca, certFile: f.tls?.cert, keyFile: f.tls?.key } : undefined,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      reconnectJitterTLS: 250,
      timeout: 5000,
      pingInterval: 5000,
      maxPingOut: 2,
      noEcho: true,
    });
  } catch (e) {
    throw new Error(`--nats ${f.servers.join(',')}: cannot connect (${(e as Error).message})`);
  }
}

/** The stream's config as xsk would create it. */
export function streamConfig(f: NatsFlags): Partial<StreamConfig> & { name: string } {
  return {
    name: f.stream,
    subjects: [`${f.subjectPrefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_bytes: f.maxBytes ?? -1,
    max_age: f.maxAgeS === undefined ? 0 : Math.round(f.maxAgeS * NS),
    // (JetStream wants it no longer than max_age.)
    duplicate_window: Math.round(Math.min(DUPLICATE_WINDOW_S, f.maxAgeS ?? Infinity) * NS),
    num_replicas: 1,
  };
}

/** Whether a stream subject (possibly with wildcards) takes every subject under `prefix.>`. */
export function covers(streamSubject: string, prefix: string): boolean {
  const s = streamSubject.split('.');
  const p = [...prefix.split('.'), '>'];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '>') return true;
    if (i >= p.length) return false;
    if (p[i] === '>') return false; // the stream wants a token where we have a whole tail
    if (s[i] !== '*' && s[i] !== p[i]) return false;
  }
  return false;
}

/**
 * The stream: created, or checked and bound to. Returns what happened, for the log line.
 * Throws one line naming the flag when the stream exists but does not fit.
 */
export async function ensureStream(nc: NatsConnection, f: NatsFlags): Promise<{ created: boolean; info: StreamInfo }> {
  let jsm;
  try {
    jsm = await jetstreamManager(nc, { timeout: 5000 });
  } catch (e) {
    throw new Error(`--nats ${f.servers.join(',')}: JetStream is not available there (${(e as Error).message}); run nats-server with -js`);
  }
  let info: StreamInfo | undefined;
  try {
    info = await jsm.streams.info(f.stream);
  } catch (e) {
    if ((e as { name?: string }).name !== 'StreamNotFoundError' && !/stream not found/i.test((e as Error).message)) {
      throw new Error(`--nats-stream ${f.stream}: ${(e as Error).message}`);
    }
  }
  if (!info) {
    try {
      return { created: true, info: await jsm.streams.add(streamConfig(f)) };
    } catch (e) {
      const msg = (e as Error).message;
      if (/overlap/i.test(msg)) {
        throw new Error(`--nats-stream ${f.stream}: can't create it: another stream already takes subjects under ${f.subjectPrefix}.> (${msg}); give that stream's name with --nats-stream, or another --nats-subject`);
      }
      throw new Error(`--nats-stream ${f.stream}: can't create it (${msg})`);
    }
  }
  const c = info.config;
  const problems: string[] = [];
  if (!(c.subjects ?? []).some((s) => covers(s, f.subjectPrefix))) {
    problems.push(`its subjects [${(c.subjects ?? []).join(', ')}] do not take ${f.subjectPrefix}.> (--nats-subject)`);
  }
  if (f.maxBytes !== undefined && c.max_bytes !== f.maxBytes) problems.push(`its max_bytes is ${c.max_bytes}, not ${f.maxBytes} (--nats-max-bytes)`);
  if (f.maxAgeS !== undefined && c.max_age !== Math.round(f.maxAgeS * NS)) problems.push(`its max_age is ${c.max_age / NS} s, not ${f.maxAgeS} s (--nats-max-age)`);
  if (!c.duplicate_window || c.duplicate_window <= 0) problems.push('it has no duplicate window: Nats-Msg-Id could not keep duplicates out');
  if (c.retention !== RetentionPolicy.Limits && c.retention !== RetentionPolicy.Interest && c.retention !== RetentionPolicy.Workqueue) problems.push(`unknown retention ${c.retention}`);
  if (problems.length > 0) {
    throw new Error(`--nats-stream ${f.stream}: the stream exists but does not fit: ${problems.join('; ')}. Change the flags, or update or delete the stream (nats stream edit/rm)`);
  }
  return { created: false, info };
}
