/** The feed's flags: bad values give one line naming the flag and a non-zero exit. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseDecode, parseGrpcAddress } from '../../src/feed/flags.js';
import { addressBytes, formatAddress } from '../../src/feed/filter.js';

const XSK = fileURLToPath(new URL('../../dist/xsk.js', import.meta.url));
const CLIENT = fileURLToPath(new URL('../../dist/feed-client.js', import.meta.url));

function run(script: string, args: string[]) {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 10000 });
  return { code: r.status, stderr: r.stderr.trim() };
}

const base = ['--iface', 'lo', '--port', '9000'];
const cases: [string, string[], RegExp][] = [
  ['a --grpc address that is not one', [...base, '--grpc', 'nowhere:x'], /--grpc/],
  ['a --grpc host that is not an IP', [...base, '--grpc', 'example.com:50051'], /--grpc/],
  ['an unknown decoder', [...base, '--grpc', '50051', '--decode', '9000=fix'], /--decode.*"fix" is not a decoder/],
  ['a --decode rule without =', [...base, '--grpc', '50051', '--decode', '9000'], /--decode/],
  ['--decode for a port not received', [...base, '--grpc', '50051', '--decode', '9001=moldudp64'], /--decode.*9001/],
  ['--decode without --grpc', [...base, '--decode', '9000=raw'], /--decode.*needs --grpc/],
  ['--tls-cert without --tls-key', [...base, '--grpc', '50051', '--tls-cert', '/etc/hostname'], /--tls-key/],
  ['a --tls-key that does not exist', [...base, '--grpc', '50051', '--tls-cert', '/etc/hostname', '--tls-key', '/nonexistent.pem'], /--tls-key.*no such file/],
  ['--feed-history too small', [...base, '--grpc', '50051', '--feed-history', '10'], /--feed-history/],
  ['--feed-queue above --feed-history', [...base, '--grpc', '50051', '--feed-history', '2048', '--feed-queue', '4096'], /--feed-queue/],
  ['--feed-queue-bytes above half the history bytes', [...base, '--grpc', '50051', '--feed-history-bytes', '1000000', '--feed-queue-bytes', '600000'], /--feed-queue-bytes/],
];

describe('feed flags', () => {
  for (const [what, args, names] of cases) {
    it(`xsk rejects ${what}`, () => {
      const r = run(XSK, args);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.split('\n').length, 1, r.stderr);
      assert.match(r.stderr, names);
    });
  }

  it('xsk-feed-client rejects a bad address, policy or kind with one line naming the flag', () => {
    for (const [args, names] of [
      [['--addr', 'x'], /--addr/],
      [['--addr', '50051', '--policy', 'wait'], /--policy/],
      [['--addr', '50051', '--kind', 'fix'], /--kind/],
      [['--addr', '50051', '--port', '0'], /--port/],
    ] as [string[], RegExp][]) {
      const r = run(CLIENT, args);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.split('\n').length, 1, r.stderr);
      assert.match(r.stderr, names);
    }
  });

  it('parses --decode and --grpc', () => {
    assert.deepEqual([...parseDecode('9000=moldudp64,9001-9002=raw')], [[9000, 'moldudp64'], [9001, 'raw'], [9002, 'raw']]);
    assert.deepEqual([...parseDecode('9003=raw', parseDecode('9000=moldudp64'))], [[9000, 'moldudp64'], [9003, 'raw']]);
    assert.deepEqual(parseGrpcAddress('50051'), { host: '127.0.0.1', port: 50051 });
    assert.deepEqual(parseGrpcAddress('0.0.0.0:1'), { host: '0.0.0.0', port: 1 });
    assert.deepEqual(parseGrpcAddress('[::1]:50051'), { host: '::1', port: 50051 });
  });

  it('formats and parses source addresses both ways', () => {
    for (const a of ['10.0.0.1', '::1', 'fd00:199::2', '2001:db8:0:1:0:0:0:1', 'fe80::1:2']) {
      const back = formatAddress(addressBytes(a));
      assert.deepEqual(addressBytes(back), addressBytes(a), `${a} -> ${back}`);
    }
    assert.equal(formatAddress(addressBytes('fd00:199:0:0:0:0:0:2')), 'fd00:199::2');
    assert.equal(formatAddress(addressBytes('::ffff:10.0.0.1')), '::ffff:10.0.0.1');
  });
});
