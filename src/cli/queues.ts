/** `--queues all|0-3,6` and `--cpus 2,3`: lists of small non-negative integers. */
import { InvalidArgumentError } from 'commander';

/** "0-3,6" → [0,1,2,3,6]; "all" → 'all' (resolved against the interface later). */
export function parseQueueList(v: string): number[] | 'all' {
  if (v.trim() === 'all') return 'all';
  return parseIntList(v, 255);
}

export function parseCpuList(v: string): number[] {
  return parseIntList(v, 1023);
}

function parseIntList(v: string, max: number): number[] {
  const out = new Set<number>();
  for (const part of v.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new InvalidArgumentError(`"${part}" is not a number or a range (N or N-M)`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a > b || b > max) throw new InvalidArgumentError(`"${part}" is outside 0-${max}`);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}
