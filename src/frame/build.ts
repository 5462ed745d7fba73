/**
 * Frame builder: Ethernet II (+ VLAN tags) / IPv4 or IPv6 / UDP. Used by the traffic
 * generator (its frame template) and by the tests (fixtures, malformed on purpose).
 *
 * buildUdpFrame() returns a fresh Uint8Array holding one frame (no FCS).
 * By default the frame is well-formed: correct IPv4 header checksum, correct
 * UDP checksum (IPv4 or IPv6 pseudo-header), consistent length fields, DF set,
 * TTL 64. Options let a test add VLAN tags, IPv4 options, padding, and break
 * exactly one thing (fragment, wrong protocol, bad checksum, overridden
 * length fields, truncation, ...). Checksums are computed over the
 * well-formed layout *before* truncation / padding are applied, and after
 * length-field overrides (so an overridden length does not also produce a bad
 * checksum).
 *
 * Allocation is fine here: frames are built once, never on the packet path.
 */

import { parseAddress } from '../net/address.js';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const TPID_8021Q = 0x8100;
export const TPID_8021AD = 0x88a8;

/** One VLAN tag. `tpid` defaults to 0x8100 (802.1Q); use 0x88a8 for 802.1ad (QinQ outer). */
export interface VlanTag {
  tpid?: number;
  /** VLAN id, 0..4095. */
  id: number;
  /** Priority code point, 0..7 (default 0). */
  pcp?: number;
  /** Drop eligible indicator (default false). */
  dei?: boolean;
}

export interface UdpFrameOptions {
  /** 4 or 6. Default: 6 if srcIp or dstIp contains ':', else 4. */
  ipVersion?: 4 | 6;
  /** "aa:bb:cc:dd:ee:ff" (or '-' separated). Defaults 02:00:00:00:00:01 / 02:00:00:00:00:02. */
  srcMac?: string;
  dstMac?: string;
  /** Defaults 10.0.0.1 / 10.0.0.2 (IPv4) or fd00::1 / fd00::2 (IPv6). */
  srcIp?: string;
  dstIp?: string;
  /** Defaults 40000 / 9000. */
  srcPort?: number;
  dstPort?: number;
  /** Payload bytes, or a length (filled with a deterministic pattern). Default 32 bytes. */
  payload?: Uint8Array | number;
  /** VLAN tags, outermost first. */
  vlans?: VlanTag[];
  /** IPv4 TTL / IPv6 hop limit. Default 64. */
  ttl?: number;
  /** IPv4 TOS / IPv6 traffic class. Default 0. */
  tos?: number;
  /** IPv6 flow label. Default 0. */
  flowLabel?: number;
  /** IPv4 identification. Default 0x1234. */
  identification?: number;

  // ---- IPv4 header length / options
  /**
   * IPv4 IHL (header length in 32-bit words). 5..15 lays out IHL*4 header
   * bytes, the extra ones being `ipOptions` followed by NOP (0x01) options.
   * Values < 5 only set the nibble (the header still occupies 20 bytes), to
   * produce a bad_ihl frame. Default 5 (or enough for `ipOptions`).
   */
  ihl?: number;
  /** Raw IPv4 option bytes placed right after the fixed header. */
  ipOptions?: Uint8Array;

  // ---- knobs for malformed frames
  /** Make it a fragment: IPv4 MF flag and/or fragment offset (in 8-byte units); for IPv6 a Fragment extension header is inserted before UDP. */
  fragment?: { moreFragments?: boolean; offset?: number };
  /** IPv4 DF flag. Default true. */
  dontFragment?: boolean;
  /** IPv4 protocol override (default 17). */
  protocol?: number;
  /** IPv6 next header override (default 17, or 44 with `fragment`). */
  nextHeader?: number;
  /** Corrupt the IPv4 header checksum. */
  badIpChecksum?: boolean;
  /** Exact IPv4 header checksum value to write (overrides the computed one). */
  ipChecksum?: number;
  /** Corrupt the UDP checksum (never to 0). */
  badUdpChecksum?: boolean;
  /** Exact UDP checksum value to write, e.g. 0 for "no checksum" (overrides the computed one). */
  udpChecksum?: number;
  /** IPv4 total length field override. */
  totalLength?: number;
  /** IPv6 payload length field override. */
  ipv6PayloadLength?: number;
  /** UDP length field override. */
  udpLength?: number;
  /** Version nibble override (e.g. 6 inside an 0x0800 frame). */
  ipVersionField?: number;
  /** Innermost ethertype override (e.g. 0x0806). */
  etherType?: number;
  /** Bytes appended after the IP packet: a count of zero bytes, or the bytes themselves. */
  padding?: number | Uint8Array;
  /** Zero-pad the frame to at least this many bytes (e.g. 60, the Ethernet minimum without FCS). */
  padTo?: number;
  /** Cut the finished frame to this many bytes. */
  truncate?: number;
}

// ---------------------------------------------------------------------------
// Address parsing

/** "aa:bb:cc:dd:ee:ff" or "aa-bb-..." → 6 bytes. */
export function parseMac(mac: string): Uint8Array {
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6) throw new Error(`bad MAC address: ${mac}`);
  return Uint8Array.from(parts.map((p) => {
    const v = parseInt(p, 16);
    if (!/^[0-9a-fA-F]{1,2}$/.test(p)) throw new Error(`bad MAC address: ${mac}`);
    return v;
  }));
}

/** Dotted-quad IPv4 → 4 bytes. */
export function parseIPv4(ip: string): Uint8Array {
  const a = parseAddress(ip);
  if (a.family !== 4) throw new Error(`bad IPv4 address: ${ip}`);
  return a.bytes;
}

/** IPv6 text (with "::" and an optional dotted IPv4 tail) → 16 bytes. */
export function parseIPv6(ip: string): Uint8Array {
  const a = parseAddress(ip);
  if (a.family !== 6) throw new Error(`bad IPv6 address: ${ip}`);
  return a.bytes;
}

/** IPv4 or IPv6 text → 4 or 16 bytes. */
export function parseIp(ip: string): Uint8Array {
  return parseAddress(ip).bytes;
}

/** IPv4 text → unsigned 32-bit number (as FrameParser.src4 / dst4). */
export function ipv4ToNumber(ip: string): number {
  const b = parseIPv4(ip);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

// ---------------------------------------------------------------------------
// Checksums

/**
 * One's-complement sum of `bytes` as big-endian 16-bit words (an odd last
 * byte is padded with zero), added to `initial`, folded to 16 bits. Not
 * complemented.
 */
export function onesComplementSum(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  let i = 0;
  for (; i + 1 < bytes.length; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < bytes.length) sum += bytes[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * IPv4 header checksum of `header` (IHL*4 bytes). The checksum field itself
 * (bytes 10..11) is treated as zero, so this works both to compute the value
 * to write and to check a received header (`ipv4Checksum(h) === (h[10] << 8 | h[11])`).
 */
export function ipv4Checksum(header: Uint8Array): number {
  const copy = Uint8Array.from(header);
  if (copy.length >= 12) {
    copy[10] = 0;
    copy[11] = 0;
  }
  return ~onesComplementSum(copy) & 0xffff;
}

/**
 * UDP checksum of `udp` (UDP header + payload) for the given source and
 * destination addresses (4 bytes → IPv4 pseudo-header, 16 bytes → IPv6
 * pseudo-header). The checksum field (bytes 6..7 of `udp`) is treated as zero.
 * `pseudoLength` is the length placed in the pseudo-header (default
 * udp.length). A computed 0 is returned as 0xFFFF, as transmitted on the wire.
 */
export function udpChecksum(
  srcIp: Uint8Array,
  dstIp: Uint8Array,
  udp: Uint8Array,
  pseudoLength: number = udp.length,
): number {
  if (srcIp.length !== dstIp.length || (srcIp.length !== 4 && srcIp.length !== 16)) {
    throw new Error('udpChecksum: addresses must both be 4 or 16 bytes');
  }
  let sum = onesComplementSum(srcIp);
  sum = onesComplementSum(dstIp, sum);
  // IPv4: zero, protocol, 16-bit length. IPv6: 32-bit length, 3 zero bytes,
  // next header. Both contribute the same 16-bit words (length + 17), except
  // that IPv6's length is 32 bits wide.
  sum += 17 + (pseudoLength & 0xffff) + Math.floor(pseudoLength / 0x10000);
  const copy = Uint8Array.from(udp);
  if (copy.length >= 8) {
    copy[6] = 0;
    copy[7] = 0;
  }
  const c = ~onesComplementSum(copy, sum) & 0xffff;
  return c === 0 ? 0xffff : c;
}

// ---------------------------------------------------------------------------
// Builder

export const DEFAULTS = {
  srcMac: '02:00:00:00:00:01',
  dstMac: '02:00:00:00:00:02',
  srcIp4: '10.0.0.1',
  dstIp4: '10.0.0.2',
  srcIp6: 'fd00::1',
  dstIp6: 'fd00::2',
  srcPort: 40000,
  dstPort: 9000,
  payloadLength: 32,
  ttl: 64,
} as const;

/** Deterministic payload of `n` bytes (byte i = (i * 7 + 3) & 0xff). */
export function patternPayload(n: number): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (i * 7 + 3) & 0xff;
  return p;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Build one Ethernet/[VLAN]/IP/UDP frame. See UdpFrameOptions for the knobs. */
export function buildUdpFrame(opts: UdpFrameOptions = {}): Uint8Array {
  const version: 4 | 6 =
    opts.ipVersion ?? ((opts.srcIp ?? '').includes(':') || (opts.dstIp ?? '').includes(':') ? 6 : 4);
  const src = parseIp(opts.srcIp ?? (version === 4 ? DEFAULTS.srcIp4 : DEFAULTS.srcIp6));
  const dst = parseIp(opts.dstIp ?? (version === 4 ? DEFAULTS.dstIp4 : DEFAULTS.dstIp6));
  const alen = version === 4 ? 4 : 16;
  if (src.length !== alen || dst.length !== alen) {
    throw new Error(`buildUdpFrame: addresses do not match ipVersion ${version}`);
  }

  // ---- UDP
  const payload =
    opts.payload instanceof Uint8Array
      ? opts.payload
      : patternPayload(opts.payload ?? DEFAULTS.payloadLength);
  const udp = new Uint8Array(8 + payload.length);
  put16(udp, 0, opts.srcPort ?? DEFAULTS.srcPort);
  put16(udp, 2, opts.dstPort ?? DEFAULTS.dstPort);
  const udpLen = opts.udpLength ?? udp.length;
  put16(udp, 4, udpLen);
  udp.set(payload, 8);
  let ucs: number;
  if (opts.udpChecksum !== undefined) {
    ucs = opts.udpChecksum;
  } else {
    ucs = udpChecksum(src, dst, udp, udpLen);
    if (opts.badUdpChecksum) {
      ucs = (ucs + 1) & 0xffff;
      if (ucs === 0) ucs = 1;
    }
  }
  put16(udp, 6, ucs);

  // ---- IP
  let ip: Uint8Array;
  if (version === 4) {
    const optBytes = opts.ipOptions ?? new Uint8Array(0);
    const ihl = opts.ihl ?? Math.max(5, Math.ceil((20 + optBytes.length) / 4));
    const hlen = ihl >= 5 ? ihl * 4 : 20;
    if (hlen > 60) throw new Error('buildUdpFrame: ihl must be <= 15');
    if (20 + optBytes.length > hlen) throw new Error('buildUdpFrame: ipOptions do not fit in ihl');
    const h = new Uint8Array(hlen);
    h[0] = ((opts.ipVersionField ?? 4) << 4) | (ihl & 0x0f);
    h[1] = opts.tos ?? 0;
    put16(h, 2, opts.totalLength ?? hlen + udp.length);
    put16(h, 4, opts.identification ?? 0x1234);
    let flagsFrag = 0;
    if (opts.dontFragment ?? true) flagsFrag |= 0x4000;
    if (opts.fragment?.moreFragments) flagsFrag |= 0x2000;
    flagsFrag |= (opts.fragment?.offset ?? 0) & 0x1fff;
    put16(h, 6, flagsFrag);
    h[8] = opts.ttl ?? DEFAULTS.ttl;
    h[9] = opts.protocol ?? 17;
    h.set(src, 12);
    h.set(dst, 16);
    h.set(optBytes, 20);
    h.fill(0x01, 20 + optBytes.length); // NOP options
    let hcs = opts.ipChecksum ?? ipv4Checksum(h);
    if (opts.badIpChecksum) hcs = hcs ^ 0x0101;
    put16(h, 10, hcs);
    ip = concat([h, udp]);
  } else {
    const ext = opts.fragment ? new Uint8Array(8) : new Uint8Array(0);
    if (opts.fragment) {
      ext[0] = 17; // next header after the fragment header
      put16(ext, 2, (((opts.fragment.offset ?? 0) & 0x1fff) << 3) | (opts.fragment.moreFragments ? 1 : 0));
      ext.set([0x00, 0x00, 0xbe, 0xef], 4); // identification
    }
    const h = new Uint8Array(40);
    const tc = opts.tos ?? 0;
    const flow = opts.flowLabel ?? 0;
    h[0] = ((opts.ipVersionField ?? 6) << 4) | ((tc >> 4) & 0x0f);
    h[1] = ((tc & 0x0f) << 4) | ((flow >> 16) & 0x0f);
    put16(h, 2, flow & 0xffff);
    put16(h, 4, opts.ipv6PayloadLength ?? ext.length + udp.length);
    h[6] = opts.nextHeader ?? (opts.fragment ? 44 : 17);
    h[7] = opts.ttl ?? DEFAULTS.ttl;
    h.set(src, 8);
    h.set(dst, 24);
    ip = concat([h, ext, udp]);
  }

  // ---- Ethernet + VLANs
  const vlans = opts.vlans ?? [];
  const eth = new Uint8Array(14 + 4 * vlans.length);
  eth.set(parseMac(opts.dstMac ?? DEFAULTS.dstMac), 0);
  eth.set(parseMac(opts.srcMac ?? DEFAULTS.srcMac), 6);
  let at = 12;
  for (const v of vlans) {
    put16(eth, at, v.tpid ?? TPID_8021Q);
    put16(eth, at + 2, ((v.pcp ?? 0) << 13) | (v.dei ? 0x1000 : 0) | (v.id & 0x0fff));
    at += 4;
  }
  put16(eth, at, opts.etherType ?? (version === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6));

  // ---- padding / truncation
  const pad =
    opts.padding === undefined
      ? new Uint8Array(0)
      : typeof opts.padding === 'number'
        ? new Uint8Array(opts.padding)
        : opts.padding;
  let frame = concat([eth, ip, pad]);
  if (opts.padTo !== undefined && frame.length < opts.padTo) {
    frame = concat([frame, new Uint8Array(opts.padTo - frame.length)]);
  }
  if (opts.truncate !== undefined) frame = frame.slice(0, opts.truncate);
  return frame;
}

/**
 * Offsets of the layers in a frame built with the same options (assumes the
 * builder's layout, before truncation): handy for asserting parser results.
 */
export function frameLayout(opts: UdpFrameOptions = {}): {
  l3Offset: number;
  l4Offset: number;
  payloadOffset: number;
  payloadLength: number;
} {
  const version =
    opts.ipVersion ?? ((opts.srcIp ?? '').includes(':') || (opts.dstIp ?? '').includes(':') ? 6 : 4);
  const l3Offset = 14 + 4 * (opts.vlans?.length ?? 0);
  let l3len: number;
  if (version === 4) {
    const optLen = opts.ipOptions?.length ?? 0;
    const ihl = opts.ihl ?? Math.max(5, Math.ceil((20 + optLen) / 4));
    l3len = ihl >= 5 ? ihl * 4 : 20;
  } else {
    l3len = 40 + (opts.fragment ? 8 : 0);
  }
  const payloadLength =
    opts.payload instanceof Uint8Array ? opts.payload.length : (opts.payload ?? DEFAULTS.payloadLength);
  return {
    l3Offset,
    l4Offset: l3Offset + l3len,
    payloadOffset: l3Offset + l3len + 8,
    payloadLength,
  };
}

/**
 * Copy `frame` into a new buffer of `size` bytes at `offset`, the rest being
 * `fill` (a byte value, or a function of the index) — simulates a frame
 * inside a UMEM region.
 */
export function placeFrame(
  frame: Uint8Array,
  offset: number,
  size: number,
  fill: number | ((i: number) => number) = 0,
): Uint8Array {
  const buf = new Uint8Array(size);
  if (typeof fill === 'number') buf.fill(fill);
  else for (let i = 0; i < size; i++) buf[i] = fill(i) & 0xff;
  buf.set(frame, offset);
  return buf;
}
