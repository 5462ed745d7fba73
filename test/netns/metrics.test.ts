/**
 * /metrics and latency, end to end: counters on the endpoint equal the traffic sent, promtool
 * accepts the output, and the XDP program's sample of frames (1 in 64 by default, counted per
 * CPU: the sender is pinned to one) gives one latency sample each, within the test's duration.
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Sandbox } from '../../src/sandbox/netns.js';
import { XskProcess, runTool, startSink, stopLeftoverXsks } from '../../src/sandbox/xsk-process.js';
import { DEFAULT_LATENCY_SAMPLE, stampedOf } from '../../src/xdp/meta.js';

// An xsk left running by a failed assertion would hold the interface for every later test.
afterEach(stopLeftoverXsks);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** GET a URL from inside a namespace (the endpoint listens on that namespace's loopback). */
function scrape(sb: Sandbox, url: string): string {
  return sb.exec(sb.dut, process.execPath, ['-e', `fetch(${JSON.stringify(url)}).then(r => r.text()).then(t => process.stdout.write(t))`]);
}

/** The value of one sample line, matched by metric name and label subset. */
function sample(body: string, name: string, labels: Record<string, string> = {}): number {
  const rows = body.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  const row = rows.find((l) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  assert.ok(row, `${name} ${JSON.stringify(labels)} not in:\n${rows.join('\n')}`);
  return Number(row.split(' ').pop());
}

for (const mode of ['native', 'generic'] as const) {
  describe(`metrics and latency, ${mode} mode`, () => {
    let sb: Sandbox;
    before(() => {
      sb = new Sandbox({ name: `xskm-${mode.slice(0, 3)}`, backends: 1 });
    });
    after(() => sb.destroy());

    it('serves counters equal to the traffic sent, in a format promtool accepts', async () => {
      const b = sb.backends[0];
      const sink = startSink(sb, b.ns, 9101);
      await sink.ready;
      const started = Date.now();
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000', '--forward', `9100=${b.addr}:9101`, '--mode', mode, '--metrics', '127.0.0.1:9464']);
      await xsk.up();
      await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9000', '--count', '1500'], { cpu: 0 });
      await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9100', '--count', '300'], { cpu: 0 });
      // Stamped: frames 0, 64, 128, ... of the 1,800 (29); of the last 300 (forwarded), 5.
      const userSamples = stampedOf(1800, DEFAULT_LATENCY_SAMPLE);
      const txSamples = userSamples - stampedOf(1500, DEFAULT_LATENCY_SAMPLE);
      assert.deepEqual([userSamples, txSamples], [29, 5]);
      await sleep(300);
      const body = scrape(sb, 'http://127.0.0.1:9464/metrics');
      const base = { iface: sb.dutIf, queue: '0', mode };
      assert.equal(sample(body, 'xsk_rx_packets_total', base), 1800);
      assert.equal(sample(body, 'xsk_rx_datagrams_total', base), 1800);
      assert.equal(sample(body, 'xsk_invalid_frames_total', { ...base, reason: 'not_udp' }), 0);
      assert.equal(sample(body, 'xsk_forwarded_packets_total', { backend: `9100->${b.addr}:9101` }), 300);
      assert.equal(sample(body, 'xsk_tx_packets_total', base), 300);
      assert.equal(sample(body, 'xsk_xdp_program_frames_total', { counter: 'redirected' }), 1800);
      assert.equal(sample(body, 'xsk_kernel_statistics_total', { counter: 'rx_ring_full' }), 0);
      assert.ok(sample(body, 'xsk_ring_entries', { ring: 'fill' }) > 0);
      // Every stamp the program made is read (its own count; 29 when it ran on CPU 0 alone).
      const stamped = sample(body, 'xsk_xdp_program_frames_total', { counter: 'stamped' });
      assert.ok(stamped >= userSamples, String(stamped));
      assert.equal(sample(body, 'xsk_latency_samples_total', { kind: 'rx_to_user' }), stamped);
      // The program stamps 1 in 64 of each CPU's frames. With every frame on one CPU that is
      // frames 0, 64, ... (5 of the forwarded 300); when the veth's NAPI ran some of them on the
      // other CPU (a kernel frame from there had scheduled it; seen once in CI: 4), the other
      // CPU's count starts a sequence of its own and the forwarded ones' share moves by a stamp
      // or two. The summary must agree exactly (below).
      const txSeen = sample(body, 'xsk_latency_samples_total', { kind: 'rx_to_tx' });
      assert.ok(txSeen >= 1 && Math.abs(txSeen - txSamples) <= 2, `rx_to_tx samples ${txSeen} (${txSamples} on one CPU), stamped ${stamped}`);
      assert.ok(sample(body, 'xsk_latency_seconds', { kind: 'rx_to_user', percentile: 'p99' }) > 0);
      assert.ok(sample(body, 'process_cpu_seconds_total') > 0, 'default process metrics');
      const check = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
      assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);

      xsk.signal('SIGTERM');
      assert.equal(await xsk.exit(), 0);
      const elapsedUs = (Date.now() - started) * 1000;
      assert.equal((await sink.stop()).received, 300);
      const s = xsk.summary();
      assert.equal(s.latency.source, 'kernel');
      assert.equal(s.latency.sampled, '1/64');
      for (const kind of ['rx_to_user', 'rx_to_tx'] as const) {
        const l = s.latency[kind];
        assert.equal(l.count, kind === 'rx_to_user' ? s.xdp_program.stamped : txSeen, `${kind} samples: ${JSON.stringify(l)}`);
        for (const q of ['p50_us', 'p90_us', 'p99_us', 'p99.9_us', 'max_us']) {
          assert.ok(l[q] >= 0 && l[q] < elapsedUs, `${kind} ${q} = ${l[q]} µs, within the test's ${elapsedUs} µs`);
        }
        assert.ok(l.p50_us <= l.p99_us && l.p99_us <= l.max_us, JSON.stringify(l));
      }
      assert.equal(s.xdp_program.meta_failed, 0);
    });
  });
}

describe('metrics with one queue and with --queues', () => {
  let sb: Sandbox;
  before(() => {
    sb = new Sandbox({ name: 'xskm-q', rxQueues: 2, txQueues: 2, backends: 1 });
  });
  after(() => sb.destroy());

  /** Every metric name /metrics declares (its # TYPE lines), after some traffic. */
  async function names(queueArgs: string[]): Promise<Set<string>> {
    const b = sb.backends[0];
    const xsk = new XskProcess(sb, [
      '--iface', sb.dutIf, '--port', '9000', '--forward', `9100=${b.addr}:9101`, '--mode', 'native',
      '--metrics', '127.0.0.1:9465', '--grpc', '127.0.0.1:50571', ...queueArgs,
    ]);
    await xsk.up();
    await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9000', '--count', '200', '--sockets', '8']);
    const body = scrape(sb, 'http://127.0.0.1:9465/metrics');
    xsk.signal('SIGTERM');
    assert.equal(await xsk.exit(), 0, xsk.stderr);
    return new Set([...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  }

  it('carries the same series names either way (forward drops and runtime included)', async () => {
    const single = await names(['--queue', '0']);
    const multi = await names(['--queues', 'all']);
    for (const n of ['xsk_forward_dropped_total', 'xsk_forwarded_packets_total', 'xsk_datapath_gc_total', 'xsk_feed_messages_total', 'xsk_latency_seconds']) {
      assert.ok(single.has(n), `${n} with one queue`);
    }
    assert.deepEqual([...multi].sort(), [...single].sort());
  });
});
