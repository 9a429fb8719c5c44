import { PutObjectCommand } from '@aws-sdk/client-s3';
import { handler } from '../../lambdas/handlers/prepare';
import {
  listCuratedKeys,
  parsePrepareEvent,
  prepareDataset,
  readPrepareEnv,
  type PrepareEnv,
} from '../../lambdas/handlers/prepare-dataset';
import { InsufficientDataError, trainingJobName } from '../../lambdas/core/prepare';
import type { Baseline } from '../../lambdas/core/baseline';
import type { FeatureSpec } from '../../lambdas/core/encoding';
import { isValidationRow } from '../../lambdas/core/split';
import { schema, validCsv } from '../helpers/csv';
import { BUCKETS, getBytes, getText, listKeys, startTestS3, type TestS3 } from '../helpers/local-s3';

let t: TestS3;

const baseEnv = {
  PROJECT: 'testproj',
  ARTIFACTS_BUCKET: BUCKETS.artifacts,
  CURATED_BUCKET: BUCKETS.curated,
  DATASET_SCHEMAS: JSON.stringify([schema]),
  MIN_TRAINING_ROWS: '100',
  VALIDATION_FRACTION: '0.25',
};
const env: PrepareEnv = readPrepareEnv(baseEnv);
const event = {
  executionName: 'run-1',
  executionStartTime: '2026-05-06T07:08:09.123Z',
  dataset: 'churn',
  trigger: 'manual',
};
const jobName = trainingJobName('testproj', 'run-1', '2026-05-06T07:08:09.123Z');

const dataLines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

async function put(bucket: string, key: string, body: string): Promise<void> {
  await t.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

/** Curated partitions as the validation Lambda leaves them, plus objects Prepare must ignore. */
const partitions: [string, number, number][] = [
  ['churn/ingest_date=2026-01-01/a-111111111111.csv', 700, 1],
  ['churn/ingest_date=2026-01-01/b-222222222222.csv', 300, 2],
  ['churn/ingest_date=2026-01-02/c-333333333333.csv', 1200, 3],
  ['churn/ingest_date=2026-02-10/d-444444444444.csv', 450, 4],
];

beforeAll(async () => {
  t = await startTestS3();
  for (const [key, rows, seed] of partitions) await put(BUCKETS.curated, key, validCsv(rows, seed));
  await put(BUCKETS.curated, 'churn/ingest_date=2026-01-01/_SUCCESS', 'x');
  await put(BUCKETS.curated, 'churn/notes.csv', 'not,a,partition\n');
  await put(BUCKETS.curated, 'other/ingest_date=2026-01-01/e.csv', validCsv(50, 5));
  await put(BUCKETS.curated, 'churn2/ingest_date=2026-01-01/f.csv', validCsv(50, 6));
});

afterAll(async () => {
  await t?.stop();
});

test('lists only the curated partitions of the dataset, sorted', async () => {
  expect(await listCuratedKeys(t.s3, BUCKETS.curated, 'churn')).toEqual(partitions.map((p) => p[0]));
});

test('writes both channels, feature-spec.json and baseline.json under training/<jobName>/, with counts', async () => {
  const out = await prepareDataset(t.s3, env, parsePrepareEvent(event));
  const prefix = `training/${jobName}/`;
  expect(out).toEqual({
    jobName,
    dataset: 'churn',
    trainUri: `s3://${BUCKETS.artifacts}/${prefix}train/`,
    validationUri: `s3://${BUCKETS.artifacts}/${prefix}validation/`,
    baselineUri: `s3://${BUCKETS.artifacts}/${prefix}baseline.json`,
    featureSpecUri: `s3://${BUCKETS.artifacts}/${prefix}feature-spec.json`,
    trainingPrefix: `s3://${BUCKETS.artifacts}/${prefix}`,
    rows: expect.any(Object),
    problem: 'binary',
  });
  expect(await listKeys(t.s3, BUCKETS.artifacts, prefix)).toEqual(
    ['baseline.json', 'feature-spec.json', 'train/data.csv', 'validation/data.csv'].map((k) => prefix + k),
  );
  const train = dataLines(await getText(t.s3, BUCKETS.artifacts, `${prefix}train/data.csv`));
  const validation = dataLines(await getText(t.s3, BUCKETS.artifacts, `${prefix}validation/data.csv`));
  // Every valid sample row has its (required) label: all 2650 rows are used.
  expect(out.rows).toEqual({ total: 2650, train: train.length, validation: validation.length });
  expect(validation.length / 2650).toBeGreaterThan(0.21);
  expect(validation.length / 2650).toBeLessThan(0.29);
  for (const l of train) expect(isValidationRow(l, 0.25)).toBe(false);
  for (const l of validation) expect(isValidationRow(l, 0.25)).toBe(true);
  expect(train[0]).toMatch(/^[01](,[^,]*){8}$/);

  const spec = JSON.parse(
    await getText(t.s3, BUCKETS.artifacts, `${prefix}feature-spec.json`),
  ) as FeatureSpec;
  expect(spec.target).toEqual({ name: 'churned', type: 'boolean', classes: ['false', 'true'] });
  expect(spec.features.map((f) => f.name)).not.toContain('customer_id');
  const baseline = JSON.parse(await getText(t.s3, BUCKETS.artifacts, `${prefix}baseline.json`)) as Baseline;
  expect(baseline.rowCount).toBe(train.length);
  expect(baseline.featureOrder).toEqual(spec.features.map((f) => f.name));
});

test('a re-run of the same execution writes byte-identical objects', async () => {
  const prefix = `training/${jobName}/`;
  const keys = await listKeys(t.s3, BUCKETS.artifacts, prefix);
  const before = await Promise.all(keys.map((k) => getBytes(t.s3, BUCKETS.artifacts, k)));
  const again = await prepareDataset(t.s3, env, parsePrepareEvent(event));
  expect(again.rows.total).toBe(2650);
  expect(await listKeys(t.s3, BUCKETS.artifacts, prefix)).toEqual(keys);
  const after = await Promise.all(keys.map((k) => getBytes(t.s3, BUCKETS.artifacts, k)));
  after.forEach((b, i) => expect(b.equals(before[i])).toBe(true));
});

test('too few rows: InsufficientDataError naming the counts and the place, and nothing written', async () => {
  const strict = readPrepareEnv({ ...baseEnv, MIN_TRAINING_ROWS: '5000' });
  const run = { ...event, executionName: 'run-small' };
  const err = await prepareDataset(t.s3, strict, parsePrepareEvent(run)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(InsufficientDataError);
  expect((err as Error).name).toBe('InsufficientDataError');
  expect((err as Error).message).toContain(
    `found 2650 labelled rows in s3://${BUCKETS.curated}/churn/ingest_date=*/ (4 curated files), need at least 5000`,
  );
  const small = trainingJobName('testproj', 'run-small', event.executionStartTime);
  expect(await listKeys(t.s3, BUCKETS.artifacts, `training/${small}/`)).toEqual([]);
});

test('a dataset without curated data fails the same way', async () => {
  const two = readPrepareEnv({
    ...baseEnv,
    DATASET_SCHEMAS: JSON.stringify([schema, { ...schema, name: 'empty' }]),
  });
  await expect(prepareDataset(t.s3, two, { ...event, dataset: 'empty' })).rejects.toThrow(
    /found 0 labelled rows in s3:\/\/test-curated\/empty\/ingest_date=\*\/ \(0 curated files\)/,
  );
  await expect(prepareDataset(t.s3, two, { ...event, dataset: undefined })).rejects.toThrow(
    /no "dataset" and 2 datasets are configured/,
  );
  await expect(prepareDataset(t.s3, two, { ...event, dataset: 'nope' })).rejects.toThrow(
    /unknown dataset "nope"/,
  );
});

test('the handler: reads its environment, defaults the dataset when only one is configured', async () => {
  Object.assign(process.env, baseEnv);
  const out = await handler({
    executionName: 'run-1',
    executionStartTime: event.executionStartTime,
    trigger: 'manual',
  });
  expect(out.jobName).toBe(jobName);
  expect(out.rows.total).toBe(2650);
  await expect(handler({ executionStartTime: 'x' })).rejects.toThrow(/needs "executionName"/);
});

test('readPrepareEnv names the variable at fault', () => {
  expect(() => readPrepareEnv({ ...baseEnv, PROJECT: undefined })).toThrow(/PROJECT is required/);
  expect(() => readPrepareEnv({ ...baseEnv, VALIDATION_FRACTION: '1' })).toThrow(
    /VALIDATION_FRACTION must be/,
  );
  expect(() => readPrepareEnv({ ...baseEnv, MIN_TRAINING_ROWS: '1.5' })).toThrow(
    /MIN_TRAINING_ROWS must be a whole/,
  );
  expect(() => readPrepareEnv({ ...baseEnv, DATASET_SCHEMAS: '[' })).toThrow(
    /DATASET_SCHEMAS is not valid JSON/,
  );
});

test('large channels go up as multipart uploads; an insufficient run aborts them and leaves no object', async () => {
  const key = 'big/ingest_date=2026-03-01/big-555555555555.csv';
  await put(BUCKETS.curated, key, validCsv(220_000, 8));
  const big = readPrepareEnv({
    ...baseEnv,
    DATASET_SCHEMAS: JSON.stringify([{ ...schema, name: 'big' }]),
  });
  const out = await prepareDataset(t.s3, big, { ...event, executionName: 'run-big', dataset: 'big' });
  const events = await t.eventsFor(BUCKETS.artifacts, `training/${out.jobName}/train/data.csv`);
  expect(events.map((e) => e.detail.reason)).toEqual(['CompleteMultipartUpload']);
  const train = await getBytes(t.s3, BUCKETS.artifacts, `training/${out.jobName}/train/data.csv`);
  expect(train.length).toBeGreaterThan(5 * 1024 * 1024);
  expect(dataLines(train.toString('utf8'))).toHaveLength(out.rows.train);
  expect(out.rows.total).toBe(220_000);

  const strict = { ...big, minTrainingRows: 220_001 };
  const run = { ...event, executionName: 'run-big-2', dataset: 'big' };
  await expect(prepareDataset(t.s3, strict, run)).rejects.toMatchObject({ name: 'InsufficientDataError' });
  const name = trainingJobName('testproj', 'run-big-2', event.executionStartTime);
  expect(await listKeys(t.s3, BUCKETS.artifacts, `training/${name}/`)).toEqual([]);
}, 120_000);
