/**
 * The forwarder's lifecycle: build the table from the rules, learn each backend's next-hop MAC
 * (by hand, or from the kernel's neighbour table), keep asking for the ones still missing, and
 * reload everything from the config file on request (SIGHUP) without touching the socket or the
 * XDP program. Reports per-backend counts, drops by reason and the partial UDP checksums completed.
 */
import type { Component } from '../pipeline/stage.js';
import type { Registry } from 'prom-client';
import { counterFrom } from '../metrics/prom.js';
import type { Port } from '../port/port.js';
import { log } from '../log.js';
import { allPorts, mergeConfig, readConfig, type ForwardConfig } from './rules.js';
import { ForwardTable, macBytes } from './table.js';
import { ForwardStage } from './stage.js';
import { interfaceMac, resolve } from './neighbours.js';

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
  /** Forwarded counts of backends no longer in the table (after a reload), by name. */
  private readonly retired = new Map<string, number>();

  constructor(private readonly o: ForwarderOptions) {
    this.cfg = mergeConfig(o.cli, o.configPath ? readConfig(o.configPath) : undefined);
    this.stage = new ForwardStage(new ForwardTable(this.cfg.rules), macBytes(interfaceMac(o.ifname)));
  }

  /** Every port to steer to userspace: --port, the config's ports, every frontend port. */
  ports(): number[] {
    return [...new Set([...this.o.basePorts, ...allPorts(this.cfg)])].sort((a, b) => a - b);
  }

  async start(): Promise<void> {
    await this.resolveAll(this.stage.table, true);
    this.refreshTimer = setInterval(() => void this.refresh(), 1000);
    this.refreshTimer.unref();
  }

  /** Learn MACs for the backends of `table` that don't have one. */
  private async resolveAll(table: ForwardTable, first: boolean): Promise<void> {
    await Promise.all(
      table.backends().map(async (b) => {
        if (b.resolved) return;
        const manual = this.cfg.neighbors.get(b.addr);
        if (manual) return b.setMac(manual);
        const r = await resolve(b.addr, this.o.ifname, true);
        if (r.mac) {
          b.setMac(r.mac);
          if (!first) this.onTableChange?.(this.stage.table);
          if (!first) log.info(`forward: ${b.name} resolved (next hop ${r.via} is ${r.mac})`);
        } else if (first) {
          log.warn(`forward: ${b.name}: ${r.problem}; its share is dropped until it resolves`);
        }
      }),
    );
  }

  private refreshing = false;
  private async refresh(): Promise<void> {
    if (this.refreshing || this.stage.table.backends().every((b) => b.resolved)) return;
    this.refreshing = true;
    try {
      await this.resolveAll(this.stage.table, false);
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
    const nextPorts = [...new Set([...this.o.basePorts, ...allPorts(cfg)])].sort((a, b) => a - b);
    const problem = port.checkPorts?.(nextPorts);
    if (problem) {
      log.error(`reload: ${problem}; keeping the running rules`);
      return false;
    }
    const table = new ForwardTable(cfg.rules);
    // Backends that stay keep their MAC and their count.
    const old = new Map(this.stage.table.backends().map((b) => [b.name, b]));
    for (const b of table.backends()) {
      const was = old.get(b.name);
      if (was) {
        b.forwarded = was.forwarded;
        if (was.resolved) b.mac.set(was.mac), (b.resolved = true);
        old.delete(b.name);
      }
    }
    for (const [name, b] of old) this.retired.set(name, (this.retired.get(name) ?? 0) + b.forwarded);
    this.cfg = cfg;
    await this.resolveAll(table, true);
    this.stage.table = table;
    this.onTableChange?.(table);
    port.setPorts(this.ports());
    log.info(`reload: ${cfg.rules.length} forward rule(s), ports ${this.ports().join(',')}`);
    return true;
  }

  stop(): void {
    clearInterval(this.refreshTimer);
  }

  private current(): ForwardCounts {
    if (this.counts) return this.counts();
    const s = this.stage;
    return {
      forwarded: s.forwarded,
      checksumCompleted: s.checksumCompleted,
      perBackend: Object.fromEntries(s.table.backends().map((b) => [b.name, b.forwarded])),
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
      Object.entries(this.perBackend()).map(([backend, v]) => [{ ...base, backend }, v]),
    );
    counterFrom(reg, 'xsk_forward_dropped_total', 'Datagrams the forwarder dropped, by reason.', [...labels, 'reason'], () =>
      Object.entries(this.current().drops).map(([reason, v]) => [{ ...base, reason }, v]),
    );
    counterFrom(
      reg,
      'xsk_forward_checksum_completed_total',
      "Forwarded datagrams whose UDP checksum was partial (a local sender's pseudo-header sum) and was completed.",
      labels,
      () => [[{ ...base }, this.current().checksumCompleted]],
    );
  }

  private perBackend(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries(this.retired);
    for (const [name, v] of Object.entries(this.current().perBackend)) out[name] = v;
    return out;
  }

  summary(): Record<string, unknown> {
    const c = this.current();
    return { forward: { forwarded: c.forwarded, checksum_completed: c.checksumCompleted, per_backend: this.perBackend(), drops: c.drops } };
  }
}
