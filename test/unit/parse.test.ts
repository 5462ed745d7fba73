import { test } from 'node:test';
import assert from 'node:assert/strict';

import { FrameParser, PARSE_OK, formatIPv6 } from '../../src/frame/parse.js';
import {
  INVALID_REASONS,
  Invalid,
  InvalidCounters,
  invalidReasonCode,
  invalidReasonName,
  type InvalidReason,
} from '../../src/frame/invalid-reason.js';
import {
  buildUdpFrame,
  frameLayout,
  ipv4Checksum,
  ipv4ToNumber,
  parseIPv6,
  patternPayload,
  placeFrame,
  udpChecksum,
  type UdpFrameOptions,
} from '../helpers/frames.js';
import { mulberry32 } from '../helpers/prng.js';

/** Parse a whole standalone frame; return the reason name or 'ok'. */
function parseName(frame: Uint8Array, p = new FrameParser()): InvalidReason | 'ok' {
  const r = p.parse(frame, 0, frame.length);
  if (r === PARSE_OK) return 'ok';
  const name = invalidReasonName(r);
  assert.ok(name !== undefined, `parse returned non-reason ${r}`);
  return name;
}

function payloadOf(p: FrameParser, buf: Uint8Array): Uint8Array {
  return buf.slice(p.payloadOffset, p.payloadOffset + p.payloadLength);
}

// ---------------------------------------------------------------------------
// Reason table sanity

test('Invalid codes match INVALID_REASONS names and order', () => {
  const keys = Object.keys(Invalid) as (keyof typeof Invalid)[];
  assert.equal(keys.length, INVALID_REASONS.length);
  for (const k of keys) {
    const snake = k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
    assert.equal(INVALID_REASONS[Invalid[k]], snake, k);
    assert.equal(invalidReasonCode(snake), Invalid[k]);
  }
  assert.equal(new Set(Object.values(Invalid)).size, keys.length);
  assert.equal(invalidReasonName(PARSE_OK), undefined);
});

// ---------------------------------------------------------------------------
// Valid frames

test('valid IPv4 UDP: all fields', () => {
  const opts: UdpFrameOptions = { srcIp: '192.168.1.10', dstIp: '10.0.0.2', srcPort: 5353, dstPort: 9000, ttl: 17, tos: 0xb8, payload: 100 };
  const f = buildUdpFrame(opts);
  const p = new FrameParser();
  assert.equal(p.parse(f, 0, f.length), PARSE_OK);
  assert.equal(p.vlanCount, 0);
  assert.equal(p.etherType, 0x0800);
  assert.equal(p.l3Offset, 14);
  assert.equal(p.ipVersion, 4);
  assert.equal(p.ipHeaderLength, 20);
  assert.equal(p.ipProtocol, 17);
  assert.equal(p.ttl, 17);
  assert.equal(p.tos, 0xb8);
  assert.equal(p.src4, 0xc0a8010a);
  assert.equal(p.src4, ipv4ToNumber('192.168.1.10'));
  assert.ok(p.src4 > 0, 'src4 is unsigned');
  assert.equal(p.dst4, 0x0a000002);
  assert.equal(p.srcAddrOffset, 26);
  assert.equal(p.dstAddrOffset, 30);
  assert.equal(p.l4Offset, 34);
  assert.equal(p.srcPort, 5353);
  assert.equal(p.dstPort, 9000);
  assert.equal(p.udpLength, 108);
  assert.equal(p.udpChecksum, (f[40]! << 8) | f[41]!);
  assert.notEqual(p.udpChecksum, 0);
  assert.equal(p.payloadOffset, 42);
  assert.equal(p.payloadLength, 100);
  assert.equal(p.ipEnd, f.length);
  assert.equal(p.frameEnd, f.length);
  assert.deepEqual(payloadOf(p, f), patternPayload(100));
  assert.equal(p.formatSrcAddr(f), '192.168.1.10');
  assert.equal(p.formatDstAddr(f), '10.0.0.2');
  // The builder's checksums verify with the parser's checking enabled.
  assert.equal(parseName(f, new FrameParser({ verifyUdpChecksum: true })), 'ok');
});

test('valid IPv4 with options, IHL 6..15', () => {
  const p = new FrameParser({ verifyUdpChecksum: true });
  for (let ihl = 6; ihl <= 15; ihl++) {
    const opts: UdpFrameOptions = { ihl, payload: 9, srcPort: 1000 + ihl };
    const f = buildUdpFrame(opts);
    assert.equal(p.parse(f, 0, f.length), PARSE_OK, `ihl ${ihl}`);
    const lay = frameLayout(opts);
    assert.equal(p.ipHeaderLength, ihl * 4);
    assert.equal(p.l4Offset, 14 + ihl * 4);
    assert.equal(p.l4Offset, lay.l4Offset);
    assert.equal(p.payloadOffset, lay.payloadOffset);
    assert.equal(p.payloadLength, 9);
    assert.equal(p.srcPort, 1000 + ihl);
    assert.equal(p.src4, ipv4ToNumber('10.0.0.1'));
  }
  // Explicit option bytes (router alert) padded with NOPs.
  const f = buildUdpFrame({ ipOptions: Uint8Array.from([0x94, 0x04, 0x00, 0x00]), ihl: 7 });
  assert.equal(parseName(f, p), 'ok');
  assert.equal(p.l4Offset, 14 + 28);
});

test('valid IPv4 with one VLAN tag (802.1Q and 802.1ad)', () => {
  const p = new FrameParser();
  for (const tpid of [0x8100, 0x88a8]) {
    const f = buildUdpFrame({ vlans: [{ tpid, id: 100, pcp: 5 }] });
    assert.equal(p.parse(f, 0, f.length), PARSE_OK);
    assert.equal(p.vlanCount, 1);
    assert.equal(p.vlanTpid0, tpid);
    assert.equal(p.vlanId0, 100);
    assert.equal(p.vlanPcp0, 5);
    assert.equal(p.vlanId1, 0);
    assert.equal(p.etherType, 0x0800);
    assert.equal(p.l3Offset, 18);
    assert.equal(p.l4Offset, 38);
    assert.equal(p.payloadOffset, 46);
  }
});

test('valid IPv4 and IPv6 with two VLAN tags, every TPID combination', () => {
  const p = new FrameParser({ verifyUdpChecksum: true });
  for (const ipVersion of [4, 6] as const) {
    for (const t0 of [0x8100, 0x88a8]) {
      for (const t1 of [0x8100, 0x88a8]) {
        const opts: UdpFrameOptions = { ipVersion, vlans: [{ tpid: t0, id: 4095, dei: true }, { tpid: t1, id: 1, pcp: 7 }] };
        const f = buildUdpFrame(opts);
        assert.equal(p.parse(f, 0, f.length), PARSE_OK);
        assert.equal(p.vlanCount, 2);
        assert.equal(p.vlanTpid0, t0);
        assert.equal(p.vlanTpid1, t1);
        assert.equal(p.vlanId0, 4095);
        assert.equal(p.vlanId1, 1);
        assert.equal(p.vlanPcp1, 7);
        assert.equal(p.l3Offset, 22);
        assert.equal(p.etherType, ipVersion === 4 ? 0x0800 : 0x86dd);
        assert.equal(p.payloadOffset, frameLayout(opts).payloadOffset);
        assert.equal(p.payloadLength, 32);
      }
    }
  }
});

test('valid IPv6 UDP: all fields', () => {
  const opts: UdpFrameOptions = { srcIp: '2001:db8::1', dstIp: 'fd00::2', srcPort: 1, dstPort: 65535, ttl: 255, tos: 0x2e, flowLabel: 0xabcde, payload: 77 };
  const f = buildUdpFrame(opts);
  const p = new FrameParser({ verifyUdpChecksum: true });
  assert.equal(p.parse(f, 0, f.length), PARSE_OK);
  assert.equal(p.etherType, 0x86dd);
  assert.equal(p.ipVersion, 6);
  assert.equal(p.ipHeaderLength, 40);
  assert.equal(p.ipProtocol, 17);
  assert.equal(p.ttl, 255);
  assert.equal(p.tos, 0x2e);
  assert.equal(p.src4, 0);
  assert.equal(p.dst4, 0);
  assert.equal(p.srcAddrOffset, 22);
  assert.equal(p.dstAddrOffset, 38);
  assert.deepEqual(f.slice(p.srcAddrOffset, p.srcAddrOffset + 16), parseIPv6('2001:db8::1'));
  assert.equal(p.l4Offset, 54);
  assert.equal(p.srcPort, 1);
  assert.equal(p.dstPort, 65535);
  assert.equal(p.udpLength, 85);
  assert.equal(p.payloadOffset, 62);
  assert.equal(p.payloadLength, 77);
  assert.deepEqual(payloadOf(p, f), patternPayload(77));
  assert.equal(p.formatSrcAddr(f), '2001:db8::1');
  assert.equal(p.formatDstAddr(f), 'fd00::2');
});

test('IPv6 address formatting is RFC 5952 compressed', () => {
  const cases: [string, string][] = [
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:db8:0:0:1:0:0:0', '2001:db8:0:0:1::'],
    ['FE80::ABCD:1', 'fe80::abcd:1'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ];
  for (const [input, want] of cases) {
    assert.equal(formatIPv6(parseIPv6(input), 0), want, input);
    const f = buildUdpFrame({ srcIp: input, dstIp: '::1' });
    const p = new FrameParser();
    assert.equal(p.parse(f, 0, f.length), PARSE_OK);
    assert.equal(p.formatSrcAddr(f), want);
  }
  // Nothing decoded → ''.
  const p = new FrameParser();
  const arp = buildUdpFrame({ etherType: 0x0806 });
  p.parse(arp, 0, arp.length);
  assert.equal(p.formatSrcAddr(arp), '');
});

test('Ethernet padding after a short datagram is ignored (IPv4 and IPv6)', () => {
  const p = new FrameParser({ verifyUdpChecksum: true });
  // 1-byte payload padded to the 60-byte Ethernet minimum with zeros.
  const f4 = buildUdpFrame({ payload: Uint8Array.of(0x42), padTo: 60 });
  assert.equal(f4.length, 60);
  assert.equal(p.parse(f4, 0, f4.length), PARSE_OK);
  assert.equal(p.payloadLength, 1);
  assert.equal(p.udpLength, 9);
  assert.equal(p.ipEnd, 14 + 29);
  assert.deepEqual(payloadOf(p, f4), Uint8Array.of(0x42));
  // Non-zero garbage padding.
  const f4b = buildUdpFrame({ payload: 3, padding: new Uint8Array(100).fill(0xff) });
  assert.equal(p.parse(f4b, 0, f4b.length), PARSE_OK);
  assert.equal(p.payloadLength, 3);
  const f6 = buildUdpFrame({ ipVersion: 6, payload: 2, padding: 33 });
  assert.equal(p.parse(f6, 0, f6.length), PARSE_OK);
  assert.equal(p.payloadLength, 2);
  assert.equal(p.ipEnd, f6.length - 33);
});

test('zero-length payload (IPv4 and IPv6)', () => {
  const p = new FrameParser({ verifyUdpChecksum: true });
  for (const ipVersion of [4, 6] as const) {
    const f = buildUdpFrame({ ipVersion, payload: 0 });
    assert.equal(p.parse(f, 0, f.length), PARSE_OK);
    assert.equal(p.udpLength, 8);
    assert.equal(p.payloadLength, 0);
    assert.equal(p.payloadOffset, f.length);
    const padded = buildUdpFrame({ ipVersion, payload: 0, padTo: 60 });
    assert.equal(p.parse(padded, 0, padded.length), PARSE_OK);
    assert.equal(p.payloadLength, 0);
  }
});

test('UDP length shorter than the IP payload: payload length comes from UDP', () => {
  const p = new FrameParser();
  const f = buildUdpFrame({ payload: 20, udpLength: 18 });
  assert.equal(p.parse(f, 0, f.length), PARSE_OK);
  assert.equal(p.payloadLength, 10);
});

test('IPv4 DF flag and odd-length payloads are fine; UDP checksum 0 accepted on IPv4', () => {
  const p = new FrameParser({ verifyUdpChecksum: true });
  assert.equal(parseName(buildUdpFrame({ dontFragment: true }), p), 'ok');
  assert.equal(parseName(buildUdpFrame({ dontFragment: false }), p), 'ok');
  for (let n = 0; n < 40; n++) {
    assert.equal(parseName(buildUdpFrame({ payload: n }), p), 'ok');
    assert.equal(parseName(buildUdpFrame({ ipVersion: 6, payload: n }), p), 'ok');
  }
  assert.equal(parseName(buildUdpFrame({ udpChecksum: 0 }), p), 'ok');
  // A bad UDP checksum is not looked at unless verification is enabled.
  assert.equal(parseName(buildUdpFrame({ badUdpChecksum: true })), 'ok');
  assert.equal(parseName(buildUdpFrame({ ipVersion: 6, udpChecksum: 0 })), 'ok');
});

test('helper checksums: ipv4Checksum verifies the built header, udpChecksum matches', () => {
  const f = buildUdpFrame({ ihl: 8, payload: 13 });
  const h = f.slice(14, 14 + 32);
  assert.equal(ipv4Checksum(h), (h[10]! << 8) | h[11]!);
  const udp = f.slice(14 + 32);
  assert.equal(udpChecksum(f.slice(26, 30), f.slice(30, 34), udp), (udp[6]! << 8) | udp[7]!);
  // Known vector (RFC 1071 style example header).
  const known = Uint8Array.from([0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7]);
  assert.equal(ipv4Checksum(known), 0xb861);
});

// ---------------------------------------------------------------------------
// Malformed frames: one named reason each

interface BadCase {
  name: string;
  reason: InvalidReason;
  frame: Uint8Array;
  verify?: boolean;
}

const v6 = { ipVersion: 6 } as const;

const BAD: BadCase[] = [
  { name: 'empty frame', reason: 'truncated_ethernet', frame: new Uint8Array(0) },
  { name: '13-byte frame', reason: 'truncated_ethernet', frame: buildUdpFrame({ truncate: 13 }) },
  { name: 'VLAN tag cut after TPID', reason: 'truncated_vlan', frame: buildUdpFrame({ vlans: [{ id: 5 }], truncate: 16 }) },
  { name: 'VLAN tag without inner ethertype', reason: 'truncated_vlan', frame: buildUdpFrame({ vlans: [{ id: 5 }], truncate: 17 }) },
  { name: 'second VLAN tag cut', reason: 'truncated_vlan', frame: buildUdpFrame({ vlans: [{ id: 5 }, { id: 6 }], truncate: 20 }) },
  { name: 'three VLAN tags', reason: 'too_many_vlans', frame: buildUdpFrame({ vlans: [{ id: 1 }, { id: 2 }, { id: 3 }] }) },
  { name: 'three VLAN tags, 802.1ad', reason: 'too_many_vlans', frame: buildUdpFrame({ vlans: [{ tpid: 0x88a8, id: 1 }, { tpid: 0x88a8, id: 2 }, { tpid: 0x8100, id: 3 }] }) },
  { name: 'ARP ethertype', reason: 'not_ip', frame: buildUdpFrame({ etherType: 0x0806 }) },
  { name: '802.3 length field', reason: 'not_ip', frame: buildUdpFrame({ etherType: 0x05dc }) },
  { name: 'non-IP inside VLAN', reason: 'not_ip', frame: buildUdpFrame({ vlans: [{ id: 9 }], etherType: 0x88cc }) },
  { name: 'legacy 0x9100 tag is not a VLAN', reason: 'not_ip', frame: buildUdpFrame({ vlans: [{ tpid: 0x9100, id: 9 }] }) },
  { name: 'IPv4 header cut at 19 bytes', reason: 'truncated_ipv4', frame: buildUdpFrame({ truncate: 14 + 19 }) },
  { name: 'IPv4 options beyond frame end', reason: 'truncated_ipv4', frame: buildUdpFrame({ ihl: 15, truncate: 14 + 59 }) },
  { name: 'version 6 in IPv4 ethertype', reason: 'bad_ip_version', frame: buildUdpFrame({ ipVersionField: 6 }) },
  { name: 'version 4 in IPv6 ethertype', reason: 'bad_ip_version', frame: buildUdpFrame({ ...v6, ipVersionField: 4 }) },
  { name: 'IPv6 packet under 0x0800', reason: 'bad_ip_version', frame: buildUdpFrame({ ...v6, etherType: 0x0800 }) },
  { name: 'IHL 4', reason: 'bad_ihl', frame: buildUdpFrame({ ihl: 4 }) },
  { name: 'IHL 0', reason: 'bad_ihl', frame: buildUdpFrame({ ihl: 0 }) },
  { name: 'total length past frame end', reason: 'ipv4_length_mismatch', frame: buildUdpFrame({ payload: 10, totalLength: 20 + 18 + 1 }) },
  { name: 'total length < header length', reason: 'ipv4_length_mismatch', frame: buildUdpFrame({ totalLength: 19 }) },
  { name: 'total length < IHL*4 with options', reason: 'ipv4_length_mismatch', frame: buildUdpFrame({ ihl: 10, totalLength: 39 }) },
  { name: 'frame cut inside UDP payload', reason: 'ipv4_length_mismatch', frame: buildUdpFrame({ payload: 10, truncate: 14 + 20 + 8 + 5 }) },
  { name: 'bad IPv4 checksum', reason: 'bad_ipv4_checksum', frame: buildUdpFrame({ badIpChecksum: true }) },
  { name: 'bad IPv4 checksum with options', reason: 'bad_ipv4_checksum', frame: buildUdpFrame({ ihl: 15, badIpChecksum: true }) },
  { name: 'IPv4 checksum 0', reason: 'bad_ipv4_checksum', frame: buildUdpFrame({ ipChecksum: 0 }) },
  { name: 'IPv4 MF set (first fragment)', reason: 'fragment', frame: buildUdpFrame({ fragment: { moreFragments: true } }) },
  { name: 'IPv4 fragment offset (last fragment)', reason: 'fragment', frame: buildUdpFrame({ fragment: { offset: 185 } }) },
  { name: 'IPv4 MF + offset', reason: 'fragment', frame: buildUdpFrame({ fragment: { moreFragments: true, offset: 1 }, dontFragment: false }) },
  { name: 'IPv6 fragment header', reason: 'fragment', frame: buildUdpFrame({ ...v6, fragment: { moreFragments: true } }) },
  { name: 'IPv6 header cut at 39 bytes', reason: 'truncated_ipv6', frame: buildUdpFrame({ ...v6, truncate: 14 + 39 }) },
  { name: 'IPv6 header cut, inside VLAN', reason: 'truncated_ipv6', frame: buildUdpFrame({ ...v6, vlans: [{ id: 3 }], truncate: 18 + 20 }) },
  { name: 'IPv6 payload length past frame end', reason: 'ipv6_length_mismatch', frame: buildUdpFrame({ ...v6, payload: 10, ipv6PayloadLength: 19 }) },
  { name: 'IPv6 frame cut inside payload', reason: 'ipv6_length_mismatch', frame: buildUdpFrame({ ...v6, payload: 10, truncate: 14 + 40 + 8 + 9 }) },
  { name: 'IPv4 TCP', reason: 'not_udp', frame: buildUdpFrame({ protocol: 6 }) },
  { name: 'IPv4 ICMP', reason: 'not_udp', frame: buildUdpFrame({ protocol: 1 }) },
  { name: 'IPv6 TCP', reason: 'not_udp', frame: buildUdpFrame({ ...v6, nextHeader: 6 }) },
  { name: 'IPv6 hop-by-hop header (not followed)', reason: 'not_udp', frame: buildUdpFrame({ ...v6, nextHeader: 0 }) },
  { name: 'IPv6 no next header', reason: 'not_udp', frame: buildUdpFrame({ ...v6, nextHeader: 59 }) },
  { name: 'IPv4 total length leaves 7 UDP bytes', reason: 'truncated_udp', frame: buildUdpFrame({ totalLength: 20 + 7 }) },
  { name: 'IPv4 total length = header only', reason: 'truncated_udp', frame: buildUdpFrame({ totalLength: 20, payload: 0 }) },
  { name: 'IPv4 with options, UDP header cut', reason: 'truncated_udp', frame: buildUdpFrame({ ihl: 6, payload: 0, truncate: 14 + 24 + 4, totalLength: 24 + 4 }) },
  { name: 'IPv6 payload length 7', reason: 'truncated_udp', frame: buildUdpFrame({ ...v6, ipv6PayloadLength: 7 }) },
  { name: 'IPv6 payload length 0 (jumbogram-like)', reason: 'truncated_udp', frame: buildUdpFrame({ ...v6, ipv6PayloadLength: 0 }) },
  { name: 'UDP length 7', reason: 'udp_length_mismatch', frame: buildUdpFrame({ udpLength: 7 }) },
  { name: 'UDP length 0', reason: 'udp_length_mismatch', frame: buildUdpFrame({ ...v6, udpLength: 0 }) },
  { name: 'UDP length > IPv4 payload', reason: 'udp_length_mismatch', frame: buildUdpFrame({ payload: 10, udpLength: 19 }) },
  { name: 'UDP length > IPv4 payload, padding present', reason: 'udp_length_mismatch', frame: buildUdpFrame({ payload: 10, udpLength: 19, padding: 40 }) },
  { name: 'UDP length > IPv6 payload', reason: 'udp_length_mismatch', frame: buildUdpFrame({ ...v6, payload: 10, udpLength: 19 }) },
  { name: 'bad UDP checksum (IPv4)', reason: 'bad_udp_checksum', frame: buildUdpFrame({ badUdpChecksum: true }), verify: true },
  { name: 'bad UDP checksum (IPv6)', reason: 'bad_udp_checksum', frame: buildUdpFrame({ ...v6, badUdpChecksum: true }), verify: true },
  { name: 'zero UDP checksum on IPv6', reason: 'bad_udp_checksum', frame: buildUdpFrame({ ...v6, udpChecksum: 0 }), verify: true },
  { name: 'payload byte flipped (odd length)', reason: 'bad_udp_checksum', frame: (() => { const f = buildUdpFrame({ payload: 11 }); f[f.length - 1] ^= 0x10; return f; })(), verify: true },
];

for (const c of BAD) {
  test(`malformed: ${c.name} → ${c.reason}`, () => {
    const p = new FrameParser({ verifyUdpChecksum: c.verify === true });
    assert.equal(parseName(c.frame, p), c.reason);
    assert.equal(p.parse(c.frame, 0, c.frame.length), Invalid[snakeToKey(c.reason)]);
    // Same verdict inside a bigger buffer at an odd offset, with valid-looking bytes after.
    const big = placeFrame(c.frame, 37, c.frame.length + 37 + 200, (i) => i * 13);
    assert.equal(p.parse(big, 37, c.frame.length), Invalid[snakeToKey(c.reason)]);
    // No payload is reported for a rejected frame unless the UDP layer was fully decoded.
    if (c.reason !== 'bad_udp_checksum') assert.equal(p.payloadLength, 0);
  });
}

function snakeToKey(r: InvalidReason): keyof typeof Invalid {
  return r.replace(/(^|_)([a-z0-9])/g, (_m, _u, ch: string) => ch.toUpperCase()) as keyof typeof Invalid;
}

test('every reason in INVALID_REASONS is exercised by a malformed case', () => {
  const covered = new Set(BAD.map((c) => c.reason));
  const missing = INVALID_REASONS.filter((r) => !covered.has(r));
  assert.deepEqual(missing, []);
});

// ---------------------------------------------------------------------------
// Bounds: the frame ends at off + len, not at buf.length

test('bounds are off+len: valid bytes after the frame are never used', () => {
  for (const opts of [{}, { ipVersion: 6 }, { vlans: [{ id: 7 }, { id: 8, tpid: 0x88a8 }] }, { ihl: 12 }] as UdpFrameOptions[]) {
    const f = buildUdpFrame({ ...opts, payload: 24 });
    const off = 1000;
    const buf = placeFrame(f, off, 4096, 0xee);
    // The full frame is also present again right after it, so reading past
    // off+len would find plausible data.
    buf.set(f, off + f.length);
    const p = new FrameParser({ verifyUdpChecksum: true });
    assert.equal(p.parse(buf, off, f.length), PARSE_OK);
    const lay = frameLayout(opts);
    assert.equal(p.frameOffset, off);
    assert.equal(p.l3Offset, off + lay.l3Offset);
    assert.equal(p.l4Offset, off + lay.l4Offset);
    assert.equal(p.payloadOffset, off + lay.payloadOffset);
    assert.equal(p.srcAddrOffset > off, true);
    assert.deepEqual(payloadOf(p, buf), patternPayload(24));
    // Every shorter length must be rejected: the datagram is no longer complete.
    for (let len = 0; len < f.length; len++) {
      const r = p.parse(buf, off, len);
      assert.notEqual(r, PARSE_OK, `len ${len} accepted`);
      assert.ok(r >= 0 && r < INVALID_REASONS.length);
      if (len < 14) assert.equal(r, Invalid.TruncatedEthernet);
    }
  }
});

test('frame with the buffer ending exactly at the frame end, and len past buf.length', () => {
  const f = buildUdpFrame({ payload: 5 });
  const p = new FrameParser();
  const buf = placeFrame(f, 3, f.length + 3);
  assert.equal(p.parse(buf, 3, f.length), PARSE_OK);
  // len larger than what the buffer holds is clamped, never a throw.
  assert.equal(p.parse(buf, 3, f.length + 100), PARSE_OK);
  assert.equal(p.frameEnd, buf.length);
  const cut = buf.subarray(0, buf.length - 1);
  assert.equal(p.parse(cut, 3, f.length), Invalid.Ipv4LengthMismatch);
  // Nonsense offsets / lengths.
  assert.equal(p.parse(buf, -1, 10), Invalid.TruncatedEthernet);
  assert.equal(p.parse(buf, buf.length + 1, 10), Invalid.TruncatedEthernet);
  assert.equal(p.parse(buf, 0, -5), Invalid.TruncatedEthernet);
  assert.equal(p.parse(buf, NaN, 60), Invalid.TruncatedEthernet);
});

test('fields are reset between calls', () => {
  const p = new FrameParser();
  const good = buildUdpFrame({ vlans: [{ id: 3 }] });
  assert.equal(p.parse(good, 0, good.length), PARSE_OK);
  const arp = buildUdpFrame({ etherType: 0x0806 });
  assert.equal(p.parse(arp, 0, arp.length), Invalid.NotIp);
  assert.equal(p.vlanCount, 0);
  assert.equal(p.vlanId0, 0);
  assert.equal(p.ipVersion, 0);
  assert.equal(p.src4, 0);
  assert.equal(p.srcPort, 0);
  assert.equal(p.payloadLength, 0);
  assert.equal(p.etherType, 0x0806);
  // Partial decode: the IP layer is filled when the failure is in UDP.
  const badUdp = buildUdpFrame({ udpLength: 3, srcPort: 77 });
  assert.equal(p.parse(badUdp, 0, badUdp.length), Invalid.UdpLengthMismatch);
  assert.equal(p.ipVersion, 4);
  assert.equal(p.src4, ipv4ToNumber('10.0.0.1'));
  assert.equal(p.srcPort, 77);
  assert.equal(p.udpLength, 3);
  assert.equal(p.payloadLength, 0);
});

// ---------------------------------------------------------------------------
// Fuzz-ish: never throws, always -1 or a reason, and consistent on success


test('fuzz: 20k random and mutated frames never throw and give -1 or a valid reason', () => {
  const rnd = mulberry32(0xc0ffee);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const umem = new Uint8Array(8192);
  const parsers = [new FrameParser(), new FrameParser({ verifyUdpChecksum: true })];
  const seen = new InvalidCounters();
  let ok = 0;

  const randomOptions = (): UdpFrameOptions => {
    const ipVersion = pick([4, 6] as const);
    const nv = int(4) === 0 ? int(3) : 0;
    const vlans = Array.from({ length: nv }, () => ({ tpid: pick([0x8100, 0x88a8]), id: int(4096) }));
    return {
      ipVersion,
      vlans,
      payload: int(4) === 0 ? int(1500) : int(64),
      ihl: ipVersion === 4 && int(3) === 0 ? 5 + int(11) : undefined,
      padding: int(3) === 0 ? int(64) : undefined,
      srcPort: int(65536),
      dstPort: int(65536),
    };
  };

  for (let iter = 0; iter < 20000; iter++) {
    let frame: Uint8Array;
    const kind = int(10);
    if (kind < 7) {
      frame = buildUdpFrame(randomOptions());
      // Mutate: flip some bytes, mostly in the headers.
      const flips = int(5);
      for (let k = 0; k < flips; k++) {
        const at = int(4) === 0 ? int(frame.length) : int(Math.min(frame.length, 80));
        frame[at] = int(256);
      }
      if (int(4) === 0) frame = frame.slice(0, int(frame.length + 1));
    } else if (kind < 9) {
      // Random bytes behind a plausible Ethernet header.
      frame = new Uint8Array(int(120));
      for (let k = 0; k < frame.length; k++) frame[k] = int(256);
      if (frame.length >= 14) {
        const t = pick([0x0800, 0x86dd, 0x8100, 0x88a8, int(65536)]);
        frame[12] = t >> 8;
        frame[13] = t & 0xff;
        if (frame.length > 14 && t === 0x0800) frame[14] = 0x40 | int(16);
        if (frame.length > 14 && t === 0x86dd) frame[14] = 0x60 | int(16);
      }
    } else {
      frame = buildUdpFrame(randomOptions());
    }

    // Place at a random offset with random garbage after (or right at the end of the buffer).
    const off = int(umem.length - frame.length + 1);
    for (let k = 0; k < 64 && off + frame.length + k < umem.length; k++) umem[off + frame.length + k] = int(256);
    umem.set(frame, off);
    const end = off + frame.length;

    for (const p of parsers) {
      let r: number;
      try {
        r = p.parse(umem, off, frame.length);
      } catch (e) {
        assert.fail(`parse threw on iteration ${iter}: ${String(e)}`);
      }
      assert.ok(Number.isInteger(r) && r >= -1 && r < INVALID_REASONS.length, `bad result ${r}`);
      if (kind === 9) assert.equal(r, PARSE_OK, `unmutated frame rejected at iteration ${iter}`);
      if (r === PARSE_OK) {
        ok++;
        assert.ok(p.ipVersion === 4 || p.ipVersion === 6);
        assert.ok(p.l3Offset >= off + 14 && p.l4Offset >= p.l3Offset + 20);
        assert.equal(p.payloadOffset, p.l4Offset + 8);
        assert.equal(p.payloadLength, p.udpLength - 8);
        assert.ok(p.payloadOffset + p.payloadLength <= p.ipEnd);
        assert.ok(p.ipEnd <= end);
        if (p.ipVersion === 4) {
          const h = umem.slice(p.l3Offset, p.l3Offset + p.ipHeaderLength);
          assert.equal(ipv4Checksum(h), (h[10]! << 8) | h[11]!);
        }
      } else {
        seen.count(r);
      }
    }
  }
  assert.ok(ok > 2000, `too few valid frames (${ok})`);
  assert.ok(seen.total() > 2000, `too few invalid frames (${seen.total()})`);
});

// ---------------------------------------------------------------------------
// InvalidCounters

test('InvalidCounters: count, total, toJSON with every name, reset', () => {
  const c = new InvalidCounters();
  const empty = c.toJSON();
  assert.deepEqual(Object.keys(empty), [...INVALID_REASONS]);
  assert.ok(Object.values(empty).every((v) => v === 0));
  assert.equal(c.total(), 0);

  c.count(Invalid.Fragment);
  c.count(Invalid.Fragment);
  c.count(Invalid.BadIhl);
  c.count(Invalid.NotIp, 5);
  c.count(PARSE_OK); // ignored
  c.count(999); // ignored
  assert.equal(c.get(Invalid.Fragment), 2);
  assert.equal(c.total(), 8);
  const j = c.toJSON();
  assert.equal(Object.keys(j).length, INVALID_REASONS.length);
  assert.equal(j.fragment, 2);
  assert.equal(j.bad_ihl, 1);
  assert.equal(j.not_ip, 5);
  assert.equal(j.truncated_ethernet, 0);
  assert.deepEqual(JSON.parse(JSON.stringify({ invalid: c })).invalid, j);

  const d = new InvalidCounters();
  d.addFrom(c);
  assert.equal(d.total(), 8);

  c.reset();
  assert.equal(c.total(), 0);
  assert.ok(Object.values(c.toJSON()).every((v) => v === 0));
});

test('parsing feeds InvalidCounters without a name lookup', () => {
  const p = new FrameParser();
  const c = new InvalidCounters();
  for (const bc of BAD) {
    if (bc.verify) continue;
    const r = p.parse(bc.frame, 0, bc.frame.length);
    c.count(r);
  }
  const expected = BAD.filter((b) => !b.verify).length;
  assert.equal(c.total(), expected);
  assert.equal(c.toJSON().too_many_vlans, 2);
});
