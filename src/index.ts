/**
 * xsk as a library: AF_XDP (and AF_PACKET raw) ports for Node.js, driven from your own thread.
 *
 * ```ts
 * import { open, Verdict } from 'xsk';
 * const port = await open({ iface: 'eth0', queue: 0, ports: [9000] });   // mode 'auto' by default
 * const loop = port.run({ frame(buf, off, len) { return Verdict.Drop; } });
 * // ...
 * await loop.stop();
 * await port.close();   // drains TX, detaches the program, unmaps
 * ```
 *
 * Other entry points: `xsk/feed` (the gRPC feed client), `xsk/testing` (the veth/netns sandbox
 * for integration tests of your own). Importing this module loads nothing and logs nothing:
 * libbpf is loaded when open() first needs it (never in raw mode).
 *
 * @packageDocumentation
 * @module xsk
 */
export { open, type OpenOptions, type OpenMode, type BindMode, type XdpObject } from './lib/open.js';
export {
  XskPort,
  type RunOptions,
  type RunningLoop,
  type FrameBuilder,
  type XskStats,
  type AfXdpStats,
  type RawStats,
  type RawKernelStats,
  type FrameAccount,
} from './lib/port.js';
export { Verdict, type FrameHandler, type PortMode } from './port/port.js';
export { FillRing, RxRing, TxRing, CompletionRing, type Rings } from './lib/rings.js';
export type { Logger } from './util/logger.js';
export { COUNTER_NAMES, type ProgramNames, type ProgramCounters } from './xdp/program.js';
export type { EventLoopOptions } from './pipeline/event-loop.js';
export { XDP_STATISTICS_FIELDS, type XdpStatistics } from './sys/if-xdp.js';

// Parsing frames in place, and the reasons a frame is malformed.
export { FrameParser, type FrameParserOptions, PARSE_OK, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, ETHERTYPE_QINQ, IPPROTO_UDP } from './frame/parse.js';
export {
  INVALID_REASONS,
  Invalid,
  InvalidCounters,
  invalidReasonName,
  invalidReasonCode,
  type InvalidReason,
  type InvalidReasonCode,
} from './frame/invalid-reason.js';
export type { Datagram } from './frame/datagram.js';
export { turnAround } from './frame/turn-around.js';
export { completePartialUdpChecksum } from './frame/checksum.js';
// Building frames (tests, senders): allocates; keep it off the per-frame path.
export { buildUdpFrame, type UdpFrameOptions, type VlanTag } from './frame/build.js';

// Stages: the CLI's plug-in point (`xsk --stage ./my-stage.js`).
export { NEXT, type Stage, type StageContext, type StageFactory } from './pipeline/stage.js';
