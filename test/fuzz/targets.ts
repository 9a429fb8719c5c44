import fc from 'fast-check';
import { CaptureParser, type CaptureStats } from '../../lambdas/core/capture';
import { CsvReader, fieldText, type CsvRecord, type ReaderErrorCode } from '../../lambdas/core/csv';
import { featureSpec, type FeatureSpec } from '../../lambdas/core/encoding';
import { ERROR_CODES, type ValidationOptions, type ValidationReport } from '../../lambdas/core/report';
import { parseDatasetSchema, SchemaError, type DatasetSchema } from '../../lambdas/core/schema';
import { FileValidator } from '../../lambdas/core/validate';
import { CONFIG_CONTEXT_KEY, loadConfig, parseConfig } from '../../lib/config';
import {
  captureCaseArb,
  csvDocumentArb,
  csvFileArb,
  cutsArb,
  hostileBytesArb,
  linesCaseArb,
  maxLineBytesArb,
  mutate,
  mutationArb,
  projectConfigInput,
  projectSchema,
  schemaArb,
  splitAt,
  validationOptionsArb,
  writeCsv,
  writeLines,
  type Mutation,
} from './arbitraries';
import { referenceValidate } from './reference';

/**
 * The fuzz targets: each a fast-check property over one parser, shared by the test run (fixed seeds, a few
 * hundred cases each: test/fuzz/*.test.ts) and the longer campaign (`npm run fuzz`, bench/fuzz.ts).
 *
 * Every property also bounds the time of each case (a hang or a super-linear blow-up fails it) and, where a
 * reader keeps state between chunks, the memory it keeps.
 */

export interface FuzzTarget {
  readonly name: string;
  /** What is generated and what must hold. */
  readonly description: string;
  /** A fresh property. */
  property(): fc.IRawProperty<unknown[], false>;
  /** Cases in the normal test run. */
  readonly testRuns: number;
}

/** Time and case counts of the properties run in this process (the campaign reports them). */
export const caseStats = { cases: 0, maxCaseMs: 0, slowest: '' };

/** Called as each case starts: the campaign records where it is, so that a hang can be replayed. */
export const caseHooks: { onStart?: () => void } = {};

/** A case slower than this fails: nothing here should take more than a few milliseconds. */
let caseLimitMs = 5000;
export function setCaseLimitMs(ms: number): void {
  caseLimitMs = ms;
}

/** Wraps a predicate: counts the case, times it, and fails it when it runs over the limit. */
function timed<Ts extends unknown[]>(
  target: string,
  predicate: (...args: Ts) => void,
): (...args: Ts) => void {
  return (...args: Ts) => {
    caseHooks.onStart?.();
    const t0 = performance.now();
    predicate(...args);
    const ms = performance.now() - t0;
    caseStats.cases++;
    if (ms > caseStats.maxCaseMs) {
      caseStats.maxCaseMs = ms;
      caseStats.slowest = target;
    }
    if (ms > caseLimitMs)
      throw new Error(`${target}: one case took ${ms.toFixed(0)} ms (limit ${caseLimitMs} ms)`);
  };
}

/** A property failure with a readable message (fast-check reports it with the counterexample). */
function check(ok: boolean, message: () => string): void {
  if (!ok) throw new Error(message());
}

function same(a: unknown, b: unknown, what: string): void {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  check(x === y, () => `${what} differ:\n  ${x.slice(0, 600)}\n  ${y.slice(0, 600)}`);
}

// ---- CsvReader ----

interface ReadRecord {
  no: number;
  error: ReaderErrorCode | null;
  terminator: number;
  /** Each field's bytes (latin1) and flags. */
  fields: string[];
}

const READER_CODES: readonly (ReaderErrorCode | null)[] = [null, 'quote', 'encoding', 'line-too-long'];

/**
 * Reads the chunks and checks what holds for any input: only the reader's own codes, increasing record
 * numbers, no delivered record over maxLineBytes, and at most maxLineBytes + 2 bytes kept between chunks.
 */
function readAll(chunks: readonly Uint8Array[], maxLineBytes: number): ReadRecord[] {
  const out: ReadRecord[] = [];
  let last = 0;
  const reader = new CsvReader({ maxLineBytes }, (rec: CsvRecord) => {
    check(READER_CODES.includes(rec.error), () => `unknown reader error ${String(rec.error)}`);
    check(rec.no > last, () => `record numbers not increasing: ${rec.no} after ${last}`);
    last = rec.no;
    if (rec.error === 'line-too-long') check(rec.count === 0, () => 'a too-long record has fields');
    else {
      check(rec.count >= 1, () => 'a record without fields');
      check(
        rec.end - rec.start <= maxLineBytes,
        () => `a record of ${rec.end - rec.start} > ${maxLineBytes} bytes`,
      );
    }
    check([0, 1, 2].includes(rec.terminator), () => `terminator ${rec.terminator}`);
    const fields: string[] = [];
    for (let i = 0; i < rec.count; i++)
      fields.push(
        `${rec.flags[i]}:${Buffer.from(rec.buf.subarray(rec.starts[i], rec.ends[i])).toString('latin1')}`,
      );
    out.push({ no: rec.no, error: rec.error, terminator: rec.terminator, fields });
  });
  // White-box: the carry buffer is the only memory the reader keeps between chunks.
  const carried = () => (reader as unknown as { carry: Uint8Array }).carry.length;
  for (const c of chunks) {
    reader.push(c);
    check(carried() <= maxLineBytes + 2, () => `the reader keeps ${carried()} bytes > maxLineBytes + 2`);
  }
  reader.end();
  check(last <= reader.records, () => 'a record numbered past the count');
  return out;
}

const csvReader: FuzzTarget = {
  name: 'csv-reader',
  description:
    'CsvReader over arbitrary bytes (invalid UTF-8, quotes, CR/LF mixes, BOMs, long runs) in arbitrary chunks: ' +
    'never throws, only reader codes, bounded carry, same records whatever the chunking',
  testRuns: 2000,
  property: () =>
    fc.property(
      hostileBytesArb,
      maxLineBytesArb,
      cutsArb,
      timed('csv-reader', (bytes: Uint8Array, max: number, cuts: number[]) => {
        const whole = readAll([bytes], max);
        const chunked = readAll(splitAt(bytes, cuts), max);
        same(chunked, whole, 'records read in chunks and at once');
      }),
    ),
};

const csvRoundTrip: FuzzTarget = {
  name: 'csv-roundtrip',
  description:
    'RFC 4180 text written from random cells (commas, quotes, CR, LF, emoji, U+FEFF), LF or CRLF, with or ' +
    'without a BOM and a final line ending, read back in arbitrary chunks: the same cells, no error',
  testRuns: 1000,
  property: () =>
    fc.property(
      csvDocumentArb,
      cutsArb,
      timed('csv-roundtrip', (doc, cuts: number[]) => {
        const got: { fields: string[]; error: string | null; terminator: number }[] = [];
        const reader = new CsvReader({ maxLineBytes: 1 << 20 }, (rec) => {
          const fields: string[] = [];
          for (let i = 0; i < rec.count; i++) fields.push(fieldText(rec, i));
          got.push({ fields, error: rec.error, terminator: rec.terminator });
        });
        for (const c of splitAt(writeCsv(doc), cuts)) reader.push(c);
        reader.end();
        same(
          got,
          doc.rows.map((fields, i) => ({
            fields,
            error: null,
            terminator: doc.endings[i] === '\r\n' ? 2 : doc.endings[i] === '\n' ? 1 : 0,
          })),
          'cells read back and written',
        );
      }),
    ),
};

const csvLongLines: FuzzTarget = {
  name: 'csv-long-lines',
  description:
    'lines longer than maxLineBytes (any bytes but LF, open quotes, lengths at the limit) between plain lines, ' +
    'in arbitrary chunks: each long line is one line-too-long record and every plain line after it is read intact',
  testRuns: 2000,
  property: () =>
    fc.property(
      linesCaseArb,
      cutsArb,
      timed('csv-long-lines', (c, cuts: number[]) => {
        const got = readAll(splitAt(writeLines(c), cuts), c.max);
        const expected = c.lines.map((l) =>
          l.kind === 'long'
            ? 'line-too-long'
            : new TextDecoder()
                .decode(l.bytes)
                .split(',')
                .map((f) => `0:${f}`)
                .join('|'),
        );
        same(
          got.map((r) => r.error ?? r.fields.join('|')),
          expected,
          'records and lines',
        );
      }),
    ),
};

// ---- FileValidator ----

interface Validated {
  report: ValidationReport;
  valid: string;
  invalid: string;
}

function validate(
  schema: DatasetSchema,
  options: ValidationOptions,
  chunks: readonly Uint8Array[],
): Validated {
  let valid = '';
  let invalid = '';
  const latin1 = (b: Uint8Array, s: number, e: number) => Buffer.from(b.subarray(s, e)).toString('latin1');
  const v = new FileValidator(schema, options, {
    valid: (b, s, e) => {
      check(e > s && b[e - 1] === 10, () => 'a curated row that does not end in LF');
      valid += latin1(b, s, e);
    },
    invalid: (b, s, e) => {
      check(e > s && b[e - 1] === 10, () => 'a quarantined row that does not end in LF');
      invalid += latin1(b, s, e);
    },
  });
  for (const c of chunks) v.push(c);
  return { report: v.end(), valid, invalid };
}

const FIELD_CODES = new Set(['type', 'required', 'minimum', 'maximum', 'enum']);
const FILE_CODES = new Set(['header', 'empty']);

/** What every validation report satisfies (DESIGN.md section 9, lambdas/core/report.ts). */
export function checkReport(r: ValidationReport, schema: DatasetSchema, options: ValidationOptions): void {
  const { total, valid, invalid } = r.rows;
  check(valid + invalid === total, () => `valid ${valid} + invalid ${invalid} != total ${total}`);
  check(
    [total, valid, invalid].every((x) => Number.isSafeInteger(x) && x >= 0),
    () => 'row counts',
  );
  let sum = 0;
  let fieldSum = 0;
  for (const [code, count] of Object.entries(r.errorCounts)) {
    check((ERROR_CODES as readonly string[]).includes(code), () => `undocumented error code ${code}`);
    check(Number.isSafeInteger(count) && (count ?? 0) > 0, () => `errorCounts.${code} = ${count}`);
    sum += count ?? 0;
    if (FIELD_CODES.has(code)) fieldSum += count ?? 0;
    if (FILE_CODES.has(code))
      check(count === 1 && r.status === 'quarantined', () => `${code} on an accepted file`);
  }
  check(sum >= invalid, () => `${invalid} invalid rows but only ${sum} errors`);
  const max = options.maxReportedErrors ?? 100;
  check(
    r.errors.length === Math.min(max, sum),
    () => `${r.errors.length} errors listed of ${sum}, cap ${max}`,
  );
  const names = schema.fields.map((f) => f.name);
  let prevRow = 0;
  for (const e of r.errors) {
    check((ERROR_CODES as readonly string[]).includes(e.code), () => `undocumented error code ${e.code}`);
    check(e.field === null || names.includes(e.field), () => `error on unknown field ${e.field}`);
    check((e.field !== null) === FIELD_CODES.has(e.code), () => `${e.code} with field ${e.field}`);
    check(Number.isSafeInteger(e.row) && e.row >= prevRow && e.row >= 1, () => `error rows out of order`);
    check(typeof e.message === 'string' && e.message.length > 0, () => 'an error without a message');
    prevRow = e.row;
  }
  check(JSON.stringify(Object.keys(r.fields)) === JSON.stringify(names), () => 'fields are not the schema');
  schema.fields.forEach((f) => {
    const s = r.fields[f.name];
    fieldSum -= s.invalid;
    // A missing cell of a required field is both missing and invalid.
    check(
      s.missing >= 0 && s.invalid >= 0 && s.missing <= total && s.invalid <= total,
      () => `stats of ${f.name}`,
    );
    if (s.min !== undefined || s.max !== undefined) {
      check(f.type === 'number' || f.type === 'integer', () => `min/max on ${f.type} field ${f.name}`);
      const lo = f.constraints?.minimum ?? -Infinity;
      const hi = f.constraints?.maximum ?? Infinity;
      check(lo <= s.min! && s.min! <= s.max! && s.max! <= hi, () => `min/max of ${f.name} out of bounds`);
    }
  });
  check(fieldSum === 0, () => 'field invalid counts do not add up to the field-level errors');
  if (r.status === 'accepted') {
    check(r.reason === undefined && total > 0, () => 'an accepted report with a reason or no rows');
    check(invalid / total <= options.maxInvalidRowFraction, () => 'accepted above the invalid-row limit');
  } else check(typeof r.reason === 'string' && r.reason.length > 0, () => 'quarantined without a reason');
}

/** Every output row reads back as one record: n cells curated, n + 1 quarantined. */
function checkOutputRows(text: string, cells: number): void {
  if (text === '') return;
  const bytes = Buffer.from(text, 'latin1');
  readAll([bytes], bytes.length + 1).forEach((r) => {
    check(r.error === null || r.error === 'encoding', () => `an output row reads back with ${r.error}`);
    check(r.fields.length === cells, () => `an output row has ${r.fields.length} cells, not ${cells}`);
  });
}

const schemaOrProject: fc.Arbitrary<DatasetSchema> = fc.oneof(schemaArb, fc.constant(projectSchema()));

const validatorDifferential: FuzzTarget = {
  name: 'validator',
  description:
    'FileValidator over structured-but-wrong files (wrong column counts, types, ranges, enums, quotes, BOMs, CR ' +
    'endings, bad headers, garbage lines) for random schemas, in arbitrary chunks: report invariants hold, and ' +
    'report and output equal a naive reference validator; curated output re-validates to itself',
  testRuns: 1000,
  property: () =>
    fc.property(
      schemaOrProject.chain((schema) =>
        fc.tuple(fc.constant(schema), csvFileArb(schema), validationOptionsArb, cutsArb),
      ),
      timed('validator', ([schema, bytes, options, cuts]) => {
        const got = validate(schema, options, splitAt(bytes, cuts));
        checkReport(got.report, schema, options);
        const ref = referenceValidate(schema, options, bytes);
        const max = options.maxReportedErrors ?? 100;
        same(
          {
            status: got.report.status,
            rows: got.report.rows,
            errorCounts: got.report.errorCounts,
            errors: got.report.errors.map((e) => ({ row: e.row, field: e.field, code: e.code })),
            fields: got.report.fields,
            valid: got.valid,
            invalid: got.invalid,
          },
          { ...ref, errors: ref.errors.slice(0, max) },
          'validator and reference',
        );
        const n = schema.fields.length;
        checkOutputRows(got.valid, n);
        checkOutputRows(got.invalid, n + 1);
        // Curated rows are a fixpoint when "" is a missing value (the default), as curated writes missing cells
        // empty: validated again, they are all valid and come out byte for byte.
        if (got.report.rows.valid > 0 && schema.missingValues.includes('')) {
          const again = validate(schema, { ...options, maxLineBytes: 1 << 20 }, [
            Buffer.from(schema.fields.map((f) => f.name).join(',') + '\n' + got.valid, 'latin1'),
          ]);
          same(
            again.report.rows,
            { total: got.report.rows.valid, valid: got.report.rows.valid, invalid: 0 },
            'rows',
          );
          check(again.valid === got.valid, () => 'curated rows change when validated again');
        }
      }),
    ),
};

const validatorBytes: FuzzTarget = {
  name: 'validator-bytes',
  description:
    'FileValidator over a right header followed by arbitrary bytes, in arbitrary chunks: never throws, the ' +
    'report invariants hold, every output row reads back as one CSV record of the right width',
  testRuns: 800,
  property: () =>
    fc.property(
      schemaOrProject,
      hostileBytesArb,
      validationOptionsArb,
      cutsArb,
      timed('validator-bytes', (schema: DatasetSchema, body: Uint8Array, options, cuts: number[]) => {
        const header = new TextEncoder().encode(schema.fields.map((f) => f.name).join(',') + '\n');
        const bytes = Buffer.concat([header, body]);
        const whole = validate(schema, options, [bytes]);
        checkReport(whole.report, schema, options);
        checkOutputRows(whole.valid, schema.fields.length);
        checkOutputRows(whole.invalid, schema.fields.length + 1);
        same(validate(schema, options, splitAt(bytes, cuts)), whole, 'chunked and whole validation');
      }),
    ),
};

// ---- CaptureParser ----

const CAPTURE_SPECS: readonly FeatureSpec[] = [
  featureSpec(
    parseDatasetSchema({
      name: 'cap',
      target: 'y',
      fields: [
        { name: 'x', type: 'number' },
        { name: 'c', type: 'string', constraints: { enum: ['a', 'b', 'c'] } },
        { name: 'f', type: 'boolean' },
        { name: 'y', type: 'string', constraints: { enum: ['lo', 'mid', 'hi'] } },
      ],
    }),
  ),
  featureSpec(projectSchema()),
];

interface Captured {
  rows: number[][];
  predictions: number[];
  stats: CaptureStats;
}

function parseCaptureChunks(
  spec: FeatureSpec,
  chunks: readonly (Uint8Array | string)[],
  maxLineChars: number | undefined,
): Captured {
  const rows: number[][] = [];
  const predictions: number[] = [];
  const p = new CaptureParser(
    spec,
    {
      addRow: (r) => rows.push(Array.from(r)),
      addPrediction: (v) => predictions.push(v),
    },
    maxLineChars !== undefined ? { maxLineChars } : {},
  );
  for (const c of chunks) p.push(c);
  return { rows, predictions, stats: p.end() };
}

/** Lines that are neither blank nor within the line limit are malformed; the rest are records or malformed. */
function lineCounts(text: string, maxLineChars: number): { nonBlank: number } {
  let nonBlank = 0;
  for (const line of text.split('\n'))
    if (line.length > maxLineChars || /[^ \t\r\uFEFF]/.test(line)) nonBlank++;
  return { nonBlank };
}

const capture: FuzzTarget = {
  name: 'capture',
  description:
    'CaptureParser over Data Capture lines with wrong shapes, types and encodings, base64 garbage, cut and ' +
    'corrupted lines, invalid UTF-8, in arbitrary byte chunks: never throws, every non-blank line is a record or ' +
    'counted malformed, rows have one value per feature in its domain, outputs are finite, chunking changes nothing',
  testRuns: 1500,
  property: () =>
    fc.property(
      captureCaseArb,
      cutsArb,
      timed('capture', (c, cuts: number[]) => {
        const spec = CAPTURE_SPECS[c.spec];
        const whole = parseCaptureChunks(spec, [c.bytes], c.maxLineChars);
        const s = whole.stats;
        const text = new TextDecoder().decode(c.bytes);
        const { nonBlank } = lineCounts(text, c.maxLineChars ?? 16 * 1024 * 1024);
        check(
          s.records + s.malformedLines === nonBlank,
          () => `${s.records} records + ${s.malformedLines} malformed != ${nonBlank} non-blank lines`,
        );
        check(
          s.rows === whole.rows.length && s.predictions === whole.predictions.length,
          () => 'stats counts',
        );
        for (const v of Object.values(s)) check(Number.isSafeInteger(v) && v >= 0, () => 'a negative count');
        for (const row of whole.rows) {
          check(row.length === spec.features.length, () => `a row of ${row.length} values`);
          spec.features.forEach((f, i) => {
            const v = row[i];
            const k = f.type === 'boolean' ? 2 : (f.categories?.length ?? 0);
            const ok =
              Number.isNaN(v) ||
              (f.type === 'number' || f.type === 'integer'
                ? Number.isFinite(v)
                : Number.isInteger(v) && v >= 0 && v <= k);
            check(ok, () => `${f.name} (${f.type}) decoded as ${v}`);
          });
        }
        for (const v of whole.predictions) check(Number.isFinite(v), () => `a prediction of ${v}`);
        same(
          parseCaptureChunks(spec, splitAt(c.bytes, cuts), c.maxLineChars),
          whole,
          'chunked and whole parse',
        );
        // The same text pushed as strings cut anywhere (even inside a surrogate pair) reads the same.
        const cutsInText = cuts.map((x) => x % (text.length + 1)).sort((a, b) => a - b);
        const pieces = [0, ...cutsInText].map((from, i) => text.slice(from, cutsInText[i] ?? text.length));
        same(parseCaptureChunks(spec, pieces, c.maxLineChars), whole, 'string chunks and bytes');
      }),
    ),
};

// ---- config ----

/** parseConfig's contract: a config, or a SchemaError naming every bad key under `devmlops`. */
function parseOrSchemaError(raw: unknown): { config?: ReturnType<typeof parseConfig>; error?: SchemaError } {
  try {
    return { config: parseConfig(raw) };
  } catch (e) {
    check(
      e instanceof SchemaError,
      () => `parseConfig threw ${String(e)} (${(e as Error)?.constructor?.name})`,
    );
    const err = e as SchemaError;
    check(err.issues.length > 0, () => 'a SchemaError without issues');
    for (const i of err.issues) {
      check(
        i.path === CONFIG_CONTEXT_KEY || i.path.startsWith(`${CONFIG_CONTEXT_KEY}.`),
        () => `path ${i.path}`,
      );
      check(
        i.message.length > 0 && err.message.includes(i.path),
        () => `the message does not name ${i.path}`,
      );
    }
    return { error: err };
  }
}

/** An accepted config is a fixpoint of parseConfig, and its dataset schema builds a validator. */
function checkAccepted(config: ReturnType<typeof parseConfig>): void {
  same(parseConfig(JSON.parse(JSON.stringify(config))), config, 'a config parsed again');
  featureSpec(config.dataset);
  new FileValidator(
    config.dataset,
    {
      maxInvalidRowFraction: config.validation.maxInvalidRowFraction,
      maxLineBytes: config.validation.maxLineBytes,
    },
    { valid: () => undefined, invalid: () => undefined },
  ).end();
}

const configArbitrary: FuzzTarget = {
  name: 'config-json',
  description: 'parseConfig over arbitrary JSON values: a config or a SchemaError naming keys under devmlops',
  testRuns: 1000,
  property: () =>
    fc.property(
      fc.oneof(fc.jsonValue(), fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }))),
      timed('config-json', (raw: unknown) => {
        const r = parseOrSchemaError(raw);
        if (r.config) checkAccepted(r.config);
      }),
    ),
};

function section(path: readonly (string | number)[]): string {
  return `${CONFIG_CONTEXT_KEY}.${String(path[0])}`;
}

const configMutated: FuzzTarget = {
  name: 'config-mutated',
  description:
    'parseConfig over the default config with 1-3 mutations (values of other types and out of range, keys ' +
    'deleted or added, __proto__): a SchemaError that names the mutated section, or a config that is a ' +
    'fixpoint and builds a validator; Object.prototype stays clean',
  testRuns: 1000,
  property: () =>
    fc.property(
      fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
      timed('config-mutated', (mutations: Mutation[]) => {
        let raw = projectConfigInput();
        for (const m of mutations) raw = mutate(raw, m);
        const r = parseOrSchemaError(raw);
        check(!('polluted' in {}), () => 'Object.prototype was polluted');
        if (r.config) return checkAccepted(r.config);
        if (mutations.length === 1) {
          const m = mutations[0];
          const where = m.op === 'add' && m.path.length === 0 ? CONFIG_CONTEXT_KEY : section(m.path);
          check(
            r.error!.issues.some((i) => i.path === CONFIG_CONTEXT_KEY || i.path.startsWith(where)),
            () =>
              `${m.op} at ${m.path.join('.')} reported at ${r.error!.issues.map((i) => i.path).join(', ')}`,
          );
        }
      }),
    ),
};

const configContext: FuzzTarget = {
  name: 'config-context',
  description:
    'loadConfig with arbitrary context values for devmlops, devmlops:configFile and devmlops:destroy: a config, ' +
    'a SchemaError, or an Error that names the context key',
  testRuns: 500,
  property: () =>
    fc.property(
      fc.record(
        {
          [CONFIG_CONTEXT_KEY]: fc.oneof(fc.constant(projectConfigInput()), fc.jsonValue({ maxDepth: 2 })),
          'devmlops:configFile': fc.oneof(
            fc.constantFrom('', '/nonexistent/devmlops.json', 'cdk.json', '.', '\u0000'),
            fc.jsonValue({ maxDepth: 1 }),
          ),
          'devmlops:destroy': fc.oneof(
            fc.constantFrom('true', 'false', true, false, 'TRUE', ''),
            fc.jsonValue(),
          ),
        },
        { requiredKeys: [] },
      ),
      timed('config-context', (ctx: Record<string, unknown>) => {
        try {
          const config = loadConfig({ tryGetContext: (k) => ctx[k] });
          const destroy = ctx['devmlops:destroy'];
          if (destroy === true || destroy === 'true')
            check(config.dataLake.removalPolicy === 'destroy', () => 'the destroy flag was ignored');
        } catch (e) {
          check(e instanceof Error, () => `loadConfig threw a non-Error ${String(e)}`);
          const err = e as Error;
          check(
            err instanceof SchemaError || err.message.includes(CONFIG_CONTEXT_KEY),
            () => `an error that names no key: ${err.message}`,
          );
        }
      }),
    ),
};

const datasetSchema: FuzzTarget = {
  name: 'dataset-schema',
  description:
    'parseDatasetSchema over random and mutated schemas: a SchemaError, or a schema whose validator compiles ' +
    'and checks a row without throwing',
  testRuns: 1000,
  property: () =>
    fc.property(
      fc.oneof(
        schemaArb.map((s) => JSON.parse(JSON.stringify(s)) as unknown),
        fc.jsonValue({ maxDepth: 4 }),
        fc
          .tuple(
            schemaArb,
            fc.nat(),
            fc.constantFrom<unknown>(null, 1e308, -0, '', 'x', [], {}, ['a', 'a'], 'number'),
          )
          .map(([s, k, v]) => {
            const raw = JSON.parse(JSON.stringify(s)) as { fields: Record<string, unknown>[] };
            const f = raw.fields[k % raw.fields.length];
            const keys = ['name', 'type', 'constraints', 'description'];
            f[keys[k % keys.length]] = v;
            return raw as unknown;
          }),
      ),
      timed('dataset-schema', (raw: unknown) => {
        let schema: DatasetSchema;
        try {
          schema = parseDatasetSchema(raw);
        } catch (e) {
          check(e instanceof SchemaError, () => `parseDatasetSchema threw ${String(e)}`);
          return;
        }
        featureSpec(schema);
        const v = new FileValidator(
          schema,
          { maxInvalidRowFraction: 0.5, maxLineBytes: 1024 },
          { valid: () => undefined, invalid: () => undefined },
        );
        v.push(new TextEncoder().encode(schema.fields.map((f) => f.name).join(',') + '\n1,2,3\n'));
        checkReport(v.end(), schema, { maxInvalidRowFraction: 0.5, maxLineBytes: 1024 });
      }),
    ),
};

export const TARGETS: readonly FuzzTarget[] = [
  csvReader,
  csvRoundTrip,
  csvLongLines,
  validatorDifferential,
  validatorBytes,
  capture,
  configArbitrary,
  configMutated,
  configContext,
  datasetSchema,
];

export function target(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`unknown fuzz target ${name}; known: ${TARGETS.map((x) => x.name).join(', ')}`);
  return t;
}
