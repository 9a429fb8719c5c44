import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { DatasetPreparer, toJsonBytes } from '../../lambdas/core/prepare';
import type { Baseline } from '../../lambdas/core/baseline';
import { readProjectConfig } from '../../lib/config';
import { createProgress } from '../../lib/cli/progress';
import { trainCommand } from '../../lib/cli/train';
import { sampleCsv } from '../../lib/local/sample-data';
import { runCli } from '../helpers/cli';

const schema = readProjectConfig().dataset;

const cli = (args: string[], env: NodeJS.ProcessEnv = process.env) => runCli(args, { env });

let dir: string;
const file = (name: string): string => path.join(dir, name);
const a = sampleCsv({ rows: 2500, seed: 1 });
const b = sampleCsv({ rows: 1500, seed: 2, invalidFraction: 0.05 });

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmlops-cli-baseline-'));
  fs.writeFileSync(file('schema.json'), JSON.stringify(schema));
  fs.writeFileSync(file('a.csv'), a);
  fs.writeFileSync(file('b.csv'), b);
  fs.writeFileSync(file('b.csv.gz'), gzipSync(b));
  fs.writeFileSync(file('wrong.csv'), 'customer_id,plan,churned\nx,pro,true\n');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** What Prepare's core builds for the same files, in-process. */
function coreBaseline(texts: string[], validationFraction: number): Baseline {
  const noop = (): void => undefined;
  const p = new DatasetPreparer(schema, { validationFraction }, { train: noop, validation: noop });
  texts.forEach((t, i) => {
    p.beginFile(String(i));
    p.push(Buffer.from(t));
    p.endFile();
  });
  return p.finish().baseline;
}

describe('devmlops baseline', () => {
  test('help and usage errors', async () => {
    const top = await cli(['--help']);
    expect(top.stdout).toMatch(/baseline --schema/);
    expect(top.stdout).toMatch(/train \[--dataset D\]/);
    const help = await cli(['baseline', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: devmlops baseline/);
    expect(help.stdout).toContain('--spec-out');
    for (const args of [
      ['baseline', 'a.csv'],
      ['baseline', '--schema', 'x.json'],
      ['baseline', '--schema', 'x.json', '--validation-fraction', '1', 'a.csv'],
      ['baseline', '--schema', 'x.json', '--bogus', 'a.csv'],
    ]) {
      const r = await cli(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain('devmlops baseline --help');
      expect(r.stdout).toBe('');
    }
  });

  test('writes baseline.json and feature-spec.json next to it: the core baseline of all labelled rows', async () => {
    const r = await cli([
      'baseline',
      '--schema',
      file('schema.json'),
      file('a.csv'),
      file('b.csv'),
      '-o',
      file('out/baseline.json'),
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/baseline of \d+ rows \(8 features, binary\) from 2 files/);
    const written = fs.readFileSync(file('out/baseline.json'), 'utf8');
    expect(written).toBe(toJsonBytes(coreBaseline([a, b], 0)));
    const baseline = JSON.parse(written) as Baseline;
    // a.csv: 2500 valid rows, all labelled; b.csv has invalid rows, some of them unreadable or unlabelled.
    expect(baseline.rowCount).toBeGreaterThan(2500 + 1300);
    expect(baseline.rowCount).toBeLessThan(4000);
    const spec = JSON.parse(fs.readFileSync(file('out/feature-spec.json'), 'utf8')) as {
      features: unknown[];
    };
    expect(spec.features).toHaveLength(8);
  });

  test('is deterministic: the same files give the same bytes, on stdout, in a file, gzipped or not', async () => {
    const args = ['baseline', '--schema', file('schema.json'), file('a.csv'), file('b.csv')];
    const one = await cli(args);
    const two = await cli([...args.slice(0, -1), file('b.csv.gz'), '--spec-out', file('spec.json')]);
    expect(one.code).toBe(0);
    expect(two.code).toBe(0);
    expect(one.stdout).toBe(two.stdout);
    expect(one.stdout).toBe(fs.readFileSync(file('out/baseline.json'), 'utf8'));
    expect(fs.existsSync(file('spec.json'))).toBe(true);
    const json = await cli([...args, '-o', file('again.json'), '--json']);
    expect(json.stdout).toBe(one.stdout);
    expect(fs.readFileSync(file('again.json'), 'utf8')).toBe(one.stdout);
  });

  test('--validation-fraction: the training side of the split, exactly as Prepare builds it', async () => {
    const r = await cli([
      'baseline',
      '--schema',
      file('schema.json'),
      file('a.csv'),
      '--validation-fraction',
      '0.2',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(toJsonBytes(coreBaseline([a], 0.2)));
    const rows = (JSON.parse(r.stdout) as Baseline).rowCount;
    expect(rows).toBeGreaterThan(2500 * 0.75);
    expect(rows).toBeLessThan(2500 * 0.85);
  });

  test('a file without the schema columns, a missing file, or no usable row: exit 2 with the reason', async () => {
    const wrong = await cli(['baseline', '--schema', file('schema.json'), file('wrong.csv')]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/wrong\.csv: curated header lacks column\(s\): tenure_months/);
    const missing = await cli(['baseline', '--schema', file('schema.json'), file('nope.csv')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*nope\.csv/);
    fs.writeFileSync(file('header-only.csv'), `${schema.fields.map((f) => f.name).join(',')}\n`);
    const empty = await cli(['baseline', '--schema', file('schema.json'), file('header-only.csv')]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/no usable rows/);
  });
});

describe('devmlops train', () => {
  const ARN = 'arn:aws:states:eu-west-1:111122223333:stateMachine:devmlops-training';
  const EXEC = 'arn:aws:states:eu-west-1:111122223333:execution:devmlops-training:abc';
  const sfn = mockClient(SFNClient);
  const quiet = createProgress(process.stderr, { quiet: true });
  let stdout: jest.SpyInstance;

  beforeEach(() => {
    sfn.reset();
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => stdout.mockRestore());

  test('--local and a missing state machine are exit 2 (the latter a usage error naming the fixes)', async () => {
    const local = await cli(['train', '--local']);
    expect(local.code).toBe(2);
    expect(local.stderr).toMatch(/no local platform is running .*devmlops local up/);
    const env = { ...process.env };
    delete env.DEVMLOPS_STATE_MACHINE_ARN;
    const none = await cli(['train'], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--state-machine-arn ARN or set DEVMLOPS_STATE_MACHINE_ARN/);
    const bad = await cli(['train', '--state-machine-arn', 'arn:aws:lambda:x']);
    expect(bad.code).toBe(2);
  });

  test('starts the execution with {trigger: "manual", dataset} and, without --wait, returns', async () => {
    sfn
      .on(StartExecutionCommand)
      .resolves({ executionArn: EXEC, startDate: new Date('2026-01-01T00:00:00Z') });
    const code = await trainCommand(['--state-machine-arn', ARN, '--json'], quiet);
    expect(code).toBe(0);
    const call = sfn.commandCalls(StartExecutionCommand)[0].args[0].input;
    expect(call.stateMachineArn).toBe(ARN);
    expect(JSON.parse(call.input!)).toEqual({ trigger: 'manual', dataset: 'churn' });
    expect(JSON.parse(String(stdout.mock.calls[0][0]))).toEqual({
      executionArn: EXEC,
      startDate: '2026-01-01T00:00:00.000Z',
    });
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(0);
  });

  test('--wait polls until the execution ends: exit 0 when it succeeded, 1 otherwise', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXEC, startDate: new Date() });
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({ status: 'RUNNING' } as never)
      .resolvesOnce({ status: 'RUNNING' } as never)
      .resolves({
        status: 'SUCCEEDED',
        output: JSON.stringify({ status: 'ModelRejected', reason: 'worse than the champion' }),
      } as never);
    const slept: number[] = [];
    const deps = { sleep: async (ms: number) => void slept.push(ms) };
    const code = await trainCommand(
      ['--state-machine-arn', ARN, '--dataset', 'other', '--wait', '--poll-seconds', '5', '--json'],
      quiet,
      deps,
    );
    expect(code).toBe(0);
    expect(slept).toEqual([5000, 5000]);
    expect(JSON.parse(sfn.commandCalls(StartExecutionCommand)[0].args[0].input.input!)).toEqual({
      trigger: 'manual',
      dataset: 'other',
    });
    expect(JSON.parse(String(stdout.mock.calls[0][0]))).toMatchObject({
      status: 'SUCCEEDED',
      output: { status: 'ModelRejected' },
    });

    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'FAILED', error: 'InsufficientDataError', cause: 'found 3 rows' } as never);
    expect(await trainCommand(['--state-machine-arn', ARN, '--wait'], quiet, deps)).toBe(1);
  });
});
