/**
 * The feed benchmark's C sender (bench/c/mold_send.c, built to build/bench/mold_send) sends the
 * same bytes as the TypeScript builder the tests and the client check against (moldTestPacket),
 * over IPv4 and IPv6 loopback, with and without send stamps; bad flags get a one-line error.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { spawnSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { moldTestPacket, sessionBytes } from '../../src/feed/mold-packet.js';

const MOLD_SEND = fileURLToPath(new URL('../../build/bench/mold_send', import.meta.url));

async function capture(family: 'udp4' | 'udp6', args: string[], packets: number): Promise<{ got: Buffer[]; out: string; before: bigint; after: bigint }> {
  const sock = dgram.createSocket(family);
  const host = family === 'udp4' ? '127.0.0.1' : '::1';
  await new Promise<void>((r) => sock.bind(0, host, r));
  const got: Buffer[] = [];
  const all = new Promise<void>((resolve) =>
    sock.on('message', (m) => {
      got.push(m);
      if (got.length === packets) resolve();
    }),
  );
  const before = process.hrtime.bigint();
  const child = spawn(MOLD_SEND, ['--to', host, '--port', String(sock.address().port), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  const timeout = setTimeout(() => child.kill(), 10000);
  assert.equal(await exited, 0);
  const after = process.hrtime.bigint();
  await Promise.race([all, new Promise((r) => setTimeout(r, 2000))]);
  clearTimeout(timeout);
  sock.close();
  return { got, out, before, after };
}

describe('C mold_send', () => {
  for (const family of ['udp4', 'udp6'] as const) {
    it(`sends moldTestPacket's bytes (${family})`, async () => {
      const { got, out } = await capture(family, ['--count', '7', '--messages', '3', '--size', '24', '--first-seq', '100', '--session', 'ABC'], 7);
      assert.deepEqual(JSON.parse(out), { sent: 7, messages: 21, seconds: JSON.parse(out).seconds });
      assert.equal(got.length, 7);
      got.sort((a, b) => a.readUInt32BE(14) - b.readUInt32BE(14));
      for (let i = 0; i < 7; i++) assert.deepEqual(got[i], moldTestPacket(sessionBytes('ABC'), 100 + i * 3, 3, 24, 0n), `packet ${i}`);
    });
  }

  it('stamps each packet with its send time, paced at --rate', async () => {
    const { got, before, after } = await capture('udp4', ['--count', '20', '--messages', '2', '--size', '16', '--rate', '200', '--stamp'], 20);
    assert.equal(got.length, 20);
    // 20 packets at 200/s take ~0.1 s.
    assert.ok(after - before >= 80_000_000n, `took ${after - before} ns`);
    for (const p of got) {
      const seq = p.readUInt32BE(14);
      const ns = p.readBigUInt64BE(20 + 2 + 8);
      assert.ok(ns >= before && ns <= after, `stamp ${ns} outside [${before}, ${after}]`);
      assert.deepEqual(p, moldTestPacket(sessionBytes('TEST'), seq, 2, 16, ns));
    }
  });

  it('says which flag is wrong, in one line', () => {
    for (const [args, flag] of [
      [['--port', '9000'], '--to'],
      [['--to', '10.0.0.1', '--port', '70000'], '--port'],
      [['--to', 'nowhere', '--port', '9000'], '--to'],
      [['--to', '10.0.0.1', '--port', '9000', '--count', 'x'], '--count'],
      [['--to', '10.0.0.1', '--port', '9000', '--messages', '5000', '--size', '100'], '--messages'],
    ] as const) {
      const r = spawnSync(MOLD_SEND, [...args], { encoding: 'utf8' });
      assert.equal(r.status, 2, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^mold_send: .*${flag}`), r.stderr);
    }
  });
});
