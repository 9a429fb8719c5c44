import type { ValidationSink } from './report';
import { FeatureCellEncoder, targetClasses, type FeatureSpec } from './encoding';
import { type DatasetSchema, type FieldSchema } from './schema';
import { EXACT_POWERS_OF_TEN, writeShortNumber } from './number-text';
import { FileValidator } from './validate';

/**
 * The inference API's pure core (issue 6), shared by the inference Lambda, the typed client and the local
 * runtime: request parsing, record validation with the data lake's FileValidator, model-input encoding,
 * decoding of the endpoint's answer, the API's error shapes and the Data Capture record builder. No I/O.
 */

// ---------------------------------------------------------------------------------------------------------
// Shapes of the API (POST /v1/predict)

export type RecordValue = string | number | boolean | null;
/** One record as an application sends it: field name -> value. An absent field is a missing value. */
export type InputRecord = Readonly<Record<string, RecordValue | undefined>>;

export interface BinaryPrediction {
  /** The class at `probability >= threshold`, by the feature spec's class names. */
  readonly label: string;
  /** The probability of the positive class (label 1). */
  readonly probability: number;
}

export interface MulticlassPrediction {
  /** The most probable class. */
  readonly label: string;
  readonly probabilities: Readonly<Record<string, number>>;
}

export interface RegressionPrediction {
  readonly value: number;
}

export type Prediction = BinaryPrediction | MulticlassPrediction | RegressionPrediction;

/** The 200 body. */
export interface PredictResponse {
  /** The model package version (`"3"` for `.../model-package/<group>/3`). */
  readonly modelVersion: string;
  readonly modelPackageArn: string;
  readonly predictions: Prediction[];
}

export const API_ERROR_CODES = [
  'invalid-request',
  'batch-too-large',
  'invalid-records',
  'no-model',
  'throttled',
  'model-error',
  'internal',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** One field error of one record (the data lake's error codes: type, required, minimum, maximum, enum...). */
export interface RecordError {
  /** 0-based index of the record in the request. */
  readonly record: number;
  /** The field, or null for an error of the whole record. */
  readonly field: string | null;
  readonly code: string;
  readonly message: string;
}

/** Every error body. */
export interface ApiErrorBody {
  readonly code: ApiErrorCode;
  readonly message: string;
  readonly errors?: readonly RecordError[];
}

const STATUS: Record<ApiErrorCode, number> = {
  'invalid-request': 400,
  'batch-too-large': 400,
  'invalid-records': 400,
  'no-model': 503,
  throttled: 429,
  'model-error': 502,
  internal: 500,
};

/** An answer other than 200, with the status its code implies. */
export class InferenceError extends Error {
  readonly status: number;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly errors?: readonly RecordError[],
  ) {
    super(message);
    this.name = 'InferenceError';
    this.status = STATUS[code];
  }

  body(): ApiErrorBody {
    return {
      code: this.code,
      message: this.message,
      ...(this.errors !== undefined ? { errors: this.errors } : {}),
    };
  }
}

/** The model answered with something that is not one prediction per record. */
export class ModelOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelOutputError';
  }
}

// ---------------------------------------------------------------------------------------------------------
// Request

/** Longest record text quoted back in an error message. */
const SHOWN_CHARS = 60;

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * Parses the body of POST /v1/predict (`{"records": [{...}, ...]}`): 1..maxBatchSize records, each a JSON object
 * whose values are strings, numbers, booleans or null. Throws InferenceError `invalid-request` or
 * `batch-too-large`. Field names are checked against the schema later (RecordValidator).
 */
export function parsePredictRequest(
  body: string | null | undefined,
  isBase64Encoded: boolean,
  maxBatchSize: number,
): InputRecord[] {
  if (body === null || body === undefined || body === '')
    throw new InferenceError('invalid-request', 'the request has no body; send {"records": [{...}, ...]}');
  const text = isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InferenceError('invalid-request', `the body is not JSON: ${(e as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new InferenceError(
      'invalid-request',
      `the body must be a JSON object {"records": [...]}, got ${describe(json)}`,
    );
  return checkRecords((json as { records?: unknown }).records, maxBatchSize);
}

/**
 * Checks that `records` is an array of 1..maxBatchSize records, each an object whose values are strings,
 * numbers, booleans or null. Throws InferenceError `invalid-request` or `batch-too-large`.
 */
export function checkRecords(records: unknown, maxBatchSize: number): InputRecord[] {
  if (!Array.isArray(records))
    throw new InferenceError(
      'invalid-request',
      `"records" must be an array of records, got ${records === undefined ? 'nothing' : describe(records)}`,
    );
  if (records.length === 0)
    throw new InferenceError('invalid-request', '"records" is empty: send at least one record');
  if (records.length > maxBatchSize)
    throw new InferenceError(
      'batch-too-large',
      `${records.length} records in one request; at most ${maxBatchSize} are allowed`,
    );
  for (let i = 0; i < records.length; i++) {
    const r: unknown = records[i];
    // A hole in a sparse array is skipped, as forEach would.
    if (r === undefined && !(i in records)) continue;
    if (r === null || typeof r !== 'object' || Array.isArray(r))
      throw new InferenceError(
        'invalid-request',
        `records[${i}] must be an object of field values, got ${describe(r)}`,
      );
    // for-in visits the own keys Object.entries would, in its order, without an array per record; an
    // inherited key (Object.entries leaves it out) can only matter when its value is an object.
    for (const k in r) {
      const v: unknown = (r as Record<string, unknown>)[k];
      if (v !== null && typeof v === 'object' && Object.hasOwn(r, k))
        throw new InferenceError(
          'invalid-request',
          `records[${i}].${k} must be a string, number, boolean or null, got ${describe(v)}`,
        );
    }
  }
  return records as InputRecord[];
}

// ---------------------------------------------------------------------------------------------------------
// Validation

/**
 * The schema records are validated against: the dataset schema with the target optional (a prediction request
 * may leave it out), where the deployed model's feature spec decides what it can encode. A categorical
 * feature takes the spec's categories (a value the model was not trained on is an `enum` error, not a silent
 * missing cell), a feature the schema lacks is added, and the missing values are the spec's, so that what
 * validation calls missing is exactly what the encoding sends as an empty cell. Without a schema (a client
 * that has only the feature spec) the fields come from the spec alone, with no range or required checks.
 */
export function validationSchema(spec: FeatureSpec, schema?: DatasetSchema): DatasetSchema {
  const specFeatures = new Map(spec.features.map((f) => [f.name, f] as const));
  const fromSpec = (name: string): FieldSchema => {
    const f = specFeatures.get(name)!;
    if (f.type === 'category')
      return { name, type: 'string', constraints: { enum: [...(f.categories ?? [])] } };
    return { name, type: f.type };
  };
  const target: FieldSchema = {
    name: spec.target.name,
    type: spec.target.type,
    ...(spec.target.type === 'string' && spec.target.classes
      ? { constraints: { enum: [...spec.target.classes] } }
      : {}),
  };
  const fields: FieldSchema[] = [];
  if (schema) {
    for (const f of schema.fields) {
      const feature = specFeatures.get(f.name);
      if (f.name === schema.target || f.name === spec.target.name) {
        // Optional in a prediction request: it is what the model predicts.
        fields.push({ ...f, constraints: { ...f.constraints, required: false } });
      } else if (feature?.type === 'category') {
        const required = f.constraints?.required;
        fields.push({
          ...f,
          type: 'string',
          constraints: {
            ...(required !== undefined ? { required } : {}),
            enum: [...(feature.categories ?? [])],
          },
        });
      } else fields.push(f);
    }
    const names = new Set(schema.fields.map((f) => f.name));
    for (const f of spec.features) if (!names.has(f.name)) fields.push(fromSpec(f.name));
    if (!names.has(spec.target.name)) fields.push(target);
  } else {
    for (const f of spec.features) fields.push(fromSpec(f.name));
    fields.push(target);
  }
  return {
    name: schema?.name ?? spec.dataset,
    target: spec.target.name,
    problem: spec.problem,
    fields,
    missingValues: [...spec.missingValues],
  };
}

function csvCell(text: string): string {
  // A loop rather than a regex test: most cells are short and need no quotes.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44 || c === 34 || c === 10 || c === 13) return `"${text.replace(/"/g, '""')}"`;
  }
  return text;
}

type FieldReader = (r: InputRecord, out: (RecordValue | undefined)[]) => void;

/**
 * A function that copies a record's values of `names`, in order, into `out`. Generated so that each read is a
 * property load by a constant name (cached per record shape), not a lookup by a varying key, which costs
 * several times more. The names go in as JSON string literals, so a schema cannot inject code.
 */
function fieldReader(names: readonly string[]): FieldReader {
  const body = names.map((name, i) => `out[${i}] = r[${JSON.stringify(name)}];`).join('\n');
  return new Function('r', 'out', `"use strict";\n${body}`) as FieldReader;
}

/**
 * How records are encoded for one feature spec: the features by name, and per feature whether a string value
 * is read in lower case (booleans: validation takes them in any case; the encoding reads the lower-case
 * spelling). Built once per spec object.
 */
interface RecordEncoding {
  readonly names: readonly string[];
  readonly read: FieldReader;
  readonly lowerCase: Uint8Array;
  readonly cells: FeatureCellEncoder;
}

const encodings = new WeakMap<FeatureSpec, RecordEncoding>();

function recordEncoding(spec: FeatureSpec): RecordEncoding {
  let e = encodings.get(spec);
  if (!e) {
    const names = spec.features.map((f) => f.name);
    e = {
      names,
      read: fieldReader(names),
      lowerCase: Uint8Array.from(spec.features, (f) => (f.type === 'boolean' ? 1 : 0)),
      cells: new FeatureCellEncoder(spec),
    };
    encodings.set(spec, e);
  }
  return e;
}

/** The text a feature's cell is encoded from; undefined when missing. */
function featureText(v: RecordValue | undefined, lowerCase: boolean): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return lowerCase ? v.toLowerCase() : v;
  return String(v);
}

/** The model-input cell of feature `f` for the value `v`; `text`: String(v) of a number, when already made. */
function modelCell(e: RecordEncoding, f: number, v: RecordValue | undefined, text?: string): string {
  if (typeof v === 'number') return e.cells.numberCell(f, text ?? String(v));
  return e.cells.cell(f, featureText(v, e.lowerCase[f] === 1));
}

/** checkAndEncode's plan for one spec: which validation field each feature's value is read from. */
interface FieldEncoding extends RecordEncoding {
  readonly spec: FeatureSpec;
  /** Per validation field, the feature it is, or -1. */
  readonly featureOf: Int32Array;
  /** Features the validation schema lacks, read from the record by name. */
  readonly unmatched: readonly number[];
  /** The current record's model-input cells, by feature. */
  readonly row: string[];
  /** Per feature: 1 when its cell for a number is the number's text (FeatureCellEncoder.numberIsText). */
  readonly numberIsText: Uint8Array;
  /** Per feature, for the current record: where in the rows its number's text is, or -1 (then `row` has it). */
  readonly numberAt: Int32Array;
  readonly numberEnd: Int32Array;
}

const VALIDATOR_OPTIONS = {
  // Every invalid record is reported, never the whole "file".
  maxInvalidRowFraction: 1,
  // A record is one CSV line here; larger than this is not a record but a mistake.
  maxLineBytes: 1024 * 1024,
} as const;

const encoder = new TextEncoder();

const COMMA = 44;
const LF = 10;
/** The largest row buffers a validator keeps between batches. */
const KEPT_BYTES = 1024 * 1024;

/** A copy of `buf[0, used)` in a buffer with room for `need` more bytes. */
function grow(buf: Uint8Array, used: number, need: number): Uint8Array {
  let size = Math.max(buf.length * 2, 1024);
  while (size - used < need) size *= 2;
  const out = new Uint8Array(size);
  out.set(buf.subarray(0, used));
  return out;
}

/** Copies `text` to `out` at `p` (where there is room); returns the end, or -1 when `text` is not ASCII. */
function putAscii(out: Uint8Array, p: number, text: string): number {
  for (let j = 0; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c >= 0x80) return -1;
    out[p + j] = c;
  }
  return p + text.length;
}

/** `out[0, n)` as text: one character per byte, which for ASCII is the text the bytes were written from. */
function asciiText(out: Uint8Array, n: number): string {
  return Buffer.from(out.buffer, out.byteOffset, n).toString('latin1');
}

/**
 * Writes `text` as a CSV cell (UTF-8) at `o`, where there is room for 3 bytes per character and two quotes;
 * returns the end. The usual cell is ASCII that needs no quotes: its characters are its bytes.
 */
function writeCell(out: Uint8Array, o: number, text: string): number {
  for (let j = 0; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c >= 0x80 || c === COMMA || c === 34 || c === LF || c === 13)
      return o + encoder.encodeInto(csvCell(text), out.subarray(o)).written;
    out[o + j] = c;
  }
  return o + text.length;
}

/**
 * Validates prediction records with the data lake's validation core: each record becomes one CSV row of the
 * validation schema and goes through FileValidator, so a record is valid here exactly when the same row
 * would be valid in a landed file.
 *
 * Building a FileValidator compiles a scanner for the schema (~0.2 ms), too much for every request. So one
 * validator, fed the header once, is kept and each batch's rows are pushed through it: its sink says which
 * rows are valid. Only a batch with an invalid row (or one the shared reader did not answer row for row) is
 * validated again by a fresh validator, whose report has the messages.
 */
export class RecordValidator {
  readonly schema: DatasetSchema;
  private readonly names: readonly string[];
  private readonly read: FieldReader;
  private readonly known: ReadonlySet<string>;
  /** The CSV cell of a null or absent value: the schema's first missing value. */
  private readonly missingBytes: Uint8Array;
  private readonly header: Uint8Array;
  private encoding: FieldEncoding | undefined;
  /** featureOf when nothing is encoded. */
  private readonly noFeatures: Int32Array;
  // Reused between batches: the validation rows and the model-input lines.
  private rows: Uint8Array = new Uint8Array(16 * 1024);
  private input: Uint8Array = new Uint8Array(8 * 1024);
  /** The length of the last model input written to `input`; -1 when it was not all ASCII. */
  private inputLength = 0;
  /** Known field names by their place among a record's keys (see checkNames). */
  private readonly seenKeys: string[] = [];
  private shared: FileValidator | undefined;
  private valid = 0;
  private invalid = 0;
  private readonly sink: ValidationSink = {
    valid: () => {
      this.valid++;
    },
    invalid: () => {
      this.invalid++;
    },
  };

  /**
   * @param unknownFields what a field the schema does not have is: an `invalid-request` (the API, which
   * knows the dataset schema), or ignored (a caller with only the feature spec, which lacks free-text fields).
   */
  constructor(
    schema: DatasetSchema,
    private readonly unknownFields: 'reject' | 'ignore' = 'reject',
  ) {
    this.schema = schema;
    this.names = schema.fields.map((f) => f.name);
    this.read = fieldReader(this.names);
    this.known = new Set(this.names);
    this.missingBytes = encoder.encode(csvCell(schema.missingValues[0] ?? ''));
    this.noFeatures = new Int32Array(this.names.length).fill(-1);
    this.header = encoder.encode(`${this.names.map(csvCell).join(',')}\n`);
  }

  /**
   * The field errors of every record, in record order; empty when all are valid. Throws InferenceError
   * `invalid-request` for a field name the schema does not have.
   */
  check(records: readonly InputRecord[]): RecordError[] {
    if (this.unknownFields === 'reject') this.checkNames(records);
    return this.verdict(this.writeRows(records, undefined), records.length);
  }

  /**
   * check, then encodeRecords(spec, records) when every record is valid, in one pass over the records: each
   * value is read and turned into text once for both. `input` is the model-input CSV ('' when there are
   * errors: nothing is sent then).
   */
  checkAndEncode(
    records: readonly InputRecord[],
    spec: FeatureSpec,
  ): { readonly errors: RecordError[]; readonly input: string } {
    if (this.unknownFields === 'reject') this.checkNames(records);
    const errors = this.verdict(this.writeRows(records, this.fieldEncoding(spec)), records.length);
    if (errors.length > 0) return { errors, input: '' };
    const input =
      this.inputLength >= 0 ? asciiText(this.input, this.inputLength) : encodeRecords(spec, records);
    if (this.input.length > KEPT_BYTES) this.input = new Uint8Array(8 * 1024);
    return { errors, input };
  }

  /**
   * Writes the records as CSV rows of the schema (UTF-8) into `rows`, and with a plan their model-input lines
   * into `input`; returns the rows written. Bytes are written directly, rather than joining strings and
   * encoding them, so that a batch allocates little beyond the text of its numbers.
   */
  private writeRows(records: readonly InputRecord[], plan: FieldEncoding | undefined): Uint8Array {
    const names = this.names;
    const missing = this.missingBytes;
    const featureOf = plan?.featureOf ?? this.noFeatures;
    const row = plan?.row ?? [];
    const width = row.length;
    let out = this.rows;
    let o = 0;
    let input = this.input;
    let p = 0;
    const values: (RecordValue | undefined)[] = names.map(() => undefined);
    for (const r of records) {
      this.read(r, values);
      for (let i = 0; i < names.length; i++) {
        // Room for a comma and any cell but a string's (a number's text has at most 26 characters).
        if (out.length - o < missing.length + 32) out = grow(out, o, missing.length + 32);
        if (i > 0) out[o++] = COMMA;
        const v = values[i];
        let t: string | undefined;
        // Where a number's text was written digit by digit (see writeShortNumber), else -1.
        let numberStart = -1;
        if (v === null || v === undefined) {
          // A loop: set() costs more than copying the usual zero to two bytes.
          for (let j = 0; j < missing.length; j++) out[o++] = missing[j];
        } else if (typeof v === 'number') {
          const end = writeShortNumber(out, o, v);
          if (end >= 0) {
            numberStart = o;
            o = end;
          } else {
            t = String(v);
            for (let j = 0; j < t.length; j++) out[o++] = t.charCodeAt(j);
          }
        } else if (typeof v === 'boolean') {
          t = v ? 'true' : 'false';
          for (let j = 0; j < t.length; j++) out[o++] = t.charCodeAt(j);
        } else {
          t = typeof v === 'string' ? v : String(v);
          const need = 3 * t.length + 2;
          if (out.length - o < need) out = grow(out, o, need);
          o = writeCell(out, o, t);
        }
        const f = featureOf[i];
        if (f >= 0) {
          // A numeric feature's cell is the number's text: copied from the row rather than made a string.
          if (numberStart >= 0 && plan!.numberIsText[f] === 1) {
            plan!.numberAt[f] = numberStart;
            plan!.numberEnd[f] = o;
          } else {
            plan!.numberAt[f] = -1;
            row[f] = modelCell(plan!, f, v, t);
          }
        }
      }
      if (out.length - o < 1) out = grow(out, o, 1);
      out[o++] = LF;
      // After a model-input cell that is not ASCII, the model input is left to encodeRecords.
      if (width === 0 || p < 0) continue;
      for (const f of plan!.unmatched) {
        plan!.numberAt[f] = -1;
        row[f] = modelCell(plan!, f, r[plan!.names[f]]);
      }
      const { numberAt, numberEnd } = plan!;
      for (let f = 0; f < width && p >= 0; f++) {
        const at = numberAt[f];
        if (at >= 0) {
          const end = numberEnd[f];
          if (input.length - p < end - at + 2) input = grow(input, p, end - at + 2);
          if (f > 0) input[p++] = COMMA;
          for (let j = at; j < end; j++) input[p++] = out[j];
          continue;
        }
        const cell = row[f];
        if (input.length - p < cell.length + 2) input = grow(input, p, cell.length + 2);
        if (f > 0) input[p++] = COMMA;
        p = putAscii(input, p, cell);
      }
      if (p >= 0) input[p++] = LF;
    }
    // A batch of huge records does not pin its buffers for the validator's lifetime.
    this.rows = out.length > KEPT_BYTES ? new Uint8Array(16 * 1024) : out;
    this.input = input;
    this.inputLength = p;
    return out.subarray(0, o);
  }

  private fieldEncoding(spec: FeatureSpec): FieldEncoding {
    if (this.encoding?.spec === spec) return this.encoding;
    const base = recordEncoding(spec);
    const featureOf = new Int32Array(this.names.length).fill(-1);
    const unmatched: number[] = [];
    base.names.forEach((name, f) => {
      const i = this.names.indexOf(name);
      if (i >= 0 && featureOf[i] < 0) featureOf[i] = f;
      else unmatched.push(f);
    });
    this.encoding = {
      ...base,
      spec,
      featureOf,
      unmatched,
      row: base.names.map(() => ''),
      numberIsText: Uint8Array.from(base.names, (_, f) => (base.cells.numberIsText(f) ? 1 : 0)),
      numberAt: new Int32Array(base.names.length).fill(-1),
      numberEnd: new Int32Array(base.names.length),
    };
    return this.encoding;
  }

  private verdict(rows: Uint8Array, n: number): RecordError[] {
    if (this.allValid(rows, n)) return [];
    return this.errors(rows, n);
  }

  private checkNames(records: readonly InputRecord[]): void {
    const seen = this.seenKeys;
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      let j = 0;
      // for-in rather than Object.keys: no array per record. Records mostly have the same keys in the same
      // order, and a key equal to a known one an earlier record had at its place is known, so the usual test
      // is one comparison. An inherited key is not the record's (Object.keys leaves it out).
      for (const k in r) {
        if (k !== seen[j]) {
          if (this.known.has(k)) {
            if (j < this.names.length) seen[j] = k;
          } else if (Object.hasOwn(r, k)) {
            const name = k.length > SHOWN_CHARS ? `${k.slice(0, SHOWN_CHARS)}...` : k;
            throw new InferenceError(
              'invalid-request',
              `records[${i}] has an unknown field ${JSON.stringify(name)}; the fields are ${this.names.join(', ')}`,
            );
          }
        }
        j++;
      }
    }
  }

  private allValid(rows: Uint8Array, n: number): boolean {
    if (!this.shared) {
      this.shared = new FileValidator(this.schema, { ...VALIDATOR_OPTIONS, maxReportedErrors: 0 }, this.sink);
      this.shared.push(this.header);
    }
    this.valid = 0;
    this.invalid = 0;
    this.shared.push(rows);
    if (this.valid + this.invalid !== n) {
      // The shared reader is out of step with the batches (it holds part of a record): start a new one.
      this.shared = undefined;
      return false;
    }
    return this.invalid === 0;
  }

  private errors(rows: Uint8Array, n: number): RecordError[] {
    const validator = new FileValidator(
      this.schema,
      { ...VALIDATOR_OPTIONS, maxReportedErrors: n * (this.names.length + 1) },
      { valid: () => undefined, invalid: () => undefined },
    );
    validator.push(this.header);
    validator.push(rows);
    const report = validator.end();
    // Row 1 is the header, so record i is row i + 2.
    return report.errors
      .filter((e) => e.row >= 2)
      .map((e) => ({ record: e.row - 2, field: e.field, code: e.code, message: e.message }));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Encoding and decoding

/**
 * Model-input CSV, one line per record (each ending in a newline), in the feature spec's column order: a
 * missing or absent field is an empty cell (DESIGN.md section 4).
 */
export function encodeRecords(spec: FeatureSpec, records: readonly InputRecord[]): string {
  // Off the hot path (checkAndEncode's fallback for a cell that is not ASCII, and the bench): as text, plainly.
  const e = recordEncoding(spec);
  const values: (RecordValue | undefined)[] = e.names.map(() => undefined);
  let out = '';
  for (const r of records) {
    e.read(r, values);
    for (let i = 0; i < values.length; i++) {
      if (i > 0) out += ',';
      out += modelCell(e, i, values[i]);
    }
    out += '\n';
  }
  return out;
}

function parseLine(line: string): number[] {
  return line.split(',').map((cell) => {
    const t = cell.trim();
    // Number('') is 0: an empty cell is not a score.
    const v = t === '' ? Number.NaN : Number(t);
    if (!Number.isFinite(v)) throw new ModelOutputError(`unreadable model output "${line.slice(0, 80)}"`);
    return v;
  });
}

/**
 * Decodes the endpoint's text/csv answer (one line per record; a binary or regression model may also answer a
 * batch on one comma-joined line) into predictions. Throws ModelOutputError when it is not exactly one
 * readable prediction per record.
 */
export function decodePredictions(
  spec: FeatureSpec,
  body: string,
  threshold: number,
  expected?: number,
): Prediction[] {
  if (spec.problem !== 'multiclass') {
    const scores = decodeScores(spec, body, threshold, expected);
    if (scores !== undefined) return scores;
  }
  return decodeLines(spec, body, threshold, expected);
}

/**
 * Visits the usual answer of a binary or regression model, one plain number per line, without splitting the
 * body into arrays of strings: `visit` gets each line's bounds and says whether it reads the line. Returns the
 * count, or undefined for any other answer (a comma-joined batch, blank or padded lines, a line `visit` does not
 * read, the wrong count), which decodeLines decodes or words the error of.
 */
function visitScores(
  body: string,
  expected: number | undefined,
  visit: (start: number, end: number) => boolean,
): number | undefined {
  let count = 0;
  for (let start = 0; start < body.length;) {
    let end = body.indexOf('\n', start);
    if (end < 0) end = body.length;
    if (end > start) {
      const c = body.charCodeAt(start);
      // A line that starts with a digit, sign or point is not blank, and Number ignores the same surrounding
      // white space as trim, so Number reads it as parseLine reads its one cell.
      if (!((c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46)) return undefined;
      if (!visit(start, end)) return undefined;
      count++;
    }
    start = end + 1;
  }
  if (expected !== undefined && count !== expected) return undefined;
  return count;
}

/** A binary model's labels, negative then positive: the spec's class names, or `0` and `1`. */
function binaryLabels(spec: FeatureSpec): readonly [string, string] {
  const classes = targetClasses(spec);
  return [classes?.[0] ?? '0', classes?.[1] ?? '1'];
}

function decodeScores(
  spec: FeatureSpec,
  body: string,
  threshold: number,
  expected: number | undefined,
): Prediction[] | undefined {
  const binary = spec.problem === 'binary';
  const [negative, positive] = binaryLabels(spec);
  const out: Prediction[] = [];
  const count = visitScores(body, expected, (start, end) => {
    const v = Number(body.slice(start, end));
    // NaN also when the line has a comma.
    if (!Number.isFinite(v)) return false;
    out.push(binary ? { label: v >= threshold ? positive : negative, probability: v } : { value: v });
    return true;
  });
  return count === undefined ? undefined : out;
}

/** Whether text[start, end) is a number as JSON writes one: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
function isJsonNumber(text: string, start: number, end: number): boolean {
  let i = start;
  if (text.charCodeAt(i) === 45) i++;
  if (text.charCodeAt(i) === 48) i++;
  else if ((i = digitsEnd(text, i, end)) < 0) return false;
  if (i < end && text.charCodeAt(i) === 46 && (i = digitsEnd(text, i + 1, end)) < 0) return false;
  if (i < end && (text.charCodeAt(i) | 32) === 101) {
    i++;
    if (i < end && (text.charCodeAt(i) === 43 || text.charCodeAt(i) === 45)) i++;
    if ((i = digitsEnd(text, i, end)) < 0) return false;
  }
  return i === end;
}

/**
 * Where the digits from text[i] end, or -1 when there is none. A function of its own rather than a closure in
 * isJsonNumber, which runs once per prediction: a closure per call was about 18 µs of a 100-record request
 * under tsx, which names every function it creates (keepNames).
 */
function digitsEnd(text: string, i: number, end: number): number {
  const from = i;
  while (i < end && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
  return i > from ? i : -1;
}

/**
 * The 200 body for the endpoint's answer: `JSON.stringify({ ...head, predictions: decodePredictions(...) })`
 * in meaning, the same keys in the same order and the same numbers. For the usual binary or regression answer it
 * is written straight from the answer's text (scoresJson). Throws ModelOutputError as decodePredictions does.
 */
export function predictResponseJson(
  head: Omit<PredictResponse, 'predictions'>,
  spec: FeatureSpec,
  body: string,
  threshold: number,
  expected?: number,
): string {
  const json = spec.problem === 'multiclass' ? undefined : scoresJson(head, spec, body, threshold, expected);
  return json ?? JSON.stringify({ ...head, predictions: decodeLines(spec, body, threshold, expected) });
}

/** The bytes of the last 200 body (reused: see scoresJson). */
let responseBytes: Uint8Array = new Uint8Array(8 * 1024);
/** A regression prediction's text up to its number. */
const VALUE_OPEN = encoder.encode('{"value":');
/** How close (relative) an approximate score may be to the threshold before its exact value is read. */
const NEAR_THRESHOLD = 1e-9;

/**
 * predictResponseJson for a binary or regression answer, one number per line; undefined for any other answer
 * (a comma-joined batch, blank or padded lines, unreadable values, the wrong count), which decodeLines decodes
 * or words the error of. Each number is written as the model wrote it when that is a JSON number (the same
 * double to any JSON reader; zero as `0`, as JSON.stringify writes -0), else as JSON.stringify writes it.
 *
 * The body is written as bytes into a buffer kept between calls and made a string once, and a score that is a
 * JSON number is compared with the threshold by its approximate value (approximateDecimal), its exact value
 * (Number of its text) being read only when the two are within NEAR_THRESHOLD. Slicing each number's text,
 * reading it with Number and concatenating strings made about 20 KB of garbage per 100 scores.
 */
function scoresJson(
  head: Omit<PredictResponse, 'predictions'>,
  spec: FeatureSpec,
  body: string,
  threshold: number,
  expected: number | undefined,
): string | undefined {
  const binary = spec.problem === 'binary';
  const opens = binaryLabels(spec).map((l) => `{"label":${JSON.stringify(l)},"probability":`);
  // The head as JSON.stringify writes it (predictions last): the text up to the empty list's `]}`.
  const headText = JSON.stringify({ ...head, predictions: [] }).slice(0, -2);
  const [negative, positive, headBytes] = [...opens, headText].map((t) => encoder.encode(t));
  // Bytes as many as characters: ASCII, which the scores are too.
  const ascii =
    headBytes.length === headText.length &&
    negative.length === opens[0].length &&
    positive.length === opens[1].length;
  let out = responseBytes;
  if (out.length < headBytes.length + 2) out = grow(out, 0, headBytes.length + 2);
  out.set(headBytes);
  let o = headBytes.length;
  let first = true;
  const count = visitScores(body, expected, (start, end) => {
    const json = isJsonNumber(body, start, end);
    let v = json ? approximateDecimal(body, start, end) : Number.NaN;
    if (
      !(v === v) ||
      (binary && Math.abs(v - threshold) <= NEAR_THRESHOLD * Math.max(1, Math.abs(threshold)))
    )
      v = Number(body.slice(start, end));
    // NaN also when the line has a comma.
    if (!Number.isFinite(v)) return false;
    const open = binary ? (v >= threshold ? positive : negative) : VALUE_OPEN;
    const text = v === 0 ? '0' : json ? undefined : JSON.stringify(v);
    const need = open.length + (text?.length ?? end - start) + 2;
    if (out.length - o < need) out = grow(out, o, need);
    if (!first) out[o++] = COMMA;
    first = false;
    for (let j = 0; j < open.length; j++) out[o++] = open[j];
    if (text !== undefined) o = putAscii(out, o, text);
    else for (let j = start; j < end; j++) out[o++] = body.charCodeAt(j);
    out[o++] = 125; // }
    return true;
  });
  if (count === undefined) return undefined;
  if (out.length - o < 2) out = grow(out, o, 2);
  out[o++] = 93; // ]
  out[o++] = 125; // }
  const json = ascii ? asciiText(out, o) : Buffer.from(out.buffer, out.byteOffset, o).toString('utf8');
  responseBytes = out.length > KEPT_BYTES ? new Uint8Array(8 * 1024) : out;
  return json;
}

/**
 * The value of a JSON number's text[start, end) to within about 1e-15 (relative), or NaN when its magnitude is
 * beyond 1e±290, where only Number can say (it may overflow, or underflow to zero). Exactly ±0 when its digits
 * are all zeros. Its first 17 significant digits as an integer, scaled by a power of ten.
 */
export function approximateDecimal(text: string, start: number, end: number): number {
  let i = start;
  const negative = text.charCodeAt(i) === 45;
  if (negative) i++;
  let digits = 0;
  let kept = 0;
  // value = digits * 10^scale
  let scale = 0;
  let point = false;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      point = true;
    } else if (c < 48 || c > 57) {
      break;
    } else if (kept === 0 && c === 48) {
      if (point) scale--;
    } else if (kept < 17) {
      digits = digits * 10 + (c - 48);
      kept++;
      if (point) scale--;
    } else if (!point) {
      scale++;
    }
  }
  if (i < end) {
    // An exponent: `e`, an optional sign, digits.
    const sign = text.charCodeAt(++i);
    const minus = sign === 45;
    if (minus || sign === 43) i++;
    let exponent = 0;
    for (; i < end && exponent <= 1000; i++) exponent = exponent * 10 + (text.charCodeAt(i) - 48);
    scale += minus ? -exponent : exponent;
  }
  if (digits === 0) return negative ? -0 : 0;
  if (Math.abs(scale + kept) > 290) return Number.NaN;
  const magnitude = scale >= 0 ? digits * power10(scale) : digits / power10(-scale);
  return negative ? -magnitude : magnitude;
}

function power10(k: number): number {
  return k < EXACT_POWERS_OF_TEN.length ? EXACT_POWERS_OF_TEN[k] : 10 ** k;
}

function decodeLines(
  spec: FeatureSpec,
  body: string,
  threshold: number,
  expected: number | undefined,
): Prediction[] {
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
  const classes = targetClasses(spec);
  return lines.map((line): Prediction => {
    const values = parseLine(line);
    if (spec.problem === 'regression') {
      if (values.length !== 1) throw new ModelOutputError(`expected one value per line, got "${line}"`);
      return { value: values[0] };
    }
    if (spec.problem === 'binary') {
      if (values.length !== 1) throw new ModelOutputError(`expected one probability per line, got "${line}"`);
      const probability = values[0];
      const label = probability >= threshold ? 1 : 0;
      return { label: classes?.[label] ?? String(label), probability };
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

/** `3` for `arn:aws:sagemaker:...:model-package/<group>/3`; the ARN's last segment in general. */
export function modelVersion(modelPackageArn: string): string {
  const slash = modelPackageArn.lastIndexOf('/');
  return slash >= 0 ? modelPackageArn.slice(slash + 1) : modelPackageArn;
}

/** The best single score of a prediction: the probability (binary), the top probability, or the value. */
export function predictionScore(p: Prediction): number {
  if ('value' in p) return p.value;
  if ('probability' in p) return p.probability;
  return Math.max(...Object.values(p.probabilities));
}

// ---------------------------------------------------------------------------------------------------------
// Data Capture records (DESIGN.md section 7)

/** The JSON line SageMaker writes per captured invocation. */
export interface CaptureRecord {
  captureData: {
    endpointInput?: CaptureRecordPayload;
    endpointOutput?: CaptureRecordPayload;
  };
  eventMetadata: { eventId: string; inferenceId?: string; inferenceTime: string };
  eventVersion: '0';
}

export interface CaptureRecordPayload {
  observedContentType: string;
  mode: 'INPUT' | 'OUTPUT';
  data: string;
  encoding: 'CSV' | 'JSON' | 'BASE64';
}

/** One side of an invocation as the endpoint observed it. */
export interface CapturedPayload {
  /** The Content-Type header as sent, parameters included (`text/csv; charset=utf-8`). */
  readonly contentType: string;
  readonly data: string;
}

/** DataCaptureConfig.CaptureContentTypeHeader: which media types are stored as text. */
export interface CaptureContentTypes {
  readonly csvContentTypes: readonly string[];
  readonly jsonContentTypes?: readonly string[];
}

/**
 * What the realtime endpoint config captures as text (CsvContentTypes ['text/csv'] in the training
 * definition), so the API's serverless capture stores payloads exactly as SageMaker would for the same model.
 */
export const ENDPOINT_CAPTURE_CONTENT_TYPES: CaptureContentTypes = { csvContentTypes: ['text/csv'] };

/** The media type of a Content-Type header: lower case, without parameters. */
export function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/** How SageMaker stores a payload: CSV/JSON for the configured content types, base64 for anything else. */
export function captureEncoding(
  contentType: string,
  config: CaptureContentTypes,
): CaptureRecordPayload['encoding'] {
  const type = mediaType(contentType);
  if (config.csvContentTypes.some((t) => mediaType(t) === type)) return 'CSV';
  if ((config.jsonContentTypes ?? []).some((t) => mediaType(t) === type)) return 'JSON';
  return 'BASE64';
}

/** `2026-01-01T12:00:00Z`: SageMaker's inferenceTime has whole seconds. */
export function inferenceTime(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function capturePayload(
  p: CapturedPayload,
  mode: 'INPUT' | 'OUTPUT',
  config: CaptureContentTypes,
): CaptureRecordPayload {
  const encoding = captureEncoding(p.contentType, config);
  return {
    observedContentType: p.contentType,
    mode,
    data: encoding === 'BASE64' ? Buffer.from(p.data, 'utf8').toString('base64') : p.data,
    encoding,
  };
}

export interface CaptureRecordInput {
  /** Left out when input capture is off. */
  readonly input?: CapturedPayload;
  /** Left out when output capture is off. */
  readonly output?: CapturedPayload;
  readonly contentTypes: CaptureContentTypes;
  readonly eventId: string;
  readonly time: Date;
  /** The InvokeEndpoint InferenceId, when the caller gave one. */
  readonly inferenceId?: string;
}

/**
 * One Data Capture record, field for field in SageMaker's order. Both the local endpoint's CaptureWriter and
 * the inference API's Firehose capture build their records here, so the two are the same by construction.
 */
export function buildCaptureRecord(c: CaptureRecordInput): CaptureRecord {
  return {
    captureData: {
      ...(c.input ? { endpointInput: capturePayload(c.input, 'INPUT', c.contentTypes) } : {}),
      ...(c.output ? { endpointOutput: capturePayload(c.output, 'OUTPUT', c.contentTypes) } : {}),
    },
    eventMetadata: {
      eventId: c.eventId,
      ...(c.inferenceId !== undefined && c.inferenceId !== '' ? { inferenceId: c.inferenceId } : {}),
      inferenceTime: inferenceTime(c.time),
    },
    eventVersion: '0',
  };
}

/** The record as one JSON line, without the newline (capture files are these lines joined by "\n"). */
export function captureLine(record: CaptureRecord): string {
  return JSON.stringify(record);
}
