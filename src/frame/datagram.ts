/**
 * What a Stage may read of a parsed UDP datagram: absolute offsets into the frame's buffer and
 * the header fields the stages need. FrameParser is one (its fields after a successful parse);
 * the feed's ring reader on the main thread is another. Read-only: a stage rewrites the frame's
 * bytes, never these.
 */
export interface Datagram {
  /** 4 or 6. */
  readonly ipVersion: number;
  readonly l3Offset: number;
  readonly l4Offset: number;
  readonly srcAddrOffset: number;
  readonly dstAddrOffset: number;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payloadOffset: number;
  readonly payloadLength: number;
  /** The UDP length field: header and payload. */
  readonly udpLength: number;
  /** IPv4 TTL or IPv6 hop limit. */
  readonly ttl: number;
  /**
   * When the frame was received, CLOCK_MONOTONIC ns: the kernel's stamp where the port has one,
   * else the batch's time. A field, not an argument: a time in ns is no small integer, and V8
   * boxes such a number (a heap allocation) for every call it is passed to and not inlined.
   */
  readonly rxNs: number;
}
