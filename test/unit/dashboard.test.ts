/** The Grafana dashboard is valid JSON and asks only for metrics xsk really exports. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [readFileSync(join(dir, e.name), 'utf8')] : [],
  );
}

it('every metric in the dashboard is one xsk registers (or a default process metric)', () => {
  const dash = JSON.parse(readFileSync(new URL('../../dashboards/xsk-grafana.json', import.meta.url), 'utf8'));
  const exported = new Set(sources(new URL('../../src', import.meta.url).pathname).flatMap((t) => [...t.matchAll(/'(xsk_[a-z_]+)'/g)].map((m) => m[1])));
  const defaults = new Set(['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']);
  const used = new Set<string>();
  for (const p of dash.panels) for (const t of p.targets) for (const m of t.expr.matchAll(/\b((?:xsk|process|nodejs)_[a-z_]+)/g)) used.add(m[1]);
  assert.ok(used.size >= 10);
  for (const name of used) assert.ok(exported.has(name) || defaults.has(name), `dashboard uses ${name}, which nothing exports`);
});
