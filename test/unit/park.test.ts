/**
 * The park addon (sys/park.ts, native/park/park.cc): the datapath thread's poll() and clock,
 * and the koffi fallback that makes the same calls without it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { park, parkFallback } from '../../src/sys/park.js';
import { PollSet } from '../../src/sys/poll-set.js';
import { clock, koffiTick, tick } from '../../src/sys/clock.js';
import { createWakeFd, ringWakeFd, closeWakeFd } from '../../src/sys/wake-fd.js';

interface Probe {
  addon: boolean;
  fallback?: string;
  quiet: number;
  waitedMs: number;
  ready: number;
  skewNs: number;
  msVsNs: number;
}

/**
 * In a worker thread (which loads its own addon instance, as a datapath thread does), from the
 * built modules (workers don't get tsx's loader): which way the thread parks and reads the
 * clock, and both checked through PollSet and tick() as the datapath uses them.
 */
function probe(env: NodeJS.ProcessEnv): Promise<Probe> {
  const dist = (m: string) => JSON.stringify(new URL(`../../dist/sys/${m}.js`, import.meta.url).href);
  const src = `
    const { parentPort } = require('node:worker_threads');
    Promise.all([import(${dist('park')}), import(${dist('poll-set')}), import(${dist('clock')}), import(${dist('wake-fd')})]).then(
      ([{ park, parkFallback }, { PollSet }, { clock, tick }, { createWakeFd, ringWakeFd, closeWakeFd }]) => {
        const sock = createWakeFd();
        const p = new PollSet();
        p.setSocket(sock);
        const t0 = process.hrtime.bigint();
        const quiet = p.wait(30);
        const waitedMs = Number(process.hrtime.bigint() - t0) / 1e6;
        ringWakeFd(sock);
        const ready = p.wait(1000);
        closeWakeFd(sock);
        tick();
        const hr = Number(process.hrtime.bigint());
        parentPort.postMessage({ addon: park !== undefined, fallback: parkFallback, quiet, waitedMs, ready, skewNs: hr - clock[1], msVsNs: clock[0] - clock[1] / 1e6 });
      });`;
  const w = new Worker(src, { eval: true, env });
  return new Promise<Probe>((resolve, reject) => {
    w.once('message', (m) => resolve(m as Probe));
    w.once('error', reject);
  }).finally(() => void w.terminate());
}

function checkProbe(r: Probe): void {
  assert.equal(r.quiet, 0, 'poll() on a socket with nothing to read times out with 0');
  assert.ok(r.waitedMs >= 25, `it waited ${r.waitedMs} ms of the 30`);
  assert.equal(r.ready, 1, 'a readable socket wakes it with 1');
  assert.ok(Math.abs(r.skewNs) < 2e6, `tick() is CLOCK_MONOTONIC, as process.hrtime: ${r.skewNs} ns apart`);
  assert.ok(Math.abs(r.msVsNs) < 1e-3, 'clock[0] is clock[1] in ms');
}

describe('park addon', () => {
  it('is built and loaded: the datapath parks and reads the clock through it', () => {
    assert.equal(parkFallback, undefined);
    assert.ok(park);
    assert.equal(tick, park.tick, 'tick() is the addon');
  });

  it('waits, wakes and reads the clock in a worker thread (each thread loads its own)', async () => {
    const r = await probe(process.env);
    assert.equal(r.addon, true, r.fallback);
    checkProbe(r);
  });

  it('without it (XSK_PARK_ADDON=0), koffi makes the same calls, and says why', async () => {
    const r = await probe({ ...process.env, XSK_PARK_ADDON: '0' });
    assert.equal(r.addon, false);
    assert.equal(r.fallback, 'XSK_PARK_ADDON=0');
    checkProbe(r);
  });

  it('a rung wake fd ends the wait with 0 and is cleared', () => {
    const sock = createWakeFd();
    const wake = createWakeFd();
    try {
      const p = new PollSet();
      p.setSocket(sock);
      p.setWakeFd(wake);
      ringWakeFd(wake);
      assert.equal(p.wait(1000), 0);
      const t0 = process.hrtime.bigint();
      assert.equal(p.wait(20), 0, 'cleared: the next wait times out');
      assert.ok(Number(process.hrtime.bigint() - t0) / 1e6 >= 15);
    } finally {
      closeWakeFd(sock);
      closeWakeFd(wake);
    }
  });

  it('the addon and koffi read the same clock', () => {
    koffiTick();
    const viaKoffi = clock[1];
    tick();
    const viaAddon = clock[1];
    assert.ok(viaAddon >= viaKoffi && viaAddon - viaKoffi < 2e6, `${viaAddon - viaKoffi} ns apart`);
  });

  it('refuses what it cannot wait on, with a clear error', () => {
    const a = park!;
    const fds = new Uint8Array(8);
    const id = a.watch(fds);
    assert.throws(() => a.wait(id + 1000, 1, 0), /unknown id/);
    assert.throws(() => a.wait(id, 2, 0), /more entries than it holds/, 'one struct pollfd is 8 bytes');
    assert.throws(() => a.wait(id, 1, NaN), /NaN/);
    assert.throws(() => a.watch(new Uint8Array(4)), /watch\(Uint8Array of struct pollfd\)/);
    assert.throws(() => a.clock(new Float64Array(1)), /clock\(Float64Array of 2\)/);
    // fd 0 of an 8-byte pollfd with fd -1 is ignored by poll(): a 0 ms wait returns 0.
    new DataView(fds.buffer).setInt32(0, -1, true);
    assert.equal(a.wait(id, 1, 0), 0);
  });
});
