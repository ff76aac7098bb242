/**
 * A hand-written SVG of the wait-time distribution per library: the share of
 * acquisitions that waited longer than x, on log–log axes, one panel per contended
 * workload. Log axes keep both the median and the tail (p99, max) readable.
 */
import { label } from './libs.js';
import type { LibId } from './protocol.js';
import { percentile } from './stats.js';

export type Series = { lib: LibId; waits: readonly number[] };
export type Panel = { title: string; series: readonly Series[] };

const colors: Record<LibId, string> = { fair: '#1565c0', 'redis-semaphore': '#e65100', redlock: '#2e7d32' };
const W = 440;
const H = 340;
const pad = { left: 70, right: 16, top: 34, bottom: 100 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** (wait, share that waited longer) steps, thinned to at most ~500 points per series. */
function survival(waits: readonly number[]): [number, number][] {
  const sorted = [...waits].sort((a, b) => a - b);
  const n = sorted.length;
  const out: [number, number][] = [];
  const step = Math.max(1, Math.floor(n / 500));
  for (let i = 0; i < n; i++) {
    // Always keep the tail's individual points: they are what the chart is for.
    if (i % step !== 0 && i < n - 50) continue;
    const x = sorted[i] as number;
    out.push([x, (n - i) / n], [x, Math.max(n - i - 1, 0.5) / n]);
  }
  return out;
}

type Axes = { lo: number; hi: number; floor: number };

function panel(p: Panel, x0: number, a: Axes): string {
  const pw = W - pad.left - pad.right;
  const ph = H - pad.top - pad.bottom;
  const log = Math.log10;
  const sx = (ms: number) => x0 + pad.left + ((log(Math.max(ms, a.lo)) - log(a.lo)) / (log(a.hi) - log(a.lo))) * pw;
  const sy = (share: number) => pad.top + ((0 - log(Math.max(share, a.floor))) / (0 - log(a.floor))) * ph;
  const parts = [`<text x="${x0 + W / 2}" y="20" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`];
  for (let e = Math.round(log(a.lo)); e <= Math.round(log(a.hi)); e++) {
    const x = sx(10 ** e).toFixed(1);
    parts.push(`<line x1="${x}" y1="${pad.top}" x2="${x}" y2="${pad.top + ph}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${x}" y="${pad.top + ph + 14}" text-anchor="middle">${e >= 0 ? 10 ** e : (10 ** e).toFixed(-e)}</text>`);
  }
  for (let e = 0; e >= Math.round(log(a.floor)); e--) {
    const y = sy(10 ** e).toFixed(1);
    const text = e === -2 ? '1% (p99)' : e === -1 ? '10% (p90)' : e === 0 ? '100%' : `${(100 * 10 ** e).toFixed(-e - 2)}%`;
    parts.push(`<line x1="${x0 + pad.left}" y1="${y}" x2="${x0 + pad.left + pw}" y2="${y}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${x0 + pad.left - 4}" y="${Number(y) + 4}" text-anchor="end">${text}</text>`);
  }
  const half = sy(0.5).toFixed(1);
  parts.push(`<line x1="${x0 + pad.left}" y1="${half}" x2="${x0 + pad.left + pw}" y2="${half}" stroke="#bbb" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${x0 + pad.left + pw - 2}" y="${Number(half) - 3}" text-anchor="end" fill="#888">median</text>`);
  parts.push(`<text x="${x0 + pad.left + pw / 2}" y="${pad.top + ph + 30}" text-anchor="middle">wait (ms, log scale)</text>`);
  p.series.forEach((s, i) => {
    const points = survival(s.waits)
      .map(([ms, share]) => `${sx(ms).toFixed(1)},${sy(share).toFixed(1)}`)
      .join(' ');
    parts.push(`<polyline fill="none" stroke="${colors[s.lib]}" stroke-width="2" points="${points}"/>`);
    const y = pad.top + ph + 52 + i * 15;
    const text = `${label(s.lib)}: p50 ${percentile(s.waits, 0.5).toFixed(2)}, p99 ${percentile(s.waits, 0.99).toFixed(1)} ms (n=${s.waits.length})`;
    parts.push(`<line x1="${x0 + pad.left}" y1="${y - 4}" x2="${x0 + pad.left + 18}" y2="${y - 4}" stroke="${colors[s.lib]}" stroke-width="3"/>`);
    parts.push(`<text x="${x0 + pad.left + 24}" y="${y}">${esc(text)}</text>`);
  });
  return parts.join('\n');
}

/** All panels share their axes, so they compare at a glance. */
export function waitChart(panels: readonly Panel[], subtitle: string): string {
  let min = 1;
  let max = 10;
  let most = 100;
  for (const p of panels) {
    for (const s of p.series) {
      most = Math.max(most, s.waits.length);
      for (const w of s.waits) {
        if (w > 0 && w < min) min = w;
        if (w > max) max = w;
      }
    }
  }
  const axes = {
    lo: 10 ** Math.floor(Math.log10(Math.max(0.01, min))),
    hi: 10 ** Math.ceil(Math.log10(max)),
    floor: 10 ** Math.floor(Math.log10(0.5 / most)),
  };
  const width = W * panels.length;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 16}" viewBox="0 0 ${width} ${H + 16}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
${panels.map((p, i) => panel(p, i * W, axes)).join('\n')}
<text x="${width / 2}" y="${H + 10}" text-anchor="middle" fill="#666">${esc(subtitle)}</text>
</svg>
`;
}
