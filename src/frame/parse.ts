/**
 * In-place Ethernet → (VLAN) → IPv4/IPv6 → UDP frame parser.
 *
 * FrameParser.parse(buf, off, len) looks at the `len` bytes of `buf` starting
 * at `off` (typically one frame inside a big shared UMEM region) and returns
 * PARSE_OK (-1) if they hold a well-formed, unfragmented UDP datagram, or the
 * code of the first problem found (see invalid-reason.ts). Results are left in
 * plain number fields on the parser object, which the caller reads right after
 * the call (they are overwritten by the next call).
 *
 * Guarantees:
 *  - No allocation per call: no objects, subarrays, DataViews, strings or
 *    BigInts; only small-integer arithmetic on `buf[i]`.
 *  - Never reads outside [off, off + len) (clamped to buf.length), whatever
 *    lies after the frame, and never throws on malformed input.
 *  - Lengths come from the headers, not from the frame size: Ethernet padding
 *    after the IP packet is accepted and ignored.
 *  - All offsets (l3Offset, srcAddrOffset, l4Offset, payloadOffset, ...) are
 *    absolute indexes into `buf`.
 *  - Every field is reset at the start of each call; after a failure, fields
 *    of the layers that were decoded before the failure are filled, the rest
 *    are 0.
 *
 * Accepted: Ethernet II; up to two VLAN tags (TPID 0x8100 or 0x88A8, any
 * combination); IPv4 with IHL 5..15 and a valid header checksum, not a
 * fragment; IPv6 with UDP as the immediate next header (extension headers are
 * not followed); UDP with 8 <= length <= IP payload. UDP checksums are only
 * verified when the parser is built with `verifyUdpChecksum: true`.
 *
 * Only the non-hot-path helpers (formatSrcAddr / formatDstAddr / formatIPv4 /
 * formatIPv6) allocate.
 */
import { formatIPv4, formatIPv6 } from '../net/address.js';
import { Invalid, PARSE_OK } from './invalid-reason.js';

export { PARSE_OK } from './invalid-reason.js';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
export const IPPROTO_UDP = 17;
export const IPV6_NEXTHDR_FRAGMENT = 44;

const ETH_HLEN = 14;
const IPV4_MIN_HLEN = 20;
const IPV6_HLEN = 40;
const UDP_HLEN = 8;
const MAX_VLANS = 2;

export interface FrameParserOptions {
  /**
   * Verify the UDP checksum (pseudo-header + whole datagram) and reject with
   * bad_udp_checksum on mismatch. An IPv4 checksum of 0 means "not computed"
   * and is accepted; an IPv6 checksum of 0 is rejected (RFC 8200). Costs a
   * pass over the payload. Default false.
   */
  verifyUdpChecksum?: boolean;
}

export class FrameParser {
  /** Whether parse() verifies UDP checksums (fixed at construction). */
  readonly verifyUdpChecksum: boolean;

  // --- Ethernet / VLAN ---------------------------------------------------
  /** Frame start and end (exclusive, clamped to buf.length) of the last parse. */
  frameOffset = 0;
  frameEnd = 0;
  /** Number of VLAN tags (0..2). */
  vlanCount = 0;
  /** Outer tag: TPID (0x8100 / 0x88A8), VLAN id (12 bits), priority (3 bits). */
  vlanTpid0 = 0;
  vlanId0 = 0;
  vlanPcp0 = 0;
  /** Inner tag (when vlanCount === 2). */
  vlanTpid1 = 0;
  vlanId1 = 0;
  vlanPcp1 = 0;
  /** Ethertype after the VLAN tags (0x0800 / 0x86DD for a valid frame). */
  etherType = 0;

  // --- IP ------------------------------------------------------------------
  /** Absolute offset of the IP header. */
  l3Offset = 0;
  /** 4 or 6 (0 until the IP header is known to be present). */
  ipVersion = 0;
  /** IP header length in bytes (IHL*4 for IPv4, 40 for IPv6). */
  ipHeaderLength = 0;
  /** Absolute end (exclusive) of the IP packet per its length field; anything between it and frameEnd is padding. */
  ipEnd = 0;
  /** IPv4 protocol / IPv6 next header. */
  ipProtocol = 0;
  /** IPv4 TTL / IPv6 hop limit. */
  ttl = 0;
  /** IPv4 TOS / IPv6 traffic class (DSCP << 2 | ECN). */
  tos = 0;
  /** IPv4 addresses as unsigned 32-bit numbers (0 for IPv6). */
  src4 = 0;
  dst4 = 0;
  /** Absolute offsets of the source / destination address bytes (4 or 16 bytes). */
  srcAddrOffset = 0;
  dstAddrOffset = 0;

  // --- UDP -----------------------------------------------------------------
  /** Absolute offset of the UDP header. */
  l4Offset = 0;
  srcPort = 0;
  dstPort = 0;
  /** UDP length field (header + payload). */
  udpLength = 0;
  /** UDP checksum field as found in the frame. */
  udpChecksum = 0;
  /** Absolute offset and length of the UDP payload (length from the UDP header). */
  payloadOffset = 0;
  payloadLength = 0;
  /**
   * The receive time (Datagram.rxNs), set by whoever hands this view to a stage (the pipeline,
   * the feed ring's reader); parse() leaves it alone. NaN until set, which also makes V8 hold it
   * as a double from the start (stores then write in place: no allocation).
   */
  rxNs = NaN;

  constructor(options: FrameParserOptions = {}) {
    this.verifyUdpChecksum = options.verifyUdpChecksum === true;
  }

  private clear(): void {
    this.frameOffset = 0;
    this.frameEnd = 0;
    this.vlanCount = 0;
    this.vlanTpid0 = 0;
    this.vlanId0 = 0;
    this.vlanPcp0 = 0;
    this.vlanTpid1 = 0;
    this.vlanId1 = 0;
    this.vlanPcp1 = 0;
    this.etherType = 0;
    this.l3Offset = 0;
    this.ipVersion = 0;
    this.ipHeaderLength = 0;
    this.ipEnd = 0;
    this.ipProtocol = 0;
    this.ttl = 0;
    this.tos = 0;
    this.src4 = 0;
    this.dst4 = 0;
    this.srcAddrOffset = 0;
    this.dstAddrOffset = 0;
    this.l4Offset = 0;
    this.srcPort = 0;
    this.dstPort = 0;
    this.udpLength = 0;
    this.udpChecksum = 0;
    this.payloadOffset = 0;
    this.payloadLength = 0;
  }

  /**
   * Parse the frame buf[off .. off+len). Returns PARSE_OK (-1) for a valid UDP
   * datagram, otherwise an `Invalid` reason code. Never throws, never
   * allocates.
   */
  parse(buf: Uint8Array, off: number, len: number): number {
    this.clear();

    const bufLen = buf.length;
    if (!(off >= 0 && off <= bufLen && len >= 0)) return Invalid.TruncatedEthernet;
    let end = off + len;
    if (end > bufLen) end = bufLen;
    this.frameOffset = off;
    this.frameEnd = end;
    if (end - off < ETH_HLEN) return Invalid.TruncatedEthernet;

    // ---- Ethernet + VLAN tags. `p` is the offset of the current ethertype/TPID.
    let p = off + 12;
    let type = (buf[p]! << 8) | buf[p + 1]!;
    let vlans = 0;
    while (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ) {
      if (vlans === MAX_VLANS) return Invalid.TooManyVlans;
      // TPID (2) + TCI (2) + next ethertype (2)
      if (p + 6 > end) return Invalid.TruncatedVlan;
      const tci = (buf[p + 2]! << 8) | buf[p + 3]!;
      if (vlans === 0) {
        this.vlanTpid0 = type;
        this.vlanId0 = tci & 0x0fff;
        this.vlanPcp0 = tci >> 13;
      } else {
        this.vlanTpid1 = type;
        this.vlanId1 = tci & 0x0fff;
        this.vlanPcp1 = tci >> 13;
      }
      vlans++;
      this.vlanCount = vlans;
      p += 4;
      type = (buf[p]! << 8) | buf[p + 1]!;
    }
    this.etherType = type;
    const l3 = p + 2;
    this.l3Offset = l3;

    // ---- IP
    let l4: number;
    let ipEnd: number;
    if (type === ETHERTYPE_IPV4) {
      if (l3 + IPV4_MIN_HLEN > end) return Invalid.TruncatedIpv4;
      const vihl = buf[l3]!;
      if (vihl >> 4 !== 4) return Invalid.BadIpVersion;
      const hlen = (vihl & 0x0f) << 2;
      if (hlen < IPV4_MIN_HLEN) return Invalid.BadIhl;
      if (l3 + hlen > end) return Invalid.TruncatedIpv4;

      this.ipVersion = 4;
      this.ipHeaderLength = hlen;
      this.tos = buf[l3 + 1]!;
      this.ttl = buf[l3 + 8]!;
      const proto = buf[l3 + 9]!;
      this.ipProtocol = proto;
      this.srcAddrOffset = l3 + 12;
      this.dstAddrOffset = l3 + 16;
      this.src4 =
        ((buf[l3 + 12]! << 24) | (buf[l3 + 13]! << 16) | (buf[l3 + 14]! << 8) | buf[l3 + 15]!) >>> 0;
      this.dst4 =
        ((buf[l3 + 16]! << 24) | (buf[l3 + 17]! << 16) | (buf[l3 + 18]! << 8) | buf[l3 + 19]!) >>> 0;

      const totalLength = (buf[l3 + 2]! << 8) | buf[l3 + 3]!;
      if (totalLength < hlen || l3 + totalLength > end) return Invalid.Ipv4LengthMismatch;
      ipEnd = l3 + totalLength;
      this.ipEnd = ipEnd;

      // Header checksum: the one's-complement sum of all header words,
      // checksum field included, must be 0xFFFF. At most 30 words: no overflow.
      let sum = 0;
      for (let i = l3; i < l3 + hlen; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
      sum = (sum & 0xffff) + (sum >>> 16);
      sum = (sum & 0xffff) + (sum >>> 16);
      if (sum !== 0xffff) return Invalid.BadIpv4Checksum;

      // Flags (3 bits) + fragment offset (13 bits): MF or offset != 0.
      if ((((buf[l3 + 6]! << 8) | buf[l3 + 7]!) & 0x3fff) !== 0) return Invalid.Fragment;
      if (proto !== IPPROTO_UDP) return Invalid.NotUdp;
      l4 = l3 + hlen;
    } else if (type === ETHERTYPE_IPV6) {
      if (l3 + IPV6_HLEN > end) return Invalid.TruncatedIpv6;
      const b0 = buf[l3]!;
      if (b0 >> 4 !== 6) return Invalid.BadIpVersion;

      this.ipVersion = 6;
      this.ipHeaderLength = IPV6_HLEN;
      this.tos = ((b0 & 0x0f) << 4) | (buf[l3 + 1]! >> 4);
      const nextHeader = buf[l3 + 6]!;
      this.ipProtocol = nextHeader;
      this.ttl = buf[l3 + 7]!;
      this.srcAddrOffset = l3 + 8;
      this.dstAddrOffset = l3 + 24;

      const payloadLen = (buf[l3 + 4]! << 8) | buf[l3 + 5]!;
      if (l3 + IPV6_HLEN + payloadLen > end) return Invalid.Ipv6LengthMismatch;
      ipEnd = l3 + IPV6_HLEN + payloadLen;
      this.ipEnd = ipEnd;

      if (nextHeader === IPV6_NEXTHDR_FRAGMENT) return Invalid.Fragment;
      if (nextHeader !== IPPROTO_UDP) return Invalid.NotUdp;
      l4 = l3 + IPV6_HLEN;
    } else {
      return Invalid.NotIp;
    }

    // ---- UDP (ipEnd <= end, so checks against ipEnd are also bounds checks)
    this.l4Offset = l4;
    if (l4 + UDP_HLEN > ipEnd) return Invalid.TruncatedUdp;
    this.srcPort = (buf[l4]! << 8) | buf[l4 + 1]!;
    this.dstPort = (buf[l4 + 2]! << 8) | buf[l4 + 3]!;
    const udpLen = (buf[l4 + 4]! << 8) | buf[l4 + 5]!;
    const csum = (buf[l4 + 6]! << 8) | buf[l4 + 7]!;
    this.udpLength = udpLen;
    this.udpChecksum = csum;
    if (udpLen < UDP_HLEN || l4 + udpLen > ipEnd) return Invalid.UdpLengthMismatch;
    this.payloadOffset = l4 + UDP_HLEN;
    this.payloadLength = udpLen - UDP_HLEN;

    if (this.verifyUdpChecksum && !this.udpChecksumOk(buf, l4, udpLen, csum)) {
      return Invalid.BadUdpChecksum;
    }
    return PARSE_OK;
  }

  /**
   * Verify the UDP checksum of the datagram at l4 (udpLen bytes) using the
   * addresses recorded by parse(). No allocation. The running sum stays
   * below 2^32 (at most ~32.8k words of <= 0xFFFF), so `>>> 16` folding is exact.
   */
  private udpChecksumOk(buf: Uint8Array, l4: number, udpLen: number, csum: number): boolean {
    if (csum === 0) return this.ipVersion === 4; // IPv4: "no checksum"; IPv6: mandatory
    let sum = 0;
    const s = this.srcAddrOffset;
    const d = this.dstAddrOffset;
    const alen = this.ipVersion === 4 ? 4 : 16;
    for (let i = 0; i < alen; i += 2) {
      sum += (buf[s + i]! << 8) | buf[s + i + 1]!;
      sum += (buf[d + i]! << 8) | buf[d + i + 1]!;
    }
    // Pseudo-header: protocol + UDP length (IPv6's 32-bit length and
    // 24 zero bits sum to the same 16-bit words).
    sum += IPPROTO_UDP + udpLen;
    const stop = l4 + udpLen;
    let i = l4;
    for (; i + 1 < stop; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
    if (i < stop) sum += buf[i]! << 8;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    return sum === 0xffff;
  }

  // ---- Non-hot-path helpers (allocate) -------------------------------------

  /** Source address of the last parsed frame as text ("10.0.0.1", "fd00::1"); '' if no IP header was decoded. */
  formatSrcAddr(buf: Uint8Array): string {
    if (this.ipVersion === 4) return formatIPv4(this.src4);
    if (this.ipVersion === 6) return formatIPv6(buf, this.srcAddrOffset);
    return '';
  }

  /** Destination address of the last parsed frame as text; '' if no IP header was decoded. */
  formatDstAddr(buf: Uint8Array): string {
    if (this.ipVersion === 4) return formatIPv4(this.dst4);
    if (this.ipVersion === 6) return formatIPv6(buf, this.dstAddrOffset);
    return '';
  }
}

export { formatIPv4, formatIPv6 };
