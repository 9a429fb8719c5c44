import { ERROR_CODES, type ValidationOptions, type ValidationReport } from '../../lambdas/core/report';
import { parseDatasetSchema, type DatasetSchema } from '../../lambdas/core/schema';
import { FileValidator, parseNumberBytes } from '../../lambdas/core/validate';
import { readProjectConfig } from '../../lib/config';
import { sampleCsv } from '../../lib/local/sample-data';

const schema: DatasetSchema = readProjectConfig().dataset;
const HEADER =
  'customer_id,tenure_months,plan,monthly_charges,total_charges,support_calls,region,has_partner,avg_session_minutes,churned';
const GOOD = 'C1,12,basic,20.5,246,1,north,true,20.25,false';
const OPTIONS: ValidationOptions = { maxInvalidRowFraction: 0.05, maxLineBytes: 4096 };

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { ignoreBOM: true });

interface Run {
  report: ValidationReport;
  valid: string[];
  invalid: string[];
}

/** Validates `input` fed in chunks of `chunk` bytes (or at `splits`), collecting every sink call. */
function run(
  input: string | Uint8Array,
  opts: Partial<ValidationOptions> & { chunk?: number; splits?: number[]; schema?: DatasetSchema } = {},
): Run {
  const data = typeof input === 'string' ? enc.encode(input) : input;
  const valid: string[] = [];
  const invalid: string[] = [];
  const v = new FileValidator(
    opts.schema ?? schema,
    { ...OPTIONS, ...opts },
    {
      valid: (buf, start, end) => valid.push(dec.decode(buf.subarray(start, end))),
      invalid: (buf, start, end) => invalid.push(dec.decode(buf.subarray(start, end))),
    },
  );
  const cuts = [...(opts.splits ?? [])];
  if (opts.chunk) for (let i = opts.chunk; i < data.length; i += opts.chunk) cuts.push(i);
  let prev = 0;
  for (const c of [...cuts, data.length]) {
    // A fresh copy per chunk: the validator must not rely on earlier chunks staying intact.
    v.push(data.slice(prev, c));
    prev = c;
  }
  return { report: v.end(), valid, invalid };
}

/** A row of the default schema with some cells replaced (by index). */
function row(changes: Record<number, string> = {}): string {
  const cells = GOOD.split(',');
  for (const [i, v] of Object.entries(changes)) cells[Number(i)] = v;
  return cells.join(',');
}

const file = (...rows: string[]): string => [HEADER, ...rows].join('\n') + '\n';

describe('FileValidator: accepted files and curated output', () => {
  it('passes valid rows through unchanged and reports them', () => {
    const r = run(file(GOOD, row({ 0: 'C2', 1: '0', 7: 'false', 9: 'true' })));
    expect(r.report.status).toBe('accepted');
    expect(r.report.reason).toBeUndefined();
    expect(r.report.rows).toEqual({ total: 2, valid: 2, invalid: 0 });
    expect(r.report.errorCounts).toEqual({});
    expect(r.report.errors).toEqual([]);
    expect(r.valid).toEqual([`${GOOD}\n`, `${row({ 0: 'C2', 1: '0', 7: 'false', 9: 'true' })}\n`]);
    expect(r.invalid).toEqual([]);
  });

  it('exposes the curated and quarantine headers', () => {
    const v = new FileValidator(schema, OPTIONS, { valid: () => undefined, invalid: () => undefined });
    expect(dec.decode(v.curatedHeader)).toBe(`${HEADER}\n`);
    expect(dec.decode(v.quarantineHeader)).toBe(`${HEADER},_errors\n`);
  });

  it('normalises booleans, missing values and line endings', () => {
    const r = run(
      [
        HEADER,
        row({ 7: 'TRUE', 9: '0' }),
        row({ 4: 'NA', 5: '', 6: 'NA', 7: '1', 8: 'NA', 9: 'False' }),
        row({ 0: '"C,9"', 2: '"plus"', 9: '"true"' }),
        row({ 0: '"say ""hi"""' }),
      ].join('\r\n'),
    );
    expect(r.report.status).toBe('accepted');
    expect(r.valid).toEqual([
      `${row({ 7: 'true', 9: 'false' })}\n`,
      `${row({ 4: '', 5: '', 6: '', 7: 'true', 8: '', 9: 'false' })}\n`,
      // Quoted values stay as given (valid CSV for the same value); booleans are re-spelt.
      `${row({ 0: '"C,9"', 2: '"plus"', 9: 'true' })}\n`,
      `${row({ 0: '"say ""hi"""' })}\n`,
    ]);
    expect(r.report.fields.total_charges.missing).toBe(1);
    expect(r.report.fields.support_calls.missing).toBe(1);
    expect(r.report.fields.region.missing).toBe(1);
  });

  it('hands the original bytes to the sink when nothing needs normalising', () => {
    const data = enc.encode(file(GOOD));
    const seen: { buf: Uint8Array; text: string }[] = [];
    const v = new FileValidator(schema, OPTIONS, {
      valid: (buf, start, end) => seen.push({ buf, text: dec.decode(buf.subarray(start, end)) }),
      invalid: () => undefined,
    });
    v.push(data);
    v.end();
    expect(seen).toHaveLength(1);
    // The same memory as the input: no rebuild happened.
    expect(seen[0].buf.buffer).toBe(data.buffer);
    expect(seen[0].text).toBe(`${GOOD}\n`);
  });

  it('accepts the number, integer and boolean spellings of the schema types', () => {
    const r = run(
      file(
        row({ 1: '+7', 3: '1e2', 4: '.5', 8: '-0', 7: '0' }),
        row({ 1: '600', 3: '10000', 4: '1.', 8: '2.5E-3', 7: 'tRuE' }),
      ),
    );
    expect(r.report.status).toBe('accepted');
    expect(r.report.fields.monthly_charges).toMatchObject({ min: 100, max: 10000 });
    expect(r.report.fields.avg_session_minutes).toMatchObject({ min: -0, max: 0.0025 });
  });
});

describe('FileValidator: every error code', () => {
  const cases: [string, string, string, string | null, RegExp][] = [
    ['type', row({ 1: 'twelve' }), 'type', 'tenure_months', /"twelve" is not an integer/],
    ['type (integer with a decimal point)', row({ 1: '12.0' }), 'type', 'tenure_months', /not an integer/],
    ['type (number)', row({ 3: '20,5x'.slice(3) }), 'type', 'monthly_charges', /not a finite number/],
    ['type (infinite number)', row({ 3: '1e400' }), 'type', 'monthly_charges', /not a finite number/],
    ['type (NaN)', row({ 4: 'NaN' }), 'type', 'total_charges', /not a finite number/],
    ['type (boolean)', row({ 9: 'yes' }), 'type', 'churned', /"yes" is not a boolean/],
    ['required', row({ 1: '' }), 'required', 'tenure_months', /missing value "" in required field/],
    ['required (NA)', row({ 9: 'NA' }), 'required', 'churned', /missing value "NA"/],
    ['minimum', row({ 3: '-1' }), 'minimum', 'monthly_charges', /-1 is below the minimum 0/],
    ['maximum', row({ 1: '601' }), 'maximum', 'tenure_months', /601 is above the maximum 600/],
    ['enum', row({ 2: 'gold' }), 'enum', 'plan', /"gold" is not one of basic, plus, pro/],
    ['enum (case-sensitive)', row({ 2: 'Basic' }), 'enum', 'plan', /"Basic"/],
    ['columns (too few)', 'C1,12,basic', 'columns', null, /expected 10 columns, got 3/],
    ['columns (too many)', `${GOOD},extra`, 'columns', null, /expected 10 columns, got 11/],
    ['quote', row({ 0: 'C"1' }), 'quote', null, /double quote inside an unquoted field/],
    ['line-too-long', row({ 0: 'x'.repeat(5000) }), 'line-too-long', null, /longer than 4096 bytes/],
  ];

  it.each(cases)('%s', (_name, bad, code, field, message) => {
    for (const chunk of [undefined, 1]) {
      const r = run(file(GOOD, bad, GOOD), { maxInvalidRowFraction: 1, chunk });
      expect(r.report.status).toBe('accepted');
      expect(r.report.rows).toEqual({ total: 3, valid: 2, invalid: 1 });
      expect(r.report.errorCounts).toEqual({ [code]: 1 });
      expect(r.report.errors).toHaveLength(1);
      expect(r.report.errors[0]).toMatchObject({ row: 3, field, code });
      expect(r.report.errors[0].message).toMatch(message);
      expect(r.invalid).toHaveLength(1);
      expect(r.invalid[0].endsWith(`,${field ? `${code}:${field}` : code}\n`)).toBe(true);
      expect(r.valid).toEqual([`${GOOD}\n`, `${GOOD}\n`]);
    }
  });

  it('encoding', () => {
    const bytes = new Uint8Array([
      ...enc.encode(`${HEADER}\n${GOOD}\nC`),
      0xff,
      ...enc.encode(row().slice(2) + '\n'),
    ]);
    const r = run(bytes, { maxInvalidRowFraction: 1 });
    expect(r.report.errors).toEqual([
      { row: 3, field: null, code: 'encoding', message: 'the record is not valid UTF-8' },
    ]);
    expect(r.report.errorCounts).toEqual({ encoding: 1 });
    // The quarantined row keeps its original bytes.
    expect(r.invalid[0]).toBe(`C\ufffd${row().slice(2)},encoding\n`);
  });

  it('quote at the end of the file', () => {
    const r = run(`${HEADER}\n${GOOD}\nC2,"12,basic`, { maxInvalidRowFraction: 1 });
    expect(r.report.errors).toEqual([
      {
        row: 3,
        field: null,
        code: 'quote',
        message: 'a quoted field is not closed before the end of the file',
      },
    ]);
    // Malformed cells are re-quoted, so the quarantine file stays valid CSV.
    expect(r.invalid).toEqual(['C2,"12,basic",,,,,,,,,quote\n']);
  });

  it('header: wrong order or names', () => {
    const swapped = HEADER.replace('plan,monthly_charges', 'monthly_charges,plan');
    const r = run(`${swapped}\n${GOOD}\n`);
    expect(r.report.status).toBe('quarantined');
    expect(r.report.reason).toMatch(
      /header does not match the schema; expected customer_id,.*; got customer_id/,
    );
    expect(r.report.errors).toEqual([{ row: 1, field: null, code: 'header', message: r.report.reason }]);
    expect(r.report.errorCounts).toEqual({ header: 1 });
    expect(r.report.rows).toEqual({ total: 0, valid: 0, invalid: 0 });
    expect(r.valid).toEqual([]);
    expect(run(`${HEADER},extra\n${GOOD}\n`).report.errorCounts).toEqual({ header: 1 });
  });

  it('header: no target column', () => {
    const r = run(`${HEADER.replace(',churned', '')}\n${GOOD}\n`);
    expect(r.report.status).toBe('quarantined');
    expect(r.report.errors[0].code).toBe('header');
    expect(r.report.reason).toMatch(/no target column "churned"/);
  });

  it('header: unreadable header record', () => {
    const r = run(`"${HEADER}\n`);
    expect(r.report).toMatchObject({ status: 'quarantined', errorCounts: { quote: 1 } });
    expect(r.report.reason).toMatch(/header record cannot be read/);
  });

  it('empty: no bytes, no header, header only', () => {
    const empty = run('');
    expect(empty.report).toMatchObject({
      status: 'quarantined',
      reason: 'the file is empty',
      errorCounts: { empty: 1 },
      rows: { total: 0, valid: 0, invalid: 0 },
    });
    expect(empty.report.errors).toEqual([
      { row: 1, field: null, code: 'empty', message: 'the file is empty' },
    ]);
    expect(run('\ufeff\n\n').report.reason).toBe('the file has no header record');
    const headerOnly = run(`${HEADER}\r\n`);
    expect(headerOnly.report).toMatchObject({ status: 'quarantined', errorCounts: { empty: 1 } });
    expect(headerOnly.report.reason).toBe('the file has a header but no data rows');
    expect(headerOnly.report.errors[0].row).toBe(2);
  });

  it('reports several errors of one row, in column order, and joins them in _errors', () => {
    const r = run(file(row({ 1: 'x', 2: 'gold', 9: 'NA' })), { maxInvalidRowFraction: 1 });
    expect(r.report.errors.map((e) => `${e.code}:${e.field}`)).toEqual([
      'type:tenure_months',
      'enum:plan',
      'required:churned',
    ]);
    expect(r.invalid).toEqual([
      `${row({ 1: 'x', 2: 'gold', 9: 'NA' })},type:tenure_months;enum:plan;required:churned\n`,
    ]);
    expect(r.report.rows).toEqual({ total: 1, valid: 0, invalid: 1 });
  });

  it('pads short rows and cuts long ones in quarantine, keeping quoted cells as they were', () => {
    const r = run(file('"C,1",12', `${GOOD},x,y`), { maxInvalidRowFraction: 1 });
    expect(r.invalid).toEqual(['"C,1",12,,,,,,,,,columns\n', `${GOOD},columns\n`]);
  });

  it('every code in ERROR_CODES is exercised above', () => {
    // too-large is decided by the Lambda adapter from the size, before the validator: test/reliability/too-large*.
    const covered = new Set(cases.map((c) => c[2]).concat(['encoding', 'header', 'empty', 'too-large']));
    expect(ERROR_CODES.filter((c) => !covered.has(c))).toEqual([]);
  });
});

describe('FileValidator: policy', () => {
  const rows = (n: number, bad: number): string =>
    file(...Array.from({ length: n }, (_, i) => (i < bad ? row({ 1: 'x' }) : row({ 0: `C${i}` }))));

  it('accepts a file exactly at the limit and streams its invalid rows to quarantine', () => {
    const r = run(rows(20, 1));
    expect(r.report.status).toBe('accepted');
    expect(r.report.rows).toEqual({ total: 20, valid: 19, invalid: 1 });
    expect(r.valid).toHaveLength(19);
    expect(r.invalid).toHaveLength(1);
  });

  it('quarantines a file just above the limit, saying why', () => {
    const r = run(rows(20, 2));
    expect(r.report.status).toBe('quarantined');
    expect(r.report.reason).toBe('2 of 20 rows are invalid (10%), more than the 5% allowed');
  });

  it('follows maxInvalidRowFraction', () => {
    expect(run(rows(10, 3), { maxInvalidRowFraction: 0.3 }).report.status).toBe('accepted');
    expect(run(rows(10, 4), { maxInvalidRowFraction: 0.3 }).report.status).toBe('quarantined');
    expect(run(rows(10, 0), { maxInvalidRowFraction: 0 }).report.status).toBe('accepted');
    expect(run(rows(10, 1), { maxInvalidRowFraction: 0 }).report.status).toBe('quarantined');
  });

  it('rejects bad options', () => {
    const sink = { valid: () => undefined, invalid: () => undefined };
    expect(() => new FileValidator(schema, { ...OPTIONS, maxInvalidRowFraction: 1.5 }, sink)).toThrow(
      /maxInvalidRowFraction/,
    );
    expect(() => new FileValidator(schema, { ...OPTIONS, maxReportedErrors: -1 }, sink)).toThrow(
      /maxReportedErrors/,
    );
    expect(() => new FileValidator(schema, { ...OPTIONS, maxLineBytes: 0 }, sink)).toThrow(/maxLineBytes/);
  });
});

describe('FileValidator: report', () => {
  it('has the DESIGN.md section 9 shape', () => {
    const r = run(file(GOOD, row({ 2: 'gold' })), { maxInvalidRowFraction: 1 }).report;
    expect(Object.keys(r).sort()).toEqual(['errorCounts', 'errors', 'fields', 'rows', 'status']);
    expect(Object.keys(r.fields)).toEqual(schema.fields.map((f) => f.name));
    for (const e of r.errors) expect(Object.keys(e).sort()).toEqual(['code', 'field', 'message', 'row']);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });

  it('keeps the first 100 errors in file order but counts them all', () => {
    const bad = Array.from({ length: 150 }, (_, i) => row({ 0: `C${i}`, 1: 'x' }));
    const r = run(file(...bad)).report;
    expect(r.errorCounts).toEqual({ type: 150 });
    expect(r.errors).toHaveLength(100);
    expect(r.errors.map((e) => e.row)).toEqual(Array.from({ length: 100 }, (_, i) => i + 2));
    expect(run(file(...bad), { maxReportedErrors: 3 }).report.errors.map((e) => e.row)).toEqual([2, 3, 4]);
  });

  it('counts missing and invalid cells and the range of valid values per field', () => {
    const r = run(
      file(
        row({ 1: '3', 4: 'NA', 8: '' }),
        row({ 1: '40', 4: '7.5', 2: 'gold' }),
        row({ 1: 'x', 4: '0' }),
        row({ 1: '', 4: '1e3' }),
      ),
      { maxInvalidRowFraction: 1 },
    ).report;
    expect(r.fields.tenure_months).toEqual({ missing: 1, invalid: 2, min: 3, max: 40 });
    expect(r.fields.total_charges).toEqual({ missing: 1, invalid: 0, min: 0, max: 1000 });
    expect(r.fields.plan).toEqual({ missing: 0, invalid: 1 });
    expect(r.fields.avg_session_minutes).toEqual({ missing: 1, invalid: 0, min: 20.25, max: 20.25 });
    expect(r.fields.customer_id).toEqual({ missing: 0, invalid: 0 });
  });

  it('fail() quarantines with the given code, keeping what was counted', () => {
    const v = new FileValidator(schema, OPTIONS, { valid: () => undefined, invalid: () => undefined });
    v.push(enc.encode(file(GOOD, GOOD)));
    const r = v.fail('encoding', 'the gzip stream is corrupt');
    expect(r).toMatchObject({
      status: 'quarantined',
      reason: 'the gzip stream is corrupt',
      errorCounts: { encoding: 1 },
      rows: { total: 2, valid: 2, invalid: 0 },
    });
    expect(r.errors).toEqual([
      { row: 4, field: null, code: 'encoding', message: 'the gzip stream is corrupt' },
    ]);
    expect(() => v.push(enc.encode('x'))).toThrow(/after end or fail/);
    expect(() => v.end()).toThrow(/twice/);
  });

  it('works with a small inline schema and its own missing values', () => {
    const small = parseDatasetSchema({
      name: 'tiny',
      target: 'y',
      fields: [
        { name: 'x', type: 'number' },
        { name: 'y', type: 'string', constraints: { enum: ['a', 'b'] } },
      ],
      missingValues: ['-999', ''],
    });
    const r = run('x,y\n-999,a\n1.5,b\n,a\n2,c\n', { schema: small, maxInvalidRowFraction: 1 });
    // Statistics are per cell: the valid 2 counts even though its row fails on y.
    expect(r.report.fields.x).toEqual({ missing: 2, invalid: 0, min: 1.5, max: 2 });
    expect(r.valid).toEqual([',a\n', '1.5,b\n', ',a\n']);
    expect(r.invalid).toEqual(['2,c,enum:y\n']);
  });

  it('quotes the _errors cell when a field name needs quotes in CSV', () => {
    const parsed = parseDatasetSchema({
      name: 'odd',
      target: 'y',
      fields: [
        { name: 'a', type: 'integer' },
        { name: 'y', type: 'boolean' },
      ],
      missingValues: [''],
    });
    // parseDatasetSchema allows only identifiers, but the validator takes any DatasetSchema.
    const odd: DatasetSchema = {
      ...parsed,
      fields: [{ ...parsed.fields[0], name: 'a,"b"' }, parsed.fields[1]],
    };
    const r = run('"a,""b""",y\n1,true\nx,maybe\n', { schema: odd, maxInvalidRowFraction: 1 });
    expect(r.valid).toEqual(['1,true\n']);
    expect(r.invalid).toEqual(['x,maybe,"type:a,""b"";type:y"\n']);
  });
});

describe('FileValidator: chunking never changes the result', () => {
  const handmade =
    '\ufeff' +
    [
      HEADER,
      GOOD,
      row({ 0: '"C,""2"""', 7: 'TRUE' }),
      row({ 0: '"multi\nline"', 4: 'NA' }),
      row({ 1: 'x' }),
      'short,row',
      row({ 0: 'Zoë😀' }),
      row({ 0: 'y'.repeat(300) }),
      row({ 9: '1' }),
    ].join('\r\n');

  it('gives the same report and output split at every byte offset and in 1-byte chunks', () => {
    const opts = { maxInvalidRowFraction: 1, maxLineBytes: 200 };
    const whole = run(handmade, opts);
    expect(whole.report.rows).toEqual({ total: 8, valid: 5, invalid: 3 });
    expect(whole.report.errorCounts).toEqual({ type: 1, columns: 1, 'line-too-long': 1 });
    const data = enc.encode(handmade);
    for (let k = 1; k < data.length; k++) expect(run(data, { ...opts, splits: [k] })).toEqual(whole);
    expect(run(data, { ...opts, chunk: 1 })).toEqual(whole);
  });

  it('gives the same result on generated data in 1-byte, odd and whole chunks', () => {
    const csv = sampleCsv({ rows: 400, seed: 3, invalidFraction: 0.2 });
    const whole = run(csv, { maxInvalidRowFraction: 1 });
    expect(whole.report.rows.invalid).toBeGreaterThan(40);
    expect(whole.report.rows.valid).toBeGreaterThan(250);
    for (const chunk of [1, 7, 4093]) expect(run(csv, { maxInvalidRowFraction: 1, chunk })).toEqual(whole);
  });
});

describe('parseNumberBytes', () => {
  const parse = (s: string, integerOnly = false): number => {
    const b = enc.encode(s);
    return parseNumberBytes(b, 0, b.length, integerOnly);
  };

  it('parses what Number parses, for decimal forms', () => {
    for (const s of [
      '0',
      '-0',
      '+3',
      '12',
      '1.5',
      '-1.5',
      '.5',
      '5.',
      '1e3',
      '1E-3',
      '-2.5e+2',
      '0.1',
      '123456789.123456789',
      '9007199254740993',
      '1e-30',
      '4.9e-324',
      '00012',
    ])
      expect(parse(s)).toBe(Number(s));
    expect(parse('1e400')).toBe(Infinity);
  });

  it('rejects what is not a decimal number', () => {
    for (const s of [
      '',
      '-',
      '+',
      '.',
      'e5',
      '1e',
      '1e+',
      '1.2.3',
      '0x10',
      'NaN',
      'Infinity',
      ' 1',
      '1 ',
      '1,5',
      '--1',
    ])
      expect(parse(s)).toBeNaN();
  });

  it('accepts only sign and digits for integers', () => {
    expect(parse('-42', true)).toBe(-42);
    for (const s of ['4.0', '4.', '1e3', '.5']) expect(parse(s, true)).toBeNaN();
  });
});
