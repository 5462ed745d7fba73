/** The frame builder lives in src/frame/build.ts (the generator uses it too). */
export * from '../../src/frame/build.js';

import { FrameParser } from '../../src/frame/parse.js';

/** The fields of a datagram that the feed ring and the history take from it. */
export interface ViewFields {
  payloadOffset: number;
  payloadLength: number;
  rxNs: number;
  ipVersion: number;
  srcAddrOffset: number;
  srcPort: number;
  dstPort: number;
}

/** A Datagram view with these fields set (a FrameParser, as the pipeline and the ring reader hand over). */
export function datagramView(f: ViewFields): FrameParser {
  return Object.assign(new FrameParser(), f);
}
