/**
 * xsk as an installed package, as a new user gets it (issue 15's check):
 *   - `npm pack` the built tree; the tarball holds dist (with its BPF objects and declarations),
 *     proto and the README, and no tests, benches or sources;
 *   - `npm install ./xsk-*.tgz` into a fresh temporary project (xsk's dependencies come from
 *     the registry);
 *   - a TypeScript user file (the minimal contract exactly as the README has it, plus type
 *     checks) and examples/*.ts type-check against the published declarations (`xsk`,
 *     `xsk/feed`, `xsk/testing`) and compile;
 *   - in a netns pair whose dut interface is named eth0: the minimal contract counts exactly
 *     what is sent to port 9000; examples/count-by-port.js and examples/echo.js, the sender
 *     (examples/sender.js) and the CLI with --stage examples/echo-stage.js, each with exact counts.
 * Everything it makes (the temporary project, the namespaces) goes at the end.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readdirSync, rmSync, copyFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../../src/sandbox/netns.js';
import { runTool, startSink } from '../../src/sandbox/xsk-process.js';
import { waitNoXdp } from '../helpers/xdp.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The minimal contract, exactly as issue 15 and the README write it, in a program. */
const USER_TS = `import { open, Verdict } from 'xsk';
import type { FillRing, TxRing, XskStats, StageFactory } from 'xsk';
import { FeedClient } from 'xsk/feed';
import { Sandbox } from 'xsk/testing';

let frames = 0;
const port = await open({ iface: 'eth0', queue: 0, ports: [9000] });   // mode 'auto' by default
const loop = port.run({ frame(buf, off, len) { /* in place, valid during the call */ frames++; return Verdict.Drop; } });
process.stderr.write('ready\\n');
await new Promise((r) => { process.once('SIGTERM', r); setTimeout(r, 30_000).unref(); });
await loop.stop();
await port.close();   // drains TX, detaches the program, unmaps
const stats: XskStats = port.stats();
process.stdout.write(JSON.stringify({ frames, mode: port.mode, rx: stats.rx }) + '\\n');

// Types only (never run): a FILL ring is not a TX ring; the stage and feed types are there.
export function typesOnly(fill: FillRing, tx: TxRing, f: FeedClient, s: typeof Sandbox): StageFactory {
  // @ts-expect-error a FILL address can't be written as a TX descriptor
  const wrong: TxRing = fill;
  tx.setDesc(tx.reserve(1), 0, 60);
  void wrong; void f; void s;
  return () => ({ datagram: () => Verdict.Drop });
}
`;

const TSCONFIG = (types: string) => JSON.stringify({
  compilerOptions: {
    target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out',
    typeRoots: [types], types: ['node'], skipLibCheck: false, isolatedModules: true,
  },
  include: ['*.ts'],
});

/** Spawn node in a namespace; resolves when `ready` shows on stderr. */
function start(sb: Sandbox, ns: string, args: string[], cwd: string, ready: string, env: Record<string, string> = {}) {
  const child: ChildProcess = sb.spawn(ns, process.execPath, args, { cwd, env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const up = (async () => {
    const deadline = Date.now() + 20_000;
    while (!err.includes(ready)) {
      if (child.exitCode !== null) throw new Error(`exited before ready (${child.exitCode}):\n${err}`);
      if (Date.now() > deadline) throw new Error(`not ready after 20 s:\n${err}`);
      await sleep(20);
    }
  })();
  return {
    up,
    /** SIGTERM (unless it ends by itself), then its last stdout line as JSON. */
    async end(signal = true): Promise<Record<string, any>> {
      if (signal) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      assert.equal(code, 0, err);
      assert.equal(err.includes('Error'), false, err);
      return JSON.parse(out.trim().split('\n').pop() ?? '');
    },
  };
}

describe('the packed package, installed in a fresh project', () => {
  let dir: string;
  let sb: Sandbox;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xsk-pack-'));
  });
  after(() => {
    sb?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('packs dist with its BPF objects and declarations, proto and README, no tests or benches', () => {
    const [info] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    const files: string[] = info.files.map((f: { path: string }) => f.path);
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/lib/feed.d.ts', 'dist/lib/testing.d.ts', 'dist/bpf/xsk_redirect.o', 'dist/xsk.js', 'proto/feed.proto', 'README.md', 'package.json']) {
      assert.ok(files.includes(f), `${f} in the tarball`);
    }
    assert.deepEqual(files.filter((f) => /^(test|bench|src|examples|native|scripts)\//.test(f) || f.endsWith('.map')), []);
  });

  it('installs with npm, and a TypeScript user file and the examples type-check against the declarations', () => {
    const tgz = readdirSync(dir).find((f) => /^xsk-.*\.tgz$/.test(f))!;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'xsk-user', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `./${tgz}`], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
    writeFileSync(join(dir, 'user.ts'), USER_TS);
    for (const f of readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.ts'))) copyFileSync(join(ROOT, 'examples', f), join(dir, f));
    writeFileSync(join(dir, 'tsconfig.json'), TSCONFIG(join(ROOT, 'node_modules/@types')));
    try {
      execFileSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      assert.fail(`tsc: ${(e as { stdout?: string }).stdout}`);
    }
    assert.ok(readFileSync(join(dir, 'out/user.js'), 'utf8').includes("from 'xsk'"));
  });

  it('runs the minimal contract in a netns pair (dut interface eth0): exactly what port 9000 got', async () => {
    sb = new Sandbox({ name: 'xskt-pack' });
    // The contract names eth0: name the dut end so (addresses and neighbours stay).
    sb.exec(sb.dut, 'ip', ['link', 'set', 'dut0', 'down']);
    sb.exec(sb.dut, 'ip', ['link', 'set', 'dut0', 'name', 'eth0']);
    sb.exec(sb.dut, 'ip', ['link', 'set', 'eth0', 'up']);
    (sb as { dutIf: string }).dutIf = 'eth0';
    const user = start(sb, sb.dut, ['out/user.js'], dir, 'ready');
    await user.up;
    const sent = await Promise.all([
      runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9000', '--count', '1500']),
      runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9001', '--count', '500']),
    ]);
    assert.deepEqual(sent.map((s) => s.sent), [1500, 500]);
    await sleep(300);
    const r = await user.end();
    assert.equal(r.mode, 'native');
    assert.equal(r.frames, 1500, JSON.stringify(r));
    assert.equal(r.rx.packets, 1500);
    assert.equal(await waitNoXdp(sb), '', 'close() detached the program');
  });

  it('examples/count-by-port: exact counts per port', async () => {
    const ex = start(sb, sb.dut, ['out/count-by-port.js', '--iface', 'eth0', '--ports', '9000,9001,9002', '--seconds', '30'], dir, 'ready');
    await ex.up;
    await Promise.all([
      runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9000', '--count', '1000']),
      runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr6, '--port', '9001', '--count', '700']),
      runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9003', '--count', '300']),
    ]);
    await sleep(300);
    const r = await ex.end();
    assert.deepEqual(r.byPort, { 9000: 1000, 9001: 700 });
    assert.equal(r.invalid, 0);
    assert.equal(r.rx.packets, 1700);
  });

  it('examples/echo: every datagram answered', async () => {
    const ex = start(sb, sb.dut, ['out/echo.js', '--iface', 'eth0', '--ports', '7', '--seconds', '30'], dir, 'ready');
    await ex.up;
    const rtt = await runTool(sb, sb.gen, 'udp-rtt', ['--to', sb.dutAddr, '--port', '7', '--rate', '2000', '--seconds', '1']);
    const r = await ex.end();
    assert.equal(rtt.sent, 2000);
    assert.equal(rtt.received, 2000, JSON.stringify(rtt));
    assert.equal(r.echoed, 2000);
    assert.equal(r.tx.packets, 2000);
  });

  it('examples/sender: every frame built with transmit() reaches a kernel socket in gen', async () => {
    const sink = startSink(sb, sb.gen, 9400, 4, 30);
    await sink.ready;
    const ex = start(sb, sb.dut, ['out/sender.js', '--iface', 'eth0', '--dst-mac', sb.genMac, '--src-ip', sb.dutAddr, '--dst-ip', sb.genAddr,
      '--port', '9400', '--count', '5000', '--rate', '20000', '--seconds', '20'], dir, '');
    const r = await ex.end(false);
    await sleep(200);
    const got = await sink.stop();
    assert.equal(r.sent, 5000);
    assert.equal(r.tx.packets, 5000);
    assert.equal(got.received, 5000, JSON.stringify(got));
    assert.equal(got.distinct, 5000);
  });

  it('the installed CLI with --stage examples/echo-stage.js: the stage echoes port 7, the rest goes on', async () => {
    const xsk = start(sb, sb.dut, ['node_modules/xsk/dist/xsk.js', '--iface', 'eth0', '--port', '7,9000', '--stage', './out/echo-stage.js', '--stats-interval', '0'], dir, 'xsk up', { ECHO_PORT: '7' });
    await xsk.up;
    const [rtt, sent] = await Promise.all([
      runTool(sb, sb.gen, 'udp-rtt', ['--to', sb.dutAddr, '--port', '7', '--rate', '1000', '--seconds', '1']),
      runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9000', '--count', '600']),
    ]);
    await sleep(300);
    const s = await xsk.end();
    assert.equal(rtt.received, 1000, JSON.stringify(rtt));
    assert.equal(sent.sent, 600);
    assert.equal(s.rx_datagrams, 1600, JSON.stringify(s));
    assert.equal(s.tx_packets, 1000);
  });
});
