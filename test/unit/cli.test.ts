/** Bad flags and values: one line on stderr that names the flag, a non-zero exit, nothing attached. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
  ['an unknown --datapath-sched', ['--iface', 'lo', '--port', '9000', '--datapath-sched', 'fast'], /--datapath-sched/],
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

/** Every case: the exact line on stderr, exit 1, nothing on stdout (nothing was started). */
describe('xsk refuses, with exactly this line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xsk-cli-'));
  const f = (name: string) => join(dir, name);
  before(() => {
    execFileSync('mkfifo', [f('fifo')]);
    writeFileSync(f('ports-string.json'), '{"ports":"9000"}');
    writeFileSync(f('backend-number.json'), '{"forward":{"9000":["10.0.0.3:9001",7]}}');
    writeFileSync(f('garbage.pem'), 'garbage\n');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=a', '-keyout', f('a.key'), '-out', f('a.pem')], { stdio: 'ignore' });
    execFileSync('openssl', ['genpkey', '-algorithm', 'rsa', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', f('b.key')], { stdio: 'ignore' });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const base = ['--iface', 'lo', '--port', '9000'];
  const dur = "error: option '-d, --duration <s>' argument '%' is invalid. expected 0 (until a signal) or a decimal number of seconds from 0.001 to 315576000";
  const stats = "error: option '--stats-interval <s>' argument '%' is invalid. expected 0 (none) or a decimal number of seconds from 0.1 to 86400";
  const cases: [string, () => string[], string][] = [
    ['-d 0x10 (decimal only)', () => [...base, '-d', '0x10'], dur.replace('%', '0x10')],
    ['-d 1e3 (no exponent)', () => [...base, '-d', '1e3'], dur.replace('%', '1e3')],
    ['-d 400000000 (past ten years; a longer wait than one Node timer takes is armed in steps)', () => [...base, '-d', '400000000'], dur.replace('%', '400000000')],
    ['-d Infinity', () => [...base, '-d', 'Infinity'], dur.replace('%', 'Infinity')],
    ['--stats-interval 0.0001 (below 0.1 s)', () => [...base, '--stats-interval', '0.0001'], stats.replace('%', '0.0001')],
    ['--stats-interval 3000000 (above a day)', () => [...base, '--stats-interval', '3000000'], stats.replace('%', '3000000')],
    ['--stats-interval 0x1', () => [...base, '--stats-interval', '0x1'], stats.replace('%', '0x1')],
    ['--queue 1e3 (integers are decimal digits)', () => [...base, '--queue', '1e3'], "error: option '-q, --queue <n>' argument '1e3' is invalid. expected an integer from 0 to 255"],
    ['--ring-size 0x800', () => [...base, '--ring-size', '0x800'], "error: option '--ring-size <n>' argument '0x800' is invalid. expected an integer from 64 to 16384"],
    [
      '--neighbor without a forwarding rule',
      () => [...base, '--neighbor', '10.0.0.3=02:00:00:00:00:03'],
      "error: option '--neighbor <addr=mac>' needs a forwarding rule (--forward or --config): nothing would use it",
    ],
    ['--feed-history without --grpc', () => [...base, '--feed-history', '4096'], "error: option '--feed-history' needs --grpc or --nats"],
    ['--feed-history-bytes without --grpc', () => [...base, '--feed-history-bytes', '1000000'], "error: option '--feed-history-bytes' needs --grpc or --nats"],
    ['--feed-queue without --grpc', () => [...base, '--feed-queue', '10'], "error: option '--feed-queue' needs --grpc"],
    ['--feed-queue-bytes without --grpc', () => [...base, '--feed-queue-bytes', '10'], "error: option '--feed-queue-bytes' needs --grpc"],
    [
      'a repeated --decode for the same port',
      () => ['--iface', 'lo', '--port', '9000,9001', '--grpc', '50051', '--decode', '9000=raw', '--decode', '9000=moldudp64'],
      "error: option '--decode <rules>' argument '9000=moldudp64' is invalid. port 9000 already has a decoder (raw); give each port one",
    ],
    [
      'a --decode value naming a port twice (through a range)',
      () => ['--iface', 'lo', '--port', '9000-9003', '--grpc', '50051', '--decode', '9000-9003=raw,9002=moldudp64'],
      "error: option '--decode <rules>' argument '9000-9003=raw,9002=moldudp64' is invalid. port 9002 already has a decoder (raw); give each port one",
    ],
    ['a FIFO as --config (it would hang)', () => ['--iface', 'lo', '--config', f('fifo')], `error: option '--config <file>' argument '${f('fifo')}' is invalid. not a regular file`],
    ['a directory as --config', () => ['--iface', 'lo', '--config', dir], `error: option '--config <file>' argument '${dir}' is invalid. is a directory, not a file`],
    ['a config whose "ports" is a string', () => ['--iface', 'lo', '--config', f('ports-string.json')], `xsk: --config: ${f('ports-string.json')}: "ports" must be an array of ports, not "9000"`],
    [
      'a config with a backend that is not a string',
      () => ['--iface', 'lo', '--config', f('backend-number.json')],
      `xsk: --config: ${f('backend-number.json')}: "forward"."9000"[1]: 7 is not an "ADDR:PORT" string`,
    ],
    [
      'a --tls-cert that is not PEM',
      () => [...base, '--grpc', '50051', '--tls-cert', f('garbage.pem'), '--tls-key', f('a.key')],
      `error: option '--tls-cert <file>' argument '${f('garbage.pem')}' is invalid. not a PEM certificate (no "-----BEGIN CERTIFICATE-----" line)`,
    ],
    [
      'a --tls-key that is not PEM',
      () => [...base, '--grpc', '50051', '--tls-cert', f('a.pem'), '--tls-key', f('garbage.pem')],
      `error: option '--tls-key <file>' argument '${f('garbage.pem')}' is invalid. not a PEM private key (no "-----BEGIN ... PRIVATE KEY-----" line)`,
    ],
    [
      'a directory as --tls-cert',
      () => [...base, '--grpc', '50051', '--tls-cert', dir, '--tls-key', f('a.key')],
      `error: option '--tls-cert <file>' argument '${dir}' is invalid. is a directory, not a file`,
    ],
    [
      'a --tls-key that is not the certificate\'s',
      () => [...base, '--grpc', '50051', '--tls-cert', f('a.pem'), '--tls-key', f('b.key')],
      `error: option '--tls-key <file>' argument '${f('b.key')}' is invalid. not the private key of the certificate in --tls-cert ${f('a.pem')}`,
    ],
  ];
  for (const [what, args, line] of cases) {
    it(`refuses ${what}`, () => {
      const r = run(args());
      assert.equal(r.stderr, line);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
    });
  }

  it('still takes -d 0, -d 2147483, --stats-interval 0 and 0.1, and 1-65535 in one range (parsing only)', async () => {
    const { parseOptions } = await import('../../src/cli/options.js');
    const o = parseOptions(['node', 'xsk', '--iface', 'lo', '--port', '1-65535', '-d', '2147483', '--stats-interval', '0.1']);
    assert.equal(o.ports.length, 65535);
    assert.equal(o.duration, 2147483);
    assert.equal(o.statsInterval, 0.1);
    const z = parseOptions(['node', 'xsk', '--iface', 'lo', '--port', '1-1000,2000-2999', '-d', '0', '--stats-interval', '0']);
    assert.equal(z.ports.length, 2000);
    assert.equal(z.duration, 0);
    assert.equal(z.statsInterval, 0);
  });
});
