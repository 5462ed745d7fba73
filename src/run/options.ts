/**
 * What the runner is told to do: the command line's flags once parsed and checked (cli/options.ts
 * builds this; the run layer needs only the shape, not the parser).
 */
import type { ForwardConfig } from '../forward/rules.js';
import type { FeedFlags } from '../feed/flags.js';
import type { NatsFlags } from '../nats/flags.js';
import type { DatapathSched } from './sched.js';

export type AttachChoice = 'auto' | 'native' | 'generic' | 'raw';
export type BindChoice = 'auto' | 'copy' | 'zero-copy';

export interface XskOptions {
  iface: string;
  queue: number;
  ports: number[];
  mode: AttachChoice;
  bind: BindChoice;
  ringSize: number;
  frameSize: number;
  frames: number;
  batchSize: number;
  busyPollUs: number;
  hugepages: boolean;
  duration: number;
  force: boolean;
  statsInterval: number;
  /** Forwarding rules and neighbours from the command line; the config file is read later. */
  forward: ForwardConfig;
  config?: string;
  txRingSize?: number;
  metrics?: { host: string; port: number };
  latency: boolean;
  /** The XDP program stamps 1 redirected frame in this many (per CPU) for the latency histograms. */
  latencySample: number;
  /** With --queues: the list, or 'all' (resolved from the interface). */
  queues?: number[] | 'all';
  cpus?: number[];
  /** --datapath-sched: 'latency' raises the datapath threads' priority (run/sched.ts). */
  datapathSched: DatapathSched;
  /** Run the datapath over synthetic frames before going live (--no-warm: don't). */
  warm: boolean;
  /** The feed, with --grpc or --nats (listen: with --grpc). */
  feed?: FeedFlags;
  /** Publishing the feed to NATS JetStream, with --nats. */
  nats?: NatsFlags;
  /** --stage modules, as file URLs (resolved here, imported by each datapath thread). */
  stages: string[];
}
