import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { readProjectConfig } from '../../lib/config';
import { sampleCsv } from '../../lib/local/sample-data';
import { ROOT, runCli } from '../helpers/cli';

/** Runs the CLI the way a user does: a child process through the package's bin launcher. */
const cli = (args: string[], cwd = ROOT) => runCli(args, { cwd });

const countLines = (text: string): number => text.split('\n').filter((l) => l !== '').length;

let dir: string;
let schemaFile: string;
const file = (name: string): string => path.join(dir, name);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmlops-cli-'));
  schemaFile = file('schema.json');
  fs.writeFileSync(schemaFile, JSON.stringify(readProjectConfig().dataset));
  fs.writeFileSync(file('good.csv'), sampleCsv({ rows: 3000, seed: 1 }));
  fs.writeFileSync(file('mixed.csv'), sampleCsv({ rows: 3000, seed: 2, invalidFraction: 0.02 }));
  fs.writeFileSync(file('bad.csv'), sampleCsv({ rows: 3000, seed: 3, invalidFraction: 0.3 }));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('devmlops CLI', () => {
  it('prints usage for --help and for each command, on stdout with exit 0', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    for (const c of ['validate', 'schema', 'generate', 'demo', 'local up', 'predict'])
      expect(top.stdout).toContain(c);
    for (const [c, option] of [
      ['validate', '--out-dir'],
      ['generate', '--invalid-fraction'],
      ['schema', '--output'],
      ['demo', '--keep'],
      ['local', '--speed'],
      ['predict', '--local'],
    ]) {
      const r = await cli([c, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: devmlops ${c}`));
      expect(r.stdout).toContain(option);
    }
  });

  it('usage errors exit 2 with a pointer to --help', async () => {
    for (const args of [
      [],
      ['frobnicate'],
      ['validate', '--schema', 'x.json'],
      ['validate', '--schema', 'x.json', 'a.csv', 'b.csv'],
      ['validate', 'a.csv'],
      ['validate', '--schema', 'x.json', '--bogus', 'a.csv'],
      ['validate', '--schema', 'x.json', '--max-invalid-fraction', '2', 'a.csv'],
      ['generate', '-o', 'x.csv'],
      ['generate', '--rows', '-5', '-o', 'x.csv'],
      ['generate', '--rows', '10', '--drift', 'high', '-o', 'x.csv'],
    ]) {
      const r = await cli(args, dir);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/--help|Usage:/);
    }
  });

  it('generate writes deterministic files, gzipped for .gz', async () => {
    const a = await cli([
      'generate',
      '--rows',
      '2500',
      '--seed',
      '9',
      '--drift',
      '0.4',
      '-o',
      file('g1.csv'),
    ]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe('');
    expect(a.stderr).toContain('2500 rows');
    const b = await cli([
      'generate',
      '--rows',
      '2500',
      '--seed',
      '9',
      '--drift',
      '0.4',
      '-o',
      file('g2.csv'),
    ]);
    expect(b.code).toBe(0);
    const bytes = fs.readFileSync(file('g1.csv'));
    expect(fs.readFileSync(file('g2.csv')).equals(bytes)).toBe(true);
    expect(bytes.toString('latin1')).toBe(sampleCsv({ rows: 2500, seed: 9, drift: 0.4 }));
    expect(countLines(bytes.toString('latin1'))).toBe(2501);

    const gz = await cli(['generate', '--rows', '100', '-o', file('g.csv.gz')]);
    expect(gz.code).toBe(0);
    const raw = fs.readFileSync(file('g.csv.gz'));
    expect([raw[0], raw[1]]).toEqual([0x1f, 0x8b]);
  });

  it('schema prints the configured dataset schema as JSON, or writes it with -o', async () => {
    const r = await cli(['schema']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(readProjectConfig().dataset);
    const o = await cli(['schema', '-o', file('s.json')]);
    expect(o.code).toBe(0);
    expect(o.stdout).toBe('');
    expect(JSON.parse(fs.readFileSync(file('s.json'), 'utf8'))).toEqual(readProjectConfig().dataset);
  });

  it('validate: an accepted file exits 0 and --json puts nothing but the report on stdout', async () => {
    const r = await cli(['validate', '--schema', schemaFile, '--json', file('good.csv')]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.status).toBe('accepted');
    expect(report.rows).toEqual({ total: 3000, valid: 3000, invalid: 0 });
    expect(report.source).toMatchObject({ file: 'good.csv', gzip: false });
    expect(report.fields.total_charges.missing).toBeGreaterThan(0);
    // the human summary goes to stderr
    expect(r.stderr).toContain('ACCEPTED');
    expect(r.stderr).toContain('3000 total');

    const plain = await cli(['validate', '--schema', schemaFile, file('good.csv')]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe('');
  });

  it('validate: a file over the invalid-row limit is quarantined with exit 1 and a readable summary', async () => {
    const r = await cli(['validate', '--schema', schemaFile, '--json', file('bad.csv')]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.status).toBe('quarantined');
    expect(report.rows.invalid / report.rows.total).toBeGreaterThan(0.2);
    expect(r.stderr).toContain('QUARANTINED');
    expect(r.stderr).toMatch(/row \d+, \w+: \[(type|enum|minimum|maximum|required)\]/);

    // The limit is an option: the mixed file (about 2% invalid) passes at the default and fails at 1%.
    const mixedDefault = await cli(['validate', '--schema', schemaFile, file('mixed.csv')]);
    expect(mixedDefault.code).toBe(0);
    const strict = await cli([
      'validate',
      '--schema',
      schemaFile,
      '--max-invalid-fraction',
      '0.01',
      file('mixed.csv'),
    ]);
    expect(strict.code).toBe(1);
  });

  it('validate --out-dir writes curated.csv, quarantine.csv and report.json', async () => {
    const out = file('out-mixed');
    const r = await cli(['validate', '--schema', schemaFile, '--out-dir', out, '--json', file('mixed.csv')]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'))).toEqual(report);
    expect(report.rows.invalid).toBeGreaterThan(0);
    const curated = fs.readFileSync(path.join(out, 'curated.csv'), 'utf8');
    const quarantine = fs.readFileSync(path.join(out, 'quarantine.csv'), 'utf8');
    expect(curated.split('\n')[0]).toBe(
      readProjectConfig()
        .dataset.fields.map((f) => f.name)
        .join(','),
    );
    expect(quarantine.split('\n')[0]).toMatch(/,_errors$/);
    expect(countLines(curated)).toBe(report.rows.valid + 1);
    expect(countLines(quarantine)).toBe(report.rows.invalid + 1);
    expect(report.outputs).toEqual({
      curated: { file: 'curated.csv', rows: report.rows.valid },
      quarantine: { file: 'quarantine.csv', content: 'rows', rows: report.rows.invalid },
    });
    expect(fs.readdirSync(out).sort()).toEqual(['curated.csv', 'quarantine.csv', 'report.json']);

    // A clean file leaves no quarantine.csv, and a rerun into the same directory removes the stale one.
    const clean = await cli(['validate', '--schema', schemaFile, '--out-dir', out, file('good.csv')]);
    expect(clean.code).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['curated.csv', 'report.json']);

    // Quarantined whole: no curated rows, the original file kept as it came.
    const bad = await cli(['validate', '--schema', schemaFile, '--out-dir', out, file('bad.csv')]);
    expect(bad.code).toBe(1);
    expect(fs.readdirSync(out).sort()).toEqual(['quarantine.csv', 'report.json']);
    expect(fs.readFileSync(path.join(out, 'quarantine.csv')).equals(fs.readFileSync(file('bad.csv')))).toBe(
      true,
    );
  });

  it('validate reads gzip input, by extension or by magic bytes, and quarantines a corrupt one', async () => {
    const csv = fs.readFileSync(file('good.csv'));
    fs.writeFileSync(file('good.csv.gz'), gzipSync(csv));
    fs.writeFileSync(file('gzip-inside.csv'), gzipSync(csv));
    for (const name of ['good.csv.gz', 'gzip-inside.csv']) {
      const r = await cli(['validate', '--schema', schemaFile, '--json', file(name)]);
      expect({ name, code: r.code }).toEqual({ name, code: 0 });
      const report = JSON.parse(r.stdout);
      expect(report.rows.total).toBe(3000);
      expect(report.source).toMatchObject({ gzip: true, decodedBytes: csv.length });
    }
    const gz = gzipSync(csv);
    fs.writeFileSync(file('corrupt.csv.gz'), gz.subarray(0, gz.length >> 1));
    const corrupt = await cli(['validate', '--schema', schemaFile, '--json', file('corrupt.csv.gz')]);
    expect(corrupt.code).toBe(1);
    expect(JSON.parse(corrupt.stdout).errorCounts.encoding).toBeGreaterThan(0);
  });

  it('validate: a bad schema exits 2 naming the key; bad JSON and a missing schema exit 2', async () => {
    const schema = readProjectConfig().dataset;
    const broken = {
      ...schema,
      fields: schema.fields.map((f, i) => (i === 1 ? { ...f, type: 'float' } : f)),
    };
    fs.writeFileSync(file('broken.json'), JSON.stringify(broken));
    const r = await cli(['validate', '--schema', file('broken.json'), file('good.csv')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('fields[1].type');

    fs.writeFileSync(file('notjson.json'), '{"name": ');
    const j = await cli(['validate', '--schema', file('notjson.json'), file('good.csv')]);
    expect(j.code).toBe(2);
    expect(j.stderr).toContain('not valid JSON');

    const m = await cli(['validate', '--schema', file('nope.json'), file('good.csv')]);
    expect(m.code).toBe(2);
    expect(m.stderr).toContain('nope.json');
  });

  it('validate: a missing input file exits 2 and says which', async () => {
    const r = await cli(['validate', '--schema', schemaFile, '--json', file('missing.csv')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('missing.csv');
    const d = await cli(['validate', '--schema', schemaFile, dir]);
    expect(d.code).toBe(2);
  });

  it('demo runs the whole loop, twice in a row without cleanup, and exits 0', async () => {
    const cwd = file('demo-cwd');
    fs.mkdirSync(cwd);
    for (let run = 1; run <= 2; run++) {
      const r = await cli(['demo', '--json'], cwd);
      expect({ run, code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({
        run,
        code: 0,
        stderr: '',
      });
      const result = JSON.parse(r.stdout) as {
        problems: string[];
        files: Array<{ key: string; status: string }>;
        models: Array<{ version: number; status: string; deployedBy: string }>;
        alarms: Array<{ name: string; state: string }>;
      };
      expect(result.problems).toEqual([]);
      expect(result.files.map((f) => f.status)).toEqual(['accepted', 'accepted', 'quarantined']);
      expect(result.models.map((m) => [m.version, m.status, m.deployedBy])).toEqual([
        [1, 'SUCCEEDED', 'CreateEndpoint'],
        [2, 'SUCCEEDED', 'UpdateEndpoint'],
      ]);
      expect(result.alarms).toContainEqual({ name: 'devmlops-drift', state: 'ALARM' });
      // Progress (step names and timings) goes to stderr, the JSON alone to stdout.
      expect(r.stderr).toMatch(/done train, evaluate, register and deploy version 1 .* in \d/);
    }
    // The local S3 data stays for inspection, under the working directory, in buckets named as the stacks name them.
    expect(fs.readdirSync(path.join(cwd, '.devmlops', 'demo', 's3'))).toEqual(
      expect.arrayContaining(['devmlops-data-lake-rawbucket', 'devmlops-data-lake-curatedbucket']),
    );
    // Two whole demos (about 20 s each on an idle 2-core machine) while other suites share the cores.
  }, 180_000);
});
