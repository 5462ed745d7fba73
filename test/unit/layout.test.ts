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
    // Collect every difference, so one failure names all the moved fields, not just the first.
    const problems: string[] = [];
    const size = koffi.sizeof(type);
    if (size !== c.size) problems.push(`struct ${name}: koffi size ${size}, C size ${c.size}`);
    for (const [field, offset] of Object.entries(c.fields)) {
      let got: number;
      try {
        got = koffi.offsetof(type, field);
      } catch (e) {
        problems.push(`struct ${name}: field ${field} (C offset ${offset}) missing in the koffi type (${(e as Error).message})`);
        continue;
      }
      if (got !== offset) problems.push(`struct ${name}: field ${field} at koffi offset ${got}, C offset ${offset}`);
    }
    // And the reverse: no koffi member that the C struct (as probed) does not have.
    for (const m of Object.keys(koffi.type(type).members ?? {})) {
      if (!Object.hasOwn(c.fields, m)) problems.push(`struct ${name}: koffi field ${m} is not in the C struct (or not probed)`);
    }
    assert.deepEqual(problems, [], problems.join('\n'));
  });
}

test('every struct in MIRRORED_STRUCTS is checked by the layout probe', () => {
  for (const name of Object.keys(mirrored)) {
    assert.ok(Object.hasOwn(probe, name), `struct ${name} is in MIRRORED_STRUCTS but layout-probe does not print it`);
  }
});
