import fc from 'fast-check';
import { featureSpec, type FeatureSpec } from '../../lambdas/core/encoding';
import {
  approximateDecimal,
  buildCaptureRecord,
  captureLine,
  decodePredictions,
  encodeRecords,
  InferenceError,
  ModelOutputError,
  modelVersion,
  parsePredictRequest,
  predictionScore,
  RecordValidator,
  validationSchema,
  type InputRecord,
} from '../../lambdas/core/inference';
import { parseDatasetSchema } from '../../lambdas/core/schema';
import { FileValidator } from '../../lambdas/core/validate';
import { readProjectConfig } from '../../lib/config';
import { TEST_SEED } from '../fuzz/run';

/** The inference core: request parsing, validation through FileValidator, encoding, decoding, capture records. */

const churn = readProjectConfig().dataset;
const churnSpec = featureSpec(churn);

const multiSchema = parseDatasetSchema({
  name: 'iris',
  target: 'species',
  fields: [
    { name: 'petal', type: 'number', constraints: { required: true, minimum: 0 } },
    { name: 'colour', type: 'string', constraints: { enum: ['red', 'blue'] } },
    { name: 'note', type: 'string' },
    {
      name: 'species',
      type: 'string',
      constraints: { required: true, enum: ['setosa', 'versicolor', 'virginica'] },
    },
  ],
});
const multiSpec = featureSpec(multiSchema);

const regressionSpec = featureSpec(
  parseDatasetSchema({
    name: 'prices',
    target: 'price',
    fields: [
      { name: 'rooms', type: 'integer' },
      { name: 'price', type: 'number' },
    ],
  }),
);

/** A binary problem with a numeric 0/1 target: no class names in the spec. */
const numericBinarySpec = featureSpec(
  parseDatasetSchema({
    name: 'clicks',
    target: 'clicked',
    problem: 'binary',
    fields: [
      { name: 'age', type: 'integer' },
      { name: 'clicked', type: 'integer' },
    ],
  }),
);

const record = (overrides: Record<string, unknown> = {}): InputRecord =>
  ({
    customer_id: 'c-1',
    tenure_months: 12,
    plan: 'basic',
    monthly_charges: 70.5,
    total_charges: 846,
    support_calls: 4,
    region: 'north',
    has_partner: true,
    avg_session_minutes: 12.5,
    ...overrides,
  }) as InputRecord;

describe('parsePredictRequest', () => {
  it('returns the records of a well-formed body, base64 or not', () => {
    const body = JSON.stringify({ records: [{ a: 1, b: 'x', c: true, d: null }] });
    expect(parsePredictRequest(body, false, 10)).toEqual([{ a: 1, b: 'x', c: true, d: null }]);
    expect(parsePredictRequest(Buffer.from(body).toString('base64'), true, 10)).toEqual([
      { a: 1, b: 'x', c: true, d: null },
    ]);
  });

  it.each([
    [null, 'invalid-request', 'no body'],
    ['[1]', 'invalid-request', 'must be a JSON object {"records": [...]}, got an array'],
    ['"x"', 'invalid-request', 'got a string'],
    ['{"records": {}}', 'invalid-request', '"records" must be an array of records, got an object'],
    ['{"records": [null]}', 'invalid-request', 'records[0] must be an object of field values, got null'],
    [
      '{"records": [{"a": {"b": 1}}]}',
      'invalid-request',
      'records[0].a must be a string, number, boolean or null',
    ],
    ['{"records": [{}, {}, {}]}', 'batch-too-large', '3 records in one request; at most 2 are allowed'],
  ])('%s -> %s', (body, code, message) => {
    let error: unknown;
    try {
      parsePredictRequest(body, false, 2);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InferenceError);
    expect((error as InferenceError).code).toBe(code);
    expect((error as InferenceError).status).toBe(400);
    expect((error as InferenceError).message).toContain(message);
  });
});

describe('InferenceError', () => {
  it('maps each code to its status; the body carries errors only when given', () => {
    expect(
      (
        [
          'invalid-request',
          'batch-too-large',
          'invalid-records',
          'no-model',
          'throttled',
          'model-error',
          'internal',
        ] as const
      ).map((c) => new InferenceError(c, 'm').status),
    ).toEqual([400, 400, 400, 503, 429, 502, 500]);
    expect(new InferenceError('no-model', 'none').body()).toEqual({ code: 'no-model', message: 'none' });
    const errors = [{ record: 0, field: 'a', code: 'enum', message: 'x' }];
    expect(new InferenceError('invalid-records', 'bad', errors).body()).toEqual({
      code: 'invalid-records',
      message: 'bad',
      errors,
    });
  });
});

describe('validationSchema', () => {
  it('keeps the schema, makes the target optional and takes missing values from the spec', () => {
    const v = validationSchema(churnSpec, churn);
    expect(v.fields.map((f) => f.name)).toEqual(churn.fields.map((f) => f.name));
    expect(v.fields.find((f) => f.name === 'churned')!.constraints?.required).toBe(false);
    expect(v.fields.find((f) => f.name === 'tenure_months')).toEqual(
      churn.fields.find((f) => f.name === 'tenure_months'),
    );
    expect(v.missingValues).toEqual(['', 'NA']);
  });

  it("takes a categorical feature's enum from the deployed spec and adds features the schema lacks", () => {
    const spec: FeatureSpec = {
      ...churnSpec,
      features: [
        ...churnSpec.features.map((f) =>
          f.name === 'plan' ? { ...f, categories: ['basic', 'plus', 'pro', 'enterprise'] } : f,
        ),
        { name: 'seats', type: 'integer' },
      ],
      missingValues: [''],
    };
    const v = validationSchema(spec, churn);
    expect(v.fields.find((f) => f.name === 'plan')).toEqual({
      name: 'plan',
      type: 'string',
      constraints: { required: true, enum: ['basic', 'plus', 'pro', 'enterprise'] },
    });
    expect(v.fields.at(-1)).toEqual({ name: 'seats', type: 'integer' });
    expect(v.missingValues).toEqual(['']);
  });

  it('from the feature spec alone: its features and the target, no ranges', () => {
    const v = validationSchema(multiSpec);
    expect(v.fields).toEqual([
      { name: 'petal', type: 'number' },
      { name: 'colour', type: 'string', constraints: { enum: ['red', 'blue'] } },
      { name: 'species', type: 'string', constraints: { enum: ['setosa', 'versicolor', 'virginica'] } },
    ]);
    expect(v.target).toBe('species');
  });
});

describe('RecordValidator', () => {
  const validator = () => new RecordValidator(validationSchema(churnSpec, churn));

  it('valid records: no errors (absent, null and "NA" are missing; booleans any case; numbers as text)', () => {
    expect(
      validator().check([
        record(),
        record({ total_charges: null, region: 'NA', support_calls: undefined }),
        record({ has_partner: 'TRUE', tenure_months: '7', monthly_charges: '1e2' }),
        record({ churned: true }),
      ]),
    ).toEqual([]);
  });

  it('maps the data lake errors to records and fields, in record order', () => {
    const errors = validator().check([
      record(),
      record({ tenure_months: 2.5, support_calls: -1 }),
      record(),
      record({ plan: 'Basic', has_partner: 'yes', monthly_charges: null }),
    ]);
    expect(errors).toEqual([
      { record: 1, field: 'tenure_months', code: 'type', message: '"2.5" is not an integer' },
      { record: 1, field: 'support_calls', code: 'minimum', message: '-1 is below the minimum 0' },
      { record: 3, field: 'plan', code: 'enum', message: '"Basic" is not one of basic, plus, pro' },
      { record: 3, field: 'monthly_charges', code: 'required', message: expect.any(String) },
      {
        record: 3,
        field: 'has_partner',
        code: 'type',
        message: '"yes" is not a boolean (true, false, 1 or 0, any case)',
      },
    ]);
  });

  it('an unknown field name is an invalid request', () => {
    expect(() => validator().check([record(), record({ Plan: 'basic' })])).toThrow(
      'records[1] has an unknown field "Plan"; the fields are customer_id, tenure_months, plan',
    );
  });

  it('with only the feature spec, fields it does not name are ignored rather than refused', () => {
    const specOnly = new RecordValidator(validationSchema(churnSpec), 'ignore');
    expect(specOnly.check([record({ note: 'free text' })])).toEqual([]);
    expect(specOnly.check([record({ plan: 'gold', tenure_months: 601 })])).toEqual([
      { record: 0, field: 'plan', code: 'enum', message: '"gold" is not one of basic, plus, pro' },
    ]);
  });

  it('a record too long for one line is a line-too-long error, and the next batches are unaffected', () => {
    const v = validator();
    const errors = v.check([record(), record({ customer_id: 'x'.repeat(1024 * 1024 + 1) })]);
    expect(errors).toEqual([{ record: 1, field: null, code: 'line-too-long', message: expect.any(String) }]);
    expect(v.check([record()])).toEqual([]);
    expect(v.check([record({ plan: 'gold' })]).map((e) => e.code)).toEqual(['enum']);
  });

  it('property: a shared validator over many batches finds exactly what a fresh FileValidator finds', () => {
    const schema = validationSchema(churnSpec, churn);
    const fresh = (records: InputRecord[]) => {
      const rows = records.map((r) =>
        schema.fields
          .map((f) => {
            const v = r[f.name];
            const t = v === null || v === undefined ? '' : String(v);
            return /[",\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
          })
          .join(','),
      );
      const fv = new FileValidator(
        schema,
        { maxInvalidRowFraction: 1, maxLineBytes: 1 << 20, maxReportedErrors: 10_000 },
        { valid: () => undefined, invalid: () => undefined },
      );
      fv.push(
        new TextEncoder().encode(`${schema.fields.map((f) => f.name).join(',')}\n${rows.join('\n')}\n`),
      );
      return fv
        .end()
        .errors.map((e) => ({ record: e.row - 2, field: e.field, code: e.code, message: e.message }));
    };
    const value = fc.oneof(
      fc.constantFrom<unknown>(
        null,
        undefined,
        '',
        'NA',
        'basic',
        'pro',
        'north',
        'true',
        'False',
        '0',
        'x,y',
        'a"b',
        'l\nm',
      ),
      fc.integer({ min: -5, max: 700 }),
      fc.double({ min: -10, max: 20_000, noNaN: true }),
      fc.boolean(),
      fc.string({ maxLength: 6 }),
    );
    const rec = fc.record(Object.fromEntries(schema.fields.map((f) => [f.name, value])), {
      requiredKeys: [],
    }) as fc.Arbitrary<InputRecord>;
    const shared = new RecordValidator(schema);
    fc.assert(
      fc.property(fc.array(rec, { minLength: 1, maxLength: 8 }), (records) => {
        expect(shared.check(records)).toEqual(fresh(records));
      }),
      { numRuns: 300 },
    );
  });
});

describe('RecordValidator.checkAndEncode', () => {
  it('encodes a number whose cell is not its text as encodeRecords does: a missing value, a category, a boolean', () => {
    const schema = parseDatasetSchema({
      name: 'odd',
      target: 'y',
      missingValues: ['', '-1'],
      fields: [
        { name: 'amount', type: 'number' },
        { name: 'size', type: 'string', constraints: { enum: ['10', '20', '30'] } },
        { name: 'flag', type: 'boolean' },
        { name: 'y', type: 'integer' },
      ],
    });
    const spec = featureSpec(schema);
    const records: InputRecord[] = [
      { amount: -1, size: 20, flag: 1 },
      { amount: 2.5, size: 30, flag: 0 },
      { amount: 1e21, size: '10', flag: true },
    ];
    const expected = encodeRecords(spec, records);
    expect(expected).toBe(',1,1\n2.5,2,0\n1e+21,0,1\n');
    const validator = new RecordValidator(validationSchema(spec, schema));
    expect(validator.checkAndEncode(records, spec)).toEqual({ errors: [], input: expected });
  });
});

describe('encodeRecords', () => {
  it('spec column order; booleans 1/0 in any case; enum indices; missing, null and absent as empty cells', () => {
    expect(
      encodeRecords(churnSpec, [
        record(),
        record({
          has_partner: 'FALSE',
          plan: 'pro',
          region: 'NA',
          total_charges: null,
          support_calls: undefined,
        }),
      ]),
    ).toBe('12,0,70.5,846,4,0,1,12.5\n12,2,70.5,,,,0,12.5\n');
  });

  it('free-text fields and the target are not model input', () => {
    expect(encodeRecords(multiSpec, [{ petal: 1.5, colour: 'blue', note: 'n', species: 'setosa' }])).toBe(
      '1.5,1\n',
    );
  });
});

describe('decodePredictions', () => {
  it('binary: the label is the class at probability >= threshold', () => {
    expect(decodePredictions(churnSpec, '0.2\n0.5\n0.83', 0.5, 3)).toEqual([
      { label: 'false', probability: 0.2 },
      { label: 'true', probability: 0.5 },
      { label: 'true', probability: 0.83 },
    ]);
    expect(
      decodePredictions(churnSpec, '0.5\n0.83\n', 0.9).map((p) => (p as { label: string }).label),
    ).toEqual(['false', 'false']);
  });

  it('binary with a numeric target: labels "0" and "1"', () => {
    expect(decodePredictions(numericBinarySpec, '0.1\r\n0.7\r\n', 0.5, 2)).toEqual([
      { label: '0', probability: 0.1 },
      { label: '1', probability: 0.7 },
    ]);
  });

  it('a batch answered on one comma-joined line is one prediction per value', () => {
    expect(decodePredictions(churnSpec, '0.1,0.9', 0.5, 2)).toEqual([
      { label: 'false', probability: 0.1 },
      { label: 'true', probability: 0.9 },
    ]);
  });

  it('multiclass: probabilities by class name and the most probable label', () => {
    expect(decodePredictions(multiSpec, '0.1,0.7,0.2\n0.6,0.3,0.1', 0.5, 2)).toEqual([
      { label: 'versicolor', probabilities: { setosa: 0.1, versicolor: 0.7, virginica: 0.2 } },
      { label: 'setosa', probabilities: { setosa: 0.6, versicolor: 0.3, virginica: 0.1 } },
    ]);
  });

  it('regression: the value', () => {
    expect(decodePredictions(regressionSpec, '12.5\n-3e2\n', 0.5, 2)).toEqual([
      { value: 12.5 },
      { value: -300 },
    ]);
  });

  it.each([
    [churnSpec, '0.5', 2, 'the model answered 1 predictions for 2 records'],
    [churnSpec, 'abc', 1, 'unreadable model output "abc"'],
    [churnSpec, 'nan', 1, 'unreadable'],
    [churnSpec, '0.1,', 1, 'unreadable'],
    [churnSpec, '0.1,0.2', 1, 'expected one probability per line'],
    [multiSpec, '0.5,0.5', 1, 'expected 3 class probabilities per line, got 2'],
    [regressionSpec, '1,2', 1, 'expected one value per line'],
  ])('%#: unreadable or mismatched output is a ModelOutputError', (spec, body, n, message) => {
    expect(() => decodePredictions(spec, body, 0.5, n)).toThrow(ModelOutputError);
    expect(() => decodePredictions(spec, body, 0.5, n)).toThrow(message);
  });

  it('predictionScore: the probability, the top probability or the value', () => {
    expect(predictionScore({ label: 'true', probability: 0.3 })).toBe(0.3);
    expect(predictionScore({ label: 'b', probabilities: { a: 0.2, b: 0.7, c: 0.1 } })).toBe(0.7);
    expect(predictionScore({ value: -2 })).toBe(-2);
  });
});

describe('modelVersion', () => {
  it('is the last segment of the model package ARN', () => {
    expect(modelVersion('arn:aws:sagemaker:eu-west-1:123456789012:model-package/devmlops-churn/12')).toBe(
      '12',
    );
    expect(modelVersion('plain')).toBe('plain');
  });
});

describe('buildCaptureRecord (DESIGN.md section 7)', () => {
  const base = {
    contentTypes: { csvContentTypes: ['text/csv'], jsonContentTypes: ['application/json'] },
    eventId: '0d6c4b1e-0000-4000-8000-000000000000',
    time: new Date('2026-01-01T12:00:00.678Z'),
  };

  it('the SageMaker line, field for field and in order', () => {
    const line = captureLine(
      buildCaptureRecord({
        ...base,
        input: { contentType: 'text/csv', data: '12,1,70.5\n' },
        output: { contentType: 'text/csv; charset=utf-8', data: '0.83' },
        inferenceId: 'req-1',
      }),
    );
    expect(line).toBe(
      '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"12,1,70.5\\n","encoding":"CSV"},' +
        '"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"0.83","encoding":"CSV"}},' +
        '"eventMetadata":{"eventId":"0d6c4b1e-0000-4000-8000-000000000000","inferenceId":"req-1","inferenceTime":"2026-01-01T12:00:00Z"},' +
        '"eventVersion":"0"}',
    );
  });

  it('JSON and other media types; no inferenceId when none or empty; one side only', () => {
    const r = buildCaptureRecord({
      ...base,
      input: { contentType: 'Application/JSON; charset=utf-8', data: '[[1,2]]' },
      output: { contentType: 'application/x-npy', data: 'é' },
      inferenceId: '',
    });
    expect(r.captureData.endpointInput!.encoding).toBe('JSON');
    expect(r.captureData.endpointOutput).toEqual({
      observedContentType: 'application/x-npy',
      mode: 'OUTPUT',
      data: Buffer.from('é').toString('base64'),
      encoding: 'BASE64',
    });
    expect(Object.keys(r.eventMetadata)).toEqual(['eventId', 'inferenceTime']);
    const inputOnly = buildCaptureRecord({ ...base, input: { contentType: 'text/csv', data: '1' } });
    expect(Object.keys(inputOnly.captureData)).toEqual(['endpointInput']);
  });
});

describe('approximateDecimal', () => {
  // JSON numbers: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  const digits = (min: number, max: number) =>
    fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
  const jsonNumber = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => JSON.stringify(v)),
    fc
      .tuple(
        fc.constantFrom('', '-'),
        fc.oneof(
          fc.constant('0'),
          fc.tuple(fc.constantFrom(...'123456789'), digits(0, 25)).map(([a, b]) => a + b),
        ),
        fc.option(digits(1, 25)),
        fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 4))),
      )
      .map(
        ([sign, whole, fraction, exponent]) =>
          `${sign}${whole}${fraction === null ? '' : `.${fraction}`}${exponent === null ? '' : exponent.join('')}`,
      ),
  );

  it('is within 1e-14 of Number, exact for zero, and NaN only beyond 1e±290', () => {
    fc.assert(
      fc.property(jsonNumber, (text) => {
        const exact = Number(text);
        const approx = approximateDecimal(text, 0, text.length);
        if (Number.isNaN(approx)) {
          expect(exact === 0 || !Number.isFinite(exact) || Math.abs(Math.log10(Math.abs(exact))) > 288).toBe(
            true,
          );
        } else if (exact === 0 || approx === 0) {
          expect(Object.is(approx, exact)).toBe(true);
        } else {
          expect(Math.abs(approx - exact)).toBeLessThanOrEqual(1e-14 * Math.abs(exact));
        }
      }),
      { seed: TEST_SEED, numRuns: 5000 },
    );
  });

  it('reads a number inside a longer text', () => {
    expect(approximateDecimal('x,0.25,y', 2, 6)).toBe(0.25);
    expect(approximateDecimal('-0.000', 0, 6)).toBe(-0);
    expect(approximateDecimal('1e400', 0, 5)).toBeNaN();
    expect(approximateDecimal('12345678901234567890123', 0, 23)).toBeCloseTo(1.2345678901234568e22, -8);
  });
});
