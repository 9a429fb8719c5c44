import { featureSpec } from '../../lambdas/core/encoding';
import { problemType, type DatasetSchema, type ProblemType } from '../../lambdas/core/schema';

/** XGBoost settings that follow from the problem type (DESIGN.md section 6, issue 3). */
const BY_PROBLEM: Record<ProblemType, { objective: string; evalMetric: string }> = {
  binary: { objective: 'binary:logistic', evalMetric: 'auc' },
  multiclass: { objective: 'multi:softprob', evalMetric: 'mlogloss' },
  regression: { objective: 'reg:squarederror', evalMetric: 'rmse' },
};

/** Hyperparameters the problem type decides; setting them in the config would train the wrong model. */
const DERIVED = ['objective', 'num_class'] as const;

export interface XgboostSettingsInput {
  /** XGBoost hyperparameters from the config (`training.hyperparameters`). */
  readonly hyperparameters: Readonly<Record<string, string | number>>;
  /** The metric the gate compares, as XGBoost reports it (e.g. `validation:auc`). */
  readonly metricName?: string;
}

export interface XgboostSettings {
  readonly problem: ProblemType;
  /** Every value a string: SageMaker's `HyperParameters` is a string map. */
  readonly hyperparameters: Readonly<Record<string, string>>;
  /** The metric Evaluate selects by name from `FinalMetricDataList`. */
  readonly metricName: string;
}

/** The number of classes of a multiclass target: its enum, or 0..maximum of an integer target. */
function classCount(schema: DatasetSchema): number {
  const classes = featureSpec(schema).target.classes;
  if (classes) return classes.length;
  const target = schema.fields.find((f) => f.name === schema.target);
  const max = target?.constraints?.maximum;
  if (target?.type === 'integer' && max !== undefined && Number.isInteger(max) && max >= 1) return max + 1;
  throw new Error(
    `dataset "${schema.name}": a multiclass target needs an enum, or be an integer with constraints.maximum (labels 0..maximum), to set num_class`,
  );
}

/**
 * The training job's hyperparameters and the gate's metric for a dataset: the config's hyperparameters plus
 * objective, num_class and eval_metric from the problem type. `eval_metric` is the gate metric's own name, so
 * that XGBoost reports exactly the metric Evaluate looks for.
 */
export function xgboostSettings(schema: DatasetSchema, input: XgboostSettingsInput): XgboostSettings {
  const problem = problemType(schema);
  const defaults = BY_PROBLEM[problem];
  for (const key of DERIVED)
    if (key in input.hyperparameters)
      throw new Error(
        `devmlops.training.hyperparameters.${key}: set from the problem type (${problem}); remove it from the config`,
      );
  const metricName = input.metricName ?? `validation:${defaults.evalMetric}`;
  const evalMetric = metricName.slice(metricName.indexOf(':') + 1);
  const configured = input.hyperparameters.eval_metric;
  if (configured !== undefined && String(configured) !== evalMetric)
    throw new Error(
      `devmlops.training.hyperparameters.eval_metric is "${configured}" but the gate metric is "${metricName}": XGBoost would not report it. Set eval_metric to "${evalMetric}" or remove it`,
    );
  const hyperparameters: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.hyperparameters)) hyperparameters[k] = String(v);
  hyperparameters.objective = defaults.objective;
  hyperparameters.eval_metric = evalMetric;
  if (problem === 'multiclass') hyperparameters.num_class = String(classCount(schema));
  return { problem, hyperparameters, metricName };
}
