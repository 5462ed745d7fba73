/**
 * The library (src/index.ts) in this process, inside the sandbox's dut namespace
 * (test/helpers/setns.ts), traffic from the gen namespace; in native, generic and raw mode:
 *   - open() + run(): exactly the datagrams sent to the ports, none to the others; stats;
 *     close() detaches the program;
 *   - echo: turnAround + Verdict.Transmit answers every datagram of a UDP client in gen;
 *   - transmit(): frames built in free frames reach a kernel UDP socket in gen, each once;
 *   - a handler that throws on real rings: the loop stops, reports, the next loop goes on, and
 *     every other frame is counted once;
 *   - setPorts at run time.
 * Every loop is bounded in time.
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from '../../src/sandbox/netns.js';
import { XskProcess, runTool, startSink, stopLeftoverXsks } from '../../src/sandbox/xsk-process.js';
import { open, Verdict, FrameParser, PARSE_OK, turnAround, completePartialUdpChecksum, buildUdpFrame, type XskPort, type FrameHandler } from '../../src/index.js';
import { enterNetns } from '../helpers/setns.js';
import { waitNoXdp } from '../helpers/xdp.js';

// An xsk left running by a failed assertion would hold the interface for every later test.
afterEach(stopLeftoverXsks);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await sleep(10);
}

class ByPort implements FrameHandler {
  readonly parser = new FrameParser();
  readonly counts = new Map<number, number>();
  total = 0;
  invalid = 0;
  frame(buf: Uint8Array, off: number, len: number): Verdict {
    this.total++;
    if (this.parser.parse(buf, off, len) !== PARSE_OK) this.invalid++;
    else this.counts.set(this.parser.dstPort, (this.counts.get(this.parser.dstPort) ?? 0) + 1);
    return Verdict.Drop;
  }
}

for (const mode of ['native', 'generic', 'raw'] as const) {
  describe(`library, ${mode} mode`, () => {
    let sb: Sandbox;
    let leave = () => {};
    before(() => {
      sb = new Sandbox({ name: `xskt-lib${mode.slice(0, 1)}` });
      leave = enterNetns(sb.dut);
    });
    after(() => {
      leave();
      sb.destroy();
    });
    const opened: XskPort[] = [];
    const openPort = async (ports: number[]): Promise<XskPort> => {
      const p = await open({ iface: sb.dutIf, queue: 0, ports, mode });
      opened.push(p);
      return p;
    };
    // A failed test's port is closed here, so the next test finds the interface free.
    afterEach(async () => {
      for (const p of opened.splice(0)) await p.close();
    });

    it('receives exactly what is sent to its ports; setPorts; close detaches', async () => {
      const port = await openPort([9000]);
      assert.equal(port.mode, mode);
      assert.equal(port.zeroCopy, false);
      if (mode !== 'raw') assert.ok(sb.xdpOn(sb.dut, sb.dutIf), 'program attached');
      const h = new ByPort();
      const loop = port.run(h);
      const sent = await Promise.all([
        runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9000', '--count', '2000', '--size', '100']),
        runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr6, '--port', '9000', '--count', '500']),
        runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9001', '--count', '300']),
      ]);
      assert.deepEqual(sent.map((s) => s.sent), [2000, 500, 300]);
      await until(() => h.total >= 2500);
      await sleep(200);
      assert.deepEqual([...h.counts], [[9000, 2500]], JSON.stringify(port.stats()));
      assert.equal(h.invalid, 0);

      port.setPorts([9001]);
      await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9001', '--count', '400']);
      await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9000', '--count', '100']);
      await until(() => h.total >= 2900);
      await sleep(200);
      await loop.stop();
      assert.equal(loop.running, false);
      assert.deepEqual([...h.counts].sort(), [[9000, 2500], [9001, 400]]);

      const s = port.stats();
      assert.equal(s.rx.packets, 2900, JSON.stringify(s));
      assert.equal(s.rx.bytes, 2000 * 142 + 500 * 126 + 400 * 106);
      assert.equal(s.handlerErrors, 0);
      if (s.mode === 'raw') {
        assert.equal(s.kernel.rx_packets, 2900);
        assert.equal(s.kernel.rx_dropped, 0);
      } else {
        assert.equal(s.kernel.rx_dropped, 0);
        assert.equal(s.kernel.rx_ring_full, 0);
        assert.equal(s.program?.redirected, 2900);
        assert.equal(s.frames.total, 8192);
        assert.equal(s.frames.rx, 0);
      }
      await port.close();
      await port.close();
      assert.equal(await waitNoXdp(sb), '', 'nothing attached after close');
    });

    it('echo: turnAround + Transmit answers every datagram', async () => {
      const port = await openPort([9300]);
      const p = new FrameParser();
      const loop = port.run({
        frame(buf, off, len) {
          if (p.parse(buf, off, len) !== PARSE_OK) return Verdict.Drop;
          completePartialUdpChecksum(buf, p); // a local sender over veth leaves it partial
          turnAround(buf, off, p);
          return Verdict.Transmit;
        },
      });
      const rtt = await runTool(sb, sb.gen, 'udp-rtt', ['--to', sb.dutAddr, '--port', '9300', '--rate', '2000', '--seconds', '1']);
      await loop.stop();
      assert.equal(rtt.sent, 2000);
      assert.equal(rtt.received, 2000, JSON.stringify(rtt));
      const s = port.stats();
      assert.equal(s.tx.packets, 2000);
      assert.equal(s.tx.ringFull, 0);
      await port.close();
      assert.equal(sb.udpErrors(sb.gen).csum, 0);
    });

    it('transmit: frames built in free frames reach a kernel socket in gen, each once', async () => {
      const port = await openPort([]);
      const sink = startSink(sb, sb.gen, 9400, 4, 20);
      await sink.ready;
      const payload = new Uint8Array(64);
      const template = buildUdpFrame({ srcMac: sb.dutMac, dstMac: sb.genMac, srcIp: sb.dutAddr, dstIp: sb.genAddr, srcPort: 40000, dstPort: 9400, payload, udpChecksum: 0 });
      const N = 3000;
      let sent = 0;
      const deadline = Date.now() + 10_000;
      while (sent < N && Date.now() < deadline) {
        const n = port.transmit(Math.min(64, N - sent), (buf, off, i) => {
          buf.set(template, off);
          new DataView(buf.buffer, buf.byteOffset).setUint32(off + 42, sent + i);
          return template.length;
        });
        sent += n;
        // Paced (~64 a millisecond): the receiving kernel's backlog holds 1,000 frames.
        await sleep(1);
      }
      assert.equal(sent, N);
      await sleep(300);
      const got = await sink.stop();
      assert.equal(got.received, N, JSON.stringify(got));
      assert.equal(got.distinct, N);
      const s = port.stats();
      assert.equal(s.tx.packets, N);
      await port.close();
    });

    it('a handler that throws on real rings: the loop stops and says so; the next goes on', async () => {
      const port = await openPort([9500]);
      const h = new ByPort();
      let thrown = 0;
      const thrower: FrameHandler = {
        frame(buf, off, len) {
          if (h.total === 700 && thrown === 0) {
            thrown++;
            throw new Error('handler bug');
          }
          return h.frame(buf, off, len);
        },
      };
      const errors: unknown[] = [];
      const first = port.run(thrower, { onError: (e) => errors.push(e) });
      const send = runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9500', '--count', '1500']);
      await until(() => !first.running);
      assert.match(String(errors[0]), /handler bug/);
      assert.match(String(first.error), /handler bug/);
      const second = port.run(thrower);
      assert.equal((await send).sent, 1500);
      await until(() => h.total >= 1499);
      await sleep(200);
      await second.stop();
      assert.equal(h.total, 1499, 'every frame once but the one it threw on');
      const s = port.stats();
      assert.equal(s.handlerErrors, 1);
      assert.equal(s.rx.packets, 1500);
      if (s.mode !== 'raw') {
        assert.equal(s.frames.rx, 0);
        assert.equal(s.frames.tx, 0);
        assert.ok(s.frames.kernel >= 0 && s.frames.kernel <= 64, JSON.stringify(s.frames));
        assert.equal(s.frames.free + s.frames.fill + s.frames.kernel, s.frames.total);
      }
      await port.close();
    });
  });
}

describe('library, auto mode', () => {
  it('takes native on veth, and a raw-only port needs no libbpf', async () => {
    const sb = new Sandbox({ name: 'xskt-liba' });
    const leave = enterNetns(sb.dut);
    try {
      const warnings: string[] = [];
      const logger = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error() {} };
      const port = await open({ iface: sb.dutIf, ports: [9000], logger });
      assert.equal(port.mode, 'native');
      assert.deepEqual(warnings, []);
      // The interface lock is the CLI's: an xsk started on the interface meanwhile is refused.
      const cli = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000']);
      assert.equal(await cli.exit(), 1);
      assert.match(cli.stderr, new RegExp(`in use by another xsk \\(pid ${process.pid}`));
      // A second port of this process shares the lock; closing it keeps the lock for the first.
      const raw = await open({ iface: sb.dutIf, ports: [9001], mode: 'raw' });
      await raw.close();
      const cli1 = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000']);
      assert.equal(await cli1.exit(), 1, 'still locked by the first port');
      await port.close();
      // Given back with the last close: the CLI may take it now.
      const cli2 = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000', '--duration', '0.5', '--no-warm']);
      assert.equal(await cli2.exit(), 0, cli2.stderr);
    } finally {
      leave();
      sb.destroy();
    }
  });
});
