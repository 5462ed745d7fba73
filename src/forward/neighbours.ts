/**
 * Next-hop MAC addresses for backends, from the kernel's own tables, asked over rtnetlink in
 * this process (src/sys/netlink.ts), off the hot path:
 *
 *   1. the route to each distinct backend address (RTM_GETROUTE, as `ip route get`): its next
 *      hop (the backend itself, or a gateway) and device; a device other than xsk's is a problem;
 *   2. the neighbour table of each family needed (one RTM_GETNEIGH dump), for every next hop
 *      at once: many backends share a next hop (a gateway, or one host with several ports);
 *   3. next hops still without a usable entry are prompted (RTM_NEWNEIGH with NTF_USE: the
 *      kernel sends its ARP request / neighbour solicitation as if a packet waited), at most
 *      PROMPTS_PER_ROUND a call, each again only after a growing pause (1 s, 2 s, ... 32 s).
 *
 * 10,000 backends take tens of milliseconds (README, Forwarding).
 */
import { readFileSync } from 'node:fs';
import { if_nametoindex } from '../sys/libc.js';
import { parseAddress } from '../net/address.js';
import { AF_INET, AF_INET6, ifName, NUD_USABLE, RtNetlink, type Route } from '../sys/netlink.js';

/** At most this many next hops prompted per call (a neighbour table holds ~1024 by default). */
export const PROMPTS_PER_ROUND = 256;
const MAX_BACKOFF_MS = 32_000;
/** How long the retries for unresolved backends reuse a route before asking again. */
export const ROUTE_MAX_AGE_MS = 10_000;

export interface Resolution {
  mac?: string;
  /** The next hop (the backend, or its gateway); undefined when there is no route. */
  via?: string;
  /** Why there is no MAC, for the log. */
  problem?: string;
}

export class NextHops {
  private readonly nl = new RtNetlink();
  private readonly ifindex: number;
  /** Next hops prompted: when they may be prompted again, and the pause after that. */
  private readonly prompted = new Map<string, { next: number; pause: number }>();

  constructor(private readonly ifname: string) {
    this.ifindex = if_nametoindex(ifname);
    if (this.ifindex === 0) throw new Error(`no interface ${ifname}`);
  }

  close(): void {
    this.nl.close();
  }

  /** Routes looked up, by address, with when: the retries of unresolved ones reuse them. */
  private readonly routeCache = new Map<string, { route: Route | { problem: string }; at: number }>();

  /**
   * The route of each address (canonical text), by address: looked up now, or reused when
   * looked up less than `maxAgeMs` ago (retries; a start or reload asks afresh).
   */
  routes(addrs: string[], maxAgeMs = 0, now = Date.now()): Map<string, Route | { problem: string }> {
    const out = new Map<string, Route | { problem: string }>();
    const ask = maxAgeMs > 0 ? addrs.filter((a) => !(now - (this.routeCache.get(a)?.at ?? -Infinity) < maxAgeMs)) : addrs;
    const answers = this.nl.routeGet(ask.map((a) => parseAddress(a).bytes));
    ask.forEach((a, i) => {
      const r = answers[i];
      const route = 'problem' in r || r.ifindex === this.ifindex ? r : { problem: `routed via ${ifName(r.ifindex)}, but xsk sends out of ${this.ifname}` };
      this.routeCache.set(a, { route, at: now });
    });
    for (const a of addrs) out.set(a, this.routeCache.get(a)!.route);
    if (this.routeCache.size > 4 * addrs.length + 1024) {
      for (const [a, c] of this.routeCache) if (now - c.at >= ROUTE_MAX_AGE_MS) this.routeCache.delete(a);
    }
    return out;
  }

  /** Usable neighbour entries on xsk's interface, MAC by address, for the families asked. */
  macs(families: Set<4 | 6>): Map<string, string> {
    const out = new Map<string, string>();
    for (const f of families) {
      for (const n of this.nl.neighbours(f === 4 ? AF_INET : AF_INET6)) {
        if (n.ifindex === this.ifindex && n.mac && (n.state & NUD_USABLE) !== 0 && n.mac !== '00:00:00:00:00:00') out.set(n.addr, n.mac);
      }
    }
    return out;
  }

  /**
   * Resolve many addresses at once: routes, one neighbour dump per family. `routes` may be
   * given (from an earlier call) to read the neighbour table again only.
   */
  resolve(addrs: string[], routes = this.routes(addrs)): { results: Map<string, Resolution>; unresolved: string[]; routes: typeof routes } {
    const families = new Set<4 | 6>();
    for (const r of routes.values()) if (!('problem' in r)) families.add(r.viaFamily);
    const macs = families.size > 0 ? this.macs(families) : new Map<string, string>();
    const results = new Map<string, Resolution>();
    const unresolved = new Set<string>();
    for (const a of addrs) {
      const r = routes.get(a)!;
      if ('problem' in r) {
        results.set(a, { problem: r.problem });
        continue;
      }
      const mac = macs.get(r.via);
      if (mac) {
        results.set(a, { mac, via: r.via });
        this.prompted.delete(r.via);
      } else {
        results.set(a, { via: r.via, problem: `no neighbour entry for ${r.via} on ${this.ifname} yet` });
        unresolved.add(r.via);
      }
    }
    return { results, unresolved: [...unresolved], routes };
  }

  /**
   * Ask the kernel to resolve these next hops, those whose pause is over, at most
   * PROMPTS_PER_ROUND of them; returns how many were asked.
   */
  prompt(hops: string[], now = Date.now()): number {
    const due = hops.filter((h) => (this.prompted.get(h)?.next ?? 0) <= now).slice(0, PROMPTS_PER_ROUND);
    if (due.length === 0) return 0;
    this.nl.neighbourUse(
      due.map((h) => parseAddress(h).bytes),
      this.ifindex,
    );
    for (const h of due) {
      const pause = Math.min(MAX_BACKOFF_MS, (this.prompted.get(h)?.pause ?? 500) * 2);
      this.prompted.set(h, { next: now + pause, pause });
    }
    return due.length;
  }
}

export function interfaceMac(ifname: string): string {
  return readFileSync(`/sys/class/net/${ifname}/address`, 'utf8').trim().toLowerCase();
}
