/**
 * Which is cheaper for a queue worker to hand datagrams to the main thread: the
 * SharedArrayBuffer ring xsk uses (src/run/feed-ring.ts), or batches of records in
 * ArrayBuffers transferred through a MessagePort (and sent back for reuse)? Both move the
 * same records (64-byte payloads) from a worker to this thread; we time them and count the
 * process's CPU. Bounded by --count.
 *   node --import tsx bench/feed-transport.ts [--count 2000000]
 * (Needs `npm run build`: the worker side runs from dist/.)
 */
import { Worker } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { createFeedRing, FeedRingReader, type FeedRecordSink } from '../src/run/feed-ring.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '2000000' }, runs: { type: 'string', default: '3' } } });
const COUNT = Number(values.count);
const RING = new URL('../dist/run/feed-ring.js', import.meta.url).href;

const ringWorker = `
const { parentPort, workerData } = require('node:worker_threads');
import(${JSON.stringify(RING)}).then(({ FeedRingWriter }) => {
  const w = new FeedRingWriter(workerData.ring);
  const src = new Uint8Array(128);
  // The fields of the parsed datagram (src/frame/datagram.ts) the writer reads.
  const p = { ipVersion: 4, srcAddrOffset: 0, srcPort: 1000, dstPort: 9000, payloadOffset: 32, payloadLength: 64, rxNs: 0 };
  for (let i = 0; i < workerData.count; ) {
    p.rxNs = i;
    if (w.write(src, p)) { i++; if ((i & 63) === 0) w.commit(); } else { w.commit(); }
  }
  w.commit();
  parentPort.postMessage('done');
});`;

// The same record layout, 96 bytes each, 256 to a batch buffer; buffers go back and forth.
const portWorker = `
const { parentPort, workerData } = require('node:worker_threads');
const REC = 96, PER = 256;
const free = [];
for (let i = 0; i < 64; i++) free.push(new ArrayBuffer(REC * PER));
parentPort.on('message', (b) => free.push(b));
let i = 0;
function pump() {
  while (i < workerData.count) {
    const buf = free.pop();
    if (!buf) return setImmediate(pump);
    const u8 = new Uint8Array(buf); const f64 = new Float64Array(buf);
    let n = 0;
    for (; n < PER && i < workerData.count; n++, i++) {
      const o = n * REC;
      u8[o] = 64; u8[o + 2] = 0xe8; u8[o + 3] = 3; f64[(o + 8) >> 3] = i;
      for (let k = 0; k < 64; k++) u8[o + 32 + k] = k;
    }
    parentPort.postMessage({ buf, n }, [buf]);
  }
  parentPort.postMessage({ done: true });
}
pump();`;

async function viaRing(): Promise<number> {
  const ring = createFeedRing(4 << 20);
  const reader = new FeedRingReader(ring);
  let got = 0;
  const sink: FeedRecordSink = { record: () => void got++ };
  const t0 = performance.now();
  const w = new Worker(ringWorker, { eval: true, workerData: { ring, count: COUNT } });
  // Drained every millisecond (xsk's main thread is woken by the ring's doorbell instead,
  // src/run/feed-ingest.ts; this compares the transports, not the wake-up).
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      reader.drain(sink);
      if (got >= COUNT) {
        clearInterval(t);
        resolve();
      }
    }, 1);
  });
  const ms = performance.now() - t0;
  await w.terminate();
  return ms;
}

async function viaPort(): Promise<number> {
  let got = 0;
  let sum = 0;
  const t0 = performance.now();
  const w = new Worker(portWorker, { eval: true, workerData: { count: COUNT } });
  await new Promise<void>((resolve) => {
    w.on('message', (m: { buf?: ArrayBuffer; n?: number; done?: boolean }) => {
      if (m.buf) {
        const f64 = new Float64Array(m.buf);
        for (let k = 0; k < m.n!; k++) sum += f64[(k * 96 + 8) >> 3];
        got += m.n!;
        w.postMessage(m.buf, [m.buf]);
      }
      if (got >= COUNT) resolve();
    });
  });
  const ms = performance.now() - t0;
  void sum;
  await w.terminate();
  return ms;
}

const rows: Record<string, number[]> = { 'SharedArrayBuffer ring': [], 'MessagePort transfers': [] };
for (let r = 0; r < Number(values.runs); r++) {
  for (const [name, fn] of [['SharedArrayBuffer ring', viaRing], ['MessagePort transfers', viaPort]] as const) {
    const cpu0 = process.cpuUsage();
    const ms = await fn();
    const cpu = process.cpuUsage(cpu0);
    rows[name].push(ms);
    console.log(`${name}: ${(COUNT / ms / 1000).toFixed(2)} M records/s, ${(((cpu.user + cpu.system) * 1000) / COUNT).toFixed(0)} ns CPU/record (both threads)`);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, ms] of Object.entries(rows)) console.log(`median ${name}: ${(COUNT / median(ms) / 1000).toFixed(2)} M records/s`);
