/**
 * The forwarding table as the hot path sees it: a frontend-port index (65536 slots), and for each
 * rule its backends with everything the rewrite needs already in wire form (address words,
 * port, MAC bytes). Built off the hot path; replaced whole on reload, so the stage never sees a
 * half-updated table.
 */
import { addressWords, formatEndpoint, parseAddress } from '../net/address.js';
import type { ForwardRule } from './rules.js';

export class BackendSlot {
  readonly name: string;
  readonly family: 4 | 6;
  /** Destination address as big-endian 16-bit words (2 for IPv4, 8 for IPv6). */
  readonly addrWords: Uint16Array;
  readonly port: number;
  /** Destination MAC (the next hop's), 6 bytes; valid when `resolved`. */
  readonly mac = new Uint8Array(6);
  resolved = false;
  forwarded = 0;

  constructor(
    readonly addr: string,
    port: number,
    readonly frontPort: number,
  ) {
    const a = parseAddress(addr);
    this.family = a.family;
    this.port = port;
    this.addrWords = addressWords(a.bytes);
    this.name = `${frontPort}->${formatEndpoint(a, port)}`;
  }

  setMac(mac: string): void {
    macBytes(mac, this.mac);
    this.resolved = true;
  }
}

export class RuleSlot {
  next = 0;
  constructor(
    readonly frontPort: number,
    readonly backends: BackendSlot[],
  ) {}
}

export class ForwardTable {
  /** Frontend port → index into rules, or -1. */
  readonly byPort = new Int16Array(65536).fill(-1);
  readonly rules: RuleSlot[];

  constructor(rules: ForwardRule[]) {
    this.rules = rules.map((r) => new RuleSlot(r.frontPort, r.backends.map((b) => new BackendSlot(b.addr, b.port, r.frontPort))));
    this.rules.forEach((r, i) => (this.byPort[r.frontPort] = i));
  }

  backends(): BackendSlot[] {
    return this.rules.flatMap((r) => r.backends);
  }
}

export function macBytes(mac: string, out = new Uint8Array(6)): Uint8Array {
  const parts = mac.split(':');
  if (parts.length !== 6) throw new Error(`bad MAC ${mac}`);
  parts.forEach((p, i) => (out[i] = parseInt(p, 16)));
  return out;
}
