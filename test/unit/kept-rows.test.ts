/**
 * Metrics read at each scrape keep their rows from one scrape to the next
 * (metrics/kept-rows.ts): the same row and label objects for the same label values, the value
 * updated in place, so a scrape leaves nothing behind for V8 to promote to old space; and label
 * objects are built without object spreads (metrics/prom.ts's withLabels), so V8 makes no new
 * maps, and enum caches for them, in old space at every scrape.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { Registry } from 'prom-client';
import { KeptRows } from '../../src/metrics/kept-rows.js';
import { counterFrom, gaugeFrom, withLabels } from '../../src/metrics/prom.js';

v8.setFlagsFromString('--allow-natives-syntax');
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

describe('metric rows kept across scrapes', () => {
  it('the same label values keep their row and label objects; values change in place; a set not read goes', () => {
    const kept = new KeptRows(['iface', 'queue'], 'last');
    const first = kept.update([[{ queue: '0', iface: 'eth0' }, 1], [{ iface: 'eth0', queue: '1' }, 2]]);
    assert.equal(first.length, 2);
    const [a, b] = first;
    assert.deepEqual(Object.keys(a.labels), ['iface', 'queue'], 'in the metric label order');
    const second = kept.update([[{ iface: 'eth0', queue: '0' }, 5], [{ iface: 'eth0', queue: '1' }, 6]]);
    assert.equal(second, first, 'the same list when no set came or went');
    assert.equal(second[0], a);
    assert.equal(a.value, 5);
    const third = kept.update([[{ iface: 'eth0', queue: '1' }, 7]]);
    assert.deepEqual(third, [b], 'queue 0 not read: gone');
    assert.equal(b.value, 7);
    const fourth = kept.update([[{ iface: 'eth0', queue: '0' }, 8], [{ iface: 'eth0', queue: '1' }, 9]]);
    assert.notEqual(fourth.find((r) => r.labels.queue === '0'), a, 'made again after it went');
    const empty = kept.update([[{ iface: 'eth0' }, 1], [{ iface: 'eth0', queue: '' }, 2]]);
    assert.equal(empty.length, 2, 'a label left out is not an empty one');
  });

  it('rows with the same labels in one read: a counter sums them, a gauge keeps the last', async () => {
    const reg = new Registry();
    counterFrom(reg, 'c_total', 'c', ['q'], () => [[{ q: '0' }, 2], [{ q: '0' }, 3]]);
    gaugeFrom(reg, 'g', 'g', ['q'], () => [[{ q: '0' }, 2], [{ q: '0' }, 3]]);
    const text = await reg.metrics();
    assert.match(text, /^c_total\{q="0"\} 5$/m);
    assert.match(text, /^g\{q="0"\} 3$/m);
    assert.match(text, /^# TYPE c_total counter$/m);
    assert.match(text, /^# TYPE g gauge$/m);
  });

  it('an undeclared label is refused by name at the scrape', async () => {
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
