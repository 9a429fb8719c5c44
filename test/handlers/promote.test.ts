// Sets PROJECT (the metric dimension, read when the Powertools module loads) and enables EMF output.
import '../helpers/validation-env';
import { handler, readPromoteEnv, writePointer } from '../../lambdas/handlers/promote';
import { parsePointer } from '../../lambdas/core/pointer';
import { BUCKETS, getText, listKeys, startTestS3, type TestS3 } from '../helpers/local-s3';

let t: TestS3;
let consoleLog: jest.SpyInstance;

const payload = {
  modelPackageArn: 'arn:aws:sagemaker:us-east-1:000000000000:model-package/testproj-models/2',
  jobName: 'testproj-20260304050607-a1b2c3',
  endpointName: 'testproj-endpoint',
  endpointConfigName: 'testproj-20260304050607-a1b2c3',
  baselineUri: `s3://${BUCKETS.artifacts}/training/testproj-20260304050607-a1b2c3/baseline.json`,
  featureSpecUri: `s3://${BUCKETS.artifacts}/training/testproj-20260304050607-a1b2c3/feature-spec.json`,
  metricName: 'validation:auc',
  metric: 0.8765,
  execution: 'arn:aws:states:us-east-1:000000000000:execution:testproj-training:run-9',
  deployedAt: '2026-03-04T05:06:07.000Z',
};

function emfLines(): Record<string, unknown>[] {
  return consoleLog.mock.calls
    .map((c) => String(c[0]))
    .filter((s) => s.includes('"_aws"'))
    .map((s) => JSON.parse(s) as Record<string, unknown>);
}

beforeAll(async () => {
  t = await startTestS3();
  consoleLog = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  process.env.DRIFT_COOLDOWN_MINUTES = '120';
});

afterAll(async () => {
  consoleLog?.mockRestore();
  await t?.stop();
});

test('writes baselines/current.json with the cooldown and returns its URI', async () => {
  const out = await handler(payload);
  expect(out).toEqual({ currentUri: `s3://${BUCKETS.artifacts}/baselines/current.json` });
  expect(await listKeys(t.s3, BUCKETS.artifacts, 'baselines/')).toEqual(['baselines/current.json']);
  const stored = parsePointer(JSON.parse(await getText(t.s3, BUCKETS.artifacts, 'baselines/current.json')));
  expect(stored).toEqual({ ...payload, cooldownUntil: '2026-03-04T07:06:07.000Z' });
});

test('emits TrainingMetric in namespace DevMLOps with the Project dimension only, the metric name as a property', () => {
  const emitted = emfLines();
  expect(emitted).toHaveLength(1);
  const emf = emitted[0] as {
    _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  } & Record<string, unknown>;
  const d = emf._aws.CloudWatchMetrics[0];
  expect(d.Namespace).toBe('DevMLOps');
  expect(d.Dimensions).toEqual([['Project']]);
  expect(d.Metrics.map((m) => m.Name)).toEqual(['TrainingMetric']);
  expect(emf).toMatchObject({
    Project: 'testproj',
    TrainingMetric: 0.8765,
    metricName: 'validation:auc',
    jobName: payload.jobName,
  });
});

test('a retried Promote overwrites the pointer with the same bytes; a newer deploy replaces it', async () => {
  const env = readPromoteEnv({ ARTIFACTS_BUCKET: BUCKETS.artifacts, DRIFT_COOLDOWN_MINUTES: '120' });
  const before = await getText(t.s3, BUCKETS.artifacts, 'baselines/current.json');
  await writePointer(t.s3, env, payload);
  expect(await getText(t.s3, BUCKETS.artifacts, 'baselines/current.json')).toBe(before);
  await writePointer(t.s3, env, {
    ...payload,
    jobName: 'testproj-20260305000000-ffffff',
    deployedAt: '2026-03-05T00:00:00Z',
  });
  const now = parsePointer(JSON.parse(await getText(t.s3, BUCKETS.artifacts, 'baselines/current.json')));
  expect(now.jobName).toBe('testproj-20260305000000-ffffff');
  expect(now.cooldownUntil).toBe('2026-03-05T02:00:00.000Z');
});

test('a malformed payload fails before anything is written', async () => {
  consoleLog.mockClear();
  await expect(handler({ ...payload, modelPackageArn: 'nope' })).rejects.toThrow(/modelPackageArn/);
  expect(emfLines()).toHaveLength(0);
});

test('readPromoteEnv: cooldown defaults to 360 minutes and is checked', () => {
  expect(readPromoteEnv({ ARTIFACTS_BUCKET: 'a' }).driftCooldownMinutes).toBe(360);
  expect(() => readPromoteEnv({ ARTIFACTS_BUCKET: 'a', DRIFT_COOLDOWN_MINUTES: '-5' })).toThrow(
    /DRIFT_COOLDOWN_MINUTES must be a whole number/,
  );
  expect(() => readPromoteEnv({})).toThrow(/ARTIFACTS_BUCKET is required/);
});
