/**
 * The gRPC feed's speed on the veth sandbox: xsk (native XDP, pinned to CPU 1) decodes
 * MoldUDP64 from mold-send (gen namespace) and serves one local subscriber, dist/feed-client.js
 * (dut namespace; sender and subscriber pinned to CPU 0).
 *  - throughput: mold-send offers --offered messages/s (50 messages of 16 bytes a packet) for
 *    --seconds; the subscriber's rate while traffic flows, and what it missed (skipped);
 *  - latency at --rate messages/s (10 a packet, each stamped with its send time): send →
 *    subscriber (wire_us: through the sender's kernel, veth, XDP, xsk, gRPC, the client's
 *    decoding) and xsk's receive stamp → subscriber (lag_us), HDR percentiles.
 *   sudo node --import tsx bench/feed.ts [--runs 3] [--seconds 5] [--rate 100000] [--offered 2000000]
 * Bounded: every process has a time limit; the whole run takes about runs × 2 × (seconds + 3) s.
 */
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../src/sandbox/netns.js';
import { XskProcess } from '../src/sandbox/xsk-process.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    rate: { type: 'string', default: '100000' },
    offered: { type: 'string', default: '2000000' },
  },
});
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const offered = Number(values.offered);
const CLIENT = fileURLToPath(new URL('../dist/feed-client.js', import.meta.url));
const MOLD_SEND = fileURLToPath(new URL('../dist/sandbox/mold-send.js', import.meta.url));
const GRPC = '127.0.0.1:50599';

function spawnJson(sb: Sandbox, ns: string, cpu: number, args: string[]): Promise<Record<string, any>> {
  const child = sb.spawn(ns, 'taskset', ['-c', String(cpu), process.execPath, ...args]);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`${args[0]} exited ${code} without JSON: ${err}`));
      }
    }),
  );
}

async function once(sb: Sandbox, kind: 'throughput' | 'latency') {
  const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000', '--mode', 'native', '--decode', '9000=moldudp64', '--grpc', GRPC, '--stats-interval', '0']);
  await xsk.up();
  execFileSync('taskset', ['-a', '-p', '-c', '1', String(xsk.child.pid)], { stdio: 'ignore' });
  const perPacket = kind === 'throughput' ? 50 : 10;
  const msgRate = kind === 'throughput' ? offered : rate;
  const packets = Math.round((msgRate / perPacket) * seconds);
  const client = spawnJson(sb, sb.dut, 0, [CLIENT, '--addr', GRPC, '--seconds', String(seconds + 4), '--count', String(packets * perPacket), '--stamps', '--max-batch', '1024']);
  await new Promise((r) => setTimeout(r, 1000));
  const sent = await spawnJson(sb, sb.gen, 0, [MOLD_SEND, '--to', sb.dutAddr, '--port', '9000', '--count', String(packets), '--messages', String(perPacket),
    '--size', '16', '--rate', String(msgRate / perPacket), '--seconds', String(seconds + 2), ...(kind === 'latency' ? ['--stamp'] : [])]);
  const c = await client;
  xsk.signal('SIGTERM');
  await xsk.exit();
  const s = xsk.summary();
  return { kind, sent_messages: sent.messages, sent_rate: sent.messages / sent.seconds, feed_messages: s.feed.messages, client: c, kernel_drops: (s.xdp_stats.rx_ring_full ?? 0) + (s.xdp_stats.rx_dropped ?? 0) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sb = new Sandbox({ name: 'xsk-fbench' });
try {
  const tp: number[] = [];
  const p99: number[] = [];
  const p50: number[] = [];
  const lag99: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = await once(sb, 'throughput');
    tp.push(t.client.active_rate);
    console.log(
      `throughput: offered ${(t.sent_rate / 1e6).toFixed(2)} M msg/s (${t.sent_messages}), feed took ${t.feed_messages}, subscriber got ${t.client.messages} at ${(t.client.active_rate / 1e6).toFixed(2)} M msg/s, skipped ${t.client.skipped}, kernel drops ${t.kernel_drops}`,
    );
    const l = await once(sb, 'latency');
    p50.push(l.client.wire_us?.p50 ?? NaN);
    p99.push(l.client.wire_us?.p99 ?? NaN);
    lag99.push(l.client.lag_us?.p99 ?? NaN);
    console.log(
      `latency at ${(l.sent_rate / 1e3).toFixed(0)} k msg/s: got ${l.client.messages}/${l.sent_messages}, skipped ${l.client.skipped}; send→subscriber µs ${JSON.stringify(l.client.wire_us)}; xsk rx→subscriber µs ${JSON.stringify(l.client.lag_us)}`,
    );
  }
  const result = { bench: 'feed', runs, seconds, rate, offered, throughput_msgs_per_s: median(tp), latency_p50_us: median(p50), latency_p99_us: median(p99), rx_to_subscriber_p99_us: median(lag99) };
  console.log(JSON.stringify(result));
} finally {
  sb.destroy();
}
