/** What --stage accepts from a factory: a Stage with datagram(buf, off, len, p), nothing else. */
import { it, describe } from 'node:test';
import assert from 'node:assert/strict';
import { checkStage } from '../../src/run/user-stage.js';

describe('--stage checks', () => {
  it('accepts datagram(buf, off, len, p) and fewer parameters', () => {
    checkStage('./s.js', { datagram: (_b: unknown, _o: unknown, _l: unknown, _p: unknown) => -1 });
    checkStage('./s.js', { datagram: () => -1 });
  });
  it('refuses a stage written for the old fifth argument, saying where the time is now', () => {
    assert.throws(
      () => checkStage('./old.js', { datagram: (_b: unknown, _o: unknown, _l: unknown, _p: unknown, _rxNs: unknown) => -1 }),
      /--stage \.\/old\.js: datagram\(\) declares more than 4 parameters.*p\.rxNs/,
    );
  });
  it('refuses a factory result without datagram()', () => {
    assert.throws(() => checkStage('./none.js', {}), /--stage \.\/none\.js: the factory returned no Stage/);
    assert.throws(() => checkStage('./none.js', undefined), /no Stage/);
  });
});
