/**
 * Loading one of xsk's node addons (native/*, built by scripts/build.sh into dist/native/):
 * next to the compiled modules in dist/, or dist/'s when this runs from src/ under tsx. Throws,
 * naming the addon and the file `npm run build` makes, when it is not built; a node with
 * another ABI makes require() throw. Callers fall back and say why.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function loadNativeAddon<T>(name: string): T {
  const candidates = [`../native/${name}.node`, `../../dist/native/${name}.node`].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  const file = candidates.find((f) => existsSync(f));
  if (!file) throw new Error(`${name} addon not built (npm run build makes ${candidates[0]})`);
  return createRequire(import.meta.url)(file) as T;
}
