/**
 * The control plane busy does not cost the datapath: 200 grpcio subscribers connect at once
 * while datagrams arrive at 4,000/s. The datapath runs in its own thread, so the RX ring never
 * overflows and every datagram is received and fed, however long the main thread is busy with
 * HTTP/2 handshakes and 200 streams. (Before, the receive loop shared the main thread with
 * grpc-js: the same crowd made xsk lose 417 to 11,138 frames to rx_ring_full.)
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../../src/sandbox/netns.js';
import { XskProcess, stopLeftoverXsks } from '../../src/sandbox/xsk-process.js';

// An xsk left running by a failed assertion would hold the interface for every later test.
afterEach(stopLeftoverXsks);

const PY = '/usr/bin/python3';
const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));
const CROWD = fileURLToPath(new URL('../python/crowd.py', import.meta.url));
const MOLD_SEND = fileURLToPath(new URL('../../build/bench/mold_send', import.meta.url));
const PACKETS = 24000;
const RATE = 4000;

/** A child's output, and its exit code, waited for at most `ms` (then it is killed and the test fails). */
function lines(child: ReturnType<Sandbox['spawn']>, what: string, ms: number): { out: () => string; err: () => string; exited: Promise<number | null> } {
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not exit within ${ms} ms: ${err}`));
    }, ms);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
  exited.catch(() => {}); // awaited below; a rejection before that is not unhandled
  return { out: () => out, err: () => err, exited };
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('feed: 200 subscribers connecting at once', () => {
  let sb: Sandbox;
  let stubs: string;
  before(() => {
    sb = new Sandbox({ name: 'xskf-crowd' });
    stubs = mkdtempSync(join(tmpdir(), 'xsk-crowd-'));
    execFileSync(PY, ['-m', 'grpc_tools.protoc', `-I${PROTO_DIR}`, `--python_out=${stubs}`, `--grpc_python_out=${stubs}`, join(PROTO_DIR, 'feed.proto')]);
  });
  after(() => {
    sb.destroy();
    rmSync(stubs, { recursive: true, force: true });
  });

  it('costs the datapath nothing: no rx_ring_full, every datagram received and fed', async () => {
    const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000', '--mode', 'native', '--grpc', '127.0.0.1:50581', '--stats-interval', '0']);
    await xsk.up();
    const crowd = lines(sb.spawn(sb.dut, PY, [CROWD, '--stubs', stubs, '--addr', '127.0.0.1:50581', '--clients', '200', '--delay', '1', '--seconds', '6']), 'the crowd', 60000);
    await until('the crowd to be ready', () => crowd.err().includes('ready'), 30000);
    // 6 s of traffic at 4,000/s; the crowd is released 1 s into it, all at once.
    const sender = lines(sb.spawn(sb.gen, MOLD_SEND, ['--to', sb.dutAddr, '--port', '9000', '--count', String(PACKETS), '--messages', '1', '--size', '32', '--rate', String(RATE), '--seconds', '20']), 'mold_send', 30000);
    assert.equal(await sender.exited, 0, sender.err());
    assert.equal(JSON.parse(sender.out().trim()).sent, PACKETS);
    assert.equal(await crowd.exited, 0, crowd.err());
    const c = JSON.parse(crowd.out().trim().split('\n').pop()!);
    assert.deepEqual(c.errors, []);
    assert.equal(c.subscribed, 200, JSON.stringify(c));
    assert.ok(c.messages > 0);
    xsk.signal('SIGTERM');
    assert.equal(await xsk.exit(), 0, xsk.stderr);
    const s = xsk.summary();
    assert.equal(s.xdp_stats.rx_ring_full, 0, JSON.stringify(s.xdp_stats));
    assert.equal(s.rx_packets, PACKETS);
    assert.equal(s.feed.datagrams, PACKETS);
    assert.equal(s.feed_overflows, 0);
    assert.equal(s.feed.subscribers.total, 200);
  });
});
