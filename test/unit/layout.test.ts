/**
 * The koffi struct types in src/sys/if-xdp.ts must match the kernel's struct layouts as the
 * installed headers define them. build/layout-probe (native/umem/layout-probe.c) prints
 * sizeof/offsetof of each struct; this test compares them with koffi.sizeof/offsetof.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';

import { MIRRORED_STRUCTS } from '../../src/sys/if-xdp.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = join(ROOT, 'build');
const PROBE = join(BUILD, 'layout-probe');

interface ProbeStruct {
  size: number;
  fields: Record<string, number>;
}
type Probe = Record<string, ProbeStruct>;

function runProbe(): Probe {
  if (!existsSync(PROBE)) {
    execFileSync('make', ['-s', '-C', join(ROOT, 'native/umem'), `OUT=${BUILD}`], { stdio: 'inherit' });
  }
  assert.ok(existsSync(PROBE), `${PROBE} missing after make`);
  const out = execFileSync(PROBE, { encoding: 'utf8' });
  return JSON.parse(out) as Probe;
}

type KoffiType = (typeof MIRRORED_STRUCTS)[keyof typeof MIRRORED_STRUCTS];
const mirrored: Record<string, KoffiType> = MIRRORED_STRUCTS;
const probe = runProbe();

test('the layout probe reports at least one struct', () => {
  assert.ok(Object.keys(probe).length > 0, 'layout-probe printed no structs');
  for (const [name, s] of Object.entries(probe)) {
    assert.equal(typeof s.size, 'number', `${name}: probe size`);
    assert.ok(Object.keys(s.fields).length > 0, `${name}: probe printed no fields`);
  }
});

for (const [name, c] of Object.entries(probe)) {
  test(`struct ${name}: koffi layout matches the kernel headers`, () => {
    assert.ok(Object.hasOwn(mirrored, name), `struct ${name} is probed but missing from MIRRORED_STRUCTS`);
    const type = mirrored[name];
    assert.equal(koffi.sizeof(type), c.size, `struct ${name}: koffi size ${koffi.sizeof(type)}, C size ${c.size}`);
    for (const [field, offset] of Object.entries(c.fields)) {
      let got: number;
      try {
        got = koffi.offsetof(type, field);
      } catch (e) {
        assert.fail(`struct ${name}: field ${field} (C offset ${offset}) missing in koffi type: ${(e as Error).message}`);
      }
      assert.equal(got, offset, `struct ${name}: field ${field} at koffi offset ${got}, C offset ${offset}`);
    }
    // And the reverse: no koffi member the kernel struct does not have.
    const members = Object.keys(koffi.type(type).members ?? {});
    for (const m of members) {
      assert.ok(Object.hasOwn(c.fields, m), `struct ${name}: koffi field ${m} not in the C struct (or not probed)`);
    }
  });
}

test('every struct in MIRRORED_STRUCTS is checked by the layout probe', () => {
  for (const name of Object.keys(mirrored)) {
    assert.ok(Object.hasOwn(probe, name), `struct ${name} is in MIRRORED_STRUCTS but layout-probe does not print it`);
  }
});
