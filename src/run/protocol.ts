/**
 * What the main thread (control plane) and a datapath thread say to each other. Never a message
 * per packet: the datapath reports a snapshot of its counters a few times a second and at the
 * end; feed records go through a shared-memory ring (feed-ring.ts), not messages.
 *
 *   main → datapath   workerData: WorkerConfig       once, at start (with the control port)
 *   datapath → main   { type: 'ready', fd, warm }     socket bound, pipeline warmed: main puts fd
 *                                                     in the XSKMAP (AF_XDP) and attaches
 *   main → datapath   { type: 'mode', mode }          the XDP program's attach mode, once known
 *   main → datapath   { type: 'forward', rules }      forwarding rules/MACs changed
 *   main → datapath   { type: 'ports', ports }        ports changed (raw mode's socket filter)
 *   main → datapath   { type: 'affinity' }            --cpus: the other threads were just moved off
 *                                                     the datapath CPUs, or the main thread's mask
 *                                                     changed since (look again: polite or not)
 *   datapath → main   { type: 'snapshot', ... }       counters (periodic, and final with `final`)
 *   main → datapath   { type: 'snapshot' }            send a snapshot now (a scrape, the stats line)
 *   main → datapath   { type: 'stop' }                stop, drain TX, final snapshot, exit
 *   datapath → main   { type: 'error', message }      then the thread exits non-zero
 *
 * main → datapath messages go through a MessagePort of their own (`control`), which the
 * datapath reads synchronously between batches, when the count of posted messages (`posted`,
 * shared memory) says there is one; the main thread rings the datapath's eventfd (wakeFd)
 * after each, so a thread parked in poll() sees it at once.
 */
import type { MessagePort } from 'node:worker_threads';
import type { BindMode } from '../afxdp/socket.js';
import type { FeedRingBuffers } from './feed-ring.js';
import type { SharedLatencyBuffers } from '../pipeline/shared-histogram.js';
import type { DatapathSched, ThreadSched } from './sched.js';

export interface SerializedBackend {
  addr: string;
  port: number;
  mac?: string;
}
export interface SerializedRule {
  frontPort: number;
  backends: SerializedBackend[];
}

export type DatapathKind = 'afxdp' | 'raw';

export interface WorkerConfig {
  kind: DatapathKind;
  ifname: string;
  ifindex: number;
  queue: number;
  /** UDP ports received (the raw port builds its socket filter from them). */
  ports: number[];
  bind: BindMode;
  frameSize: number;
  frames: number;
  ringSize: number;
  txRingSize?: number;
  batchSize: number;
  busyPollUs: number;
  hugepages: boolean;
  latency: boolean;
  /** The XDP program stamps in the frame's head (XdpProgram.headStamps): the port skips it. */
  headStamps?: boolean;
  /** The latency histograms this thread records into and the main thread reads (with latency). */
  latencyBuffers?: SharedLatencyBuffers;
  /** Run the pipeline over synthetic frames before going live (default on). */
  warm: boolean;
  cpus?: number[];
  /** --datapath-sched: 'latency' asks the kernel to run this thread soon after each wakeup. */
  sched: DatapathSched;
  /** Forwarding table with next-hop MACs resolved by the main thread. */
  forward?: { rules: SerializedRule[]; srcMac: string };
  /** The feed's ring to the main thread, when xsk serves the feed (--grpc). */
  feedRing?: FeedRingBuffers;
  /** The writer's end of the feed ring's wake channel (feed-ring.ts's FeedWake); transferred. */
  feedWake?: MessagePort;
  /** Main → datapath messages (ToWorker), read synchronously between batches. */
  control: MessagePort;
  /**
   * How many messages the main thread has posted on `control` (Int32Array over a
   * SharedArrayBuffer, bumped after each post): the datapath reads the port only when this has
   * moved: an empty receiveMessageOnPort() costs ~50 ns in a tight loop but 2-12 µs once every
   * few ms, cache-cold. The receive loop reads it every round to see a message at once
   * (pipeline/blocking-loop.ts's `mail`).
   */
  posted: Int32Array;
  /** An eventfd the main thread rings after each message, to wake the thread from poll(). */
  wakeFd: number;
  /** --stage modules (file URLs): each exports a StageFactory, run after parsing, before the built-in stages. */
  stages?: string[];
  /** Test hook (XSK_TEST_FAIL_AFTER): the datapath throws after this many frames. */
  failAfter?: number;
}

export interface WarmReport {
  ms: number;
  frames: number;
  /** Whether V8 had compiled every hot function when warming stopped (undefined: unknown). */
  optimized?: boolean;
  /** Hot functions that were not compiled when warming stopped. */
  cold?: string[];
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
  /** Frames to send that were dropped, by reason (ring_full, and the raw port's own). */
  txDrops: Record<string, number>;
  /** The kernel's counters for the socket (XDP_STATISTICS or PACKET_STATISTICS). */
  kernel: Record<string, number>;
  rings: Record<string, number>;
  /** Where every UMEM frame is (AF_XDP, final snapshot). */
  frames?: Record<string, number>;
  /** What the port adds to the summary (bind mode; raw mode's raw_stats). */
  port: Record<string, unknown>;
  forward?: { forwarded: number; checksumCompleted: number; perBackend: Record<string, number>; drops: Record<string, number> };
  timeSource: 'kernel' | 'userspace' | 'none';
  /** Datagrams the feed ring had no room for. */
  feedOverflows: number;
  /** The datapath thread's own heap and collections. */
  runtime: { gc_minor: number; gc_major: number; gc_ms: number; old_space_growth_bytes: number; heap_used_bytes: number };
  /** The receive loop: parks in poll(), wakeups with frames, re-warms after quiet spells. */
  loop: { parks: number; wakeups: number; yielded: number; rewarms: number };
}

export type FromWorker =
  | { type: 'ready'; queue: number; fd: number; description: string; warm?: WarmReport; tid: number; sched: ThreadSched | { error: string } }
  | Snapshot
  | { type: 'error'; queue: number; message: string };
export type ToWorker =
  | { type: 'stop' }
  | { type: 'snapshot' }
  | { type: 'forward'; rules: SerializedRule[] }
  | { type: 'ports'; ports: number[] }
  | { type: 'mode'; mode: 'native' | 'generic' }
  | { type: 'affinity' };
