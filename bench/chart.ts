/**
 * A hand-written SVG: the cumulative distribution of wait times per library, on a
 * log time axis, one panel per contended workload. Tails are what a CDF shows best.
 */
import type { LibId } from './protocol.js';
import { label } from './libs.js';
import { percentile } from './stats.js';

export type Series = { lib: LibId; waits: readonly number[] };
export type Panel = { title: string; series: readonly Series[] };

const colors: Record<LibId, string> = { fair: '#1565c0', 'redis-semaphore': '#e65100', redlock: '#2e7d32' };
const W = 440;
const H = 330;
const pad = { left: 52, right: 14, top: 34, bottom: 96 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Points of the empirical CDF, thinned to at most ~400 per series. */
function cdf(waits: readonly number[]): [number, number][] {
  const sorted = [...waits].sort((a, b) => a - b);
  const step = Math.max(1, Math.floor(sorted.length / 400));
  const out: [number, number][] = [];
  for (let i = 0; i < sorted.length; i += step) out.push([sorted[i] as number, (i + 1) / sorted.length]);
  if (sorted.length > 0) out.push([sorted[sorted.length - 1] as number, 1]);
  return out;
}

function panel(p: Panel, x0: number, lo: number, hi: number): string {
  const pw = W - pad.left - pad.right;
  const ph = H - pad.top - pad.bottom;
  const sx = (ms: number) => x0 + pad.left + ((Math.log10(Math.max(ms, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * pw;
  const sy = (q: number) => pad.top + (1 - q) * ph;
  const parts: string[] = [`<text x="${x0 + W / 2}" y="20" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`];
  for (let e = Math.log10(lo); e <= Math.log10(hi) + 1e-9; e++) {
    const x = sx(10 ** e).toFixed(1);
    const text = 10 ** e >= 1 ? String(10 ** e) : (10 ** e).toFixed(-e);
    parts.push(`<line x1="${x}" y1="${pad.top}" x2="${x}" y2="${pad.top + ph}" stroke="#ddd"/>`);
    parts.push(`<text x="${x}" y="${pad.top + ph + 14}" text-anchor="middle">${text}</text>`);
  }
  for (const q of [0, 0.25, 0.5, 0.75, 0.99, 1]) {
    const y = sy(q).toFixed(1);
    parts.push(`<line x1="${x0 + pad.left}" y1="${y}" x2="${x0 + pad.left + pw}" y2="${y}" stroke="${q === 0.99 ? '#bbb' : '#eee'}"${q === 0.99 ? ' stroke-dasharray="4 3"' : ''}/>`);
    parts.push(`<text x="${x0 + pad.left - 4}" y="${Number(y) + 4}" text-anchor="end">${q === 0.99 ? 'p99' : `${q * 100}%`}</text>`);
  }
  parts.push(`<text x="${x0 + pad.left + pw / 2}" y="${pad.top + ph + 30}" text-anchor="middle">wait (ms, log scale)</text>`);
  p.series.forEach((s, i) => {
    const points = cdf(s.waits)
      .map(([ms, q]) => `${sx(ms).toFixed(1)},${sy(q).toFixed(1)}`)
      .join(' ');
    parts.push(`<polyline fill="none" stroke="${colors[s.lib]}" stroke-width="2" points="${points}"/>`);
    const y = pad.top + ph + 50 + i * 15;
    const legend = `${label(s.lib)}: p50 ${percentile(s.waits, 0.5).toFixed(2)}, p99 ${percentile(s.waits, 0.99).toFixed(1)} ms (n=${s.waits.length})`;
    parts.push(`<line x1="${x0 + pad.left}" y1="${y - 4}" x2="${x0 + pad.left + 18}" y2="${y - 4}" stroke="${colors[s.lib]}" stroke-width="3"/>`);
    parts.push(`<text x="${x0 + pad.left + 24}" y="${y}">${esc(legend)}</text>`);
  });
  return parts.join('\n');
}

/** Both panels share one x range, so they can be compared at a glance. */
export function waitChart(panels: readonly Panel[], subtitle: string): string {
  let min = 1;
  let max = 10;
  for (const p of panels) {
    for (const s of p.series) {
      for (const w of s.waits) {
        if (w > 0 && w < min) min = w;
        if (w > max) max = w;
      }
    }
  }
  const lo = 10 ** Math.floor(Math.log10(Math.max(0.01, min)));
  const hi = 10 ** Math.ceil(Math.log10(max));
  const width = W * panels.length;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 16}" viewBox="0 0 ${width} ${H + 16}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
${panels.map((p, i) => panel(p, i * W, lo, hi)).join('\n')}
<text x="${width / 2}" y="${H + 10}" text-anchor="middle" fill="#666">${esc(subtitle)}</text>
</svg>
`;
}
