/**
 * Metrics read at each scrape hand prom-client label objects: the same object for the same
 * values from one scrape to the next (metrics/label-sets.ts), built without object spreads
 * (metrics/prom.ts's withLabels), so that V8 does not make new maps, and enum caches for them,
 * in old space at every scrape.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { Registry } from 'prom-client';
import { LabelSets } from '../../src/metrics/label-sets.js';
import { counterFrom, withLabels } from '../../src/metrics/prom.js';

v8.setFlagsFromString('--allow-natives-syntax');
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

describe('metric label objects', () => {
  it('the same values give the same object from scrape to scrape; unused sets go after two scrapes', () => {
    const sets = new LabelSets(['iface', 'queue']);
    sets.scrape();
    const a = sets.get({ queue: '0', iface: 'eth0' });
    const b = sets.get({ iface: 'eth0', queue: '1' });
    assert.notEqual(a, b);
    assert.deepEqual(Object.keys(a), ['iface', 'queue'], 'in the metric label order');
    sets.scrape();
    assert.equal(sets.get({ iface: 'eth0', queue: '0' }), a);
    sets.scrape();
    sets.scrape();
    assert.notEqual(sets.get({ iface: 'eth0', queue: '1' }), b, 'not seen for two scrapes: made again');
    assert.notEqual(sets.get({ iface: 'eth0' }), sets.get({ iface: 'eth0', queue: '' }), 'a label left out is not an empty one');
  });

  it('an undeclared label still reaches prom-client, which names it', async () => {
    const reg = new Registry();
    counterFrom(reg, 'x_total', 'x', ['queue'], () => [[{ queue: '0', bogus: 'y' }, 1]]);
    await assert.rejects(reg.metrics(), /bogus/);
  });

  it('withLabels gives results of one shape one map (an object spread made a new map each time)', () => {
    const base = { iface: 'eth0', mode: 'native' };
    const make = (k: string) => withLabels(base, { counter: k });
    const first = make('a');
    for (let i = 0; i < 100; i++) make('b');
    assert.ok(haveSameMap(first, make('c')));
    assert.deepEqual(make('d'), { iface: 'eth0', mode: 'native', counter: 'd' });
  });
});
