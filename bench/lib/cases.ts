/**
 * The benchmark cases, each measured the same way (lib/measure.ts). A case gets the sandbox and
 * the frame count and returns its CaseResult. Forwarded frames go back to the generator's veth,
 * where bpf/xsk_sink.c drops them at the driver, so no receiving stack is charged to anyone.
 */
import type { Sandbox } from '../../src/sandbox/netns.js';
import { XskProcess, startSink } from '../../src/sandbox/xsk-process.js';
import { measure, type CaseResult } from './measure.js';
import { C_CASES } from '../c/ref.js';

export type Case = (sb: Sandbox, count: number) => Promise<CaseResult>;

/**
 * Run xsk with `args` under the generator; `pick` says from its summary what it handled. Every
 * thread of xsk goes on CPU 1, the receiver's CPU, unless `args` has --cpus: then xsk pins its
 * datapath thread there itself and keeps its other threads (main, V8's helpers) off it.
 */
export async function xsk(sb: Sandbox, count: number, args: string[], pick: (s: Record<string, any>) => number): Promise<CaseResult> {
  const x = new XskProcess(sb, ['--iface', sb.dutIf, '--stats-interval', '0', ...args]);
  await x.up();
  const r = await measure(sb, x.child.pid!, 9000, count, async () => {
    x.signal('SIGTERM');
    await x.exit();
    return pick(x.summary());
  }, !args.includes('--cpus'));
  const s = x.summary();
  r.extra = {
    kernel_drops: (s.xdp_stats?.rx_ring_full ?? 0) + (s.xdp_stats?.rx_dropped ?? 0) + (s.raw_stats?.rx_dropped ?? 0),
    tx_ring_full: s.tx_drops?.ring_full,
    runtime: s.datapath?.runtime ?? s.runtime,
    loop: s.datapath?.loop,
  };
  return r;
}

export const CASES: Record<string, Case> = {
  'xsk rx native': (sb, n) => xsk(sb, n, ['--port', '9000', '--mode', 'native'], (s) => s.rx_packets),
  'xsk rx native no-latency': (sb, n) => xsk(sb, n, ['--port', '9000', '--mode', 'native', '--no-latency'], (s) => s.rx_packets),
  // The same with the datapath thread alone on CPU 1, as C's one thread is (the control plane
  // and V8's helpers on CPU 0, with the generator): how xsk is meant to be deployed.
  'xsk rx native cpus1': (sb, n) => xsk(sb, n, ['--port', '9000', '--mode', 'native', '--cpus', '1'], (s) => s.rx_packets),
  'xsk rx native no-latency cpus1': (sb, n) => xsk(sb, n, ['--port', '9000', '--mode', 'native', '--no-latency', '--cpus', '1'], (s) => s.rx_packets),
  'C rxdrop native': C_CASES['C rxdrop native'],
  'C minimal native': C_CASES['C minimal native'],
  'xsk rx generic': (sb, n) => xsk(sb, n, ['--port', '9000', '--mode', 'generic'], (s) => s.rx_packets),
  'C rxdrop generic': C_CASES['C rxdrop generic'],
  'xsk forward native': (sb, n) =>
    xsk(sb, n, ['--forward', `9000=${sb.genAddr}:9001`, '--neighbor', `${sb.genAddr}=${sb.genMac}`, '--mode', 'native'], (s) => s.tx_packets),
  'C l2fwd native': C_CASES['C l2fwd native'],
  'xsk raw rx': (sb, n) => xsk(sb, n, ['--port', '9000', '--mode', 'raw'], (s) => s.rx_packets),
  'node dgram rx': async (sb, n) => {
    const sink = startSink(sb, sb.dut, 9000, 4, 60);
    await sink.ready;
    return measure(sb, sink.pid, 9000, n, async () => (await sink.stop()).received);
  },
};
