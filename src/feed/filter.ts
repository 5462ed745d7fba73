/**
 * What a subscriber asked to see (SubscribeRequest's ports, source, kinds, message types),
 * compiled into lookup tables and checked against a history slot.
 */
import { parseAddress } from '../net/address.js';
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
      let a;
      try {
        a = parseAddress(spec.source);
      } catch (e) {
        // A long one is shown cut short (a client may send anything).
        if (spec.source.length <= 64) throw new Error(`source ${(e as Error).message}`);
        throw new Error(`source "${spec.source.slice(0, 64)}..." (${spec.source.length} characters) is not an IP address`);
      }
      this.family = a.family;
      this.source = a.bytes;
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

/** Address text ↔ bytes: one module for the whole project. */
export { addressBytes, formatAddress } from '../net/address.js';
