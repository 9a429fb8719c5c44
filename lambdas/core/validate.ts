import { isUtf8 } from 'node:buffer';
import * as csv from './csv';
import { CsvReader, CsvRecord, fieldText, unescapeInto, type CsvRunFastPath } from './csv';
import {
  ERROR_CODES,
  type ErrorCode,
  type FieldStats,
  type RowError,
  type ValidationOptions,
  type ValidationReport,
  type ValidationSink,
} from './report';
import type { DatasetSchema } from './schema';

/**
 * Streaming validation of one CSV file against a dataset schema (DESIGN.md sections 4, 5 and 9).
 *
 * Bytes go in through `push` in any chunking; every complete record comes out at once through the sink, valid
 * ones in the curated layout and invalid ones with an `_errors` column, so memory stays bounded by one record.
 * `end` applies the file policy and returns the report.
 */

const encoder = new TextEncoder();

// Field kinds, as small integers so the per-cell dispatch is a cheap switch.
const K_TEXT = 0;
const K_ENUM = 1;
const K_INT = 2;
const K_NUM = 3;
const K_BOOL = 4;

// What the curated writer does with a cell.
const CELL_AS_IS = 0;
const CELL_EMPTY = 1;
const CELL_TRUE = 2;
const CELL_FALSE = 3;

const C_TYPE = ERROR_CODES.indexOf('type');
const C_REQUIRED = ERROR_CODES.indexOf('required');
const C_MINIMUM = ERROR_CODES.indexOf('minimum');
const C_MAXIMUM = ERROR_CODES.indexOf('maximum');
const C_ENUM = ERROR_CODES.indexOf('enum');
const C_COLUMNS = ERROR_CODES.indexOf('columns');

// Module-level copies: a CommonJS build reads imported bindings through getters, too slow per cell.
const FIELD_QUOTED = csv.FIELD_QUOTED;
const FIELD_ESCAPED = csv.FIELD_ESCAPED;

const LF = 10;
const CR = 13;
const QUOTE = 34;
const COMMA = 44;
const SEMICOLON = 59;

const TRUE_BYTES = encoder.encode('true');
const FALSE_BYTES = encoder.encode('false');

/** Exact powers of ten: m * 10^k with m < 2^53 and |k| <= 22 is then correctly rounded. */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/** Longest value quoted in an error message. */
const MESSAGE_VALUE_CHARS = 60;

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * Parses a decimal number (`-1`, `2.5`, `.5`, `1e-3`) from ASCII bytes; NaN when the bytes are not one.
 * With `integerOnly`, only an optional sign and digits are accepted.
 */
export function parseNumberBytes(b: Uint8Array, s: number, e: number, integerOnly: boolean): number {
  let i = s;
  if (i >= e) return NaN;
  let c = b[i];
  let neg = false;
  if (c === 45 || c === 43) {
    neg = c === 45;
    i++;
  }
  let m = 0;
  let sig = 0;
  let exp10 = 0;
  let any = false;
  let slow = false;
  while (i < e) {
    const d = b[i] - 48;
    if (d < 0 || d > 9) break;
    any = true;
    if (sig < 15) {
      m = m * 10 + d;
      if (m !== 0) sig++;
    } else {
      slow = true;
    }
    i++;
  }
  if (i < e && b[i] === 46) {
    if (integerOnly) return NaN;
    i++;
    while (i < e) {
      const d = b[i] - 48;
      if (d < 0 || d > 9) break;
      any = true;
      if (sig < 15) {
        m = m * 10 + d;
        if (m !== 0) sig++;
        exp10--;
      } else {
        slow = true;
      }
      i++;
    }
  }
  if (!any) return NaN;
  if (i < e) {
    c = b[i];
    if (integerOnly || (c !== 101 && c !== 69)) return NaN;
    i++;
    let eneg = false;
    if (i < e && (b[i] === 45 || b[i] === 43)) {
      eneg = b[i] === 45;
      i++;
    }
    if (i >= e) return NaN;
    let ev = 0;
    while (i < e) {
      const d = b[i] - 48;
      if (d < 0 || d > 9) return NaN;
      if (ev < 1e6) ev = ev * 10 + d;
      i++;
    }
    exp10 += eneg ? -ev : ev;
  }
  // The grammar is checked; whatever the fast path cannot round exactly goes to the engine's parser.
  if (slow || exp10 > 22 || exp10 < -22) return Number(latin1.decode(b.subarray(s, e)));
  const v = exp10 < 0 ? m / POW10[-exp10] : m * POW10[exp10];
  return neg ? -v : v;
}

/** true/false/1/0, any case: 1 or 0 for exactly `true`/`false`, 3 or 2 for another spelling, -1 otherwise. */
function parseBoolBytes(b: Uint8Array, s: number, e: number): number {
  const n = e - s;
  if (n === 1) {
    const c = b[s];
    return c === 49 ? 3 : c === 48 ? 2 : -1;
  }
  if (n === 4) {
    const c0 = b[s];
    if (
      (c0 | 0x20) === 116 &&
      (b[s + 1] | 0x20) === 114 &&
      (b[s + 2] | 0x20) === 117 &&
      (b[s + 3] | 0x20) === 101
    )
      return c0 === 116 && b[s + 1] === 114 && b[s + 2] === 117 && b[s + 3] === 101 ? 1 : 3;
    return -1;
  }
  if (n === 5) {
    if (
      (b[s] | 0x20) === 102 &&
      (b[s + 1] | 0x20) === 97 &&
      (b[s + 2] | 0x20) === 108 &&
      (b[s + 3] | 0x20) === 115 &&
      (b[s + 4] | 0x20) === 101
    )
      return b[s] === 102 && b[s + 1] === 97 && b[s + 2] === 108 && b[s + 3] === 115 && b[s + 4] === 101
        ? 0
        : 2;
    return -1;
  }
  return -1;
}

/** A small set of byte strings (enum or missing values), packed in one buffer for cheap membership tests. */
class ByteSet {
  private readonly blob: Uint8Array;
  private readonly offsets: Int32Array;
  /** Bit k set when some value has k bytes (bit 31: 31 or more), to reject most cells at once. */
  private readonly lengths: number;
  private readonly size: number;
  /** For each first byte, the values that start with it as a bit mask (all bits when there are over 31). */
  private readonly byFirstByte: Int32Array;

  constructor(values: readonly string[]) {
    const bytes = values.map((v) => encoder.encode(v));
    this.size = bytes.length;
    this.offsets = new Int32Array(bytes.length + 1);
    bytes.forEach((v, k) => (this.offsets[k + 1] = this.offsets[k] + v.length));
    this.blob = new Uint8Array(this.offsets[bytes.length]);
    bytes.forEach((v, k) => this.blob.set(v, this.offsets[k]));
    this.lengths = bytes.reduce((m, v) => m | (1 << Math.min(v.length, 31)), 0);
    this.byFirstByte = new Int32Array(256);
    if (bytes.length <= 31) {
      bytes.forEach((v, k) => {
        if (v.length > 0) this.byFirstByte[v[0]] |= 1 << k;
      });
    } else {
      this.byFirstByte.fill(-1);
    }
  }

  has(b: Uint8Array, s: number, e: number): boolean {
    const n = e - s;
    if (((this.lengths >>> (n < 31 ? n : 31)) & 1) === 0) return false;
    if (n === 0) return true;
    const blob = this.blob;
    const offsets = this.offsets;
    const candidates = this.byFirstByte[b[s]];
    if (candidates === 0) return false;
    outer: for (let k = 0; k < this.size; k++) {
      if (((candidates >>> k) & 1) === 0) continue;
      const o = offsets[k];
      if (offsets[k + 1] - o !== n) continue;
      for (let j = 1; j < n; j++) if (blob[o + j] !== b[s + j]) continue outer;
      return true;
    }
    return false;
  }
}

// What a scanned row needs beyond being passed on as it is (see FileValidator.commitRow).
const SCAN_REBUILD = 1;
const SCAN_MISSING = 2;
const SCAN_EXTREME = 4;

/** What the compiled scanner calls back into: the validator, or a stand-in in a test. */
interface ScanTarget {
  checkCell(col: number, b: Uint8Array, s: number, e: number): number;
  commitRow(buf: Uint8Array, pos: number, next: number, flags: number): void;
  /** Set by the scanner: how many records its last call handled. */
  scanned: number;
}

type RowsScanner = (
  buf: Uint8Array,
  pos: number,
  end: number,
  cells: Uint8Array,
  values: Float64Array,
  lows: Float64Array,
  highs: Float64Array,
  target: ScanTarget,
  sink: ValidationSink,
) => number;

/**
 * Compiles the single-pass scanner of simple records for one schema: the column loop unrolled, each column's
 * type, limits, enum and missing values fixed in its code. This is the hot loop of validation. Only integers
 * and finite numbers reach the generated source (strings go in as their byte values), so a schema cannot
 * inject code.
 *
 * The byte loops have no bounds check: they all stop at LF, and `end` is just past an LF (CsvFastPath).
 * The scanner handles the run of records from `pos` that are unquoted and valid in every cell, in one call,
 * so that a record costs no call of its own: a record that needs nothing more goes straight to `sink.valid`,
 * one with SCAN_* flags to `target.commitRow`. It stops before the first record it cannot handle (or at
 * `end`), with no side effect from that record beyond the scratch arrays, sets `target.scanned` to the
 * number of records handled and returns the index where it stopped.
 */
function compileRowsScanner(
  kinds: Uint8Array,
  mins: Float64Array,
  maxs: Float64Array,
  numbersFirst: boolean,
  maxLineBytes: number,
  required: Uint8Array,
  missingValues: readonly string[],
  enums: readonly (readonly string[] | undefined)[],
): RowsScanner {
  /** A test that `buf[s, e)` (length in `len`) is one of `values`, as byte comparisons; null when too many. */
  const matcher = (values: readonly string[]): string | null => {
    const encoded = values.map((v) => encoder.encode(v));
    if (encoded.length > 16 || encoded.some((v) => v.length > 32)) return null;
    const tests = encoded.map((v) =>
      ['len === ' + v.length, ...Array.from(v, (byte, k) => `buf[s + ${k}] === ${byte}`)].join(' && '),
    );
    return tests.length > 0 ? tests.map((t) => `(${t})`).join(' || ') : 'false';
  };
  const missingTest = matcher(missingValues);
  const lit = (x: number): string => {
    if (!Number.isFinite(x)) throw new Error(`not a finite number: ${x}`);
    return String(x);
  };
  const n = kinds.length;
  const src: string[] = [
    'let count = 0, i = pos, c = 0, hi = 0, s = 0, e = 0, r = 0, flags = 0;',
    'let neg = false, m = 0, digits = 0, frac = 0, v = 0, d = 0, len = 0;',
    // A `break rows` leaves the record at `pos` to the reader.
    'rows: while (pos < end) {',
    'i = pos; hi = 0; flags = 0;',
  ];
  for (let col = 0; col < n; col++) {
    const kind = kinds[col];
    const last = col === n - 1;
    const term = last ? LF : COMMA;
    const numeric = kind === K_INT || kind === K_NUM;
    src.push(`c${col}: {`, 's = i;');
    if (numbersFirst && numeric) {
      const limits = [
        Number.isFinite(mins[col]) ? `v < ${lit(mins[col])}` : '',
        Number.isFinite(maxs[col]) ? `v > ${lit(maxs[col])}` : '',
      ].filter((x) => x !== '');
      // Digits are counted from positions, which keeps the per-byte loops to the bare minimum.
      src.push(
        'neg = false; m = 0; frac = 0; c = 0;',
        'if (i < end && buf[i] === 45) { neg = true; i++; }',
        'len = i;',
        'for (;;) { c = buf[i]; d = c - 48; if (d < 0 || d > 9) break; m = m * 10 + d; i++; }',
        'digits = i - len;',
      );
      if (kind === K_NUM)
        src.push(
          'if (c === 46 && i < end) { i++; c = 0; len = i;',
          '  for (;;) { c = buf[i]; d = c - 48; if (d < 0 || d > 9) break; m = m * 10 + d; i++; }',
          '  frac = i - len; digits += frac; }',
        );
      src.push(
        `if (i < end && c === ${term} && digits > 0 && digits <= 15) {`,
        '  v = frac > 0 ? m / POW10[frac] : m; if (neg) v = -v;',
        limits.length > 0 ? `  if (${limits.join(' || ')}) break rows;` : '',
        `  if (v < lows[${col}] || v > highs[${col}]) flags |= ${SCAN_EXTREME};`,
        `  values[${col}] = v; cells[${col}] = ${CELL_AS_IS}; i++; break c${col};`,
        '}',
      );
      if (required[col] && !last) {
        // Any other spelling of a required number (an exponent, a sign, a missing value: invalid) is rare enough
        // for the reader's general path. Leaving out code that valid data never runs also spares the JIT a
        // deoptimisation (and a recompile of this function) when the first such cell turns up.
        src.push('break rows;', '}');
        continue;
      }
    } else if (kind === K_ENUM) {
      // The usual enum cell, matched in place with its terminator, so that it is not scanned first. A value that
      // is also a missing value is left to the checks below, and so is one with a byte that would need quotes.
      // No guard is needed: the bytes compared stop at the first mismatch, and an LF lies ahead before `end`.
      const direct = (enums[col] ?? [])
        .filter((v) => v !== '' && !missingValues.includes(v) && !/[",\r\n]/.test(v))
        .map((v) => encoder.encode(v))
        .filter((v) => v.length <= 32)
        .slice(0, 16);
      for (const v of direct)
        src.push(
          `if (${[...Array.from(v, (byte, k) => `buf[i + ${k}] === ${byte}`), `buf[i + ${v.length}] === ${term}`].join(' && ')}) { cells[${col}] = ${CELL_AS_IS}; i += ${v.length + 1}; break c${col}; }`,
        );
    } else if (numbersFirst && kind === K_BOOL) {
      src.push(
        `if (i + 5 < end) {`,
        `  if (buf[i] === 116 && buf[i + 1] === 114 && buf[i + 2] === 117 && buf[i + 3] === 101 && buf[i + 4] === ${term}) { cells[${col}] = ${CELL_TRUE}; i += 5; break c${col}; }`,
        `  if (buf[i] === 102 && buf[i + 1] === 97 && buf[i + 2] === 108 && buf[i + 3] === 115 && buf[i + 4] === 101 && buf[i + 5] === ${term}) { cells[${col}] = ${CELL_FALSE}; i += 6; break c${col}; }`,
        '}',
      );
    }
    // Any other cell: find its end, then check its bytes.
    src.push(
      'c = 0;',
      `for (;;) { c = buf[i]; if (c < 45 && (c === ${COMMA} || c === ${LF} || c === ${QUOTE})) break; hi |= c; i++; }`,
      `if (i >= end || c !== ${term}) break rows;`,
      'e = i;',
      last ? `if (e > s && buf[e - 1] === ${CR}) { e--; flags |= ${SCAN_REBUILD}; }` : '',
    );
    const enumTest = kind === K_ENUM ? matcher(enums[col] ?? []) : null;
    if (missingTest !== null && (kind === K_TEXT || enumTest !== null)) {
      // Strings: the missing-value and enum tests inlined as byte comparisons.
      src.push(
        'len = e - s;',
        `if (${missingTest}) {`,
        required[col] ? '  break rows;' : '',
        `  cells[${col}] = ${CELL_EMPTY}; flags |= len > 0 ? ${SCAN_MISSING | SCAN_REBUILD} : ${SCAN_MISSING};`,
        '} else {',
        enumTest !== null ? `  if (!(${enumTest})) break rows;` : '',
        `  cells[${col}] = ${CELL_AS_IS};`,
        '}',
        'i++;',
        '}',
      );
      continue;
    }
    src.push(
      `r = target.checkCell(${col}, buf, s, e);`,
      'if (r < 0) break rows;',
      `if (r > 0) flags |= ${SCAN_REBUILD};`,
      numeric
        ? `flags |= cells[${col}] === ${CELL_EMPTY} ? ${SCAN_MISSING} : ${SCAN_EXTREME};`
        : `if (cells[${col}] === ${CELL_EMPTY}) flags |= ${SCAN_MISSING};`,
      'i++;',
      '}',
    );
  }
  src.push(
    // i is past the LF; the content excludes it and a CR before it.
    `e = (flags & ${SCAN_REBUILD}) !== 0 && buf[i - 2] === ${CR} ? i - 2 : i - 1;`,
    `if (e - pos > ${lit(maxLineBytes)}) break rows;`,
    'if ((hi & 0x80) !== 0 && !isUtf8(buf.subarray(pos, e))) break rows;',
    'count++;',
    'if (flags === 0) sink.valid(buf, pos, i);',
    'else target.commitRow(buf, pos, i, flags);',
    'pos = i;',
    '}',
    'target.scanned = count;',
    'return pos;',
  );
  const factory = new Function(
    'POW10',
    'isUtf8',
    `"use strict";\nreturn function scanRows(buf, pos, end, cells, values, lows, highs, target, sink) {\n${src
      .filter((line) => line !== '')
      .join('\n')}\n};`,
  ) as (pow10: readonly number[], utf8: (b: Uint8Array) => boolean) => RowsScanner;
  return factory(POW10, isUtf8);
}

function needsQuotes(b: Uint8Array, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = b[i];
    if (c === COMMA || c === QUOTE || c === LF || c === CR) return true;
  }
  return false;
}

function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function shown(text: string): string {
  const t = text.length > MESSAGE_VALUE_CHARS ? `${text.slice(0, MESSAGE_VALUE_CHARS)}...` : text;
  return JSON.stringify(t);
}

function checkOptions(options: ValidationOptions): void {
  const f = options.maxInvalidRowFraction;
  if (!(f >= 0 && f <= 1)) throw new RangeError(`maxInvalidRowFraction must be between 0 and 1, got ${f}`);
  const m = options.maxReportedErrors ?? 100;
  if (!Number.isSafeInteger(m) || m < 0)
    throw new RangeError(`maxReportedErrors must be a whole number >= 0, got ${m}`);
}

export class FileValidator implements CsvRunFastPath {
  /** Curated header line ("a,b,c\n"). */
  readonly curatedHeader: Uint8Array;
  /** Quarantine header line: the schema columns and `_errors`. */
  readonly quarantineHeader: Uint8Array;

  private readonly schema: DatasetSchema;
  private readonly options: ValidationOptions;
  private readonly sink: ValidationSink;
  private readonly reader: CsvReader;
  private readonly maxErrors: number;

  // The schema compiled into parallel arrays, indexed by column.
  private readonly n: number;
  private readonly names: string[];
  private readonly kinds: Uint8Array;
  private readonly required: Uint8Array;
  private readonly mins: Float64Array;
  private readonly maxs: Float64Array;
  private readonly enums: ByteSet[];
  private readonly missingValues: ByteSet;

  // Statistics.
  private readonly missingCounts: Float64Array;
  private readonly invalidCounts: Float64Array;
  private readonly lows: Float64Array;
  private readonly highs: Float64Array;
  private readonly codeCounts = new Float64Array(ERROR_CODES.length);
  private readonly errors: RowError[] = [];
  private total = 0;
  private valid = 0;
  private invalid = 0;
  private bytes = 0;

  /** No missing value looks like a number or boolean, so a cell that parses as one is not missing. */
  private readonly missingUnlikeValues: boolean;

  // Per-row scratch.
  private readonly cells: Uint8Array;
  private readonly values: Float64Array;
  private rowErrCodes: number[] = [];
  private rowErrFields: number[] = [];
  private rowErrs = 0;
  /** Each `_errors` entry ("code" or "code:field") as bytes, at code * (n + 1) + field + 1 (field -1: none). */
  private readonly errEntries: Uint8Array[] = [];
  /** A field name with a quote, comma or line break: the `_errors` cell is then built as a quoted string. */
  private readonly errEntriesNeedQuotes: boolean;
  private out = new Uint8Array(64 * 1024);
  private unescaped = new Uint8Array(1024);

  /** The single-pass scanner compiled for this schema (see compileRowsScanner). */
  private readonly scanRows: RowsScanner;
  /**
   * How many records the scanner's last call handled (ScanTarget).
   * @internal
   */
  scanned = 0;
  private headerSeen = false;
  /** Set once the whole file is known to be quarantined: the rest of the input is ignored. */
  private fileFailure: { code: ErrorCode; reason: string } | null = null;
  private finished = false;

  constructor(schema: DatasetSchema, options: ValidationOptions, sink: ValidationSink) {
    checkOptions(options);
    this.schema = schema;
    this.options = options;
    this.sink = sink;
    this.maxErrors = options.maxReportedErrors ?? 100;
    const fields = schema.fields;
    const n = fields.length;
    this.n = n;
    this.names = fields.map((f) => f.name);
    this.kinds = new Uint8Array(n);
    this.required = new Uint8Array(n);
    this.mins = new Float64Array(n).fill(-Infinity);
    this.maxs = new Float64Array(n).fill(Infinity);
    this.enums = [];
    fields.forEach((f, i) => {
      const c = f.constraints;
      const enumValues = c?.enum;
      this.kinds[i] =
        f.type === 'integer'
          ? K_INT
          : f.type === 'number'
            ? K_NUM
            : f.type === 'boolean'
              ? K_BOOL
              : enumValues
                ? K_ENUM
                : K_TEXT;
      this.required[i] = c?.required ? 1 : 0;
      if (c?.minimum !== undefined) this.mins[i] = c.minimum;
      if (c?.maximum !== undefined) this.maxs[i] = c.maximum;
      this.enums.push(new ByteSet(enumValues ?? []));
    });
    this.missingValues = new ByteSet(schema.missingValues);
    this.missingUnlikeValues = schema.missingValues.every((text) => {
      const v = encoder.encode(text);
      return (
        v.length === 0 ||
        (Number.isNaN(parseNumberBytes(v, 0, v.length, false)) && parseBoolBytes(v, 0, v.length) < 0)
      );
    });
    this.values = new Float64Array(n);
    this.missingCounts = new Float64Array(n);
    this.invalidCounts = new Float64Array(n);
    this.lows = new Float64Array(n).fill(Infinity);
    this.highs = new Float64Array(n).fill(-Infinity);
    this.cells = new Uint8Array(n);
    for (const code of ERROR_CODES)
      for (let f = -1; f < n; f++)
        this.errEntries.push(encoder.encode(f >= 0 ? `${code}:${this.names[f]}` : code));
    this.errEntriesNeedQuotes = this.names.some((name) => csvCell(name) !== name);
    this.curatedHeader = encoder.encode(this.names.map(csvCell).join(',') + '\n');
    this.quarantineHeader = encoder.encode([...this.names, '_errors'].map(csvCell).join(',') + '\n');
    this.scanRows = compileRowsScanner(
      this.kinds,
      this.mins,
      this.maxs,
      this.missingUnlikeValues,
      options.maxLineBytes,
      this.required,
      schema.missingValues,
      fields.map((f) => f.constraints?.enum),
    );
    this.reader = new CsvReader(
      {
        maxLineBytes: options.maxLineBytes,
        fastPath: this,
      },
      (rec) => this.onRecord(rec),
    );
  }

  /** Feeds decompressed bytes, any chunking; complete records go to the sink before this returns. */
  push(chunk: Uint8Array): void {
    if (this.finished) throw new Error('FileValidator.push after end or fail');
    if (this.fileFailure) return;
    this.bytes += chunk.length;
    // Always a plain Uint8Array, so the byte loops see one array type (a Buffer is a subclass) and stay fast.
    if (chunk.constructor !== Uint8Array)
      chunk = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    this.reader.push(chunk);
  }

  /** End of input: flushes the last record and returns the report, the status decided by the policy. */
  end(): ValidationReport {
    if (this.finished) throw new Error('FileValidator.end called twice');
    if (!this.fileFailure) this.reader.end();
    this.finished = true;
    if (!this.fileFailure) {
      if (this.bytes === 0) this.failFile('empty', 'the file is empty', 1);
      else if (!this.headerSeen) this.failFile('empty', 'the file has no header record', 1);
      else if (this.total === 0)
        this.failFile('empty', 'the file has a header but no data rows', this.reader.records + 1);
    }
    if (this.fileFailure) return this.report('quarantined', this.fileFailure.reason);
    const limit = this.options.maxInvalidRowFraction;
    const fraction = this.invalid / this.total;
    if (fraction > limit) {
      const pct = (x: number): string => `${Number((x * 100).toFixed(2))}%`;
      return this.report(
        'quarantined',
        `${this.invalid} of ${this.total} rows are invalid (${pct(fraction)}), more than the ${pct(limit)} allowed`,
      );
    }
    return this.report('accepted');
  }

  /** The input could not be read (e.g. corrupt gzip): a quarantined report with this code and message. */
  fail(code: ErrorCode, message: string): ValidationReport {
    if (this.finished) throw new Error('FileValidator.fail after end or fail');
    this.finished = true;
    const row = this.reader.records + 1;
    this.codeCounts[ERROR_CODES.indexOf(code)]++;
    const error: RowError = { row, field: null, code, message };
    // The error that stopped the file matters more than any other, so it is never cut by the cap.
    if (this.errors.length < this.maxErrors || this.errors.length === 0) this.errors.push(error);
    else this.errors[this.errors.length - 1] = error;
    this.fileFailure = { code, reason: message };
    return this.report('quarantined', message);
  }

  private report(status: 'accepted' | 'quarantined', reason?: string): ValidationReport {
    const errorCounts: Partial<Record<ErrorCode, number>> = {};
    ERROR_CODES.forEach((code, k) => {
      if (this.codeCounts[k] > 0) errorCounts[code] = this.codeCounts[k];
    });
    const fields: Record<string, FieldStats> = {};
    this.names.forEach((name, i) => {
      const stats: FieldStats = { missing: this.missingCounts[i], invalid: this.invalidCounts[i] };
      if (this.lows[i] <= this.highs[i]) {
        stats.min = this.lows[i];
        stats.max = this.highs[i];
      }
      fields[name] = stats;
    });
    return {
      status,
      ...(reason !== undefined ? { reason } : {}),
      rows: { total: this.total, valid: this.valid, invalid: this.invalid },
      errorCounts,
      errors: this.errors.slice(),
      fields,
    };
  }

  private failFile(code: ErrorCode, reason: string, row: number): void {
    this.codeCounts[ERROR_CODES.indexOf(code)]++;
    if (this.errors.length < this.maxErrors) this.errors.push({ row, field: null, code, message: reason });
    this.fileFailure = { code, reason };
  }

  private onRecord(rec: CsvRecord): void {
    if (this.fileFailure) return;
    if (!this.headerSeen) {
      this.headerSeen = true;
      this.checkHeader(rec);
      return;
    }
    this.onRow(rec);
  }

  private checkHeader(rec: CsvRecord): void {
    if (rec.error !== null) {
      this.failFile(rec.error, `the header record cannot be read: ${rec.message}`, rec.no);
      return;
    }
    const got: string[] = [];
    for (let i = 0; i < rec.count; i++) got.push(fieldText(rec, i));
    const expected = this.names;
    const target = this.schema.target;
    if (!got.includes(target)) {
      this.failFile(
        'header',
        `the header has no target column "${target}"; expected ${expected.join(',')}; got ${got.join(',')}`,
        rec.no,
      );
      return;
    }
    if (got.length !== expected.length || got.some((name, i) => name !== expected[i])) {
      this.failFile(
        'header',
        `the header does not match the schema; expected ${expected.join(',')}; got ${got.join(',')}`,
        rec.no,
      );
    }
  }

  /** Counts an error of the current row; true when it is among the first reported, so wants a message. */
  private note(code: number, field: number): boolean {
    this.codeCounts[code]++;
    if (field >= 0) this.invalidCounts[field]++;
    const k = this.rowErrs++;
    this.rowErrCodes[k] = code;
    this.rowErrFields[k] = field;
    return this.errors.length < this.maxErrors;
  }

  private pushError(row: number, field: number, code: number, message: string): void {
    this.errors.push({ row, field: field >= 0 ? this.names[field] : null, code: ERROR_CODES[code], message });
  }

  private valueText(b: Uint8Array, s: number, e: number): string {
    return shown(utf8.decode(b.subarray(s, e)));
  }

  private onRow(rec: CsvRecord): void {
    this.total++;
    this.rowErrs = 0;
    const row = rec.no;
    if (rec.error !== null) {
      const code = ERROR_CODES.indexOf(rec.error);
      if (this.note(code, -1)) this.pushError(row, -1, code, rec.message);
      this.writeInvalid(rec);
      return;
    }
    const n = this.n;
    if (rec.count !== n) {
      if (this.note(C_COLUMNS, -1))
        this.pushError(row, -1, C_COLUMNS, `expected ${n} columns, got ${rec.count}`);
      this.writeInvalid(rec);
      return;
    }
    const buf = rec.buf;
    const starts = rec.starts;
    const ends = rec.ends;
    const flags = rec.flags;
    const kinds = this.kinds;
    const cells = this.cells;
    const missingValues = this.missingValues;
    let rebuild = rec.terminator !== 1;
    for (let i = 0; i < n; i++) {
      let b = buf;
      let s = starts[i];
      let e = ends[i];
      const fl = flags[i];
      if (fl & FIELD_ESCAPED) {
        if (this.unescaped.length < e - s) this.unescaped = new Uint8Array(e - s);
        e = unescapeInto(buf, s, e, this.unescaped);
        s = 0;
        b = this.unescaped;
      }
      if (missingValues.has(b, s, e)) {
        this.missingCounts[i]++;
        cells[i] = CELL_EMPTY;
        if (e > s || fl !== 0) rebuild = true;
        if (this.required[i] !== 0 && this.note(C_REQUIRED, i))
          this.pushError(
            row,
            i,
            C_REQUIRED,
            `missing value ${this.valueText(b, s, e)} in required field ${this.names[i]}`,
          );
        continue;
      }
      cells[i] = CELL_AS_IS;
      switch (kinds[i]) {
        case K_TEXT:
          break;
        case K_ENUM:
          if (!this.enums[i].has(b, s, e) && this.note(C_ENUM, i)) {
            const allowed = this.schema.fields[i].constraints?.enum ?? [];
            this.pushError(row, i, C_ENUM, `${this.valueText(b, s, e)} is not one of ${allowed.join(', ')}`);
          }
          break;
        case K_INT:
        case K_NUM: {
          const v = parseNumberBytes(b, s, e, kinds[i] === K_INT);
          if (v !== v || v === Infinity || v === -Infinity) {
            if (this.note(C_TYPE, i))
              this.pushError(
                row,
                i,
                C_TYPE,
                `${this.valueText(b, s, e)} is not ${kinds[i] === K_INT ? 'an integer' : 'a finite number'}`,
              );
          } else if (v < this.mins[i]) {
            if (this.note(C_MINIMUM, i))
              this.pushError(row, i, C_MINIMUM, `${v} is below the minimum ${this.mins[i]}`);
          } else if (v > this.maxs[i]) {
            if (this.note(C_MAXIMUM, i))
              this.pushError(row, i, C_MAXIMUM, `${v} is above the maximum ${this.maxs[i]}`);
          } else {
            if (v < this.lows[i]) this.lows[i] = v;
            if (v > this.highs[i]) this.highs[i] = v;
          }
          break;
        }
        case K_BOOL: {
          const t = parseBoolBytes(b, s, e);
          if (t < 0) {
            if (this.note(C_TYPE, i))
              this.pushError(
                row,
                i,
                C_TYPE,
                `${this.valueText(b, s, e)} is not a boolean (true, false, 1 or 0, any case)`,
              );
          } else {
            cells[i] = t & 1 ? CELL_TRUE : CELL_FALSE;
            if (t > 1 || fl !== 0) rebuild = true;
          }
          break;
        }
      }
    }
    if (this.rowErrs > 0) {
      this.writeInvalid(rec);
      return;
    }
    this.valid++;
    if (!rebuild) {
      // Already in the curated layout: the original bytes, LF included, go out untouched.
      this.sink.valid(buf, rec.start, rec.end + 1);
      return;
    }
    this.writeCurated(rec);
  }

  private ensureOut(need: number): Uint8Array {
    if (this.out.length < need) {
      let size = this.out.length * 2;
      while (size < need) size *= 2;
      this.out = new Uint8Array(size);
    }
    return this.out;
  }

  /** The row in the curated layout: missing values emptied, booleans spelt true/false, the rest as given. */
  private writeCurated(rec: CsvRecord): void {
    const n = this.n;
    const out = this.ensureOut(rec.end - rec.start + 6 * n + 2);
    const buf = rec.buf;
    let o = 0;
    for (let i = 0; i < n; i++) {
      if (i > 0) out[o++] = COMMA;
      switch (this.cells[i]) {
        case CELL_EMPTY:
          break;
        case CELL_TRUE:
          out.set(TRUE_BYTES, o);
          o += 4;
          break;
        case CELL_FALSE:
          out.set(FALSE_BYTES, o);
          o += 5;
          break;
        default: {
          // Quoted cells keep their quotes and escapes: already valid CSV for the same value.
          const q = rec.flags[i] & FIELD_QUOTED ? 1 : 0;
          const e = rec.ends[i] + q;
          for (let s = rec.starts[i] - q; s < e; s++) out[o++] = buf[s];
        }
      }
    }
    out[o++] = LF;
    this.sink.valid(out, 0, o);
  }

  /**
   * The single-pass path for the common record: unquoted, inside the chunk, every cell valid. Each cell is
   * scanned once, numbers and booleans parsed as they are scanned, a whole run of such records in one call.
   * It stops before the first other record, with no side effect from it, and the reader's general path
   * handles (and reports) that record. Called by the reader only.
   * @internal
   */
  fastRecords(buf: Uint8Array, pos: number, end: number): number {
    if (!this.headerSeen || this.fileFailure) {
      this.scanned = 0;
      return pos;
    }
    const next = this.scanRows(
      buf,
      pos,
      end,
      this.cells,
      this.values,
      this.lows,
      this.highs,
      this,
      this.sink,
    );
    this.total += this.scanned;
    this.valid += this.scanned;
    return next;
  }

  /**
   * A scanned valid row that is not passed on as it is: counts its missing cells and extremes (SCAN_MISSING,
   * SCAN_EXTREME), and rebuilds it in the curated layout (SCAN_REBUILD). Called by the compiled scanner only.
   * @internal
   */
  commitRow(buf: Uint8Array, pos: number, next: number, flags: number): void {
    const n = this.n;
    const last = n - 1;
    const kinds = this.kinds;
    const cells = this.cells;
    if ((flags & (SCAN_MISSING | SCAN_EXTREME)) !== 0) {
      const values = this.values;
      const lows = this.lows;
      const highs = this.highs;
      for (let col = 0; col < n; col++) {
        const cell = cells[col];
        if (cell === CELL_EMPTY) this.missingCounts[col]++;
        else if (cell === CELL_AS_IS && (kinds[col] === K_INT || kinds[col] === K_NUM)) {
          const v = values[col];
          if (v < lows[col]) lows[col] = v;
          if (v > highs[col]) highs[col] = v;
        }
      }
    }
    if ((flags & SCAN_REBUILD) === 0) {
      this.sink.valid(buf, pos, next);
      return;
    }
    // Rare enough to find the cells again rather than record their offsets for every row: the record is
    // unquoted, so every comma separates cells.
    const out = this.ensureOut(next - pos + 6 * n);
    let o = 0;
    let k = pos;
    for (let col = 0; col < n; col++) {
      if (col > 0) out[o++] = COMMA;
      let e = k;
      while (buf[e] !== COMMA && buf[e] !== LF) e++;
      const after = e + 1;
      if (col === last && e > k && buf[e - 1] === CR) e--;
      const cell = cells[col];
      if (cell === CELL_AS_IS) {
        for (; k < e; k++) out[o++] = buf[k];
      } else if (cell === CELL_TRUE) {
        out[o++] = 116;
        out[o++] = 114;
        out[o++] = 117;
        out[o++] = 101;
      } else if (cell === CELL_FALSE) {
        out[o++] = 102;
        out[o++] = 97;
        out[o++] = 108;
        out[o++] = 115;
        out[o++] = 101;
      }
      k = after;
    }
    out[o++] = LF;
    this.sink.valid(out, 0, o);
  }

  /**
   * Checks one unquoted cell without side effects: sets `cells[col]` (and `values[col]` for a number) and
   * returns 0 when valid, 1 when valid but spelt differently in the curated output, -1 when invalid.
   * Called by the compiled row scanner only.
   * @internal
   */
  checkCell(col: number, b: Uint8Array, s: number, e: number): number {
    const len = e - s;
    if (this.missingValues.has(b, s, e)) {
      if (this.required[col] !== 0) return -1;
      this.cells[col] = CELL_EMPTY;
      return len > 0 ? 1 : 0;
    }
    this.cells[col] = CELL_AS_IS;
    switch (this.kinds[col]) {
      case K_ENUM:
        return this.enums[col].has(b, s, e) ? 0 : -1;
      case K_INT:
      case K_NUM: {
        const v = parseNumberBytes(b, s, e, this.kinds[col] === K_INT);
        if (!(v >= this.mins[col] && v <= this.maxs[col]) || v === Infinity || v === -Infinity) return -1;
        this.values[col] = v;
        return 0;
      }
      case K_BOOL: {
        const t = parseBoolBytes(b, s, e);
        if (t < 0) return -1;
        this.cells[col] = t & 1 ? CELL_TRUE : CELL_FALSE;
        return t > 1 ? 1 : 0;
      }
      default:
        return 0;
    }
  }

  /** The row's original cells, padded or cut to the schema's columns, then an `_errors` cell. */
  private writeInvalid(rec: CsvRecord): void {
    this.invalid++;
    const n = this.n;
    // The `_errors` cell: its entries copied as bytes, unless a field name makes it need quotes.
    let errBytes: Uint8Array | null = null;
    let errLength = this.rowErrs > 0 ? this.rowErrs - 1 : 0;
    if (this.errEntriesNeedQuotes) {
      let errs = '';
      for (let k = 0; k < this.rowErrs; k++) {
        const f = this.rowErrFields[k];
        errs += (k > 0 ? ';' : '') + ERROR_CODES[this.rowErrCodes[k]] + (f >= 0 ? `:${this.names[f]}` : '');
      }
      errBytes = encoder.encode(csvCell(errs));
      errLength = errBytes.length;
    } else {
      for (let k = 0; k < this.rowErrs; k++)
        errLength += this.errEntries[this.rowErrCodes[k] * (n + 1) + this.rowErrFields[k] + 1].length;
    }
    const cut = rec.count < n ? rec.count : n;
    // Re-quoting can at most double a cell and add two quotes.
    const out = this.ensureOut(2 * (rec.end - rec.start) + 3 * n + errLength + 2);
    const buf = rec.buf;
    const malformed = rec.error === 'quote';
    let o = 0;
    for (let i = 0; i < n; i++) {
      if (i > 0) out[o++] = COMMA;
      if (i >= cut) continue;
      let s = rec.starts[i];
      let e = rec.ends[i];
      if (!malformed) {
        const q = rec.flags[i] & FIELD_QUOTED ? 1 : 0;
        s -= q;
        e += q;
        for (; s < e; s++) out[o++] = buf[s];
      } else if (!needsQuotes(buf, s, e)) {
        for (; s < e; s++) out[o++] = buf[s];
      } else {
        // A malformed record's bytes are not valid CSV as they stand: quote them so the file stays readable.
        out[o++] = QUOTE;
        for (; s < e; s++) {
          const c = buf[s];
          out[o++] = c;
          if (c === QUOTE) out[o++] = QUOTE;
        }
        out[o++] = QUOTE;
      }
    }
    out[o++] = COMMA;
    if (errBytes !== null) {
      out.set(errBytes, o);
      o += errBytes.length;
    } else {
      for (let k = 0; k < this.rowErrs; k++) {
        if (k > 0) out[o++] = SEMICOLON;
        const entry = this.errEntries[this.rowErrCodes[k] * (n + 1) + this.rowErrFields[k] + 1];
        for (let j = 0; j < entry.length; j++) out[o++] = entry[j];
      }
    }
    out[o++] = LF;
    this.sink.invalid(out, 0, o);
  }
}
