/**
 * The CLIs' heap flags (cli/heap.ts through sys/relaunch.ts): a process started without them
 * becomes, in place, the same process with them: same pid, arguments, environment, stdin,
 * stdout and stderr. A flag the user gave on node's command line is theirs (no relaunch).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingNodeFlags } from '../../src/sys/relaunch.js';
import { HEAP_FLAGS } from '../../src/cli/heap.js';

// The built module (npm test builds first): the child gets no TypeScript loader.
const HEAP = new URL('../../dist/cli/heap.js', import.meta.url).href;

/** A script that says who it is before and after importing cli/heap.js. */
const SCRIPT = `
  process.stderr.write('before ' + process.pid + '\\n');
  await import('${HEAP}');
  let input = '';
  for await (const c of process.stdin) input += c;
  const v8 = await import('node:v8');
  const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
  console.log(JSON.stringify({ pid: process.pid, execArgv: process.execArgv, args: process.argv.slice(2), env: process.env.RELAUNCH_TEST, input, newSpace }));
`;

function runScript(nodeArgs: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'xsk-relaunch-'));
  const script = join(dir, 'who.mjs');
  writeFileSync(script, SCRIPT);
  let r;
  try {
    r = spawnSync(process.execPath, [...nodeArgs, script, 'a', 'b c'], {
      input: 'from stdin',
      env: { ...process.env, RELAUNCH_TEST: 'kept' },
      encoding: 'utf8',
      timeout: 20000,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(r.status, 0, r.stderr);
  const before = r.stderr.split('\n').filter((l) => l.startsWith('before '));
  return { before, out: JSON.parse(r.stdout.trim()) };
}

describe('relaunch with node flags', () => {
  it('names the flags node was not started with, by name', () => {
    assert.deepEqual(missingNodeFlags(['--a-b=1', '--c=2'], ['--a_b=5']), ['--c=2']);
    assert.deepEqual(missingNodeFlags(['--a=1'], ['--a=1', '--x']), []);
    assert.deepEqual(missingNodeFlags(['--no-y', '--no-z'], ['--y']), ['--no-z'], 'either polarity is the same flag');
  });

  it('starts again in place with the heap flags: same pid, args, env and stdio', () => {
    const { before, out } = runScript([]);
    assert.equal(before.length, 2, 'the script ran twice: once before the relaunch');
    assert.deepEqual(new Set(before), new Set([`before ${out.pid}`]), 'same pid both times');
    for (const f of HEAP_FLAGS) assert.ok(out.execArgv.includes(f), `${f} in ${out.execArgv}`);
    assert.deepEqual(out.args, ['a', 'b c']);
    assert.equal(out.env, 'kept');
    assert.equal(out.input, 'from stdin');
    // The young generation starts at its maximum (16 MB semi-spaces), both already written (cli/heap.ts touches them).
    assert.equal(out.newSpace, 2 * 16 * 1024 * 1024);
  });

  it("keeps the user's own value and does not start again", () => {
    // --memory-reducer: the user's answer to --no-memory-reducer (the same flag, turned on).
    const { before, out } = runScript(['--heap-growing-percent=50', '--min-semi-space-size=2', '--memory-reducer']);
    assert.equal(before.length, 1);
    assert.ok(out.execArgv.includes('--heap-growing-percent=50'));
    assert.ok(out.execArgv.includes('--memory-reducer'));
    assert.equal(out.newSpace, 2 * 2 * 1024 * 1024);
    assert.ok(!out.execArgv.some((a: string) => HEAP_FLAGS.includes(a)));
  });
});
