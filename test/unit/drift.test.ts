import { BaselineBuilder, type Baseline } from '../../lambdas/core/baseline';
import { CaptureParser } from '../../lambdas/core/capture';
import { DriftAccumulator, psi, robustKs, type DriftReport } from '../../lambdas/core/drift';
import { featureSpec, type FeatureSpec } from '../../lambdas/core/encoding';
import { parseDatasetSchema } from '../../lambdas/core/schema';

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

const normal = (rnd: () => number) => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());

const feature = (r: DriftReport, name: string) => r.features.find((f) => f.name === name)!;

describe('hand-computed PSI and KS', () => {
  // A baseline written by hand: x with edges [1, 2] (bins v <= 1, 1 < v <= 2, v > 2), c with categories a, b.
  const spec: FeatureSpec = {
    version: 1,
    dataset: 'hand',
    problem: 'binary',
    target: { name: 'y', type: 'boolean', classes: ['false', 'true'] },
    features: [
      { name: 'x', type: 'number' },
      { name: 'c', type: 'category', categories: ['a', 'b'] },
    ],
    missingValues: [''],
  };
  const baseline: Baseline = {
    version: 1,
    dataset: 'hand',
    problem: 'binary',
    rowCount: 12500,
    featureOrder: ['x', 'c'],
    bins: 3,
    sketch: { method: 'log-buckets', relativeAccuracy: 0.005, maxBuckets: 4096 },
    features: [
      // prettier-ignore
      { name: 'x', type: 'number', kind: 'numeric', count: 10000, missing: 2500, min: 0, max: 3, mean: 1.2, std: 1,
        edges: [1, 2], counts: [5000, 3000, 2000] },
      {
        name: 'c',
        type: 'category',
        kind: 'categorical',
        count: 1000,
        missing: 0,
        categories: ['a', 'b'],
        counts: [500, 500],
        unseen: 0,
      },
    ],
    target: {
      name: 'y',
      kind: 'categorical',
      count: 100,
      missing: 0,
      categories: ['false', 'true'],
      counts: [75, 25],
      unseen: 0,
    },
  };

  /** 1250 rows: x = 300 x 0.5, 300 x 1.5, 400 x 2.5, 250 missing; c = 400 a, 400 b, 200 unseen, 250 missing. */
  function window(options = {}): DriftReport {
    const d = new DriftAccumulator(baseline, spec, options);
    for (let i = 0; i < 1250; i++) {
      const x = i < 300 ? 0.5 : i < 600 ? 1.5 : i < 1000 ? 2.5 : Number.NaN;
      const c = i < 400 ? 0 : i < 800 ? 1 : i < 1000 ? 7 : Number.NaN;
      d.addRow([x, c]);
    }
    return d.report();
  }

  it('numeric: PSI over the bins and the binned KS with the small-sample correction', () => {
    const x = feature(window(), 'x');
    // p = [0.5, 0.3, 0.2] (baseline), q = [0.3, 0.3, 0.4] (the 1000 non-missing values)
    // PSI = (0.3-0.5)ln(0.3/0.5) + (0.3-0.3)ln(1) + (0.4-0.2)ln(0.4/0.2)
    //     = (-0.2)(-0.5108256) + 0 + (0.2)(0.6931472) = 0.1021651 + 0.1386294 = 0.2407946
    expect(x.psi).toBeCloseTo(0.2407946, 6);
    // CDFs [0.5, 0.8, 1] and [0.3, 0.6, 1]: linf = 0.2.
    // robust: 0.2 - 1.8 * sqrt((1000 + 10000) / (1000 * 10000)) = 0.2 - 1.8 * 0.0331662 = 0.2 - 0.0596992 = 0.1403008
    expect(x.linf).toBeCloseTo(0.2, 12);
    expect(x.ks).toBeCloseTo(0.1403008, 6);
    // Missing values: 250 of 1250 rows now, 2500 of 12500 in the baseline, both 0.2; they are not in the PSI.
    expect(x.missingRate).toBeCloseTo(0.2, 12);
    expect(x.baselineMissingRate).toBeCloseTo(0.2, 12);
    expect(x.samples).toBe(1000);
    expect(x.drifted).toBe(true);
  });

  it('categorical: PSI with an unseen bucket smoothed by epsilon = 1e-4', () => {
    const c = feature(window(), 'c');
    // p = [0.5, 0.5, 0 -> 1e-4], q = [0.4, 0.4, 0.2]
    // PSI = 2 (0.4-0.5)ln(0.4/0.5) + (0.2-0.0001)ln(0.2/0.0001)
    //     = 2 (-0.1)(-0.2231436) + 0.1999 * 7.6009025 = 0.0446287 + 1.5194204 = 1.5640491
    expect(c.psi).toBeCloseTo(1.5640491, 6);
    // Largest gap between proportions: |0 - 0.2| = 0.2; robust 0.2 - 1.8 * sqrt(2000 / 1e6) = 0.2 - 0.0804984
    expect(c.linf).toBeCloseTo(0.2, 12);
    expect(c.ks).toBeCloseTo(0.1195016, 6);
  });

  it('reports the counts behind the statistics: the baseline bins or categories, both sides', () => {
    const r = window();
    expect(feature(r, 'x').distribution).toEqual({
      kind: 'numeric',
      edges: [1, 2],
      baseline: [5000, 3000, 2000],
      current: [300, 300, 400],
    });
    expect(feature(r, 'c').distribution).toEqual({
      kind: 'categorical',
      categories: ['a', 'b'],
      baseline: [500, 500],
      current: [400, 400],
      baselineUnseen: 0,
      currentUnseen: 200,
    });
    // Survives JSON (what the Lambda stores and the CLI prints): plain arrays, no typed ones.
    expect(JSON.parse(JSON.stringify(r)).features[1].distribution.current).toEqual([400, 400]);
  });

  it('decides per feature threshold and reports the maximum', () => {
    const r = window({ featureThresholds: { x: 0.25 } });
    expect(r).toMatchObject({ samples: 1250, sufficient: true, drifted: true, driftedFeatures: ['c'] });
    expect(r.maxDrift).toBeCloseTo(1.5640491, 6);
    expect(feature(r, 'x')).toMatchObject({ threshold: 0.25, drifted: false });
    const calm = window({ threshold: 2 });
    expect(calm).toMatchObject({ drifted: false, driftedFeatures: [], threshold: 2 });
  });

  it('psi() and robustKs() on their own', () => {
    expect(psi([0.5, 0.5], [0.5, 0.5])).toBe(0);
    // (0.9-0.5)ln(0.9/0.5) + (0.1-0.5)ln(0.1/0.5) = 0.4 * 0.5877867 + 0.4 * 1.6094379 = 0.8788898
    expect(psi([0.5, 0.5], [0.9, 0.1])).toBeCloseTo(0.8788898, 6);
    // A larger epsilon shrinks the empty-bin term: (0.1-0.01)ln(0.1/0.01) = 0.09 * 2.3025851 = 0.2072327
    expect(psi([1, 0], [0.9, 0.1], 0.01)).toBeCloseTo((0.9 - 1) * Math.log(0.9) + 0.2072327, 6);
    expect(robustKs(0.1, 100, 100)).toBe(0); // 1.8 * sqrt(200 / 10000) = 0.2546 > 0.1
    expect(robustKs(0.5, 100, 100)).toBeCloseTo(0.5 - 0.2545584, 6);
  });
});

describe('DriftAccumulator on generated data', () => {
  const schema = parseDatasetSchema({
    name: 'gen',
    target: 'churned',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'age', type: 'number' },
      { name: 'spend', type: 'number' },
      { name: 'calls', type: 'integer' },
      { name: 'plan', type: 'string', constraints: { enum: ['basic', 'plus', 'pro'] } },
      { name: 'partner', type: 'boolean' },
      { name: 'churned', type: 'boolean' },
    ],
  });
  const spec = featureSpec(schema);
  const MIX = [0.6, 0.3, 0.1];

  interface Shift {
    ageShift?: number;
    mix?: number[];
    missingAge?: number;
  }

  function row(rnd: () => number, shift: Shift = {}): number[] {
    const mix = shift.mix ?? MIX;
    const u = rnd();
    const plan = u < mix[0] ? 0 : u < mix[0] + mix[1] ? 1 : 2;
    const age =
      rnd() < (shift.missingAge ?? 0) ? Number.NaN : 40 + 10 * normal(rnd) + (shift.ageShift ?? 0) * 10;
    return [age, Math.exp(3 + normal(rnd)), Math.floor(-Math.log(1 - rnd()) * 2), plan, rnd() < 0.4 ? 1 : 0];
  }

  function buildBaseline(seed: number, withPredictions = false): Baseline {
    const rnd = mulberry32(seed);
    const b = new BaselineBuilder(spec);
    for (let i = 0; i < 20000; i++) {
      b.add(row(rnd), rnd() < 0.25 ? 1 : 0);
      if (withPredictions) b.addPrediction(rnd() * 0.5);
    }
    return b.finish();
  }

  const baseline = buildBaseline(1000);

  function check(seed: number, n: number, shift: Shift = {}, options = {}): DriftReport {
    const rnd = mulberry32(seed);
    const d = new DriftAccumulator(baseline, spec, options);
    for (let i = 0; i < n; i++) d.addRow(row(rnd, shift));
    return d.report();
  }

  it.each([1, 2, 3, 4, 5])(
    'finds no drift in a fresh sample from the same distribution (seed %i)',
    (seed) => {
      for (const n of [500, 2000]) {
        const r = check(seed, n);
        expect(r.sufficient).toBe(true);
        expect(r.drifted).toBe(false);
        // Sampling noise alone: PSI near (bins - 1) / n, far below the threshold.
        expect(r.maxDrift).toBeLessThan(0.08);
        for (const f of r.features) expect(f.psi).not.toBeNull();
      }
    },
  );

  it('detects a shifted numeric feature, and only that one', () => {
    const r = check(7, 2000, { ageShift: 1 });
    expect(r.drifted).toBe(true);
    expect(r.driftedFeatures).toEqual(['age']);
    expect(feature(r, 'age').psi).toBeGreaterThan(0.5);
    expect(feature(r, 'age').ks).toBeGreaterThan(0.2);
    expect(r.maxDrift).toBe(feature(r, 'age').psi);
  });

  it('detects a shifted category mix', () => {
    // Expected PSI = (0.2-0.6)ln(0.2/0.6) + 0 + (0.5-0.1)ln(0.5/0.1) = 0.439 + 0.644 = 1.08
    const r = check(8, 2000, { mix: [0.2, 0.3, 0.5] });
    expect(r.driftedFeatures).toEqual(['plan']);
    expect(feature(r, 'plan').psi).toBeGreaterThan(0.9);
    expect(feature(r, 'plan').psi).toBeLessThan(1.3);
  });

  it('reports insufficient data below minSamples and marks nothing drifted', () => {
    const r = check(9, 499, { ageShift: 2 });
    expect(r).toMatchObject({
      samples: 499,
      minSamples: 500,
      sufficient: false,
      drifted: false,
      driftedFeatures: [],
    });
    // The statistics are still shown; the decision is withheld.
    expect(feature(r, 'age').psi).toBeGreaterThan(0.2);
    expect(check(9, 500, { ageShift: 2 }).drifted).toBe(true);
    expect(check(9, 99, { ageShift: 2 }, { minSamples: 100 }).sufficient).toBe(false);
  });

  it('excludes missing values from PSI, reports the missing rate, and needs enough values per feature', () => {
    const r = check(10, 2000, { missingAge: 0.3 });
    const age = feature(r, 'age');
    expect(age.missingRate).toBeGreaterThan(0.25);
    expect(age.missingRate).toBeLessThan(0.35);
    expect(age.baselineMissingRate).toBe(0);
    expect(age.drifted).toBe(false);
    // 98% missing and shifted: 10 or so values cannot support a decision.
    const sparse = check(11, 600, { missingAge: 0.98, ageShift: 3 });
    expect(feature(sparse, 'age').psi).toBeGreaterThan(0.2);
    expect(feature(sparse, 'age').drifted).toBe(false);
    expect(
      feature(check(11, 600, { missingAge: 0.98, ageShift: 3 }, { minFeatureSamples: 5 }), 'age').drifted,
    ).toBe(true);
  });

  it('compares outputs with the target when the baseline has no predictions', () => {
    const rnd = mulberry32(12);
    const calm = new DriftAccumulator(baseline, spec);
    const drifting = new DriftAccumulator(baseline, spec);
    for (let i = 0; i < 2000; i++) {
      calm.addPrediction(rnd() < 0.25 ? 0.5 + rnd() * 0.5 : rnd() * 0.49);
      drifting.addPrediction(rnd() < 0.7 ? 0.5 + rnd() * 0.5 : rnd() * 0.49);
    }
    expect(calm.report().predictions).toMatchObject({ samples: 2000, reference: 'target', drifted: false });
    expect(drifting.report().predictions).toMatchObject({ reference: 'target', drifted: true });
    expect(calm.report().drifted).toBe(false);
  });

  it("compares outputs with the baseline's predictions when it has them", () => {
    const withPredictions = buildBaseline(1000, true);
    const rnd = mulberry32(13);
    const same = new DriftAccumulator(withPredictions, spec);
    const shifted = new DriftAccumulator(withPredictions, spec);
    for (let i = 0; i < 2000; i++) {
      same.addPrediction(rnd() * 0.5);
      shifted.addPrediction(0.25 + rnd() * 0.5);
    }
    expect(same.report().predictions).toMatchObject({ reference: 'predictions', drifted: false });
    expect(shifted.report().predictions).toMatchObject({ reference: 'predictions', drifted: true });
    expect(new DriftAccumulator(withPredictions, spec).report().predictions).toBeUndefined();
  });

  it('reads a capture file into the same report as the rows themselves', () => {
    const rnd = mulberry32(14);
    const rows = Array.from({ length: 800 }, () => row(rnd, { ageShift: 0.5 }));
    const direct = new DriftAccumulator(baseline, spec);
    rows.forEach((r) => direct.addRow(r));
    const lines = [];
    for (let i = 0; i < rows.length; i += 4) {
      const data = rows
        .slice(i, i + 4)
        .map((r) => r.map((v) => (Number.isNaN(v) ? '' : String(v))).join(','))
        .join('\n');
      lines.push(
        JSON.stringify({
          captureData: {
            endpointInput: {
              observedContentType: 'text/csv',
              mode: 'INPUT',
              data: `${data}\n`,
              encoding: 'CSV',
            },
          },
          eventMetadata: { eventId: `e${i}`, inferenceTime: '2026-01-01T12:00:00Z' },
          eventVersion: '0',
        }),
      );
    }
    const viaCapture = new DriftAccumulator(baseline, spec);
    const parser = new CaptureParser(spec, viaCapture);
    parser.push(Buffer.from(lines.join('\n')));
    expect(parser.end()).toMatchObject({ records: 200, rows: 800, malformedLines: 0 });
    expect(viaCapture.report()).toEqual(direct.report());
  });

  it('rejects a baseline that does not match the spec, and unknown threshold names', () => {
    const other = { ...spec, features: spec.features.slice(1) };
    expect(() => new DriftAccumulator(baseline, other)).toThrow('do not match the feature spec');
    expect(() => new DriftAccumulator(baseline, spec, { featureThresholds: { nope: 1 } })).toThrow('nope');
  });
});
