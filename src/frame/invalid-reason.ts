/**
 * Why a frame was rejected by the frame parser (src/frame/parse.ts).
 *
 * Each reason has a stable small-integer code (its index in INVALID_REASONS),
 * which is what the hot path returns and counts; the snake_case name is only
 * used when reporting (stats JSON, logs).
 *
 * The order below is the order in which the parser checks things, from the
 * outermost layer (Ethernet) to the innermost (UDP). Append new reasons at the
 * end of a layer's block only together with the matching `Invalid` entry.
 */

export const INVALID_REASONS = [
  /** Frame shorter than the 14-byte Ethernet II header. */
  'truncated_ethernet',
  /** An 802.1Q / 802.1ad tag (or the ethertype after it) runs past the frame end. */
  'truncated_vlan',
  /** More than two VLAN tags (a third 0x8100 / 0x88a8 TPID). */
  'too_many_vlans',
  /** Inner ethertype is neither IPv4 (0x0800) nor IPv6 (0x86DD). */
  'not_ip',
  /** IPv4 header (20 bytes, or IHL*4 with options) runs past the frame end. */
  'truncated_ipv4',
  /** IP version nibble does not match the ethertype (4 for 0x0800, 6 for 0x86DD). */
  'bad_ip_version',
  /** IPv4 IHL < 5. */
  'bad_ihl',
  /** IPv4 total length < IHL*4, or larger than the bytes present in the frame. */
  'ipv4_length_mismatch',
  /** IPv4 header checksum does not verify. */
  'bad_ipv4_checksum',
  /** IPv4 MF flag or non-zero fragment offset, or an IPv6 fragment header. */
  'fragment',
  /** IPv6 fixed 40-byte header runs past the frame end. */
  'truncated_ipv6',
  /** IPv6 payload length larger than the bytes present in the frame. */
  'ipv6_length_mismatch',
  /** IPv4 protocol / IPv6 next header is not UDP (17); IPv6 extension headers are not followed. */
  'not_udp',
  /** The IP payload (per the IP length fields) is shorter than the 8-byte UDP header. */
  'truncated_udp',
  /** UDP length < 8, or larger than the IP payload. */
  'udp_length_mismatch',
  /** UDP checksum does not verify (only when checksum verification is enabled; IPv6 zero checksum included). */
  'bad_udp_checksum',
] as const;

/** A reason name, e.g. 'bad_ihl'. */
export type InvalidReason = (typeof INVALID_REASONS)[number];

/** Numeric code of each reason; `INVALID_REASONS[Invalid.X]` is its name. */
export const Invalid = {
  TruncatedEthernet: 0,
  TruncatedVlan: 1,
  TooManyVlans: 2,
  NotIp: 3,
  TruncatedIpv4: 4,
  BadIpVersion: 5,
  BadIhl: 6,
  Ipv4LengthMismatch: 7,
  BadIpv4Checksum: 8,
  Fragment: 9,
  TruncatedIpv6: 10,
  Ipv6LengthMismatch: 11,
  NotUdp: 12,
  TruncatedUdp: 13,
  UdpLengthMismatch: 14,
  BadUdpChecksum: 15,
} as const;

/** A reason code, 0 .. INVALID_REASON_COUNT-1. */
export type InvalidReasonCode = (typeof Invalid)[keyof typeof Invalid];

/** Number of distinct reasons. */
export const INVALID_REASON_COUNT: number = INVALID_REASONS.length;

/** Returned by FrameParser.parse() for a valid UDP datagram (not a reason code). */
export const PARSE_OK = -1;

/** Name of a reason code, or undefined if `code` is not a reason (e.g. PARSE_OK). */
export function invalidReasonName(code: number): InvalidReason | undefined {
  return code >= 0 && code < INVALID_REASONS.length ? INVALID_REASONS[code] : undefined;
}

/** Code of a reason name (-1 if unknown). */
export function invalidReasonCode(name: string): number {
  return (INVALID_REASONS as readonly string[]).indexOf(name);
}

/**
 * Per-reason drop counters. Storage is preallocated; count() does no
 * allocation and ignores codes that are not reasons (e.g. PARSE_OK).
 */
export class InvalidCounters {
  readonly counts: Float64Array;

  constructor() {
    this.counts = new Float64Array(INVALID_REASONS.length);
  }

  /** Add `n` (default 1) to the counter of `reason` (a reason code). */
  count(reason: number, n = 1): void {
    if (reason >= 0 && reason < this.counts.length) this.counts[reason] += n;
  }

  /** Current count for one reason code (0 for a non-reason). */
  get(reason: number): number {
    return reason >= 0 && reason < this.counts.length ? this.counts[reason]! : 0;
  }

  /** Sum over all reasons. */
  total(): number {
    let t = 0;
    for (let i = 0; i < this.counts.length; i++) t += this.counts[i]!;
    return t;
  }

  /** Add another counter set into this one. */
  addFrom(other: InvalidCounters): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i]!;
  }

  /** Every reason name → count, zeros included, in INVALID_REASONS order. */
  toJSON(): Record<InvalidReason, number> {
    const out = {} as Record<InvalidReason, number>;
    for (let i = 0; i < INVALID_REASONS.length; i++) out[INVALID_REASONS[i]!] = this.counts[i]!;
    return out;
  }

  reset(): void {
    this.counts.fill(0);
  }
}
