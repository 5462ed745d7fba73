/**
 * IP addresses as users write them and as frames carry them: the one parser and formatter that
 * forwarding rules, the feed's source filter, frame building and frame parsing all use.
 *
 *   parseAddress('10.0.0.3')          → { family: 4, bytes: [10,0,0,3], text: '10.0.0.3' }
 *   parseAddress('FD00:0::3')         → { family: 6, bytes: …, text: 'fd00::3' }  (RFC 5952 text)
 *   parseEndpoint('[fd00::3]:9001')   → the address and port 9001; '10.0.0.3:9001' the same
 *   formatAddress(bytes)              → RFC 5952 text (IPv4-mapped ones as ::ffff:a.b.c.d)
 *
 * Parsing is strict and says why it refuses: leading zeros in IPv4 octets (octal in some
 * tools), zone ids (`fe80::1%eth0`: xsk sends out of one interface, --iface, so a zone says
 * nothing it could use; link-local addresses are written without it), and, where the caller
 * asks (`mapped: 'refuse'`), IPv4-mapped IPv6 addresses (::ffff:a.b.c.d), which name an IPv4
 * host through an IPv6 socket API and never appear in IPv6 packets on a wire.
 */

export class AddressError extends Error {}

export interface Address {
  family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
  /** The canonical text (dotted quad, or RFC 5952). */
  text: string;
}

export interface ParseOptions {
  /**
   * What to do with an IPv4-mapped IPv6 address (::ffff:a.b.c.d): 'keep' it as the IPv6
   * address it is (default), or 'refuse' it with a message suggesting the IPv4 form.
   */
  mapped?: 'keep' | 'refuse';
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEX = /^[0-9a-fA-F]{1,4}$/;

function v4Bytes(s: string): Uint8Array | undefined {
  const m = V4.exec(s);
  if (!m) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = m[i + 1];
    if (part.length > 1 && part[0] === '0') return undefined;
    const v = Number(part);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

/** The 16-bit groups of an IPv6 text (a dotted IPv4 tail counts as two), or undefined. */
function v6Groups(s: string): number[] | undefined {
  const parts = (side: string, last: boolean): number[] | undefined => {
    if (side === '') return [];
    const out: number[] = [];
    const items = side.split(':');
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (HEX.test(it)) out.push(parseInt(it, 16));
      else if (last && i === items.length - 1 && V4.test(it)) {
        const b = v4Bytes(it);
        if (!b) return undefined;
        out.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
      } else return undefined;
    }
    return out;
  };
  const dbl = s.indexOf('::');
  if (dbl < 0) {
    const g = parts(s, true);
    return g && g.length === 8 ? g : undefined;
  }
  if (s.indexOf('::', dbl + 1) >= 0) return undefined;
  const head = parts(s.slice(0, dbl), false);
  const tail = parts(s.slice(dbl + 2), true);
  if (!head || !tail || head.length + tail.length > 7) return undefined;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** Whether 16 address bytes are an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
export function isV4Mapped(b: Uint8Array, off = 0): boolean {
  for (let i = 0; i < 10; i++) if (b[off + i] !== 0) return false;
  return b[off + 10] === 0xff && b[off + 11] === 0xff;
}

/** Parse an IPv4 or IPv6 address; throws AddressError saying why it is not one. */
export function parseAddress(s: string, opts: ParseOptions = {}): Address {
  const v4 = v4Bytes(s);
  if (v4) return { family: 4, bytes: v4, text: formatAddress(v4) };
  const pct = s.indexOf('%');
  if (pct >= 0 && v6Groups(s.slice(0, pct))) {
    throw new AddressError(
      `"${s}": zone ids (${s.slice(pct)}) are not supported: xsk sends out of its one --iface; write the address without it (${s.slice(0, pct)})`,
    );
  }
  const g = v6Groups(s);
  if (!g) {
    if (V4.test(s)) throw new AddressError(`"${s}" is not an IPv4 address (octets are 0-255, without leading zeros)`);
    throw new AddressError(`"${s}" is not an IP address`);
  }
  const bytes = new Uint8Array(16);
  g.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  if (opts.mapped === 'refuse' && isV4Mapped(bytes)) {
    const v4text = formatIPv4Bytes(bytes, 12);
    throw new AddressError(
      `"${s}" is an IPv4-mapped IPv6 address, which never appears in IPv6 packets: write the IPv4 address ${v4text} instead`,
    );
  }
  return { family: 6, bytes, text: formatIPv6(bytes, 0) };
}

/** 4 or 16 bytes for an address, or an AddressError. */
export function addressBytes(s: string, opts?: ParseOptions): Uint8Array {
  return parseAddress(s, opts).bytes;
}

export interface Endpoint extends Address {
  port: number;
}

/** ADDR:PORT or [IPv6]:PORT (an IPv6 address needs its brackets). */
export function parseEndpoint(s: string, opts?: ParseOptions): Endpoint {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:\s[\]]+):(\d+)$/.exec(s);
  if (!m) {
    const bare = !s.startsWith('[') && (s.match(/:/g) ?? []).length >= 2;
    throw new AddressError(`"${s}" is not ADDR:PORT or [IPv6]:PORT${bare ? ' (an IPv6 address needs brackets: [ADDR]:PORT)' : ''}`);
  }
  const a = parseAddress(m[1], opts);
  if (m[0].startsWith('[') && a.family === 4) throw new AddressError(`"${s}": brackets are for IPv6 addresses; write ${m[1]}:${m[2]}`);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new AddressError(`"${s}": "${m[2]}" is not a port (1-65535)`);
  return { ...a, port };
}

/** "10.0.0.3:9001" or "[fd00::3]:9001". */
export function formatEndpoint(a: Pick<Address, 'family' | 'text'>, port: number): string {
  return a.family === 6 ? `[${a.text}]:${port}` : `${a.text}:${port}`;
}

/** The address as big-endian 16-bit words (2 for IPv4, 8 for IPv6), as checksums see it. */
export function addressWords(bytes: Uint8Array): Uint16Array {
  const out = new Uint16Array(bytes.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = (bytes[2 * i] << 8) | bytes[2 * i + 1];
  return out;
}

/** Text of 4 (IPv4) or 16 (IPv6) address bytes; '' for any other length. */
export function formatAddress(b: Uint8Array): string {
  if (b.length === 4) return formatIPv4Bytes(b, 0);
  if (b.length === 16) return formatIPv6(b, 0);
  return '';
}

/** Dotted-quad text of an IPv4 address given as an unsigned 32-bit number. */
export function formatIPv4(addr: number): string {
  return `${(addr >>> 24) & 0xff}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

function formatIPv4Bytes(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/**
 * RFC 5952 text of the 16-byte IPv6 address at buf[off]: lowercase, no leading zeros, the
 * longest (leftmost on ties) run of two or more zero groups replaced by "::", and IPv4-mapped
 * addresses as "::ffff:a.b.c.d".
 */
export function formatIPv6(buf: Uint8Array, off: number): string {
  if (isV4Mapped(buf, off)) return `::ffff:${formatIPv4Bytes(buf, off + 12)}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(((buf[off + 2 * i] ?? 0) << 8) | (buf[off + 2 * i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string =>
    g
      .slice(from, to)
      .map((x) => x.toString(16))
      .join(':');
  if (bestLen < 2) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}
