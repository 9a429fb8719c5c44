import {
  BaselineBuilder,
  NumericAccumulator,
  type CategoricalSummary,
  type NumericSummary,
} from '../../lambdas/core/baseline';
import { featureSpec, RowEncoder, type FeatureSpec } from '../../lambdas/core/encoding';
import { parseDatasetSchema } from '../../lambdas/core/schema';
import { readProjectConfig } from '../../lib/config';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

/** Training values per bin by the rule drift uses: previous edge < v <= edge. */
function bruteCounts(values: number[], edges: number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) {
    let i = 0;
    while (i < edges.length && v > edges[i]) i++;
    counts[i]++;
  }
  return counts;
}

const numericSpec = (n: number): FeatureSpec => ({
  version: 1,
  dataset: 'nums',
  problem: 'regression',
  target: { name: 'y', type: 'number' },
  features: Array.from({ length: n }, (_, i) => ({ name: `x${i}`, type: 'number' as const })),
  missingValues: [''],
});

describe('NumericAccumulator', () => {
  it('cuts 1..100 into exact deciles', () => {
    const acc = new NumericAccumulator();
    for (let i = 100; i >= 1; i--) acc.add(i);
    const s = acc.summary(10);
    expect(s.edges).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(s.counts).toEqual(new Array(10).fill(10));
    expect([s.min, s.max, s.mean]).toEqual([1, 100, 50.5]);
    // Population std of 1..100 is sqrt((100^2 - 1) / 12).
    expect(s.std).toBeCloseTo(Math.sqrt(9999 / 12), 10);
  });

  it.each([
    ['lognormal', (r: () => number) => Math.exp(2 * normal(r))],
    ['normal around zero, with exact zeros', (r: () => number) => (r() < 0.05 ? 0 : normal(r) * 50)],
    ['integers with heavy ties', (r: () => number) => Math.floor(-Math.log(1 - r()) * 2)],
    ['negative only', (r: () => number) => -1 - r() * 1000],
  ])('has exact bin counts and edges within the relative accuracy (%s)', (_name, draw) => {
    const rnd = mulberry32(7);
    const values = Array.from({ length: 20000 }, () => draw(rnd));
    const acc = new NumericAccumulator();
    values.forEach((v) => acc.add(v));
    const s = acc.summary(10);
    expect(s.counts).toEqual(bruteCounts(values, s.edges));
    expect(s.counts.reduce((a, b) => a + b, 0)).toBe(values.length);
    for (let i = 1; i < s.edges.length; i++) expect(s.edges[i]).toBeGreaterThan(s.edges[i - 1]);
    // Each edge is a training value, no further than one bucket (factor 1.01005) from the quantile it stands for.
    const sorted = [...values].sort((a, b) => a - b);
    const gamma = 1.005 / 0.995;
    for (const e of s.edges) {
      expect(sorted).toContain(e);
      // The last decile j whose rank ceil(j * n / 10) the edge covers: q_j <= e, and they share a bucket.
      const rank = sorted.filter((v) => v <= e).length;
      const j = Math.floor((rank * 10) / values.length);
      expect(j).toBeGreaterThanOrEqual(1);
      const q = sorted[Math.ceil((j * values.length) / 10) - 1];
      if (Math.abs(q) > 1e-12) {
        const ratio = q > 0 ? e / q : q / e;
        expect(ratio).toBeGreaterThanOrEqual(1 - 1e-12);
        expect(ratio).toBeLessThanOrEqual(gamma * (1 + 1e-12));
      }
    }
  });

  it('gives one bin to a constant column and no edges to an all-missing one', () => {
    const c = new NumericAccumulator();
    for (let i = 0; i < 50; i++) c.add(3);
    c.add(Number.NaN);
    expect(c.summary(10)).toMatchObject({ edges: [], counts: [50], missing: 1, min: 3, max: 3, std: 0 });
    const m = new NumericAccumulator();
    m.add(Number.NaN);
    m.add(Number.POSITIVE_INFINITY);
    expect(m.summary(10)).toEqual({
      kind: 'numeric',
      count: 0,
      missing: 2,
      min: null,
      max: null,
      mean: null,
      std: null,
      edges: [],
      counts: [0],
    });
  });

  it('stays within maxBuckets on a range wider than they cover, with counts still exact', () => {
    const rnd = mulberry32(3);
    const values = Array.from({ length: 20000 }, () => 10 ** (rnd() * 40 - 20) * (rnd() < 0.3 ? -1 : 1));
    const acc = new NumericAccumulator(0.005, 64);
    values.forEach((v) => acc.add(v));
    expect(acc.stateSize).toBeLessThanOrEqual(2 * 64 + 1);
    const s = acc.summary(10);
    expect(s.counts).toEqual(bruteCounts(values, s.edges));
  });
});

describe('BaselineBuilder', () => {
  const schema = readProjectConfig().dataset;
  const spec = featureSpec(schema);
  const header = schema.fields.map((f) => f.name);

  function churnRows(n: number, seed: number): string[][] {
    const rnd = mulberry32(seed);
    return Array.from({ length: n }, (_, i) => [
      `c${i}`,
      String(Math.floor(rnd() * 72)),
      ['basic', 'plus', 'pro'][rnd() < 0.5 ? 0 : rnd() < 0.6 ? 1 : 2],
      (20 + rnd() * 80).toFixed(2),
      rnd() < 0.1 ? '' : (rnd() * 5000).toFixed(2),
      String(Math.floor(-Math.log(1 - rnd()))),
      ['north', 'south', 'east', 'west'][Math.floor(rnd() * 4)],
      rnd() < 0.4 ? 'true' : 'false',
      (5 + normal(rnd) * 2).toFixed(1),
      rnd() < 0.25 ? 'true' : 'false',
    ]);
  }

  function build(rows: string[][]): ReturnType<BaselineBuilder['finish']> {
    const enc = new RowEncoder(spec, header);
    const b = new BaselineBuilder(spec);
    for (const r of rows) {
      enc.encode(r);
      b.add(enc.features, enc.label);
    }
    return b.finish();
  }

  it('describes every feature and the target in one pass', () => {
    const rows = churnRows(5000, 1);
    const baseline = build(rows);
    expect(baseline).toMatchObject({
      version: 1,
      dataset: 'churn',
      problem: 'binary',
      rowCount: 5000,
      bins: 10,
      featureOrder: spec.features.map((f) => f.name),
      sketch: { method: 'log-buckets', relativeAccuracy: 0.005, maxBuckets: 4096 },
    });
    expect(baseline.predictions).toBeUndefined();
    const byName = Object.fromEntries(baseline.features.map((f) => [f.name, f]));

    const plan = byName.plan as CategoricalSummary;
    expect(plan.categories).toEqual(['basic', 'plus', 'pro']);
    expect(plan.counts).toEqual(['basic', 'plus', 'pro'].map((c) => rows.filter((r) => r[2] === c).length));
    expect(plan.missing + plan.unseen).toBe(0);

    const partner = byName.has_partner as CategoricalSummary;
    expect(partner.categories).toEqual(['false', 'true']);
    expect(partner.counts[1]).toBe(rows.filter((r) => r[7] === 'true').length);

    const total = byName.total_charges as NumericSummary;
    const present = rows.filter((r) => r[4] !== '').map((r) => Number(r[4]));
    expect(total.missing).toBe(rows.length - present.length);
    expect(total.count).toBe(present.length);
    expect(total.counts).toEqual(bruteCounts(present, total.edges));
    expect(total.edges).toHaveLength(9);
    expect(total.mean).toBeCloseTo(present.reduce((a, b) => a + b, 0) / present.length, 6);
    expect(total.min).toBe(Math.min(...present));

    // support_calls is mostly 0 and 1: tied deciles collapse into fewer bins.
    const calls = byName.support_calls as NumericSummary;
    expect(calls.edges.length).toBeLessThan(9);
    expect(calls.counts).toEqual(
      bruteCounts(
        rows.map((r) => Number(r[5])),
        calls.edges,
      ),
    );

    const target = baseline.target as CategoricalSummary & { name: string };
    expect(target.name).toBe('churned');
    expect(target.categories).toEqual(['false', 'true']);
    expect(target.counts).toEqual([
      rows.filter((r) => r[9] === 'false').length,
      rows.filter((r) => r[9] === 'true').length,
    ]);
  });

  it('is deterministic: the same input gives byte-identical JSON', () => {
    const a = JSON.stringify(build(churnRows(3000, 9)));
    const b = JSON.stringify(build(churnRows(3000, 9)));
    expect(b).toBe(a);
    expect(JSON.stringify(build(churnRows(3000, 10)))).not.toBe(a);
  });

  it('keeps bounded state: a million rows hold no more buckets than the limit', () => {
    // Math builtins are slow inside Jest's VM context, so values come from a bare xorshift here.
    const b = new BaselineBuilder(numericSpec(2));
    let x = 2463534242;
    const next = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 4294967296;
    };
    const row = new Float64Array(2);
    const add = (n: number) => {
      for (let i = 0; i < n; i++) {
        const u = next();
        // Heavy-tailed both ways: spans many orders of magnitude, with negatives.
        row[0] = (u - 0.5) / (next() + 1e-9);
        row[1] = (i % 1000) + u;
        b.add(row);
      }
    };
    add(10000);
    const early = b.stateSize;
    add(990000);
    const late = b.stateSize;
    // Per numeric column: at most 4096 buckets per sign and the zero bucket.
    expect(late).toBeLessThanOrEqual(2 * (2 * 4096 + 1));
    // Growth comes only from the value range widening (rarer, more extreme draws), never from the row count.
    expect(late).toBeLessThan(early * 4);
    const baseline = b.finish();
    expect(baseline.rowCount).toBe(1000000);
    expect(baseline.features[1].count).toBe(1000000);
    expect(baseline.features[1].counts.reduce((p, c) => p + c, 0)).toBe(1000000);
  });

  it('summarises a regression target numerically and keeps optional predictions', () => {
    const houses = featureSpec(
      parseDatasetSchema({
        name: 'houses',
        target: 'price',
        fields: [
          { name: 'rooms', type: 'integer' },
          { name: 'price', type: 'number' },
        ],
      }),
    );
    const b = new BaselineBuilder(houses, { bins: 4 });
    for (let i = 1; i <= 100; i++) {
      b.add([i % 5], i * 1000);
      b.addPrediction(i / 100);
    }
    const baseline = b.finish();
    expect(baseline.bins).toBe(4);
    expect(baseline.target).toMatchObject({ kind: 'numeric', name: 'price', edges: [25000, 50000, 75000] });
    expect(baseline.predictions).toMatchObject({ kind: 'numeric', count: 100, edges: [0.25, 0.5, 0.75] });
    expect(baseline.predictions?.counts).toEqual([25, 25, 25, 25]);
  });

  it('grows class counts for numeric multiclass labels and rejects bad input', () => {
    const s = featureSpec(
      parseDatasetSchema({
        name: 'n',
        target: 'y',
        problem: 'multiclass',
        fields: [
          { name: 'x', type: 'number' },
          { name: 'y', type: 'integer' },
        ],
      }),
    );
    const b = new BaselineBuilder(s);
    [0, 2, 2, 1, Number.NaN].forEach((y) => b.add([1], y));
    expect(b.finish().target).toMatchObject({ categories: ['0', '1', '2'], counts: [1, 1, 2], missing: 1 });
    expect(() => b.add([1, 2])).toThrow('expected 1 feature values, got 2');
    expect(() => new BaselineBuilder(s, { bins: 1 })).toThrow(RangeError);
  });
});
