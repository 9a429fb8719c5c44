import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { parseDatasetSchema, type DatasetSchema, type FieldSchema } from '../../lambdas/core/schema';

/**
 * Generators for the fuzz targets (test/fuzz/targets.ts): arbitrary bytes biased towards what breaks CSV and
 * JSON readers, structured-but-wrong CSV files and capture records, random dataset schemas and mutated configs.
 */

const enc = new TextEncoder();
const ROOT = path.resolve(__dirname, '..', '..');

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Splits `data` at the given offsets (taken modulo its length, any order, duplicates allowed). */
export function splitAt(data: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (data.length === 0 ? 0 : c % (data.length + 1))))].sort(
    (a, b) => a - b,
  );
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, data.length]) {
    // Copies, so that no consumer can get away with keeping a view of the caller's buffer.
    out.push(data.slice(prev, p));
    prev = p;
  }
  return out;
}

/** Offsets to cut an input at: none, a few anywhere, or many (down to one-byte chunks). */
export const cutsArb: fc.Arbitrary<number[]> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<number[]>([]) },
  { weight: 4, arbitrary: fc.array(fc.nat({ max: 1 << 20 }), { maxLength: 8 }) },
  { weight: 1, arbitrary: fc.array(fc.nat({ max: 1 << 20 }), { minLength: 20, maxLength: 200 }) },
);

/** Byte sequences that matter to a CSV reader or a UTF-8 decoder, alone or in combination. */
const BYTE_TOKENS: readonly number[][] = [
  [0x2c], // ,
  [0x22], // "
  [0x22, 0x22],
  [0x0a],
  [0x0d],
  [0x0d, 0x0a],
  [0x20],
  [0x09],
  [0x00],
  ...['a', 'b', 'x1', '0', '1', '-', '.', 'e', 'NA', 'true', '12.5', '-3e2'].map((s) => [...enc.encode(s)]),
  [0xef, 0xbb, 0xbf], // BOM
  [0xc3, 0xa9], // é
  [0xf0, 0x9f, 0x98, 0x80], // an emoji
  [0xc3], // truncated 2-byte sequence
  [0xe2, 0x82], // truncated 3-byte sequence
  [0xc0, 0xaf], // overlong
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate in UTF-8
  [0xff],
  [0xfe],
  [0x80],
];

const tokenBytes = fc.constantFrom(...BYTE_TOKENS);

/** Arbitrary bytes: uniform, CSV-biased tokens, or tokens with long runs of one byte. */
export const hostileBytesArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.array(tokenBytes, { maxLength: 120 }).map((ts) => Uint8Array.from(ts.flat())),
  fc
    .array(
      fc.oneof(
        { weight: 4, arbitrary: tokenBytes },
        {
          weight: 1,
          arbitrary: fc
            .tuple(fc.constantFrom(0x61, 0x22, 0x2c, 0x0d, 0xff), fc.integer({ min: 1, max: 300 }))
            .map(([b, n]) => new Array<number>(n).fill(b)),
        },
      ),
      { maxLength: 40 },
    )
    .map((ts) => Uint8Array.from(ts.flat())),
);

/** A small maxLineBytes (so that too-long records are common), sometimes a roomy one. */
export const maxLineBytesArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 64 }) },
  { weight: 1, arbitrary: fc.constantFrom(1024, 1 << 20) },
);

// ---- valid CSV, for round trips ----

const CELL_CHARS = ['a', 'b', 'Z', '0', '9', ' ', ',', '"', '\r', '\n', 'é', '😀', '\uFEFF', '\t', ';'];
const cellArb = fc.array(fc.constantFrom(...CELL_CHARS), { maxLength: 8 }).map((cs) => cs.join(''));

export interface CsvDocument {
  readonly rows: string[][];
  /** Line ending of each row; the last row may have none. */
  readonly endings: ('\n' | '\r\n' | '')[];
  readonly bom: boolean;
}

export const csvDocumentArb: fc.Arbitrary<CsvDocument> = fc
  .tuple(
    fc.array(fc.array(cellArb, { minLength: 1, maxLength: 5 }), { maxLength: 12 }),
    fc.array(fc.constantFrom<'\n' | '\r\n'>('\n', '\r\n'), { minLength: 12, maxLength: 12 }),
    fc.boolean(),
    fc.boolean(),
  )
  .map(([rows, endings, bom, lastEnded]) => ({
    rows,
    endings: rows.map((_, i) => (i === rows.length - 1 && !lastEnded ? '' : endings[i])),
    bom,
  }));

/** RFC 4180 text for a document: quotes exactly where a cell needs them. */
export function writeCsv(doc: CsvDocument): Uint8Array {
  let text = '';
  doc.rows.forEach((row, r) => {
    text += row
      .map((cell, c) => {
        const quote =
          /[",\r\n]/.test(cell) ||
          // A lone empty cell would be a blank line, which is not a record.
          (row.length === 1 && cell === '') ||
          // Without a BOM of its own, a leading U+FEFF would be taken for one.
          (r === 0 && c === 0 && cell.startsWith('\uFEFF'));
        return quote ? `"${cell.replace(/"/g, '""')}"` : cell;
      })
      .join(',');
    text += doc.endings[r];
  });
  return concatBytes([doc.bom ? Uint8Array.of(0xef, 0xbb, 0xbf) : new Uint8Array(0), enc.encode(text)]);
}

// ---- lines around maxLineBytes, for the resynchronisation property ----

export interface LinesCase {
  readonly max: number;
  /** `short` lines are plain cells; `long` ones any bytes but LF, longer than max. */
  readonly lines: { readonly kind: 'short' | 'long'; readonly bytes: Uint8Array }[];
  readonly lastEnded: boolean;
}

export const linesCaseArb: fc.Arbitrary<LinesCase> = fc.integer({ min: 1, max: 40 }).chain((max) =>
  fc.record({
    max: fc.constant(max),
    lines: fc.array(
      fc.oneof(
        fc
          .array(fc.constantFrom('a', 'b', '0', '9', ','), { minLength: 1, maxLength: max })
          .map((cs) => ({ kind: 'short' as const, bytes: enc.encode(cs.join('')) })),
        fc
          .tuple(
            // Lengths cluster at the limit, where a CRLF or a quote changes what the scan window holds.
            fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 * max + 3 })),
            fc.array(fc.constantFrom(0x22, 0x2c, 0x0d, 0x61, 0xff, 0x20), { minLength: 1, maxLength: 8 }),
            fc.boolean(),
          )
          .map(([over, alphabet, openQuote]) => {
            const n = max + over;
            const bytes = new Uint8Array(n);
            for (let i = 0; i < n; i++) bytes[i] = alphabet[(i * 7 + n) % alphabet.length];
            if (openQuote) bytes[0] = 0x22;
            // A trailing CR would be part of the line ending, making the content one byte shorter.
            if (bytes[n - 1] === 0x0d) bytes[n - 1] = 0x61;
            return { kind: 'long' as const, bytes };
          }),
      ),
      { maxLength: 10 },
    ),
    lastEnded: fc.boolean(),
  }),
);

export function writeLines(c: LinesCase): Uint8Array {
  const parts: Uint8Array[] = [];
  c.lines.forEach((l, i) => {
    parts.push(l.bytes);
    if (i < c.lines.length - 1 || c.lastEnded) parts.push(Uint8Array.of(0x0a));
  });
  return concatBytes(parts);
}

// ---- dataset schemas ----

const NAMES = ['a', 'b', 'c_1', 'x', 'Y', '_z', 'f9', 'longer_name'];
const BOUNDS = [-1e6, -1, -0.5, 0, 0.5, 1, 3, 100, 1e15, 1e-7];
const ENUM_VALUES = ['a', 'b', 'A', '', ' x', '1', 'true', 'NA', '"q"', 'a,b', 'é', '😀', 'x\ny'];
const MISSING_VALUES = ['', 'NA', 'null', '-', '?', 'N/A', '0', 'true', ' ', '"'];

function fieldArb(name: string): fc.Arbitrary<FieldSchema> {
  return fc
    .record({
      type: fc.constantFrom('number', 'integer', 'string', 'boolean') as fc.Arbitrary<FieldSchema['type']>,
      required: fc.option(fc.boolean(), { nil: undefined }),
      min: fc.option(fc.constantFrom(...BOUNDS), { nil: undefined }),
      max: fc.option(fc.constantFrom(...BOUNDS), { nil: undefined }),
      enumValues: fc.option(fc.uniqueArray(fc.constantFrom(...ENUM_VALUES), { minLength: 1, maxLength: 5 }), {
        nil: undefined,
      }),
    })
    .map(({ type, required, min, max, enumValues }) => {
      const constraints: NonNullable<FieldSchema['constraints']> = {};
      if (required !== undefined) constraints.required = required;
      if (type === 'number' || type === 'integer') {
        const lo = min !== undefined && max !== undefined ? Math.min(min, max) : min;
        const hi = min !== undefined && max !== undefined ? Math.max(min, max) : max;
        if (lo !== undefined) constraints.minimum = lo;
        if (hi !== undefined) constraints.maximum = hi;
      }
      if (type === 'string' && enumValues) constraints.enum = enumValues;
      return { name, type, constraints };
    });
}

/** A valid dataset schema with 2 to 6 fields of every kind, odd enums and missing values included. */
export const schemaArb: fc.Arbitrary<DatasetSchema> = fc
  .uniqueArray(fc.constantFrom(...NAMES), { minLength: 2, maxLength: 6 })
  .chain((names) =>
    fc.tuple(
      fc.tuple(...names.map(fieldArb)),
      fc.nat({ max: names.length - 1 }),
      fc.option(fc.uniqueArray(fc.constantFrom(...MISSING_VALUES), { maxLength: 4 }), { nil: undefined }),
    ),
  )
  .map(([fields, t, missingValues]) => {
    const target = fields[t];
    // A string target needs its classes.
    if (target.type === 'string' && !target.constraints?.enum)
      fields[t] = { ...target, constraints: { ...target.constraints, enum: ['lo', 'hi'] } };
    // Booleans are curated as true/false, so a schema with boolean fields cannot have those as missing values.
    const hasBoolean = fields.some((f) => f.type === 'boolean');
    const missing = missingValues?.filter((v) => !hasBoolean || (v !== 'true' && v !== 'false'));
    return parseDatasetSchema({
      name: 'fuzz',
      target: target.name,
      fields,
      ...(missing ? { missingValues: missing } : {}),
    });
  });

/** The project's own dataset schema (cdk.json), the one real files are checked against. */
export function projectSchema(): DatasetSchema {
  const cdk = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as {
    context: { devmlops: { dataset: unknown } };
  };
  return parseDatasetSchema(cdk.context.devmlops.dataset);
}

/** The default config input in cdk.json. */
export function projectConfigInput(): Record<string, unknown> {
  const cdk = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as {
    context: { devmlops: Record<string, unknown> };
  };
  return structuredClone(cdk.context.devmlops);
}

// ---- structured-but-wrong CSV files for a schema ----

const WRONG_NUMBERS = [
  'abc',
  '1.5',
  '1e3',
  '0x10',
  'Infinity',
  '-Infinity',
  'NaN',
  '',
  ' 1',
  '1 ',
  '+1',
  '-',
  '.',
  '1.',
  '.5',
  '1e400',
  '-1e400',
  '-0',
  '00012',
  '123456789012345678901234567890',
  '0.1234567890123456789',
  '1e-400',
  '1e22',
  '1e23',
  '9007199254740993',
  '1,5',
  '١',
];

function cellCandidates(f: FieldSchema, schema: DatasetSchema): fc.Arbitrary<string> {
  const c = f.constraints ?? {};
  const lo = c.minimum ?? -1e6;
  const hi = c.maximum ?? 1e6;
  const valid: fc.Arbitrary<string>[] = [];
  switch (f.type) {
    case 'integer': {
      const a = Math.ceil(Math.max(lo, -1e9));
      const b = Math.floor(Math.min(hi, 1e9));
      // Bounds like [0.5, 0.5] hold no integer at all.
      valid.push(a <= b ? fc.integer({ min: a, max: b }).map(String) : fc.constant(String(a)));
      break;
    }
    case 'number': {
      const a = Math.max(lo, -1e9);
      const b = Math.min(hi, 1e9);
      valid.push(
        a <= b
          ? fc.double({ min: a, max: b, noNaN: true, noDefaultInfinity: true }).map(String)
          : fc.constant(String(lo)),
      );
      break;
    }
    case 'boolean':
      valid.push(fc.constantFrom('true', 'false', '1', '0', 'TRUE', 'False', 'tRuE'));
      break;
    default:
      valid.push(c.enum ? fc.constantFrom(...c.enum) : fc.string({ maxLength: 6 }));
  }
  const boundaries = [lo, hi, lo - 1, hi + 1, lo - 0.5, hi + 0.5].filter(Number.isFinite).map(String);
  return fc.oneof(
    { weight: 30, arbitrary: fc.oneof(...valid) },
    { weight: 1, arbitrary: fc.constantFrom(...boundaries) },
    { weight: 2, arbitrary: fc.constantFrom(...WRONG_NUMBERS, 'yes', 'no', 'TRUE ', 'A', 'b', 'é') },
    { weight: 1, arbitrary: fc.constantFrom(...schema.missingValues, '') },
    { weight: 1, arbitrary: fc.constantFrom(...ENUM_VALUES) },
  );
}

/** How a cell is written: as it is, properly quoted, or with a quote where RFC 4180 forbids one. */
function writeCell(value: string, style: number): string {
  switch (style) {
    case 1:
      return `"${value.replace(/"/g, '""')}"`;
    case 2:
      return `${value}"`;
    case 3:
      return `"${value}"x`;
    default:
      // As it is, unless that would change the record's shape: then quoted after all.
      return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
  }
}

const cellStyleArb = fc.oneof(
  { weight: 40, arbitrary: fc.constant(0) },
  { weight: 6, arbitrary: fc.constant(1) },
  { weight: 1, arbitrary: fc.constantFrom(2, 3) },
);

function rowArb(schema: DatasetSchema): fc.Arbitrary<Uint8Array> {
  const n = schema.fields.length;
  const cells = fc.tuple(...schema.fields.map((f) => fc.tuple(cellCandidates(f, schema), cellStyleArb)));
  return fc
    .tuple(
      cells,
      // Wrong column counts: cut or padded.
      fc.oneof(
        { weight: 10, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: -n, max: 3 }) },
      ),
      fc.constantFrom('\n', '\n', '\n', '\n', '\n', '\n', '\r\n', '\r\n', '\r\n', '\r', ''),
      fc.oneof(
        { weight: 30, arbitrary: fc.constant<number[]>([]) },
        { weight: 1, arbitrary: fc.constantFrom(...BYTE_TOKENS.filter((t) => !t.includes(0x0a))) },
      ),
    )
    .map(([cs, delta, ending, inject]) => {
      let texts = cs.map(([v, style]) => writeCell(v, style));
      if (delta < 0) texts = texts.slice(0, n + delta);
      else for (let k = 0; k < delta; k++) texts.push('extra');
      const line = enc.encode(texts.join(','));
      if (inject.length === 0) return concatBytes([line, enc.encode(ending)]);
      // A hostile byte sequence somewhere in the row.
      const at = (line.length * 7) % (line.length + 1);
      return concatBytes([
        line.subarray(0, at),
        Uint8Array.from(inject),
        line.subarray(at),
        enc.encode(ending),
      ]);
    });
}

function headerArb(schema: DatasetSchema): fc.Arbitrary<Uint8Array> {
  const names = schema.fields.map((f) => f.name);
  return fc
    .oneof(
      { weight: 40, arbitrary: fc.constant(names.join(',')) },
      { weight: 1, arbitrary: fc.constant(names.map((s) => `"${s}"`).join(',')) },
      { weight: 1, arbitrary: fc.constant([...names].reverse().join(',')) },
      { weight: 1, arbitrary: fc.constant(names.filter((s) => s !== schema.target).join(',')) },
      { weight: 1, arbitrary: fc.constant([...names, 'extra'].join(',')) },
      { weight: 1, arbitrary: fc.constant('') },
    )
    .chain((h) =>
      fc
        .tuple(fc.constantFrom('\n', '\r\n'), fc.integer({ min: 0, max: 10 }))
        .map(([e, bom]) =>
          concatBytes([bom === 0 ? Uint8Array.of(0xef, 0xbb, 0xbf) : new Uint8Array(0), enc.encode(h + e)]),
        ),
    );
}

/** A CSV file for `schema`: a header (mostly right), rows (mostly valid), blank and garbage lines. */
export function csvFileArb(schema: DatasetSchema): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      headerArb(schema),
      fc.array(
        fc.oneof(
          { weight: 20, arbitrary: rowArb(schema) },
          { weight: 1, arbitrary: fc.constant(Uint8Array.of(0x0a)) },
          { weight: 1, arbitrary: hostileBytesArb },
        ),
        { maxLength: 25 },
      ),
    )
    .map(([h, rows]) => concatBytes([h, ...rows]));
}

export const validationOptionsArb = fc.record({
  maxInvalidRowFraction: fc.oneof(
    fc.constantFrom(0, 0.05, 0.5, 1),
    fc.double({ min: 0, max: 1, noNaN: true }),
  ),
  maxLineBytes: fc.oneof(
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 80 }) },
    { weight: 6, arbitrary: fc.constant(1 << 20) },
  ),
  maxReportedErrors: fc.option(fc.constantFrom(0, 1, 3, 100), { nil: undefined }),
});

// ---- capture files ----

const ENCODINGS = ['CSV', 'JSON', 'BASE64', 'csv', 'Base64', 'json', 'UTF8', '', 'gzip', 'CSV ', 'BASE-64'];
const CONTENT_TYPES = [
  'text/csv',
  'application/json',
  'text/csv; charset=utf-8',
  'application/jsonlines',
  '',
];

const numberTextArb = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc.integer({ min: -3, max: 5 }).map(String),
  fc.constantFrom('1e999', '-1e999', '1e308', '4.9e-324', '-0', '0.5', '007', '1e', '-', '.5', 'NaN', ''),
);

/** A CSV payload row, from right to wrong: numbers, names of categories, too few or too many cells, quotes. */
const csvPayloadRowArb = fc
  .array(
    fc.oneof(numberTextArb, fc.constantFrom('a', 'b', 'c', 'true', 'False', 'zzz', ' 1 ', '"2"', '""', '1')),
    { minLength: 0, maxLength: 5 },
  )
  .map((cells) => cells.join(','));

const jsonValueArb = fc.jsonValue({ maxDepth: 3 });

/** One endpointInput or endpointOutput section, without its mode. */
interface Payload {
  data?: unknown;
  encoding?: string;
  observedContentType?: string;
}

/** A capture data payload: plain CSV, JSON rows, base64 of either, or garbage. */
const payloadArb: fc.Arbitrary<Payload> = fc.oneof<fc.Arbitrary<Payload>[]>(
  fc
    .array(csvPayloadRowArb, { minLength: 1, maxLength: 4 })
    .chain((rows) =>
      fc
        .constantFrom('\n', '\r\n')
        .map((nl) => ({ data: rows.join(nl) + nl, encoding: 'CSV', observedContentType: 'text/csv' })),
    ),
  fc
    .array(fc.array(fc.oneof(fc.double(), fc.constantFrom('a', 'b', null, true, 1e308)), { maxLength: 4 }), {
      maxLength: 3,
    })
    .chain((rows) =>
      fc.constantFrom<unknown>(
        rows,
        { instances: rows },
        { inputs: rows },
        { data: rows[0] ?? [] },
        rows[0] ?? [],
      ),
    )
    .chain((body) =>
      fc.oneof<fc.Arbitrary<Payload>[]>(
        fc.constant({
          data: JSON.stringify(body),
          encoding: 'JSON',
          observedContentType: 'application/json',
        }),
        fc.constant({ data: body, encoding: 'JSON' }),
        fc.constant({ data: Buffer.from(JSON.stringify(body)).toString('base64'), encoding: 'BASE64' }),
      ),
    ),
  fc
    .uint8Array({ maxLength: 40 })
    .map((b) => ({ data: Buffer.from(b).toString('base64'), encoding: 'BASE64' })),
  fc.string({ maxLength: 30 }).map((s) => ({ data: s, encoding: 'BASE64' })),
  fc.record(
    {
      data: fc.oneof(jsonValueArb, numberTextArb),
      encoding: fc.constantFrom(...ENCODINGS),
      observedContentType: fc.constantFrom(...CONTENT_TYPES),
    },
    { requiredKeys: [] },
  ),
);

/** Output payloads: scores as SageMaker's XGBoost writes them, and shapes it does not. */
const outputArb: fc.Arbitrary<Payload> = fc.oneof<fc.Arbitrary<Payload>[]>(
  fc
    .array(numberTextArb, { minLength: 1, maxLength: 4 })
    .map((xs) => ({ data: xs.join('\n'), encoding: 'CSV', observedContentType: 'text/csv; charset=utf-8' })),
  fc
    .oneof(
      fc.double(),
      fc.array(fc.double(), { maxLength: 3 }),
      fc.record({ predictions: fc.array(fc.record({ score: fc.double() }), { maxLength: 3 }) }),
      fc.record({ predicted_label: fc.integer(), probabilities: fc.array(fc.double(), { maxLength: 3 }) }),
      jsonValueArb,
    )
    .chain((v) =>
      fc.constantFrom<Payload>(
        // JSON.stringify turns infinities into null: write them as the over-range literals they come from.
        { data: JSON.stringify(v).replace(/null/g, '1e999'), encoding: 'JSON' },
        { data: v, encoding: 'JSON' },
      ),
    ),
  payloadArb,
);

/** One capture line: a SageMaker Data Capture record, often with a part of the wrong shape or type. */
const captureLineArb: fc.Arbitrary<string> = fc
  .record({
    input: fc.option(payloadArb, { nil: undefined }),
    output: fc.option(outputArb, { nil: undefined }),
    wrongCaptureData: fc.option(jsonValueArb, { freq: 8, nil: undefined }),
    extra: fc.option(fc.dictionary(fc.string({ maxLength: 4 }), jsonValueArb, { maxKeys: 2 }), {
      nil: undefined,
    }),
    spacing: fc.constantFrom(0, 0, 0, 1),
  })
  .map(({ input, output, wrongCaptureData, extra, spacing }) => {
    const captureData: Record<string, unknown> = { ...extra };
    if (input) captureData.endpointInput = { mode: 'INPUT', ...input };
    if (output) captureData.endpointOutput = { mode: 'OUTPUT', ...output };
    return JSON.stringify(
      {
        captureData: wrongCaptureData ?? captureData,
        eventMetadata: { eventId: 'e', inferenceTime: '2026-01-01T12:00:00Z' },
        eventVersion: '0',
      },
      null,
      spacing === 1 ? ' ' : undefined,
    ).replace(/\n/g, ' ');
  });

/** A line broken on purpose: cut short, with a character dropped or added, or not JSON at all. */
const brokenLineArb: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(captureLineArb, fc.nat()).map(([l, k]) => l.slice(0, k % (l.length + 1))),
  fc
    .tuple(captureLineArb, fc.nat(), fc.constantFrom('"', '\\', '{', '}', ',', ':', '\u0000', '\\u12', 'é'))
    .map(([l, k, ch]) => {
      const at = k % (l.length + 1);
      return l.slice(0, at) + ch + l.slice(at);
    }),
  fc.string({ maxLength: 60 }),
  fc.constantFrom('', ' ', '\r', '\uFEFF', '{}', '[]', 'null', '{"captureData":null}', '{"captureData":{}}'),
);

export interface CaptureCase {
  /** Which feature spec the parser reads with: 0 the three-feature one, 1 the project's. */
  readonly spec: 0 | 1;
  readonly bytes: Uint8Array;
  readonly maxLineChars: number | undefined;
}

export const captureCaseArb: fc.Arbitrary<CaptureCase> = fc
  .record({
    spec: fc.constantFrom<0 | 1>(0, 1),
    lines: fc.array(
      fc.oneof({ weight: 3, arbitrary: captureLineArb }, { weight: 1, arbitrary: brokenLineArb }),
      {
        maxLength: 12,
      },
    ),
    newline: fc.constantFrom('\n', '\r\n'),
    trailing: fc.boolean(),
    bom: fc.boolean(),
    garbage: fc.option(hostileBytesArb, { freq: 6, nil: undefined }),
    maxLineChars: fc.option(fc.integer({ min: 1, max: 400 }), { freq: 3, nil: undefined }),
  })
  .map(({ spec, lines, newline, trailing, bom, garbage, maxLineChars }) => {
    const text = lines.join(newline) + (trailing ? newline : '');
    const parts: Uint8Array[] = [bom ? Uint8Array.of(0xef, 0xbb, 0xbf) : new Uint8Array(0), enc.encode(text)];
    if (garbage) parts.splice(1 + (lines.length % 2), 0, garbage);
    return { spec, bytes: concatBytes(parts), maxLineChars };
  });

// ---- configs ----

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path into a JSON value (objects and arrays), the root included. */
export function jsonPaths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...jsonPaths(x, [...prefix, i])));
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) out.push(...jsonPaths(x, [...prefix, k]));
  return out;
}

/** Keys the default config leaves out, so that mutations reach them too. */
const OPTIONAL_PATHS: (string | number)[][] = [
  ['training', 'schedule'],
  ['training', 'trainOnNewData'],
  ['training', 'useSpot'],
  ['training', 'maxWaitSeconds'],
  ['training', 'hyperparameters'],
  ['training', 'metric', 'minimum'],
  ['endpoint', 'type'],
  ['endpoint', 'serverlessMemoryMb'],
  ['inference', 'threshold'],
  ['inference', 'maxBatchSize'],
  ['monitoring', 'featureThresholds'],
  ['monitoring', 'schedule'],
  ['notificationEmail'],
  ['dataset', 'problem'],
];

const oddValueArb: fc.Arbitrary<unknown> = fc.oneof(
  jsonValueArb,
  fc.constantFrom<unknown>(
    -1,
    0,
    -0,
    0.5,
    1,
    1e9,
    1e308,
    Number.NaN,
    Infinity,
    -Infinity,
    '',
    'true',
    '1',
    'rate(1 hour)',
    'cron(',
    'serverless',
    'destroy',
    'a@b.co',
    [],
    {},
    null,
    undefined,
    { __proto__: { polluted: true } },
    JSON.parse('{"__proto__": {"polluted": true}}'),
    'x'.repeat(10000),
    'rate(' + ')'.repeat(5000),
  ),
);

export type Mutation =
  | { op: 'set'; path: (string | number)[]; value: unknown }
  | { op: 'delete'; path: (string | number)[] }
  | { op: 'add'; path: (string | number)[]; key: string; value: unknown };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    op: fc.constant('set' as const),
    path: fc.oneof(
      fc.constantFrom(...jsonPaths(projectConfigInput()).slice(1)),
      fc.constantFrom(...OPTIONAL_PATHS),
    ),
    value: oddValueArb,
  }),
  fc.record({
    op: fc.constant('delete' as const),
    path: fc.constantFrom(...jsonPaths(projectConfigInput()).slice(1)),
  }),
  fc.record({
    op: fc.constant('add' as const),
    path: fc.constantFrom(...jsonPaths(projectConfigInput()).filter((p) => p.length <= 2)),
    key: fc.constantFrom('extra', 'Project', '__proto__', 'constructor', 'toString', ''),
    value: oddValueArb,
  }),
);

/** Applies a mutation to a fresh copy; a path through a non-object is created as objects. */
export function mutate(config: Record<string, unknown>, m: Mutation): Record<string, unknown> {
  const root = structuredClone(config) as Record<string, unknown>;
  let parent: Record<string | number, unknown> = root;
  const steps = m.op === 'add' ? [...m.path, m.key] : m.path;
  for (let i = 0; i < steps.length - 1; i++) {
    const next = parent[steps[i]];
    if (next === null || typeof next !== 'object') parent[steps[i]] = {};
    parent = parent[steps[i]] as Record<string | number, unknown>;
  }
  const last = steps[steps.length - 1];
  if (m.op === 'delete') {
    if (Array.isArray(parent) && typeof last === 'number') {
      if (last >= parent.length) return root;
      // By hand: splice would look up parent.constructor, which an earlier mutation may have replaced.
      for (let i = last; i < parent.length - 1; i++) parent[i] = parent[i + 1];
      parent.length = Math.max(0, parent.length - 1);
    } else delete parent[last];
  } else
    Object.defineProperty(parent, last, {
      value: m.value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return root;
}

export type { Json };
