/**
 * The classic BPF socket filter of the raw port, generated from the port set: the kernel runs it
 * on every frame the AF_PACKET socket would get, and only what it accepts is copied into the RX
 * ring. It mirrors what bpf/xsk_redirect.c steers to AF_XDP:
 *
 *   - not a frame this host sends (pkttype PACKET_OUTGOING);
 *   - Ethernet, then 0, 1 or 2 VLAN tags (802.1Q 0x8100 or 802.1ad 0x88a8) inline;
 *   - IPv4 (version 4, IHL ≥ 5, not a fragment: MF and offset both clear, protocol UDP) or IPv6
 *     (version 6, next header UDP — no extension headers);
 *   - UDP destination port in the set.
 *
 * VLAN: on AF_PACKET the kernel has already moved the outer tag of a tagged frame out of the
 * data into the skb's metadata (a driver doing rx-vlan-offload, or the core's skb_vlan_untag
 * before taps see the frame), so what the filter sees starts with the inner tag, if any. The
 * filter does not look at the metadata tag: a frame is accepted on any VLAN, as on AF_XDP. The
 * raw port puts the tag back inline before the handler sees the frame (raw-port.ts).
 *
 * Frames shorter than a load are rejected by the kernel's interpreter itself (a load past the
 * end returns 0), so truncated frames never match.
 *
 * Port set → code: the ports are merged into ranges; each single port costs 2 instructions and
 * each range 3, checked in order. The kernel's limit is 4096 instructions (BPF_MAXINSNS): about
 * 2000 separate ports, or any number of ports in fewer than ~1300 ranges.
 */

// Instruction classes, sizes, modes, operations (linux/bpf_common.h).
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_RET = 0x06;
export const BPF_MISC = 0x07;
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MSH = 0xa0;
export const BPF_AND = 0x50;
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_K = 0x00;
export const BPF_X = 0x08;
export const BPF_A = 0x10;

/** Ancillary loads: offsets past SKF_AD_OFF read skb metadata (linux/filter.h). */
export const SKF_AD_OFF = -0x1000;
export const SKF_AD_PKTTYPE = 4;

export const BPF_MAXINSNS = 4096;
/** What the filter returns for a frame it accepts: the snap length (the whole frame). */
export const ACCEPT = 0x40000;

const ETH_HLEN = 14;
const VLAN_HLEN = 4;
const PACKET_OUTGOING = 4;
const IPPROTO_UDP = 17;
const ETHERTYPES = { ip: 0x0800, ipv6: 0x86dd, q: 0x8100, ad: 0x88a8 };

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** An instruction whose jump targets may be labels, resolved once the program is laid out. */
interface Pending {
  code: number;
  jt: number | string;
  jf: number | string;
  k: number | string;
}

class Assembler {
  readonly code: Pending[] = [];
  private readonly labels = new Map<string, number>();

  label(name: string): void {
    if (this.labels.has(name)) throw new Error(`cBPF assembler: label ${name} defined twice`);
    this.labels.set(name, this.code.length);
  }

  stmt(code: number, k: number): void {
    this.code.push({ code, jt: 0, jf: 0, k: k >>> 0 });
  }

  /** Conditional jump: `jt`/`jf` are labels or instruction counts to skip. */
  jump(op: number, k: number, jt: number | string, jf: number | string): void {
    this.code.push({ code: BPF_JMP | op | BPF_K, jt, jf, k: k >>> 0 });
  }

  /** Unconditional jump to a label (32-bit offset). */
  ja(to: string): void {
    this.code.push({ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: to });
  }

  private target(from: number, to: number | string): number {
    if (typeof to === 'number') return to;
    const at = this.labels.get(to);
    if (at === undefined) throw new Error(`cBPF assembler: no label ${to}`);
    const off = at - from - 1;
    if (off < 0) throw new Error(`cBPF assembler: backward jump to ${to}`);
    return off;
  }

  finish(): Insn[] {
    return this.code.map((p, i) => {
      const jt = this.target(i, p.jt);
      const jf = this.target(i, p.jf);
      if (jt > 255 || jf > 255) throw new Error(`cBPF assembler: conditional jump at ${i} too far (${jt}, ${jf})`);
      const k = typeof p.k === 'string' ? this.target(i, p.k) : p.k;
      return { code: p.code, jt, jf, k };
    });
  }
}

/** Sorted, merged, inclusive ranges of a port list. */
export function portRanges(ports: readonly number[]): [number, number][] {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const p of sorted) {
    if (!Number.isInteger(p) || p < 0 || p > 65535) throw new Error(`port ${p} is not 0-65535`);
    const last = out[out.length - 1];
    if (last && p === last[1] + 1) last[1] = p;
    else out.push([p, p]);
  }
  return out;
}

/** The filter for a set of UDP destination ports (an empty set accepts nothing). */
export function portFilter(ports: readonly number[]): Insn[] {
  const a = new Assembler();
  const ld = (size: number, off: number) => a.stmt(BPF_LD | size | BPF_ABS, off);

  // Never what we (or the host) send.
  ld(BPF_W, SKF_AD_OFF + SKF_AD_PKTTYPE);
  a.jump(BPF_JEQ, PACKET_OUTGOING, 'reject', 0);

  // Ethernet and up to two inline VLAN tags: the ethertype at 12, 16, 20.
  for (let tags = 0; tags <= 2; tags++) {
    const at = ETH_HLEN - 2 + tags * VLAN_HLEN;
    a.label(`eth${tags}`);
    ld(BPF_H, at);
    a.jump(BPF_JEQ, ETHERTYPES.ip, `v4_${tags}`, 0);
    a.jump(BPF_JEQ, ETHERTYPES.ipv6, `v6_${tags}`, 0);
    if (tags < 2) {
      a.jump(BPF_JEQ, ETHERTYPES.q, `eth${tags + 1}`, 0);
      a.jump(BPF_JEQ, ETHERTYPES.ad, `eth${tags + 1}`, 'reject');
    } else {
      a.ja('reject');
    }
  }

  for (let tags = 0; tags <= 2; tags++) {
    const l3 = ETH_HLEN + tags * VLAN_HLEN;
    // IPv4: version 4 and IHL ≥ 5 is a first byte of 0x45..0x4f.
    a.label(`v4_${tags}`);
    ld(BPF_B, l3);
    a.jump(BPF_JGE, 0x45, 0, 'reject');
    a.jump(BPF_JGT, 0x4f, 'reject', 0);
    ld(BPF_H, l3 + 6); // flags and fragment offset
    a.jump(BPF_JSET, 0x3fff, 'reject', 0);
    ld(BPF_B, l3 + 9); // protocol
    a.jump(BPF_JEQ, IPPROTO_UDP, 0, 'reject');
    a.stmt(BPF_LDX | BPF_B | BPF_MSH, l3); // X = 4 * IHL
    a.stmt(BPF_LD | BPF_H | BPF_IND, l3 + 2); // UDP destination port at X + l3 + 2
    a.ja('ports');

    // IPv6: version 6 (high nibble), next header UDP, fixed 40-byte header.
    a.label(`v6_${tags}`);
    ld(BPF_B, l3);
    a.stmt(BPF_ALU | BPF_AND | BPF_K, 0xf0);
    a.jump(BPF_JEQ, 0x60, 0, 'reject');
    ld(BPF_B, l3 + 6);
    a.jump(BPF_JEQ, IPPROTO_UDP, 0, 'reject');
    ld(BPF_H, l3 + 40 + 2);
    a.ja('ports');
  }

  a.label('reject');
  a.stmt(BPF_RET | BPF_K, 0);

  // A holds the destination port.
  a.label('ports');
  for (const [lo, hi] of portRanges(ports)) {
    if (lo === hi) {
      a.jump(BPF_JEQ, lo, 0, 1);
    } else {
      a.jump(BPF_JGE, lo, 0, 2);
      a.jump(BPF_JGT, hi, 1, 0);
    }
    a.stmt(BPF_RET | BPF_K, ACCEPT);
  }
  a.stmt(BPF_RET | BPF_K, 0);

  const prog = a.finish();
  if (prog.length > BPF_MAXINSNS) {
    throw new Error(
      `the port set needs a socket filter of ${prog.length} instructions, more than the kernel's ${BPF_MAXINSNS}: use fewer, wider port ranges`,
    );
  }
  return prog;
}

/** struct sock_filter[] as the kernel wants it (8 bytes each, little-endian host). */
export function encodeFilter(prog: readonly Insn[]): Buffer {
  const b = Buffer.alloc(prog.length * 8);
  prog.forEach((ins, i) => {
    b.writeUInt16LE(ins.code, i * 8);
    b.writeUInt8(ins.jt, i * 8 + 2);
    b.writeUInt8(ins.jf, i * 8 + 3);
    b.writeUInt32LE(ins.k >>> 0, i * 8 + 4);
  });
  return b;
}
