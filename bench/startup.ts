/**
 * Issue 14: how long xsk takes to come up (and to reload) with many forwarding backends.
 *
 * One sandbox (src/sandbox/netns.ts, 3 backend namespaces on a bridge). In xsk's namespace two
 * routes make any number of distinct backend addresses out of few hosts:
 *   - resolved:   10.200.0.0/16 via 10.199.0.11 (backend b1 is the gateway): every address has a
 *                 route, and all of them share one next hop, which answers ARP;
 *   - unresolved: 10.201.0.0/16 dev dut0 (on-link): every address is its own next hop, and
 *                 nobody answers: xsk finds no neighbour entry and prompts the kernel for each.
 * For each case and each N (--counts, default 1000,10000): a config with N backends on one
 * frontend port (N distinct addresses), xsk started on it (--mode native), timed from spawn to
 * its "xsk up" line; its CPU time then (of the xsk process and its waited-for children, /proc/PID/stat); then
 * a SIGHUP with the same file and the time to its "reload:" line; then SIGTERM. Each start is
 * bounded by --timeout seconds (default 90): a start that takes longer is reported as such.
 * The datagrams never go anywhere: nothing is sent. xsk's own warm start is part of "up"; the
 * 1-backend row shows that part alone.
 *   sudo node --import tsx bench/startup.ts [--counts 1,1000,10000] [--cases resolved,unresolved] [--timeout 90]
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandbox } from '../src/sandbox/netns.js';
import { XskProcess } from '../src/sandbox/xsk-process.js';

const { values } = parseArgs({
  options: {
    counts: { type: 'string', default: '1,1000,10000' },
    cases: { type: 'string', default: 'resolved,unresolved' },
    timeout: { type: 'string', default: '90' },
  },
});
const counts = values.counts.split(',').map(Number);
const cases = values.cases.split(',') as ('resolved' | 'unresolved')[];
const timeoutMs = Number(values.timeout) * 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const sb = new Sandbox({ name: 'xsk-start', backends: 3 });
const dir = mkdtempSync(join(tmpdir(), 'xsk-startup-'));
sb.exec(sb.dut, 'ip', ['route', 'add', '10.200.0.0/16', 'via', sb.backends[0].addr, 'dev', sb.dutIf]);
sb.exec(sb.dut, 'ip', ['route', 'add', '10.201.0.0/16', 'dev', sb.dutIf]);

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime, stime, cutime, cstime (fields 14-17, in clock ticks): xsk's own and its children's.
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
}

async function waitFor(x: XskProcess, what: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!x.stderr.includes(what)) {
    if (x.child.exitCode !== null || Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

const rows: Record<string, unknown>[] = [];
try {
  for (const kind of cases) {
    for (const n of counts) {
      const net = kind === 'resolved' ? 200 : 201;
      const backends = Array.from({ length: n }, (_, i) => `10.${net}.${(i >> 8) & 0xff}.${(i & 0xff) + 0}:9001`);
      const cfg = join(dir, `rules-${kind}-${n}.json`);
      writeFileSync(cfg, JSON.stringify({ forward: { 9000: backends } }));
      sb.exec(sb.dut, 'ip', ['neigh', 'flush', 'dev', sb.dutIf, 'nud', 'failed']);
      const t0 = performance.now();
      const x = new XskProcess(sb, ['--iface', sb.dutIf, '--config', cfg, '--mode', 'native', '--stats-interval', '0']);
      const up = await waitFor(x, 'xsk up', timeoutMs);
      const upMs = performance.now() - t0;
      const cpu = x.child.exitCode === null ? cpuSeconds(x.child.pid!) : NaN;
      let reloadMs: number | undefined;
      if (up) {
        const t1 = performance.now();
        x.signal('SIGHUP');
        reloadMs = (await waitFor(x, 'reload:', timeoutMs)) ? performance.now() - t1 : undefined;
      }
      x.signal('SIGTERM');
      await x.exit(30000).catch(() => undefined);
      const resolved = /forward: ([^"]*next hop[^"]*)/.exec(x.stderr)?.[1];
      const row = { case: kind, backends: n, up: up ? `${(upMs / 1000).toFixed(2)} s` : `not up after ${(upMs / 1000).toFixed(0)} s`,
        cpu_s: cpu.toFixed(2), reload: reloadMs === undefined ? '-' : `${(reloadMs / 1000).toFixed(2)} s`, resolution: resolved ?? '' };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
} finally {
  sb.destroy();
  rmSync(dir, { recursive: true, force: true });
}
console.table(rows);
