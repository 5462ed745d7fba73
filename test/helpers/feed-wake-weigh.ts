/**
 * Run as a script by test/unit/feed-ingest-wake.test.ts, in a process of its own (the test
 * runner's async hooks leave garbage of their own at every setImmediate, which is not what is
 * weighed): a worker writes a datagram each time the main thread's feed ingest has parked, as a
 * datapath thread does, so each datagram is one wake-up; the main thread's old-space growth over
 * `n` of them is printed as JSON. (Needs `npm run build`: the worker runs dist/run/feed-ring.js.)
 *   node --import tsx test/helpers/feed-wake-weigh.ts [n]
 */
import { oldSpaceUsed } from '../../src/metrics/runtime.js';
import { Worker } from 'node:worker_threads';
import { createFeedRing, createFeedWake } from '../../src/run/feed-ring.js';
import { FeedIngest } from '../../src/run/feed-ingest.js';
import { History } from '../../src/feed/history.js';
import { FeedStage } from '../../src/feed/stage.js';
import { collectGarbage } from '../../src/util/gc.js';

const built = new URL('../../dist/run/feed-ring.js', import.meta.url).href;

/** Writes `count` datagrams, each once the reader is parked; says 'mark' before datagram `mark` and pauses 50 ms. */
const writer = `
  const { parentPort, workerData } = require('node:worker_threads');
  import(${JSON.stringify(built)}).then(({ FeedRingWriter }) => {
    const { ring, wake, count, mark } = workerData;
    const w = new FeedRingWriter(ring, wake);
    const bell = new Int32Array(ring.doorbell);
    const src = new Uint8Array(64);
    const view = { payloadOffset: 0, payloadLength: 16, rxNs: 1, ipVersion: 4, srcAddrOffset: 32, srcPort: 1, dstPort: 9000 };
    const nap = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + 60000;
    for (let i = 0; i < count; i++) {
      while (Atomics.load(bell, 1) === 0) {
        if (Date.now() > deadline) throw new Error('the reader never parked again after ' + i);
        Atomics.wait(nap, 0, 0, 0.02);
      }
      if (i === mark) {
        parentPort.postMessage('mark');
        Atomics.wait(nap, 0, 0, 50);
      }
      w.write(src, view);
      w.commit();
    }
  });`;

const n = Number(process.argv[2] ?? 20_000);
const warm = 2000;
const ring = createFeedRing(1 << 16);
const wake = createFeedWake();
const history = new History({ messages: 1 << 12, bytes: 1 << 20 });
const stage = new FeedStage(history, new Map([[9000, 'raw' as const]]), { dataWaiting() {} });
const ingest = new FeedIngest(stage, [ring], [wake.reader]);
const worker = new Worker(writer, { eval: true, workerData: { ring, wake: wake.writer, count: warm + n, mark: warm }, transferList: [wake.writer] });
let old0 = 0;
let wakes0 = 0;
worker.on('message', () => {
  collectGarbage();
  old0 = oldSpaceUsed();
  wakes0 = ingest.wakeups;
});
worker.on('error', (e) => {
  process.stderr.write(`writer: ${e.message}\n`);
  process.exit(1);
});
ingest.start();
const deadline = Date.now() + 60_000;
const poll = setInterval(() => {
  if (history.next - 1 < warm + n && Date.now() < deadline) return;
  clearInterval(poll);
  const grown = oldSpaceUsed() - old0;
  ingest.stop();
  void worker.terminate();
  process.stdout.write(JSON.stringify({ n, fed: history.next - 1 - warm, wakeups: ingest.wakeups - wakes0, old_space_grown: grown }) + '\n');
}, 20);
