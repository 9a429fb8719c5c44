import type { ProblemType } from './schema';

/**
 * The metric gate (DESIGN.md section 6, step 4): pick the configured metric by name from the training job's
 * FinalMetricDataList, and pass the challenger when it meets the minimum and is no worse than the champion
 * (the latest approved model package) by more than the tolerance, knowing which direction is better.
 * Pure: the Evaluate Lambda only adapts the state machine's payload.
 */

export type Direction = 'maximize' | 'minimize';

/** The eval_metric per problem type (the Train step sets the same), named as FinalMetricDataList names it. */
export function defaultMetricName(problem: ProblemType): string {
  switch (problem) {
    case 'binary':
      return 'validation:auc';
    case 'multiclass':
      return 'validation:mlogloss';
    case 'regression':
      return 'validation:rmse';
  }
}

/** XGBoost's eval metrics and the extra ones SageMaker's XGBoost container reports, by direction. */
const MAXIMIZE = new Set([
  'auc',
  'aucpr',
  'accuracy',
  'balanced_accuracy',
  'f1',
  'f1_binary',
  'f1_macro',
  'ndcg',
  'map',
  'pre',
  'precision',
  'recall',
  'r2',
  'interval-regression-accuracy',
]);
const MINIMIZE = new Set([
  'rmse',
  'rmsle',
  'mae',
  'mse',
  'mape',
  'mphe',
  'logloss',
  'error',
  'merror',
  'mlogloss',
  'poisson-nloglik',
  'gamma-nloglik',
  'cox-nloglik',
  'gamma-deviance',
  'tweedie-nloglik',
  'aft-nloglik',
]);

export class UnknownMetricError extends Error {
  constructor(metricName: string) {
    super(
      `Cannot tell whether "${metricName}" is better higher or lower. Known higher-is-better metrics: ` +
        `${[...MAXIMIZE].join(', ')}; lower-is-better: ${[...MINIMIZE].join(', ')} ` +
        '(each optionally prefixed with train: or validation: and suffixed with @<n> or @<threshold>).',
    );
    this.name = 'UnknownMetricError';
  }
}

/**
 * Which way is better for a metric name such as `validation:auc`, `train:error@0.6`, `validation:ndcg@5-`.
 * Throws UnknownMetricError rather than guess: a wrong guess would deploy worse models.
 */
export function metricDirection(metricName: string): Direction {
  const colon = metricName.indexOf(':');
  let base = (colon >= 0 ? metricName.slice(colon + 1) : metricName).toLowerCase();
  const at = base.indexOf('@');
  if (at >= 0) base = base.slice(0, at);
  // XGBoost's "ndcg-"/"map-" variants score lists without relevant items as 0 rather than 1.
  if (base.endsWith('-')) base = base.slice(0, -1);
  if (MAXIMIZE.has(base)) return 'maximize';
  if (MINIMIZE.has(base)) return 'minimize';
  throw new UnknownMetricError(metricName);
}

/** One entry of DescribeTrainingJob's FinalMetricDataList, as Step Functions passes it. */
export interface FinalMetric {
  readonly MetricName?: string;
  readonly Value?: number | string;
  readonly Timestamp?: string | number;
}

export interface EvaluateInput {
  readonly metricName: string;
  /** The challenger must be at least this good (>= when higher is better, <= when lower is). */
  readonly minimum: number | null;
  /** How much worse than the champion the challenger may be, in the metric's units. */
  readonly tolerance: number;
  readonly finalMetrics: readonly FinalMetric[];
  /** The latest approved package; `metric` is the string in its CustomerMetadataProperties. */
  readonly champion: { readonly modelPackageArn: string; readonly metric: string | number | null } | null;
}

export interface EvaluateResult {
  passed: boolean;
  metricName: string;
  metric: number;
  championMetric: number | null;
  direction: Direction;
  reason: string;
}

/** The training job did not report the configured metric: the job's eval_metric and the gate disagree. */
export class MetricNotFoundError extends Error {
  constructor(metricName: string, available: readonly string[]) {
    super(
      `The training job reported no "${metricName}" in FinalMetricDataList ` +
        `(it reported: ${available.length > 0 ? available.join(', ') : 'nothing'}). ` +
        'Check training.metric.name against the eval_metric of the problem type.',
    );
    this.name = 'MetricNotFoundError';
  }
}

export class BadEvaluateInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadEvaluateInputError';
  }
}

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') return Number(v);
  return Number.NaN;
}

function timeOf(m: FinalMetric): number {
  const t = m.Timestamp;
  if (typeof t === 'number') return t;
  if (typeof t === 'string') {
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? toNumber(t) : ms;
  }
  return Number.NEGATIVE_INFINITY;
}

/** The metric's value: by name, never by position; the latest entry should a name repeat. */
export function selectMetric(finalMetrics: readonly FinalMetric[], metricName: string): number {
  let best: FinalMetric | undefined;
  for (const m of finalMetrics) {
    if (m?.MetricName !== metricName) continue;
    if (best === undefined || timeOf(m) >= timeOf(best)) best = m;
  }
  const value = best === undefined ? Number.NaN : toNumber(best.Value);
  if (!Number.isFinite(value))
    throw new MetricNotFoundError(
      metricName,
      finalMetrics.map((m) => String(m?.MetricName)),
    );
  return value;
}

/** Parses the Evaluate Lambda's payload, naming the field at fault. */
export function parseEvaluateInput(event: unknown): EvaluateInput {
  const e = (event ?? {}) as Record<string, unknown>;
  const metricName = e.metricName;
  if (typeof metricName !== 'string' || metricName === '')
    throw new BadEvaluateInputError('Evaluate input needs "metricName" (e.g. "validation:auc")');
  let minimum: number | null = null;
  if (e.minimum !== undefined && e.minimum !== null) {
    minimum = toNumber(e.minimum);
    if (!Number.isFinite(minimum))
      throw new BadEvaluateInputError(
        `Evaluate input "minimum" must be a number or null, got ${JSON.stringify(e.minimum)}`,
      );
  }
  const tolerance = e.tolerance === undefined || e.tolerance === null ? 0 : toNumber(e.tolerance);
  if (!(Number.isFinite(tolerance) && tolerance >= 0))
    throw new BadEvaluateInputError(
      `Evaluate input "tolerance" must be a number >= 0, got ${JSON.stringify(e.tolerance)}`,
    );
  if (!Array.isArray(e.finalMetrics))
    throw new BadEvaluateInputError(
      'Evaluate input "finalMetrics" must be the training job\'s FinalMetricDataList (an array)',
    );
  let champion: EvaluateInput['champion'] = null;
  if (e.champion !== undefined && e.champion !== null) {
    const c = e.champion as Record<string, unknown>;
    if (typeof c !== 'object' || typeof c.modelPackageArn !== 'string')
      throw new BadEvaluateInputError('Evaluate input "champion" must be null or {modelPackageArn, metric}');
    const metric = c.metric;
    champion = {
      modelPackageArn: c.modelPackageArn,
      metric: typeof metric === 'string' || typeof metric === 'number' ? metric : null,
    };
  }
  return { metricName, minimum, tolerance, finalMetrics: e.finalMetrics as FinalMetric[], champion };
}

/** Float noise must not turn an exact tie at the tolerance edge into a rejection. */
function slack(...values: number[]): number {
  return 1e-12 * Math.max(1, ...values.map(Math.abs));
}

function fmt(n: number): string {
  return String(Number(n.toPrecision(6)));
}

export function evaluate(input: EvaluateInput): EvaluateResult {
  const { metricName, minimum, tolerance } = input;
  if (!(Number.isFinite(tolerance) && tolerance >= 0))
    throw new BadEvaluateInputError(`tolerance must be a number >= 0, got ${tolerance}`);
  const direction = metricDirection(metricName);
  const metric = selectMetric(input.finalMetrics, metricName);
  const better = direction === 'maximize' ? 'higher' : 'lower';
  const sign = direction === 'maximize' ? 1 : -1;
  const head = `${metricName} = ${fmt(metric)} (${better} is better)`;

  const reasons: string[] = [];
  let passed = true;
  if (minimum !== null) {
    // How far the challenger is on the good side of the minimum (negative: short of it).
    const margin = sign * (metric - minimum);
    if (margin < -slack(metric, minimum)) {
      passed = false;
      reasons.push(`does not meet the minimum ${fmt(minimum)}`);
    } else reasons.push(`meets the minimum ${fmt(minimum)}`);
  }

  let championMetric: number | null = null;
  if (input.champion === null) reasons.push('no approved champion to compare with');
  else {
    const c = toNumber(input.champion.metric);
    if (!Number.isFinite(c))
      reasons.push(
        `the champion ${input.champion.modelPackageArn} has no numeric metric ` +
          `(${JSON.stringify(input.champion.metric)}), so only the minimum applies`,
      );
    else {
      championMetric = c;
      // How much worse than the champion (negative: better).
      const deficit = sign * (c - metric);
      if (deficit > tolerance + slack(metric, c, tolerance)) {
        passed = false;
        reasons.push(
          `is worse than the champion's ${fmt(c)} by ${fmt(deficit)}, more than the tolerance ${fmt(tolerance)}`,
        );
      } else if (deficit > 0)
        reasons.push(
          `is within the tolerance ${fmt(tolerance)} of the champion's ${fmt(c)} (worse by ${fmt(deficit)})`,
        );
      else reasons.push(`is at least as good as the champion's ${fmt(c)}`);
    }
  }
  const verdict = passed ? 'Passed' : 'Rejected';
  return {
    passed,
    metricName,
    metric,
    championMetric,
    direction,
    reason: `${verdict}: ${head}; ${reasons.join('; ')}.`,
  };
}
