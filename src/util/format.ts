/** Small formatting helpers for human-readable lines (stats, logs). */

/** A rate with a k/M prefix and its trailing space: `1.20 M`, `3.4 k`, `12 `. */
export function fmtRate(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} k`;
  return `${v.toFixed(0)} `;
}
