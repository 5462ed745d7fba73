/** Bad flags and values: one line on stderr that names the flag, a non-zero exit, nothing attached. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const XSK = fileURLToPath(new URL('../../dist/xsk.js', import.meta.url));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [XSK, ...args], { encoding: 'utf8', timeout: 10000 });
  return { code: r.status, stderr: r.stderr.trim(), stdout: r.stdout };
}

const cases: [string, string[], RegExp][] = [
  ['a non-numeric queue', ['--iface', 'lo', '--port', '9000', '--queue', 'x'], /--queue/],
  ['a port out of range', ['--iface', 'lo', '--port', '70000'], /--port/],
  ['a port list with junk', ['--iface', 'lo', '--port', '9000,abc'], /--port/],
  ['an unknown mode', ['--iface', 'lo', '--port', '9000', '--mode', 'turbo'], /--mode/],
  ['a ring size that is not a power of two', ['--iface', 'lo', '--port', '9000', '--ring-size', '1000'], /--ring-size/],
  ['a frame size too small', ['--iface', 'lo', '--port', '9000', '--frame-size', '1024'], /--frame-size/],
  ['too few frames for the rings', ['--iface', 'lo', '--port', '9000', '--frames', '200'], /--frames/],
  ['a negative duration', ['--iface', 'lo', '--port', '9000', '--duration', '-1'], /--duration/],
  ['both --copy and --zero-copy', ['--iface', 'lo', '--port', '9000', '--copy', '--zero-copy'], /--copy|--zero-copy/],
  ['an unknown flag', ['--iface', 'lo', '--port', '9000', '--bogus'], /--bogus/],
  ['a missing --iface', ['--port', '9000'], /--iface/],
  ['a missing --port', ['--iface', 'lo'], /--port/],
  ['an interface that does not exist', ['--iface', 'nosuchif0', '--port', '9000'], /--iface.*nosuchif0/],
  ['a queue the interface does not have', ['--iface', 'lo', '--port', '9000', '--queue', '7'], /--queue/],
  ['both --queue and --queues', ['--iface', 'lo', '--port', '9000', '--queue', '1', '--queues', 'all'], /--queues.*--queue|--queue.*--queues/],
  ['a bad --queues list', ['--iface', 'lo', '--port', '9000', '--queues', '3-1'], /--queues/],
  ['a bad --cpus list', ['--iface', 'lo', '--port', '9000', '--cpus', '1-x'], /--cpus/],
  ['a bad --metrics address', ['--iface', 'lo', '--port', '9000', '--metrics', 'localhost'], /--metrics/],
  ['a bad --forward rule', ['--iface', 'lo', '--forward', '9000=nowhere'], /--forward/],
  ['a --config file that does not exist', ['--iface', 'lo', '--config', '/nonexistent.json'], /--config/],
];

describe('xsk command line', () => {
  for (const [what, args, names] of cases) {
    it(`rejects ${what}`, () => {
      const r = run(args);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.split('\n').length, 1, `one line, got:\n${r.stderr}`);
      assert.match(r.stderr, names);
      assert.equal(r.stdout, '');
    });
  }

  it('prints help with every flag', () => {
    const r = run(['--help']);
    assert.equal(r.code, 0);
    for (const flag of ['--iface', '--queue', '--port', '--mode', '--copy', '--zero-copy', '--ring-size', '--frame-size', '--duration', '--force']) {
      assert.ok(r.stdout.includes(flag), flag);
    }
  });
});
