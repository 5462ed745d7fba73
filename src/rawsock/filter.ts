/**
 * The classic BPF socket filter of the raw port, generated from the port set: the kernel runs it
 * on every frame the AF_PACKET socket would get, and only what it accepts is copied into the RX
 * ring. It mirrors what bpf/xsk_redirect.c steers to AF_XDP:
 *
 *   - not a frame this host sends (pkttype PACKET_OUTGOING);
 *   - Ethernet, then 0, 1 or 2 VLAN tags (802.1Q 0x8100 or 802.1ad 0x88a8) in all, the one the
 *     kernel may have moved out of the data (see VLAN below) included: a third is not taken;
 *   - IPv4 (version 4, IHL ≥ 5, not a fragment: MF and offset both clear, protocol UDP) or IPv6
 *     (version 6, next header UDP — no extension headers);
 *   - the whole 8-byte UDP header present, its destination port in the set.
 *
 * VLAN: on AF_PACKET the kernel has already moved the outer tag of a tagged frame out of the
 * data into the skb's metadata (a driver doing rx-vlan-offload, or the core's skb_vlan_untag
 * before taps see the frame), so what the filter sees starts with the inner tag, if any. The
 * filter does not look at the tag's value: a frame is accepted on any VLAN, as on AF_XDP; but it
 * counts it (SKF_AD_VLAN_TAG_PRESENT), so that a frame with three tags is refused here as the XDP
 * program refuses it. The raw port puts the tag back inline before the handler sees the frame
 * (raw-port.ts).
 *
 * Frames shorter than a load are rejected by the kernel's interpreter itself (a load past the
 * end returns 0), so truncated frames never match.
 *
 * Port set → code: the ports are merged into sorted ranges (a single port is a range of one),
 * cut into groups of up to GROUP ranges. An index finds the group that may hold the port (two
 * instructions a group: "above this group's last port? next group : go to the group"), then the
 * group is scanned in order, two instructions a range: "above this range? next range : at or
 * above its first port? accept : reject" (the ranges are sorted, so a port below a range is in
 * no later one). Each group ends with its own accept and reject, so every conditional jump
 * stays within its 8-bit reach. A frame costs at most two instructions per group plus two per
 * range of one group; the program, 2 instructions per range plus 4 per group, plus the headers.
 *
 * The kernel's limit is 4096 instructions (BPF_MAXINSNS): about 1,970 separate ranges, whatever
 * their widths (1-65535 is one range). A set that needs more is refused before anything is
 * done, by checkPorts() (the runner calls it at start and on reload) or by portFilter() itself,
 * with a one-line message that names the flags and what to do.
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
export const SKF_AD_VLAN_TAG_PRESENT = 48;

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

/**
 * Ranges per group: the scan of a group jumps to the group's accept/reject, at most 2 × GROUP − 1
 * instructions ahead, within a conditional jump's 255.
 */
const GROUP = 127;

/** The filter's instructions, however many there are (portFilter checks the limit). */
export function buildPortFilter(ports: readonly number[]): Insn[] {
  const a = new Assembler();
  const ld = (size: number, off: number) => a.stmt(BPF_LD | size | BPF_ABS, off);

  // Never what we (or the host) send.
  ld(BPF_W, SKF_AD_OFF + SKF_AD_PKTTYPE);
  a.jump(BPF_JEQ, PACKET_OUTGOING, 'reject', 0);

  // Ethernet and VLAN tags: two at most in all, as the XDP program, which sees them all inline.
  // The kernel has moved the outer tag of a tagged frame into the skb (SKF_AD_VLAN_TAG_PRESENT):
  // then one more may be inline, else two. The ethertype after k inline tags is at 12 + 4k.
  ld(BPF_W, SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT);
  a.jump(BPF_JEQ, 0, 'eth0', 'tagged0');
  for (const [chain, inline] of [['eth', 2], ['tagged', 1]] as const) {
    for (let tags = 0; tags <= inline; tags++) {
      const at = ETH_HLEN - 2 + tags * VLAN_HLEN;
      a.label(`${chain}${tags}`);
      ld(BPF_H, at);
      a.jump(BPF_JEQ, ETHERTYPES.ip, `v4_${tags}`, 0);
      a.jump(BPF_JEQ, ETHERTYPES.ipv6, `v6_${tags}`, 0);
      if (tags < inline) {
        a.jump(BPF_JEQ, ETHERTYPES.q, `${chain}${tags + 1}`, 0);
        a.jump(BPF_JEQ, ETHERTYPES.ad, `${chain}${tags + 1}`, 'reject');
      } else {
        a.ja('reject');
      }
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
    // The whole 8-byte UDP header must be there, as the XDP program wants (a load past the end
    // rejects the frame); then the destination port at X + l3 + 2.
    a.stmt(BPF_LD | BPF_B | BPF_IND, l3 + 7);
    a.stmt(BPF_LD | BPF_H | BPF_IND, l3 + 2);
    a.ja('ports');

    // IPv6: version 6 (high nibble), next header UDP, fixed 40-byte header, whole UDP header.
    a.label(`v6_${tags}`);
    ld(BPF_B, l3);
    a.stmt(BPF_ALU | BPF_AND | BPF_K, 0xf0);
    a.jump(BPF_JEQ, 0x60, 0, 'reject');
    ld(BPF_B, l3 + 6);
    a.jump(BPF_JEQ, IPPROTO_UDP, 0, 'reject');
    ld(BPF_B, l3 + 40 + 7);
    ld(BPF_H, l3 + 40 + 2);
    a.ja('ports');
  }

  a.label('reject');
  a.stmt(BPF_RET | BPF_K, 0);

  // A holds the destination port.
  a.label('ports');
  const ranges = portRanges(ports);
  const groups: [number, number][][] = [];
  for (let i = 0; i < ranges.length; i += GROUP) groups.push(ranges.slice(i, i + GROUP));
  // The index: the first group whose last port is at or above A.
  groups.forEach((g, gi) => {
    a.jump(BPF_JGT, g[g.length - 1][1], 1, 0);
    a.ja(`group${gi}`);
  });
  a.stmt(BPF_RET | BPF_K, 0); // above every range (and the empty set)
  groups.forEach((g, gi) => {
    a.label(`group${gi}`);
    g.forEach(([lo, hi], ri) => {
      // Above this range: the next one (the last range of a group never is: the index said so).
      a.jump(BPF_JGT, hi, ri + 1 < g.length ? 1 : `reject${gi}`, 0);
      a.jump(BPF_JGE, lo, `accept${gi}`, `reject${gi}`);
    });
    a.label(`accept${gi}`);
    a.stmt(BPF_RET | BPF_K, ACCEPT);
    a.label(`reject${gi}`);
    a.stmt(BPF_RET | BPF_K, 0);
  });
  return a.finish();
}

/**
 * The filter for a set of UDP destination ports (an empty set accepts nothing). Throws, with the
 * one-line message of checkPorts, when it would not fit in the kernel's 4096 instructions.
 */
export function portFilter(ports: readonly number[]): Insn[] {
  const prog = buildPortFilter(ports);
  if (prog.length > BPF_MAXINSNS) throw new Error(tooLarge(ports, prog.length));
  return prog;
}

let fixedLength = 0;
/** Instructions of the filter for `ports`, without making it: 2 per range, 4 per group, and the rest. */
export function filterLength(ports: readonly number[]): number {
  fixedLength ||= buildPortFilter([]).length;
  const n = portRanges(ports).length;
  return fixedLength + 2 * n + 4 * Math.ceil(n / GROUP);
}

/** The most separate ranges a filter can hold (1,973: the ports 1, 3, 5, ... 3945). */
export function maxFilterRanges(): number {
  let n = BPF_MAXINSNS >> 1;
  while (filterLength(Array.from({ length: n }, (_, i) => 2 * i + 1)) > BPF_MAXINSNS) n--;
  return n;
}

function tooLarge(ports: readonly number[], insns: number): string {
  const ranges = portRanges(ports).length;
  return (
    `--port/--forward/--config: raw mode (AF_PACKET) can't take these ${new Set(ports).size} ports: as ${ranges} separate ranges they need a ` +
    `socket filter of ${insns} instructions, more than the kernel's ${BPF_MAXINSNS} (at most ${maxFilterRanges()} ranges); ` +
    `merge them into fewer, wider ranges (e.g. 9000-9999), or use AF_XDP (--mode native or generic), which takes any set`
  );
}

export type ModeChoice = 'auto' | 'native' | 'generic' | 'raw';

/**
 * Whether `ports` can be received in `mode`, checked before acting (at start, and on a reload
 * before anything is swapped): undefined if so, else the one-line reason, naming the flags.
 *  - every mode: at least one port, each an integer from 1 to 65535;
 *  - native / generic (AF_XDP): nothing more: the XDP program's port map has an entry for
 *    every port;
 *  - raw (AF_PACKET): the socket filter must fit in the kernel's 4096 instructions (about
 *    1,970 separate ranges, see maxFilterRanges());
 *  - auto: as AF_XDP. Auto mode must call checkPorts('raw', ports) again before it falls
 *    back to raw mode, and a reload in raw mode checks 'raw'.
 */
export function checkPorts(mode: ModeChoice, ports: readonly number[]): string | undefined {
  if (ports.length === 0) return '--port/--forward/--config: no ports to receive';
  const bad = ports.find((p) => !Number.isInteger(p) || p < 1 || p > 65535);
  if (bad !== undefined) return `--port/--forward/--config: port ${bad} is outside 1-65535`;
  if (mode !== 'raw') return undefined;
  const insns = filterLength(ports);
  return insns > BPF_MAXINSNS ? tooLarge(ports, insns) : undefined;
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
