/** A horizontal bar chart of Mpps per case, as SVG (and PNG through rsvg-convert). */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function barChart(title: string, rows: { label: string; value: number }[], unit: string): string {
  const w = 760;
  const rowH = 34;
  const left = 210;
  const top = 50;
  const h = top + rows.length * rowH + 30;
  const max = Math.max(...rows.map((r) => r.value), 1e-9);
  const bars = rows
    .map((r, i) => {
      const y = top + i * rowH;
      const bw = ((w - left - 110) * r.value) / max;
      return `<text x="${left - 10}" y="${y + 21}" text-anchor="end" font-size="14">${esc(r.label)}</text>
<rect x="${left}" y="${y + 6}" width="${bw.toFixed(1)}" height="${rowH - 12}" fill="${r.label.startsWith('xsk') ? '#2b7bb9' : '#999'}"/>
<text x="${left + bw + 8}" y="${y + 21}" font-size="14">${r.value.toFixed(2)} ${unit}</text>`;
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${w / 2}" y="28" text-anchor="middle" font-size="17" font-weight="bold">${esc(title)}</text>
${bars}
</svg>\n`;
}

/** Write the SVG and, where rsvg-convert is installed, a PNG next to it. Returns the PNG path or null. */
export function writeChart(svgPath: string, svg: string): string | null {
  writeFileSync(svgPath, svg);
  const png = svgPath.replace(/\.svg$/, '.png');
  try {
    execFileSync('rsvg-convert', ['-o', png, svgPath]);
    return png;
  } catch {
    return null;
  }
}

export interface Panel {
  label: string;
  unit: string;
  points: [number, number][];
  /** A straight line to draw over the series (e.g. a fitted trend), from x0 to x1. */
  fit?: { x0: number; x1: number; slope: number; intercept: number };
}

/**
 * Line charts of time series as SVG, one panel per series stacked on one x axis (their units
 * differ, so each has its own y axis). `markX` draws a dashed vertical line (e.g. the end of a
 * warm-up) on every panel.
 */
export function lineChart(title: string, panels: Panel[], xLabel: string, markX?: number): string {
  const w = 900;
  const left = 90;
  const right = 30;
  const top = 50;
  const panelH = 190;
  const gap = 40;
  const h = top + panels.length * (panelH + gap) + 20;
  const xs = panels.flatMap((p) => p.points.map(([x]) => x));
  const xMin = Math.min(...xs, 0);
  const xMax = Math.max(...xs, xMin + 1e-9);
  const px = (x: number) => left + ((x - xMin) / (xMax - xMin)) * (w - left - right);
  const num = (v: number): string =>
    Math.abs(v) >= 1e6 ? `${num(v / 1e6)}M` : Math.abs(v) >= 1e4 ? `${num(v / 1e3)}k` : Math.abs(v) >= 100 || v === 0 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  const out: string[] = [];
  panels.forEach((p, i) => {
    const y0 = top + i * (panelH + gap);
    const ys = p.points.map(([, y]) => y).filter(Number.isFinite);
    let yMin = Math.min(...ys);
    let yMax = Math.max(...ys);
    if (!ys.length) [yMin, yMax] = [0, 1];
    if (yMax - yMin < 1e-9) [yMin, yMax] = [yMin - 1, yMax + 1];
    const pad = (yMax - yMin) * 0.08;
    yMin = yMin >= 0 && yMin - pad < 0 ? 0 : yMin - pad; // a count does not go below 0
    yMax += pad;
    const py = (y: number) => y0 + panelH - ((y - yMin) / (yMax - yMin)) * panelH;
    out.push(`<text x="${left}" y="${y0 - 8}" font-size="14" font-weight="bold">${esc(p.label)} (${esc(p.unit)})</text>`);
    out.push(`<rect x="${left}" y="${y0}" width="${w - left - right}" height="${panelH}" fill="none" stroke="#bbb"/>`);
    for (let k = 0; k <= 4; k++) {
      const v = yMin + ((yMax - yMin) * k) / 4;
      const y = py(v);
      out.push(`<line x1="${left}" x2="${w - right}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#eee"/>`);
      out.push(`<text x="${left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="11">${num(v)}</text>`);
    }
    for (let k = 0; k <= 6; k++) {
      const v = xMin + ((xMax - xMin) * k) / 6;
      out.push(`<text x="${px(v).toFixed(1)}" y="${y0 + panelH + 14}" text-anchor="middle" font-size="11">${num(v)}</text>`);
    }
    if (markX !== undefined) {
      out.push(`<line x1="${px(markX).toFixed(1)}" x2="${px(markX).toFixed(1)}" y1="${y0}" y2="${y0 + panelH}" stroke="#888" stroke-dasharray="4 4"/>`);
    }
    const path = p.points
      .filter(([, y]) => Number.isFinite(y))
      .map(([x, y], k) => `${k ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`)
      .join(' ');
    out.push(`<path d="${path}" fill="none" stroke="#2b7bb9" stroke-width="1.5"/>`);
    if (p.fit) {
      const f = p.fit;
      out.push(
        `<line x1="${px(f.x0).toFixed(1)}" y1="${py(f.intercept + f.slope * f.x0).toFixed(1)}" x2="${px(f.x1).toFixed(1)}" y2="${py(f.intercept + f.slope * f.x1).toFixed(1)}" stroke="#d62728" stroke-width="1.5" stroke-dasharray="6 3"/>`,
      );
    }
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${w / 2}" y="26" text-anchor="middle" font-size="17" font-weight="bold">${esc(title)}</text>
${out.join('\n')}
<text x="${(left + w - right) / 2}" y="${h - 4}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>
</svg>\n`;
}
