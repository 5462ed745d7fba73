/**
 * A reload that asks for more than the datapath can take is refused, with the reason, and the
 * running rules stay: xsk neither exits nor stops receiving. Raw mode's socket filter is the
 * limit here (cBPF's 4,096 instructions: 25,000 scattered ports do not fit).
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandbox } from '../../src/sandbox/netns.js';
import { XskProcess, runTool, stopLeftoverXsks } from '../../src/sandbox/xsk-process.js';

// An xsk left running by a failed assertion would hold the interface for every later test.
afterEach(stopLeftoverXsks);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a reload beyond the limits', () => {
  let sb: Sandbox;
  let dir: string;
  before(() => {
    sb = new Sandbox({ name: 'xskt-rl' });
    dir = mkdtempSync(join(tmpdir(), 'xsk-reload-'));
  });
  after(() => {
    sb.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is refused in raw mode with the reason; xsk keeps its rules and keeps receiving', async () => {
    const config = join(dir, 'rules.json');
    writeFileSync(config, JSON.stringify({ ports: [9000] }));
    const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--config', config, '--mode', 'raw', '--stats-interval', '0']);
    await xsk.up();
    // 25,000 scattered ports: every other port from 10,000 on.
    writeFileSync(config, JSON.stringify({ ports: Array.from({ length: 25000 }, (_, i) => 10000 + 2 * i) }));
    xsk.signal('SIGHUP');
    const deadline = Date.now() + 10000;
    while (!/reload: .*keeping the running rules/.test(xsk.stderr) && Date.now() < deadline) await sleep(50);
    assert.match(xsk.stderr, /reload: .*keeping the running rules/);
    assert.equal(xsk.child.exitCode, null, 'still running');
    const sent = await runTool(sb, sb.gen, 'udp-send', ['--to', sb.dutAddr, '--port', '9000', '--count', '500']);
    assert.equal(sent.sent, 500);
    await sleep(300);
    xsk.signal('SIGTERM');
    assert.equal(await xsk.exit(), 0, xsk.stderr);
    const s = xsk.summary();
    assert.equal(s.rx_datagrams, 500);
    assert.deepEqual(s.ports, [9000], 'the running port set');
  });
});
