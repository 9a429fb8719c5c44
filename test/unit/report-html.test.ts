import type { Baseline } from '../../lambdas/core/baseline';
import { DriftAccumulator, type DriftReport, type FeatureDrift } from '../../lambdas/core/drift';
import { driftNotification, s3ConsoleUrl, snsSubject } from '../../lambdas/core/drift-notification';
import type { FeatureSpec } from '../../lambdas/core/encoding';
import { esc, fmtInt, fmtValue } from '../../lambdas/core/html/common';
import { orderFeatures, renderDriftHtml } from '../../lambdas/core/html/drift';
import { renderValidationHtml } from '../../lambdas/core/html/validation';
import type { ValidationReport } from '../../lambdas/core/report';
import { FileValidator } from '../../lambdas/core/validate';
import { header, rowWith, schema, validCsv } from '../helpers/csv';

// ---- a tiny HTML reader: enough to check structure without a DOM library --------------------------------------

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link']);
const TAG = /<(\/?)([a-zA-Z][\w-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>/g;

/** Throws unless every non-void element is closed in order (a hostile name must not break the markup). */
function assertBalanced(html: string): void {
  const stack: string[] = [];
  const body = html.replace(/^<!DOCTYPE html>/, '').replace(/<style>[\s\S]*?<\/style>/, '<style></style>');
  for (const m of body.matchAll(TAG)) {
    const [, closing, name, rest] = m;
    const tag = name.toLowerCase();
    if (closing) {
      const open = stack.pop();
      if (open !== tag) throw new Error(`</${tag}> closes <${open}> at ${m.index}`);
    } else if (!VOID.has(tag) && !rest.endsWith('/')) stack.push(tag);
  }
  expect(stack).toEqual([]);
  // Text between tags never holds a raw '<' (the regex above would have missed a broken tag).
  expect(body.replace(TAG, '')).not.toMatch(/</);
}

/** The attributes of every element matching `tag` and `cls` (class list contains it), in document order. */
function elements(html: string, tag: string, cls?: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  for (const m of html.matchAll(new RegExp(`<${tag}\\b([^>]*)>`, 'g'))) {
    const attrs: Record<string, string> = {};
    for (const a of m[1].matchAll(/([\w-]+)="([^"]*)"/g)) attrs[a[1]] = a[2];
    if (cls === undefined || (attrs.class ?? '').split(' ').includes(cls)) out.push(attrs);
  }
  return out;
}

/** The HTML of the feature card whose data-feature is `name` (escaped as in the page). */
function card(html: string, name: string): string {
  const start = html.indexOf(`data-feature="${esc(name)}" data-status`);
  expect(start).toBeGreaterThan(0);
  return html.slice(start, html.indexOf('</section>', start));
}

const unescape = (s: string): string =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');

function assertSelfContained(html: string): void {
  expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
  expect(html).toContain('<meta charset="utf-8">');
  // Nothing loaded from anywhere and nothing run: no scripts, stylesheets, images, fonts, frames or handlers.
  const tags = [...html.matchAll(TAG)];
  expect(
    tags.map((m) => m[2].toLowerCase()).filter((t) => /^(script|link|img|iframe|object|embed)$/.test(t)),
  ).toEqual([]);
  for (const m of tags) {
    const attrs = [...m[3].matchAll(/\s([\w:-]+)="([^"]*)"/g)];
    expect(attrs.filter(([, name]) => name === 'src' || name.startsWith('on'))).toEqual([]);
    for (const [, name, value] of attrs) if (name === 'href') expect(value).toMatch(/^#/);
  }
  expect(html.match(/<style>([\s\S]*?)<\/style>/)![1]).not.toMatch(/@import|url\(/);
  // Every chart is an image with an accessible name and description that exist in the page.
  const svgs = elements(html, 'svg');
  expect(svgs.length).toBeGreaterThan(0);
  for (const svg of svgs) {
    expect(svg.role).toBe('img');
    const ids = (svg['aria-labelledby'] ?? '').split(' ').filter((x) => x !== '');
    if (ids.length === 0) expect(svg['aria-label']).toBeTruthy();
    for (const id of ids) expect(html).toContain(`id="${id}"`);
  }
  for (const table of html.split('<table').slice(1)) expect(table).toContain('<th scope="col"');
  assertBalanced(html);
}

// ---- fixtures -----------------------------------------------------------------------------------------------

/** Three features: x (numeric, edges [1, 2]), c (categories a, b), calm (numeric, unchanged in the window). */
function driftFixture(names = { x: 'x', c: 'c', calm: 'calm' }, categories = ['a', 'b']) {
  const spec: FeatureSpec = {
    version: 1,
    dataset: 'hand',
    problem: 'binary',
    target: { name: 'y', type: 'boolean', classes: ['false', 'true'] },
    features: [
      { name: names.x, type: 'number' },
      { name: names.c, type: 'category', categories },
      { name: names.calm, type: 'integer' },
    ],
    missingValues: [''],
  };
  const numeric = (count: number, missing: number, edges: number[], counts: number[]) => ({
    kind: 'numeric' as const,
    count,
    missing,
    min: 0,
    max: 3,
    mean: 1,
    std: 1,
    edges,
    counts,
  });
  const baseline: Baseline = {
    version: 1,
    dataset: 'hand',
    problem: 'binary',
    rowCount: 12500,
    featureOrder: [names.x, names.c, names.calm],
    bins: 3,
    sketch: { method: 'log-buckets', relativeAccuracy: 0.005, maxBuckets: 4096 },
    features: [
      { name: names.x, type: 'number', ...numeric(10000, 2500, [1, 2], [5000, 3000, 2000]) },
      {
        name: names.c,
        type: 'category',
        kind: 'categorical',
        count: 12500,
        missing: 0,
        categories,
        counts: [6250, 6250],
        unseen: 0,
      },
      { name: names.calm, type: 'integer', ...numeric(12500, 0, [10, 20], [4000, 4500, 4000]) },
    ],
    target: {
      name: 'y',
      kind: 'categorical',
      count: 12500,
      missing: 0,
      categories: ['false', 'true'],
      counts: [9000, 3500],
      unseen: 0,
    },
    predictions: numeric(12500, 0, [0.2, 0.5], [6000, 4000, 2500]),
  };
  /** `n` rows: x 30/30/40% over its bins (20% missing), c 40/40% + 20% unseen, calm 32/36/32% as in the baseline. */
  function window(n: number, options = {}): DriftReport {
    const d = new DriftAccumulator(baseline, spec, options);
    for (let i = 0; i < n; i++) {
      const k = i % 125;
      const x = k < 30 ? 0.5 : k < 60 ? 1.5 : k < 100 ? 2.5 : Number.NaN;
      const c = k < 50 ? 0 : k < 100 ? 1 : 9;
      const calm = k < 40 ? 5 : k < 85 ? 15 : 25;
      d.addRow([x, c, calm]);
      d.addPrediction(k < 60 ? 0.1 : k < 100 ? 0.3 : 0.9);
    }
    return d.report();
  }
  return { spec, baseline, window };
}

const context = {
  project: 'devmlops',
  endpointName: 'devmlops-endpoint',
  window: { start: '2026-03-06T04:00:00.000Z', end: '2026-03-06T06:00:00.000Z' },
  model: {
    modelPackageArn: 'arn:aws:sagemaker:us-east-1:123456789012:model-package/devmlops-models/2',
    jobName: 'devmlops-20260304050607-a1b2c3',
  },
  capture: { records: 1250, rows: 1250, objects: 2, malformedLines: 1, wrongColumnRows: 0, invalidValues: 0 },
};

/** Bins the chart of one card draws, as [label, baseline count, current count]. */
function drawnBins(cardHtml: string): Array<[string, number, number]> {
  return elements(cardHtml, 'g', 'bin').map((g) => [
    unescape(g['data-label']),
    Number(g['data-baseline-count']),
    Number(g['data-current-count']),
  ]);
}

/** The counts table of one card, as [label, baseline count, current count] (the counts formatted as shown). */
function tableBins(cardHtml: string): Array<[string, string, string]> {
  const rows = cardHtml.split('<tr data-index=').slice(1);
  return rows.map((r) => {
    const cells = [...r.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((m) => unescape(m[1]));
    return [cells[1], cells[2], cells[4]];
  });
}

// ---- drift --------------------------------------------------------------------------------------------------

describe('drift report HTML', () => {
  const { window } = driftFixture();
  const report = window(1250);
  const html = renderDriftHtml(report, context);

  it('is one self-contained, accessible page', () => {
    assertSelfContained(html);
    expect(html).toContain('<title>Drift report · devmlops-endpoint</title>');
  });

  it('says drift in the summary, with the numbers of the report and the context', () => {
    expect(elements(html, 'div', 'banner')[0]['data-verdict']).toBe('drift');
    expect(html).toContain('<strong>Drift detected</strong>2 of 3 features drifted: x, c.');
    for (const text of [
      '<dt>Captured rows</dt><dd>1,250</dd>',
      '<dt>Rows needed for a decision</dt><dd>500</dd>',
      '<dt>PSI threshold</dt><dd>0.2</dd>',
      `<dt>Largest PSI</dt><dd>${report.maxDrift.toFixed(4)}</dd>`,
      '<dt>Drifted features</dt><dd>2 of 3: x, c</dd>',
      '<dt>Window start</dt><dd>2026-03-06T04:00:00.000Z</dd>',
      '<dt>Window end</dt><dd>2026-03-06T06:00:00.000Z</dd>',
      '<dt>Endpoint</dt><dd>devmlops-endpoint</dd>',
      `<dt>Model package</dt><dd>${context.model.modelPackageArn}</dd>`,
      '<dt>Training job</dt><dd>devmlops-20260304050607-a1b2c3</dd>',
      '<dt>Capture read</dt><dd>1,250 records, 1,250 rows, 2 objects, 1 malformed line, 0 rows of the wrong width',
    ])
      expect(html).toContain(text);
  });

  it('puts drifted features first (by PSI) and highlights them; the overview table agrees', () => {
    expect(report.driftedFeatures).toEqual(['x', 'c']);
    const c = report.features[1];
    const x = report.features[0];
    expect(c.psi!).toBeGreaterThan(x.psi!);
    const cards = elements(html, 'section', 'feature');
    expect(cards.map((s) => s['data-feature'])).toEqual(['c', 'x', 'calm', '(predictions)']);
    expect(cards.map((s) => s['data-status'])).toEqual(['drifted', 'drifted', 'ok', 'ok']);
    expect(cards.map((s) => s.class.includes('drifted'))).toEqual([true, true, false, false]);
    expect(cards.slice(0, 3).map((s) => Number(s['data-psi']))).toEqual([
      c.psi,
      x.psi,
      report.features[2].psi,
    ]);
    const rows = elements(html, 'tr').filter((r) => r['data-feature'] !== undefined);
    expect(rows.map((r) => [r['data-feature'], r.class])).toEqual([
      ['c', 'flag'],
      ['x', 'flag'],
      ['calm', undefined],
    ]);
    expect(card(html, 'c')).toContain('<span class="badge bad">DRIFTED</span>');
    expect(card(html, 'calm')).toContain('<span class="badge good">no drift</span>');
    // PSI, KS and missing rates as the report has them.
    expect(card(html, 'x')).toContain(`PSI <b class="over">${x.psi!.toFixed(4)}</b> (threshold 0.2)`);
    expect(card(html, 'x')).toContain(`KS <b>${x.ks!.toFixed(4)}</b>`);
    expect(card(html, 'x')).toContain('missing <b>20.0%</b> now vs <b>20.0%</b> in the baseline');
  });

  it('draws every bin with the counts of the report JSON, in the chart and in the table', () => {
    for (const f of report.features) {
      const d = f.distribution;
      const h = card(html, f.name);
      if (d.kind === 'numeric') {
        const labels = [
          '≤ ' + fmtValue(d.edges[0]),
          `(${d.edges[0]}, ${d.edges[1]}]`,
          '> ' + fmtValue(d.edges[1]),
        ];
        const expected = d.baseline.map((b, i) => [labels[i], b, d.current[i]] as [string, number, number]);
        expect(drawnBins(h)).toEqual(expected);
        expect(tableBins(h)).toEqual(expected.map(([l, b, c]) => [l, fmtInt(b), fmtInt(c)]));
        // Shares, not counts, set the bar heights: the baseline's 10,000 values and the window's 1,000 compare.
        const shares = elements(h, 'g', 'bin').map((g) => Number(g['data-current-share']));
        const total = d.current.reduce((a, b) => a + b, 0);
        expect(shares).toEqual(d.current.map((c) => Number((c / total).toFixed(6))));
      } else {
        const expected: Array<[string, number, number]> = [
          ...d.categories.map((cat, i) => [cat, d.baseline[i], d.current[i]] as [string, number, number]),
          ['(unseen)', d.baselineUnseen, d.currentUnseen],
        ];
        expect(drawnBins(h)).toEqual(expected);
        expect(tableBins(h)).toEqual(expected.map(([l, b, c]) => [l, fmtInt(b), fmtInt(c)]));
      }
    }
    // The fixture's numbers, spelled out once.
    expect(drawnBins(card(html, 'x'))).toEqual([
      ['≤ 1', 5000, 300],
      ['(1, 2]', 3000, 300],
      ['> 2', 2000, 400],
    ]);
    expect(drawnBins(card(html, 'c'))).toEqual([
      ['a', 6250, 500],
      ['b', 6250, 500],
      ['(unseen)', 0, 250],
    ]);
  });

  it('shows prediction drift against the training predictions', () => {
    const p = report.predictions!;
    expect(p.reference).toBe('predictions');
    const h = card(html, '(predictions)');
    expect(h).toContain('vs training predictions');
    expect(drawnBins(h).map(([, b, c]) => [b, c])).toEqual(
      p.distribution.baseline.map((b, i) => [b, p.distribution.current[i]]),
    );
  });

  it('states insufficient data clearly and marks nothing drifted', () => {
    const few = window(125);
    expect(few.sufficient).toBe(false);
    const h = renderDriftHtml(few, context);
    assertSelfContained(h);
    expect(elements(h, 'div', 'banner')[0]['data-verdict']).toBe('insufficient-data');
    expect(h).toContain(
      '<strong>Insufficient data</strong>125 captured rows, 500 needed for a decision. No feature is marked drifted',
    );
    expect(h).not.toContain('DRIFTED');
    expect(h).not.toContain('Drift detected');
    const cards = elements(h, 'section', 'feature');
    expect(cards.some((s) => s.class.includes('drifted'))).toBe(false);
    // x and c are over the threshold, but with 125 rows that is no decision; calm's PSI is under it.
    expect(cards.map((s) => [s['data-feature'], s['data-status']])).toEqual([
      ['c', 'undecided'],
      ['x', 'undecided'],
      ['calm', 'undecided'],
      ['(predictions)', 'undecided'],
    ]);
  });

  it('says no drift when nothing drifted', () => {
    const calm = window(1250, { threshold: 5 });
    const h = renderDriftHtml(calm);
    expect(elements(h, 'div', 'banner')[0]['data-verdict']).toBe('no-drift');
    expect(h).toContain('<dt>Drifted features</dt><dd>0 of 3</dd>');
    // No context: the facts it would give are left out, not shown empty.
    expect(h).not.toContain('Window start');
    expect(h).not.toContain('Endpoint');
  });

  it('escapes hostile names everywhere: features, categories, context', () => {
    const hostile = {
      x: '<script>alert(1)</script>',
      c: '"><img src=x onerror=alert(2)>',
      calm: "it's & <b>bold</b>",
    };
    const f = driftFixture(hostile, ['<svg onload=alert(3)>', 'b&b']);
    const r = f.window(1250);
    const h = renderDriftHtml(r, {
      ...context,
      endpointName: '</title><script>alert(4)</script>',
      sources: ['<iframe src=x>.jsonl'],
    });
    assertSelfContained(h);
    expect(h).not.toMatch(/<script|<img|<svg onload|<iframe|<b>bold/);
    expect(h).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(h).toContain('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(h).toContain('it&#39;s &amp; &lt;b&gt;bold&lt;/b&gt;');
    expect(h).toContain('&lt;/title&gt;&lt;script&gt;alert(4)&lt;/script&gt;');
    expect(elements(h, 'section', 'feature').map((s) => unescape(s['data-feature']))).toEqual([
      hostile.c,
      hostile.x,
      hostile.calm,
      '(predictions)',
    ]);
    expect(drawnBins(card(h, hostile.c)).map(([l]) => l)).toEqual([
      '<svg onload=alert(3)>',
      'b&b',
      '(unseen)',
    ]);
  });

  it('is deterministic: the same report gives the same bytes', () => {
    const again = renderDriftHtml(driftFixture().window(1250), context);
    expect(again).toBe(html);
    expect(renderDriftHtml(JSON.parse(JSON.stringify(report)) as DriftReport, context)).toBe(html);
  });

  it('orders drifted, then by PSI, nulls last, ties in feature order', () => {
    const f = (name: string, psi: number | null, drifted: boolean) =>
      ({ name, psi, drifted }) as FeatureDrift;
    const ordered = orderFeatures([
      f('a', 0.1, false),
      f('b', null, false),
      f('c', 0.3, true),
      f('d', 0.1, false),
    ]);
    expect(ordered.map((x) => x.name)).toEqual(['c', 'a', 'd', 'b']);
  });
});

// ---- validation ---------------------------------------------------------------------------------------------

function validate(csv: string, maxReportedErrors?: number): ValidationReport {
  const noop = (): void => undefined;
  const v = new FileValidator(
    schema,
    { maxInvalidRowFraction: 0.05, maxLineBytes: 65536, maxReportedErrors },
    { valid: noop, invalid: noop },
  );
  v.push(Buffer.from(csv));
  return v.end();
}

describe('validation report HTML', () => {
  // 200 valid rows and 5 bad ones: 2 enum (one of them hostile), 1 maximum, 1 missing required, 1 short row.
  const bad = [
    rowWith('E1', { plan: 'gold' }),
    rowWith('E2', { plan: '<script>alert(1)</script>' }),
    rowWith('M1', { tenure_months: '9999' }),
    rowWith('R1', { churned: '' }),
    'S1,12,plus',
  ];
  const lines = validCsv(200).trimEnd().split('\n');
  const csv = [lines[0], ...lines.slice(1, 60), ...bad, ...lines.slice(60)].join('\n') + '\n';
  const report = validate(csv);
  const html = renderValidationHtml(report, {
    title: 'Validation report: customers.csv',
    source: 's3://raw/churn/customers.csv',
    dataset: 'churn',
    id: 'customers-0123456789ab',
    bytes: 12345,
    outputs: [{ label: 'Curated rows', location: 's3://curated/churn/x.csv', rows: report.rows.valid }],
  });

  it('is one self-contained, accessible page, with hostile values escaped', () => {
    assertSelfContained(html);
    expect(html).not.toMatch(/<script/);
    expect(html).toContain(
      '&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot; is not one of basic, plus, pro',
    );
  });

  it('shows the status, row counts and the file', () => {
    expect(report.status).toBe('accepted');
    expect(report.rows).toEqual({ total: 205, valid: 200, invalid: 5 });
    expect(elements(html, 'div', 'banner')[0]['data-verdict']).toBe('accepted');
    expect(html).toContain('<dt>Rows</dt><dd>205 total, 200 valid, 5 invalid (2.44%)</dd>');
    expect(html).toContain('<dt>File</dt><dd>s3://raw/churn/customers.csv</dd>');
    expect(html).toContain('<dt>Size</dt><dd>12.1 KiB (12,345 bytes)</dd>');
    expect(html).toContain('<dt>Curated rows</dt><dd>s3://curated/churn/x.csv (200 rows)</dd>');
    const bars = elements(html, 'rect').filter((r) => r['data-rows'] !== undefined);
    expect(bars.map((r) => [r.class, Number(r['data-rows'])])).toEqual([
      ['valid', 200],
      ['invalid', 5],
    ]);
  });

  it('counts errors by code and by field as the report does', () => {
    expect(report.errorCounts).toEqual({ enum: 2, maximum: 1, required: 1, columns: 1 });
    const byCode = elements(html, 'tr').filter(
      (r) => r['data-key'] !== undefined && r['data-count'] !== undefined,
    );
    const codeRows = byCode.slice(0, 4).map((r) => [r['data-key'], Number(r['data-count'])]);
    expect(codeRows).toEqual([
      ['enum', 2],
      ['columns', 1],
      ['maximum', 1],
      ['required', 1],
    ]);
    const fieldRows = byCode.slice(4).map((r) => [r['data-key'], Number(r['data-count'])]);
    expect(fieldRows).toEqual(
      Object.entries(report.fields)
        .filter(([, s]) => s.invalid > 0)
        .map(([name, s]) => [name, s.invalid])
        .sort((a, b) => (b[1] as number) - (a[1] as number)),
    );
    expect(fieldRows).toEqual([
      ['plan', 2],
      ['tenure_months', 1],
      ['churned', 1],
    ]);
    expect(html).toContain('Invalid cells by field (1 more errors concern whole rows or the file)');
    // The charts carry the same numbers.
    expect(elements(html, 'g', 'hrow').map((g) => [g['data-label'], Number(g['data-value'])])).toEqual([
      ...codeRows,
      ...fieldRows,
    ]);
  });

  it('lists the first errors as a table and the missing counts of every field', () => {
    const table = html.slice(
      html.indexOf('<table class="errors">'),
      html.indexOf('</table>', html.indexOf('<table class="errors">')),
    );
    const rows = table
      .split('<tr><td')
      .slice(1)
      .map((r) => [...r.matchAll(/>([^<]*)<\/(?:td|i)>/g)].map((m) => unescape(m[1])));
    expect(rows.map((r) => [Number(r[0]), r[1], r[2], r[3]])).toEqual(
      report.errors.map((e) => [e.row, e.field ?? '(whole row)', e.code, e.message]),
    );
    expect(report.errors.map((e) => e.row)).toEqual([61, 62, 63, 64, 65]);
    expect(table).toContain('All 5 errors, in file order');
    const fields = elements(html, 'tr').filter((r) => r['data-field'] !== undefined);
    expect(
      fields.map((r) => [r['data-field'], Number(r['data-missing']), Number(r['data-invalid'])]),
    ).toEqual(Object.entries(report.fields).map(([name, s]) => [name, s.missing, s.invalid]));
    expect(fields.map((r) => r['data-field'])).toEqual(header.split(','));
    expect(report.fields.churned.missing).toBe(1);
  });

  it('quarantined: the reason in the banner; only the first errors listed, saying so', () => {
    const many = [
      lines[0],
      ...lines.slice(1, 41),
      ...Array.from({ length: 30 }, (_, i) => rowWith(`B${i}`, { plan: 'gold' })),
    ].join('\n');
    const r = validate(many, 10);
    expect(r.status).toBe('quarantined');
    const h = renderValidationHtml(r, { source: 'bad.csv' });
    assertSelfContained(h);
    expect(elements(h, 'div', 'banner')[0]['data-verdict']).toBe('quarantined');
    expect(h).toContain(`<strong>Quarantined</strong>${esc(r.reason!)}`);
    expect(h).toContain('The first 10 of 30 errors, in file order');
    expect(h.split('<table class="errors">')[1].split('</table>')[0].split('<tr><td')).toHaveLength(11);
  });

  it('a file with no errors says so', () => {
    const h = renderValidationHtml(validate(validCsv(20)));
    assertSelfContained(h);
    expect(h).toContain('<h2 id="by-code">Errors by code</h2>\n<p>No errors.</p>');
    expect(h).not.toContain('<table class="errors">');
  });
});

// ---- the SNS notification -----------------------------------------------------------------------------------

describe('drift notification', () => {
  const report = driftFixture().window(1250);
  const input = {
    project: 'devmlops',
    endpointName: 'devmlops-endpoint',
    topicArn: 'arn:aws:sns:eu-west-1:123456789012:devmlops-pipeline-Topic-ABC',
    bucket: 'devmlops-artifacts-abc',
    jsonKey: 'reports/drift/devmlops-endpoint/2026/03/06/05.json',
    htmlKey: 'reports/drift/devmlops-endpoint/2026/03/06/05.html',
    window: context.window,
    modelPackageArn: context.model.modelPackageArn,
    report,
  };

  it('names both reports as s3:// URIs and S3 console links, and what drifted', () => {
    const n = driftNotification(input);
    expect(n.subject).toBe('[devmlops] Drift detected on devmlops-endpoint');
    expect(n.status).toBe('Drift');
    expect(n.htmlUri).toBe('s3://devmlops-artifacts-abc/reports/drift/devmlops-endpoint/2026/03/06/05.html');
    expect(n.jsonUri).toBe('s3://devmlops-artifacts-abc/reports/drift/devmlops-endpoint/2026/03/06/05.json');
    expect(n.htmlConsoleUrl).toBe(
      'https://s3.console.aws.amazon.com/s3/object/devmlops-artifacts-abc?region=eu-west-1&prefix=reports%2Fdrift%2Fdevmlops-endpoint%2F2026%2F03%2F06%2F05.html',
    );
    for (const s of [n.htmlUri, n.jsonUri, n.htmlConsoleUrl, n.jsonConsoleUrl])
      expect(n.message).toContain(s);
    const c = report.features[1];
    const x = report.features[0];
    expect(n.message).toContain(
      `  - c: PSI ${c.psi!.toFixed(4)} (threshold 0.2)\n  - x: PSI ${x.psi!.toFixed(4)}`,
    );
    expect(n.message).not.toContain('calm');
    expect(n.message).toContain('2026-03-06T04:00:00.000Z to 2026-03-06T06:00:00.000Z');
    expect(n.message).toContain(context.model.modelPackageArn);
  });

  it('keeps the subject valid for SNS and the console link in the partition', () => {
    const long = snsSubject(`[p] Drift detected on ${'e'.repeat(200)}\nwith ünïcode`);
    expect(long.length).toBeLessThanOrEqual(99);
    expect(long).toMatch(/^[\x20-\x7e]+$/);
    expect(snsSubject('a\nb\u0007c é')).toBe('a b c');
    expect(s3ConsoleUrl('b', 'k/x y.html', 'arn:aws-cn:sns:cn-north-1:123456789012:t')).toBe(
      'https://console.amazonaws.cn/s3/object/b?region=cn-north-1&prefix=k%2Fx%20y.html',
    );
    expect(() => s3ConsoleUrl('b', 'k', 'not-an-arn')).toThrow('not a regional ARN');
  });
});
