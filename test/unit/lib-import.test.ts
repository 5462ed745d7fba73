/**
 * Importing the library loads nothing and logs nothing: libbpf.so.1 is not mapped after
 * `import 'xsk'` (it is loaded on first use, never by raw mode), and nothing is written to
 * stdout or stderr. Run in a child process on the built package (dist/), as a user would.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function run(code: string): { stdout: string; stderr: string } {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { stdout: out, stderr: '' };
}

describe('import xsk', () => {
  it('loads no libbpf and writes nothing', () => {
    const code = `
      import { readFileSync } from 'node:fs';
      const x = await import('xsk');
      await import('xsk/feed');
      await import('xsk/testing');
      const maps = readFileSync('/proc/self/maps', 'utf8');
      process.stdout.write(JSON.stringify({ libbpf: maps.includes('libbpf'), verdict: x.Verdict, open: typeof x.open, rings: [x.FillRing, x.RxRing, x.TxRing, x.CompletionRing].map((c) => c.name) }));
    `;
    const { stdout } = run(code);
    const r = JSON.parse(stdout);
    assert.equal(r.libbpf, false, 'libbpf.so.1 is not loaded by importing');
    assert.deepEqual(r.verdict, { Drop: 0, Transmit: 1 });
    assert.equal(r.open, 'function');
    assert.deepEqual(r.rings, ['FillRing', 'RxRing', 'TxRing', 'CompletionRing']);
  });

  it('Verdict is frozen and exists at run time', async () => {
    const { Verdict } = await import('../../src/index.js');
    assert.ok(Object.isFrozen(Verdict));
  });

  it('open() checks its options before touching anything', async () => {
    const { open } = await import('../../src/index.js');
    await assert.rejects(open({ iface: 'lo', ports: [0] }), /port 0 is outside 1-65535/);
    await assert.rejects(open({ iface: 'lo', ports: [9000], ringSize: 1000 }), /ringSize 1000 must be a power of two/);
    await assert.rejects(open({ iface: 'lo', ports: [9000], frames: 10 }), /frames 10 must be at least/);
    await assert.rejects(open({ iface: 'lo', ports: [9000], xdp: false }), /xdp: false needs mode 'native' or 'generic'/);
    await assert.rejects(open({ iface: 'lo' }), /ports: give the UDP ports/);
    await assert.rejects(open({ iface: 'no-such-if0', ports: [9000] }), /no interface named "no-such-if0"/);
  });
});
