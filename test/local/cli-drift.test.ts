import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { DriftReport } from '../../lambdas/core/drift';
import { encodeFeatures, type FeatureSpec } from '../../lambdas/core/encoding';
import { DatasetPreparer, toJsonBytes } from '../../lambdas/core/prepare';
import { readProjectConfig } from '../../lib/config';
import { sampleCsv } from '../../lib/local/sample-data';
import { runCli } from '../helpers/cli';

const schema = readProjectConfig().dataset;

const cli = (args: string[]) => runCli(['drift', ...args]);

let dir: string;
let spec: FeatureSpec;
const file = (name: string): string => path.join(dir, name);

/** Data Capture JSONL (DESIGN.md section 7) of generated rows, `perRecord` encoded CSV rows per record. */
function capture(rows: number, seed: number, drift: number, perRecord: number): string {
  const lines = sampleCsv({ rows, seed, drift }).trimEnd().split('\n');
  const header = lines[0].split(',');
  const cols = spec.features.map((f) => header.indexOf(f.name));
  const encoded = lines.slice(1).map((l) => {
    const cells = l.split(',');
    return encodeFeatures(
      spec,
      cols.map((c) => cells[c]),
    );
  });
  let out = '';
  for (let i = 0; i < encoded.length; i += perRecord) {
    const data = encoded.slice(i, i + perRecord).join('\n') + '\n';
    out +=
      JSON.stringify({
        captureData: {
          endpointInput: { observedContentType: 'text/csv', mode: 'INPUT', data, encoding: 'CSV' },
          endpointOutput: { observedContentType: 'text/csv', mode: 'OUTPUT', data: '0.4', encoding: 'CSV' },
        },
        eventMetadata: { eventId: `e${i}`, inferenceTime: '2026-01-01T12:00:00Z' },
        eventVersion: '0',
      }) + '\n';
  }
  return out;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmlops-cli-drift-'));
  const noop = (): void => undefined;
  const preparer = new DatasetPreparer(schema, { validationFraction: 0 }, { train: noop, validation: noop });
  preparer.beginFile('train.csv');
  preparer.push(Buffer.from(sampleCsv({ rows: 5000, seed: 1 })));
  preparer.endFile();
  const r = preparer.finish();
  spec = r.featureSpec;
  fs.mkdirSync(file('model'));
  fs.writeFileSync(file('model/baseline.json'), toJsonBytes(r.baseline));
  fs.writeFileSync(file('model/feature-spec.json'), toJsonBytes(spec));
  fs.writeFileSync(file('other-spec.json'), toJsonBytes(spec));
  fs.writeFileSync(file('bad-spec.json'), toJsonBytes({ ...spec, features: spec.features.slice(1) }));
  fs.writeFileSync(file('fresh-a.jsonl'), capture(700, 31, 0, 1));
  fs.writeFileSync(file('fresh-b.jsonl'), capture(600, 32, 0, 4) + 'not json\n');
  fs.writeFileSync(file('drifted.jsonl.gz'), gzipSync(capture(1200, 33, 1, 3)));
  fs.writeFileSync(file('small-drifted.jsonl'), capture(100, 34, 1, 2));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

test('no drift: exit 0, a summary on stderr counting the malformed line, nothing on stdout', async () => {
  const r = await cli([
    '--baseline',
    file('model/baseline.json'),
    file('fresh-a.jsonl'),
    file('fresh-b.jsonl'),
  ]);
  expect(r.stderr).toMatch(/^no drift \(max PSI 0\.\d{4}, threshold 0\.2\)/);
  expect(r.stderr).toContain('1300 rows from 2 files; 1 malformed lines');
  expect(r.stdout).toBe('');
  expect(r.code).toBe(0);
});

test('drift (gzip input): exit 1; --json prints only the DriftReport', async () => {
  const r = await cli(['--baseline', file('model/baseline.json'), '--json', file('drifted.jsonl.gz')]);
  expect(r.code).toBe(1);
  const report = JSON.parse(r.stdout) as DriftReport;
  expect(report).toMatchObject({ samples: 1200, sufficient: true, drifted: true, threshold: 0.2 });
  expect(report.driftedFeatures).toEqual(expect.arrayContaining(['tenure_months', 'plan']));
  expect(report.features.map((f) => f.name)).toEqual(spec.features.map((f) => f.name));
  for (const f of report.features) expect(f.drifted).toBe(f.psi !== null && f.psi > 0.2);
  expect(r.stderr).toMatch(/^DRIFT in /);
});

test('insufficient data counts as no drift and says so; --min-samples and --threshold change the decision', async () => {
  const [few, lowered, raised] = await Promise.all([
    cli(['--baseline', file('model/baseline.json'), file('small-drifted.jsonl')]),
    cli([
      '--baseline',
      file('model/baseline.json'),
      '--min-samples',
      '50',
      '--json',
      file('small-drifted.jsonl'),
    ]),
    cli([
      '--baseline',
      file('model/baseline.json'),
      '--spec',
      file('other-spec.json'),
      '--threshold',
      '1000',
      file('drifted.jsonl.gz'),
    ]),
  ]);
  expect(few.code).toBe(0);
  expect(few.stderr).toContain('insufficient data: 100 rows, 500 needed (counts as no drift)');
  expect(lowered.code).toBe(1);
  expect(JSON.parse(lowered.stdout)).toMatchObject({ samples: 100, minSamples: 50, drifted: true });
  expect(raised.code).toBe(0);
  expect(raised.stderr).toContain('threshold 1000');
});

test('errors exit 2 with a message', async () => {
  const base = file('model/baseline.json');
  const runs = await Promise.all([
    cli([file('fresh-a.jsonl')]),
    cli(['--baseline', base]),
    cli(['--baseline', base, file('missing.jsonl')]),
    cli(['--baseline', file('fresh-a.jsonl'), file('fresh-a.jsonl')]),
    cli(['--baseline', base, '--spec', file('bad-spec.json'), file('fresh-a.jsonl')]),
    cli(['--baseline', file('nope/baseline.json'), file('fresh-a.jsonl')]),
    cli(['--baseline', base, '--min-samples', '0', file('fresh-a.jsonl')]),
  ]);
  expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2, 2, 2, 2]);
  for (const r of runs) expect(r.stdout).toBe('');
  expect(runs[0].stderr).toContain('--baseline baseline.json is required');
  expect(runs[1].stderr).toContain('at least one CAPTURE.jsonl file is required');
  expect(runs[2].stderr).toContain(`cannot read ${file('missing.jsonl')}`);
  expect(runs[3].stderr).toContain('is not valid JSON');
  expect(runs[4].stderr).toContain('do not match the feature spec');
  expect(runs[5].stderr).toContain('cannot read baseline');
  expect(runs[6].stderr).toContain('--min-samples must be a whole number');
});

test('--help prints the usage', async () => {
  const r = await cli(['--help']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('Usage: devmlops drift --baseline baseline.json');
});
