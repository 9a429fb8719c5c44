import fc from 'fast-check';
import { BOOL_SPELLINGS, featureSpec, type FeatureSpec } from '../../lambdas/core/encoding';
import {
  checkRecords,
  decodePredictions,
  encodeRecords,
  predictResponseJson,
  InferenceError,
  ModelOutputError,
  RecordValidator,
  validationSchema,
  type InputRecord,
  type Prediction,
  type RecordError,
} from '../../lambdas/core/inference';
import { parseDatasetSchema, type DatasetSchema, type FieldSchema } from '../../lambdas/core/schema';
import { FileValidator } from '../../lambdas/core/validate';
import { readProjectConfig } from '../../lib/config';
import { TEST_SEED } from './run';

/**
 * The inference core's one-pass paths (RecordValidator.check and checkAndEncode, encodeRecords, checkRecords,
 * decodePredictions) against references written the plain way: each record rendered as a CSV row and
 * validated by a fresh FileValidator, each feature encoded by the rule of DESIGN.md section 4, the request
 * and the model's answer read with Object.entries and split. Same errors, same bytes, same predictions.
 */

// ---------------------------------------------------------------------------------------------------------
// References

const SHOWN_CHARS = 60;

function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function referenceCheck(
  schema: DatasetSchema,
  records: readonly InputRecord[],
  unknownFields: 'reject' | 'ignore',
): RecordError[] {
  const names = schema.fields.map((f) => f.name);
  if (unknownFields === 'reject')
    records.forEach((r, i) => {
      for (const k of Object.keys(r))
        if (!names.includes(k)) {
          const name = k.length > SHOWN_CHARS ? `${k.slice(0, SHOWN_CHARS)}...` : k;
          throw new InferenceError(
            'invalid-request',
            `records[${i}] has an unknown field ${JSON.stringify(name)}; the fields are ${names.join(', ')}`,
          );
        }
    });
  const missing = schema.missingValues[0] ?? '';
  const rows = records
    .map(
      (r) =>
        names
          .map((n) => {
            const v = r[n];
            return csvCell(v === null || v === undefined ? missing : String(v));
          })
          .join(',') + '\n',
    )
    .join('');
  const validator = new FileValidator(
    schema,
    {
      maxInvalidRowFraction: 1,
      maxLineBytes: 1024 * 1024,
      maxReportedErrors: records.length * (names.length + 1),
    },
    { valid: () => undefined, invalid: () => undefined },
  );
  const encoder = new TextEncoder();
  validator.push(encoder.encode(`${names.map(csvCell).join(',')}\n`));
  validator.push(encoder.encode(rows));
  return validator
    .end()
    .errors.filter((e) => e.row >= 2)
    .map((e) => ({ record: e.row - 2, field: e.field, code: e.code, message: e.message }));
}

/** DESIGN.md section 4: numbers as given, booleans 1/0 (strings in any case), enum indices, missing empty. */
function referenceEncode(spec: FeatureSpec, records: readonly InputRecord[]): string {
  const missing = new Set(['', ...spec.missingValues]);
  const bools = new Map(BOOL_SPELLINGS);
  return records
    .map(
      (r) =>
        spec.features
          .map((f) => {
            const v = r[f.name];
            if (v === null || v === undefined) return '';
            const t = typeof v === 'string' && f.type === 'boolean' ? v.toLowerCase() : String(v);
            if (missing.has(t)) return '';
            if (f.type === 'boolean') return bools.has(t) ? String(bools.get(t)) : '';
            if (f.type === 'category') {
              const k = (f.categories ?? []).indexOf(t);
              return k < 0 ? '' : String(k);
            }
            return t;
          })
          .join(',') + '\n',
    )
    .join('');
}

function describe_(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function referenceCheckRecords(records: unknown[], maxBatchSize: number): void {
  if (records.length > maxBatchSize) throw new InferenceError('batch-too-large', 'too many');
  records.forEach((r, i) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r))
      throw new InferenceError(
        'invalid-request',
        `records[${i}] must be an object of field values, got ${describe_(r)}`,
      );
    for (const [k, v] of Object.entries(r as Record<string, unknown>))
      if (v !== null && typeof v === 'object')
        throw new InferenceError(
          'invalid-request',
          `records[${i}].${k} must be a string, number, boolean or null, got ${describe_(v)}`,
        );
  });
}

function referenceDecode(
  spec: FeatureSpec,
  body: string,
  threshold: number,
  expected?: number,
): Prediction[] {
  const parseLine = (line: string): number[] =>
    line.split(',').map((cell) => {
      const t = cell.trim();
      const v = t === '' ? Number.NaN : Number(t);
      if (!Number.isFinite(v)) throw new ModelOutputError(`unreadable model output "${line.slice(0, 80)}"`);
      return v;
    });
  let lines = body.split('\n').filter((l) => l.trim() !== '');
  if (
    spec.problem !== 'multiclass' &&
    expected !== undefined &&
    expected > 1 &&
    lines.length === 1 &&
    lines[0].split(',').length === expected
  )
    lines = lines[0].split(',');
  if (expected !== undefined && lines.length !== expected)
    throw new ModelOutputError(`the model answered ${lines.length} predictions for ${expected} records`);
  const classes = spec.problem === 'regression' ? undefined : spec.target.classes;
  return lines.map((line): Prediction => {
    const values = parseLine(line);
    if (spec.problem === 'regression') {
      if (values.length !== 1) throw new ModelOutputError(`expected one value per line, got "${line}"`);
      return { value: values[0] };
    }
    if (spec.problem === 'binary') {
      if (values.length !== 1) throw new ModelOutputError(`expected one probability per line, got "${line}"`);
      const label = values[0] >= threshold ? 1 : 0;
      return { label: classes?.[label] ?? String(label), probability: values[0] };
    }
    if (classes && values.length !== classes.length)
      throw new ModelOutputError(
        `expected ${classes.length} class probabilities per line, got ${values.length}: "${line.slice(0, 80)}"`,
      );
    const names = classes ?? values.map((_, i) => String(i));
    let best = 0;
    for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
    const probabilities: Record<string, number> = {};
    values.forEach((v, i) => (probabilities[names[i]] = v));
    return { label: names[best], probabilities };
  });
}

/** What a call returned or threw, comparable with toEqual (errors by class, code and message). */
function outcome<T>(f: () => T): { value: T } | { error: string } {
  try {
    return { value: f() };
  } catch (e) {
    const err = e as Error & { code?: string };
    return { error: `${err.name}:${err.code ?? ''}:${err.message}` };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Schemas and records

const churn = readProjectConfig().dataset;

/** A missing value that is a number's text, categories that need quotes or are also a missing value. */
const tricky = parseDatasetSchema({
  name: 'tricky',
  target: 'y',
  fields: [
    { name: 'n', type: 'number', constraints: { minimum: -100, maximum: 1e6 } },
    { name: 'flag', type: 'boolean' },
    { name: 'cat', type: 'string', constraints: { enum: ['a,b', 'q"x', 'plain', '-1', 'TRUE', 'é'] } },
    { name: 'note', type: 'string' },
    { name: 'i_j', type: 'integer', constraints: { required: true } },
    { name: 'y', type: 'string', constraints: { required: true, enum: ['lo', 'hi', 'mid'] } },
  ],
  missingValues: ['-1', 'N/A', ''],
});

/** A field name that would be code if the generated field readers pasted names in unquoted. */
const INJECTED = 'x"]; globalThis.injected = 1; //\'';

/**
 * What parseDatasetSchema refuses but the core must still treat alike: names with a comma, a quote or
 * `__proto__`, `false` missing.
 */
const odd: DatasetSchema = {
  ...tricky,
  fields: [
    ...tricky.fields.map((f) => (f.name === 'i_j' ? { ...f, name: 'i, j' } : f)),
    { name: INJECTED, type: 'string' },
    { name: '__proto__', type: 'string' },
  ],
  missingValues: ['N/A', 'false', '-1'],
};

interface Case {
  readonly schema: DatasetSchema;
  readonly spec: FeatureSpec;
  readonly validator: RecordValidator;
  readonly unknownFields: 'reject' | 'ignore';
}

function makeCase(spec: FeatureSpec, schema: DatasetSchema, unknownFields: 'reject' | 'ignore'): Case {
  return { schema, spec, validator: new RecordValidator(schema, unknownFields), unknownFields };
}

const churnSpec = featureSpec(churn);
const trickySpec = featureSpec(tricky);
const oddSpec = featureSpec(odd);
/** Features in another order than the schema's fields. */
const reversed: FeatureSpec = { ...trickySpec, features: [...trickySpec.features].reverse() };
/** A spec with a feature the validator's schema lacks (read from the record by name). */
const extraSpec: FeatureSpec = {
  ...churnSpec,
  features: [...churnSpec.features, { name: 'extra', type: 'category', categories: ['u', 'v'] }],
};

/** A numeric feature that the schema has as free text: its cells are the records' text, whatever it is. */
const textSpec: FeatureSpec = {
  ...trickySpec,
  features: [...trickySpec.features, { name: 'note', type: 'number' }],
};

// Validators are kept across runs, as the Scorer keeps one per model: batches must not affect each other.
const CASES: readonly Case[] = [
  makeCase(churnSpec, validationSchema(churnSpec, churn), 'reject'),
  makeCase(churnSpec, validationSchema(churnSpec), 'ignore'),
  makeCase(trickySpec, validationSchema(trickySpec, tricky), 'reject'),
  makeCase(reversed, validationSchema(reversed, tricky), 'reject'),
  makeCase(oddSpec, validationSchema(oddSpec, odd), 'reject'),
  makeCase(extraSpec, validationSchema(churnSpec, churn), 'ignore'),
  makeCase(textSpec, validationSchema(textSpec, tricky), 'reject'),
];

const textArb = fc.oneof(
  fc.constantFrom(
    '',
    'NA',
    'N/A',
    '-1',
    'basic',
    'pro',
    'north',
    'plain',
    'a,b',
    'q"x',
    'é',
    'u',
    'true',
    'TRUE',
    'tRuE',
    'False',
    'FALSE',
    '1',
    '0',
    'yes',
    'NaN',
    'Infinity',
    '-Infinity',
    '1e2',
    '0x1f',
    ' 12 ',
    '12.50',
    '-0',
    '2.5',
    '700',
    'x,y',
    'a"b',
    'l\nm',
    'cr\r',
    '\u2028',
    '\ud800',
  ),
  fc.string({ maxLength: 8 }),
  fc.string({ maxLength: 6, unit: 'binary' }),
);

/** Numbers with a few decimals, as records mostly hold them (the encoder writes these digit by digit). */
const shortDecimalArb = fc
  .tuple(fc.integer({ min: -2_000_000_000, max: 2_000_000_000 }), fc.integer({ min: 0, max: 8 }))
  .map(([n, k]) => n / 10 ** k);

const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: textArb, weight: 4 },
  { arbitrary: shortDecimalArb, weight: 2 },
  { arbitrary: fc.integer({ min: -5, max: 700 }), weight: 2 },
  { arbitrary: fc.double(), weight: 2 },
  { arbitrary: fc.double({ min: 0, max: 10_000, noNaN: true }), weight: 2 },
  { arbitrary: fc.constantFrom(null, undefined, true, false, 0, -0, 1, 1e21, 5e-7), weight: 2 },
);

/** A value the field takes (so that whole batches are valid and get encoded), in any of its spellings. */
function validValueArb(f: FieldSchema, missingValues: readonly string[]): fc.Arbitrary<unknown> {
  const c = f.constraints;
  const lo = c?.minimum ?? -1e6;
  const hi = c?.maximum ?? 1e6;
  let value: fc.Arbitrary<unknown>;
  if (c?.enum) value = fc.constantFrom(...c.enum);
  else if (f.type === 'integer') {
    const n = fc.integer({ min: Math.ceil(lo), max: Math.floor(hi) });
    value = fc.oneof(n, n.map(String));
  } else if (f.type === 'number') {
    const n = fc.double({ min: lo, max: hi, noNaN: true });
    const short = shortDecimalArb.filter((x) => x >= lo && x <= hi);
    value = fc.oneof(n, n.map(String), fc.integer({ min: Math.ceil(lo), max: Math.floor(hi) }), short);
  } else if (f.type === 'boolean')
    value = fc.oneof(fc.boolean(), fc.constantFrom('true', 'False', 'TRUE', 'tRuE', '1', '0', 1, 0));
  else value = textArb;
  if (c?.required) return value;
  return fc.oneof(
    { arbitrary: value, weight: 4 },
    { arbitrary: fc.constantFrom(null, undefined, ...missingValues), weight: 1 },
  );
}

function recordArb(c: Case): fc.Arbitrary<InputRecord> {
  const fields = new Map(c.schema.fields.map((f) => [f.name, f] as const));
  const names = [...new Set([...fields.keys(), ...c.spec.features.map((f) => f.name)])];
  const known = fc.record(
    Object.fromEntries(
      names.map((n) => {
        const f = fields.get(n);
        if (!f) return [n, fc.oneof(fc.constantFrom('u', 'v'), valueArb)];
        const valid = validValueArb(f, c.schema.missingValues);
        return [n, fc.oneof({ arbitrary: valid, weight: 12 }, { arbitrary: valueArb, weight: 1 })];
      }),
    ),
    { requiredKeys: [] },
  ) as fc.Arbitrary<Record<string, unknown>>;
  // Now and then an unknown field: at the start, at the end, or inherited (which Object.keys leaves out).
  return fc
    .tuple(
      known,
      fc.option(fc.constantFrom('Plan', 'note2', 'x'.repeat(70)), { freq: 6 }),
      fc.constantFrom('first', 'last', 'inherited'),
    )
    .map(([r, extra, where]) => {
      if (extra === null) return r as InputRecord;
      if (where === 'inherited')
        return Object.assign(Object.create({ [extra]: 1 }) as object, r) as InputRecord;
      return (where === 'first' ? { [extra]: 1, ...r } : { ...r, [extra]: 1 }) as InputRecord;
    });
}

const batchArb = fc.nat({ max: CASES.length - 1 }).chain((k) =>
  fc.tuple(
    fc.constant(CASES[k]),
    fc.oneof(
      fc.array(recordArb(CASES[k]), { minLength: 1, maxLength: 6 }),
      // A batch of one record repeated with small changes: the common shape of a request.
      fc
        .tuple(recordArb(CASES[k]), fc.nat({ max: 30 }))
        .map(([r, n]) => Array.from({ length: n + 1 }, () => r)),
    ),
  ),
);

// ---------------------------------------------------------------------------------------------------------

describe('inference codec: fast paths equal the references', () => {
  it('check, checkAndEncode and encodeRecords', () => {
    let validBatches = 0;
    fc.assert(
      fc.property(batchArb, ([c, records]) => {
        const expected = outcome(() => referenceCheck(c.schema, records, c.unknownFields));
        expect(outcome(() => c.validator.check(records))).toEqual(expected);
        const encoded = outcome(() => referenceEncode(c.spec, records));
        expect(outcome(() => encodeRecords(c.spec, records))).toEqual(encoded);
        const both = outcome(() => c.validator.checkAndEncode(records, c.spec));
        if ('value' in expected && expected.value.length === 0) validBatches++;
        if ('error' in expected) expect(both).toEqual(expected);
        else {
          const errors = expected.value;
          const input = errors.length > 0 ? '' : (encoded as { value: string }).value;
          expect(both).toEqual({ value: { errors, input } });
        }
      }),
      { seed: TEST_SEED, numRuns: 1500 },
    );
    // Enough whole batches pass validation for their model input to be compared.
    expect(validBatches).toBeGreaterThan(200);
    expect((globalThis as { injected?: unknown }).injected).toBeUndefined();
  });

  it('checkRecords', () => {
    const proto = { inherited: { an: 'object' } };
    const oddRecord = fc.oneof(
      valueArb,
      fc.constant([]),
      fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(valueArb, fc.constant({}), fc.constant([1])), {
        maxKeys: 4,
      }),
      fc
        .dictionary(fc.string({ maxLength: 3 }), valueArb, { maxKeys: 3 })
        .map((d) => Object.assign(Object.create(proto) as object, d)),
      fc.constant({ 2: 'x', 1: {} }),
    );
    const batch = fc.oneof(
      fc.array(oddRecord, { minLength: 1, maxLength: 5 }),
      // A hole, which forEach skips.
      fc.array(oddRecord, { minLength: 1, maxLength: 3 }).map((a) => {
        const sparse = [...a];
        sparse.length += 2;
        sparse[sparse.length - 1] = { ok: 1 };
        return sparse;
      }),
    );
    fc.assert(
      fc.property(batch, (records) => {
        const expected = outcome(() => referenceCheckRecords(records, 100));
        const got = outcome(() => {
          checkRecords(records, 100);
        });
        expect(got).toEqual(expected);
      }),
      { seed: TEST_SEED, numRuns: 1500 },
    );
  });

  it('decodePredictions, and predictResponseJson against JSON.stringify of its predictions', () => {
    const specs = [
      churnSpec,
      featureSpec(
        parseDatasetSchema({
          name: 'r',
          target: 'p',
          fields: [
            { name: 'p', type: 'number' },
            { name: 'a', type: 'integer' },
          ],
        }),
      ),
      trickySpec,
    ];
    const number = fc.oneof(
      fc.double({ min: 0, max: 1, noNaN: true }).map(String),
      fc.constantFrom(
        '0.5',
        '1',
        '0',
        '-0',
        '+0.25',
        '.5',
        '5.',
        '1e-3',
        '0x1f',
        'NaN',
        'Infinity',
        '',
        ' 0.5',
        '0.5 ',
        '0.5\r',
        '-',
        'abc',
        // JSON's number grammar against Number's: written as they are, or printed again.
        '1e-05',
        '1E+2',
        '0.50',
        '-0.0',
        '-0.75',
        '00.5',
        '1.e5',
        '0.30000000000000001',
      ),
    );
    const line = fc.oneof(
      { arbitrary: number, weight: 6 },
      { arbitrary: fc.array(number, { minLength: 2, maxLength: 3 }).map((a) => a.join(',')), weight: 1 },
      { arbitrary: fc.constantFrom(' ', '\r', '\t0.5'), weight: 1 },
    );
    const body = fc
      .tuple(fc.array(line, { maxLength: 6 }), fc.constantFrom('\n', '', '\n\n'))
      .map(([lines, end]) => lines.join('\n') + end);
    fc.assert(
      fc.property(
        fc.constantFrom(...specs),
        body,
        // Thresholds the fixed numbers hit exactly: a score at the threshold takes the positive label.
        fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0.5, 0.25, 0.75)),
        fc.option(fc.nat({ max: 6 }), { nil: undefined }),
        fc.constantFrom(
          { modelVersion: '3', modelPackageArn: 'arn:aws:sagemaker:eu-west-1:1:model-package/g/3' },
          { modelVersion: '"\\', modelPackageArn: '\u2028é' },
        ),
        (spec, text, threshold, expected, head) => {
          const decoded = outcome(() => decodePredictions(spec, text, threshold, expected));
          expect(decoded).toEqual(outcome(() => referenceDecode(spec, text, threshold, expected)));
          // The same JSON value (same doubles, zero's sign too) with its keys in the same order, or the same error.
          const fast = outcome(
            () => JSON.parse(predictResponseJson(head, spec, text, threshold, expected)) as unknown,
          );
          const slow = outcome(() =>
            JSON.parse(
              JSON.stringify({ ...head, predictions: decodePredictions(spec, text, threshold, expected) }),
            ),
          );
          expect(fast).toEqual(slow);
          expect(JSON.stringify(fast)).toBe(JSON.stringify(slow));
        },
      ),
      { seed: TEST_SEED, numRuns: 2000 },
    );
  });

  it('predictResponseJson labels a score at the threshold, or a double either side of it, as decodePredictions does', () => {
    // The next double up or down: scores whose approximate value is a double off are decided by their exact one.
    const neighbour = (v: number, step: number): number => {
      const bits = new BigInt64Array(new Float64Array([v]).buffer);
      bits[0] += BigInt(v === 0 && step < 0 ? 0 : step);
      return new Float64Array(bits.buffer)[0];
    };
    const head = { modelVersion: '3', modelPackageArn: 'arn:aws:sagemaker:eu-west-1:1:model-package/g/3' };
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 5 }),
        fc.nat(),
        fc.constantFrom(-1, 0, 1),
        (scores, pick, step) => {
          const threshold = neighbour(scores[pick % scores.length], step);
          const text = `${scores.map(String).join('\n')}\n`;
          expect(predictResponseJson(head, churnSpec, text, threshold)).toBe(
            JSON.stringify({ ...head, predictions: decodePredictions(churnSpec, text, threshold) }),
          );
        },
      ),
      { seed: TEST_SEED, numRuns: 3000 },
    );
  });
});
