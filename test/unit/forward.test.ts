/** The forwarder's rewrite and rules, on crafted frames (no network). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FrameParser } from '../../src/frame/parse.js';
import { Verdict } from '../../src/port/port.js';
import { NEXT } from '../../src/pipeline/stage.js';
import { ForwardStage } from '../../src/forward/stage.js';
import { ForwardTable, macBytes } from '../../src/forward/table.js';
import { csumReplace16 } from '../../src/forward/checksum.js';
import { pseudoHeaderSum, sumWords } from '../../src/frame/checksum.js';
import { parseForward, parseNeighbor, mergeConfig, allPorts, RuleError, parseBackend } from '../../src/forward/rules.js';
import { buildUdpFrame, ipv4Checksum, udpChecksum, parseIp, onesComplementSum } from '../helpers/frames.js';
import { mulberry32 } from '../helpers/prng.js';

const OUR_MAC = '02:00:00:00:00:aa';

function stageFor(rule: string, macs: Record<string, string>) {
  const table = new ForwardTable([parseForward(rule)]);
  for (const b of table.backends()) if (macs[b.addr]) b.setMac(macs[b.addr]);
  return new ForwardStage(table, macBytes(OUR_MAC));
}

/** Run the stage on a frame placed at an offset in a bigger buffer, as in the UMEM. */
function forward(stage: ForwardStage, frame: Uint8Array) {
  const buf = new Uint8Array(4096);
  const off = 256;
  buf.set(frame, off);
  const p = new FrameParser();
  assert.equal(p.parse(buf, off, frame.length), -1, 'fixture parses');
  const verdict = stage.datagram(buf, off, frame.length, p);
  return { verdict, out: buf.slice(off, off + frame.length) };
}

/** Check the rewritten frame as a receiver would: it parses, and both checksums verify. */
function assertValid(out: Uint8Array, v: 4 | 6) {
  const p = new FrameParser({ verifyUdpChecksum: true });
  assert.equal(p.parse(out, 0, out.length), -1, 'rewritten frame is valid, UDP checksum included');
  if (v === 4) {
    const hdr = out.subarray(p.l3Offset, p.l3Offset + p.ipHeaderLength);
    assert.equal(ipv4Checksum(hdr), (out[p.l3Offset + 10] << 8) | out[p.l3Offset + 11]);
  }
  const udp = out.subarray(p.l4Offset, p.l4Offset + p.udpLength);
  const src = out.subarray(p.srcAddrOffset, p.srcAddrOffset + (v === 4 ? 4 : 16));
  const dst = out.subarray(p.dstAddrOffset, p.dstAddrOffset + (v === 4 ? 4 : 16));
  if ((udp[6] << 8 | udp[7]) !== 0) {
    const copy = Uint8Array.from(udp);
    copy[6] = copy[7] = 0;
    let expect = udpChecksum(src, dst, copy);
    if (expect === 0) expect = 0xffff;
    assert.equal((udp[6] << 8) | udp[7], expect, 'UDP checksum');
  }
  return p;
}

describe('forward stage', () => {
  it('rewrites MACs, address, port and TTL, with valid IPv4 checksums', () => {
    const s = stageFor('9000=10.1.2.3:7000', { '10.1.2.3': '02:00:00:00:00:03' });
    const { verdict, out } = forward(s, buildUdpFrame({ dstPort: 9000, srcIp: '10.0.0.1', dstIp: '10.0.0.2', ttl: 64, payload: 33 }));
    assert.equal(verdict, Verdict.Transmit);
    const p = assertValid(out, 4);
    assert.deepEqual([...out.subarray(0, 6)], [...macBytes('02:00:00:00:00:03')]);
    assert.deepEqual([...out.subarray(6, 12)], [...macBytes(OUR_MAC)]);
    assert.equal(p.formatDstAddr(out), '10.1.2.3');
    assert.equal(p.formatSrcAddr(out), '10.0.0.1');
    assert.equal(p.dstPort, 7000);
    assert.equal(p.ttl, 63);
  });

  it('keeps an IPv4 UDP checksum of 0 at 0', () => {
    const s = stageFor('9000=10.1.2.3:7000', { '10.1.2.3': '02:00:00:00:00:03' });
    const { out } = forward(s, buildUdpFrame({ dstPort: 9000, udpChecksum: 0 }));
    const p = assertValid(out, 4);
    assert.equal((out[p.l4Offset + 6] << 8) | out[p.l4Offset + 7], 0);
  });

  it('rewrites IPv6 with a valid UDP checksum and one hop less', () => {
    const s = stageFor('9000=[fd00:1::3]:7001', { 'fd00:1::3': '02:00:00:00:00:06' });
    const { verdict, out } = forward(s, buildUdpFrame({ ipVersion: 6, dstPort: 9000, ttl: 10, payload: 101 }));
    assert.equal(verdict, Verdict.Transmit);
    const p = assertValid(out, 6);
    assert.equal(p.formatDstAddr(out), 'fd00:1::3');
    assert.equal(p.dstPort, 7001);
    assert.equal(p.ttl, 9);
  });

  it('keeps checksums right under VLAN tags and IPv4 options, for random fields', () => {
    const rnd = mulberry32(7);
    for (let i = 0; i < 2000; i++) {
      const v = rnd() < 0.5 ? 4 : 6;
      const backend = v === 4 ? `10.${(rnd() * 256) | 0}.${(rnd() * 256) | 0}.${(rnd() * 256) | 0}` : `fd00:${((rnd() * 65536) | 0).toString(16)}::${((rnd() * 65536) | 0).toString(16)}`;
      const bport = 1 + ((rnd() * 65535) | 0);
      const s = stageFor(`9000=${v === 4 ? backend : `[${backend}]`}:${bport}`, { [backend]: '02:00:00:00:00:09' });
      const frame = buildUdpFrame({
        ipVersion: v,
        dstPort: 9000,
        srcPort: 1 + ((rnd() * 65535) | 0),
        ttl: 2 + ((rnd() * 250) | 0),
        payload: (rnd() * 200) | 0,
        vlans: rnd() < 0.3 ? [{ id: 5 }] : [],
        ihl: v === 4 && rnd() < 0.3 ? 6 + ((rnd() * 10) | 0) : undefined,
      });
      const { verdict, out } = forward(s, frame);
      assert.equal(verdict, Verdict.Transmit);
      const p = assertValid(out, v);
      assert.equal(p.dstPort, bport);
    }
  });

  it('goes round-robin, skipping backends without a MAC', () => {
    const s = stageFor('9000=10.0.0.11:1,10.0.0.12:2,10.0.0.13:3', { '10.0.0.11': '02:00:00:00:00:11', '10.0.0.13': '02:00:00:00:00:13' });
    const ports: number[] = [];
    for (let i = 0; i < 6; i++) {
      const { out } = forward(s, buildUdpFrame({ dstPort: 9000 }));
      const p = new FrameParser();
      p.parse(out, 0, out.length);
      ports.push(p.dstPort);
    }
    assert.deepEqual(ports, [1, 3, 1, 3, 1, 3]);
    assert.equal(s.table.backends()[1].forwarded, 0);
  });

  it('drops and counts: no backend resolved, TTL 1, wrong family; passes other ports on', () => {
    const none = stageFor('9000=10.0.0.11:1', {});
    assert.equal(forward(none, buildUdpFrame({ dstPort: 9000 })).verdict, Verdict.Drop);
    assert.equal(none.unresolved, 1);
    const s = stageFor('9000=10.0.0.11:1', { '10.0.0.11': '02:00:00:00:00:11' });
    assert.equal(forward(s, buildUdpFrame({ dstPort: 9000, ttl: 1 })).verdict, Verdict.Drop);
    assert.equal(s.ttlExpired, 1);
    assert.equal(forward(s, buildUdpFrame({ ipVersion: 6, dstPort: 9000 })).verdict, Verdict.Drop);
    assert.equal(s.familyMismatch, 1);
    assert.equal(forward(s, buildUdpFrame({ dstPort: 9001 })).verdict, NEXT);
    assert.equal(s.forwarded, 0);
  });

  it('keeps per-backend counts across table swaps: monotonic, a removed and re-added backend goes on, sum == forwarded', () => {
    const macs: Record<string, string> = { '10.0.0.11': '02:00:00:00:00:11', '10.0.0.12': '02:00:00:00:00:12', '10.0.0.13': '02:00:00:00:00:13' };
    const table = (rule: string) => {
      const t = new ForwardTable([parseForward(rule)]);
      for (const b of t.backends()) b.setMac(macs[b.addr]);
      return t;
    };
    const s = new ForwardStage(table('9000=10.0.0.11:1,10.0.0.12:1'), macBytes(OUR_MAC));
    const sum = () => Object.values(s.perBackend()).reduce((a, b) => a + b, 0);
    const send = (n: number) => {
      for (let i = 0; i < n; i++) forward(s, buildUdpFrame({ dstPort: 9000 }));
      assert.equal(sum(), s.forwarded);
    };
    send(10);
    s.setTable(table('9000=10.0.0.12:1,10.0.0.13:1')); // .11 removed, .13 added
    assert.deepEqual(s.perBackend(), { '9000->10.0.0.11:1': 5, '9000->10.0.0.12:1': 5, '9000->10.0.0.13:1': 0 });
    send(4);
    s.setTable(table('9000=10.0.0.11:1,10.0.0.11:1')); // .11 back, twice (a weight): both slots add up
    send(6);
    assert.deepEqual(s.perBackend(), { '9000->10.0.0.11:1': 11, '9000->10.0.0.12:1': 7, '9000->10.0.0.13:1': 2 });
    s.setTable(table('9000=10.0.0.13:1'));
    assert.equal(sum(), 20);
    assert.equal(s.forwarded, 20);
  });
});

/**
 * Where the UDP header sits in a frame built by buildUdpFrame, and the pseudo-header sum of it,
 * computed here independently of the stage (folded, not complemented), as a Linux sender leaves
 * it in the checksum field of a CHECKSUM_PARTIAL datagram.
 */
function udpOf(frame: Uint8Array) {
  const p = new FrameParser();
  assert.equal(p.parse(frame, 0, frame.length), -1);
  const alen = p.ipVersion === 4 ? 4 : 16;
  const src = frame.subarray(p.srcAddrOffset, p.srcAddrOffset + alen);
  const dst = frame.subarray(p.dstAddrOffset, p.dstAddrOffset + alen);
  let pseudo = onesComplementSum(dst, onesComplementSum(src)) + 17 + p.udpLength;
  while (pseudo > 0xffff) pseudo = (pseudo & 0xffff) + (pseudo >>> 16);
  return { l4: p.l4Offset, len: p.udpLength, pseudo, src, dst };
}

/** Make a built frame look as a local sender's would on a veth with offload on. */
function makePartial(frame: Uint8Array): Uint8Array {
  const u = udpOf(frame);
  frame[u.l4 + 6] = u.pseudo >> 8;
  frame[u.l4 + 7] = u.pseudo & 0xff;
  return frame;
}

/** Set the last two payload bytes (at an even distance from the UDP header) so that the checksum field must hold `want`. */
function forceChecksum(frame: Uint8Array, want: number): Uint8Array {
  const u = udpOf(frame);
  const at = u.l4 + u.len - 2 - (u.len % 2);
  frame[at] = frame[at + 1] = 0;
  frame[u.l4 + 6] = frame[u.l4 + 7] = 0;
  // want = ~(pseudo + rest + w): pick w = ~want - pseudo - rest (one's complement).
  const rest = onesComplementSum(frame.subarray(u.l4, u.l4 + u.len), u.pseudo);
  let w = (~want & 0xffff) + (~rest & 0xffff);
  w = (w & 0xffff) + (w >>> 16);
  frame[at] = w >> 8;
  frame[at + 1] = w & 0xff;
  frame[u.l4 + 6] = want >> 8;
  frame[u.l4 + 7] = want & 0xff;
  return frame;
}

describe('forward stage, partial and bad UDP checksums', () => {
  it('completes partial checksums (pseudo-header sum only) on random frames, IPv4 and IPv6, odd lengths', () => {
    const rnd = mulberry32(1624);
    let expected = 0;
    const s4 = stageFor('9000=10.9.8.7:7000', { '10.9.8.7': '02:00:00:00:00:04' });
    const s6 = stageFor('9000=[fd00:9::87]:7000', { 'fd00:9::87': '02:00:00:00:00:06' });
    for (let i = 0; i < 3000; i++) {
      const v = rnd() < 0.5 ? 4 : 6;
      const payload = Uint8Array.from({ length: (rnd() * 1473) | 0 }, () => (rnd() * 256) | 0);
      const frame = buildUdpFrame({
        ipVersion: v,
        srcIp: v === 4 ? `10.${(rnd() * 256) | 0}.${(rnd() * 256) | 0}.${(rnd() * 256) | 0}` : `fd00::${((rnd() * 65536) | 0).toString(16)}:${((rnd() * 65536) | 0).toString(16)}`,
        dstPort: 9000,
        srcPort: 1 + ((rnd() * 65535) | 0),
        payload,
        vlans: rnd() < 0.2 ? [{ id: 7 }] : [],
        ihl: v === 4 && rnd() < 0.2 ? 6 + ((rnd() * 10) | 0) : undefined,
      });
      const partial = rnd() < 0.5;
      if (partial) {
        makePartial(frame);
        expected++;
      }
      const s = v === 4 ? s4 : s6;
      const { verdict, out } = forward(s, frame);
      assert.equal(verdict, Verdict.Transmit);
      assertValid(out, v); // against a full recomputation over the rewritten frame
    }
    assert.equal(s4.checksumCompleted + s6.checksumCompleted, expected);
    assert.equal(s4.badChecksum + s6.badChecksum, 0);
    assert.equal(s4.forwarded + s6.forwarded, 3000);
  });

  it('completes a partial checksum whose sum comes out 0 as 0xffff', () => {
    const s = stageFor('9000=10.0.0.2:9000', { '10.0.0.2': '02:00:00:00:00:02' });
    // Same address and port as the backend's, so the rewrite leaves the checksum as completed.
    const frame = forceChecksum(buildUdpFrame({ dstPort: 9000, dstIp: '10.0.0.2', payload: 41 }), 0xffff);
    const { verdict, out } = forward(s, makePartial(frame));
    assert.equal(verdict, Verdict.Transmit);
    const p = assertValid(out, 4);
    assert.equal((out[p.l4Offset + 6] << 8) | out[p.l4Offset + 7], 0xffff);
    assert.equal(s.checksumCompleted, 1);
  });

  it('forwards a valid checksum that equals the pseudo-header sum unchanged, counted as completed (the documented ambiguity)', () => {
    for (const v of [4, 6] as const) {
      const s = stageFor(v === 4 ? '9000=10.1.1.1:7000' : '9000=[fd00::11]:7000', { [v === 4 ? '10.1.1.1' : 'fd00::11']: '02:00:00:00:00:01' });
      const frame = buildUdpFrame({ ipVersion: v, dstPort: 9000, payload: 100 });
      forceChecksum(frame, udpOf(frame).pseudo);
      assert.equal(new FrameParser({ verifyUdpChecksum: true }).parse(frame, 0, frame.length), -1, 'fixture is valid');
      const { verdict, out } = forward(s, frame);
      assert.equal(verdict, Verdict.Transmit);
      assertValid(out, v);
      assert.equal(s.checksumCompleted, 1);
    }
  });

  it('drops and counts a wrong checksum (neither valid nor partial), IPv4 and IPv6, and an IPv6 checksum of 0', () => {
    const s4 = stageFor('9000=10.1.1.1:7000', { '10.1.1.1': '02:00:00:00:00:01' });
    const s6 = stageFor('9000=[fd00::11]:7000', { 'fd00::11': '02:00:00:00:00:01' });
    const cases: [ForwardStage, Uint8Array][] = [
      [s4, buildUdpFrame({ dstPort: 9000, badUdpChecksum: true })],
      [s4, buildUdpFrame({ dstPort: 9000, udpChecksum: 0x1234, payload: 77 })],
      [s6, buildUdpFrame({ ipVersion: 6, dstPort: 9000, badUdpChecksum: true })],
      [s6, buildUdpFrame({ ipVersion: 6, dstPort: 9000, udpChecksum: 0 })],
    ];
    // A pseudo-header sum for other addresses (a NAT in front rewrote the source and left the
    // partial checksum alone) is neither: wrong. (The payload is not in a partial checksum, so
    // a partial one never goes stale when only the payload changes.)
    const natted = makePartial(buildUdpFrame({ dstPort: 9000, payload: 50, srcIp: '10.0.0.1' }));
    natted.set([10, 0, 0, 99], udpOf(natted).src.byteOffset);
    const ip = natted.subarray(14, 34);
    const hc = ipv4Checksum(ip);
    natted[24] = hc >> 8;
    natted[25] = hc & 0xff;
    cases.push([s4, natted]);
    for (const [s, frame] of cases) {
      const { verdict, out } = forward(s, frame);
      assert.equal(verdict, Verdict.Drop);
      assert.deepEqual(out, frame, 'a dropped frame is left as it came');
    }
    assert.equal(s4.badChecksum, 3);
    assert.equal(s6.badChecksum, 2);
    assert.equal(s4.forwarded + s6.forwarded + s4.checksumCompleted + s6.checksumCompleted, 0);
    // An IPv4 checksum of 0 ("none") is not wrong: it is forwarded as 0.
    assert.equal(forward(s4, buildUdpFrame({ dstPort: 9000, udpChecksum: 0 })).verdict, Verdict.Transmit);
    assert.equal(s4.badChecksum, 3);
  });

  it('sums words as a plain byte-pair sum does, at any alignment and length', () => {
    const rnd = mulberry32(5);
    const buf = Uint8Array.from({ length: 4096 }, () => (rnd() * 256) | 0);
    for (let i = 0; i < 2000; i++) {
      const from = (rnd() * 2000) | 0;
      const n = (rnd() * 1600) | 0;
      assert.equal(sumWords(buf, from, from + n), onesComplementSum(buf.subarray(from, from + n)) || (n === 0 ? 0 : 0xffff));
    }
    const f = buildUdpFrame({ ipVersion: 6, payload: 3 });
    const u = udpOf(f);
    assert.equal(pseudoHeaderSum(f, u.src.byteOffset, u.dst.byteOffset, 16, u.len), u.pseudo);
  });
});

describe('incremental checksum', () => {
  it('matches a full recomputation for random word changes (RFC 1624)', () => {
    const rnd = mulberry32(99);
    for (let i = 0; i < 5000; i++) {
      const data = Uint8Array.from({ length: 20 }, () => (rnd() * 256) | 0);
      const csum = ~onesComplementSum(data) & 0xffff;
      const at = ((rnd() * 10) | 0) * 2;
      const old = (data[at] << 8) | data[at + 1];
      const nw = (rnd() * 65536) | 0;
      data[at] = nw >> 8;
      data[at + 1] = nw & 0xff;
      const full = ~onesComplementSum(data) & 0xffff;
      const inc = csumReplace16(csum, old, nw);
      // 0x0000 and 0xffff are the same value in one's complement.
      assert.ok(inc === full || (inc ^ full) === 0xffff && (inc === 0 || full === 0), `${inc} vs ${full}`);
    }
  });
});

describe('forward rules', () => {
  it('parses frontends, IPv4 and IPv6 backends, neighbours', () => {
    const r = parseForward('9000=10.0.0.3:9001,[fd00::3]:9002');
    assert.equal(r.frontPort, 9000);
    assert.deepEqual(r.backends, [
      { addr: '10.0.0.3', family: 4, port: 9001 },
      { addr: 'fd00::3', family: 6, port: 9002 },
    ]);
    assert.deepEqual(parseNeighbor('10.0.0.3=02:AA:00:00:00:03'), ['10.0.0.3', '02:aa:00:00:00:03']);
  });

  for (const bad of ['9000', '9000=', '70000=10.0.0.3:1', '9000=10.0.0.3', '9000=10.0.0.3:0', '9000=host:80', '9000=fd00::3:80']) {
    it(`rejects --forward ${bad}`, () => assert.throws(() => parseForward(bad), RuleError));
  }

  it('rejects a frontend port with two rules, and lists every port', () => {
    const cli = { ports: [9100], rules: [parseForward('9000=10.0.0.3:1')], neighbors: new Map() };
    assert.throws(() => mergeConfig(cli, { ports: [], rules: [parseForward('9000=10.0.0.4:1')], neighbors: new Map() }), /two rules/);
    assert.deepEqual(allPorts(mergeConfig(cli)), [9000, 9100]);
    assert.throws(() => parseBackend('[zz::1]:5'), RuleError);
  });
});
