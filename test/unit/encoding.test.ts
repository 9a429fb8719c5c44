import {
  decodeFeatureRow,
  encodeFeatures,
  encodeLabel,
  FeatureDecoder,
  featureSpec,
  parseNumber,
  RowEncoder,
  type FeatureSpec,
} from '../../lambdas/core/encoding';
import { parseDatasetSchema, type DatasetSchema } from '../../lambdas/core/schema';
import { readProjectConfig } from '../../lib/config';

const churn: DatasetSchema = readProjectConfig().dataset;
const header = churn.fields.map((f) => f.name);

/** A three-class enum target and a free-text column that is not a feature. */
const tickets = parseDatasetSchema({
  name: 'tickets',
  target: 'priority',
  fields: [
    { name: 'opened', type: 'string' },
    { name: 'words', type: 'integer' },
    { name: 'channel', type: 'string', constraints: { enum: ['mail', 'phone', 'chat'] } },
    { name: 'vip', type: 'boolean' },
    { name: 'priority', type: 'string', constraints: { enum: ['low', 'mid', 'high'] } },
  ],
});

const houses = parseDatasetSchema({
  name: 'houses',
  target: 'price',
  fields: [
    { name: 'rooms', type: 'integer' },
    { name: 'price', type: 'number' },
  ],
});

/** A seeded PRNG (mulberry32), so property tests are reproducible. */
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

describe('featureSpec', () => {
  it('lists features in schema order without the target and free text', () => {
    const spec = featureSpec(churn);
    expect(spec).toEqual({
      version: 1,
      dataset: 'churn',
      problem: 'binary',
      target: { name: 'churned', type: 'boolean', classes: ['false', 'true'] },
      features: [
        { name: 'tenure_months', type: 'integer' },
        { name: 'plan', type: 'category', categories: ['basic', 'plus', 'pro'] },
        { name: 'monthly_charges', type: 'number' },
        { name: 'total_charges', type: 'number' },
        { name: 'support_calls', type: 'integer' },
        { name: 'region', type: 'category', categories: ['north', 'south', 'east', 'west'] },
        { name: 'has_partner', type: 'boolean' },
        { name: 'avg_session_minutes', type: 'number' },
      ],
      missingValues: ['', 'NA'],
    });
    // It is written as feature-spec.json: it must survive a JSON round trip unchanged.
    expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
  });

  it('infers multiclass with enum classes and regression without classes', () => {
    const t = featureSpec(tickets);
    expect(t.problem).toBe('multiclass');
    expect(t.target.classes).toEqual(['low', 'mid', 'high']);
    expect(t.features.map((f) => f.name)).toEqual(['words', 'channel', 'vip']);
    const h = featureSpec(houses);
    expect(h.problem).toBe('regression');
    expect(h.target.classes).toBeUndefined();
  });
});

describe('encodeFeatures', () => {
  const spec = featureSpec(churn);

  it('keeps numbers as given, booleans 1/0, enums by index', () => {
    expect(encodeFeatures(spec, ['12', 'plus', '49.50', '594', '1', 'west', 'true', '31.2'])).toBe(
      '12,1,49.50,594,1,3,1,31.2',
    );
    expect(encodeFeatures(spec, ['0', 'basic', '0', '1e3', '0', 'north', 'false', '0.5'])).toBe(
      '0,0,0,1e3,0,0,0,0.5',
    );
  });

  it('turns missing values (empty, NA, absent) into empty cells', () => {
    expect(encodeFeatures(spec, ['12', '', 'NA', undefined, '1', 'north', '', '3'])).toBe('12,,,,1,0,,3');
    expect(encodeFeatures(spec, [])).toBe(',,,,,,,');
  });

  it('encodes a value it cannot map as missing rather than failing', () => {
    expect(encodeFeatures(spec, ['1', 'gold', '2', '3', '4', 'up', 'maybe', '5'])).toBe('1,,2,3,4,,,5');
  });
});

describe('encodeLabel', () => {
  it('encodes per problem type', () => {
    const churnSpec = featureSpec(churn);
    expect(encodeLabel(churnSpec, 'true')).toBe(1);
    expect(encodeLabel(churnSpec, 'false')).toBe(0);
    expect(encodeLabel(churnSpec, '')).toBeNaN();
    const t = featureSpec(tickets);
    expect(['low', 'mid', 'high', 'urgent'].map((v) => encodeLabel(t, v))).toEqual([0, 1, 2, Number.NaN]);
    const h = featureSpec(houses);
    expect(encodeLabel(h, '250000.5')).toBe(250000.5);
    expect(encodeLabel(h, 'NaN')).toBeNaN();
  });

  it('takes numeric class labels as given when they are non-negative integers', () => {
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
    expect(['0', '2', '-1', '1.5'].map((v) => encodeLabel(s, v))).toEqual([0, 2, Number.NaN, Number.NaN]);
  });
});

describe('RowEncoder', () => {
  const spec = featureSpec(churn);

  it('writes the XGBoost training line (label first) and the numeric form together', () => {
    const enc = new RowEncoder(spec, header);
    const line = enc.encode(['c-1', '12', 'pro', '49.5', '', '1', 'south', 'false', '31.2', 'true']);
    expect(line).toBe('1,12,2,49.5,,1,1,0,31.2');
    expect(Array.from(enc.features)).toEqual([12, 2, 49.5, Number.NaN, 1, 1, 0, 31.2]);
    expect(enc.label).toBe(1);
  });

  it('maps columns by header name, not position', () => {
    const shuffled = [...header].reverse();
    const enc = new RowEncoder(spec, shuffled);
    const cells = ['c-1', '12', 'pro', '49.5', '600', '1', 'south', 'false', '31.2', 'false'].reverse();
    expect(enc.encode(cells)).toBe('0,12,2,49.5,600,1,1,0,31.2');
  });

  it('returns undefined for a row without a label', () => {
    const enc = new RowEncoder(spec, header);
    expect(enc.encode(['c', '1', 'pro', '1', '1', '1', 'south', 'false', '1', 'NA'])).toBeUndefined();
    expect(enc.label).toBeNaN();
  });

  it('rejects a header that lacks a feature or the target', () => {
    expect(
      () =>
        new RowEncoder(
          spec,
          header.filter((h) => h !== 'plan' && h !== 'churned'),
        ),
    ).toThrow('curated header lacks column(s): plan, churned');
  });
});

describe('decodeFeatureRow', () => {
  const spec = featureSpec(churn);

  it('round-trips encodeFeatures to the numeric form', () => {
    const values = ['12', 'plus', '49.5', '', '1', 'west', 'true', '31.2'];
    expect(Array.from(decodeFeatureRow(spec, encodeFeatures(spec, values))!)).toEqual([
      12,
      1,
      49.5,
      Number.NaN,
      1,
      3,
      1,
      31.2,
    ]);
  });

  it('returns null for the wrong number of cells', () => {
    expect(decodeFeatureRow(spec, '1,2,3')).toBeNull();
    expect(decodeFeatureRow(spec, '1,1,1,1,1,1,1,1,1')).toBeNull();
    expect(decodeFeatureRow(spec, '1,1,1,1,1,1,1,1\n')).not.toBeNull();
  });

  it('puts unknown categories in the unseen bucket and accepts names, spaces and quotes', () => {
    // plan has 3 categories (unseen = 3), region 4 (unseen = 4), has_partner 2 (unseen = 2).
    const row = decodeFeatureRow(spec, ' 7 ,"pro",1.5,2,3,9,1,4')!;
    expect(Array.from(row)).toEqual([7, 2, 1.5, 2, 3, 4, 1, 4]);
    expect(Array.from(decodeFeatureRow(spec, '1,7,1,1,1,-1,true,1')!)).toEqual([1, 3, 1, 1, 1, 4, 1, 1]);
    expect(Array.from(decodeFeatureRow(spec, '1,1.5,1,1,1,gold,5,1')!)).toEqual([1, 3, 1, 1, 1, 4, 2, 1]);
  });

  it('counts text in a numeric column as an invalid (missing) value', () => {
    const d = new FeatureDecoder(spec);
    const out = new Float64Array(8);
    const s = 'abc,1,0x10,1,1,1,1,Infinity';
    expect(d.decode(s, 0, s.length, out)).toBe(true);
    expect(out[0]).toBeNaN();
    expect(out[2]).toBeNaN();
    expect(out[7]).toBeNaN();
    expect(d.invalidValues).toBe(3);
  });

  it('decodes JSON values by feature', () => {
    const d = new FeatureDecoder(spec);
    const out = new Float64Array(8);
    expect(d.decodeValues([3, 'pro', 2.5, null, 0, 'east', true, '4.5'], out)).toBe(true);
    expect(Array.from(out)).toEqual([3, 2, 2.5, Number.NaN, 0, 2, 1, 4.5]);
    expect(d.decodeValues([1, 2], out)).toBe(false);
  });
});

describe('parseNumber', () => {
  it('agrees with Number() on random decimals, and rejects what a CSV number is not', () => {
    const rnd = mulberry32(42);
    for (let i = 0; i < 20000; i++) {
      const digits = Math.floor(rnd() * 8);
      const v = (rnd() - 0.5) * 10 ** Math.floor(rnd() * 12);
      const text = i % 7 === 0 ? v.toExponential(digits) : i % 11 === 0 ? String(v) : v.toFixed(digits);
      expect(parseNumber(text, 0, text.length)).toBe(Number(text));
    }
    for (const bad of ['', '-', '.', '1.2.3', 'abc', '0x1f', 'Infinity', '1e999', '--1'])
      expect(parseNumber(bad, 0, bad.length)).toBeNaN();
    expect(parseNumber('+7', 0, 2)).toBe(7);
    expect(parseNumber('x12.5y', 1, 5)).toBe(12.5);
    expect(parseNumber('12345678901234567890', 0, 20)).toBe(12345678901234567890);
  });
});

describe('spec typing', () => {
  it('is a plain serialisable object', () => {
    const spec: FeatureSpec = featureSpec(tickets);
    expect(Object.keys(spec).sort()).toEqual([
      'dataset',
      'features',
      'missingValues',
      'problem',
      'target',
      'version',
    ]);
  });
});
