/**
 * End to end, as root, on a veth pair between two network namespaces (src/sandbox/netns.ts):
 * xsk runs in the "dut" namespace on dut0, traffic comes from the "gen" namespace.
 * Every test runs in native and in generic XDP mode.
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from '../../src/sandbox/netns.js';
import { XskProcess, runTool, stopLeftoverXsks } from '../../src/sandbox/xsk-process.js';
import { waitNoXdp } from '../helpers/xdp.js';

// An xsk left running by a failed assertion would hold the interface for every later test.
afterEach(stopLeftoverXsks);

const PORT = 9000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


for (const mode of ['native', 'generic'] as const) {
  describe(`xsk receive, ${mode} mode`, () => {
    let sb: Sandbox;
    before(() => {
      sb = new Sandbox({ name: `xskt-${mode.slice(0, 3)}` });
    });
    after(() => sb.destroy());

    it('counts exactly the datagrams sent to its port, IPv4 and IPv6', async () => {
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', `${PORT},${PORT + 1}`, '--mode', mode, '--copy']);
      await xsk.up();
      assert.ok(sb.xdpOn(sb.dut, sb.dutIf), 'an XDP program is attached while xsk runs');
      const v4 = await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(PORT), '--count', '3000', '--size', '100']);
      const v6 = await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr6, '--port', String(PORT + 1), '--count', '1000', '--size', '200']);
      assert.equal(v4.sent, 3000);
      assert.equal(v6.sent, 1000);
      await sleep(300);
      xsk.signal('SIGTERM');
      assert.equal(await xsk.exit(), 0, xsk.stderr);
      const s = xsk.summary();
      assert.equal(s.mode, mode);
      assert.equal(s.iface, sb.dutIf);
      assert.equal(s.queue, 0);
      assert.equal(s.rx_packets, 4000, JSON.stringify(s));
      assert.equal(s.rx_datagrams, 4000);
      // Ethernet 14 + IPv4 20 + UDP 8 + 100, and Ethernet 14 + IPv6 40 + UDP 8 + 200.
      assert.equal(s.rx_bytes, 3000 * 142 + 1000 * 262);
      assert.equal(s.rx_payload_bytes, 3000 * 100 + 1000 * 200);
      assert.ok(Object.values(s.invalid as Record<string, number>).every((n) => n === 0), JSON.stringify(s.invalid));
      assert.ok('truncated_ethernet' in s.invalid);
      assert.equal(typeof s.xdp_stats.rx_dropped, 'number');
      assert.equal(s.xdp_stats.rx_ring_full, 0);
      assert.equal(s.xdp_program.redirected, 4000);
      // The datapath thread parked and woke through the park addon (sys/park.ts), not koffi.
      assert.equal(s.datapath.wait, 'park addon');
      assert.equal(await waitNoXdp(sb), '', 'no XDP program left after SIGTERM');
    });

    // auto: XDP live frames, or an AF_XDP socket's TX ring where the kernel refuses those (and
    // says which); afxdp: that second way, whatever the kernel.
    for (const method of ['auto', 'afxdp'] as const) it(`counts a burst from xsk-gen (--method ${method}) exactly, --no-latency too`, async () => {
      // veth's XDP transmit needs NAPI on the peer: the XDP program in native mode, GRO in generic.
      sb.exec(sb.dut, 'ethtool', ['-K', sb.dutIf, 'gro', 'on']);
      // --no-latency: the program keeps no redirect count; the summary's comes from the socket.
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', mode, '--no-latency']);
      await xsk.up();
      const gen = await runTool(sb, sb.gen, '../gen', ['--iface', sb.genIf, '--dst-mac', sb.dutMac, '--src-mac', sb.genMac,
        '--src-ip', sb.genAddr, '--dst-ip', sb.dutAddr, '--dst-port', String(PORT), '--count', '1000', '--seconds', '5', '--method', method]);
      assert.equal(gen.sent, 1000);
      assert.ok(method === 'auto' ? ['live', 'afxdp'].includes(gen.method) : gen.method === 'afxdp', JSON.stringify(gen));
      await sleep(300);
      xsk.signal('SIGTERM');
      assert.equal(await xsk.exit(), 0);
      const s = xsk.summary();
      assert.equal(s.rx_packets, 1000, JSON.stringify(s));
      assert.equal(s.rx_bytes, 1000 * gen.frame_bytes);
      assert.equal(s.xdp_program.redirected, 1000);
      assert.equal(s.xdp_program.seen, s.xdp_program.redirected + s.xdp_program.passed);
    });

    /** xsk on PORT (with `env`), `send` (udp-send's arguments after the address) from gen; its summary and stderr. */
    async function receiveSome(count: number, send: string[], env: Record<string, string> = {}) {
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', mode], sb.dut, env);
      await xsk.up();
      const r = await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', String(PORT), '--count', String(count), '--size', '64', ...send]);
      assert.equal(r.sent, count);
      await sleep(300);
      xsk.signal('SIGTERM');
      assert.equal(await xsk.exit(), 0, xsk.stderr);
      const s = xsk.summary();
      assert.equal(s.rx_packets, count);
      return { s, stderr: xsk.stderr };
    }

    if (mode === 'native') it('without the park addon (XSK_PARK_ADDON=0) receives the same through koffi, and says so', async () => {
      const { s, stderr } = await receiveSome(500, [], { XSK_PARK_ADDON: '0' });
      assert.equal(s.datapath.wait, 'koffi (XSK_PARK_ADDON=0)');
      assert.match(stderr, /through koffi \(XSK_PARK_ADDON=0\)/);
    });

    // V8's memory reducer collected the quiet datapath isolate twice ~8-12 s after start, 1.7-3.7
    // ms each on the datapath thread (cli/heap.ts: --no-memory-reducer). Sparse traffic, as a
    // quiet feed has, for 14 s: the datapath thread runs no collection at all.
    if (mode === 'native') it('runs no GC on the datapath thread over 14 s of sparse traffic', async () => {
      const { s } = await receiveSome(140, ['--burst', '1', '--gap-ms', '100', '--seconds', '30']);
      const rt = s.datapath.runtime;
      assert.equal(rt.gc_major, 0, JSON.stringify(rt));
      assert.equal(rt.gc_minor, 0, JSON.stringify(rt));
    });

    it('leaves ping and UDP to other ports to the kernel while attached', async () => {
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', mode]);
      await xsk.up();
      const sink = sb.spawn(sb.dut, process.execPath, [new URL('../../dist/sandbox/udp-sink.js', import.meta.url).pathname, '--port', '9999', '--seconds', '20']);
      let sinkOut = '';
      sink.stdout!.setEncoding('utf8').on('data', (d: string) => (sinkOut += d));
      await new Promise<void>((resolve) => sink.stderr!.once('data', () => resolve()));
      const ping = sb.exec(sb.gen, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', sb.dutAddr]);
      assert.match(ping, /3 received/);
      const ping6 = sb.exec(sb.gen, 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', sb.dutAddr6]);
      assert.match(ping6, /2 received/);
      const sent = await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9999', '--count', '500']);
      assert.equal(sent.sent, 500);
      await sleep(200);
      sink.kill('SIGTERM');
      await new Promise((r) => sink.on('exit', r));
      assert.equal(JSON.parse(sinkOut).received, 500, 'the kernel socket on another port got every datagram');
      xsk.signal('SIGINT');
      assert.equal(await xsk.exit(), 0);
      const s = xsk.summary();
      assert.equal(s.rx_packets, 0, 'xsk took none of the host traffic');
      assert.ok(s.xdp_program.passed >= 505, JSON.stringify(s.xdp_program));
    });

    it('leaves no XDP program behind when killed with SIGKILL', async () => {
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', mode]);
      await xsk.up();
      assert.notEqual(sb.xdpOn(sb.dut, sb.dutIf), '');
      xsk.signal('SIGKILL');
      assert.equal(await xsk.exit(), null);
      assert.equal(await waitNoXdp(sb), '', 'the kernel released the bpf_link with the process');
    });

    it('stops by itself after --duration with a summary', async () => {
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', mode, '--duration', '1']);
      await xsk.up();
      assert.equal(await xsk.exit(), 0);
      assert.equal(xsk.summary().rx_packets, 0);
      assert.equal(await waitNoXdp(sb), '');
    });

    it('refuses an interface that already has an XDP program, unless --force', async () => {
      const first = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', mode]);
      await first.up();
      // Another xsk holds the interface (its lock, before anything is loaded): --force does not
      // take it from another xsk; it replaces foreign programs only.
      for (const extra of [[], ['--force']]) {
        const second = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', mode, ...extra]);
        assert.notEqual(await second.exit(), 0);
        assert.match(second.stderr, new RegExp(`^xsk: ${sb.dutIf} is in use by another xsk \\(pid \\d+, lock /run/xsk/\\d+-\\d+\\.lock\\)`));
      }
      first.signal('SIGTERM');
      assert.equal(await first.exit(), 0);
      // A program attached through netlink (ip link) is replaced with --force, and gone after;
      // both the refusal and the warning say which program it is (id, name, mode, tag).
      const obj = new URL('../../dist/bpf/xsk_sink.o', import.meta.url).pathname;
      sb.exec(sb.dut, 'ip', ['link', 'set', 'dev', sb.dutIf, mode === 'native' ? 'xdpdrv' : 'xdpgeneric', 'obj', obj, 'sec', 'xdp']);
      const refused = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', mode]);
      assert.notEqual(await refused.exit(), 0);
      const which = new RegExp(`program id (\\d+) "xsk_sink" \\(${mode}, tag [0-9a-f]{16}\\)`);
      assert.match(refused.stderr, new RegExp(`${sb.dutIf} already has an XDP ${which.source}; refusing to replace it`));
      const replaced = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', mode, '--force', '--duration', '0.5']);
      assert.equal(await replaced.exit(), 0, replaced.stderr);
      const warn = replaced.stderr.split('\n').map((l) => (l.startsWith('{') ? JSON.parse(l) : {})).find((l) => /--force: replaced/.test(l.msg ?? ''));
      assert.ok(warn, replaced.stderr);
      assert.equal(warn.level, 40);
      assert.match(warn.msg, new RegExp(`^--force: replaced the XDP ${which.source} on ${sb.dutIf}$`));
      assert.equal(await waitNoXdp(sb), '');
    });
  });
}
