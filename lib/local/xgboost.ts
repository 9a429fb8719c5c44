import { Worker } from 'node:worker_threads';
import * as zlib from 'node:zlib';

/**
 * The local stand-in for SageMaker's built-in XGBoost algorithm: training on XGBoost itself (ml-xgboost, the
 * XGBoost C++ library compiled to WebAssembly), scoring and metrics in plain TypeScript.
 *
 * Training runs in a worker thread with a fresh WebAssembly instance per job, for three reasons:
 * - that build has C++ exceptions disabled: any failed CHECK inside XGBoost (a bad label, a bad parameter)
 *   throws through the WebAssembly stack and leaves the instance corrupt, so it must not be shared;
 * - the WebAssembly heap is never garbage collected; ending the worker releases all of it, whatever happened;
 * - a job of a few seconds does not stall the endpoint and API servers running on the main thread.
 *
 * Scoring does not use the WebAssembly predictor: ml-xgboost builds a one-row DMatrix per prediction. The
 * model file (XGBoost's binary format, as XGBoost itself saves it) is parsed into flat arrays and the trees
 * are walked in TypeScript, exactly as XGBoost's CPU predictor does (float32 thresholds, missing values take
 * the default branch). A loaded model then holds no WebAssembly memory at all.
 */

// Hot loops read these once: a global lookup per cell or tree node is slow, and much slower inside a vm
// context (jest runs tests in one): scoring 30k rows went from 60 ms to 3.5 s there.
const { fround, exp, log, sqrt, abs } = Math;
const toNumber = Number;

/** The file SageMaker's XGBoost container writes into model.tar.gz. */
export const XGBOOST_MODEL_FILE = 'xgboost-model';

export const OBJECTIVES = [
  'binary:logistic',
  'reg:squarederror',
  'reg:linear',
  'multi:softprob',
  'multi:softmax',
] as const;
export type XgbObjective = (typeof OBJECTIVES)[number];

export const EVAL_METRICS = ['auc', 'logloss', 'error', 'rmse', 'mae', 'mlogloss', 'merror'] as const;
export type XgbMetric = (typeof EVAL_METRICS)[number];

/** Rows in the XGBoost CSV convention: the label, then the features; NaN is a missing value. */
export interface XgbDataset {
  readonly labels: ArrayLike<number>;
  readonly rows: readonly (readonly number[])[];
}

export interface TrainingMetric {
  readonly MetricName: string;
  readonly Value: number;
}

export interface TrainingResult {
  readonly model: LocalModel;
  /** `train:<m>` for every eval metric, then `validation:<m>` (when there is a validation channel). */
  readonly metrics: TrainingMetric[];
}

/**
 * A problem with the job's input (hyperparameters, data): what SageMaker reports as a ClientError. Anything
 * else that fails a training is an algorithm error.
 */
export class XgbInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XgbInputError';
  }
}

/** A model file this runtime cannot read (not XGBoost's binary format, or a booster/objective it does not score). */
export class ModelFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFormatError';
  }
}

// ---------------------------------------------------------------------------------------------------------
// CSV

/**
 * Parses XGBoost CSV (SageMaker's text/csv training format): no header, the label in the first column, an
 * empty cell is a missing value. Blank lines are skipped. Throws XgbInputError naming the line of a cell
 * that is not a number or a missing label.
 */
export function parseXgbCsv(text: string | Buffer): { labels: number[]; rows: number[][] } {
  const s = typeof text === 'string' ? text : text.toString('utf8');
  const labels: number[] = [];
  const rows: number[][] = [];
  let lineNo = 0;
  let start = 0;
  while (start <= s.length) {
    let end = s.indexOf('\n', start);
    if (end === -1) end = s.length;
    lineNo++;
    let line = s.slice(start, end);
    start = end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') continue;
    const cells = line.split(',');
    const label = cellValue(cells[0], lineNo, 1);
    if (label !== label) throw new XgbInputError(`line ${lineNo}: the label (first column) is missing`);
    const row = new Array<number>(cells.length - 1);
    for (let i = 1; i < cells.length; i++) row[i - 1] = cellValue(cells[i], lineNo, i + 1);
    labels.push(label);
    rows.push(row);
  }
  return { labels, rows };
}

function cellValue(cell: string, line: number, column: number): number {
  const t = cell.trim();
  if (t === '') return NaN;
  const v = toNumber(t);
  if (v !== v) {
    throw new XgbInputError(`line ${line}, column ${column}: ${JSON.stringify(cell)} is not a number`);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------------------
// Hyperparameters

/** The hyperparameters of one training, checked and translated for the XGBoost build. */
export interface XgbTrainingPlan {
  /** As SageMaker was asked (reported by the model). */
  readonly objective: XgbObjective;
  readonly rounds: number;
  readonly numClass?: number;
  readonly evalMetrics: readonly XgbMetric[];
  /** set_param calls, XGBoost names and values. */
  readonly params: readonly (readonly [string, string])[];
}

type ValueCheck = (name: string, raw: string) => string;

const float =
  (min: number, max: number, options: { minOpen?: boolean; maxOpen?: boolean } = {}): ValueCheck =>
  (name, raw) => {
    const v = Number(raw.trim());
    const ok =
      raw.trim() !== '' &&
      Number.isFinite(v) &&
      (options.minOpen ? v > min : v >= min) &&
      (options.maxOpen ? v < max : v <= max);
    if (!ok) {
      const lo = `${options.minOpen ? '(' : '['}${min}`;
      const hi = `${max === Infinity ? '∞' : max}${options.maxOpen || max === Infinity ? ')' : ']'}`;
      throw new XgbInputError(
        `Hyperparameter ${name}: ${JSON.stringify(raw)} is not a number in ${lo}, ${hi}`,
      );
    }
    return String(v);
  };

const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER): ValueCheck =>
  (name, raw) => {
    const t = raw.trim();
    const v = Number(t);
    if (!/^[+-]?\d+$/.test(t) || v < min || v > max) {
      throw new XgbInputError(
        `Hyperparameter ${name}: ${JSON.stringify(raw)} is not an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}]`,
      );
    }
    return String(v);
  };

const oneOf =
  (...values: string[]): ValueCheck =>
  (name, raw) => {
    if (!values.includes(raw.trim())) {
      throw new XgbInputError(
        `Hyperparameter ${name}: ${JSON.stringify(raw)} is not one of ${values.join(', ')}`,
      );
    }
    return raw.trim();
  };

/** XGBoost tree-booster parameters passed through as they are (SageMaker's names are XGBoost's). */
const PASS_THROUGH: Record<string, ValueCheck> = {
  eta: float(0, 1),
  gamma: float(0, Infinity),
  max_depth: integer(0),
  min_child_weight: float(0, Infinity),
  max_delta_step: float(0, Infinity),
  subsample: float(0, 1, { minOpen: true }),
  colsample_bytree: float(0, 1, { minOpen: true }),
  colsample_bylevel: float(0, 1, { minOpen: true }),
  lambda: float(0, Infinity),
  alpha: float(0, Infinity),
  scale_pos_weight: float(0, Infinity, { minOpen: true }),
  base_score: float(-Infinity, Infinity),
  seed: integer(-2147483648, 2147483647),
  tree_method: oneOf('auto', 'exact', 'approx', 'hist'),
  sketch_eps: float(0, 1, { minOpen: true, maxOpen: true }),
  max_bin: integer(2),
  grow_policy: oneOf('depthwise', 'lossguide'),
  max_leaves: integer(0),
  num_parallel_tree: integer(1, 100),
};

/** Accepted, and without effect here (a single WebAssembly thread, logs are not shown). */
const IGNORED: Record<string, ValueCheck> = {
  nthread: integer(1),
  silent: integer(0, 1),
  verbosity: integer(0, 3),
};

/** SageMaker XGBoost hyperparameters this local runtime does not implement (the job fails, saying so). */
const NOT_SUPPORTED_LOCALLY = new Set([
  'colsample_bynode',
  'csv_weights',
  'deterministic_histogram',
  'early_stopping_rounds',
  'interaction_constraints',
  'lambda_bias',
  'monotone_constraints',
  'normalize_type',
  'one_drop',
  'process_type',
  'rate_drop',
  'refresh_leaf',
  'sample_type',
  'single_precision_histogram',
  'skip_drop',
  'tweedie_variance_power',
  'updater',
  'use_dask_gpu_training',
  'max_cat_to_onehot',
  'prob_buffer_row',
  'dsplit',
]);

/** XGBoost aliases SageMaker does not list: named in the error, to help. */
const ALIASES: Record<string, string> = {
  learning_rate: 'eta',
  min_split_loss: 'gamma',
  reg_lambda: 'lambda',
  reg_alpha: 'alpha',
  n_estimators: 'num_round',
  num_boost_round: 'num_round',
};

const METRICS_FOR: Record<'binary' | 'regression' | 'multiclass', readonly XgbMetric[]> = {
  binary: ['auc', 'logloss', 'error', 'rmse', 'mae'],
  regression: ['rmse', 'mae'],
  multiclass: ['mlogloss', 'merror'],
};

/** XGBoost's default eval metric per objective (XGBoost >= 1.3, the SageMaker 1.3-1+ images). */
const DEFAULT_METRIC: Record<'binary' | 'regression' | 'multiclass', XgbMetric> = {
  binary: 'logloss',
  regression: 'rmse',
  multiclass: 'mlogloss',
};

function problemOf(objective: XgbObjective): 'binary' | 'regression' | 'multiclass' {
  return objective === 'binary:logistic'
    ? 'binary'
    : objective.startsWith('multi:')
      ? 'multiclass'
      : 'regression';
}

/**
 * Checks SageMaker XGBoost hyperparameters (string values, as CreateTrainingJob takes them) and translates
 * them for the XGBoost build: num_round is required; objective defaults to reg:squarederror (trained as
 * reg:linear, the same loss under its old name); multi:softmax is trained as multi:softprob (the same model,
 * only the output differs) so metrics can use the probabilities. Throws XgbInputError on anything unknown,
 * unsupported or out of range.
 */
export function planTraining(hyperparameters: Readonly<Record<string, string | number>>): XgbTrainingPlan {
  const hp = new Map(Object.entries(hyperparameters).map(([k, v]) => [k, String(v)] as const));
  const take = (name: string): string | undefined => {
    const v = hp.get(name);
    hp.delete(name);
    return v;
  };
  const objectiveRaw = (take('objective') ?? 'reg:squarederror').trim();
  if (!(OBJECTIVES as readonly string[]).includes(objectiveRaw)) {
    throw new XgbInputError(
      `Hyperparameter objective: ${JSON.stringify(objectiveRaw)} is not supported by the local XGBoost runtime (${OBJECTIVES.join(', ')})`,
    );
  }
  const objective = objectiveRaw as XgbObjective;
  const problem = problemOf(objective);

  const roundsRaw = take('num_round');
  if (roundsRaw === undefined) throw new XgbInputError('Missing required hyperparameter: num_round');
  const rounds = Number(integer(1, 100_000)('num_round', roundsRaw));

  const numClassRaw = take('num_class');
  let numClass: number | undefined;
  if (problem === 'multiclass') {
    if (numClassRaw === undefined)
      throw new XgbInputError(`Missing required hyperparameter: num_class (objective ${objective})`);
    numClass = Number(integer(2, 10_000)('num_class', numClassRaw));
  } else if (numClassRaw !== undefined) {
    throw new XgbInputError(
      `Hyperparameter num_class: only valid with multi:softmax or multi:softprob (objective is ${objective})`,
    );
  }

  const metricsRaw = take('eval_metric');
  const evalMetrics: XgbMetric[] = [];
  for (const m of (metricsRaw ?? DEFAULT_METRIC[problem]).split(',').map((x) => x.trim())) {
    if (!(EVAL_METRICS as readonly string[]).includes(m)) {
      throw new XgbInputError(
        `Hyperparameter eval_metric: ${JSON.stringify(m)} is not supported by the local XGBoost runtime (${EVAL_METRICS.join(', ')})`,
      );
    }
    if (!METRICS_FOR[problem].includes(m as XgbMetric)) {
      throw new XgbInputError(
        `Hyperparameter eval_metric: ${m} does not apply to objective ${objective} (use ${METRICS_FOR[problem].join(', ')})`,
      );
    }
    if (!evalMetrics.includes(m as XgbMetric)) evalMetrics.push(m as XgbMetric);
  }

  const booster = take('booster');
  if (booster !== undefined && booster.trim() !== 'gbtree') {
    const known = ['gblinear', 'dart'].includes(booster.trim());
    throw new XgbInputError(
      `Hyperparameter booster: ${JSON.stringify(booster)} is ${known ? 'not supported by the local XGBoost runtime (gbtree only)' : 'not one of gbtree, gblinear, dart'}`,
    );
  }

  const params: [string, string][] = [
    [
      'objective',
      objective === 'reg:squarederror'
        ? 'reg:linear'
        : objective === 'multi:softmax'
          ? 'multi:softprob'
          : objective,
    ],
    ['silent', '1'],
  ];
  if (numClass !== undefined) params.push(['num_class', String(numClass)]);
  for (const [name, raw] of [...hp.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const check = PASS_THROUGH[name];
    if (check) {
      params.push([name, check(name, raw)]);
    } else if (IGNORED[name]) {
      IGNORED[name](name, raw);
    } else if (NOT_SUPPORTED_LOCALLY.has(name)) {
      throw new XgbInputError(`Hyperparameter ${name} is not supported by the local XGBoost runtime`);
    } else {
      const alias = ALIASES[name];
      throw new XgbInputError(
        `Unknown hyperparameter: ${name}${alias ? ` (SageMaker's XGBoost calls it ${alias})` : ''}`,
      );
    }
  }
  const get = (k: string) => params.find(([n]) => n === k)?.[1];
  if (get('max_depth') === '0' && get('grow_policy') !== 'lossguide') {
    throw new XgbInputError(
      'Hyperparameter max_depth: 0 (no limit) is only valid with grow_policy lossguide',
    );
  }
  if (get('grow_policy') === 'lossguide' && get('tree_method') !== 'hist') {
    throw new XgbInputError('Hyperparameter grow_policy: lossguide needs tree_method hist');
  }
  if (problem === 'binary' && get('base_score') !== undefined) {
    const b = Number(get('base_score'));
    if (!(b > 0 && b < 1))
      throw new XgbInputError('Hyperparameter base_score: must be in (0, 1) for binary:logistic');
  }
  return { objective, rounds, numClass, evalMetrics, params };
}

// ---------------------------------------------------------------------------------------------------------
// Training

/**
 * The XGBoost build takes missing values as -1 (hard-coded in ml-xgboost's create_model) and aborts on NaN.
 * So NaN becomes -1, and a real -1 becomes the next float32 above it: no training value lies between the two,
 * so every split XGBoost can learn orders them the same way, and the TypeScript predictor (which takes NaN as
 * missing and -1 as -1) agrees with the trained trees.
 */
const WASM_MISSING = -1;
const NEXT_ABOVE_MINUS_ONE = Math.fround(-1 + 2 ** -24);

interface Matrix {
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

function toMatrix(ds: XgbDataset, channel: string, plan: XgbTrainingPlan, cols?: number): Matrix {
  const n = ds.rows.length;
  if (n === 0) throw new XgbInputError(`Channel ${channel} has no rows`);
  if (ds.labels.length !== n) {
    throw new XgbInputError(`Channel ${channel}: ${ds.labels.length} labels for ${n} rows`);
  }
  const c = cols ?? ds.rows[0].length;
  if (c === 0) throw new XgbInputError(`Channel ${channel} has no feature columns (only a label)`);
  const x = new Float32Array(n * c);
  const y = new Float32Array(n);
  const problem = problemOf(plan.objective);
  for (let i = 0; i < n; i++) {
    const row = ds.rows[i];
    if (row.length !== c) {
      throw new XgbInputError(
        `Channel ${channel}, row ${i + 1}: ${row.length} feature columns, expected ${c}${cols === undefined ? '' : ' (as in train)'}`,
      );
    }
    for (let j = 0; j < c; j++) {
      const v = row[j];
      if (v === undefined || v !== v) {
        x[i * c + j] = WASM_MISSING;
      } else {
        const f = fround(v);
        x[i * c + j] = f === -1 ? NEXT_ABOVE_MINUS_ONE : f;
      }
    }
    const label = ds.labels[i];
    if (!Number.isFinite(label)) {
      throw new XgbInputError(`Channel ${channel}, row ${i + 1}: the label is missing or not finite`);
    }
    if (problem === 'binary' && (label < 0 || label > 1)) {
      throw new XgbInputError(
        `Channel ${channel}, row ${i + 1}: label ${label} must be in [0,1] for logistic regression`,
      );
    }
    if (problem === 'multiclass' && !(Number.isInteger(label) && label >= 0 && label < plan.numClass!)) {
      throw new XgbInputError(
        `Channel ${channel}, row ${i + 1}: label ${label} must be an integer in [0, num_class=${plan.numClass})`,
      );
    }
    y[i] = label;
  }
  return { x, y, rows: n, cols: c };
}

/** Runs in the worker: plain JavaScript, one WebAssembly instance, one model, then the worker ends. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
// Node's fetch cannot read a file path: without this the loader reports a failed streaming compile (on
// stderr) before it falls back to reading the file.
WebAssembly.instantiateStreaming = undefined;
const M = require(workerData.modulePath);
const log = [];
M.print = (s) => log.push(String(s));
M.printErr = (s) => log.push(String(s));
M.isReady.then(() => {
  const { x, y, rows, cols, params, rounds } = workerData;
  try {
    const create = M.cwrap('create_model', 'number', ['number', 'number', 'number', 'number']);
    const setParam = M.cwrap('set_param', null, ['number', 'string', 'string']);
    const train = M.cwrap('train_full_model', null, ['number', 'number']);
    const save = M.cwrap('save_model', 'number', ['number']);
    const content = M.cwrap('get_file_content', null, ['number', 'number']);
    const px = M._malloc(x.byteLength);
    M.HEAPF32.set(x, px >> 2);
    const py = M._malloc(y.byteLength);
    M.HEAPF32.set(y, py >> 2);
    // create_model copies both into its own DMatrix.
    const handle = create(px, py, rows, cols);
    M._free(px);
    M._free(py);
    for (const [k, v] of params) setParam(handle, k, v);
    train(handle, rounds);
    const size = save(handle);
    if (size <= 0) throw new Error('XGBoost could not save the model');
    const p = M._malloc(size);
    content(p, size);
    const model = M.HEAPU8.slice(p, p + size);
    parentPort.postMessage({ ok: true, model }, [model.buffer]);
  } catch (e) {
    // With C++ exceptions disabled, XGBoost's own message is only in its log ("Check failed: ...").
    parentPort.postMessage({ ok: false, message: e instanceof Error ? e.message : String(e), log });
  }
});
`;

let wasmModulePath: string | undefined;

function trainInWorker(m: Matrix, plan: XgbTrainingPlan, signal?: AbortSignal): Promise<Uint8Array> {
  wasmModulePath ??= require.resolve('ml-xgboost/dist/wasm/xgboost.js');
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        modulePath: wasmModulePath,
        x: m.x,
        y: m.y,
        rows: m.rows,
        cols: m.cols,
        params: plan.params,
        rounds: plan.rounds,
      },
    });
    let done = false;
    // Settles only once the worker is gone, so its WebAssembly heap is released when the caller goes on.
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      signal?.removeEventListener('abort', onAbort);
      worker.terminate().then(f, f);
    };
    const onAbort = () => finish(() => reject(abortError(signal!)));
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (msg: { ok: boolean; model?: Uint8Array; message?: string; log?: string[] }) =>
      finish(() => {
        if (msg.ok && msg.model) resolve(msg.model);
        else reject(new Error(`XGBoost failed: ${xgboostReason(msg.log ?? [], msg.message ?? '')}`));
      }),
    );
    worker.on('error', (e) => finish(() => reject(e)));
    worker.on('exit', (code) =>
      finish(() => reject(new Error(`XGBoost worker ended (exit code ${code}) without a model`))),
    );
  });
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(`training aborted: ${String(reason)}`);
}

/** "[12:00:00] src/objective/regression_obj.cc:101: Check failed: ... label must be in [0,1]" -> the check. */
function xgboostReason(log: readonly string[], fallback: string): string {
  for (let i = log.length - 1; i >= 0; i--) {
    const m = /Check failed: (.*)$/.exec(log[i]);
    if (m) return m[1].trim();
  }
  const last = log.filter((l) => l.trim() !== '').at(-1);
  return last ?? fallback;
}

/**
 * Trains as SageMaker's built-in XGBoost does on a train and an optional validation channel, and reports
 * `train:<m>` / `validation:<m>` for every eval_metric, computed with XGBoost's definitions (rounded to the
 * 5 decimals the container logs, which is what SageMaker parses into FinalMetricDataList). The same data and
 * hyperparameters (seed included) give the same model, byte for byte.
 *
 * Throws XgbInputError for bad hyperparameters or data (SageMaker: ClientError); other errors are XGBoost's.
 */
export async function trainXgboost(
  train: XgbDataset,
  validation: XgbDataset | undefined,
  hyperparameters: Readonly<Record<string, string | number>>,
  options: { signal?: AbortSignal } = {},
): Promise<TrainingResult> {
  const plan = planTraining(hyperparameters);
  const trainMatrix = toMatrix(train, 'train', plan);
  if (validation) toMatrix(validation, 'validation', plan, trainMatrix.cols);
  const bytes = await trainInWorker(trainMatrix, plan, options.signal);
  const model = LocalModel.deserialize(withObjectiveName(bytes, plan.objective));
  const metrics: TrainingMetric[] = [];
  const channels: [string, XgbDataset][] = [['train', train]];
  if (validation) channels.push(['validation', validation]);
  for (const [channel, ds] of channels) {
    const probabilities = model.probabilities(ds.rows);
    for (const metric of plan.evalMetrics) {
      const value = evaluateMetric(metric, ds.labels, probabilities, model.outputs, channel);
      metrics.push({ MetricName: `${channel}:${metric}`, Value: Math.round(value * 1e5) / 1e5 });
    }
  }
  return { model, metrics };
}

// ---------------------------------------------------------------------------------------------------------
// Metrics

/**
 * One eval metric as XGBoost defines it. `predictions` holds `outputs` values per row: the probability (binary),
 * the value (regression) or the class probabilities (multi-class).
 */
export function evaluateMetric(
  metric: XgbMetric,
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
  outputs = 1,
  channel = 'data',
): number {
  const n = labels.length;
  if (n === 0) return Number.NaN;
  const EPS = 1e-16;
  let sum = 0;
  switch (metric) {
    case 'rmse':
    case 'mae':
      for (let i = 0; i < n; i++) {
        const d = labels[i] - predictions[i];
        sum += metric === 'rmse' ? d * d : abs(d);
      }
      return metric === 'rmse' ? sqrt(sum / n) : sum / n;
    case 'logloss':
      for (let i = 0; i < n; i++) {
        const q = predictions[i];
        const p = q < EPS ? EPS : q > 1 - EPS ? 1 - EPS : q;
        const y = labels[i];
        sum -= y * log(p) + (1 - y) * log(1 - p);
      }
      return sum / n;
    case 'error':
      for (let i = 0; i < n; i++) sum += predictions[i] > 0.5 ? 1 - labels[i] : labels[i];
      return sum / n;
    case 'auc':
      return auc(labels, predictions, channel);
    case 'mlogloss':
      for (let i = 0; i < n; i++) {
        const p = predictions[i * outputs + labels[i]];
        sum -= log(p > EPS ? p : EPS);
      }
      return sum / n;
    case 'merror':
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let k = 1; k < outputs; k++) {
          if (predictions[i * outputs + k] > predictions[i * outputs + best]) best = k;
        }
        if (best !== labels[i]) sum += 1;
      }
      return sum / n;
  }
}

/** XGBoost's AUC: predictions sorted descending, tied predictions counted as half a correct pair. */
function auc(labels: ArrayLike<number>, predictions: ArrayLike<number>, channel: string): number {
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => predictions[b] - predictions[a]);
  let pairs = 0;
  let pos = 0;
  let neg = 0;
  let i = 0;
  while (i < n) {
    let groupPos = 0;
    let groupNeg = 0;
    const p = predictions[order[i]];
    while (i < n && predictions[order[i]] === p) {
      groupPos += labels[order[i]];
      groupNeg += 1 - labels[order[i]];
      i++;
    }
    pairs += groupNeg * (pos + groupPos * 0.5);
    pos += groupPos;
    neg += groupNeg;
  }
  if (pos <= 0 || neg <= 0) {
    throw new XgbInputError(`AUC: the ${channel} dataset only contains pos or neg samples`);
  }
  return pairs / (pos * neg);
}

// ---------------------------------------------------------------------------------------------------------
// The model

/** XGBoost's binary model format (the format of the 0.7x library in ml-xgboost), little endian. */
const LEARNER_PARAM_BYTES = 136;
const GBTREE_PARAM_BYTES = 160;
const TREE_PARAM_BYTES = 148;
const NODE_BYTES = 20;
const NODE_STAT_BYTES = 16;
const DEFAULT_LEFT = 0x80000000;
const FEATURE_MASK = 0x7fffffff;
/** Int32 words per node in LocalModel's packed node array. */
const NODE_INTS = 4;
/** Rows scored together, tree by tree (see LocalModel.margins). */
const ROW_BLOCK = 256;

/** The WebAssembly build knows the old names; the file says what SageMaker was asked for. */
const TRAINED_AS: Partial<Record<XgbObjective, string>> = {
  'reg:squarederror': 'reg:linear',
  'multi:softmax': 'multi:softprob',
};

/** A trained model: XGBoost's model file, parsed into flat arrays for scoring in TypeScript. */
export class LocalModel {
  /** Number of values per row of `probabilities`: the class count for multi-class, else 1. */
  readonly outputs: number;

  private constructor(
    readonly objective: XgbObjective,
    /** Feature columns the model was trained on (CSV columns after the label). */
    readonly numFeatures: number,
    /** Class count (multi-class objectives only). */
    readonly numClass: number | undefined,
    private readonly baseScore: number,
    /** Each tree's root: the offset of its node in `nodes`. */
    private readonly roots: Int32Array,
    private readonly treeGroup: Int32Array,
    /** NODE_INTS per node: see `deserialize`. */
    private readonly nodes: Int32Array,
    /** `nodes`' memory as float32: a node's split threshold or leaf value is at its offset + 3. */
    private readonly values: Float32Array,
    private readonly bytes: Uint8Array,
  ) {
    this.outputs = numClass ?? 1;
  }

  get numTrees(): number {
    return this.roots.length;
  }

  /**
   * One array per row: [probability] for binary:logistic, [value] for regression, the class probabilities for
   * multi:softprob, [class] for multi:softmax. NaN (or a missing cell) is a missing value. Throws if a row
   * does not have numFeatures values.
   */
  predict(rows: readonly (readonly number[])[]): number[][] {
    const probs = this.probabilities(rows);
    const k = this.outputs;
    const out = new Array<number[]>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      if (this.objective === 'multi:softmax') {
        let best = 0;
        for (let c = 1; c < k; c++) if (probs[i * k + c] > probs[i * k + best]) best = c;
        out[i] = [best];
      } else if (k === 1) {
        out[i] = [probs[i]];
      } else {
        // Not Array.from(subarray): a view and an iterator per row.
        const row = new Array<number>(k);
        for (let c = 0; c < k; c++) row[c] = probs[i * k + c];
        out[i] = row;
      }
    }
    return out;
  }

  /** Row-major `outputs` values per row; class probabilities for both multi-class objectives. */
  probabilities(rows: readonly (readonly number[])[]): Float64Array {
    const k = this.outputs;
    const width = this.numFeatures;
    const out = new Float64Array(rows.length * k);
    // Float32 scratch for a block of rows: storing rounds as XGBoost's float arithmetic does, and undefined cells
    // become NaN.
    const block = Math.min(rows.length, ROW_BLOCK);
    const features = new Float32Array(block * width);
    const margins = new Float32Array(block * k);
    const binary = this.objective === 'binary:logistic';
    for (let first = 0; first < rows.length; first += block) {
      const n = Math.min(block, rows.length - first);
      for (let i = 0; i < n; i++) {
        const row = rows[first + i];
        if (row.length !== width) {
          throw new Error(`row ${first + i + 1} has ${row.length} features; the model expects ${width}`);
        }
        for (let j = 0; j < width; j++) features[i * width + j] = row[j];
      }
      this.margins(features, n, margins);
      for (let i = 0; i < n; i++) {
        const o = (first + i) * k;
        if (binary) {
          out[o] = fround(1 / (1 + exp(-margins[i])));
        } else if (k === 1) {
          out[o] = margins[i];
        } else {
          const m = i * k;
          let max = -Infinity;
          for (let c = 0; c < k; c++) if (margins[m + c] > max) max = margins[m + c];
          let sum = 0;
          for (let c = 0; c < k; c++) sum += exp(margins[m + c] - max);
          for (let c = 0; c < k; c++) out[o + c] = fround(exp(margins[m + c] - max) / sum);
        }
      }
    }
    return out;
  }

  /**
   * Per row of the block (`n` rows of numFeatures values in `rows`), the sum of the leaves each tree gives it,
   * per output group, into `out` (k per row; float32, added in tree order as XGBoost adds them). Tree by tree
   * over the block, not row by row over every tree: one tree's nodes stay in the L1 cache for all the block's
   * rows, where the whole model (about 100 KB for 100 trees of depth 5) does not. That was about 60 µs of 430
   * for 100 rows of varied records. NaN is a missing value: it takes the node's default branch.
   */
  private margins(rows: Float32Array, n: number, out: Float32Array): void {
    const { nodes, values, roots, treeGroup, numFeatures: width, outputs: k } = this;
    out.fill(this.baseScore, 0, n * k);
    for (let t = 0; t < roots.length; t++) {
      const root = roots[t];
      const group = treeGroup[t];
      for (let i = 0; i < n; i++) {
        const base = i * width;
        let node = root;
        let left: number;
        while ((left = nodes[node]) !== -1) {
          const split = nodes[node + 2];
          const v = rows[base + (split & FEATURE_MASK)];
          // v !== v: NaN; a negative split word is XGBoost's default-left bit.
          if (v !== v) node = split < 0 ? left : nodes[node + 1];
          else node = v < values[node + 3] ? left : nodes[node + 1];
        }
        out[i * k + group] += values[node + 3];
      }
    }
  }

  /** XGBoost's binary model file (what `xgboost-model` holds). */
  serialize(): Buffer {
    return Buffer.from(this.bytes);
  }

  /** Reads XGBoost's binary model format (gbtree booster). Throws ModelFormatError on anything else. */
  static deserialize(buf: Uint8Array): LocalModel {
    const bytes = new Uint8Array(buf);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let off = 0;
    const need = (n: number, what: string) => {
      if (off + n > bytes.length) {
        throw new ModelFormatError(`not an XGBoost model: the file ends inside the ${what} (offset ${off})`);
      }
    };
    const i32 = () => {
      need(4, 'model');
      off += 4;
      return dv.getInt32(off - 4, true);
    };
    const str = (what: string) => {
      need(8, what);
      const len = dv.getUint32(off, true);
      if (dv.getUint32(off + 4, true) !== 0 || len > 256) {
        throw new ModelFormatError(`not an XGBoost model: bad ${what} length`);
      }
      off += 8;
      need(len, what);
      off += len;
      return Buffer.from(bytes.subarray(off - len, off)).toString('latin1');
    };
    need(LEARNER_PARAM_BYTES, 'learner parameters');
    const baseScore = dv.getFloat32(0, true);
    const numFeatures = dv.getUint32(4, true);
    const numClass = dv.getInt32(8, true);
    off = LEARNER_PARAM_BYTES;
    const objective = str('objective name');
    if (!(OBJECTIVES as readonly string[]).includes(objective)) {
      throw new ModelFormatError(
        /^[\x20-\x7e]+$/.test(objective)
          ? `objective ${objective} is not supported by the local XGBoost runtime`
          : 'not an XGBoost binary model',
      );
    }
    const gbm = str('booster name');
    if (gbm !== 'gbtree') throw new ModelFormatError(`booster ${gbm} is not supported by the local runtime`);
    need(GBTREE_PARAM_BYTES, 'booster parameters');
    const numTrees = dv.getInt32(off, true);
    const groups = dv.getInt32(off + 24, true);
    off += GBTREE_PARAM_BYTES;
    const multi = objective.startsWith('multi:');
    if (numTrees < 0 || numTrees > 1_000_000 || groups < 1 || (multi ? groups !== numClass : groups !== 1)) {
      throw new ModelFormatError('not an XGBoost model: inconsistent booster parameters');
    }
    const trees: { nodes: number; at: number }[] = [];
    let totalNodes = 0;
    for (let t = 0; t < numTrees; t++) {
      need(TREE_PARAM_BYTES, 'tree parameters');
      const treeRoots = dv.getInt32(off, true);
      const nodes = dv.getInt32(off + 4, true);
      const leafVector = dv.getInt32(off + 20, true);
      off += TREE_PARAM_BYTES;
      if (treeRoots !== 1 || nodes < 1 || nodes > 10_000_000 || leafVector !== 0) {
        throw new ModelFormatError(`tree ${t}: only single-root trees without leaf vectors are supported`);
      }
      need(nodes * (NODE_BYTES + NODE_STAT_BYTES), 'tree nodes');
      trees.push({ nodes, at: off });
      totalNodes += nodes;
      off += nodes * (NODE_BYTES + NODE_STAT_BYTES);
    }
    need(numTrees * 4, 'tree groups');
    const treeGroup = new Int32Array(numTrees);
    for (let t = 0; t < numTrees; t++) {
      treeGroup[t] = i32();
      if (treeGroup[t] < 0 || treeGroup[t] >= groups)
        throw new ModelFormatError(`tree ${t}: bad output group`);
    }
    const roots = new Int32Array(numTrees);
    // One 16-byte record per node, [left, right, split, threshold or leaf value] (children as offsets in this
    // array, -1 for a leaf; split = feature | XGBoost's default-left bit): a step down a tree reads one cache
    // line instead of one in each of five arrays.
    const packed = new Int32Array(totalNodes * NODE_INTS);
    const values = new Float32Array(packed.buffer);
    let base = 0;
    trees.forEach(({ nodes, at }, t) => {
      roots[t] = base * NODE_INTS;
      for (let j = 0; j < nodes; j++) {
        const p = at + j * NODE_BYTES;
        const cleft = dv.getInt32(p + 4, true);
        const cright = dv.getInt32(p + 8, true);
        const sindex = dv.getUint32(p + 12, true);
        const leaf = cleft === -1;
        if (!leaf && (cleft < 0 || cleft >= nodes || cright < 0 || cright >= nodes)) {
          throw new ModelFormatError(`tree ${t}, node ${j}: child out of range`);
        }
        const f = sindex & ~DEFAULT_LEFT;
        if (!leaf && f >= numFeatures)
          throw new ModelFormatError(`tree ${t}, node ${j}: feature out of range`);
        const o = (base + j) * NODE_INTS;
        packed[o] = leaf ? -1 : (base + cleft) * NODE_INTS;
        packed[o + 1] = leaf ? -1 : (base + cright) * NODE_INTS;
        packed[o + 2] = f | (sindex & DEFAULT_LEFT) | 0;
        values[o + 3] = dv.getFloat32(p + 16, true);
      }
      base += nodes;
    });
    return new LocalModel(
      objective as XgbObjective,
      numFeatures,
      multi ? numClass : undefined,
      baseScore,
      roots,
      treeGroup,
      packed,
      values,
      bytes,
    );
  }
}

/** The model file with another objective name (the names differ between the build and SageMaker, see TRAINED_AS). */
function withObjectiveName(bytes: Uint8Array, objective: string): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const oldLength = dv.getUint32(LEARNER_PARAM_BYTES, true);
  const old = Buffer.from(bytes.subarray(LEARNER_PARAM_BYTES + 8, LEARNER_PARAM_BYTES + 8 + oldLength));
  if (old.toString('latin1') === objective) return bytes;
  const name = Buffer.from(objective, 'latin1');
  const length = Buffer.alloc(8);
  length.writeUInt32LE(name.length, 0);
  return Buffer.concat([
    bytes.subarray(0, LEARNER_PARAM_BYTES),
    length,
    name,
    bytes.subarray(LEARNER_PARAM_BYTES + 8 + oldLength),
  ]);
}

/**
 * Scores rows with XGBoost's own (WebAssembly) predictor, one worker, one row at a time: slow, meant to
 * check the TypeScript predictor against XGBoost.
 */
export function predictWithXgboost(
  model: LocalModel,
  rows: readonly (readonly number[])[],
): Promise<number[][]> {
  wasmModulePath ??= require.resolve('ml-xgboost/dist/wasm/xgboost.js');
  const trainedAs = TRAINED_AS[model.objective];
  const bytes = trainedAs ? withObjectiveName(model.serialize(), trainedAs) : model.serialize();
  const x = new Float32Array(rows.length * model.numFeatures);
  rows.forEach((row, i) =>
    row.forEach((v, j) => {
      const f = Math.fround(v);
      x[i * model.numFeatures + j] = Number.isNaN(v) ? WASM_MISSING : f === -1 ? NEXT_ABOVE_MINUS_ONE : f;
    }),
  );
  const source = `
const { parentPort, workerData } = require('node:worker_threads');
WebAssembly.instantiateStreaming = undefined;
const M = require(workerData.modulePath);
M.print = () => undefined;
M.printErr = () => undefined;
M.isReady.then(() => {
  const { bytes, x, rows, cols } = workerData;
  const load = M.cwrap('load_model', 'number', ['number', 'number']);
  const predictOne = M.cwrap('predict_one', 'number', ['number', 'number', 'number', 'number']);
  const pm = M._malloc(bytes.length);
  M.HEAPU8.set(bytes, pm);
  const handle = load(pm, bytes.length);
  M._free(pm);
  const px = M._malloc(cols * 4);
  const out = M._malloc(4 * 1024);
  const result = [];
  for (let i = 0; i < rows; i++) {
    M.HEAPF32.set(x.subarray(i * cols, i * cols + cols), px >> 2);
    const n = predictOne(handle, px, cols, out);
    result.push(Array.from(M.HEAPF32.subarray(out >> 2, (out >> 2) + n)));
  }
  parentPort.postMessage(result);
});
`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, {
      eval: true,
      workerData: { modulePath: wasmModulePath, bytes, x, rows: rows.length, cols: model.numFeatures },
    });
    worker.once('message', (m: number[][]) => {
      void worker.terminate();
      resolve(m);
    });
    worker.once('error', (e) => {
      void worker.terminate();
      reject(e);
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// model.tar.gz

/**
 * model.tar.gz as SageMaker's XGBoost container leaves it: a gzipped (ustar) tar holding one file,
 * `xgboost-model`. `mtime` defaults to the epoch, so the same model always gives the same bytes.
 */
export function modelTarGz(model: LocalModel, options: { mtime?: Date } = {}): Buffer {
  const data = model.serialize();
  const header = tarHeader(
    XGBOOST_MODEL_FILE,
    data.length,
    Math.floor((options.mtime?.getTime() ?? 0) / 1000),
  );
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return zlib.gzipSync(Buffer.concat([header, data, padding, Buffer.alloc(1024)]));
}

function tarHeader(name: string, size: number, mtimeSeconds: number): Buffer {
  const h = Buffer.alloc(512);
  const octal = (v: number, width: number) => v.toString(8).padStart(width - 1, '0') + '\0';
  h.write(name, 0, 100, 'utf8');
  h.write(octal(0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(mtimeSeconds, 12), 136, 'ascii');
  h.fill(0x20, 148, 156);
  h.write('0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** The regular files of a tar archive (ustar, GNU long names), by path. Throws on a damaged header. */
export function readTar(tar: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let off = 0;
  let longName: string | undefined;
  const text = (start: number, len: number) => {
    const s = tar.subarray(start, start + len);
    const end = s.indexOf(0);
    return s.subarray(0, end === -1 ? len : end).toString('utf8');
  };
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
    const stored = parseInt(text(off + 148, 8).trim(), 8);
    if (stored !== sum) throw new Error(`not a tar archive (bad header checksum at offset ${off})`);
    const sizeText = text(off + 124, 12).trim();
    const size = sizeText === '' ? 0 : parseInt(sizeText, 8);
    const type = h[156] === 0 ? '0' : String.fromCharCode(h[156]);
    const prefix = text(off + 345, 155);
    const name = longName ?? (prefix ? `${prefix}/${text(off, 100)}` : text(off, 100));
    longName = undefined;
    const data = tar.subarray(off + 512, off + 512 + size);
    if (data.length < size) throw new Error(`tar archive truncated inside ${name}`);
    if (type === 'L') longName = data.toString('utf8').replace(/\0+$/, '');
    else if (type === '0' || type === '7') files.set(name.replace(/^\.\//, ''), Buffer.from(data));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/** The model in a model.tar.gz (its `xgboost-model` file). Throws with a clear message when there is none. */
export function readModelTarGz(buf: Buffer | Uint8Array): LocalModel {
  let tar: Buffer;
  try {
    tar = zlib.gunzipSync(buf);
  } catch (e) {
    throw new ModelFormatError(`model.tar.gz is not gzip data (${(e as Error).message})`);
  }
  let files: Map<string, Buffer>;
  try {
    files = readTar(tar);
  } catch (e) {
    throw new ModelFormatError(`model.tar.gz: ${(e as Error).message}`);
  }
  const file = files.get(XGBOOST_MODEL_FILE);
  if (!file) {
    throw new ModelFormatError(
      `model.tar.gz has no ${XGBOOST_MODEL_FILE} file (it has: ${files.size > 0 ? [...files.keys()].join(', ') : 'nothing'})`,
    );
  }
  return LocalModel.deserialize(file);
}
