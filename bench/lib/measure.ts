/**
 * Measuring one receiver in the sandbox: the generator (dist/gen.js, XDP live frames) pinned to
 * CPU 0 sends a fixed count; the receiver, pinned to CPU 1, is measured by what it counted and
 * by the CPU time (user + system) its process used while the generator ran.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Sandbox } from '../../src/sandbox/netns.js';

export const GEN_JS = fileURLToPath(new URL('../../dist/gen.js', import.meta.url));
const CLK_TCK = 100;

/** User + system CPU seconds of a process and all its threads. */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

export function pin(pid: number, cpu: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

export interface GenResult {
  sent: number;
  seconds: number;
  pps: number;
  frame_bytes: number;
}

/** Send `count` UDP frames from the generator namespace to dut:port, pinned to CPU 0. */
export function generate(sb: Sandbox, port: number, count: number, seconds = 10): GenResult {
  return JSON.parse(
    sb.exec(sb.gen, 'taskset', ['-c', '0', process.execPath, GEN_JS, '--iface', sb.genIf, '--dst-mac', sb.dutMac,
      '--src-mac', sb.genMac, '--src-ip', sb.genAddr, '--dst-ip', sb.dutAddr, '--dst-port', String(port),
      '--count', String(count), '--seconds', String(seconds)]),
  );
}

export interface CaseResult {
  /** Frames the receiver handled per second of generator time. */
  mpps: number;
  /** CPU ns the receiver spent per frame handled (it may busy-poll: idle time counts too). */
  cpuNsPerPacket: number;
  handled: number;
  sent: number;
  extra?: Record<string, unknown>;
}

/**
 * Pin the receiver to CPU 1 (every thread of it; `pinAll` false: leave its threads where it put
 * them, as xsk --cpus 1 does), run the generator, then ask `handled()` (which may stop the
 * receiver to read its summary) how many frames it dealt with.
 */
export async function measure(sb: Sandbox, receiverPid: number, port: number, count: number, handled: () => Promise<number>, pinAll = true): Promise<CaseResult> {
  if (pinAll) pin(receiverPid, 1);
  const cpu0 = cpuSeconds(receiverPid);
  const g = generate(sb, port, count);
  await new Promise((r) => setTimeout(r, 300));
  const cpu1 = cpuSeconds(receiverPid);
  const n = await handled();
  return { mpps: n / g.seconds / 1e6, cpuNsPerPacket: n > 0 ? ((cpu1 - cpu0) * 1e9) / n : 0, handled: n, sent: g.sent };
}
