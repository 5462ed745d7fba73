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
