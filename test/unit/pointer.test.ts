import {
  buildPointer,
  inCooldown,
  parsePointer,
  parseS3Uri,
  pointerJson,
  POINTER_KEY,
} from '../../lambdas/core/pointer';
import { SchemaError } from '../../lambdas/core/schema';

const input = {
  modelPackageArn: 'arn:aws:sagemaker:eu-west-1:111122223333:model-package/devmlops-models/7',
  jobName: 'devmlops-20260102030405-abc123',
  endpointName: 'devmlops-endpoint',
  endpointConfigName: 'devmlops-20260102030405-abc123',
  baselineUri: 's3://artifacts-bucket/training/devmlops-20260102030405-abc123/baseline.json',
  featureSpecUri: 's3://artifacts-bucket/training/devmlops-20260102030405-abc123/feature-spec.json',
  metricName: 'validation:auc',
  metric: 0.91,
  execution: 'arn:aws:states:eu-west-1:111122223333:execution:devmlops-training:run-1',
  deployedAt: '2026-01-02T03:04:05.678Z',
};

describe('buildPointer', () => {
  test('copies the fields and sets cooldownUntil = deployedAt + cooldown minutes', () => {
    expect(buildPointer(input, 360)).toEqual({ ...input, cooldownUntil: '2026-01-02T09:04:05.678Z' });
    expect(buildPointer(input, 0).cooldownUntil).toBe(input.deployedAt);
    expect(POINTER_KEY).toBe('baselines/current.json');
  });

  test('takes executionStartTime when deployedAt is absent, normalises times to UTC, and reads a metric string', () => {
    const rest: Partial<typeof input> = { ...input };
    delete rest.deployedAt;
    const p = buildPointer({ ...rest, executionStartTime: '2026-01-02T05:04:05+02:00', metric: '0.875' }, 90);
    expect(p.deployedAt).toBe('2026-01-02T03:04:05.000Z');
    expect(p.cooldownUntil).toBe('2026-01-02T04:34:05.000Z');
    expect(p.metric).toBe(0.875);
  });

  test('names every bad field', () => {
    let err: unknown;
    try {
      buildPointer(
        { ...input, baselineUri: 'baseline.json', metric: 'high', deployedAt: undefined, jobName: '' },
        10,
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SchemaError);
    const paths = (err as SchemaError).issues.map((i) => i.path).sort();
    expect(paths).toEqual(['baselineUri', 'deployedAt', 'jobName', 'metric']);
    expect(() => buildPointer({ ...input, deployedAt: undefined }, 10)).toThrow(/needs deployedAt/);
    expect(() => buildPointer(input, -1)).toThrow(/cooldownMinutes/);
  });
});

test('parsePointer reads back what pointerJson wrote; inCooldown compares with cooldownUntil', () => {
  const p = buildPointer(input, 60);
  const back = parsePointer(JSON.parse(pointerJson(p)));
  expect(back).toEqual(p);
  expect(inCooldown(p, new Date('2026-01-02T04:04:05.677Z'))).toBe(true);
  expect(inCooldown(p, new Date('2026-01-02T04:04:05.678Z'))).toBe(false);
  expect(() => parsePointer({ ...p, cooldownUntil: undefined })).toThrow(/cooldownUntil/);
});

test('parseS3Uri', () => {
  expect(parseS3Uri(input.baselineUri)).toEqual({
    bucket: 'artifacts-bucket',
    key: 'training/devmlops-20260102030405-abc123/baseline.json',
  });
  expect(() => parseS3Uri('https://x/y')).toThrow(/not an s3/);
});
