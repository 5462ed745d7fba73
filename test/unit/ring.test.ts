/**
 * Unit tests for the AF_XDP ring views (src/afxdp/ring.ts).
 *
 * The rings are built over an ordinary ArrayBuffer laid out like the kernel's mapping, and the
 * kernel's side is played by hand by the SimRing helper (test/helpers/ring-sim.ts) through a
 * Uint32Array over the same buffer.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  ADDR_WORDS,
  ConsumerRing,
  DESC_WORDS,
  ProducerRing,
  descAddr,
  descLen,
  getAddr,
  setAddr,
  setDesc,
} from '../../src/afxdp/ring.js';
import { SimRing, mulberry32, randInt } from '../helpers/ring-sim.js';

const NEAR_WRAP = 0xfffffff0;

function producer(sim: SimRing): ProducerRing {
  return new ProducerRing(sim.mem, sim.size, sim.descWords);
}
function consumer(sim: SimRing): ConsumerRing {
  return new ConsumerRing(sim.mem, sim.size, sim.descWords);
}

/** Reserve n slots on an address ring, write addrs, submit. Returns the first index. */
function pushAddrs(ring: ProducerRing, addrs: readonly number[]): number {
  const idx = ring.reserve(addrs.length);
  assert.notEqual(idx, -1, `reserve(${addrs.length}) failed`);
  for (let i = 0; i < addrs.length; i++) setAddr(ring, idx + i, addrs[i]);
  ring.submit(addrs.length);
  return idx;
}

/** Peek up to n on an address ring, read the addrs, release them. */
function pullAddrs(ring: ConsumerRing, n: number): number[] {
  const got = ring.peek(n);
  const out: number[] = [];
  for (let i = 0; i < got; i++) out.push(getAddr(ring, ring.idx + i));
  ring.release(got);
  return out;
}

describe('ring construction', () => {
  test('a size that is not a power of two throws', () => {
    const sim = new SimRing(8, ADDR_WORDS);
    for (const bad of [0, -1, -8, 3, 5, 6, 7, 12, 1000, 2047]) {
      assert.throws(() => new ProducerRing(sim.mem, bad, ADDR_WORDS), /power of two/, `ProducerRing size ${bad}`);
      assert.throws(() => new ConsumerRing(sim.mem, bad, ADDR_WORDS), /power of two/, `ConsumerRing size ${bad}`);
    }
    for (const good of [1, 2, 4, 8]) {
      const s = new SimRing(good, DESC_WORDS);
      const p = new ProducerRing(s.mem, good, DESC_WORDS);
      assert.equal(p.size, good);
      assert.equal(p.mask, good - 1);
      assert.equal(p.desc.length, good * DESC_WORDS);
      const c = new ConsumerRing(s.mem, good, DESC_WORDS);
      assert.equal(c.mask, good - 1);
    }
  });

  test('the producer ring starts with the shared indices (partly full ring across the wrap)', () => {
    // 6 entries outstanding in a ring of 8, the producer index already past 2^32.
    const sim = new SimRing(8, ADDR_WORDS, { producer: 0x00000002, consumer: 0xfffffffc });
    const p = producer(sim);
    assert.equal(p.cachedProd, 2);
    assert.equal(p.cachedCons, 4, 'cached consumer + size must be kept as a u32');
    assert.equal(p.free(1), 2);
    assert.equal(p.pending(), 6);
    assert.equal(p.reserve(3), -1);
    assert.equal(p.reserve(2), 2);
  });

  test('the consumer ring starts with the shared indices (entries waiting across the wrap)', () => {
    const sim = new SimRing(8, ADDR_WORDS, { producer: 0xfffffffc, consumer: 0xfffffffc });
    sim.kernelProduce([
      [10, 0],
      [11, 0],
      [12, 0],
      [13, 0],
      [14, 0],
    ]);
    assert.equal(sim.producer, 1);
    const c = consumer(sim);
    assert.equal(c.pending(), 5);
    assert.equal(c.peek(8), 5);
    assert.equal(c.idx, 0xfffffffc);
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => getAddr(c, c.idx + i)), [10, 11, 12, 13, 14]);
  });
});

describe('ProducerRing (FILL/TX)', () => {
  test('reserve returns -1 and reserves nothing when there is not enough room', () => {
    const sim = new SimRing(8, ADDR_WORDS);
    const p = producer(sim);
    assert.equal(p.reserve(9), -1, 'more than the ring size');
    assert.equal(p.cachedProd, 0, 'a failed reserve must not move the cached producer');
    assert.equal(p.reserve(5), 0);
    assert.equal(p.reserve(4), -1, 'only 3 left');
    assert.equal(p.cachedProd, 5);
    assert.equal(p.reserve(3), 5);
    assert.equal(p.reserve(1), -1, 'full');
    assert.equal(p.cachedProd, 8);
    p.submit(8);
    assert.equal(sim.producer, 8);
    // still full: the kernel has taken nothing
    assert.equal(p.reserve(1), -1);
    assert.equal(p.cachedProd, 8);
    assert.equal(sim.producer, 8, 'a failed reserve must not publish anything');
  });

  test('reserve + fill does not publish; submit does', () => {
    const sim = new SimRing(8, ADDR_WORDS);
    const p = producer(sim);
    const idx = p.reserve(3);
    assert.equal(idx, 0);
    setAddr(p, idx, 0x1000);
    setAddr(p, idx + 1, 0x2000);
    setAddr(p, idx + 2, 0x3000);
    assert.equal(sim.producer, 0, 'producer index published before submit');
    assert.equal(p.pending(), 0);
    assert.deepEqual(sim.kernelConsume(), [], 'kernel saw unsubmitted entries');
    p.submit(3);
    assert.equal(sim.producer, 3);
    assert.equal(p.pending(), 3);
    assert.deepEqual(sim.kernelConsume(), [
      [0x1000, 0],
      [0x2000, 0],
      [0x3000, 0],
    ]);
    assert.equal(p.pending(), 0);
  });

  test('two reservations then one submit publish both', () => {
    const sim = new SimRing(8, ADDR_WORDS);
    const p = producer(sim);
    const a = p.reserve(2);
    const b = p.reserve(3);
    assert.equal(a, 0);
    assert.equal(b, 2);
    for (let i = 0; i < 5; i++) setAddr(p, i, 100 + i);
    p.submit(5);
    assert.deepEqual(sim.kernelConsume().map((e) => e[0]), [100, 101, 102, 103, 104]);
  });

  test('cached consumer index: freed room is seen only after a reload, and a reload happens when the cache says full', () => {
    const sim = new SimRing(8, ADDR_WORDS);
    const p = producer(sim);
    pushAddrs(p, [1, 2, 3, 4, 5, 6]);
    assert.equal(p.cachedCons, 8);
    // The kernel takes all six: 8 slots are really free now.
    assert.equal(sim.kernelConsume().length, 6);
    assert.equal(sim.consumer, 6);
    // The cache still says 2 free; asking for <= 2 does not reload.
    assert.equal(p.free(2), 2);
    assert.equal(p.cachedCons, 8, 'reloaded although the cache had enough room');
    assert.equal(p.reserve(2), 6);
    assert.equal(p.cachedCons, 8);
    p.submit(2);
    // Cache says full: the next reserve reloads and sees the room the kernel freed.
    assert.equal(p.reserve(1), 8);
    assert.equal(p.cachedCons, 14);
    p.submit(1);
    assert.equal(p.free(100), 5);
    // A free() asking for more than the cache holds reloads too.
    sim.kernelConsume(1);
    assert.equal(p.free(1), 5, 'no reload: the cache shows enough');
    assert.equal(p.free(6), 6, 'reload: the cache showed too few');
    assert.equal(p.cachedCons, 15);
  });

  test('setAddr writes the u64 address (high word 0) into the masked slot', () => {
    const sim = new SimRing(4, ADDR_WORDS, { producer: 2, consumer: 2 });
    sim.words.fill(0xdeadbeef, 192 >> 2); // dirty descriptor area
    const p = producer(sim);
    const addrs = [0, 0x1000, 0xfffff000, 0xffffffff];
    pushAddrs(p, addrs);
    assert.deepEqual(sim.kernelConsume(), addrs.map((a) => [a, 0]));
    assert.deepEqual(sim.readSlot(0), [0xfffff000, 0], 'index 4 lands in slot 0');
  });

  test('setDesc writes addr/len (high word and options 0) and descAddr/descLen read them back', () => {
    const sim = new SimRing(4, DESC_WORDS, { producer: 3, consumer: 3 });
    sim.words.fill(0xdeadbeef, 192 >> 2);
    const p = producer(sim);
    const idx = p.reserve(4);
    assert.equal(idx, 3);
    const entries = [
      [0x0000, 60],
      [0x1100, 1514],
      [0xfffff100, 9000],
      [0xffffffff, 0xffffffff],
    ];
    entries.forEach(([a, l], i) => setDesc(p, idx + i, a, l));
    entries.forEach(([a, l], i) => {
      assert.equal(descAddr(p, idx + i), a, `descAddr ${i}`);
      assert.equal(descLen(p, idx + i), l, `descLen ${i}`);
    });
    p.submit(4);
    assert.deepEqual(sim.kernelConsume(), entries.map(([a, l]) => [a, 0, l, 0]));
  });

  test('needsWakeup follows bit 0 of the flags word', () => {
    const sim = new SimRing(8, DESC_WORDS);
    const p = producer(sim);
    const c = consumer(sim);
    for (const [flags, want] of [
      [0, false],
      [1, true],
      [2, false],
      [3, true],
      [0xfffffffe, false],
      [0xffffffff, true],
      [0, false],
    ] as const) {
      sim.flags = flags;
      assert.equal(p.needsWakeup(), want, `producer, flags=${flags.toString(16)}`);
      assert.equal(c.needsWakeup(), want, `consumer, flags=${flags.toString(16)}`);
    }
  });
});

describe('ConsumerRing (RX/COMPLETION)', () => {
  test('entries are seen only after the producer index is stored', () => {
    const sim = new SimRing(8, ADDR_WORDS);
    const c = consumer(sim);
    // The kernel writes the slots but has not published them.
    sim.writeSlot(0, [0xaaa, 0]);
    sim.writeSlot(1, [0xbbb, 0]);
    assert.equal(c.peek(8), 0);
    assert.equal(c.pending(), 0);
    sim.producer = 2;
    assert.equal(c.pending(), 2);
    assert.equal(c.peek(8), 2);
    assert.equal(c.idx, 0);
    assert.equal(getAddr(c, 0), 0xaaa);
    assert.equal(getAddr(c, 1), 0xbbb);
  });

  test('peek returns at most what is available and sets idx', () => {
    const sim = new SimRing(8, ADDR_WORDS, { producer: 100, consumer: 100 });
    const c = consumer(sim);
    assert.equal(sim.kernelProduce([1, 2, 3, 4, 5].map((a) => [a, 0])), 5);
    assert.equal(c.peek(3), 3);
    assert.equal(c.idx, 100);
    assert.equal(c.peek(10), 2);
    assert.equal(c.idx, 103);
    assert.equal(c.peek(1), 0);
    assert.equal(c.idx, 103, 'an empty peek must leave idx alone');
    assert.equal(c.peek(0), 0);
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => getAddr(c, 100 + i)), [1, 2, 3, 4, 5]);
  });

  test('release publishes the consumer index; peek alone does not', () => {
    const sim = new SimRing(4, ADDR_WORDS);
    const c = consumer(sim);
    sim.kernelProduce([[1, 0], [2, 0], [3, 0], [4, 0]]);
    assert.equal(sim.room(), 0);
    assert.equal(c.peek(3), 3);
    assert.equal(sim.consumer, 0, 'peek published the consumer index');
    assert.equal(sim.kernelProduce([[5, 0]]), 0, 'kernel overwrote a peeked slot');
    c.release(2);
    assert.equal(sim.consumer, 2);
    c.release(1);
    assert.equal(sim.consumer, 3);
    assert.equal(c.pending(), 1);
    assert.equal(sim.kernelProduce([[5, 0], [6, 0], [7, 0], [8, 0]]), 3);
    assert.equal(c.peek(4), 1, 'the cache still holds one entry: no reload');
    assert.equal(c.idx, 3);
    assert.equal(getAddr(c, 3), 4);
    c.release(1);
    assert.equal(c.peek(4), 3, 'cache empty: reload');
    assert.equal(c.idx, 4);
    assert.deepEqual([4, 5, 6].map((i) => getAddr(c, i)), [5, 6, 7]);
  });

  test('cached producer index: new entries are seen only when the cache is empty', () => {
    const sim = new SimRing(8, ADDR_WORDS);
    const c = consumer(sim);
    sim.kernelProduce([[1, 0], [2, 0]]);
    assert.equal(c.peek(1), 1);
    assert.equal(c.cachedProd, 2);
    sim.kernelProduce([[3, 0], [4, 0], [5, 0]]);
    assert.equal(c.available(10), 1, 'reloaded although the cache was not empty');
    assert.equal(c.cachedProd, 2);
    assert.equal(c.peek(10), 1);
    assert.equal(c.available(10), 3);
    assert.equal(c.cachedProd, 5);
    assert.equal(c.available(2), 2, 'available() is capped at the wanted count');
  });

  test('getAddr reads the completion address; descAddr/descLen read RX descriptors', () => {
    const comp = new SimRing(4, ADDR_WORDS, { producer: 7, consumer: 7 });
    const cr = consumer(comp);
    comp.kernelProduce([[0xfffff000, 0], [0x2000, 0], [0, 0], [0xffffffff, 0]]);
    assert.equal(cr.peek(4), 4);
    assert.deepEqual([0, 1, 2, 3].map((i) => getAddr(cr, cr.idx + i)), [0xfffff000, 0x2000, 0, 0xffffffff]);

    const rx = new SimRing(4, DESC_WORDS, { producer: 0xfffffffe, consumer: 0xfffffffe });
    const rr = consumer(rx);
    const entries = [
      [0x100, 64],
      [0x1100, 1514],
      [0xfffff100, 9000],
      [0x3100, 0xffffffff],
    ];
    rx.kernelProduce(entries.map(([a, l], i) => [a, 0, l, i]));
    assert.equal(rr.peek(4), 4);
    assert.equal(rr.idx, 0xfffffffe);
    entries.forEach(([a, l], i) => {
      assert.equal(descAddr(rr, rr.idx + i), a, `descAddr ${i}`);
      assert.equal(descLen(rr, rr.idx + i), l, `descLen ${i}`);
    });
  });
});

describe('32-bit index wrap-around', () => {
  test('FILL-like producer ring: several ring-sizes of addresses across 2^32', () => {
    const size = 8;
    const sim = new SimRing(size, ADDR_WORDS, { producer: NEAR_WRAP, consumer: NEAR_WRAP });
    const p = producer(sim);
    const sent: number[] = [];
    const seen: number[] = [];
    const idxs: number[] = [];
    let seq = 0;
    const batches = [3, 5, 8, 1, 7, 2, 8, 6, 4, 8, 8, 3]; // 63 entries, ~8 ring sizes
    for (const b of batches) {
      const addrs = Array.from({ length: b }, () => (0x1000 * ++seq) >>> 0);
      const idx = pushAddrs(p, addrs);
      idxs.push(idx);
      assert.ok(idx >= 0 && idx <= 0xffffffff && Number.isInteger(idx), `index ${idx} not a u32`);
      sent.push(...addrs);
      assert.equal(p.pending(), b);
      assert.equal(sim.entries(), b);
      const got = sim.kernelConsume();
      assert.equal(got.length, b);
      for (const [lo, hi] of got) {
        assert.equal(hi, 0);
        seen.push(lo);
      }
    }
    assert.deepEqual(seen, sent);
    const total = batches.reduce((a, b) => a + b, 0);
    assert.equal(sim.producer, (NEAR_WRAP + total) >>> 0);
    assert.equal(sim.consumer, (NEAR_WRAP + total) >>> 0);
    assert.ok(sim.producer < NEAR_WRAP, 'did not actually wrap');
    assert.equal(idxs[0], NEAR_WRAP);
    assert.ok(idxs.some((i) => i < 0x100), 'no reservation after the wrap');
  });

  test('cached indices are used across 2^32 without spurious reloads', () => {
    // Producer: cachedCons has wrapped (4), cachedProd has not (0xfffffffe).
    const fill = new SimRing(8, ADDR_WORDS, { producer: 0xfffffffc, consumer: 0xfffffffc });
    const p = producer(fill);
    assert.equal(p.cachedCons, 4);
    pushAddrs(p, [1, 2]);
    assert.equal(p.cachedProd, 0xfffffffe);
    fill.kernelConsume();
    assert.equal(p.free(1), 6, 'the cache held 6 free slots: no reload expected');
    assert.equal(p.cachedCons, 4);
    assert.equal(p.free(7), 8, 'asking for more than cached reloads');
    assert.equal(p.cachedCons, 6);

    // Consumer: cachedProd has wrapped (2), cachedCons has not (0xfffffffd).
    const comp = new SimRing(8, ADDR_WORDS, { producer: 0xfffffffc, consumer: 0xfffffffc });
    const c = consumer(comp);
    comp.kernelProduce([[1, 0], [2, 0], [3, 0], [4, 0], [5, 0], [6, 0]]);
    assert.deepEqual(pullAddrs(c, 1), [1]);
    assert.equal(c.cachedProd, 2);
    comp.kernelProduce([[7, 0]]);
    assert.equal(c.available(8), 5, 'the cache held 5 entries: no reload expected');
    assert.deepEqual(pullAddrs(c, 8), [2, 3, 4, 5, 6]);
    assert.deepEqual(pullAddrs(c, 8), [7]);
    assert.equal(c.idx, 2);
  });

  test('producer ring fills and drains completely at the wrap point', () => {
    const size = 8;
    for (let start = 0xfffffff8; start !== 0x8; start = (start + 1) >>> 0) {
      const sim = new SimRing(size, DESC_WORDS, { producer: start, consumer: start });
      const p = producer(sim);
      assert.equal(p.free(size), size, `start ${start.toString(16)}`);
      const idx = p.reserve(size);
      assert.equal(idx, start);
      for (let i = 0; i < size; i++) setDesc(p, idx + i, i * 0x800, 100 + i);
      assert.equal(p.reserve(1), -1, `full ring, start ${start.toString(16)}`);
      p.submit(size);
      assert.equal(p.pending(), size);
      assert.equal(p.reserve(1), -1, `full after submit, start ${start.toString(16)}`);
      const got = sim.kernelConsume(3);
      assert.deepEqual(got, [0, 1, 2].map((i) => [i * 0x800, 0, 100 + i, 0]));
      assert.equal(p.reserve(3), (start + size) >>> 0);
      assert.equal(p.reserve(1), -1);
    }
  });

  test('TX-like producer ring: descriptors across 2^32 with partial kernel consumption', () => {
    const size = 16;
    const sim = new SimRing(size, DESC_WORDS, { producer: NEAR_WRAP + 3, consumer: NEAR_WRAP + 3 });
    const p = producer(sim);
    const rand = mulberry32(7);
    const sent: number[][] = [];
    const seen: number[][] = [];
    let seq = 0;
    while (seen.length < size * 6) {
      const want = randInt(rand, 1, size);
      const idx = p.reserve(want);
      if (idx === -1) {
        assert.ok(sim.room() < want, `reserve(${want}) failed with ${sim.room()} free`);
      } else {
        for (let i = 0; i < want; i++) {
          seq++;
          setDesc(p, idx + i, (seq * 2048) >>> 0, seq);
          sent.push([(seq * 2048) >>> 0, 0, seq, 0]);
        }
        p.submit(want);
      }
      seen.push(...sim.kernelConsume(randInt(rand, 0, size)));
    }
    seen.push(...sim.kernelConsume());
    assert.deepEqual(seen, sent);
    assert.ok(sim.producer < NEAR_WRAP, 'did not actually wrap');
  });

  test('COMPLETION-like consumer ring: addresses across 2^32', () => {
    const size = 8;
    const sim = new SimRing(size, ADDR_WORDS, { producer: NEAR_WRAP, consumer: NEAR_WRAP });
    const c = consumer(sim);
    const sent: number[] = [];
    const seen: number[] = [];
    let seq = 0;
    const idxs: number[] = [];
    for (const b of [8, 3, 5, 7, 1, 8, 8, 2, 6, 4]) {
      const addrs = Array.from({ length: b }, () => (0xfff00000 + 0x100 * ++seq) >>> 0);
      assert.equal(sim.kernelProduce(addrs.map((a) => [a, 0])), b);
      sent.push(...addrs);
      assert.equal(c.pending(), b);
      // take them in two uneven peeks
      const first = Math.ceil(b / 2);
      assert.equal(c.peek(first), first);
      idxs.push(c.idx);
      for (let i = 0; i < first; i++) seen.push(getAddr(c, c.idx + i));
      c.release(first);
      const rest = c.peek(size);
      assert.equal(rest, b - first);
      if (rest > 0) idxs.push(c.idx);
      for (let i = 0; i < rest; i++) seen.push(getAddr(c, c.idx + i));
      c.release(rest);
      assert.equal(c.pending(), 0);
      assert.equal(c.peek(size), 0);
    }
    assert.deepEqual(seen, sent);
    assert.ok(sim.consumer < NEAR_WRAP, 'did not actually wrap');
    assert.equal(idxs[0], NEAR_WRAP);
    assert.ok(idxs.every((i) => Number.isInteger(i) && i >= 0 && i <= 0xffffffff));
  });

  test('RX-like consumer ring: a full ring straddling 2^32 is read whole', () => {
    const size = 8;
    for (let start = 0xfffffff8; start !== 0x8; start = (start + 1) >>> 0) {
      const sim = new SimRing(size, DESC_WORDS, { producer: start, consumer: start });
      const c = consumer(sim);
      const entries = Array.from({ length: size }, (_, i) => [0x10000 + i * 0x800, 0, 60 + i, 0]);
      assert.equal(sim.kernelProduce(entries), size);
      assert.equal(sim.kernelProduce([[1, 0, 1, 0]]), 0);
      assert.equal(c.peek(size + 5), size, `start ${start.toString(16)}`);
      assert.equal(c.idx, start);
      for (let i = 0; i < size; i++) {
        assert.equal(descAddr(c, c.idx + i), 0x10000 + i * 0x800);
        assert.equal(descLen(c, c.idx + i), 60 + i);
      }
      c.release(size);
      assert.equal(sim.consumer, (start + size) >>> 0);
      assert.equal(c.pending(), 0);
      assert.equal(sim.kernelProduce(entries), size);
      assert.equal(c.peek(size), size);
      assert.equal(c.idx, (start + size) >>> 0);
    }
  });
});

/**
 * Randomized model test: userspace produces into a producer ring (TX or FILL), the simulated
 * kernel moves entries from it into a consumer ring (RX or COMPLETION) through an in-flight
 * queue, userspace peeks/releases the consumer ring. Every entry is unique; the model is an
 * array of everything submitted, and everything received must match it in order.
 */
function runModel(opts: { seed: number; ops: number; txSize: number; rxSize: number; words: number }): void {
  const { seed, ops, txSize, rxSize, words } = opts;
  const rand = mulberry32(seed);
  const txStart = (NEAR_WRAP - randInt(rand, 0, 64)) >>> 0;
  const rxStart = (NEAR_WRAP - randInt(rand, 0, 64)) >>> 0;
  const tx = new SimRing(txSize, words, { producer: txStart, consumer: txStart });
  const rx = new SimRing(rxSize, words, { producer: rxStart, consumer: rxStart });
  const prod = new ProducerRing(tx.mem, txSize, words);
  const cons = new ConsumerRing(rx.mem, rxSize, words);

  const entryFor = (seq: number): number[] => {
    const addr = Math.imul(seq, 0x9e3779b1) >>> 0;
    return words === DESC_WORDS ? [addr, 0, seq >>> 0, 0] : [addr, 0];
  };
  const write = (idx: number, seq: number): void => {
    const e = entryFor(seq);
    if (words === DESC_WORDS) setDesc(prod, idx, e[0], e[2]);
    else setAddr(prod, idx, e[0]);
  };
  const read = (idx: number): number[] =>
    words === DESC_WORDS ? [descAddr(cons, idx), 0, descLen(cons, idx), 0] : [getAddr(cons, idx), 0];

  let nextSeq = 0; // next entry userspace produces
  let reserved = 0; // reserved, written, not yet submitted
  let reservedIdx = 0; // where the next reserved slot goes
  let expectSeq = 0; // next entry userspace must receive
  const inFlight: number[][] = []; // taken from TX by the kernel, not yet on RX
  const peeked: { idx: number; seq: number }[] = []; // peeked, not yet released
  let submitted = 0;
  let received = 0;

  for (let op = 0; op < ops; op++) {
    const ctx = `seed ${seed} op ${op}`;
    switch (randInt(rand, 0, 5)) {
      case 0: {
        // user: reserve and fill
        const want = randInt(rand, 1, txSize + 2);
        const room = tx.room() - reserved; // shared view, minus our own unsubmitted slots
        const idx = prod.reserve(want);
        if (want > room) {
          assert.equal(idx, -1, `${ctx}: reserve(${want}) succeeded with ${room} free`);
        } else {
          assert.notEqual(idx, -1, `${ctx}: reserve(${want}) failed with ${room} free`);
          assert.equal(idx, (tx.producer + reserved) >>> 0, `${ctx}: reserve index`);
          if (reserved === 0) reservedIdx = idx;
          assert.equal(idx, (reservedIdx + reserved) >>> 0, `${ctx}: reservations not contiguous`);
          for (let i = 0; i < want; i++) write(idx + i, nextSeq++);
          reserved += want;
        }
        break;
      }
      case 1: {
        // user: submit what is reserved (sometimes in two steps)
        if (reserved > 0) {
          const n = rand() < 0.3 ? randInt(rand, 1, reserved) : reserved;
          const before = tx.producer;
          prod.submit(n);
          assert.equal(tx.producer, (before + n) >>> 0, `${ctx}: submit`);
          reserved -= n;
          reservedIdx = (reservedIdx + n) >>> 0;
          submitted += n;
        }
        break;
      }
      case 2: {
        // kernel: take from TX into the in-flight queue
        inFlight.push(...tx.kernelConsume(randInt(rand, 0, txSize)));
        break;
      }
      case 3: {
        // kernel: deliver in-flight entries onto RX
        const n = Math.min(inFlight.length, randInt(rand, 0, rxSize));
        const put = rx.kernelProduce(inFlight.slice(0, n));
        inFlight.splice(0, put);
        break;
      }
      case 4: {
        // user: peek and check
        const want = randInt(rand, 1, rxSize + 2);
        const real = rx.entries() - peeked.length;
        const got = cons.peek(want);
        assert.ok(got <= Math.min(want, real), `${ctx}: peek(${want}) returned ${got}, only ${real} ready`);
        if (real > 0) assert.ok(got > 0, `${ctx}: peek returned 0 with ${real} ready`);
        if (got > 0) {
          const firstIdx = (rx.consumer + peeked.length) >>> 0;
          assert.equal(cons.idx, firstIdx, `${ctx}: peek idx`);
        }
        for (let i = 0; i < got; i++) {
          const seq = expectSeq++;
          assert.deepEqual(read(cons.idx + i), entryFor(seq), `${ctx}: entry ${seq} out of order or corrupt`);
          peeked.push({ idx: (cons.idx + i) >>> 0, seq });
        }
        received += got;
        break;
      }
      case 5: {
        // user: release some or all peeked; the slots must still hold what was peeked
        if (peeked.length > 0) {
          const n = rand() < 0.5 ? peeked.length : randInt(rand, 1, peeked.length);
          for (const { idx, seq } of peeked.splice(0, n)) {
            assert.deepEqual(read(idx), entryFor(seq), `${ctx}: slot of entry ${seq} overwritten before release`);
          }
          const before = rx.consumer;
          cons.release(n);
          assert.equal(rx.consumer, (before + n) >>> 0, `${ctx}: release`);
        }
        break;
      }
    }
    assert.equal(prod.pending(), tx.entries());
    assert.equal(cons.pending(), rx.entries());
    assert.ok(tx.entries() <= txSize && rx.entries() <= rxSize, `${ctx}: ring over-full`);
  }

  // Drain everything and check nothing was lost.
  if (reserved > 0) {
    prod.submit(reserved);
    submitted += reserved;
    reserved = 0;
  }
  cons.release(peeked.length);
  peeked.length = 0;
  for (let guard = 0; received < submitted; guard++) {
    assert.ok(guard < 1_000_000, 'drain did not finish');
    inFlight.push(...tx.kernelConsume());
    inFlight.splice(0, rx.kernelProduce(inFlight));
    const got = cons.peek(rxSize);
    for (let i = 0; i < got; i++) {
      const seq = expectSeq++;
      assert.deepEqual(read(cons.idx + i), entryFor(seq), `drain: entry ${seq}`);
    }
    cons.release(got);
    received += got;
  }
  assert.equal(received, nextSeq, 'entries lost or duplicated');
  assert.equal(inFlight.length, 0);
  assert.equal(tx.entries(), 0);
  assert.equal(rx.entries(), 0);
  // Both rings really crossed 2^32.
  assert.ok(tx.producer < txStart && rx.consumer < rxStart, 'indices did not wrap');
  assert.ok(nextSeq > 4 * (txSize + rxSize), `too few entries moved (${nextSeq})`);
}

describe('randomized model (fixed seeds, starting near the 2^32 wrap)', () => {
  test('TX -> RX descriptor rings, 50k ops', () => {
    runModel({ seed: 0x5eed1, ops: 50_000, txSize: 16, rxSize: 8, words: DESC_WORDS });
  });
  test('FILL -> COMPLETION address rings, 50k ops', () => {
    runModel({ seed: 0x5eed2, ops: 50_000, txSize: 8, rxSize: 32, words: ADDR_WORDS });
  });
  test('tiny rings (size 1 and 2), 20k ops', () => {
    runModel({ seed: 0x5eed3, ops: 20_000, txSize: 1, rxSize: 2, words: DESC_WORDS });
  });
});
