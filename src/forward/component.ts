/**
 * The forwarder's lifecycle: build the table from the rules, learn each backend's next-hop MAC
 * (by hand, or from the kernel's routes and neighbour table over rtnetlink: neighbours.ts), keep
 * asking for the ones still missing, and reload everything from the config file on request
 * (SIGHUP) without touching the socket or the XDP program. Reports per-backend counts, drops by
 * reason and the partial UDP checksums completed.
 *
 * Counts: the stages count (the datapath threads' own, or this thread's in unit tests), and each
 * stage keeps its per-backend counts for its life across table swaps (ForwardStage.setTable):
 * monotonic, and adding up to `forwarded` at every moment.
 */
import type { Component } from '../pipeline/stage.js';
import type { Registry } from 'prom-client';
import { counterFrom, withLabels } from '../metrics/prom.js';
import type { Port } from '../port/port.js';
import { log } from '../log.js';
import { allPorts, mergeConfig, readConfig, type ForwardConfig } from './rules.js';
import { ForwardTable, macBytes, type BackendSlot } from './table.js';
import { ForwardStage } from './stage.js';
import { interfaceMac, NextHops, ROUTE_MAX_AGE_MS } from './neighbours.js';

export interface ForwardCounts {
  forwarded: number;
  /** Partial UDP checksums (a local sender's pseudo-header sum) completed before the rewrite. */
  checksumCompleted: number;
  perBackend: Record<string, number>;
  drops: Record<string, number>;
}

export interface ForwarderOptions {
  ifname: string;
  /** Rules and neighbours from the command line. */
  cli: ForwardConfig;
  configPath?: string;
  /** Ports from --port, received whatever the rules say. */
  basePorts: number[];
}

export class Forwarder implements Component {
  readonly name = 'forward';
  readonly stage: ForwardStage;
  private cfg: ForwardConfig;
  private refreshTimer?: NodeJS.Timeout;
  /**
   * Called whenever the table or a backend's MAC changes (reload, late resolution): the
   * multi-queue mode sends the new table to its workers.
   */
  onTableChange?: (table: ForwardTable) => void;
  /**
   * Where the forwarding counters are: the datapath threads count them, and the runner points
   * this at their snapshots, added up. Unset: this thread's own stage (unit tests).
   */
  counts?: () => ForwardCounts;
  private hops?: NextHops;
  /** How long a start or reload waits for prompted next hops to answer. */
  static settleMs = 500;

  constructor(private readonly o: ForwarderOptions) {
    this.cfg = mergeConfig(o.cli, o.configPath ? readConfig(o.configPath) : undefined);
    this.stage = new ForwardStage(new ForwardTable(this.cfg.rules), macBytes(interfaceMac(o.ifname)));
  }

  /** Every port to steer to userspace: --port, the config's ports, every frontend port. */
  ports(): number[] {
    return this.portsOf(this.cfg);
  }

  private portsOf(cfg: ForwardConfig): number[] {
    return [...new Set([...this.o.basePorts, ...allPorts(cfg)])].sort((a, b) => a - b);
  }

  private started = false;
  /** Called by the runner before the datapaths start, then as a Component: once is enough. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.resolveAll(this.stage.table, true);
    this.refreshTimer = setInterval(() => void this.refresh(), 1000);
    this.refreshTimer.unref();
  }

  /**
   * Learn MACs for the backends of `table` that don't have one: by hand (--neighbor), or from
   * the kernel (all of them in one go: routes, neighbour dumps); prompt the kernel for the next
   * hops it has no entry for and, when `settle`, wait up to settleMs for their answers.
   * Returns how many backends got a MAC.
   */
  private async resolveAll(table: ForwardTable, settle: boolean): Promise<number> {
    const t0 = performance.now();
    let got = 0;
    const wanted = new Map<string, BackendSlot[]>();
    for (const b of table.backends()) {
      if (b.resolved) continue;
      const manual = this.cfg.neighbors.get(b.addr);
      if (manual) {
        b.setMac(manual);
        got++;
      } else {
        const list = wanted.get(b.addr);
        if (list) list.push(b);
        else wanted.set(b.addr, [b]);
      }
    }
    if (wanted.size === 0) return got;
    this.hops ??= new NextHops(this.o.ifname);
    const addrs = [...wanted.keys()];
    // A start or reload asks for every route afresh; the retries reuse recent ones.
    let r = this.hops.resolve(addrs, this.hops.routes(addrs, settle ? 0 : ROUTE_MAX_AGE_MS));
    const hopCount = new Set([...r.results.values()].map((x) => x.via).filter((v) => v !== undefined)).size;
    let prompted = this.hops.prompt(r.unresolved);
    const deadline = performance.now() + Forwarder.settleMs;
    while (settle && prompted > 0 && r.unresolved.length > 0 && performance.now() < deadline) {
      await new Promise((res) => setTimeout(res, 20));
      const left = addrs.filter((a) => !r.results.get(a)!.mac);
      const again = this.hops.resolve(left, r.routes);
      for (const [a, res] of again.results) r.results.set(a, res);
      r = { ...r, unresolved: again.unresolved };
      if (again.unresolved.length < prompted) prompted = again.unresolved.length;
    }
    const problems: string[] = [];
    for (const [addr, res] of r.results) {
      for (const b of wanted.get(addr)!) {
        if (res.mac) {
          b.setMac(res.mac);
          got++;
        } else problems.push(`${b.name}: ${res.problem}`);
      }
    }
    const ms = (performance.now() - t0).toFixed(0);
    if (settle) {
      const n = table.backends().length;
      log.info(`forward: ${n} backend(s), ${addrs.length} address(es) to look up, ${hopCount} next hop(s): ${n - problems.length} resolved, ${problems.length} not, in ${ms} ms`);
      for (const p of problems.slice(0, 5)) log.warn(`forward: ${p}; its share is dropped until it resolves`);
      if (problems.length > 5) log.warn(`forward: ${problems.length - 5} more backend(s) not resolved yet (the same: their share is dropped until they resolve)`);
    } else if (got > 0) {
      const named = [...r.results].filter(([, x]) => x.mac).slice(0, 5).map(([a, x]) => `${a} (next hop ${x.via} is ${x.mac})`);
      log.info(`forward: ${got} more backend(s) resolved: ${named.join(', ')}${got > named.length ? ', ...' : ''}`);
    }
    return got;
  }

  private refreshing = false;
  private async refresh(): Promise<void> {
    if (this.refreshing || this.stage.table.backends().every((b) => b.resolved)) return;
    this.refreshing = true;
    try {
      const table = this.stage.table;
      if ((await this.resolveAll(table, false)) > 0 && table === this.stage.table) this.onTableChange?.(table);
    } catch (e) {
      log.warn(`forward: next-hop lookup failed: ${(e as Error).message}`);
    } finally {
      this.refreshing = false;
    }
  }

  /**
   * Re-read the config file and swap in the new table (the port set follows). On a bad file,
   * keep the running rules and say why.
   */
  async reload(port: Pick<Port, 'setPorts'> & { checkPorts?: (ports: number[]) => string | undefined }): Promise<boolean> {
    if (!this.o.configPath) {
      log.warn('reload: no --config file to re-read');
      return false;
    }
    let cfg: ForwardConfig;
    try {
      cfg = mergeConfig(this.o.cli, readConfig(this.o.configPath));
    } catch (e) {
      log.error(`reload: ${(e as Error).message}; keeping the running rules`);
      return false;
    }
    // A port set the datapath can't take (raw mode's filter size) is refused before anything
    // changes: the running rules stay.
    const nextPorts = this.portsOf(cfg);
    const problem = port.checkPorts?.(nextPorts);
    if (problem) {
      log.error(`reload: ${problem}; keeping the running rules`);
      return false;
    }
    const table = new ForwardTable(cfg.rules);
    // Backends that stay keep their MAC (a --neighbor given or changed by hand wins). Counts
    // stay with the stages, which keep them across swaps.
    const old = new Map(this.stage.table.backends().map((b) => [b.name, b]));
    for (const b of table.backends()) {
      const was = old.get(b.name);
      if (was?.resolved && !cfg.neighbors.has(b.addr)) b.mac.set(was.mac), (b.resolved = true);
    }
    this.cfg = cfg;
    try {
      await this.resolveAll(table, true);
    } catch (e) {
      log.warn(`reload: next-hop lookup failed (${(e as Error).message}); the new backends resolve later`);
    }
    this.stage.setTable(table);
    this.onTableChange?.(table);
    port.setPorts(this.ports());
    log.info(`reload: ${cfg.rules.length} forward rule(s), ports ${this.ports().join(',')}`);
    return true;
  }

  stop(): void {
    clearInterval(this.refreshTimer);
    this.hops?.close();
    this.hops = undefined;
  }

  private current(): ForwardCounts {
    if (this.counts) return this.counts();
    const s = this.stage;
    return {
      forwarded: s.forwarded,
      checksumCompleted: s.checksumCompleted,
      perBackend: s.perBackend(),
      drops: { ttl_expired: s.ttlExpired, unresolved: s.unresolved, family_mismatch: s.familyMismatch, bad_checksum: s.badChecksum },
    };
  }

  statsLine(): string {
    const c = this.current();
    const completed = c.checksumCompleted > 0 ? `, csum completed ${c.checksumCompleted}` : '';
    return `fwd ${c.forwarded}${completed} (drops: ttl ${c.drops.ttl_expired ?? 0}, unresolved ${c.drops.unresolved ?? 0}, bad csum ${c.drops.bad_checksum ?? 0})`;
  }

  metrics(reg: Registry, base: Record<string, string>): void {
    const labels = Object.keys(base);
    counterFrom(reg, 'xsk_forwarded_packets_total', 'Datagrams forwarded, per backend.', [...labels, 'backend'], () =>
      Object.entries(this.perBackend()).map(([backend, v]) => [withLabels(base, { backend }), v]),
    );
    counterFrom(reg, 'xsk_forward_dropped_total', 'Datagrams the forwarder dropped, by reason.', [...labels, 'reason'], () =>
      Object.entries(this.current().drops).map(([reason, v]) => [withLabels(base, { reason }), v]),
    );
    counterFrom(
      reg,
      'xsk_forward_checksum_completed_total',
      "Forwarded datagrams whose UDP checksum was partial (a local sender's pseudo-header sum) and was completed.",
      labels,
      () => [[withLabels(base), this.current().checksumCompleted]],
    );
  }

  private perBackend(): Record<string, number> {
    return this.current().perBackend;
  }

  summary(): Record<string, unknown> {
    const c = this.current();
    return { forward: { forwarded: c.forwarded, checksum_completed: c.checksumCompleted, per_backend: this.perBackend(), drops: c.drops } };
  }
}
