/**
 * Hand-written SVGs. wait-times.svg: the wait-time distribution per library, the share
 * of acquisitions that waited longer than x, on log–log axes, one panel per contended
 * workload. open-loop.svg: W7's wait p50 and p99 per load level. Log axes keep both the
 * median and the tail (p99, max) readable.
 */
import { label } from './libs.js';
import type { LibId } from './protocol.js';
import { percentile } from './stats.js';
import type { OpenFigures } from './workloads/open-loop.js';

export type Series = { lib: LibId; waits: readonly number[] };
export type Panel = { title: string; series: readonly Series[] };

const colors: Record<LibId, string> = {
  fair: '#1565c0',
  'fair-node-redis': '#6a1b9a',
  'redis-semaphore': '#e65100',
  redlock: '#2e7d32',
};
const W = 440;
const H = 340;
const pad = { left: 70, right: 16, top: 34, bottom: 100 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** 10^e as an axis label: 0.01, 0.1, 1, 10, 100… */
function decade(e: number): string {
  return e >= 0 ? String(10 ** e) : (10 ** e).toFixed(-e);
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
    parts.push(`<text x="${x}" y="${pad.top + ph + 14}" text-anchor="middle">${decade(e)}</text>`);
  }
  for (let e = 0; e >= Math.round(log(a.floor)); e--) {
    const y = sy(10 ** e).toFixed(1);
    const text =
      e === -2 ? '1% (p99)' : e === -1 ? '10% (p90)' : e === 0 ? '100%' : `${(100 * 10 ** e).toFixed(-e - 2)}%`;
    parts.push(`<line x1="${x0 + pad.left}" y1="${y}" x2="${x0 + pad.left + pw}" y2="${y}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${x0 + pad.left - 4}" y="${Number(y) + 4}" text-anchor="end">${text}</text>`);
  }
  const half = sy(0.5).toFixed(1);
  parts.push(
    `<line x1="${x0 + pad.left}" y1="${half}" x2="${x0 + pad.left + pw}" y2="${half}" stroke="#bbb" stroke-dasharray="4 3"/>`,
  );
  parts.push(`<text x="${x0 + pad.left + pw - 2}" y="${Number(half) - 3}" text-anchor="end" fill="#888">median</text>`);
  parts.push(
    `<text x="${x0 + pad.left + pw / 2}" y="${pad.top + ph + 30}" text-anchor="middle">wait (ms, log scale)</text>`,
  );
  p.series.forEach((s, i) => {
    const points = survival(s.waits)
      .map(([ms, share]) => `${sx(ms).toFixed(1)},${sy(share).toFixed(1)}`)
      .join(' ');
    parts.push(`<polyline fill="none" stroke="${colors[s.lib]}" stroke-width="2" points="${points}"/>`);
    const y = pad.top + ph + 52 + i * 15;
    const text = `${label(s.lib)}: p50 ${percentile(s.waits, 0.5).toFixed(2)}, p99 ${percentile(s.waits, 0.99).toFixed(1)} ms (n=${s.waits.length})`;
    parts.push(
      `<line x1="${x0 + pad.left}" y1="${y - 4}" x2="${x0 + pad.left + 18}" y2="${y - 4}" stroke="${colors[s.lib]}" stroke-width="3"/>`,
    );
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

export type OpenSeries = { lib: LibId; levels: readonly OpenFigures[] };

/**
 * W7: wait p50 (dashed) and p99 (solid) against load, one colour per library; the x axis
 * is linear in load, so the steepening towards full load shows as it is.
 */
export function openLoopChart(title: string, series: readonly OpenSeries[], subtitle: string): string {
  const width = 680;
  const plot = { left: 70, top: 34, width: 570, height: 250 };
  const legendTop = plot.top + plot.height + 46;
  const height = legendTop + series.length * 15 + 36;
  const loads = [...new Set(series.flatMap((s) => s.levels.map((l) => l.load)))].sort((a, b) => a - b);
  const waits = series.flatMap((s) => s.levels.flatMap((l) => [l.waitP50, l.waitP99])).filter((w) => w > 0);
  const log = Math.log10;
  const lo = 10 ** Math.floor(log(Math.max(0.01, Math.min(1, ...waits))));
  const hi = 10 ** Math.ceil(log(Math.max(10, ...waits)));
  const x0 = Math.min(0.45, (loads[0] ?? 0.5) - 0.05);
  const sx = (load: number) => plot.left + ((load - x0) / (1 - x0)) * plot.width;
  const sy = (ms: number) => plot.top + ((log(hi) - log(Math.max(ms, lo))) / (log(hi) - log(lo))) * plot.height;
  const parts = [
    `<text x="${width / 2}" y="20" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
    `<text x="16" y="${plot.top + plot.height / 2}" text-anchor="middle" transform="rotate(-90 16 ${plot.top + plot.height / 2})">wait (ms, log scale)</text>`,
  ];
  for (let e = Math.round(log(lo)); e <= Math.round(log(hi)); e++) {
    const y = sy(10 ** e).toFixed(1);
    parts.push(`<line x1="${plot.left}" y1="${y}" x2="${plot.left + plot.width}" y2="${y}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${plot.left - 4}" y="${Number(y) + 4}" text-anchor="end">${decade(e)}</text>`);
  }
  for (const load of [...loads, 1]) {
    const x = sx(load).toFixed(1);
    const full = load === 1;
    parts.push(
      `<line x1="${x}" y1="${plot.top}" x2="${x}" y2="${plot.top + plot.height}" stroke="${full ? '#bbb' : '#e4e4e4'}"${full ? ' stroke-dasharray="4 3"' : ''}/>`,
    );
    parts.push(
      `<text x="${x}" y="${plot.top + plot.height + 14}" text-anchor="middle">${Math.round(load * 100)} %</text>`,
    );
  }
  parts.push(`<text x="${sx(1) - 4}" y="${plot.top + plot.height - 4}" text-anchor="end" fill="#888">capacity</text>`);
  parts.push(
    `<text x="${plot.left + plot.width / 2}" y="${plot.top + plot.height + 30}" text-anchor="middle">load (arrival rate ÷ capacity)</text>`,
  );
  const dot = (x: number, y: number, color: string, square: boolean) =>
    square
      ? `<rect x="${(x - 3).toFixed(1)}" y="${(y - 3).toFixed(1)}" width="6" height="6" fill="${color}"/>`
      : `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3.5" fill="${color}"/>`;
  series.forEach((s, i) => {
    const color = colors[s.lib];
    for (const [pick, dashed] of [
      [(l: OpenFigures) => l.waitP99, false],
      [(l: OpenFigures) => l.waitP50, true],
    ] as const) {
      const points = s.levels.map((l) => [sx(l.load), sy(pick(l))] as const);
      const line = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2"${dashed ? ' stroke-dasharray="6 4"' : ''} points="${line}"/>`,
      );
      for (const [x, y] of points) parts.push(dot(x, y, color, dashed));
    }
    const y = legendTop + i * 15;
    const at = (pick: (l: OpenFigures) => number) =>
      s.levels.map((l) => pick(l).toFixed(pick(l) < 10 ? 2 : 0)).join(' / ');
    const text = `${label(s.lib)}: p50 ${at((l) => l.waitP50)} ms, p99 ${at((l) => l.waitP99)} ms`;
    parts.push(
      `<line x1="${plot.left}" y1="${y - 4}" x2="${plot.left + 18}" y2="${y - 4}" stroke="${color}" stroke-width="3"/>`,
    );
    parts.push(`<text x="${plot.left + 24}" y="${y}">${esc(text)}</text>`);
  });
  const loadsText = loads.map((l) => `${Math.round(l * 100)} %`).join(' / ');
  parts.push(
    `<text x="${plot.left}" y="${legendTop + series.length * 15}" fill="#666">${esc(`solid ● p99, dashed ■ p50; figures at ${loadsText} load`)}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
${parts.join('\n')}
<text x="${width / 2}" y="${height - 10}" text-anchor="middle" fill="#666">${esc(subtitle)}</text>
</svg>
`;
}
