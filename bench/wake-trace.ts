/**
 * The wake path, traced: how many times the kernel wakes one of the receiver's threads for each
 * datagram that arrives while it is parked, and which threads. ftrace's sched:sched_wakeup
 * events (/sys/kernel/tracing) are recorded while sparse traffic (10 datagrams/s by default,
 * each one alone: the receiver parks between them) reaches the receiver; each given xsk build
 * is measured in turn in one sandbox. A receiver that parks on a koffi helper thread (poll()
 * there, then the event loop woken) takes two wakeups a datagram; one that parks in poll() on
 * its own thread takes one.
 *   sudo node --import tsx bench/wake-trace.ts [--xsk dist/xsk.js,/path/to/other/xsk.js] [--count 30] [--rate 10]
 */
import { parseArgs } from 'node:util';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../src/sandbox/netns.js';
import { mountTracefs, TRACEFS as T, traceWrite as w } from './lib/tracefs.js';
import { XSK_JS } from '../src/sandbox/xsk-process.js';

const { values } = parseArgs({ options: { xsk: { type: 'string', default: XSK_JS }, count: { type: 'string', default: '30' }, rate: { type: 'string', default: '10' } } });
const MOLD_SEND = fileURLToPath(new URL('../build/bench/mold_send', import.meta.url));
const count = Number(values.count);
const rate = Number(values.rate);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// tracefs is not always mounted: mount it for the run, and take it away again after.
const unmount = mountTracefs();
const sb = new Sandbox({ name: 'xsk-wake' });
try {
  for (const xsk of values.xsk!.split(',')) {
    const child = sb.spawn(sb.dut, process.execPath, [xsk, '--iface', sb.dutIf, '--port', '9000', '--mode', 'native', '--stats-interval', '0']);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    while (!err.includes('xsk up')) {
      if (child.exitCode !== null) throw new Error(err);
      await sleep(20);
    }
    await sleep(1500);
    const pid = child.pid!;
    const tids = new Map(readdirSync(`/proc/${pid}/task`).map((t) => [Number(t), readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim()]));
    w('trace', '');
    w('events/sched/sched_wakeup/filter', [...tids.keys()].map((t) => `pid == ${t}`).join(' || '));
    w('events/sched/sched_wakeup/enable', '1');
    w('tracing_on', '1');
    sb.exec(sb.gen, MOLD_SEND, ['--to', sb.dutAddr, '--port', '9000', '--count', String(count), '--messages', '1', '--size', '16', '--rate', String(rate), '--seconds', String(Math.ceil(count / rate) + 5)]);
    await sleep(300);
    w('tracing_on', '0');
    w('events/sched/sched_wakeup/enable', '0');
    w('events/sched/sched_wakeup/filter', '0');
    const lines = readFileSync(`${T}/trace`, 'utf8').split('\n').filter((l) => l.includes('sched_wakeup'));
    const byThread = new Map<string, number>();
    for (const l of lines) {
      const m = /pid=(\d+)/.exec(l);
      if (!m) continue;
      const name = `${tids.get(Number(m[1])) ?? '?'}(${m[1]})`;
      byThread.set(name, (byThread.get(name) ?? 0) + 1);
    }
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    const s = JSON.parse(out.trim().split('\n').pop()!);
    console.log(
      JSON.stringify({
        xsk,
        datagrams: count,
        received: s.rx_packets,
        wakeups: lines.length,
        per_datagram: Math.round((lines.length / count) * 100) / 100,
        by_thread: Object.fromEntries(byThread),
        rx_to_user_us: { p50: s.latency?.rx_to_user?.p50_us, p99: s.latency?.rx_to_user?.p99_us },
      }),
    );
  }
} finally {
  w('tracing_on', '0');
  sb.destroy();
  unmount();
}
