/**
 * Run as a script by test/unit/gc-tally.test.ts, in a process of its own (the test runner's
 * own work would be weighed too): forces `n` young-generation collections while this thread's
 * collections are counted the way named by the argument, and prints as JSON how many were
 * counted and how much V8's old space grew meanwhile (no major GC runs in between, so garbage
 * left in old space stays counted).
 *   node --expose-gc --import tsx test/helpers/gc-count-weigh.ts tally|observer [n]
 *   tally:    src/metrics/gc-tally.ts (what xsk uses: the gc-watch addon, built by npm run build)
 *   observer: a PerformanceObserver on 'gc' entries (what it used before)
 */
import { oldSpaceUsed } from '../../src/metrics/runtime.js';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { gcTally } from '../../src/metrics/gc-tally.js';

const how = process.argv[2];
const n = Number(process.argv[3] ?? 3000);
const gc = (globalThis as { gc?: (o?: { type: 'minor' }) => void }).gc;
if (!gc || (how !== 'tally' && how !== 'observer')) throw new Error('usage: node --expose-gc --import tsx gc-count-weigh.ts tally|observer [n]');
const nextTurn = () => new Promise((r) => setImmediate(r));

let minor = 0;
let major = 0;
let stop: () => void;
let read: () => void;
if (how === 'tally') {
  const tally = gcTally();
  if (tally.fallback) throw new Error(`the tally fell back: ${tally.fallback}`);
  stop = tally.subscribe((kind) => (kind === 'minor' ? minor++ : kind === 'major' ? major++ : 0));
  read = () => tally.flush();
} else {
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail: { kind: number } }).detail.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  stop = () => observer.disconnect();
  read = () => {};
}

// Warm up (code, first records), then start from a clean heap and counters.
for (let i = 0; i < 200; i++) gc({ type: 'minor' });
await nextTurn();
read();
gc(); // a full collection (this V8 takes { type: 'major' } as minor)
await nextTurn();
read();
minor = 0;
major = 0;
const before = oldSpaceUsed();
// In rounds, each read between: the observer delivers its entries on a later turn, the tally
// at each read (and once a second).
for (let done = 0; done < n; ) {
  for (let i = 0; i < 100 && done < n; i++, done++) gc({ type: 'minor' });
  await nextTurn();
  read();
}
const grown = oldSpaceUsed() - before;
stop();
const totals = how === 'tally' ? gcTally().totals() : undefined;
console.log(JSON.stringify({ how, n, minor, major, old_space_grown: grown, totals }));
