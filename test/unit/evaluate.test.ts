import {
  defaultMetricName,
  evaluate,
  metricDirection,
  MetricNotFoundError,
  parseEvaluateInput,
  selectMetric,
  UnknownMetricError,
  type EvaluateInput,
  type FinalMetric,
} from '../../lambdas/core/evaluate';
import { handler } from '../../lambdas/handlers/evaluate';

const metrics = (m: Record<string, number>): FinalMetric[] =>
  Object.entries(m).map(([MetricName, Value]) => ({ MetricName, Value, Timestamp: '2026-01-01T00:00:00Z' }));

const champion = (metric: string | number | null) => ({
  modelPackageArn: 'arn:aws:sagemaker:us-east-1:111122223333:model-package/devmlops-models/3',
  metric,
});

function input(over: Partial<EvaluateInput>): EvaluateInput {
  return {
    metricName: 'validation:auc',
    minimum: null,
    tolerance: 0.01,
    finalMetrics: metrics({ 'train:auc': 0.99, 'validation:auc': 0.9 }),
    champion: null,
    ...over,
  };
}

describe('metricDirection', () => {
  test.each([
    ['validation:auc', 'maximize'],
    ['train:accuracy', 'maximize'],
    ['validation:f1', 'maximize'],
    ['validation:ndcg@5', 'maximize'],
    ['validation:map@10-', 'maximize'],
    ['validation:precision', 'maximize'],
    ['validation:recall', 'maximize'],
    ['validation:r2', 'maximize'],
    ['validation:aucpr', 'maximize'],
    ['validation:rmse', 'minimize'],
    ['validation:mae', 'minimize'],
    ['validation:mse', 'minimize'],
    ['validation:logloss', 'minimize'],
    ['validation:error', 'minimize'],
    ['validation:error@0.7', 'minimize'],
    ['validation:merror', 'minimize'],
    ['validation:mlogloss', 'minimize'],
    ['validation:mape', 'minimize'],
    ['rmse', 'minimize'],
  ])('%s -> %s', (name, direction) => {
    expect(metricDirection(name)).toBe(direction);
  });

  test('an unknown metric throws rather than guess', () => {
    expect(() => metricDirection('validation:happiness')).toThrow(UnknownMetricError);
    expect(() => metricDirection('validation:happiness')).toThrow(
      /Cannot tell whether "validation:happiness" is better higher or lower/,
    );
  });
});

test('defaultMetricName matches the eval_metric of each problem type', () => {
  expect(defaultMetricName('binary')).toBe('validation:auc');
  expect(defaultMetricName('multiclass')).toBe('validation:mlogloss');
  expect(defaultMetricName('regression')).toBe('validation:rmse');
  for (const p of ['binary', 'multiclass', 'regression'] as const)
    expect(['maximize', 'minimize']).toContain(metricDirection(defaultMetricName(p)));
});

describe('selectMetric', () => {
  test('by name, never by position', () => {
    const list = metrics({ 'train:auc': 0.99, 'validation:logloss': 0.3, 'validation:auc': 0.87 });
    expect(selectMetric(list, 'validation:auc')).toBe(0.87);
    expect(selectMetric(list, 'train:auc')).toBe(0.99);
  });

  test('the latest entry when a name repeats; string values are read as numbers', () => {
    const list: FinalMetric[] = [
      { MetricName: 'validation:rmse', Value: 5, Timestamp: '2026-01-01T00:00:02Z' },
      { MetricName: 'validation:rmse', Value: '4.5', Timestamp: '2026-01-01T00:00:09Z' },
      { MetricName: 'validation:rmse', Value: 6, Timestamp: '2026-01-01T00:00:05Z' },
    ];
    expect(selectMetric(list, 'validation:rmse')).toBe(4.5);
  });

  test('a missing metric throws MetricNotFoundError listing what was reported', () => {
    let err: Error | undefined;
    try {
      selectMetric(metrics({ 'train:auc': 0.9 }), 'validation:auc');
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(MetricNotFoundError);
    expect(err?.name).toBe('MetricNotFoundError');
    expect(err?.message).toMatch(/no "validation:auc".*it reported: train:auc/);
    expect(() => selectMetric([], 'validation:auc')).toThrow(/it reported: nothing/);
    expect(() => selectMetric([{ MetricName: 'validation:auc', Value: 'NaN' }], 'validation:auc')).toThrow(
      MetricNotFoundError,
    );
  });
});

describe('evaluate', () => {
  test('no champion, no minimum: passes', () => {
    const r = evaluate(input({}));
    expect(r).toEqual({
      passed: true,
      metricName: 'validation:auc',
      metric: 0.9,
      championMetric: null,
      direction: 'maximize',
      reason: expect.stringMatching(
        /^Passed: validation:auc = 0\.9 \(higher is better\); no approved champion/,
      ),
    });
  });

  test('no champion: only the minimum applies, in the metric direction', () => {
    expect(evaluate(input({ minimum: 0.85 })).passed).toBe(true);
    expect(evaluate(input({ minimum: 0.9 })).passed).toBe(true);
    const low = evaluate(input({ minimum: 0.95 }));
    expect(low.passed).toBe(false);
    expect(low.reason).toMatch(/^Rejected: .*does not meet the minimum 0\.95/);
    // Lower is better: the "minimum" is the worst acceptable value.
    const rmse = { metricName: 'validation:rmse', finalMetrics: metrics({ 'validation:rmse': 3 }) };
    expect(evaluate(input({ ...rmse, minimum: 4 })).passed).toBe(true);
    expect(evaluate(input({ ...rmse, minimum: 3 })).passed).toBe(true);
    expect(evaluate(input({ ...rmse, minimum: 2.5 })).passed).toBe(false);
  });

  test('maximize: better, equal, within tolerance, and just past it', () => {
    const run = (c: number, tolerance = 0.01) =>
      evaluate(input({ champion: champion(String(c)), tolerance }));
    expect(run(0.85)).toMatchObject({ passed: true, championMetric: 0.85 });
    expect(run(0.9).passed).toBe(true);
    expect(run(0.905).reason).toMatch(/within the tolerance 0\.01 of the champion's 0\.905/);
    expect(run(0.905).passed).toBe(true);
    // Exactly at the edge (0.91 - 0.9 is 0.010000000000000009 in floating point) still passes.
    expect(run(0.91).passed).toBe(true);
    const worse = run(0.9101);
    expect(worse.passed).toBe(false);
    expect(worse.reason).toMatch(
      /worse than the champion's 0\.9101 by 0\.0101, more than the tolerance 0\.01/,
    );
    expect(run(0.9001, 0).passed).toBe(false);
    expect(run(0.9, 0).passed).toBe(true);
  });

  test('minimize: lower is better, the tolerance applies upwards', () => {
    const run = (c: number, m = 0.3) =>
      evaluate(
        input({
          metricName: 'validation:mlogloss',
          finalMetrics: metrics({ 'validation:mlogloss': m }),
          champion: champion(c),
          tolerance: 0.1,
        }),
      );
    expect(run(0.5)).toMatchObject({ passed: true, direction: 'minimize', championMetric: 0.5 });
    expect(run(0.25).passed).toBe(true);
    expect(run(0.2).passed).toBe(true); // 0.3 - 0.2 is 0.09999999999999998 or 0.1: the edge passes
    expect(run(0.19).passed).toBe(false);
    expect(run(0.4, 0.5).passed).toBe(true);
    expect(run(0.39, 0.5).passed).toBe(false);
    expect(run(0.19).reason).toMatch(/lower is better.*worse than the champion's 0\.19/);
  });

  test('both rules: a challenger must meet the minimum even when the champion is worse', () => {
    const r = evaluate(input({ minimum: 0.95, champion: champion('0.5') }));
    expect(r.passed).toBe(false);
    expect(r.reason).toMatch(/does not meet the minimum 0\.95; is at least as good as the champion's 0\.5/);
  });

  test("a champion's metric comes as a string (CustomerMetadataProperties); one that is not a number is ignored", () => {
    expect(evaluate(input({ champion: champion(' 0.95 ') })).championMetric).toBe(0.95);
    for (const bad of ['', 'n/a', null]) {
      const r = evaluate(input({ champion: champion(bad) }));
      expect(r.passed).toBe(true);
      expect(r.championMetric).toBeNull();
      expect(r.reason).toMatch(/has no numeric metric/);
    }
  });

  test('throws on a missing metric, an unknown metric, or a negative tolerance', () => {
    expect(() => evaluate(input({ metricName: 'validation:rmse' }))).toThrow(MetricNotFoundError);
    expect(() =>
      evaluate(input({ metricName: 'validation:odd', finalMetrics: metrics({ 'validation:odd': 1 }) })),
    ).toThrow(UnknownMetricError);
    expect(() => evaluate(input({ tolerance: -1 }))).toThrow(/tolerance must be a number >= 0/);
  });
});

describe('the Evaluate handler', () => {
  const payload = {
    metricName: 'validation:auc',
    minimum: null,
    tolerance: 0.01,
    finalMetrics: [
      { MetricName: 'train:auc', Value: 0.97, Timestamp: 1767225600 },
      { MetricName: 'validation:auc', Value: 0.88, Timestamp: 1767225600 },
    ],
    champion: { modelPackageArn: champion(null).modelPackageArn, metric: '0.9' },
  };

  test('adapts the state machine payload', async () => {
    await expect(handler(payload)).resolves.toMatchObject({
      passed: false,
      metric: 0.88,
      championMetric: 0.9,
      direction: 'maximize',
    });
    await expect(handler({ ...payload, champion: null, minimum: 0.8 })).resolves.toMatchObject({
      passed: true,
    });
  });

  test('rejects a malformed payload with the field at fault, and a missing metric by its error name', async () => {
    await expect(handler({ ...payload, metricName: undefined })).rejects.toThrow(/needs "metricName"/);
    await expect(handler({ ...payload, tolerance: 'lots' })).rejects.toThrow(
      /"tolerance" must be a number >= 0/,
    );
    await expect(handler({ ...payload, minimum: 'x' })).rejects.toThrow(/"minimum" must be a number or null/);
    await expect(handler({ ...payload, finalMetrics: {} })).rejects.toThrow(/"finalMetrics" must be/);
    await expect(handler({ ...payload, champion: { metric: '1' } })).rejects.toThrow(
      /"champion" must be null/,
    );
    await expect(handler({ ...payload, finalMetrics: [] })).rejects.toMatchObject({
      name: 'MetricNotFoundError',
    });
  });

  test('parseEvaluateInput: tolerance defaults to 0, a numeric string minimum is read', () => {
    const p = parseEvaluateInput({ ...payload, tolerance: undefined, minimum: '0.7' });
    expect(p.tolerance).toBe(0);
    expect(p.minimum).toBe(0.7);
  });
});
