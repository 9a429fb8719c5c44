/**
 * Building blocks of the HTML reports: escaping, number formats, the page shell with its inline stylesheet, and
 * small inline SVG charts. Everything here is pure and deterministic (no clock, no locale, no randomness), so the
 * same input always gives the same bytes: the reports stored next to the JSON stay idempotent, and tests can
 * assert on them. Nothing refers to anything outside the page (no fonts, scripts or images), so a report opens
 * offline, from S3 or a mail attachment alike.
 */

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Escapes text for element content and quoted attribute values. Every string that comes from data (feature and
 * category names, file names, error messages, ARNs) goes through this: a CSV header can hold `<script>`.
 */
export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** A whole number with comma grouping; locale-independent so output does not depend on the machine. */
export function fmtInt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const s = String(Math.round(Math.abs(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return n < 0 ? `-${s}` : s;
}

/** A statistic with fixed decimals; null (no values) as a dash. */
export function fmtStat(v: number | null | undefined, digits = 4): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);
}

/** A proportion as a percentage. */
export function fmtPct(p: number, digits = 1): string {
  return Number.isFinite(p) ? `${(p * 100).toFixed(digits)}%` : '–';
}

/** A bin edge or measured value: short, but exact for whole numbers. */
export function fmtValue(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e9)) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Shares of a total; all zero when the total is zero. */
export function shares(counts: readonly number[]): number[] {
  let total = 0;
  for (const c of counts) total += c;
  return counts.map((c) => (total > 0 ? c / total : 0));
}

/** Shortens a label for a chart axis; the full text stays in the tooltip and the table. */
export function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** A `<dl>` of label/value pairs; values are HTML (already escaped by the caller), rows with no value skipped. */
export function definitionList(rows: ReadonlyArray<readonly [string, string | undefined]>): string {
  const items = rows
    .filter((r): r is readonly [string, string] => r[1] !== undefined)
    .map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${v}</dd></div>`)
    .join('\n');
  return `<dl class="facts">\n${items}\n</dl>`;
}

const STYLE = `
:root { --ink: #1d2330; --muted: #5b6474; --line: #d9dee7; --bg: #f6f7f9; --card: #fff;
  --base: #7f9cc6; --cur: #e07b2e; --bad: #c62828; --bad-bg: #fdecea; --good: #2e7d32; --good-bg: #e8f5e9;
  --warn: #8a6100; --warn-bg: #fff4d6; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
h3 { font-size: 15px; margin: 0; overflow-wrap: anywhere; }
.sub { color: var(--muted); margin: 0 0 16px; overflow-wrap: anywhere; }
.banner { border-radius: 6px; padding: 12px 16px; margin: 12px 0 16px; font-size: 15px; border: 1px solid; }
.banner strong { font-size: 17px; margin-right: 8px; }
.banner.bad { background: var(--bad-bg); border-color: var(--bad); color: #7f1d1d; }
.banner.good { background: var(--good-bg); border-color: var(--good); color: #1b4d1e; }
.banner.warn { background: var(--warn-bg); border-color: var(--warn); color: #5c4100; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 8px 16px;
  background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin: 0; }
.facts div { min-width: 0; }
.facts dt { color: var(--muted); font-size: 12px; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; background: var(--card); width: 100%; margin: 4px 0 8px; }
table.compact { width: auto; min-width: 420px; }
caption { text-align: left; color: var(--muted); padding: 4px 0; caption-side: top; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.msg { overflow-wrap: anywhere; }
tr.flag td { background: var(--bad-bg); }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600;
  border: 1px solid; white-space: nowrap; }
.badge.bad { color: var(--bad); border-color: var(--bad); background: var(--bad-bg); }
.badge.good { color: var(--good); border-color: var(--good); background: var(--good-bg); }
.badge.warn { color: var(--warn); border-color: var(--warn); background: var(--warn-bg); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px;
  margin: 0 0 14px; }
.card.drifted { border: 2px solid var(--bad); box-shadow: 0 0 0 3px var(--bad-bg); }
.card-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px 14px; margin-bottom: 8px; }
.stats { display: flex; flex-wrap: wrap; gap: 4px 18px; color: var(--muted); margin: 0 0 8px; }
.stats b { color: var(--ink); font-variant-numeric: tabular-nums; }
.stats .over { color: var(--bad); }
.chart { overflow-x: auto; }
.chart svg { display: block; }
svg text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #3a4150; }
svg .grid { stroke: #e6e9ef; }
svg .axis { stroke: #9aa3b2; }
svg .baseline { fill: var(--base); }
svg .current { fill: var(--cur); }
svg .valid { fill: var(--good); }
svg .invalid { fill: var(--bad); }
svg .hbar { fill: #5876a8; }
.legend { display: flex; gap: 16px; color: var(--muted); font-size: 12px; margin: 2px 0 6px; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 5px;
  vertical-align: -1px; }
.swatch.baseline { background: var(--base); }
.swatch.current { background: var(--cur); }
.meter { display: inline-block; width: 80px; height: 8px; background: #e6e9ef; border-radius: 4px;
  vertical-align: middle; margin-left: 6px; position: relative; overflow: hidden; }
.meter span { position: absolute; left: 0; top: 0; bottom: 0; background: #5876a8; }
.meter.over span { background: var(--bad); }
details { margin: 4px 0 0; }
summary { cursor: pointer; color: var(--muted); }
a { color: #1f5fbf; }
footer { color: var(--muted); font-size: 12px; margin: 28px 0 0; }
@media print { body { background: #fff; padding: 0; } .card { break-inside: avoid; } }
`;

/** The whole document: one file, UTF-8, no external references. */
export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="devmlops">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
<footer>Generated by devmlops. This file is self-contained: it needs no network and no scripts.</footer>
</main>
</body>
</html>
`;
}

export interface GroupedBar {
  /** Shown under the bar group (truncated) and in the tooltips (in full). */
  readonly label: string;
  readonly baseline: number;
  readonly current: number;
}

export interface GroupedBarChart {
  /** Unique in the page: the chart's title and description are referenced by id. */
  readonly id: string;
  readonly title: string;
  /** What the chart shows in words, for screen readers. */
  readonly description: string;
  readonly groups: readonly GroupedBar[];
  /**
   * Labels of the boundaries between groups (numeric bins: the edges), drawn as ticks between the groups instead of
   * labels under them; length groups.length - 1.
   */
  readonly boundaries?: readonly string[];
}

const nice = (v: number): number => {
  if (!(v > 0)) return 1;
  // Tops whose quarters are round percentages, so the gridlines read 5%, 10%, ... rather than 12.5%.
  const steps = [0.02, 0.04, 0.08, 0.1, 0.2, 0.4, 0.6, 0.8, 1];
  for (const s of steps) if (v <= s) return s;
  return 1;
};

/**
 * Baseline and current side by side per bin or category, as proportions of each side's non-missing values so
 * different sample sizes compare. Each group carries its counts and proportions as data attributes, so what is
 * drawn can be checked against the report JSON.
 */
export function groupedBarChart(chart: GroupedBarChart): string {
  const n = chart.groups.length;
  const base = shares(chart.groups.map((g) => g.baseline));
  const cur = shares(chart.groups.map((g) => g.current));
  const top = nice(Math.max(0, ...base, ...cur));
  const groupW = n > 24 ? 30 : n > 12 ? 40 : 56;
  const left = 44;
  const right = 12;
  const plotTop = 10;
  const plotH = 150;
  const rotate = !chart.boundaries && chart.groups.some((g) => [...g.label].length > Math.floor(groupW / 7));
  const bottom = chart.boundaries ? 34 : rotate ? 84 : 30;
  const width = Math.max(320, left + right + n * groupW);
  const plotW = width - left - right;
  const slot = plotW / Math.max(1, n);
  const barW = Math.max(4, Math.min(22, (slot - 8) / 2));
  const height = plotTop + plotH + bottom;
  const y = (p: number): number => plotTop + plotH - (p / top) * plotH;
  const r2 = (v: number): string => String(Math.round(v * 100) / 100);

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${chart.id}-t ${chart.id}-d">`,
    `<title id="${chart.id}-t">${esc(chart.title)}</title>`,
    `<desc id="${chart.id}-d">${esc(chart.description)}</desc>`,
  );
  for (let i = 0; i <= 4; i++) {
    const p = (top * i) / 4;
    const yy = r2(y(p));
    parts.push(
      `<line class="grid" x1="${left}" x2="${width - right}" y1="${yy}" y2="${yy}"/>`,
      `<text x="${left - 4}" y="${r2(y(p) + 4)}" text-anchor="end">${fmtPct(p, Number.isInteger(Math.round(p * 1e6) / 1e4) ? 0 : 1)}</text>`,
    );
  }
  chart.groups.forEach((g, i) => {
    const x0 = left + i * slot;
    const mid = x0 + slot / 2;
    const label = esc(g.label);
    parts.push(
      `<g class="bin" data-index="${i}" data-label="${label}" data-baseline-count="${g.baseline}" data-current-count="${g.current}" data-baseline-share="${base[i].toFixed(6)}" data-current-share="${cur[i].toFixed(6)}">`,
    );
    const bars: Array<['baseline' | 'current', number, number, string]> = [
      ['baseline', base[i], g.baseline, 'Baseline'],
      ['current', cur[i], g.current, 'Current'],
    ];
    bars.forEach(([cls, p, count, name], j) => {
      const x = mid - barW + j * barW;
      const yy = y(p);
      parts.push(
        `<rect class="${cls}" x="${r2(x)}" y="${r2(yy)}" width="${r2(barW - 1)}" height="${r2(plotTop + plotH - yy)}"><title>${name}, ${label}: ${fmtInt(count)} (${fmtPct(p)})</title></rect>`,
      );
    });
    if (!chart.boundaries) {
      const text = esc(truncate(g.label, rotate ? 14 : Math.max(3, Math.floor(slot / 7))));
      parts.push(
        rotate
          ? `<text x="${r2(mid)}" y="${plotTop + plotH + 12}" text-anchor="end" transform="rotate(-40 ${r2(mid)} ${plotTop + plotH + 12})">${text}</text>`
          : `<text x="${r2(mid)}" y="${plotTop + plotH + 16}" text-anchor="middle">${text}</text>`,
      );
    }
    parts.push('</g>');
  });
  if (chart.boundaries) {
    // Ticks between the bins, labelled with the edge; alternate rows so that neighbours do not overlap.
    chart.boundaries.forEach((b, i) => {
      const x = r2(left + (i + 1) * slot);
      const ty = plotTop + plotH + (i % 2 === 0 ? 14 : 27);
      parts.push(
        `<line class="axis" x1="${x}" x2="${x}" y1="${plotTop + plotH}" y2="${plotTop + plotH + 4}"/>`,
        `<text x="${x}" y="${ty}" text-anchor="middle">${esc(b)}</text>`,
      );
    });
  }
  parts.push(
    `<line class="axis" x1="${left}" x2="${width - right}" y1="${plotTop + plotH}" y2="${plotTop + plotH}"/>`,
    '</svg>',
  );
  return `<div class="chart">${parts.join('\n')}</div>`;
}

export interface HorizontalBar {
  readonly label: string;
  readonly value: number;
}

/** Labelled horizontal bars (counts by code or field), longest first as given. */
export function horizontalBarChart(id: string, title: string, bars: readonly HorizontalBar[]): string {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const labelW = 170;
  const barMax = 360;
  const rowH = 22;
  const width = labelW + barMax + 90;
  const height = bars.length * rowH + 8;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${id}-t ${id}-d">`,
    `<title id="${id}-t">${esc(title)}</title>`,
    `<desc id="${id}-d">${esc(bars.map((b) => `${b.label}: ${b.value}`).join('; '))}</desc>`,
  ];
  bars.forEach((b, i) => {
    const y = 4 + i * rowH;
    const w = Math.max(b.value > 0 ? 2 : 0, Math.round((b.value / max) * barMax));
    parts.push(
      `<g class="hrow" data-label="${esc(b.label)}" data-value="${b.value}">`,
      `<text x="${labelW - 6}" y="${y + 14}" text-anchor="end">${esc(truncate(b.label, 26))}</text>`,
      `<rect class="hbar" x="${labelW}" y="${y + 3}" width="${w}" height="${rowH - 8}"><title>${esc(b.label)}: ${fmtInt(b.value)}</title></rect>`,
      `<text x="${labelW + w + 6}" y="${y + 14}">${fmtInt(b.value)}</text>`,
      '</g>',
    );
  });
  parts.push('</svg>');
  return `<div class="chart">${parts.join('\n')}</div>`;
}
