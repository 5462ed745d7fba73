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
import { readFileSync, statSync } from 'node:fs';
import { fileProblem } from '../util/file.js';
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
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new RuleError(`${what}: ${shown(v)} is not a port (1-65535)`);
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

/** The most a config file may hold (it is read whole, at start and on every SIGHUP). */
export const MAX_CONFIG_BYTES = 16 << 20;

/** A JSON path for messages: "ports"[3], "forward"."9000"[1]. */
const at = (...parts: (string | number)[]): string => parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}"${p}"`)).join('');
/** A value as the message shows it: JSON, cut short. */
const shown = (v: unknown): string => {
  const j = JSON.stringify(v) ?? String(v);
  return j.length > 40 ? `${j.slice(0, 37)}...` : j;
};
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Read and check a config file (see the top of this file). Every field's type is checked;
 * a problem is a RuleError whose message is one line: `FILE: JSON-PATH: what is wrong`
 * (the runner prefixes it with `--config: `). Never blocks on a FIFO: a file that is not a
 * regular one is refused before it is opened.
 */
export function readConfig(path: string): ForwardConfig {
  const problem = fileProblem(path);
  if (problem) throw new RuleError(`${path}: ${problem}`);
  if (statSync(path).size > MAX_CONFIG_BYTES) throw new RuleError(`${path}: larger than ${MAX_CONFIG_BYTES >> 20} MiB`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new RuleError(`${path}: ${err.code ? `cannot be read (${err.code})` : `not valid JSON (${err.message.split('\n')[0]})`}`);
  }
  try {
    return checkConfig(raw);
  } catch (e) {
    throw new RuleError(`${path}: ${(e as Error).message}`);
  }
}

/** A parsed config file's contents, checked field by field (messages start with the JSON path). */
export function checkConfig(raw: unknown): ForwardConfig {
  if (!isObject(raw)) throw new RuleError(`the top level must be a JSON object, not ${shown(raw)}`);
  for (const k of Object.keys(raw)) {
    if (!['ports', 'forward', 'neighbors'].includes(k)) throw new RuleError(`unknown key ${at(k)} (expected "ports", "forward", "neighbors")`);
  }
  const ports: number[] = [];
  if (raw.ports !== undefined) {
    if (!Array.isArray(raw.ports)) throw new RuleError(`${at('ports')} must be an array of ports, not ${shown(raw.ports)}`);
    raw.ports.forEach((p, i) => {
      if (typeof p !== 'number' && typeof p !== 'string') throw new RuleError(`${at('ports', i)}: ${shown(p)} is not a port (1-65535)`);
      ports.push(port(p, at('ports', i)));
    });
  }
  const rules: ForwardRule[] = [];
  if (raw.forward !== undefined) {
    if (!isObject(raw.forward)) throw new RuleError(`${at('forward')} must be an object of PORT: ["ADDR:PORT", ...], not ${shown(raw.forward)}`);
    for (const [front, list] of Object.entries(raw.forward)) {
      const frontPort = port(front, `${at('forward', front)}: frontend port`);
      if (!Array.isArray(list) || list.length === 0) {
        throw new RuleError(`${at('forward', front)} must be a non-empty array of "ADDR:PORT" backends, not ${shown(list)}`);
      }
      const backends = list.map((b, i) => {
        if (typeof b !== 'string') throw new RuleError(`${at('forward', front, i)}: ${shown(b)} is not an "ADDR:PORT" string`);
        try {
          return parseBackend(b);
        } catch (e) {
          throw new RuleError(`${at('forward', front, i)}: ${(e as Error).message}`);
        }
      });
      rules.push({ frontPort, backends });
    }
  }
  const neighbors = new Map<string, string>();
  if (raw.neighbors !== undefined) {
    if (!isObject(raw.neighbors)) throw new RuleError(`${at('neighbors')} must be an object of "ADDR": "MAC", not ${shown(raw.neighbors)}`);
    for (const [addr, mac] of Object.entries(raw.neighbors)) {
      let ip: string;
      try {
        ip = address(() => parseAddress(addr, { mapped: 'refuse' })).text;
      } catch (e) {
        throw new RuleError(`${at('neighbors', addr)}: ${addr.length > 40 ? `${shown(addr)} is not an IP address` : (e as Error).message}`);
      }
      if (typeof mac !== 'string' || !MAC.test(mac)) throw new RuleError(`${at('neighbors', addr)}: ${shown(mac)} is not a MAC address (aa:bb:cc:dd:ee:ff)`);
      neighbors.set(ip, mac.toLowerCase());
    }
  }
  return { ports, rules, neighbors };
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
