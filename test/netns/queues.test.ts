/** A veth with several RX queues: xsk binds one and says that it does not see the others. */
import { describe, it, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from '../../src/sandbox/netns.js';
import { XskProcess, runTool, startSink, stopLeftoverXsks } from '../../src/sandbox/xsk-process.js';
import { DEFAULT_LATENCY_SAMPLE, stampedOf } from '../../src/xdp/meta.js';
import { readdirSync, readFileSync } from 'node:fs';

// An xsk left running by a failed assertion would hold the interface for every later test.
afterEach(stopLeftoverXsks);

describe('an interface with more RX queues than xsk binds', () => {
  const sb = new Sandbox({ name: 'xskt-q', rxQueues: 2, txQueues: 2 });
  after(() => sb.destroy());

  it('warns about the unbound queues and still runs', async () => {
    const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000', '--queue', '1', '--duration', '0.5']);
    assert.equal(await xsk.exit(), 0, xsk.stderr);
    assert.match(xsk.stderr, /dut0 has 2 RX queues and xsk binds only queue 1/);
    assert.equal(xsk.summary().queue, 1);
  });

  it('rejects a queue the interface does not have, naming --queue', async () => {
    const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000', '--queue', '2']);
    assert.notEqual(await xsk.exit(), 0);
    assert.match(xsk.stderr, /--queue: dut0 has 2 RX queue\(s\), no queue 2/);
  });
});

for (const mode of ['native', 'generic'] as const) {
  describe(`every queue, one worker thread each, ${mode} mode`, () => {
    const sb = new Sandbox({ name: `xskt-mq${mode.slice(0, 1)}`, rxQueues: 2, txQueues: 2, backends: 2 });
    after(() => sb.destroy());
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    it('receives on every queue, and the total is what was sent', async () => {
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000', '--queues', 'all', '--mode', mode]);
      await xsk.up();
      assert.doesNotMatch(xsk.stderr, /binds only/, 'no warning: every queue is bound');
      // Many source ports: many flows, spread over gen0's TX queues and so over dut0's RX queues.
      // Pinned: every frame's XDP program runs on CPU 0, so its per-CPU sampling is exact.
      const sent = await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9000', '--count', '4000', '--sockets', '32'], { cpu: 0 });
      assert.equal(sent.sent, 4000);
      await sleep(700);
      xsk.signal('SIGTERM');
      assert.equal(await xsk.exit(), 0, xsk.stderr);
      const s = xsk.summary();
      assert.deepEqual(s.queues, [0, 1]);
      assert.equal(s.rx_packets, 4000);
      assert.equal(s.per_queue.length, 2);
      // veth hands generic XDP every frame as queue 0's (it records the RX queue only on the
      // native-XDP path), so the spread over queues is checked in native mode.
      if (mode === 'native') {
        for (const q of s.per_queue) assert.ok(q.rx_packets > 0, `queue ${q.queue} received some: ${JSON.stringify(s.per_queue)}`);
      }
      assert.equal(s.per_queue[0].rx_packets + s.per_queue[1].rx_packets, 4000);
      // The stamp is on 1 frame in 64 of each CPU's redirects, over both queues: frames 0, 64,
      // ..., 3968 when the XDP program ran on CPU 0 only (the sender's); a NAPI poll that a
      // datapath thread's wakeup ran on CPU 1 starts that CPU's count too. Every stamp made is
      // read, exactly (the program's own count of them).
      assert.equal(s.latency.rx_to_user.count, s.xdp_program.stamped, JSON.stringify(s.xdp_program));
      assert.ok(s.latency.rx_to_user.count >= stampedOf(4000, DEFAULT_LATENCY_SAMPLE));
      assert.equal(s.latency.sampled, '1/64');
      assert.equal(sb.xdpOn(sb.dut, sb.dutIf), '');
    });

    it('forwards from every queue, round-robin per queue, nothing lost', async () => {
      const sinks = sb.backends.map((b) => startSink(sb, b.ns, 9001));
      await Promise.all(sinks.map((k) => k.ready));
      const rule = `9000=${sb.backends.map((b) => `${b.addr}:9001`).join(',')}`;
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--forward', rule, '--queues', '0-1', '--mode', mode]);
      await xsk.up();
      await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9000', '--count', '2000', '--sockets', '32']);
      await sleep(700);
      xsk.signal('SIGTERM');
      assert.equal(await xsk.exit(), 0, xsk.stderr);
      const got = await Promise.all(sinks.map((k) => k.stop()));
      assert.equal(got[0].received + got[1].received, 2000);
      assert.equal(got[0].corrupt + got[1].corrupt, 0);
      const s = xsk.summary();
      assert.equal(s.forward.forwarded, 2000);
      // Each queue alternates on its own: the split is even within one datagram per queue.
      assert.ok(Math.abs(got[0].received - got[1].received) <= 2, JSON.stringify(got));
      for (const q of s.per_queue) {
        const f = q.frames;
        assert.equal(f.free + f.fill + f.rx + f.tx + f.kernel, f.total);
        assert.ok(f.kernel <= 4);
      }
    });

    it('a failing worker takes the process down cleanly: reason said, non-zero exit, no XDP program left', async () => {
      // The test hook is an environment variable, not a flag: users never see it.
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000', '--queues', 'all', '--mode', mode], sb.dut, { XSK_TEST_FAIL_AFTER: '50' });
      await xsk.up();
      await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9000', '--count', '2000', '--sockets', '32']);
      const code = await xsk.exit(10000);
      assert.notEqual(code, 0);
      assert.match(xsk.stderr, /failing on purpose after 50 frames/);
      assert.equal(xsk.stdout, '', 'no summary from a failed run');
      assert.equal(sb.xdpOn(sb.dut, sb.dutIf), '');
    });

    it('pins the datapath threads with --cpus, and keeps every other thread off their CPU', async () => {
      // Busy-polling for 10 s: a datapath thread parks only when it gives its CPU way to another.
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000', '--queues', 'all', '--mode', mode, '--cpus', '1', '--busy-poll', '10000000']);
      await xsk.up();
      const pid = xsk.child.pid!;
      const lists = readdirSync(`/proc/${pid}/task`).map((t) => {
        const status = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
        return /Cpus_allowed_list:\s*(\S+)/.exec(status)![1];
      });
      assert.equal(lists.filter((l) => l === '1').length, 2, `two datapath threads pinned to CPU 1: ${lists.join(' ')}`);
      // The main thread, V8's helpers, libuv's pool: all on CPU 0 (this machine has two).
      assert.equal(lists.filter((l) => l === '0').length, lists.length - 2, `the others on CPU 0: ${lists.join(' ')}`);
      // --datapath-sched latency (the default): the datapath threads at nice -10, the main thread
      // as it was, the helper threads (V8's, libuv's) at nice 10.
      const nice = (t: string) => {
        const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      };
      const nices = readdirSync(`/proc/${pid}/task`).map(nice);
      assert.equal(nice(String(pid)), 0, 'the main thread at nice 0');
      assert.equal(nices.filter((n) => n === -10).length, 2, `two datapath threads at nice -10: ${nices.join(' ')}`);
      assert.ok(nices.filter((n) => n === 10).length >= 4, `V8's helper threads at nice 10: ${nices.join(' ')}`);
      // (A thread made later, as libuv's pool makes its threads at first use, has its creator's nice.)
      assert.equal(nices.filter((n) => n < 0).length, 2, `no other thread raised: ${nices.join(' ')}`);
      // Traffic right after start: the datapath threads know at once that no other thread of
      // xsk may run on their CPU, so they stop giving way (they used to go on until their next
      // once-a-second look, parking at every lull and woken by the next frame: thousands of
      // such wakeups in a rate bench). A park before that message came ends by its timeout,
      // or at most once per thread with the first frames.
      await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9000', '--count', '3000', '--sockets', '32']);
      xsk.signal('SIGTERM');
      assert.equal(await xsk.exit(), 0);
      const s = xsk.summary();
      assert.equal(s.rx_packets, 3000);
      assert.ok(s.datapath.loop.wakeups <= s.per_queue.length, `woken by frames from a park: ${JSON.stringify(s.datapath.loop)}`);
    });
  });
}

describe('the feed with several queues', () => {
  const sb = new Sandbox({ name: 'xskt-mqf', rxQueues: 2, txQueues: 2 });
  after(() => sb.destroy());

  it('gives every datagram from every queue one global, contiguous sequence number', async () => {
    const GRPC = '127.0.0.1:50561';
    const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000', '--queues', 'all', '--mode', 'native', '--grpc', GRPC]);
    await xsk.up();
    const client = sb.spawn(sb.dut, process.execPath, [new URL('../../dist/feed-client.js', import.meta.url).pathname, '--addr', GRPC, '--count', '3000', '--seconds', '30']);
    let out = '';
    let err = '';
    client.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    client.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((r) => client.on('exit', r));
    const deadline = Date.now() + 10000;
    while (!err.includes('subscribed at') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.match(err, /subscribed at/);
    const sent = await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9000', '--count', '3000', '--sockets', '32', '--size', '50']);
    assert.equal(sent.sent, 3000);
    assert.equal(await exited, 0, err);
    const got = JSON.parse(out.trim().split('\n').pop()!);
    assert.equal(got.messages, 3000, JSON.stringify(got));
    assert.equal(got.first_sequence, 1);
    assert.equal(got.last_sequence, 3000);
    assert.equal(got.sequence_jumps, 0);
    assert.equal(got.payload_bytes, 3000 * 50);
    xsk.signal('SIGTERM');
    assert.equal(await xsk.exit(), 0, xsk.stderr);
    const s = xsk.summary();
    assert.equal(s.feed.messages, 3000);
    assert.equal(s.feed_overflows, 0);
    assert.equal(s.latency.rx_to_feed.count, 3000, JSON.stringify(s.latency));
    for (const q of s.per_queue) assert.ok(q.rx_packets > 0, `both queues fed the feed: ${JSON.stringify(s.per_queue)}`);
  });
});
