/**
 * Next-hop MAC addresses for backends, from the kernel's own tables (through iproute2):
 * `ip route get` gives the next hop (the backend itself, or a gateway) and the device;
 * `ip neigh show` gives the MAC once the kernel has resolved it. When it has not, one ping
 * from the kernel (on the interface) makes it resolve; the caller asks again later.
 * Runs off the hot path, asynchronously.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';

const run = promisify(execFile);

const USABLE = new Set(['REACHABLE', 'STALE', 'DELAY', 'PROBE', 'PERMANENT', 'NOARP']);

export interface NextHop {
  /** The address whose MAC we need: the backend, or the gateway towards it. */
  via: string;
  dev: string;
}

export async function nextHop(addr: string): Promise<NextHop> {
  const { stdout } = await run('ip', ['-j', 'route', 'get', addr]);
  const [r] = JSON.parse(stdout) as { gateway?: string; dev: string }[];
  return { via: r.gateway ?? addr, dev: r.dev };
}

export async function neighbourMac(addr: string, dev: string): Promise<string | undefined> {
  const { stdout } = await run('ip', ['-j', 'neigh', 'show', 'to', addr, 'dev', dev]);
  const entries = JSON.parse(stdout || '[]') as { lladdr?: string; state?: string[] }[];
  const e = entries.find((n) => n.lladdr && (n.state ?? []).some((s) => USABLE.has(s)));
  return e?.lladdr?.toLowerCase();
}

/** Ask the kernel to resolve `addr` on `dev` (one echo request; the reply doesn't matter). */
export async function probe(addr: string, dev: string): Promise<void> {
  await run('ping', ['-c', '1', '-W', '1', '-I', dev, addr]).catch(() => undefined);
}

export interface Resolution {
  mac?: string;
  via: string;
  /** Why there is no MAC, for the log. */
  problem?: string;
}

/** The MAC to put in front of a datagram for `addr`, leaving by `ifname`. */
export async function resolve(addr: string, ifname: string, probeIfMissing: boolean): Promise<Resolution> {
  let hop: NextHop;
  try {
    hop = await nextHop(addr);
  } catch (e) {
    return { via: addr, problem: `no route (${(e as Error).message.split('\n')[0]})` };
  }
  if (hop.dev !== ifname) {
    return { via: hop.via, problem: `routed via ${hop.dev}, but xsk sends out of ${ifname}` };
  }
  let mac = await neighbourMac(hop.via, ifname);
  if (!mac && probeIfMissing) {
    await probe(hop.via, ifname);
    mac = await neighbourMac(hop.via, ifname);
  }
  return mac ? { mac, via: hop.via } : { via: hop.via, problem: `no neighbour entry for ${hop.via} on ${ifname} yet` };
}

export function interfaceMac(ifname: string): string {
  return readFileSync(`/sys/class/net/${ifname}/address`, 'utf8').trim().toLowerCase();
}
