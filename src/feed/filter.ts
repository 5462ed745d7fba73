/**
 * What a subscriber asked to see (SubscribeRequest's ports, source, kinds, message types),
 * compiled into lookup tables and checked against a history slot.
 */
import { isIP } from 'node:net';
import { Kind, type History } from './history.js';

export interface FilterSpec {
  ports?: number[];
  source?: string;
  kinds?: number[];
  /** MoldUDP64 message types (first byte of the message). */
  messageTypes?: Uint8Array;
}

export class Filter {
  private readonly ports?: Uint8Array;
  private readonly source?: Uint8Array;
  private readonly family: number = 0;
  private readonly raw: boolean = true;
  private readonly mold: boolean = true;
  private readonly types?: Uint8Array;
  /** No condition at all: everything matches. */
  readonly all: boolean;

  /** Throws with a message for the client when the spec makes no sense. */
  constructor(spec: FilterSpec) {
    if (spec.ports && spec.ports.length > 0) {
      this.ports = new Uint8Array(65536);
      for (const p of spec.ports) {
        if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`port ${p} is outside 1-65535`);
        this.ports[p] = 1;
      }
    }
    if (spec.source) {
      const fam = isIP(spec.source);
      if (fam === 0) {
        const shown = spec.source.length > 64 ? `${spec.source.slice(0, 64)}..." (${spec.source.length} characters)` : `${spec.source}"`;
        throw new Error(`source "${shown} is not an IP address`);
      }
      this.family = fam;
      this.source = addressBytes(spec.source);
    }
    if (spec.kinds && spec.kinds.length > 0) {
      for (const k of spec.kinds) if (k !== Kind.Raw && k !== Kind.Mold) throw new Error(`message kind ${k} is unknown`);
      this.raw = spec.kinds.includes(Kind.Raw);
      this.mold = spec.kinds.includes(Kind.Mold);
    }
    if (spec.messageTypes && spec.messageTypes.length > 0) {
      this.types = new Uint8Array(256);
      for (const t of spec.messageTypes) this.types[t] = 1;
    }
    this.all = !this.ports && !this.source && this.raw && this.mold && !this.types;
  }

  matches(h: History, slot: number): boolean {
    if (this.all) return true;
    if (this.ports && this.ports[h.dstPort[slot]] === 0) return false;
    const kind = h.kind[slot];
    if (kind === Kind.Raw ? !this.raw : !this.mold) return false;
    if (this.types && kind === Kind.Mold && (h.length[slot] === 0 || this.types[h.data[h.dataOff[slot]]] === 0)) return false;
    if (this.source) {
      if (h.family[slot] !== this.family) return false;
      const a = slot * 16;
      const n = this.family === 4 ? 4 : 16;
      for (let i = 0; i < n; i++) if (h.srcAddr[a + i] !== this.source[i]) return false;
    }
    return true;
  }

  /** Whether a status event about `port` concerns this subscriber (MoldUDP64 events only). */
  wantsEvent(port: number): boolean {
    return this.mold && (!this.ports || this.ports[port] === 1);
  }
}

/** An address's bytes: 4 for IPv4, 16 for IPv6. */
export function addressBytes(addr: string): Uint8Array {
  if (isIP(addr) === 4) return Uint8Array.from(addr.split('.').map(Number));
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  let hs = groups(head);
  let ts = groups(tail);
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const fix = (g: string[]) =>
    g.flatMap((x) => {
      if (!x.includes('.')) return [x];
      const b = x.split('.').map(Number);
      return [((b[0] << 8) | b[1]).toString(16), ((b[2] << 8) | b[3]).toString(16)];
    });
  hs = fix(hs);
  ts = fix(ts);
  const all = tail === undefined ? hs : [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

/** The text form of 4 or 16 address bytes. */
export function formatAddress(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i] << 8) | b[i + 1]).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + bestLen).join(':')}`;
}
