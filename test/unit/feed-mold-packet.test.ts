/** The test sender's fast MoldUDP64 packet writer makes exactly the reference builder's bytes. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { moldPacket, moldTestPacket, sessionBytes, testMessage } from '../../src/feed/mold-packet.js';

it('moldTestPacket writes the same bytes as moldPacket of testMessages', () => {
  const cases: [number, number, number, bigint][] = [
    [1, 10, 40, 0n],
    [4294967290, 7, 16, 123456789012345n],
    [2 ** 40 + 3, 1, 100, 5n],
    [77, 0, 20, 0n],
  ];
  for (const [seq, count, size, ns] of cases) {
    const ref = moldPacket('SESS', seq, Array.from({ length: count }, (_, k) => testMessage(seq + k, size, ns)));
    assert.deepEqual(moldTestPacket(sessionBytes('SESS'), seq, count, size, ns), ref, `seq ${seq} count ${count}`);
  }
});
