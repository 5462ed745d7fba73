/**
 * What the main thread and a queue worker say to each other. Never a message per packet:
 * the worker reports a snapshot of its counters a few times a second, and at the end.
 *
 *   main → worker   workerData: WorkerConfig      (once, at start)
 *   worker → main   { type: 'ready', fd }          socket bound: main puts fd in the XSKMAP
 *   main → worker   { type: 'forward', table }     forwarding rules/MACs changed
 *   worker → main   { type: 'snapshot', ... }      counters (periodic, and final with `final`)
 *   main → worker   { type: 'stop' }               stop, drain TX, send the final snapshot, exit
 *   worker → main   { type: 'error', message }     then the worker exits non-zero
 */
import type { BindMode } from '../afxdp/socket.js';
import type { FeedRingBuffers } from './feed-ring.js';

export interface SerializedBackend {
  addr: string;
  port: number;
  mac?: string;
}
export interface SerializedRule {
  frontPort: number;
  backends: SerializedBackend[];
}

export interface WorkerConfig {
  ifname: string;
  ifindex: number;
  queue: number;
  mode: 'native' | 'generic';
  bind: BindMode;
  frameSize: number;
  frames: number;
  ringSize: number;
  txRingSize?: number;
  batchSize: number;
  busyPollUs: number;
  hugepages: boolean;
  latency: boolean;
  cpus?: number[];
  /** Forwarding table with next-hop MACs resolved by the main thread. */
  forward?: { rules: SerializedRule[]; srcMac: string };
  /** The feed's ring to the main thread, when xsk serves the feed (--grpc). */
  feedRing?: FeedRingBuffers;
  /** Test hook: the worker throws after this many frames (to test failure handling). */
  failAfter?: number;
}

export interface Snapshot {
  type: 'snapshot';
  queue: number;
  final: boolean;
  packets: number;
  bytes: number;
  datagrams: number;
  payloadBytes: number;
  invalid: number[];
  txPackets: number;
  txBytes: number;
  txRingFull: number;
  kernel: Record<string, number>;
  rings: Record<string, number>;
  frames?: Record<string, number>;
  forward?: { forwarded: number; perBackend: Record<string, number>; drops: Record<string, number> };
  /** hdr-histogram-js compressed base64, by latency kind. */
  latency?: Record<string, string>;
  timeSource: 'kernel' | 'userspace' | 'none';
  /** Datagrams the feed ring had no room for. */
  feedOverflows: number;
}

export type FromWorker = { type: 'ready'; queue: number; fd: number; description: string } | Snapshot | { type: 'error'; queue: number; message: string };
export type ToWorker = { type: 'stop' } | { type: 'forward'; rules: SerializedRule[] };
