import {
  BOOLEAN_CATEGORIES,
  isCategorical,
  type FeatureSpec,
  type FeatureSpecFeature,
  type FeatureType,
} from './encoding';

/**
 * The training baseline (`baseline.json`, DESIGN.md section 8), built in one streaming pass with bounded
 * memory, and the shapes drift reads.
 *
 * Quantile bins in one pass, with exact counts:
 * each numeric column feeds a log-bucketed sketch (the DDSketch layout). A value x > 0 goes to bucket
 * k = ceil(ln x / ln g) with g = (1 + a) / (1 - a), so a bucket holds values within a relative factor g of
 * each other; negative values use a mirrored store, and |x| < 1e-12 a zero bucket. Each bucket keeps its
 * count and the largest value it has seen. At the end, the edge for the j-th of B quantiles is the largest
 * value of the bucket that holds the value of rank ceil(j * n / B).
 * - Bin counts are exact, not estimates: bucket order follows value order, so every training value at or
 *   below an edge sits in that edge's bucket or a lower one, and every value above it sits in a higher
 *   bucket. Summing bucket counts between edges gives exactly the number of training values v with
 *   previous edge < v <= edge, the rule drift applies to captured values.
 * - Edge error bound: the edge e_j and the true quantile q_j share a bucket, so q_j <= e_j <= q_j * g for
 *   positive values (relative error at most g - 1 = 2a / (1 - a), about 1% for the default a = 0.005), the
 *   mirror image for negative values, and at most 1e-12 absolute around zero. In rank terms e_j is off by
 *   at most the number of training values in its bucket. Quantiles only decide where bins are cut; they
 *   never make a count wrong.
 * - Memory: at most `maxBuckets` buckets per sign per column (two float64 arrays each), whatever the row
 *   count. Should a column span more than g^maxBuckets (about 1e17 for the defaults), its buckets nearest
 *   zero merge into one; counts stay exact, only the edges there lose resolution.
 * - Determinism: no sampling and no randomness; the same rows give the same JSON. Counts, min and max do
 *   not depend on row order either (mean and std can differ in the last bits with another order).
 * Ties: duplicate edges (a column with few distinct values) collapse, so such a column has fewer bins.
 */

export const BASELINE_VERSION = 1;

export interface NumericSummary {
  readonly kind: 'numeric';
  /** Non-missing values. */
  readonly count: number;
  readonly missing: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly mean: number | null;
  /** Population standard deviation. */
  readonly std: number | null;
  /**
   * Inner bin edges, strictly increasing: bin 0 is v <= edges[0], bin i is edges[i-1] < v <= edges[i], the
   * last bin is v > edges[edges.length - 1]. So `counts` has edges.length + 1 entries.
   */
  readonly edges: number[];
  readonly counts: number[];
}

export interface CategoricalSummary {
  readonly kind: 'categorical';
  readonly count: number;
  readonly missing: number;
  readonly categories: string[];
  /** Counts by category index. */
  readonly counts: number[];
  /** Values outside the categories (none in validated training data; kept for symmetry with drift). */
  readonly unseen: number;
}

export type Summary = NumericSummary | CategoricalSummary;

export type FeatureBaseline = Summary & { readonly name: string; readonly type: FeatureType };

export interface Baseline {
  readonly version: typeof BASELINE_VERSION;
  readonly dataset: string;
  readonly problem: FeatureSpec['problem'];
  readonly rowCount: number;
  readonly featureOrder: string[];
  readonly bins: number;
  /** How numeric edges were found (see the comment at the top of baseline.ts). */
  readonly sketch: {
    readonly method: 'log-buckets';
    readonly relativeAccuracy: number;
    readonly maxBuckets: number;
  };
  readonly features: FeatureBaseline[];
  /** The label distribution: categorical over the classes for classification, numeric for regression. */
  readonly target: Summary & { readonly name: string };
  /** Model outputs on known data (e.g. the validation set), when the caller adds them. */
  readonly predictions?: NumericSummary;
}

export interface BaselineOptions {
  /** Number of quantile bins for numeric columns. @default 10 (deciles) */
  readonly bins?: number;
  /** Relative accuracy a of the quantile sketch. @default 0.005 */
  readonly relativeAccuracy?: number;
  /** Buckets per sign per numeric column. @default 4096 */
  readonly maxBuckets?: number;
}

const ZERO_LIMIT = 1e-12;
const INITIAL_BUCKETS = 64;

/** One sign's buckets, indexed densely from `lo`; grows up to `maxBuckets` and then merges its lowest ones. */
class BucketStore {
  lo = 0;
  counts = new Float64Array(0);
  maxs = new Float64Array(0);
  /** Set once the lowest buckets have been merged: from then on anything below `lo` belongs to bucket `lo`. */
  private collapsed = false;

  constructor(private readonly maxBuckets: number) {}

  add(k: number, x: number): void {
    let i = k - this.lo;
    if (i < 0 && this.collapsed) i = 0;
    else if (i < 0 || i >= this.counts.length) i = this.makeRoom(k);
    this.counts[i]++;
    if (this.counts[i] === 1 || x > this.maxs[i]) this.maxs[i] = x;
  }

  get size(): number {
    return this.counts.length;
  }

  /** Makes `k` addressable (growing or collapsing) and returns its array position. */
  private makeRoom(k: number): number {
    const len = this.counts.length;
    if (len === 0) {
      this.alloc(INITIAL_BUCKETS, k - (INITIAL_BUCKETS >> 1));
      return k - this.lo;
    }
    let top = -1;
    for (let i = len - 1; i >= 0; i--)
      if (this.counts[i] > 0) {
        top = i;
        break;
      }
    let bottom = 0;
    while (bottom < len && this.counts[bottom] === 0) bottom++;
    const usedLo = this.lo + bottom;
    const usedHi = this.lo + (top < 0 ? bottom : top);
    const lo = Math.min(usedLo, k);
    const hi = Math.max(usedHi, k);
    const span = hi - lo + 1;
    if (span <= this.maxBuckets) {
      // Doubling keeps growth amortised; centring around the used range leaves room on both sides.
      const want = Math.min(this.maxBuckets, Math.max(span * 2, len * 2));
      this.alloc(want, lo - ((want - span) >> 1));
      return k - this.lo;
    }
    // Span too wide: merge the lowest buckets (values nearest zero) into one so the top ones stay exact.
    const newLo = hi - this.maxBuckets + 1;
    this.alloc(this.maxBuckets, newLo, true);
    this.collapsed = true;
    return Math.max(k, newLo) - this.lo;
  }

  private alloc(len: number, newLo: number, collapse = false): void {
    const counts = new Float64Array(len);
    const maxs = new Float64Array(len);
    for (let i = 0; i < this.counts.length; i++) {
      const c = this.counts[i];
      if (c === 0) continue;
      let j = this.lo + i - newLo;
      if (j < 0) {
        if (!collapse) throw new Error('internal: bucket store lost a bucket');
        j = 0;
      }
      if (counts[j] === 0 || this.maxs[i] > maxs[j]) maxs[j] = this.maxs[i];
      counts[j] += c;
    }
    this.counts = counts;
    this.maxs = maxs;
    this.lo = newLo;
  }
}

/** Streaming numeric summary: exact count/min/max/mean/std and the bucket sketch for quantile bins. */
export class NumericAccumulator {
  count = 0;
  missing = 0;
  private min = Infinity;
  private max = -Infinity;
  private mean = 0;
  private m2 = 0;
  private readonly pos: BucketStore;
  private readonly neg: BucketStore;
  private zeroCount = 0;
  private zeroMax = -Infinity;
  private readonly invLogGamma: number;

  constructor(relativeAccuracy = 0.005, maxBuckets = 4096) {
    if (!(relativeAccuracy > 0 && relativeAccuracy < 1))
      throw new RangeError('relativeAccuracy must be in (0, 1)');
    if (!(Number.isInteger(maxBuckets) && maxBuckets >= 16))
      throw new RangeError('maxBuckets must be an integer >= 16');
    this.invLogGamma = 1 / Math.log((1 + relativeAccuracy) / (1 - relativeAccuracy));
    this.pos = new BucketStore(maxBuckets);
    this.neg = new BucketStore(maxBuckets);
  }

  /** NaN (and anything not finite) counts as missing. */
  add(x: number): void {
    if (!(x > -Infinity && x < Infinity)) {
      this.missing++;
      return;
    }
    const n = ++this.count;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    const d = x - this.mean;
    this.mean += d / n;
    this.m2 += d * (x - this.mean);
    if (x > ZERO_LIMIT) this.pos.add(Math.ceil(Math.log(x) * this.invLogGamma), x);
    else if (x < -ZERO_LIMIT) this.neg.add(Math.ceil(Math.log(-x) * this.invLogGamma), x);
    else {
      this.zeroCount++;
      if (x > this.zeroMax) this.zeroMax = x;
    }
  }

  /** Buckets currently allocated (the memory this summary holds, in buckets). */
  get stateSize(): number {
    return this.pos.size + this.neg.size + 1;
  }

  summary(bins: number): NumericSummary {
    const base = { kind: 'numeric' as const, count: this.count, missing: this.missing };
    if (this.count === 0)
      return { ...base, min: null, max: null, mean: null, std: null, edges: [], counts: [0] };
    // Buckets in ascending value order as (count, max) pairs: negatives from the largest |x| down, then zero, then positives.
    const cs: number[] = [];
    const ms: number[] = [];
    for (let i = this.neg.counts.length - 1; i >= 0; i--)
      if (this.neg.counts[i] > 0) {
        cs.push(this.neg.counts[i]);
        ms.push(this.neg.maxs[i]);
      }
    if (this.zeroCount > 0) {
      cs.push(this.zeroCount);
      ms.push(this.zeroMax);
    }
    for (let i = 0; i < this.pos.counts.length; i++)
      if (this.pos.counts[i] > 0) {
        cs.push(this.pos.counts[i]);
        ms.push(this.pos.maxs[i]);
      }
    const edges: number[] = [];
    const counts: number[] = [];
    let cum = 0;
    let binCount = 0;
    let b = 0;
    for (let j = 1; j < bins; j++) {
      const rank = Math.ceil((j * this.count) / bins);
      while (b < cs.length && cum + cs[b] < rank) {
        cum += cs[b];
        binCount += cs[b];
        b++;
      }
      if (b >= cs.length) break;
      // This quantile falls in a bucket already closed by the previous edge.
      if (cum >= rank) continue;
      const edge = ms[b];
      // An edge at the maximum would leave an empty last bin; a repeated edge an empty middle one.
      if (edge >= this.max || (edges.length > 0 && edge <= edges[edges.length - 1])) continue;
      cum += cs[b];
      binCount += cs[b];
      b++;
      edges.push(edge);
      counts.push(binCount);
      binCount = 0;
    }
    for (; b < cs.length; b++) binCount += cs[b];
    counts.push(binCount);
    return {
      ...base,
      min: this.min,
      max: this.max,
      mean: this.mean,
      std: Math.sqrt(this.m2 / this.count),
      edges,
      counts,
    };
  }
}

/**
 * Streaming counts of a categorical column by category index; other values are unseen. With `growTo` > 0
 * (numeric class labels, which have no names) the categories are the labels 0, 1, ... seen so far, up to
 * `growTo` of them.
 */
export class CategoricalAccumulator {
  count = 0;
  missing = 0;
  unseen = 0;
  private counts: Float64Array;
  private readonly categories: string[];

  constructor(
    categories: readonly string[],
    private readonly growTo = 0,
  ) {
    this.categories = [...categories];
    this.counts = new Float64Array(categories.length);
  }

  add(x: number): void {
    if (x !== x) {
      this.missing++;
      return;
    }
    this.count++;
    if (x >= this.counts.length && x < this.growTo && Number.isInteger(x)) this.grow(x + 1);
    if (x >= 0 && x < this.counts.length && Number.isInteger(x)) this.counts[x]++;
    else this.unseen++;
  }

  private grow(k: number): void {
    const counts = new Float64Array(k);
    counts.set(this.counts);
    this.counts = counts;
    for (let i = this.categories.length; i < k; i++) this.categories.push(String(i));
  }

  summary(): CategoricalSummary {
    return {
      kind: 'categorical',
      count: this.count,
      missing: this.missing,
      categories: [...this.categories],
      counts: Array.from(this.counts),
      unseen: this.unseen,
    };
  }
}

/** XGBoost's practical ceiling on classes; numeric labels above it are counted as unseen. */
const MAX_NUMERIC_CLASSES = 1000;

export function featureCategories(f: FeatureSpecFeature): readonly string[] {
  return f.type === 'boolean' ? BOOLEAN_CATEGORIES : (f.categories ?? []);
}

/**
 * Builds `baseline.json` from encoded training rows in one pass. Feed every row (training and validation
 * alike, so the baseline describes all the data the model was built from) with `add`, then call `finish`.
 */
export class BaselineBuilder {
  private rows = 0;
  private readonly columns: (NumericAccumulator | CategoricalAccumulator)[];
  private readonly target: NumericAccumulator | CategoricalAccumulator;
  private readonly predictions: NumericAccumulator;
  private readonly bins: number;
  private readonly sketch: { relativeAccuracy: number; maxBuckets: number };

  constructor(
    private readonly spec: FeatureSpec,
    options: BaselineOptions = {},
  ) {
    this.bins = options.bins ?? 10;
    if (!(Number.isInteger(this.bins) && this.bins >= 2 && this.bins <= 1000))
      throw new RangeError(`bins must be an integer in [2, 1000], got ${this.bins}`);
    this.sketch = {
      relativeAccuracy: options.relativeAccuracy ?? 0.005,
      maxBuckets: options.maxBuckets ?? 4096,
    };
    const numeric = () => new NumericAccumulator(this.sketch.relativeAccuracy, this.sketch.maxBuckets);
    this.columns = spec.features.map((f) =>
      isCategorical(f) ? new CategoricalAccumulator(featureCategories(f)) : numeric(),
    );
    this.target =
      spec.problem === 'regression'
        ? numeric()
        : spec.target.classes
          ? new CategoricalAccumulator(spec.target.classes)
          : new CategoricalAccumulator([], MAX_NUMERIC_CLASSES);
    this.predictions = numeric();
  }

  /**
   * One encoded training row: `features` is the numeric form by feature (NaN missing, booleans 1/0, category
   * indices; RowEncoder.features), `label` the encoded label (NaN or absent when unknown). Nothing is kept.
   */
  add(features: ArrayLike<number>, label?: number): void {
    if (features.length !== this.columns.length)
      throw new RangeError(`expected ${this.columns.length} feature values, got ${features.length}`);
    this.rows++;
    for (let i = 0; i < this.columns.length; i++) this.columns[i].add(features[i]);
    this.target.add(label ?? Number.NaN);
  }

  /** A model output on known data (optional; e.g. scores on the validation set). */
  addPrediction(value: number): void {
    this.predictions.add(value);
  }

  /** Buckets held by all numeric sketches: bounded by the options, not by the row count. */
  get stateSize(): number {
    let n = 0;
    for (const c of this.columns) if (c instanceof NumericAccumulator) n += c.stateSize;
    return n;
  }

  finish(): Baseline {
    return {
      version: BASELINE_VERSION,
      dataset: this.spec.dataset,
      problem: this.spec.problem,
      rowCount: this.rows,
      featureOrder: this.spec.features.map((f) => f.name),
      bins: this.bins,
      sketch: { method: 'log-buckets', ...this.sketch },
      features: this.spec.features.map((f, i) => {
        const c = this.columns[i];
        const s = c instanceof NumericAccumulator ? c.summary(this.bins) : c.summary();
        return { name: f.name, type: f.type, ...s };
      }),
      target: {
        name: this.spec.target.name,
        ...(this.target instanceof NumericAccumulator
          ? this.target.summary(this.bins)
          : this.target.summary()),
      },
      ...(this.predictions.count > 0 ? { predictions: this.predictions.summary(this.bins) } : {}),
    };
  }
}
