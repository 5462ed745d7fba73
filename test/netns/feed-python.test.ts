/**
 * A client not written in TypeScript consumes the feed: Debian's python3-grpcio, its stubs
 * compiled from proto/feed.proto with python3-grpc-tools (always /usr/bin/python3: a python3
 * elsewhere on PATH may lack those modules).
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../../src/sandbox/netns.js';
import { XskProcess, runTool, stopLeftoverXsks } from '../../src/sandbox/xsk-process.js';

// An xsk left running by a failed assertion would hold the interface for every later test.
afterEach(stopLeftoverXsks);

const PY = '/usr/bin/python3';
const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../python/feed_client.py', import.meta.url));
const PORT = 9000;

describe('feed: a Python subscriber (grpcio)', () => {
  let sb: Sandbox;
  let stubs: string;
  before(() => {
    sb = new Sandbox({ name: 'xskf-py' });
    stubs = mkdtempSync(join(tmpdir(), 'xsk-feed-py-'));
    execFileSync(PY, ['-m', 'grpc_tools.protoc', `-I${PROTO_DIR}`, `--python_out=${stubs}`, `--grpc_python_out=${stubs}`, join(PROTO_DIR, 'feed.proto')]);
    assert.ok(existsSync(join(stubs, 'feed_pb2_grpc.py')));
  });
  after(() => {
    sb.destroy();
    rmSync(stubs, { recursive: true, force: true });
  });

  it('receives every MoldUDP64 message in order, decoded, and reads the server state', async () => {
    const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', 'native', '--decode', `${PORT}=moldudp64`, '--grpc', '127.0.0.1:50552']);
    await xsk.up();
    const py = sb.spawn(sb.dut, PY, [SCRIPT, '--stubs', stubs, '--addr', '127.0.0.1:50552', '--count', '5000', '--seconds', '20']);
    let out = '';
    let err = '';
    py.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((r) => py.on('exit', r));
    await new Promise<void>((resolve, reject) => {
      py.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        if (err.includes('subscribed')) resolve();
      });
      py.once('exit', () => reject(new Error(`python client exited early: ${err}`)));
    });
    const sent = await runTool(sb, sb.gen, 'mold-send', ['--to', sb.dutAddr, '--port', String(PORT), '--count', '500', '--messages', '10', '--session', 'PYSESSION']);
    assert.equal(sent.messages, 5000);
    assert.equal(await exited, 0, err);
    const r = JSON.parse(out.trim().split('\n').pop()!);
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.subscribed, true);
    assert.equal(r.messages, 5000);
    assert.equal(r.first_sequence, 1);
    assert.equal(r.last_sequence, 5000);
    assert.equal(r.jumps, 0);
    assert.equal(r.bad_payloads, 0);
    assert.deepEqual(r.sessions, ['PYSESSION ']);
    assert.deepEqual(r.kinds, ['MESSAGE_KIND_MOLDUDP64']);
    assert.deepEqual(r.sources, [sb.genAddr]);
    assert.equal(r.state_messages, 5000);
    assert.deepEqual(r.state_decoders, ['9000=moldudp64']);
    xsk.signal('SIGTERM');
    assert.equal(await xsk.exit(), 0);
  });
});
