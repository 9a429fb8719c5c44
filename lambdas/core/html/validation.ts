import type { ValidationReport } from '../report';
import { definitionList, esc, fmtBytes, fmtInt, fmtPct, fmtValue, horizontalBarChart, page } from './common';

/**
 * The validation report as one self-contained HTML page (issue 7): the verdict, row counts, error counts by code
 * and by field, the first errors as a table and per-field missing counts.
 */

/** Where the file came from and where its rows went; every part optional, shown when known. */
export interface ValidationHtmlContext {
  /** @default 'Validation report' */
  readonly title?: string;
  /** The file as shown: an s3:// URI or a file name. */
  readonly source?: string;
  readonly dataset?: string;
  readonly id?: string;
  readonly ingestDate?: string;
  readonly versionId?: string;
  readonly etag?: string;
  readonly bytes?: number;
  readonly gzip?: boolean;
  /** Outputs as label and location, e.g. ['curated', 's3://...', 120]. */
  readonly outputs?: ReadonlyArray<{
    readonly label: string;
    readonly location: string;
    readonly rows?: number;
  }>;
}

/** Error counts by code, largest first, then by code name: deterministic. */
function byCode(report: ValidationReport): Array<[string, number]> {
  return Object.entries(report.errorCounts)
    .map(([k, v]) => [k, v ?? 0] as [string, number])
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function countsTable(
  caption: string,
  head: string,
  rows: ReadonlyArray<[string, number]>,
  total: number,
): string {
  return `<table class="compact by-${head.toLowerCase()}">
<caption>${esc(caption)}</caption>
<thead><tr><th scope="col">${esc(head)}</th><th scope="col" class="num">Errors</th><th scope="col" class="num">Share</th></tr></thead>
<tbody>
${rows.map(([k, n]) => `<tr data-key="${esc(k)}" data-count="${n}"><th scope="row">${esc(k)}</th><td class="num">${fmtInt(n)}</td><td class="num">${fmtPct(total > 0 ? n / total : 0)}</td></tr>`).join('\n')}
</tbody>
</table>`;
}

function rowsChart(report: ValidationReport): string {
  const { total, valid, invalid } = report.rows;
  const width = 560;
  const w = total > 0 ? Math.round((valid / total) * width) : 0;
  const label = `${fmtInt(valid)} valid and ${fmtInt(invalid)} invalid of ${fmtInt(total)} rows`;
  return `<div class="chart"><svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="22" viewBox="0 0 ${width} 22" role="img" aria-label="${esc(label)}">
<title>${esc(label)}</title>
<rect class="valid" x="0" y="2" width="${w}" height="18" data-rows="${valid}"/>
<rect class="invalid" x="${w}" y="2" width="${total > 0 ? width - w : 0}" height="18" data-rows="${invalid}"/>
</svg></div>`;
}

/** Renders a ValidationReport (from the validation Lambda or `devmlops validate`) as a self-contained HTML page. */
export function renderValidationHtml(report: ValidationReport, context: ValidationHtmlContext = {}): string {
  const title = context.title ?? 'Validation report';
  const accepted = report.status === 'accepted';
  const codes = byCode(report);
  const totalErrors = codes.reduce((s, [, n]) => s + n, 0);
  const fields = Object.entries(report.fields);
  const byField = fields
    .filter(([, s]) => s.invalid > 0)
    .map(([name, s]) => [name, s.invalid] as [string, number])
    .sort((a, b) => b[1] - a[1]);
  const fieldErrors = byField.reduce((s, [, n]) => s + n, 0);
  const { total, valid, invalid } = report.rows;

  const verdict = accepted
    ? `<div class="banner good" role="status" data-verdict="accepted"><strong>Accepted</strong>${fmtInt(valid)} valid rows go to curated${invalid > 0 ? `; ${fmtInt(invalid)} invalid rows were quarantined with their errors` : ''}.</div>`
    : `<div class="banner bad" role="alert" data-verdict="quarantined"><strong>Quarantined</strong>${esc(report.reason ?? 'the whole file was quarantined')}</div>`;

  const facts = definitionList([
    ['Status', accepted ? 'accepted' : 'quarantined'],
    ['Reason', report.reason !== undefined ? esc(report.reason) : undefined],
    ['File', context.source !== undefined ? esc(context.source) : undefined],
    ['Dataset', context.dataset !== undefined ? esc(context.dataset) : undefined],
    ['Report id', context.id !== undefined ? esc(context.id) : undefined],
    ['Ingest date', context.ingestDate !== undefined ? esc(context.ingestDate) : undefined],
    ['Version', context.versionId !== undefined ? esc(context.versionId) : undefined],
    ['ETag', context.etag !== undefined ? esc(context.etag) : undefined],
    [
      'Size',
      context.bytes !== undefined
        ? `${fmtBytes(context.bytes)} (${fmtInt(context.bytes)} bytes${context.gzip ? ', gzip' : ''})`
        : undefined,
    ],
    [
      'Rows',
      `${fmtInt(total)} total, ${fmtInt(valid)} valid, ${fmtInt(invalid)} invalid (${fmtPct(total > 0 ? invalid / total : 0, 2)})`,
    ],
    ['Errors', fmtInt(totalErrors)],
    ...(context.outputs ?? []).map(
      (o) =>
        [o.label, `${esc(o.location)}${o.rows !== undefined ? ` (${fmtInt(o.rows)} rows)` : ''}`] as [
          string,
          string,
        ],
    ),
  ]);

  const errorsTable =
    report.errors.length === 0
      ? '<p>No errors.</p>'
      : `<table class="errors">
<caption>${report.errors.length < totalErrors ? `The first ${fmtInt(report.errors.length)} of ${fmtInt(totalErrors)} errors, in file order` : `All ${fmtInt(report.errors.length)} errors, in file order`} (row 1 is the header)</caption>
<thead><tr><th scope="col" class="num">Row</th><th scope="col">Field</th><th scope="col">Code</th><th scope="col">Message</th></tr></thead>
<tbody>
${report.errors.map((e) => `<tr><td class="num">${e.row}</td><td>${e.field === null ? '<i>(whole row)</i>' : esc(e.field)}</td><td>${esc(e.code)}</td><td class="msg">${esc(e.message)}</td></tr>`).join('\n')}
</tbody>
</table>`;

  const fieldsTable = `<table class="fields">
<caption>Every column of the schema: missing cells (a missing value), invalid cells (failed a check), valid range</caption>
<thead><tr><th scope="col">Field</th><th scope="col" class="num">Missing</th><th scope="col" class="num">Missing share</th><th scope="col" class="num">Invalid</th><th scope="col" class="num">Min</th><th scope="col" class="num">Max</th></tr></thead>
<tbody>
${fields
  .map(
    ([name, s]) =>
      `<tr${s.invalid > 0 ? ' class="flag"' : ''} data-field="${esc(name)}" data-missing="${s.missing}" data-invalid="${s.invalid}"><th scope="row">${esc(name)}</th><td class="num">${fmtInt(s.missing)}</td><td class="num">${fmtPct(total > 0 ? s.missing / total : 0)}</td><td class="num">${fmtInt(s.invalid)}</td><td class="num">${s.min !== undefined ? esc(fmtValue(s.min)) : '–'}</td><td class="num">${s.max !== undefined ? esc(fmtValue(s.max)) : '–'}</td></tr>`,
  )
  .join('\n')}
</tbody>
</table>`;

  const body = `<header>
<h1>${esc(title)}</h1>
${context.source !== undefined ? `<p class="sub">${esc(context.source)}</p>` : ''}
</header>
${verdict}
<h2 id="summary">Summary</h2>
${facts}
<h2 id="rows">Rows</h2>
${rowsChart(report)}
<div class="legend" aria-hidden="true"><span><span class="swatch" style="background:#2e7d32"></span>valid ${fmtInt(valid)}</span><span><span class="swatch" style="background:#c62828"></span>invalid ${fmtInt(invalid)}</span></div>
<h2 id="by-code">Errors by code</h2>
${
  codes.length === 0
    ? '<p>No errors.</p>'
    : `${horizontalBarChart(
        'codes-chart',
        'Errors by code',
        codes.map(([label, value]) => ({ label, value })),
      )}\n${countsTable('Errors by code', 'Code', codes, totalErrors)}`
}
<h2 id="by-field">Errors by field</h2>
${
  byField.length === 0
    ? `<p>No cell failed a check${totalErrors > 0 ? ' (the errors are about whole rows or the file)' : ''}.</p>`
    : `${horizontalBarChart(
        'fields-chart',
        'Invalid cells by field',
        byField.map(([label, value]) => ({ label, value })),
      )}\n${countsTable(`Invalid cells by field${fieldErrors < totalErrors ? ` (${fmtInt(totalErrors - fieldErrors)} more errors concern whole rows or the file)` : ''}`, 'Field', byField, fieldErrors)}`
}
<h2 id="errors">First errors</h2>
${errorsTable}
<h2 id="fields">Fields</h2>
${fieldsTable}`;
  return page(`${title}${context.source !== undefined ? ` · ${context.source}` : ''}`, body);
}
