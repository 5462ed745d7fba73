/**
 * A full garbage collection on demand, without starting node with --expose-gc: the flag is set
 * at run time and a fresh context hands out the `gc` function it then defines.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

let gc: (() => void) | null | undefined;

/** Collect now (major GC); does nothing if V8 won't give the function. */
export function collectGarbage(): void {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  gc?.();
}
