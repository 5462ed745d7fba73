/**
 * `--stage ./my-stage.js`: a module of the user's that exports a StageFactory (as `default` or
 * as `createStage`). The main thread resolves the path and checks the file (resolveStageModule);
 * each datapath thread imports it by that absolute path (loadStageFactories) and calls the
 * factory for every pipeline it builds: the live one, and the warm start's throwaway one, with
 * `{ warm: true }` (the warm start runs synthetic frames through every stage; a stage with side
 * effects keeps them off then).
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { statSync } from 'node:fs';
import type { StageFactory } from '../pipeline/stage.js';

/** The module's file URL, or a one-line reason it can't be used. */
export function resolveStageModule(path: string, cwd = process.cwd()): { url: string } | { problem: string } {
  const abs = resolve(cwd, path);
  try {
    if (!statSync(abs).isFile()) return { problem: `${path} is not a file` };
  } catch {
    return { problem: `${path}: no such file` };
  }
  return { url: pathToFileURL(abs).href };
}

/** Import each module and take its factory; throws a one-line reason if one has none. */
export async function loadStageFactories(urls: readonly string[] | undefined): Promise<StageFactory[]> {
  const out: StageFactory[] = [];
  for (const url of urls ?? []) {
    const mod = (await import(url)) as { default?: unknown; createStage?: unknown };
    const f = typeof mod.default === 'function' ? mod.default : mod.createStage;
    if (typeof f !== 'function') throw new Error(`--stage ${url}: exports no stage factory (export default, or export createStage: (ctx) => Stage)`);
    out.push(f as StageFactory);
  }
  return out;
}

/** Check a stage the factory made (an object with a datagram() method). */
export function checkStage(url: string, stage: unknown): void {
  if (typeof (stage as { datagram?: unknown })?.datagram !== 'function') {
    throw new Error(`--stage ${url}: the factory returned no Stage (an object with datagram(buf, off, len, p))`);
  }
  // Up to 0.1 a stage was given the receive time as a fifth argument; it is p.rxNs now. A stage
  // written for that would read undefined: refuse it rather than let it run wrong.
  if ((stage as { datagram: (...a: unknown[]) => unknown }).datagram.length > 4) {
    throw new Error(`--stage ${url}: datagram() declares more than 4 parameters; it is called as datagram(buf, off, len, p), and the receive time is p.rxNs`);
  }
}
