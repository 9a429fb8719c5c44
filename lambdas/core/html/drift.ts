import type { CaptureStats } from '../capture';
import type { Distribution, DriftReport, FeatureDrift, PredictionDrift } from '../drift';
import {
  definitionList,
  esc,
  fmtInt,
  fmtPct,
  fmtStat,
  fmtValue,
  groupedBarChart,
  page,
  shares,
  type GroupedBar,
} from './common';

/**
 * The drift report as one self-contained HTML page (issue 7): a summary, an overview table, then one card per
 * feature with the baseline and current distributions side by side on the baseline's bins (or categories), PSI,
 * KS and missing rates; drifted features first and highlighted, then the model outputs.
 */

/** Where the report came from; every part optional, shown when known. */
export interface DriftHtmlContext {
  /** @default 'Drift report' */
  readonly title?: string;
  readonly project?: string;
  readonly endpointName?: string;
  /** ISO times of the checked window. */
  readonly window?: { readonly start: string; readonly end: string };
  readonly model?: { readonly modelPackageArn?: string; readonly jobName?: string };
  /** Counts of the capture read; `objects` (S3) or `files` (CLI) say how many. */
  readonly capture?: Partial<CaptureStats> & { readonly objects?: number; readonly files?: number };
  /** Where the capture came from, e.g. file names or an S3 prefix. */
  readonly sources?: readonly string[];
}

const count = (n: number, noun: string): string => `${fmtInt(n)} ${noun}${n === 1 ? '' : 's'}`;

type Status = 'drifted' | 'ok' | 'undecided' | 'no-data';

function featureStatus(
  f: { psi: number | null; drifted: boolean; threshold: number },
  sufficient: boolean,
): Status {
  if (f.drifted) return 'drifted';
  if (f.psi === null) return 'no-data';
  // Over the threshold without being marked: too few rows overall (or for this feature) to decide.
  if (!sufficient || f.psi > f.threshold) return 'undecided';
  return 'ok';
}

const BADGES: Readonly<Record<Status, string>> = {
  drifted: '<span class="badge bad">DRIFTED</span>',
  ok: '<span class="badge good">no drift</span>',
  undecided: '<span class="badge warn">no decision</span>',
  'no-data': '<span class="badge warn">no values</span>',
};

/** Drifted first, then by PSI (largest first, none last), then in feature order: the same input, the same order. */
export function orderFeatures(features: readonly FeatureDrift[]): FeatureDrift[] {
  return features
    .map((f, i) => ({ f, i }))
    .sort((a, b) => {
      if (a.f.drifted !== b.f.drifted) return a.f.drifted ? -1 : 1;
      const pa = a.f.psi ?? -1;
      const pb = b.f.psi ?? -1;
      return pa !== pb ? pb - pa : a.i - b.i;
    })
    .map((x) => x.f);
}

/** The bins of a distribution as chart groups, with their labels; the unseen bucket only when it holds values. */
function groupsOf(d: Distribution): { groups: GroupedBar[]; boundaries?: string[]; rows: GroupedBar[] } {
  if (d.kind === 'numeric') {
    const e = d.edges.map(fmtValue);
    const groups = d.baseline.map((b, i) => ({
      label:
        e.length === 0
          ? 'all values'
          : i === 0
            ? `≤ ${e[0]}`
            : i === e.length
              ? `> ${e[i - 1]}`
              : `(${e[i - 1]}, ${e[i]}]`,
      baseline: b,
      current: d.current[i] ?? 0,
    }));
    return { groups, boundaries: e, rows: groups };
  }
  const groups = d.categories.map((c, i) => ({
    label: c,
    baseline: d.baseline[i],
    current: d.current[i] ?? 0,
  }));
  const unseen = { label: '(unseen)', baseline: d.baselineUnseen, current: d.currentUnseen };
  const withUnseen = [...groups, unseen];
  return { groups: unseen.baseline + unseen.current > 0 ? withUnseen : groups, rows: withUnseen };
}

function countsTable(rows: readonly GroupedBar[], kind: Distribution['kind'], caption: string): string {
  const b = shares(rows.map((r) => r.baseline));
  const c = shares(rows.map((r) => r.current));
  const body = rows
    .map(
      (r, i) =>
        `<tr data-index="${i}"><td class="num">${i}</td><td>${esc(r.label)}</td>` +
        `<td class="num">${fmtInt(r.baseline)}</td><td class="num">${fmtPct(b[i])}</td>` +
        `<td class="num">${fmtInt(r.current)}</td><td class="num">${fmtPct(c[i])}</td></tr>`,
    )
    .join('\n');
  return `<details><summary>Counts per ${kind === 'numeric' ? 'bin' : 'category'}</summary>
<table class="compact counts">
<caption>${esc(caption)}</caption>
<thead><tr><th scope="col" class="num">#</th><th scope="col">${kind === 'numeric' ? 'Bin' : 'Category'}</th><th scope="col" class="num">Baseline count</th><th scope="col" class="num">Baseline share</th><th scope="col" class="num">Current count</th><th scope="col" class="num">Current share</th></tr></thead>
<tbody>
${body}
</tbody>
</table>
</details>`;
}

function legend(baselineN: number, currentN: number, what: string): string {
  return `<div class="legend" aria-hidden="true"><span><span class="swatch baseline"></span>Baseline (${what}, ${fmtInt(baselineN)} values)</span><span><span class="swatch current"></span>Current (captured, ${fmtInt(currentN)} values)</span></div>`;
}

function totals(rows: readonly GroupedBar[]): [number, number] {
  let b = 0;
  let c = 0;
  for (const r of rows) {
    b += r.baseline;
    c += r.current;
  }
  return [b, c];
}

function featureCard(f: FeatureDrift, index: number, report: DriftReport): string {
  const status = featureStatus(f, report.sufficient);
  const { groups, boundaries, rows } = groupsOf(f.distribution);
  const [bn, cn] = totals(rows);
  const id = `feature-${index}`;
  const over = f.psi !== null && f.psi > f.threshold;
  const chart = groupedBarChart({
    id: `${id}-chart`,
    title: `${f.name}: baseline and current distributions`,
    description:
      `${f.distribution.kind === 'numeric' ? 'Histogram on the baseline bins' : 'Category shares'} of ${f.name}, ` +
      `baseline ${fmtInt(bn)} values, current ${fmtInt(cn)} values; PSI ${fmtStat(f.psi)}, threshold ${f.threshold}.`,
    groups,
    boundaries,
  });
  return `<section class="card feature${status === 'drifted' ? ' drifted' : ''}" id="${id}" data-feature="${esc(f.name)}" data-status="${status}" data-psi="${f.psi ?? ''}">
<div class="card-head"><h3>${esc(f.name)}</h3><span class="badge">${esc(f.type)}</span>${BADGES[status]}</div>
<p class="stats"><span>PSI <b${over ? ' class="over"' : ''}>${fmtStat(f.psi)}</b> (threshold ${esc(f.threshold)})</span><span>KS <b>${fmtStat(f.ks)}</b> (L∞ ${fmtStat(f.linf)})</span><span>values <b>${fmtInt(f.samples)}</b></span><span>missing <b>${fmtPct(f.missingRate)}</b> now vs <b>${fmtPct(f.baselineMissingRate)}</b> in the baseline</span></p>
${legend(bn, cn, 'training')}
${chart}
${countsTable(rows, f.distribution.kind, `${f.name}: counts behind the chart (shares of non-missing values)`)}
</section>`;
}

function predictionCard(p: PredictionDrift, sufficient: boolean): string {
  const status = featureStatus(p, sufficient && p.samples > 0);
  const { groups, boundaries, rows } = groupsOf(p.distribution);
  const [bn, cn] = totals(rows);
  const what = p.reference === 'predictions' ? 'training predictions' : 'training labels';
  const chart = groupedBarChart({
    id: 'predictions-chart',
    title: `Model outputs: baseline (${what}) and current`,
    description: `Shares of model outputs on the baseline's ${p.distribution.kind === 'numeric' ? 'bins' : 'classes'}; baseline ${fmtInt(bn)}, current ${fmtInt(cn)}; PSI ${fmtStat(p.psi)}.`,
    groups,
    boundaries,
  });
  return `<h2 id="predictions">Prediction drift</h2>
<section class="card feature${status === 'drifted' ? ' drifted' : ''}" data-feature="(predictions)" data-status="${status}" data-psi="${p.psi ?? ''}">
<div class="card-head"><h3>Model outputs</h3><span class="badge">vs ${esc(what)}</span>${BADGES[status]}</div>
<p class="stats"><span>PSI <b${p.psi !== null && p.psi > p.threshold ? ' class="over"' : ''}>${fmtStat(p.psi)}</b> (threshold ${esc(p.threshold)})</span><span>KS <b>${fmtStat(p.ks)}</b> (L∞ ${fmtStat(p.linf)})</span><span>outputs <b>${fmtInt(p.samples)}</b></span></p>
${legend(bn, cn, what)}
${chart}
${countsTable(rows, p.distribution.kind, 'Model outputs: counts behind the chart')}
</section>`;
}

function overviewTable(
  ordered: readonly FeatureDrift[],
  indexOf: Map<FeatureDrift, number>,
  report: DriftReport,
): string {
  const maxPsi = Math.max(report.threshold * 2, ...ordered.map((f) => f.psi ?? 0));
  const rows = ordered
    .map((f) => {
      const status = featureStatus(f, report.sufficient);
      const over = f.psi !== null && f.psi > f.threshold;
      const w = f.psi === null ? 0 : Math.min(100, (f.psi / maxPsi) * 100);
      return (
        `<tr${status === 'drifted' ? ' class="flag"' : ''} data-feature="${esc(f.name)}">` +
        `<th scope="row"><a href="#feature-${indexOf.get(f)}">${esc(f.name)}</a></th><td>${esc(f.type)}</td>` +
        `<td class="num">${fmtStat(f.psi)}<span class="meter${over ? ' over' : ''}" aria-hidden="true"><span style="width:${w.toFixed(1)}%"></span></span></td>` +
        `<td class="num">${esc(f.threshold)}</td><td class="num">${fmtStat(f.ks)}</td>` +
        `<td class="num">${fmtPct(f.missingRate)}</td><td class="num">${fmtPct(f.baselineMissingRate)}</td>` +
        `<td>${BADGES[status]}</td></tr>`
      );
    })
    .join('\n');
  return `<table class="overview">
<caption>Every feature, drifted first, then by PSI</caption>
<thead><tr><th scope="col">Feature</th><th scope="col">Type</th><th scope="col" class="num">PSI</th><th scope="col" class="num">Threshold</th><th scope="col" class="num">KS</th><th scope="col" class="num">Missing now</th><th scope="col" class="num">Missing in baseline</th><th scope="col">Status</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
}

function banner(report: DriftReport): string {
  if (!report.sufficient)
    return `<div class="banner warn" role="status" data-verdict="insufficient-data"><strong>Insufficient data</strong>${fmtInt(report.samples)} captured rows, ${fmtInt(report.minSamples)} needed for a decision. No feature is marked drifted and this window counts as no drift; the statistics below are for information only.</div>`;
  if (report.drifted)
    return `<div class="banner bad" role="alert" data-verdict="drift"><strong>Drift detected</strong>${report.driftedFeatures.length} of ${report.features.length} features drifted: ${report.driftedFeatures.map(esc).join(', ')}.</div>`;
  return `<div class="banner good" role="status" data-verdict="no-drift"><strong>No drift</strong>No feature's PSI is above its threshold (largest PSI ${fmtStat(report.maxDrift)}).</div>`;
}

/** Renders a DriftReport (from the drift Lambda or `devmlops drift`) as a self-contained HTML page. */
export function renderDriftHtml(report: DriftReport, context: DriftHtmlContext = {}): string {
  const title = context.title ?? 'Drift report';
  const ordered = orderFeatures(report.features);
  const indexOf = new Map(report.features.map((f, i) => [f, i] as const));
  const overrides = report.features.filter((f) => f.threshold !== report.threshold);
  const c = context.capture;
  const captureText =
    c === undefined
      ? undefined
      : esc(
          [
            c.records !== undefined ? count(c.records, 'record') : undefined,
            c.rows !== undefined ? count(c.rows, 'row') : undefined,
            c.objects !== undefined ? count(c.objects, 'object') : undefined,
            c.files !== undefined ? count(c.files, 'file') : undefined,
            c.malformedLines !== undefined ? count(c.malformedLines, 'malformed line') : undefined,
            c.wrongColumnRows !== undefined
              ? `${count(c.wrongColumnRows, 'row')} of the wrong width`
              : undefined,
            c.invalidValues !== undefined ? count(c.invalidValues, 'invalid value') : undefined,
          ]
            .filter((x) => x !== undefined)
            .join(', '),
        );
  const sub = [
    context.endpointName,
    context.window ? `${context.window.start} to ${context.window.end}` : undefined,
  ]
    .filter((x) => x !== undefined)
    .map(esc)
    .join(' · ');
  const facts = definitionList([
    ['Captured rows', fmtInt(report.samples)],
    ['Rows needed for a decision', fmtInt(report.minSamples)],
    [
      'PSI threshold',
      esc(report.threshold) +
        (overrides.length > 0
          ? esc(` (overridden for ${overrides.map((f) => `${f.name}: ${f.threshold}`).join(', ')})`)
          : ''),
    ],
    ['Largest PSI', fmtStat(report.maxDrift)],
    [
      'Drifted features',
      `${report.driftedFeatures.length} of ${report.features.length}${report.driftedFeatures.length > 0 ? `: ${report.driftedFeatures.map(esc).join(', ')}` : ''}`,
    ],
    ['Window start', context.window ? esc(context.window.start) : undefined],
    ['Window end', context.window ? esc(context.window.end) : undefined],
    ['Endpoint', context.endpointName !== undefined ? esc(context.endpointName) : undefined],
    [
      'Model package',
      context.model?.modelPackageArn !== undefined ? esc(context.model.modelPackageArn) : undefined,
    ],
    ['Training job', context.model?.jobName !== undefined ? esc(context.model.jobName) : undefined],
    ['Project', context.project !== undefined ? esc(context.project) : undefined],
    ['Capture read', captureText],
    [
      'Capture sources',
      context.sources && context.sources.length > 0 ? context.sources.map(esc).join('<br>') : undefined,
    ],
  ]);
  const body = `<header>
<h1>${esc(title)}</h1>
${sub === '' ? '' : `<p class="sub">${sub}</p>`}
</header>
${banner(report)}
<h2 id="summary">Summary</h2>
${facts}
<h2 id="overview">Features</h2>
${overviewTable(ordered, indexOf, report)}
<h2 id="distributions">Distributions</h2>
<p class="sub">Shares of each side's non-missing values on the baseline's quantile bins (numeric) or categories, so that windows of any size compare. PSI is computed on these bins; KS is the robust binned Kolmogorov-Smirnov distance.</p>
${ordered.map((f) => featureCard(f, indexOf.get(f)!, report)).join('\n')}
${report.predictions ? predictionCard(report.predictions, report.sufficient) : ''}`;
  return page(`${title}${context.endpointName ? ` · ${context.endpointName}` : ''}`, body);
}
