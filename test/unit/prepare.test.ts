import {
  checkSufficient,
  DatasetPreparer,
  InsufficientDataError,
  LineBatcher,
  SAGEMAKER_NAME,
  toJsonBytes,
  trainingJobName,
  type PrepareOptions,
  type PrepareResult,
} from '../../lambdas/core/prepare';
import { encodeLabel, featureSpec, RowEncoder } from '../../lambdas/core/encoding';
import { parseDatasetSchema, type DatasetSchema } from '../../lambdas/core/schema';
import { isValidationRow } from '../../lambdas/core/split';
import { readProjectConfig } from '../../lib/config';
import { sampleCsv } from '../../lib/local/sample-data';

const churn: DatasetSchema = readProjectConfig().dataset;

interface Run {
  train: string;
  validation: string;
  result: PrepareResult;
}

/** Runs Prepare over files, each pushed in the chunks `chunking` cuts it into. */
function prepare(
  schema: DatasetSchema,
  files: readonly (readonly [string, string | Buffer])[],
  options: Partial<PrepareOptions> = {},
  chunking: (bytes: Buffer) => Buffer[] = (b) => [b],
): Run {
  const train: Buffer[] = [];
  const validation: Buffer[] = [];
  const tb = new LineBatcher((b) => train.push(Buffer.from(b)), 4096);
  const vb = new LineBatcher((b) => validation.push(Buffer.from(b)), 4096);
  const p = new DatasetPreparer(
    schema,
    { validationFraction: 0.2, ...options },
    { train: (l, s, e) => tb.add(l, s, e), validation: (l, s, e) => vb.add(l, s, e) },
  );
  for (const [name, content] of files) {
    p.beginFile(name);
    for (const chunk of chunking(Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8')))
      p.push(chunk);
    p.endFile();
  }
  tb.flush();
  vb.flush();
  return {
    train: Buffer.concat(train).toString('utf8'),
    validation: Buffer.concat(validation).toString('utf8'),
    result: p.finish(),
  };
}

/** Deterministic uneven chunks, down to single bytes, so records straddle chunk boundaries everywhere. */
function jagged(seed: number): (b: Buffer) => Buffer[] {
  return (b) => {
    const out: Buffer[] = [];
    let s = seed;
    for (let i = 0; i < b.length;) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const n = 1 + (s % 97);
      out.push(b.subarray(i, i + n));
      i += n;
    }
    return out;
  };
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

/** Curated-style files: three partitions of valid sample rows. */
const curatedFiles: [string, string][] = [
  ['churn/ingest_date=2026-01-01/a.csv', sampleCsv({ rows: 1500, seed: 1 })],
  ['churn/ingest_date=2026-01-02/b.csv', sampleCsv({ rows: 1200, seed: 2 })],
  ['churn/ingest_date=2026-01-03/c.csv', sampleCsv({ rows: 800, seed: 3 })],
];

describe('DatasetPreparer', () => {
  test('writes label-first lines without a header: one per labelled row, split ~20% to validation', () => {
    const r = prepare(churn, curatedFiles);
    const train = lines(r.train);
    const validation = lines(r.validation);
    expect(r.result.rows).toEqual({
      total: train.length + validation.length,
      train: train.length,
      validation: validation.length,
    });
    expect(r.result.counts.records).toBe(3500);
    expect(r.result.rows.total + r.result.counts.unlabeled + r.result.counts.skipped).toBe(3500);
    expect(r.result.files).toBe(3);
    const frac = validation.length / r.result.rows.total;
    expect(frac).toBeGreaterThan(0.17);
    expect(frac).toBeLessThan(0.23);
    // 8 features (customer_id is free text, churned the target) after the label.
    for (const l of [...train, ...validation]) {
      expect(l.split(',')).toHaveLength(9);
      expect(l).toMatch(/^[01],/);
    }
    expect(r.train.startsWith('customer_id')).toBe(false);
    // Each line sits on the side its own hash picks.
    for (const l of train) expect(isValidationRow(l, 0.2)).toBe(false);
    for (const l of validation) expect(isValidationRow(l, 0.2)).toBe(true);
  });

  test('encodes per DESIGN.md section 4: enum index, booleans 1/0, numbers as given, missing empty', () => {
    const header = churn.fields.map((f) => f.name).join(',');
    const csv = [
      header,
      'c-1,12,pro,49.5,594,1,west,true,31.2,true',
      'c-2,,basic,NA,,0,north,false,,false',
      'c-3,7,plus,10,70,3,south,,5.25,false',
    ].join('\n');
    const r = prepare(churn, [['f.csv', csv]], { validationFraction: 0.0001 });
    expect(lines(r.train).sort()).toEqual(
      ['1,12,2,49.5,594,1,3,1,31.2', '0,,0,,,0,0,0,', '0,7,1,10,70,3,1,,5.25'].sort(),
    );
  });

  test('the same input gives byte-identical outputs and baseline.json, whatever the chunking', () => {
    const a = prepare(churn, curatedFiles);
    const b = prepare(churn, curatedFiles, {}, jagged(1));
    const c = prepare(churn, curatedFiles, {}, jagged(99));
    for (const x of [b, c]) {
      expect(x.train).toBe(a.train);
      expect(x.validation).toBe(a.validation);
      expect(toJsonBytes(x.result.baseline)).toBe(toJsonBytes(a.result.baseline));
      expect(toJsonBytes(x.result.featureSpec)).toBe(toJsonBytes(a.result.featureSpec));
    }
    expect(a.train.length).toBeGreaterThan(0);
  });

  test('the split depends on the row alone: file order and partitioning do not move a row', () => {
    const a = prepare(churn, curatedFiles);
    const reversed = prepare(churn, [...curatedFiles].reverse());
    expect(lines(reversed.train).sort()).toEqual(lines(a.train).sort());
    expect(lines(reversed.validation).sort()).toEqual(lines(a.validation).sort());
    // Identical encoded rows (here: the same row under another customer id) never straddle the split.
    const header = churn.fields.map((f) => f.name).join(',');
    const dupes = [
      header,
      ...Array.from({ length: 200 }, (_, i) => `id-${i},5,pro,20,100,1,east,true,3.5,true`),
    ];
    const d = prepare(churn, [['d.csv', dupes.join('\n')]]);
    expect([d.result.rows.train, d.result.rows.validation].sort()).toEqual([0, 200]);
  });

  test('baseline.json is built over the training rows only', () => {
    const r = prepare(churn, curatedFiles);
    const b = r.result.baseline;
    expect(b.rowCount).toBe(r.result.rows.train);
    expect(b.featureOrder).toEqual(r.result.featureSpec.features.map((f) => f.name));
    const target = b.target;
    expect(target.kind).toBe('categorical');
    if (target.kind === 'categorical') {
      const ones = lines(r.train).filter((l) => l.startsWith('1,')).length;
      expect(target.counts).toEqual([r.result.rows.train - ones, ones]);
    }
    const plan = b.features.find((f) => f.name === 'plan');
    expect(plan?.kind === 'categorical' && plan.counts.reduce((s, n) => s + n, 0) + plan.missing).toBe(
      r.result.rows.train,
    );
  });

  test('the fast path and the general path agree byte for byte, on messy input too', () => {
    const header = churn.fields.map((f) => f.name).join(',');
    const messy = [
      header,
      '"quoted, id",12,pro,49.5,594,1,west,true,31.2,true',
      '"esc ""q""",3,basic,1e2,7.5E1,2,east,1,2,0',
      'Zoë,4,plus,-3.25,+8,0,south,TRUE,0.5,FALSE',
      'crlf,5,pro,1,2,3,north,false,4,true\r',
      'c-unknown,5,gold,1,2,3,north,maybe,4,true',
      'c-nolabel,5,pro,1,2,3,north,false,4,',
      'c-badlabel,5,pro,1,2,3,north,false,4,perhaps',
      'c-short,5,pro',
      'c-long,5,pro,1,2,3,north,false,4,true,extra',
      'c-spaces, 5 ,pro,1.50 ,2,3,north,false,4,true',
      'c-NA,NA,pro,NA,2,3,NA,NA,4,true',
      '',
      'c-last,1,basic,0.1,0.2,0,west,true,0.3,false',
    ].join('\n');
    const raw = sampleCsv({ rows: 3000, seed: 5, invalidFraction: 0.1 });
    const files: [string, string][] = [['messy.csv', messy], ['raw.csv', raw], ...curatedFiles];
    const fast = prepare(churn, files, {}, jagged(3));
    const slow = prepare(churn, files, { fastPath: false }, jagged(3));
    expect(fast.train).toBe(slow.train);
    expect(fast.validation).toBe(slow.validation);
    expect(fast.result.counts).toEqual(slow.result.counts);
    expect(toJsonBytes(fast.result.baseline)).toBe(toJsonBytes(slow.result.baseline));
    // And both agree with RowEncoder row by row on the messy file.
    const enc = new RowEncoder(featureSpec(churn), header.split(','));
    const expected = [
      enc.encode(['quoted, id', '12', 'pro', '49.5', '594', '1', 'west', 'true', '31.2', 'true']),
      enc.encode(['esc "q"', '3', 'basic', '1e2', '7.5E1', '2', 'east', '1', '2', '0']),
      enc.encode(['Zoë', '4', 'plus', '-3.25', '+8', '0', 'south', 'TRUE', '0.5', 'FALSE']),
    ];
    const m = prepare(churn, [['messy.csv', messy]], { validationFraction: 0.0001 });
    for (const line of expected) expect(lines(m.train)).toContain(line);
    expect(m.result.counts.unlabeled).toBe(2);
    expect(m.result.counts.skipped).toBe(2);
  });

  test('a header in another column order is read by name', () => {
    const names = churn.fields.map((f) => f.name);
    const reordered = [...names].reverse();
    const rows = lines(sampleCsv({ rows: 300, seed: 9 })).slice(1);
    const flipped = [reordered.join(','), ...rows.map((r) => r.split(',').reverse().join(','))].join('\n');
    const a = prepare(churn, [['a.csv', [names.join(','), ...rows].join('\n')]]);
    const b = prepare(churn, [['b.csv', flipped]]);
    expect(b.train).toBe(a.train);
    expect(b.validation).toBe(a.validation);
  });

  test('a header without a needed column fails, naming the file and the column', () => {
    expect(() => prepare(churn, [['s3://c/churn/x.csv', 'customer_id,plan,churned\na,pro,true\n']])).toThrow(
      /s3:\/\/c\/churn\/x\.csv: curated header lacks column\(s\): tenure_months/,
    );
  });

  test('an empty file is a file without rows', () => {
    const r = prepare(churn, [['empty.csv', ''], ...curatedFiles.slice(0, 1)]);
    expect(r.result.files).toBe(2);
    expect(r.result.counts.records).toBe(1500);
  });

  test('rejects a validation fraction outside [0, 1)', () => {
    for (const f of [-0.1, 1, 2, Number.NaN])
      expect(
        () => new DatasetPreparer(churn, { validationFraction: f }, { train: () => 0, validation: () => 0 }),
      ).toThrow(/validationFraction must be in \[0, 1\)/);
  });
});

describe('label encodings per problem type', () => {
  const base = (target: Record<string, unknown>, problem?: string) =>
    parseDatasetSchema({
      name: 't',
      target: 'y',
      ...(problem ? { problem } : {}),
      fields: [
        { name: 'x', type: 'number' },
        { name: 'y', ...target },
      ],
      missingValues: ['', 'NA'],
    });
  const labels = (schema: DatasetSchema, values: string[]) => {
    const csv = ['x,y', ...values.map((v, i) => `${i},${v}`)].join('\n');
    const r = prepare(schema, [['f.csv', csv]], { validationFraction: 0.0001 });
    const got = new Map(lines(r.train).map((l) => [l.split(',')[1], l.split(',')[0]] as const));
    return { labels: values.map((_, i) => got.get(String(i)) ?? null), result: r.result };
  };

  test('binary, boolean target: 1/0 in any accepted spelling', () => {
    const s = base({ type: 'boolean' });
    expect(labels(s, ['true', 'false', 'TRUE', '0', '1', 'False', 'NA', 'yes']).labels).toEqual([
      '1',
      '0',
      '1',
      '0',
      '1',
      '0',
      null,
      null,
    ]);
  });

  test('binary, string target with two classes: the enum index', () => {
    const s = base({ type: 'string', constraints: { enum: ['stay', 'leave'] } });
    expect(featureSpec(s).problem).toBe('binary');
    expect(labels(s, ['stay', 'leave', 'other', '']).labels).toEqual(['0', '1', null, null]);
  });

  test('multiclass, string target: the enum index; baseline counts by class', () => {
    const s = base({ type: 'string', constraints: { enum: ['a', 'b', 'c'] } });
    const { labels: l, result } = labels(s, ['c', 'a', 'b', 'c']);
    expect(l).toEqual(['2', '0', '1', '2']);
    expect(result.featureSpec.problem).toBe('multiclass');
    expect(result.baseline.target.kind === 'categorical' && result.baseline.target.counts).toEqual([1, 1, 2]);
  });

  test('multiclass, integer target: non-negative integers as given, others unlabelled', () => {
    const s = base({ type: 'integer' }, 'multiclass');
    const { labels: l, result } = labels(s, ['0', '3', '2', '-1', '1.5']);
    expect(l).toEqual(['0', '3', '2', null, null]);
    expect(result.counts.unlabeled).toBe(2);
  });

  test('regression: the number, written as encodeLabel reads it', () => {
    const s = base({ type: 'number' });
    const values = ['12.50', '-3', '0.125', '1e3', '007'];
    const spec = featureSpec(s);
    expect(labels(s, values).labels).toEqual(values.map((v) => String(encodeLabel(spec, v))));
    expect(labels(s, values).labels).toEqual(['12.5', '-3', '0.125', '1000', '7']);
  });
});

describe('compiled fast path', () => {
  /** Both paths over the same files, in jagged chunks: they must agree byte for byte. */
  const agree = (schema: DatasetSchema, files: [string, string][], fraction = 0.3) => {
    const fast = prepare(schema, files, { validationFraction: fraction }, jagged(11));
    const slow = prepare(schema, files, { validationFraction: fraction, fastPath: false }, jagged(11));
    expect(fast.train).toBe(slow.train);
    expect(fast.validation).toBe(slow.validation);
    expect(fast.result.counts).toEqual(slow.result.counts);
    expect(fast.result.rows).toEqual(slow.result.rows);
    expect(toJsonBytes(fast.result.baseline)).toBe(toJsonBytes(slow.result.baseline));
    return fast;
  };

  test('agrees with the general path on odd spellings, CRLF endings and decimal-like missing markers', () => {
    const schema = parseDatasetSchema({
      name: 'odd',
      target: 'y',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'n', type: 'number' },
        { name: 'k', type: 'string', constraints: { enum: ['a', 'bb', '-1', 'c,d'] } },
        { name: 'b', type: 'boolean' },
        { name: 'i', type: 'integer' },
        { name: 'y', type: 'boolean' },
      ],
      missingValues: ['', 'NA', '-1', '0.0'],
    });
    const cells = {
      n: [
        '1',
        '-0',
        '.5',
        '5.',
        '+5',
        '-2.25',
        '1234567890123456',
        '1e3',
        '0.0',
        '-1',
        'NA',
        '',
        'x',
        '1.2.3',
      ],
      k: ['a', 'bb', '-1', '"c,d"', 'zz', 'NA', ''],
      b: ['true', 'false', 'TRUE', '0', '1', 'False', 'NA', 'yes', ''],
      i: ['0', '7', '-1', '12', 'NA'],
      y: ['true', 'false', '1', '0', 'NA', '', 'no'],
    };
    const rows: string[] = [];
    for (let r = 0; r < 600; r++) {
      const pick = (xs: string[], m: number) => xs[(r * m + (r >> 3)) % xs.length];
      rows.push(
        [
          `r${r}`,
          pick(cells.n, 7),
          pick(cells.k, 5),
          pick(cells.b, 3),
          pick(cells.i, 11),
          pick(cells.y, 13),
        ].join(','),
      );
    }
    const header = 'id,n,k,b,i,y';
    const lf = [header, ...rows].join('\n');
    const crlf = [header, ...rows].join('\r\n') + '\r\n';
    const r = agree(schema, [
      ['lf.csv', lf],
      ['crlf.csv', crlf],
    ]);
    expect(r.result.rows.total).toBeGreaterThan(500);
    // "-1" is a missing marker, which wins over the enum value of the same spelling (as in encodeFeatures).
    const k = lines(r.train + r.validation).map((x) => x.split(',')[2]);
    expect(k).toContain('1');
    expect(k).toContain('');
    expect(k).not.toContain('2');
  });

  test('agrees with the general path for every label kind', () => {
    const schema = (target: Record<string, unknown>, problem?: string) =>
      parseDatasetSchema({
        name: 't',
        target: 'y',
        ...(problem ? { problem } : {}),
        fields: [
          { name: 'x', type: 'number' },
          { name: 'c', type: 'string', constraints: { enum: ['p', 'q'] } },
          { name: 'y', ...target },
        ],
        missingValues: ['', 'NA'],
      });
    const file = (labels: string[]) =>
      [
        'x,c,y',
        ...Array.from(
          { length: 400 },
          (_, i) => `${i / 8},${i % 3 ? 'p' : 'q'},${labels[i % labels.length]}`,
        ),
      ].join('\n');
    agree(schema({ type: 'string', constraints: { enum: ['a', 'b', 'c'] } }), [
      ['m.csv', file(['a', 'c', 'b', 'z', ''])],
    ]);
    agree(schema({ type: 'integer' }, 'multiclass'), [['n.csv', file(['0', '3', '2', '-1', '1.5', '40'])]]);
    agree(schema({ type: 'number' }), [['r.csv', file(['12.50', '-3', '0.125', '1e3', '007', '-0', 'NA'])]]);
  });

  test('grows its line buffer for a wide row, and agrees with the general path', () => {
    const width = 1200;
    const schema = parseDatasetSchema({
      name: 'wide',
      target: 'y',
      fields: [
        ...Array.from({ length: width }, (_, i) => ({ name: `f${i}`, type: 'number' })),
        { name: 'y', type: 'boolean' },
      ],
      missingValues: [''],
    });
    const header = [...Array.from({ length: width }, (_, i) => `f${i}`), 'y'].join(',');
    const row = (r: number) =>
      [...Array.from({ length: width }, (_, i) => `${(r * 7 + i) % 1000}.25`), r % 2 ? 'true' : 'false'].join(
        ',',
      );
    const r = agree(schema, [
      ['wide.csv', [header, ...Array.from({ length: 40 }, (_, k) => row(k))].join('\n')],
    ]);
    expect(r.result.rows.total).toBe(40);
    expect(lines(r.train + r.validation).every((l) => l.length > 4096)).toBe(true);
  });

  test('hands the sink whole lines, many per call, in order', () => {
    const calls: string[] = [];
    const p = new DatasetPreparer(
      churn,
      { validationFraction: 0.2 },
      {
        train: (l, s, e) => calls.push(Buffer.from(l.subarray(s, e)).toString()),
        validation: () => undefined,
      },
    );
    p.beginFile('a.csv');
    p.push(Buffer.from(curatedFiles[0][1]));
    p.endFile();
    const { rows } = p.finish();
    for (const c of calls) expect(c.endsWith('\n')).toBe(true);
    expect(calls.length).toBeLessThan(rows.train);
    expect(lines(calls.join(''))).toHaveLength(rows.train);
    expect(calls.join('')).toBe(prepare(churn, [curatedFiles[0]]).train);
  });
});

describe('InsufficientDataError', () => {
  test('names the rows found, the rows needed and where it looked', () => {
    let err: unknown;
    try {
      checkSufficient(
        { total: 42, train: 30, validation: 12 },
        1000,
        's3://cur/churn/ingest_date=*/ (2 curated files)',
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InsufficientDataError);
    expect((err as Error).name).toBe('InsufficientDataError');
    expect((err as Error).message).toMatch(
      /found 42 labelled rows in s3:\/\/cur\/churn\/ingest_date=\*\/ \(2 curated files\), need at least 1000/,
    );
  });

  test('also when a channel would be empty, and not when there is enough', () => {
    expect(() => checkSufficient({ total: 20, train: 20, validation: 0 }, 10, 'x')).toThrow(
      /left 20 for training and 0 for validation/,
    );
    expect(() => checkSufficient({ total: 10, train: 8, validation: 2 }, 10, 'x')).not.toThrow();
  });
});

describe('trainingJobName', () => {
  test('is <project>-<yyyymmddhhmmss UTC>-<6 hex of sha256(execution name)>', () => {
    const name = trainingJobName('devmlops', 'exec-1', '2026-03-04T05:06:07.890Z');
    // `printf 'exec-1' | sha256sum` starts with f42b7a.
    expect(name).toBe('devmlops-20260304050607-f42b7a');
    expect(trainingJobName('devmlops', 'exec-1', '2026-03-04T05:06:07.890Z')).toBe(name);
    expect(trainingJobName('devmlops', 'exec-2', '2026-03-04T05:06:07.890Z')).not.toBe(name);
    expect(trainingJobName('devmlops', 'exec-1', '2026-03-04T07:06:07+02:00')).toBe(name);
  });

  test('fits SageMaker: <= 63 characters and its name pattern, for the longest project name', () => {
    const project = `p${'a'.repeat(30)}`;
    const name = trainingJobName(project, 'x'.repeat(80), '2026-12-31T23:59:59Z');
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(SAGEMAKER_NAME);
  });

  test('rejects a bad start time or an empty execution name', () => {
    expect(() => trainingJobName('p', 'e', 'yesterday')).toThrow(
      /executionStartTime must be an ISO 8601 time/,
    );
    expect(() => trainingJobName('p', '', '2026-01-01T00:00:00Z')).toThrow(/executionName/);
  });
});

describe('LineBatcher', () => {
  test('coalesces lines into buffers of at most its size, and passes a larger line on its own', () => {
    const got: Buffer[] = [];
    const b = new LineBatcher((x) => got.push(Buffer.from(x)), 16);
    const line = (s: string) => Buffer.from(`${s}\n`);
    for (const s of ['aaaa', 'bbbb', 'cccc', 'x'.repeat(40), 'dd']) {
      const l = line(s);
      b.add(l, 0, l.length);
    }
    b.flush();
    expect(got.map((g) => g.toString())).toEqual(['aaaa\nbbbb\ncccc\n', `${'x'.repeat(40)}\n`, 'dd\n']);
    expect(b.lines).toBe(5);
    expect(b.bytes).toBe(got.reduce((s, g) => s + g.length, 0));
  });
});
