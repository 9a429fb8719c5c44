import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DriftReport } from '../../lambdas/core/drift';
import { encodeFeatures, type FeatureSpec } from '../../lambdas/core/encoding';
import { DatasetPreparer, toJsonBytes } from '../../lambdas/core/prepare';
import { readProjectConfig } from '../../lib/config';
import { sampleCsv } from '../../lib/local/sample-data';
import type { FileValidationReport } from '../../lib/cli/validate';
import { rowWith, validCsv } from '../helpers/csv';
import { runCli } from '../helpers/cli';

/** `devmlops drift --html` and `devmlops validate --html` as child processes, the way a user runs them. */

const schema = readProjectConfig().dataset;

const cli = (args: string[]) => runCli(args);

let dir: string;
let spec: FeatureSpec;
const file = (name: string): string => path.join(dir, name);

/** Data Capture JSONL (DESIGN.md section 7) of generated rows, one row per record. */
function capture(rows: number, seed: number, drift: number): string {
  const lines = sampleCsv({ rows, seed, drift }).trimEnd().split('\n');
  const header = lines[0].split(',');
  const cols = spec.features.map((f) => header.indexOf(f.name));
  return lines
    .slice(1)
    .map((l) => {
      const cells = l.split(',');
      const data = `${encodeFeatures(
        spec,
        cols.map((c) => cells[c]),
      )}\n`;
      return JSON.stringify({
        captureData: {
          endpointInput: { observedContentType: 'text/csv', mode: 'INPUT', data, encoding: 'CSV' },
          endpointOutput: { observedContentType: 'text/csv', mode: 'OUTPUT', data: '0.4', encoding: 'CSV' },
        },
        eventMetadata: { eventId: 'e', inferenceTime: '2026-01-01T12:00:00Z' },
        eventVersion: '0',
      });
    })
    .join('\n');
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmlops-cli-html-'));
  const noop = (): void => undefined;
  const preparer = new DatasetPreparer(schema, { validationFraction: 0 }, { train: noop, validation: noop });
  preparer.beginFile('train.csv');
  preparer.push(Buffer.from(sampleCsv({ rows: 3000, seed: 1 })));
  preparer.endFile();
  const r = preparer.finish();
  spec = r.featureSpec;
  fs.writeFileSync(file('baseline.json'), toJsonBytes(r.baseline));
  fs.writeFileSync(file('feature-spec.json'), toJsonBytes(spec));
  fs.writeFileSync(file('drifted.jsonl'), capture(800, 33, 1));
  fs.writeFileSync(file('few.jsonl'), capture(60, 34, 0));
  fs.writeFileSync(file('schema.json'), JSON.stringify(schema));
  const lines = validCsv(300).trimEnd().split('\n');
  fs.writeFileSync(
    file('mixed.csv'),
    [lines[0], ...lines.slice(1, 100), rowWith('BAD', { plan: '<b>gold</b>' }), ...lines.slice(100)].join(
      '\n',
    ),
  );
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

test('drift --html writes the report page beside the --json output, with the same numbers', async () => {
  const r = await cli([
    'drift',
    '--baseline',
    file('baseline.json'),
    '--json',
    '--html',
    file('drift.html'),
    file('drifted.jsonl'),
  ]);
  expect(r.code).toBe(1);
  const report = JSON.parse(r.stdout) as DriftReport;
  expect(report.drifted).toBe(true);
  expect(r.stderr).toContain(`html:    ${file('drift.html')}`);
  const html = fs.readFileSync(file('drift.html'), 'utf8');
  expect(html).toMatch(/^<!DOCTYPE html>/);
  expect(html).toContain('<title>Drift report: churn</title>');
  expect(html).toContain('data-verdict="drift"');
  expect(html).toContain('<dt>Capture sources</dt><dd>drifted.jsonl</dd>');
  // The first cards are the drifted features, and each draws the counts the JSON report has.
  const cards = [...html.matchAll(/data-feature="([^"]+)" data-status="([^"]+)"/g)].map((m) => [m[1], m[2]]);
  const firstDrifted = cards.slice(0, report.driftedFeatures.length);
  expect(firstDrifted.map(([n]) => n).sort()).toEqual([...report.driftedFeatures].sort());
  expect(firstDrifted.every(([, s]) => s === 'drifted')).toBe(true);
  const tenure = report.features.find((f) => f.name === 'tenure_months')!.distribution;
  const start = html.indexOf('data-feature="tenure_months" data-status');
  const section = html.slice(start, html.indexOf('</section>', start));
  const drawn = [...section.matchAll(/data-baseline-count="(\d+)" data-current-count="(\d+)"/g)].map((m) => [
    Number(m[1]),
    Number(m[2]),
  ]);
  expect(drawn).toEqual(tenure.baseline.map((b, i) => [b, tenure.current[i]]));
});

test('drift --html on too few rows says insufficient data; a bad path exits 2 and writes nothing', async () => {
  const [few, bad, empty] = await Promise.all([
    cli(['drift', '--baseline', file('baseline.json'), '--html', file('few.html'), file('few.jsonl')]),
    cli([
      'drift',
      '--baseline',
      file('baseline.json'),
      '--html',
      file('no/such/dir/x.html'),
      file('few.jsonl'),
    ]),
    cli(['drift', '--baseline', file('baseline.json'), '--html=', file('few.jsonl')]),
  ]);
  expect(few.code).toBe(0);
  const html = fs.readFileSync(file('few.html'), 'utf8');
  expect(html).toContain('data-verdict="insufficient-data"');
  expect(html).toContain('60 captured rows, 500 needed for a decision');
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain(`cannot write ${file('no/such/dir/x.html')}`);
  expect(empty.code).toBe(2);
  expect(empty.stderr).toContain('--html needs a file name');
});

test('validate --html writes the report page, escaped, with the counts of the JSON report', async () => {
  const r = await cli([
    'validate',
    '--schema',
    file('schema.json'),
    '--json',
    '--html',
    file('valid.html'),
    file('mixed.csv'),
  ]);
  expect(r.code).toBe(0);
  const report = JSON.parse(r.stdout) as FileValidationReport;
  expect(report.rows).toEqual({ total: 301, valid: 300, invalid: 1 });
  expect(r.stderr).toContain(`html:   ${file('valid.html')}`);
  const html = fs.readFileSync(file('valid.html'), 'utf8');
  expect(html).toContain('<title>Validation report: mixed.csv');
  expect(html).toContain('data-verdict="accepted"');
  expect(html).toContain('<dt>Rows</dt><dd>301 total, 300 valid, 1 invalid (0.33%)</dd>');
  expect(html).toContain('<dt>Dataset</dt><dd>churn</dd>');
  expect(html).toContain('<tr data-key="enum" data-count="1">');
  expect(html).toContain('&quot;&lt;b&gt;gold&lt;/b&gt;&quot; is not one of basic, plus, pro');
  expect(html).not.toContain('<b>gold');
  expect(html).toContain(`<td class="num">${report.errors[0].row}</td><td>plan</td><td>enum</td>`);
});

test('--help of both commands documents --html', async () => {
  const [drift, validate] = await Promise.all([cli(['drift', '--help']), cli(['validate', '--help'])]);
  expect(drift.stdout).toContain(
    '--html FILE          also write the report as one self-contained HTML page',
  );
  expect(validate.stdout).toContain(
    '--html FILE                 also write the report as one self-contained HTML page',
  );
});
