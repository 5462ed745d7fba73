/**
 * Forwarding rules: a frontend UDP port and the backends its datagrams are spread over.
 *
 *   --forward 9000=10.0.0.3:9001,10.0.0.3:9002,[fd00::3]:9001     (repeatable)
 *   --neighbor 10.0.0.3=02:00:00:00:00:03                         (repeatable; skip the lookup)
 *   --config FILE   JSON: { "ports": [9100],
 *                           "forward": { "9000": ["10.0.0.3:9001", "10.0.0.4:9001"] },
 *                           "neighbors": { "10.0.0.3": "02:00:00:00:00:03" } }
 *
 * Parsing is strict: a bad rule is an error naming where it came from, never a silent skip.
 */
import { readFileSync } from 'node:fs';
import { AddressError, parseAddress, parseEndpoint } from '../net/address.js';

export interface Backend {
  addr: string;
  family: 4 | 6;
  port: number;
}

export interface ForwardRule {
  frontPort: number;
  backends: Backend[];
}

export interface ForwardConfig {
  /** Extra ports to receive without forwarding (they go on to the other stages). */
  ports: number[];
  rules: ForwardRule[];
  /** Next-hop MAC addresses given by hand, by IP address. */
  neighbors: Map<string, string>;
}

export class RuleError extends Error {}

function port(v: string | number, what: string): number {
  const n = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new RuleError(`${what}: "${v}" is not a port (1-65535)`);
  return n;
}

/** Addresses in rules: IPv4-mapped IPv6 ones are refused (see src/net/address.ts). */
function address<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw e instanceof AddressError ? new RuleError(e.message) : e;
  }
}

export function parseBackend(s: string): Backend {
  const e = address(() => parseEndpoint(s.trim(), { mapped: 'refuse' }));
  return { addr: e.text, family: e.family, port: e.port };
}

/** One --forward value: PORT=BACKEND[,BACKEND...] */
export function parseForward(s: string): ForwardRule {
  const eq = s.indexOf('=');
  if (eq < 0) throw new RuleError(`"${s}" is not PORT=ADDR:PORT[,ADDR:PORT...]`);
  const backends = s
    .slice(eq + 1)
    .split(',')
    .filter((b) => b.trim() !== '')
    .map(parseBackend);
  if (backends.length === 0) throw new RuleError(`"${s}" has no backend`);
  return { frontPort: port(s.slice(0, eq), 'frontend port'), backends };
}

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;

/** One --neighbor value: ADDR=MAC */
export function parseNeighbor(s: string): [string, string] {
  const eq = s.indexOf('=');
  const mac = s.slice(eq + 1);
  if (eq < 0 || !MAC.test(mac)) throw new RuleError(`"${s}" is not ADDR=aa:bb:cc:dd:ee:ff`);
  return [address(() => parseAddress(s.slice(0, eq), { mapped: 'refuse' })).text, mac.toLowerCase()];
}

/** Read and check a config file (see the top of this file). */
export function readConfig(path: string): ForwardConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new RuleError(`${path}: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RuleError(`${path}: not a JSON object`);
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!['ports', 'forward', 'neighbors'].includes(k)) throw new RuleError(`${path}: unknown key "${k}"`);
  }
  try {
    const ports = o.ports === undefined ? [] : (o.ports as unknown[]).map((p) => port(p as number, 'ports'));
    if (o.ports !== undefined && !Array.isArray(o.ports)) throw new RuleError('"ports" must be an array');
    const rules: ForwardRule[] = [];
    const fw = (o.forward ?? {}) as Record<string, unknown>;
    if (typeof fw !== 'object' || Array.isArray(fw)) throw new RuleError('"forward" must be an object');
    for (const [front, list] of Object.entries(fw)) {
      if (!Array.isArray(list) || list.length === 0) throw new RuleError(`forward "${front}": needs a non-empty array of backends`);
      rules.push({ frontPort: port(front, 'forward'), backends: list.map((b) => parseBackend(String(b))) });
    }
    const neighbors = new Map<string, string>();
    const nb = (o.neighbors ?? {}) as Record<string, unknown>;
    for (const [addr, mac] of Object.entries(nb)) {
      const [a, m] = parseNeighbor(`${addr}=${String(mac)}`);
      neighbors.set(a, m);
    }
    return { ports, rules, neighbors };
  } catch (e) {
    throw new RuleError(`${path}: ${(e as Error).message}`);
  }
}

/** CLI rules first, then the file's; a frontend port given twice is an error. */
export function mergeConfig(cli: ForwardConfig, file?: ForwardConfig): ForwardConfig {
  const out: ForwardConfig = {
    ports: [...cli.ports, ...(file?.ports ?? [])],
    rules: [...cli.rules, ...(file?.rules ?? [])],
    neighbors: new Map([...(file?.neighbors ?? []), ...cli.neighbors]),
  };
  const seen = new Set<number>();
  for (const r of out.rules) {
    if (seen.has(r.frontPort)) throw new RuleError(`frontend port ${r.frontPort} has two rules`);
    seen.add(r.frontPort);
  }
  return out;
}

/** Every port xsk must receive: the plain ones and every frontend port. */
export function allPorts(cfg: ForwardConfig): number[] {
  return [...new Set([...cfg.ports, ...cfg.rules.map((r) => r.frontPort)])].sort((a, b) => a - b);
}
