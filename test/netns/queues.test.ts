/** A veth with several RX queues: xsk binds one and says that it does not see the others. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from '../../src/sandbox/netns.js';
import { XskProcess } from '../../src/sandbox/xsk-process.js';

describe('an interface with more RX queues than xsk binds', () => {
  const sb = new Sandbox({ name: 'xskt-q', rxQueues: 2, txQueues: 2 });
  after(() => sb.destroy());

  it('warns about the unbound queues and still runs', async () => {
    const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000', '--queue', '1', '--duration', '0.5']);
    assert.equal(await xsk.exit(), 0, xsk.stderr);
    assert.match(xsk.stderr, /dut0 has 2 RX queues and xsk binds only queue 1/);
    assert.equal(xsk.summary().queue, 1);
  });

  it('rejects a queue the interface does not have, naming --queue', async () => {
    const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', '9000', '--queue', '2']);
    assert.notEqual(await xsk.exit(), 0);
    assert.match(xsk.stderr, /--queue: dut0 has 2 RX queue\(s\), no queue 2/);
  });
});
