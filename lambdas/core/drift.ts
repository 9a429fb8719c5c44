import type { Baseline, CategoricalSummary, NumericSummary, Summary } from './baseline';
import { isCategorical, type FeatureSpec, type FeatureType } from './encoding';

/**
 * Drift of captured traffic against the training baseline (DESIGN.md sections 8 and 9). Pure and streaming:
 * rows are counted into the baseline's bins as they arrive and never kept, so memory is a few counters per
 * bin whatever the window size.
 *
 * Statistics, per feature, over non-missing values only (missing values are reported as rates instead):
 * - PSI = sum_i (q_i - p_i) * ln(q_i / p_i), p the baseline proportions, q the current ones, over the
 *   baseline's quantile bins (numeric) or its categories plus an unseen-category bucket (categorical).
 *   Epsilon smoothing: a proportion below epsilon counts as epsilon, which keeps PSI finite when a bin is
 *   empty on one side. The default 1e-4 sits below one sample's weight in any window under 10,000 rows, so it
 *   never blurs a bin that has data, while an empty baseline bucket that now holds 5% of traffic still scores
 *   0.05 * ln(0.05 / 1e-4) = 0.31, above the usual 0.2 threshold, as it should.
 * - L-infinity distance: for numeric features the largest gap between the baseline's and the current
 *   cumulative distributions at the bin edges (a binned two-sample Kolmogorov-Smirnov statistic); for
 *   categorical ones the largest gap between category proportions.
 * - `ks` is the small-sample robust form Model Monitor documents: max(0, linf - 1.8 * sqrt((n + m) / (n * m))),
 *   n current and m baseline non-missing counts. The subtracted term is the KS critical value at about the
 *   0.3% level, so sampling noise alone rarely leaves anything positive.
 * Decision: a feature drifts when its PSI is above its threshold. Below `minSamples` captured rows the report
 * is "insufficient data": statistics are still shown, but nothing is marked drifted.
 */

export interface DriftOptions {
  /** Captured rows needed for a decision. @default 500 */
  readonly minSamples?: number;
  /** PSI above which a feature has drifted. @default 0.2 */
  readonly threshold?: number;
  /** Per-feature PSI thresholds, by feature name, overriding `threshold`. @default {} */
  readonly featureThresholds?: Readonly<Record<string, number>>;
  /** Floor on proportions in PSI (see above). @default 1e-4 */
  readonly epsilon?: number;
  /**
   * Non-missing values a feature needs for its own decision: a mostly-missing feature in a small window would
   * otherwise score noise. @default minSamples
   */
  readonly minFeatureSamples?: number;
  /** PSI threshold for prediction drift. @default threshold */
  readonly predictionThreshold?: number;
}

/**
 * The counts PSI and KS were computed from, so that a report can draw both distributions. Missing values are
 * not in them (they are reported as rates).
 */
export type Distribution = NumericDistribution | CategoricalDistribution;

export interface NumericDistribution {
  readonly kind: 'numeric';
  /**
   * The baseline's inner bin edges: bin 0 is v <= edges[0], bin i is edges[i-1] < v <= edges[i], the last bin
   * is v > edges[edges.length - 1]. `baseline` and `current` have edges.length + 1 entries.
   */
  readonly edges: number[];
  /** Training values per bin. */
  readonly baseline: number[];
  /** Captured values per bin. */
  readonly current: number[];
}

export interface CategoricalDistribution {
  readonly kind: 'categorical';
  readonly categories: string[];
  /** Training values per category. */
  readonly baseline: number[];
  /** Captured values per category. */
  readonly current: number[];
  /** Values outside the categories (the unseen bucket PSI also counts). */
  readonly baselineUnseen: number;
  readonly currentUnseen: number;
}

export interface FeatureDrift {
  readonly name: string;
  readonly type: FeatureType;
  /** Null when the feature had no non-missing values in the window. */
  readonly psi: number | null;
  /** Robust KS (see above). */
  readonly ks: number | null;
  /** Raw L-infinity distance. */
  readonly linf: number | null;
  /** Non-missing captured values. */
  readonly samples: number;
  readonly missingRate: number;
  readonly baselineMissingRate: number;
  readonly threshold: number;
  readonly drifted: boolean;
  readonly distribution: Distribution;
}

export interface PredictionDrift {
  readonly samples: number;
  /** What the outputs were compared with: the baseline's predictions, or the training target when it has none. */
  readonly reference: 'predictions' | 'target';
  readonly psi: number | null;
  readonly ks: number | null;
  readonly linf: number | null;
  readonly threshold: number;
  readonly drifted: boolean;
  readonly distribution: Distribution;
}

export interface DriftReport {
  /** Captured rows counted. */
  readonly samples: number;
  readonly minSamples: number;
  /** False means "insufficient data": no drift decision and no drift metric. */
  readonly sufficient: boolean;
  readonly drifted: boolean;
  /** Largest feature PSI (0 when no feature had values). */
  readonly maxDrift: number;
  readonly threshold: number;
  readonly driftedFeatures: string[];
  readonly features: FeatureDrift[];
  readonly predictions?: PredictionDrift;
}

export const DEFAULT_EPSILON = 1e-4;
const KS_C = 1.8;

/** PSI between proportion vectors, each proportion floored at epsilon. */
export function psi(
  baseline: ArrayLike<number>,
  current: ArrayLike<number>,
  epsilon = DEFAULT_EPSILON,
): number {
  let s = 0;
  for (let i = 0; i < baseline.length; i++) {
    const p = Math.max(baseline[i], epsilon);
    const q = Math.max(current[i], epsilon);
    s += (q - p) * Math.log(q / p);
  }
  return s;
}

/** Largest gap between the cumulative sums of two proportion vectors over ordered bins. */
export function cdfDistance(baseline: ArrayLike<number>, current: ArrayLike<number>): number {
  let a = 0;
  let b = 0;
  let d = 0;
  for (let i = 0; i < baseline.length; i++) {
    a += baseline[i];
    b += current[i];
    const g = Math.abs(a - b);
    if (g > d) d = g;
  }
  return d;
}

/** Largest gap between two proportion vectors over unordered categories. */
export function maxGap(baseline: ArrayLike<number>, current: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < baseline.length; i++) {
    const g = Math.abs(baseline[i] - current[i]);
    if (g > d) d = g;
  }
  return d;
}

/** The small-sample robust KS: linf less the critical value for sample sizes n and m, never negative. */
export function robustKs(linf: number, n: number, m: number): number {
  if (n <= 0 || m <= 0) return 0;
  return Math.max(0, linf - KS_C * Math.sqrt((n + m) / (n * m)));
}

function proportions(counts: ArrayLike<number>, total: number): Float64Array {
  const out = new Float64Array(counts.length);
  if (total > 0) for (let i = 0; i < counts.length; i++) out[i] = counts[i] / total;
  return out;
}

/** Counts for one distribution in the baseline's bins (numeric) or categories + unseen (categorical). */
class BinCounter {
  readonly counts: Float64Array;
  readonly baseline: Float64Array;
  readonly baselineN: number;
  missing = 0;
  private readonly edges: Float64Array | undefined;
  private readonly k: number;

  constructor(readonly ref: Summary) {
    if (ref.kind === 'numeric') {
      this.edges = Float64Array.from(ref.edges);
      this.k = ref.counts.length;
      this.counts = new Float64Array(this.k);
      this.baselineN = sum(ref.counts);
      this.baseline = proportions(ref.counts, this.baselineN);
    } else {
      this.k = ref.categories.length;
      this.counts = new Float64Array(this.k + 1);
      this.baselineN = sum(ref.counts) + ref.unseen;
      this.baseline = proportions([...ref.counts, ref.unseen], this.baselineN);
    }
  }

  add(v: number): void {
    if (v !== v) {
      this.missing++;
      return;
    }
    const edges = this.edges;
    if (edges) {
      // Bin i holds edges[i-1] < v <= edges[i]: the count of edges below v. Ten or so edges: a scan beats bisection.
      let i = 0;
      const n = edges.length;
      if (n <= 16) while (i < n && v > edges[i]) i++;
      else {
        let hi = n;
        while (i < hi) {
          const mid = (i + hi) >>> 1;
          if (v > edges[mid]) i = mid + 1;
          else hi = mid;
        }
      }
      this.counts[i]++;
    } else if (v >= 0 && v < this.k && (v | 0) === v) this.counts[v]++;
    else this.counts[this.k]++;
  }

  get present(): number {
    return sum(this.counts);
  }

  distribution(): Distribution {
    const ref = this.ref;
    if (ref.kind === 'numeric')
      return {
        kind: 'numeric',
        edges: [...ref.edges],
        baseline: [...ref.counts],
        current: Array.from(this.counts),
      };
    return {
      kind: 'categorical',
      categories: [...ref.categories],
      baseline: [...ref.counts],
      current: Array.from(this.counts.subarray(0, this.k)),
      baselineUnseen: ref.unseen,
      currentUnseen: this.counts[this.k],
    };
  }

  stats(epsilon: number): { psi: number | null; linf: number | null; ks: number | null } {
    const n = this.present;
    if (n === 0 || this.baselineN === 0) return { psi: null, linf: null, ks: null };
    const cur = proportions(this.counts, n);
    const linf = this.edges ? cdfDistance(this.baseline, cur) : maxGap(this.baseline, cur);
    return { psi: psi(this.baseline, cur, epsilon), linf, ks: robustKs(linf, n, this.baselineN) };
  }
}

function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

/**
 * Accumulates a window of captured rows and outputs against a baseline. Feed decoded rows
 * (FeatureDecoder / CaptureParser) with `addRow` and outputs with `addPrediction`; then `report`.
 * It is a CaptureSink, so a CaptureParser can feed it directly.
 */
export class DriftAccumulator {
  private rows = 0;
  private readonly counters: BinCounter[];
  private readonly thresholds: Float64Array;
  private readonly predictionCounter: BinCounter | undefined;
  private readonly predictionReference: 'predictions' | 'target';
  /** How an output becomes a class, when it is compared with a classification target. */
  private readonly toClass: ((v: number) => number) | undefined;
  private readonly minSamples: number;
  private readonly minFeatureSamples: number;
  private readonly threshold: number;
  private readonly predictionThreshold: number;
  private readonly epsilon: number;

  constructor(
    private readonly baseline: Baseline,
    private readonly spec: FeatureSpec,
    options: DriftOptions = {},
  ) {
    this.minSamples = options.minSamples ?? 500;
    this.threshold = options.threshold ?? 0.2;
    this.epsilon = options.epsilon ?? DEFAULT_EPSILON;
    this.minFeatureSamples = options.minFeatureSamples ?? this.minSamples;
    this.predictionThreshold = options.predictionThreshold ?? this.threshold;
    if (!(Number.isInteger(this.minSamples) && this.minSamples >= 1))
      throw new RangeError('minSamples must be a positive integer');
    if (!(this.threshold > 0)) throw new RangeError('threshold must be positive');
    if (!(this.epsilon > 0 && this.epsilon < 0.5)) throw new RangeError('epsilon must be in (0, 0.5)');

    const names = spec.features.map((f) => f.name);
    if (names.join(',') !== baseline.featureOrder.join(',') || baseline.features.length !== names.length) {
      throw new Error(
        `baseline features [${baseline.featureOrder.join(', ')}] do not match the feature spec [${names.join(', ')}]`,
      );
    }
    spec.features.forEach((f, i) => {
      const kind = baseline.features[i].kind;
      if ((kind === 'categorical') !== isCategorical(f))
        throw new Error(`feature "${f.name}" is ${f.type} in the spec but ${kind} in the baseline`);
    });
    const unknown = Object.keys(options.featureThresholds ?? {}).filter((n) => !names.includes(n));
    if (unknown.length > 0)
      throw new Error(`featureThresholds name unknown feature(s): ${unknown.join(', ')}`);

    this.counters = baseline.features.map((f) => new BinCounter(f));
    this.thresholds = Float64Array.from(names, (n) => options.featureThresholds?.[n] ?? this.threshold);

    if (baseline.predictions && baseline.predictions.count > 0) {
      this.predictionReference = 'predictions';
      this.predictionCounter = new BinCounter(baseline.predictions);
    } else {
      this.predictionReference = 'target';
      const t = baseline.target;
      if (t.count > 0) this.predictionCounter = new BinCounter(t);
      if (t.kind === 'categorical') this.toClass = classOf(t, spec.problem);
    }
  }

  /** Decoded model-input values by feature (NaN missing, category indices, anything else unseen). */
  addRow(values: ArrayLike<number>): void {
    this.rows++;
    const cs = this.counters;
    for (let i = 0; i < cs.length; i++) cs[i].add(values[i]);
  }

  /** One model output: a score or regression value, or a class index (multiclass argmax). */
  addPrediction(value: number): void {
    const c = this.predictionCounter;
    if (!c) return;
    c.add(this.toClass ? this.toClass(value) : value);
  }

  get samples(): number {
    return this.rows;
  }

  report(): DriftReport {
    const sufficient = this.rows >= this.minSamples;
    const features: FeatureDrift[] = this.spec.features.map((f, i) => {
      const c = this.counters[i];
      const ref = this.baseline.features[i];
      const s = c.stats(this.epsilon);
      const threshold = this.thresholds[i];
      return {
        name: f.name,
        type: f.type,
        psi: s.psi,
        ks: s.ks,
        linf: s.linf,
        samples: c.present,
        missingRate: this.rows > 0 ? c.missing / this.rows : 0,
        baselineMissingRate: missingRate(ref),
        threshold,
        drifted: sufficient && c.present >= this.minFeatureSamples && s.psi !== null && s.psi > threshold,
        distribution: c.distribution(),
      };
    });
    let maxDrift = 0;
    for (const f of features) if (f.psi !== null && f.psi > maxDrift) maxDrift = f.psi;
    const driftedFeatures = features.filter((f) => f.drifted).map((f) => f.name);
    const report: DriftReport = {
      samples: this.rows,
      minSamples: this.minSamples,
      sufficient,
      drifted: driftedFeatures.length > 0,
      maxDrift,
      threshold: this.threshold,
      driftedFeatures,
      features,
    };
    const pc = this.predictionCounter;
    if (pc && pc.present + pc.missing > 0) {
      const s = pc.stats(this.epsilon);
      return {
        ...report,
        predictions: {
          samples: pc.present,
          reference: this.predictionReference,
          ...s,
          threshold: this.predictionThreshold,
          drifted: pc.present >= this.minSamples && s.psi !== null && s.psi > this.predictionThreshold,
          distribution: pc.distribution(),
        },
      };
    }
    return report;
  }
}

function missingRate(s: NumericSummary | CategoricalSummary): number {
  const total = s.count + s.missing;
  return total > 0 ? s.missing / total : 0;
}

/**
 * Turns a model output into a class label to compare with the target's class distribution: a binary score in
 * [0, 1] is class 1 at 0.5 or above; any other output is taken as a label when it is a whole number.
 */
function classOf(t: CategoricalSummary, problem: FeatureSpec['problem']): (v: number) => number {
  const k = t.categories.length;
  return (v: number) => {
    if (v !== v) return v;
    if (problem === 'binary' && k === 2 && v >= 0 && v <= 1) return v >= 0.5 ? 1 : 0;
    return Number.isInteger(v) ? v : k;
  };
}
