import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { prng } from '../../lib/local/sample-data';
import {
  evaluateMetric,
  LocalModel,
  ModelFormatError,
  modelTarGz,
  parseXgbCsv,
  planTraining,
  predictWithXgboost,
  readModelTarGz,
  readTar,
  trainXgboost,
  XgbInputError,
  type XgbDataset,
} from '../../lib/local/xgboost';
import { churnCsv, churnSpec } from '../helpers/churn';

/**
 * The local built-in XGBoost: trained by XGBoost itself (WebAssembly, in a worker), scored in TypeScript. The
 * TypeScript scorer is checked against XGBoost's own predictor, metrics against XGBoost's definitions.
 */

const spec = churnSpec;

/** 10 features in [-1, 1] with missing cells and exact -1s (the WebAssembly build's missing marker). */
function synthetic(
  n: number,
  seed: number,
  label: (r: number[], noise: number) => number,
): { rows: number[][]; labels: number[] } {
  const rnd = prng(seed);
  const rows: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = Array.from({ length: 10 }, () => rnd() * 2 - 1);
    if (i % 7 === 0) r[3] = Number.NaN;
    if (i % 11 === 0) r[4] = -1;
    if (i % 13 === 0) r[0] = -1;
    rows.push(r);
    labels.push(label(r, rnd() - 0.5));
  }
  return { rows, labels };
}

const binaryLabel = (r: number[], noise: number) => (r[0] + r[1] * r[2] + 0.3 * noise > 0 ? 1 : 0);
const classLabel = (r: number[]) => (r[0] > 0.3 ? 2 : r[0] > -0.3 ? 1 : 0);
const regressionLabel = (r: number[], noise: number) => 3 * r[0] - 2 * r[1] + r[2] * r[5] + 0.1 * noise;

const BINARY = {
  num_round: '50',
  objective: 'binary:logistic',
  max_depth: '5',
  eta: '0.2',
  subsample: '0.8',
};

function maxAbsDiff(a: number[][], b: number[][]): number {
  let d = 0;
  a.forEach((row, i) => row.forEach((v, k) => (d = Math.max(d, Math.abs(v - b[i][k])))));
  return d;
}

describe('parseXgbCsv', () => {
  it('reads label-first rows; empty cells are missing; CRLF and blank lines are fine', () => {
    const { labels, rows } = parseXgbCsv('1,0.5,,3\r\n\n0,-1,2e3, 4 \n');
    expect(labels).toEqual([1, 0]);
    expect(rows[0][0]).toBe(0.5);
    expect(rows[0][1]).toBeNaN();
    expect(rows[0][2]).toBe(3);
    expect(rows[1]).toEqual([-1, 2000, 4]);
  });

  it('accepts a Buffer', () => {
    expect(parseXgbCsv(Buffer.from('2,1,2\n'))).toEqual({ labels: [2], rows: [[1, 2]] });
  });

  it('names the line and column of a cell that is not a number, and a missing label', () => {
    expect(() => parseXgbCsv('1,2\n0,abc\n')).toThrow(
      new XgbInputError('line 2, column 2: "abc" is not a number'),
    );
    expect(() => parseXgbCsv('1,2\n,3\n')).toThrow('line 2: the label (first column) is missing');
    // A header row is a classic mistake: XGBoost CSV has none.
    expect(() => parseXgbCsv('churned,tenure\n1,2\n')).toThrow(XgbInputError);
  });
});

describe('planTraining (SageMaker XGBoost hyperparameters)', () => {
  it('translates to the XGBoost build: reg:squarederror -> reg:linear, softmax trained as softprob', () => {
    expect(planTraining({ num_round: '10' })).toMatchObject({
      objective: 'reg:squarederror',
      rounds: 10,
      evalMetrics: ['rmse'],
      params: expect.arrayContaining([['objective', 'reg:linear']]),
    });
    const multi = planTraining({ num_round: '5', objective: 'multi:softmax', num_class: '4', eta: '0.3' });
    expect(multi.params).toEqual(
      expect.arrayContaining([
        ['objective', 'multi:softprob'],
        ['num_class', '4'],
        ['eta', '0.3'],
      ]),
    );
    expect(multi.evalMetrics).toEqual(['mlogloss']);
    expect(
      planTraining({ num_round: 3, objective: 'binary:logistic', eval_metric: 'auc, error' }).evalMetrics,
    ).toEqual(['auc', 'error']);
  });

  it.each([
    [{}, 'Missing required hyperparameter: num_round'],
    [{ num_round: '0' }, 'num_round: "0" is not an integer in [1, 100000]'],
    [{ num_round: '1.5' }, 'is not an integer'],
    [{ num_round: '5', objective: 'rank:pairwise' }, 'objective: "rank:pairwise" is not supported'],
    [{ num_round: '5', objective: 'multi:softprob' }, 'Missing required hyperparameter: num_class'],
    [{ num_round: '5', num_class: '3' }, 'num_class: only valid with multi:softmax or multi:softprob'],
    [{ num_round: '5', eval_metric: 'ndcg' }, 'eval_metric: "ndcg" is not supported'],
    [{ num_round: '5', eval_metric: 'auc' }, 'eval_metric: auc does not apply to objective reg:squarederror'],
    [{ num_round: '5', eta: '1.5' }, 'eta: "1.5" is not a number in [0, 1]'],
    [{ num_round: '5', subsample: '0' }, 'subsample: "0" is not a number in (0, 1]'],
    [{ num_round: '5', max_depth: 'deep' }, 'max_depth: "deep" is not an integer'],
    [{ num_round: '5', max_depth: '0' }, 'max_depth: 0 (no limit) is only valid with grow_policy lossguide'],
    [
      { num_round: '5', tree_method: 'gpu_hist' },
      'tree_method: "gpu_hist" is not one of auto, exact, approx, hist',
    ],
    [{ num_round: '5', booster: 'dart' }, 'booster: "dart" is not supported by the local XGBoost runtime'],
    [
      { num_round: '5', early_stopping_rounds: '10' },
      'early_stopping_rounds is not supported by the local XGBoost runtime',
    ],
    [
      { num_round: '5', learning_rate: '0.1' },
      "Unknown hyperparameter: learning_rate (SageMaker's XGBoost calls it eta)",
    ],
    [{ num_round: '5', colour: 'blue' }, 'Unknown hyperparameter: colour'],
  ])('rejects %j: %s', (hp, message) => {
    expect(() => planTraining(hp as Record<string, string>)).toThrow(XgbInputError);
    expect(() => planTraining(hp as Record<string, string>)).toThrow(message);
  });

  it('accepts and ignores nthread, silent and verbosity', () => {
    const plan = planTraining({ num_round: '2', nthread: '4', verbosity: '1', silent: '0' });
    expect(plan.params.map(([k]) => k)).toEqual(['objective', 'silent']);
  });
});

describe('trainXgboost', () => {
  it('binary on generated churn data through the real encoding: validation:auc > 0.7', async () => {
    const train = parseXgbCsv(churnCsv(8000, 1));
    const validation = parseXgbCsv(churnCsv(2000, 2));
    expect(train.rows[0]).toHaveLength(spec.features.length);
    expect(train.rows.some((r) => r.some(Number.isNaN))).toBe(true);
    const { model, metrics } = await trainXgboost(train, validation, {
      num_round: '40',
      objective: 'binary:logistic',
      eval_metric: 'auc,logloss',
      max_depth: '4',
      eta: '0.2',
    });
    expect(metrics.map((m) => m.MetricName)).toEqual([
      'train:auc',
      'train:logloss',
      'validation:auc',
      'validation:logloss',
    ]);
    const value = (name: string) => metrics.find((m) => m.MetricName === name)!.Value;
    expect(value('validation:auc')).toBeGreaterThan(0.7);
    expect(value('train:auc')).toBeGreaterThanOrEqual(value('validation:auc') - 0.02);
    expect(value('validation:logloss')).toBeLessThan(Math.log(2));
    expect(model).toMatchObject({
      objective: 'binary:logistic',
      numFeatures: spec.features.length,
      numTrees: 40,
    });
    const p = model.predict(validation.rows.slice(0, 100));
    expect(p.every((r) => r.length === 1 && r[0] > 0 && r[0] < 1)).toBe(true);
    // The reported metric is what XGBoost's definition gives on the model's own predictions (5 decimals).
    const auc = evaluateMetric('auc', validation.labels, model.probabilities(validation.rows));
    expect(value('validation:auc')).toBeCloseTo(auc, 5);
  });

  it('demo size (30k rows x 10 features, 50 rounds) trains in a few seconds; TS scoring matches XGBoost', async () => {
    const train = synthetic(30_000, 1, binaryLabel);
    const validation = synthetic(5_000, 2, binaryLabel);
    const started = Date.now();
    const { model, metrics } = await trainXgboost(train, validation, { ...BINARY, eval_metric: 'auc,error' });
    const seconds = (Date.now() - started) / 1000;
    expect(seconds).toBeLessThan(8);
    expect(metrics.find((m) => m.MetricName === 'validation:auc')!.Value).toBeGreaterThan(0.95);
    const rows = validation.rows.slice(0, 1000);
    const t = Date.now();
    const ours = model.predict(rows);
    const scoreMs = Date.now() - t;
    expect(scoreMs).toBeLessThan(200);
    // Missing cells and exact -1s included: the trees route them as XGBoost does.
    expect(maxAbsDiff(ours, await predictWithXgboost(model, rows))).toBeLessThan(1e-6);
  });

  it('regression (default objective reg:squarederror): rmse near the noise; scoring matches XGBoost', async () => {
    const train = synthetic(5000, 3, regressionLabel);
    const validation = synthetic(1000, 4, regressionLabel);
    const { model, metrics } = await trainXgboost(train, validation, {
      num_round: '60',
      eval_metric: 'rmse,mae',
      max_depth: '4',
    });
    expect(model.objective).toBe('reg:squarederror');
    const rmse = metrics.find((m) => m.MetricName === 'validation:rmse')!.Value;
    const spread = Math.sqrt(evaluateMetric('rmse', validation.labels, new Float64Array(1000)));
    expect(rmse).toBeLessThan(0.35);
    expect(rmse).toBeLessThan(spread / 4);
    const rows = validation.rows.slice(0, 300);
    expect(maxAbsDiff(model.predict(rows), await predictWithXgboost(model, rows))).toBeLessThan(1e-5);
  });

  it('multi:softprob gives class probabilities; multi:softmax the same model, its class', async () => {
    const train = synthetic(4000, 5, classLabel);
    const validation = synthetic(1000, 6, classLabel);
    const hp = { num_round: '20', num_class: '3', eval_metric: 'mlogloss,merror', max_depth: '3' };
    const prob = await trainXgboost(train, validation, { ...hp, objective: 'multi:softprob' });
    const max = await trainXgboost(train, validation, { ...hp, objective: 'multi:softmax' });
    expect(prob.model).toMatchObject({ objective: 'multi:softprob', numClass: 3, outputs: 3, numTrees: 60 });
    expect(max.model.objective).toBe('multi:softmax');
    expect(max.metrics).toEqual(prob.metrics);
    expect(prob.metrics.find((m) => m.MetricName === 'validation:merror')!.Value).toBeLessThan(0.05);
    const rows = validation.rows.slice(0, 200);
    const p = prob.model.predict(rows);
    for (const r of p) {
      expect(r).toHaveLength(3);
      expect(r.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
    const classes = max.model.predict(rows);
    expect(classes.every((c, i) => c.length === 1 && c[0] === p[i].indexOf(Math.max(...p[i])))).toBe(true);
    expect(maxAbsDiff(p, await predictWithXgboost(prob.model, rows))).toBeLessThan(1e-6);
    // The objective survives the model file.
    expect(LocalModel.deserialize(max.model.serialize()).predict(rows)).toEqual(classes);
  });

  it('is deterministic: same data and seed, same model bytes; another seed, another model', async () => {
    const train = synthetic(3000, 7, binaryLabel);
    const hp = { ...BINARY, num_round: '10', seed: '3' };
    const a = await trainXgboost(train, undefined, hp);
    const b = await trainXgboost(train, undefined, hp);
    const c = await trainXgboost(train, undefined, { ...hp, seed: '4' });
    expect(a.model.serialize().equals(b.model.serialize())).toBe(true);
    expect(a.metrics).toEqual(b.metrics);
    expect(a.model.serialize().equals(c.model.serialize())).toBe(false);
    // Without a validation channel only train metrics are reported.
    expect(a.metrics.map((m) => m.MetricName)).toEqual(['train:logloss']);
  });

  it('rejects bad data before XGBoost sees it (XGBoost would abort)', async () => {
    const ok = synthetic(50, 8, binaryLabel);
    const run = (train: XgbDataset, validation?: XgbDataset, hp: Record<string, string> = BINARY) =>
      trainXgboost(train, validation, hp);
    await expect(run({ rows: ok.rows, labels: ok.labels.map((l) => l * 2) })).rejects.toThrow(
      /^Channel train, row \d+: label 2 must be in \[0,1\] for logistic regression$/,
    );
    await expect(
      run(ok, undefined, { num_round: '2', objective: 'multi:softprob', num_class: '2' }),
    ).resolves.toBeDefined();
    await expect(
      run({ rows: ok.rows, labels: ok.labels.map((l, i) => (i === 3 ? 2 : l)) }, undefined, {
        num_round: '2',
        objective: 'multi:softprob',
        num_class: '2',
      }),
    ).rejects.toThrow('row 4: label 2 must be an integer in [0, num_class=2)');
    await expect(run({ rows: [[1, 2], [3]], labels: [0, 1] })).rejects.toThrow(
      'Channel train, row 2: 1 feature columns, expected 2',
    );
    await expect(run(ok, { rows: [[1, 2]], labels: [1] })).rejects.toThrow(
      'Channel validation, row 1: 2 feature columns, expected 10 (as in train)',
    );
    await expect(run({ rows: [], labels: [] })).rejects.toThrow('Channel train has no rows');
    await expect(run({ rows: [[1]], labels: [Number.NaN] })).rejects.toThrow('the label is missing');
    await expect(
      run(ok, { rows: ok.rows.slice(0, 5), labels: [1, 1, 1, 1, 1] }, { ...BINARY, eval_metric: 'auc' }),
    ).rejects.toThrow('AUC: the validation dataset only contains pos or neg samples');
  });

  it('an aborted training ends its worker and rejects', async () => {
    const controller = new AbortController();
    const training = trainXgboost(
      synthetic(20_000, 9, binaryLabel),
      undefined,
      { ...BINARY, num_round: '500' },
      {
        signal: controller.signal,
      },
    );
    setTimeout(() => controller.abort(new Error('stop')), 100);
    await expect(training).rejects.toThrow('stop');
  });

  it('many trainings in a row: each worker (and its WebAssembly heap) is gone when the training ends', async () => {
    const train = synthetic(2000, 10, binaryLabel);
    for (let i = 0; i < 6; i++) await trainXgboost(train, undefined, { ...BINARY, num_round: '5' });
    // Worker threads keep the event loop alive while they run; none is left.
    const handles = (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo();
    expect(handles.filter((h) => /Worker|MessagePort/.test(h))).toEqual([]);
  });
});

describe('evaluateMetric (XGBoost definitions)', () => {
  it('auc counts tied predictions as half a pair', () => {
    expect(evaluateMetric('auc', [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.75, 12);
    expect(evaluateMetric('auc', [0, 1], [0.5, 0.5])).toBe(0.5);
    expect(evaluateMetric('auc', [1, 0, 1, 0], [0.9, 0.1, 0.8, 0.2])).toBe(1);
  });

  it('logloss clips at 1e-16; error is pred > 0.5; rmse, mae', () => {
    expect(evaluateMetric('logloss', [1, 0], [0.8, 0.4])).toBeCloseTo(
      -(Math.log(0.8) + Math.log(0.6)) / 2,
      12,
    );
    expect(evaluateMetric('logloss', [1], [0])).toBeCloseTo(-Math.log(1e-16), 9);
    expect(evaluateMetric('error', [1, 0, 1, 0], [0.5, 0.5, 0.51, 0.9])).toBe(0.5);
    expect(evaluateMetric('rmse', [1, 2, 3], [1, 2, 5])).toBeCloseTo(Math.sqrt(4 / 3), 12);
    expect(evaluateMetric('mae', [1, 2, 3], [2, 2, 5])).toBe(1);
  });

  it('mlogloss and merror over class probabilities', () => {
    const p = [0.7, 0.2, 0.1, 0.1, 0.3, 0.6];
    expect(evaluateMetric('mlogloss', [0, 1], p, 3)).toBeCloseTo(-(Math.log(0.7) + Math.log(0.3)) / 2, 12);
    expect(evaluateMetric('merror', [0, 1], p, 3)).toBe(0.5);
  });
});

describe('model.tar.gz', () => {
  let model: LocalModel;
  let rows: number[][];
  beforeAll(async () => {
    const data = synthetic(2000, 11, binaryLabel);
    rows = data.rows.slice(0, 50);
    model = (await trainXgboost(data, undefined, { ...BINARY, num_round: '8' })).model;
  });

  it('is a gzipped tar holding one xgboost-model file; it round-trips', () => {
    const tgz = modelTarGz(model, { mtime: new Date('2026-03-04T05:06:07Z') });
    expect(tgz.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const files = readTar(zlib.gunzipSync(tgz));
    expect([...files.keys()]).toEqual(['xgboost-model']);
    expect(files.get('xgboost-model')!.equals(model.serialize())).toBe(true);
    expect(readModelTarGz(tgz).predict(rows)).toEqual(model.predict(rows));
    // The same model, the same bytes (mtime defaults to the epoch).
    expect(modelTarGz(model).equals(modelTarGz(model))).toBe(true);
  });

  it('is what tar(1) reads and writes', () => {
    let tarAvailable = true;
    try {
      execFileSync('tar', ['--version'], { stdio: 'ignore' });
    } catch {
      tarAvailable = false;
    }
    if (!tarAvailable) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmlops-tar-'));
    try {
      const ours = path.join(dir, 'model.tar.gz');
      fs.writeFileSync(ours, modelTarGz(model));
      expect(execFileSync('tar', ['-tzf', ours], { encoding: 'utf8' }).trim()).toBe('xgboost-model');
      // An archive made by tar(1), with a ./ prefix and another file, as people do by hand.
      const src = path.join(dir, 'src');
      fs.mkdirSync(src);
      fs.writeFileSync(path.join(src, 'xgboost-model'), model.serialize());
      fs.writeFileSync(path.join(src, 'README'), 'hello');
      const theirs = path.join(dir, 'theirs.tar.gz');
      execFileSync('tar', ['-czf', theirs, '-C', src, '.']);
      expect(readModelTarGz(fs.readFileSync(theirs)).predict(rows)).toEqual(model.predict(rows));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says what is wrong with an archive that holds no model', () => {
    expect(() => readModelTarGz(Buffer.from('not gzip'))).toThrow(/model.tar.gz is not gzip data/);
    const noModel = modelTarGz(model);
    const tar = zlib.gunzipSync(noModel);
    tar.write('model.bin\0\0\0\0\0\0\0\0\0\0\0\0\0', 0, 'utf8');
    expect(() => readModelTarGz(zlib.gzipSync(tar))).toThrow(/bad header checksum/);
    expect(() => readModelTarGz(zlib.gzipSync(Buffer.alloc(1024)))).toThrow(
      'model.tar.gz has no xgboost-model file (it has: nothing)',
    );
  });

  it('LocalModel.deserialize rejects what is not an XGBoost model; predict checks the row width', () => {
    expect(() => LocalModel.deserialize(Buffer.from('{"learner": {}}'))).toThrow(ModelFormatError);
    expect(() => LocalModel.deserialize(model.serialize().subarray(0, 400))).toThrow(/file ends inside/);
    expect(() => model.predict([[1, 2, 3]])).toThrow('row 1 has 3 features; the model expects 10');
    // Missing values may be NaN or absent cells of a sparse array.
    expect(model.predict([new Array<number>(10)])[0][0]).toBeCloseTo(
      model.predict([Array.from({ length: 10 }, () => Number.NaN)])[0][0],
      12,
    );
  });
});
