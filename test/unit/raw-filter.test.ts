/**
 * The raw port's socket filter (src/rawsock/filter.ts): the generated classic BPF program is run
 * on crafted frames by a small cBPF interpreter written here from the kernel's semantics (a load
 * past the end of the frame ends the program with 0), and every program is also handed to the
 * kernel (SO_ATTACH_FILTER on an unbound AF_PACKET socket), whose checker must accept it.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import koffi from 'koffi';
import * as f from '../../src/rawsock/filter.js';
import { attachPortFilter } from '../../src/rawsock/socket.js';
import * as libc from '../../src/sys/libc.js';
import { buildUdpFrame, TPID_8021Q, TPID_8021AD } from '../helpers/frames.js';
import { mulberry32 } from '../helpers/prng.js';

const PACKET_HOST = 0;
const PACKET_OUTGOING = 4;

/** Instructions the last run() went through. */
let ran = 0;

/** Run a cBPF program on a frame as the kernel would; returns the accepted length (0: dropped). */
function run(prog: f.Insn[], pkt: Uint8Array, pkttype = PACKET_HOST, vlanPresent = false): number {
  let A = 0;
  let X = 0;
  const len = pkt.length;
  const load = (off: number, size: number): number | undefined => {
    if (off < 0) {
      // Ancillary data (k is SKF_AD_OFF + n): only what the filter uses.
      const ad = off - f.SKF_AD_OFF;
      if (ad === f.SKF_AD_PKTTYPE) return pkttype;
      if (ad === f.SKF_AD_VLAN_TAG_PRESENT) return vlanPresent ? 1 : 0;
      throw new Error(`ancillary load ${ad} not supported by the test interpreter`);
    }
    if (off + size > len) return undefined;
    if (size === 1) return pkt[off];
    if (size === 2) return (pkt[off] << 8) | pkt[off + 1];
    return ((pkt[off] << 24) | (pkt[off + 1] << 16) | (pkt[off + 2] << 8) | pkt[off + 3]) >>> 0;
  };
  const sizeOf = (code: number) => ({ [f.BPF_W]: 4, [f.BPF_H]: 2, [f.BPF_B]: 1 })[code & 0x18]!;
  for (let pc = 0, steps = 0; pc < prog.length; pc++, steps++) {
    assert.ok(steps <= prog.length, 'no loops in cBPF');
    ran = steps + 1;
    const { code, jt, jf, k } = prog[pc];
    const cls = code & 0x07;
    if (cls === f.BPF_LD) {
      const mode = code & 0xe0;
      let v: number | undefined;
      if (mode === f.BPF_ABS) v = load(k | 0, sizeOf(code));
      else if (mode === f.BPF_IND) v = load((X + k) >>> 0, sizeOf(code));
      else if (mode === f.BPF_IMM) v = k;
      else throw new Error(`ld mode ${mode}`);
      if (v === undefined) return 0;
      A = v >>> 0;
    } else if (cls === f.BPF_LDX) {
      if ((code & 0xe0) !== f.BPF_MSH) throw new Error(`ldx mode ${code & 0xe0}`);
      const v = load(k | 0, 1);
      if (v === undefined) return 0;
      X = (v & 0xf) * 4;
    } else if (cls === f.BPF_ALU) {
      if ((code & 0xf0) !== f.BPF_AND) throw new Error(`alu op ${code & 0xf0}`);
      A = (A & ((code & f.BPF_X) ? X : k)) >>> 0;
    } else if (cls === f.BPF_JMP) {
      const op = code & 0xf0;
      if (op === f.BPF_JA) {
        pc += k;
        continue;
      }
      const src = (code & f.BPF_X) ? X : k;
      const cond = op === f.BPF_JEQ ? A === src : op === f.BPF_JGT ? A > src : op === f.BPF_JGE ? A >= src : op === f.BPF_JSET ? (A & src) !== 0 : (() => { throw new Error(`jmp op ${op}`); })();
      pc += cond ? jt : jf;
    } else if (cls === f.BPF_RET) {
      return (code & f.BPF_A) ? A : k;
    } else {
      throw new Error(`class ${cls} not supported`);
    }
  }
  throw new Error('fell off the end of the program');
}

const PORTS = [9000, 9001];
const prog = f.portFilter(PORTS);
const accepts = (frame: Uint8Array, pkttype = PACKET_HOST) => run(prog, frame, pkttype) === f.ACCEPT;

describe('port filter on crafted frames', () => {
  const accepted: [string, Uint8Array][] = [
    ['IPv4 UDP', buildUdpFrame({ dstPort: 9000 })],
    ['IPv6 UDP', buildUdpFrame({ ipVersion: 6, dstPort: 9001 })],
    ['IPv4 with options (IHL 15)', buildUdpFrame({ dstPort: 9000, ihl: 15 })],
    ['IPv4 with DF set', buildUdpFrame({ dstPort: 9000, dontFragment: true })],
    ['one 802.1Q tag', buildUdpFrame({ dstPort: 9000, vlans: [{ tpid: TPID_8021Q, id: 10 }] })],
    ['one 802.1ad tag, IPv6', buildUdpFrame({ ipVersion: 6, dstPort: 9001, vlans: [{ tpid: TPID_8021AD, id: 10 }] })],
    ['802.1ad + 802.1Q', buildUdpFrame({ dstPort: 9000, vlans: [{ tpid: TPID_8021AD, id: 10 }, { tpid: TPID_8021Q, id: 20 }] })],
    ['IPv6 under two tags, IHL irrelevant', buildUdpFrame({ ipVersion: 6, dstPort: 9000, vlans: [{ tpid: TPID_8021Q, id: 1 }, { tpid: TPID_8021Q, id: 2 }] })],
    ['zero-length payload', buildUdpFrame({ dstPort: 9000, payload: 0 })],
    ['a bad IPv4 checksum (the parser counts it; the filter does not judge)', buildUdpFrame({ dstPort: 9000, badIpChecksum: true })],
  ];
  for (const [name, frame] of accepted) it(`accepts ${name}`, () => assert.equal(run(prog, frame), f.ACCEPT));

  const rejected: [string, Uint8Array][] = [
    ['another port', buildUdpFrame({ dstPort: 9002 })],
    ['another port, IPv6 under a tag', buildUdpFrame({ ipVersion: 6, dstPort: 8999, vlans: [{ tpid: TPID_8021Q, id: 3 }] })],
    ['the port as the source port only', buildUdpFrame({ srcPort: 9000, dstPort: 53 })],
    ['TCP', buildUdpFrame({ dstPort: 9000, protocol: 6 })],
    ['IPv6 next header TCP', buildUdpFrame({ ipVersion: 6, dstPort: 9000, nextHeader: 6 })],
    ['IPv6 with an extension header first', buildUdpFrame({ ipVersion: 6, dstPort: 9000, nextHeader: 0 })],
    ['a first fragment (MF)', buildUdpFrame({ dstPort: 9000, fragment: { moreFragments: true } })],
    ['a later fragment', buildUdpFrame({ dstPort: 9000, fragment: { offset: 185 } })],
    ['IHL 4', buildUdpFrame({ dstPort: 9000, ihl: 4 })],
    ['IP version 6 in an IPv4 ethertype', buildUdpFrame({ dstPort: 9000, ipVersionField: 6 })],
    ['IP version 4 in an IPv6 ethertype', buildUdpFrame({ ipVersion: 6, dstPort: 9000, ipVersionField: 4 })],
    ['ARP ethertype', buildUdpFrame({ dstPort: 9000, etherType: 0x0806 })],
    ['three VLAN tags', buildUdpFrame({ dstPort: 9000, vlans: [{ id: 1 }, { id: 2 }, { id: 3 }] })],
    ['truncated in the UDP header', buildUdpFrame({ dstPort: 9000, truncate: 14 + 20 + 3 })],
    ['truncated after the UDP destination port (7 of 8 header bytes)', buildUdpFrame({ dstPort: 9000, truncate: 14 + 20 + 7 })],
    ['IPv6 truncated after the UDP destination port', buildUdpFrame({ ipVersion: 6, dstPort: 9000, truncate: 14 + 40 + 7 })],
    ['truncated in the IPv6 header', buildUdpFrame({ ipVersion: 6, dstPort: 9000, truncate: 14 + 30 })],
    ['truncated in the Ethernet header', buildUdpFrame({ dstPort: 9000, truncate: 13 })],
    ['truncated in a VLAN tag', buildUdpFrame({ dstPort: 9000, vlans: [{ id: 5 }], truncate: 17 })],
  ];
  for (const [name, frame] of rejected) it(`rejects ${name}`, () => assert.equal(run(prog, frame), 0));

  /** The frame as AF_PACKET's filter sees it: the kernel has moved the outer VLAN tag into the skb. */
  const kernelSees = (frame: Uint8Array) => {
    const out = new Uint8Array(frame.length - 4);
    out.set(frame.subarray(0, 12));
    out.set(frame.subarray(16), 12);
    return out;
  };
  it('takes two VLAN tags in all, as the XDP program: the outer one moved out of the data counts', () => {
    const tagged = (n: number) => buildUdpFrame({ dstPort: 9000, vlans: Array.from({ length: n }, (_, i) => ({ id: i + 1 })) });
    assert.equal(run(prog, kernelSees(tagged(1)), PACKET_HOST, true), f.ACCEPT, 'one tag (moved out)');
    assert.equal(run(prog, kernelSees(tagged(2)), PACKET_HOST, true), f.ACCEPT, 'two tags (outer moved out, one inline)');
    assert.equal(run(prog, kernelSees(tagged(3)), PACKET_HOST, true), 0, 'three tags (outer moved out, two inline): the XDP program passes these');
    assert.equal(run(prog, tagged(2)), f.ACCEPT, 'two inline tags, none moved out (a driver that leaves them)');
    assert.equal(run(prog, tagged(3)), 0, 'three inline tags');
  });

  it('rejects what the host sends (pkttype PACKET_OUTGOING), accepts the same frame coming in', () => {
    const frame = buildUdpFrame({ dstPort: 9000 });
    assert.equal(accepts(frame, PACKET_OUTGOING), false);
    assert.equal(accepts(frame, PACKET_HOST), true);
  });

  it('finds the port after IPv4 options of every length', () => {
    for (let ihl = 5; ihl <= 15; ihl++) {
      assert.equal(accepts(buildUdpFrame({ dstPort: 9001, ihl })), true, `IHL ${ihl}`);
      assert.equal(accepts(buildUdpFrame({ dstPort: 9002, ihl })), false, `IHL ${ihl}, other port`);
    }
  });

  it('never accepts a truncated prefix of an accepted frame', () => {
    for (const [name, frame] of accepted) {
      // As the XDP program: the whole 8-byte UDP header or nothing; shorter prefixes must fail.
      const udpEnd = findUdp(frame) + 8;
      for (let n = 0; n < udpEnd; n++) assert.equal(run(prog, frame.subarray(0, n)), 0, `${name}: ${n} bytes`);
      assert.equal(run(prog, frame.subarray(0, udpEnd)), f.ACCEPT, `${name}: up to the end of the UDP header`);
    }
  });
});

/** Offset of the UDP header in a frame built by buildUdpFrame (test-side, simple walk). */
function findUdp(frame: Uint8Array): number {
  let off = 12;
  let type = (frame[off] << 8) | frame[off + 1];
  while (type === TPID_8021Q || type === TPID_8021AD) {
    off += 4;
    type = (frame[off] << 8) | frame[off + 1];
  }
  const l3 = off + 2;
  return type === 0x0800 ? l3 + (frame[l3] & 0xf) * 4 : l3 + 40;
}

describe('port sets', () => {
  it('merges ports into ranges', () => {
    assert.deepEqual(f.portRanges([9003, 9001, 9002, 7, 9001, 65535, 65534]), [[7, 7], [9001, 9003], [65534, 65535]]);
    assert.deepEqual(f.portRanges([]), []);
    assert.throws(() => f.portRanges([70000]), /not 0-65535/);
  });

  it('accepts exactly the ports of random sets, checked over all 65536 ports', () => {
    const rand = mulberry32(4);
    for (let round = 0; round < 6; round++) {
      const set = new Set<number>();
      const parts = 1 + Math.floor(rand() * 40);
      for (let i = 0; i < parts; i++) {
        const a = 1 + Math.floor(rand() * 65000);
        const width = rand() < 0.5 ? 1 : 1 + Math.floor(rand() * 300);
        for (let p = a; p < a + width && p <= 65535; p++) set.add(p);
      }
      const program = f.portFilter([...set]);
      const frame = buildUdpFrame({ dstPort: 1 });
      const at = findUdp(frame) + 2;
      for (let port = 0; port <= 65535; port++) {
        frame[at] = port >>> 8;
        frame[at + 1] = port & 0xff;
        const got = run(program, frame) === f.ACCEPT;
        if (got !== set.has(port)) assert.fail(`round ${round}: port ${port} ${got ? 'accepted' : 'rejected'} (${set.size} ports in the set)`);
      }
    }
  });

  it('accepts nothing for an empty set', () => {
    assert.equal(run(f.portFilter([]), buildUdpFrame({ dstPort: 9000 })), 0);
  });

  it('takes any number of ports in few ranges, up to 1,973 separate ranges, and says so when a set does not fit', () => {
    assert.equal(f.portFilter(Array.from({ length: 65535 }, (_, i) => i + 1)).length, 92, '1-65535 is one range');
    assert.equal(f.portFilter(Array.from({ length: 1024 }, (_, i) => 10000 + i)).length, 92);
    assert.equal(f.maxFilterRanges(), 1973);
    const most = Array.from({ length: 1973 }, (_, i) => 2 * i + 1);
    assert.equal(f.portFilter(most).length, 4096);
    assert.equal(f.filterLength(most), 4096);
    assert.throws(
      () => f.portFilter(Array.from({ length: 1974 }, (_, i) => 2 * i + 1)),
      (e: Error) =>
        e.message ===
        "--port/--forward/--config: raw mode (AF_PACKET) can't take these 1974 ports: as 1974 separate ranges they need a socket filter of 4098 instructions, more than the kernel's 4096 (at most 1973 ranges); merge them into fewer, wider ranges (e.g. 9000-9999), or use AF_XDP (--mode native or generic), which takes any set",
    );
  });

  it('accepts exactly the ports of a set of 1,973 ranges (16 groups), checked over all 65536 ports', () => {
    const rand = mulberry32(9);
    const set = new Set<number>();
    let p = 1;
    for (let r = 0; r < 1973; r++) {
      const width = rand() < 0.7 ? 1 : 1 + Math.floor(rand() * 20);
      for (let i = 0; i < width; i++) set.add(p + i);
      p += width + 1 + Math.floor(rand() * 10);
    }
    assert.equal(f.portRanges([...set]).length, 1973);
    const program = f.portFilter([...set]);
    assert.ok(program.length <= f.BPF_MAXINSNS);
    const frame = buildUdpFrame({ dstPort: 1 });
    const at = findUdp(frame) + 2;
    let longest = 0;
    for (let port = 0; port <= 65535; port++) {
      frame[at] = port >>> 8;
      frame[at + 1] = port & 0xff;
      const got = run(program, frame) === f.ACCEPT;
      if (got !== set.has(port)) assert.fail(`port ${port} ${got ? 'accepted' : 'rejected'}`);
      longest = Math.max(longest, ran);
    }
    // The index and one group: at most 2 × 16 + 2 × 127 instructions after the headers.
    assert.ok(longest < 40 + 2 * 16 + 2 * 127, `a frame ran ${longest} instructions`);
  });
});

describe('checkPorts: a port set checked before acting', () => {
  const scattered = Array.from({ length: 25000 }, (_, i) => 2 * i + 1);
  it('takes any set of valid ports in AF_XDP modes (and auto)', () => {
    for (const mode of ['auto', 'native', 'generic'] as const) {
      assert.equal(f.checkPorts(mode, scattered), undefined);
      assert.equal(f.checkPorts(mode, Array.from({ length: 65535 }, (_, i) => i + 1)), undefined);
    }
  });
  it('takes a raw-mode set whose filter fits, and any number of ports in few ranges', () => {
    assert.equal(f.checkPorts('raw', [9000, 9001]), undefined);
    assert.equal(f.checkPorts('raw', Array.from({ length: 65535 }, (_, i) => i + 1)), undefined);
    assert.equal(f.checkPorts('raw', Array.from({ length: 1973 }, (_, i) => 2 * i + 1)), undefined);
  });
  it('refuses 25,000 scattered ports in raw mode with one line naming the flags and the way out', () => {
    const msg = f.checkPorts('raw', scattered)!;
    assert.equal(
      msg,
      "--port/--forward/--config: raw mode (AF_PACKET) can't take these 25000 ports: as 25000 separate ranges they need a socket filter of 50874 instructions, more than the kernel's 4096 (at most 1973 ranges); merge them into fewer, wider ranges (e.g. 9000-9999), or use AF_XDP (--mode native or generic), which takes any set",
    );
    assert.equal(msg.split('\n').length, 1);
  });
  it('refuses no ports, and ports outside 1-65535, in every mode', () => {
    for (const mode of ['auto', 'native', 'generic', 'raw'] as const) {
      assert.equal(f.checkPorts(mode, []), '--port/--forward/--config: no ports to receive');
      assert.equal(f.checkPorts(mode, [9000, 0]), '--port/--forward/--config: port 0 is outside 1-65535');
      assert.equal(f.checkPorts(mode, [65536]), '--port/--forward/--config: port 65536 is outside 1-65535');
    }
  });
});

describe('the kernel accepts the generated programs (SO_ATTACH_FILTER)', () => {
  // An AF_PACKET socket that is never bound receives nothing: attaching filters to it is harmless.
  const fd = libc.socket(libc.AF_PACKET, libc.SOCK_RAW | libc.SOCK_CLOEXEC, 0);
  after(() => libc.close(fd));

  it('opens a socket to test with', () => assert.ok(fd >= 0, `socket(AF_PACKET): errno ${koffi.errno()} (needs root)`));
  for (const [name, ports] of [
    ['two ports', PORTS],
    ['an empty set', []],
    ['a 1024-port range', Array.from({ length: 1024 }, (_, i) => 20000 + i)],
    ['1973 single ports (4096 instructions, the limit)', Array.from({ length: 1973 }, (_, i) => 2 * i + 1)],
    ['ports 1-65535', Array.from({ length: 65535 }, (_, i) => i + 1)],
  ] as [string, number[]][]) {
    it(`attaches the filter for ${name}`, () => attachPortFilter(fd, ports));
  }
  it('a program the checker refuses is reported with the call and errno', () => {
    assert.throws(() => attachPortFilter(-1, PORTS), /setsockopt\(SO_ATTACH_FILTER\): EBADF/);
  });
});
