import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { BaselineBuilder, type Baseline, type BaselineOptions } from './baseline';
import { CsvReader, FIELD_ESCAPED, fieldText, type CsvRecord } from './csv';
import { BOOL_SPELLINGS, featureSpec, POW10, RowEncoder, type FeatureSpec } from './encoding';
import type { DatasetSchema } from './schema';
import { FNV_OFFSET, FNV_PRIME, isValidationRange, validationThreshold } from './split';
export { LineBatcher } from './line-batcher';

/**
 * Prepare (DESIGN.md section 6, step 2), the pure part: curated CSV bytes in, XGBoost training lines
 * (label first, no header), the feature spec and the baseline out, in one pass with memory bounded by one
 * record plus the baseline sketches. The caller owns the I/O: it lists and streams the curated objects in a
 * fixed order and writes the lines where they belong.
 */

/** Thrown when the curated data holds too few usable rows to train on. Step Functions sees `name`. */
export class InsufficientDataError extends Error {
  constructor(
    readonly found: { total: number; train: number; validation: number },
    readonly needed: number,
    readonly where: string,
  ) {
    super(
      found.total < needed
        ? `Not enough training data: found ${found.total} labelled rows in ${where}, need at least ${needed} ` +
            '(training.minTrainingRows). Land more data in raw or lower the minimum.'
        : `Not enough training data: the split of ${found.total} labelled rows in ${where} left ` +
            `${found.train} for training and ${found.validation} for validation; each channel needs at least one row.`,
    );
    this.name = 'InsufficientDataError';
  }
}

/** Throws InsufficientDataError unless there are `needed` rows and both channels have at least one. */
export function checkSufficient(
  rows: { total: number; train: number; validation: number },
  needed: number,
  where: string,
): void {
  if (rows.total < needed || rows.train === 0 || rows.validation === 0)
    throw new InsufficientDataError(rows, needed, where);
}

/** Counts of one or many CSV files. */
export interface EncodeCounts {
  /** Data records read (header and blank lines excluded). */
  records: number;
  /** Rows encoded into a training line. */
  encoded: number;
  /** Rows without a usable label: nothing to learn from. */
  unlabeled: number;
  /** Rows the CSV reader could not read, or with another number of cells than the header. */
  skipped: number;
}

export function emptyCounts(): EncodeCounts {
  return { records: 0, encoded: 0, unlabeled: 0, skipped: 0 };
}

/** Stage sizes: a line longer than this bypasses the stage (and the fast path). */
const STAGE_BYTES = 64 * 1024;

/**
 * Whole lines on their way to a sink, coalesced so that the sink is called once per ~64 KiB rather than once
 * per line. The compiled fast path appends to `buf` directly. @internal
 */
export class LineStage {
  readonly buf = new Uint8Array(STAGE_BYTES);
  used = 0;

  constructor(private readonly out: (lines: Uint8Array, start: number, end: number) => void) {}

  add(line: Uint8Array, start: number, end: number): void {
    const length = end - start;
    if (this.used + length > this.buf.length) {
      this.flush();
      if (length > this.buf.length) {
        this.out(line, start, end);
        return;
      }
    }
    this.buf.set(line.subarray(start, end), this.used);
    this.used += length;
  }

  flush(): void {
    if (this.used === 0) return;
    const n = this.used;
    this.used = 0;
    this.out(this.buf, 0, n);
  }
}

/**
 * Where EncodedCsvReader sends each encoded row: the line to the stage of its side of the split (see
 * split.ts), and a training row's numeric form to `trainRow`. @internal
 */
export interface EncodedRowTarget {
  /** In [0, 1): see PrepareOptions.validationFraction. */
  readonly validationFraction: number;
  readonly seed: number;
  readonly trainStage: LineStage;
  readonly validationStage: LineStage;
  /** Called after a training line was staged; `features` and `label` are reused for the next row. */
  trainRow(features: Float64Array, label: number): void;
  validationRows: number;
}

const LF = 10;
const CR = 13;
const COMMA = 44;
const QUOTE = 34;
const K_NUMERIC = 0;
const K_BOOLEAN = 1;
const K_CATEGORY = 2;
/** Column roles in the fast path: a feature index (>= 0), or one of these. */
const ROLE_SKIP = -1;
const ROLE_TARGET = -2;
/** Label kinds. */
const L_BOOLEAN = 0;
const L_CLASS = 1;
const L_NUMERIC_CLASS = 2;
const L_REGRESSION = 3;
/** The fast path writes features from here and puts the label's text just before them. */
const LABEL_ROOM = 32;
const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');

/** Byte strings and what they map to, matched by length first. */
class ByteTable {
  private readonly keys: Uint8Array[];
  private readonly values: Int32Array;
  /** Bit n set when some key has n bytes (n < 31); longer keys set bit 31. */
  readonly lengths: number;

  constructor(entries: readonly (readonly [string, number])[]) {
    this.keys = entries.map(([k]) => utf8(k));
    this.values = Int32Array.from(entries.map(([, v]) => v));
    this.lengths = this.keys.reduce((m, k) => m | (1 << Math.min(k.length, 31)), 0);
  }

  /** Could a key have this many bytes? A cheap test before `get`. */
  mayHave(len: number): boolean {
    return (this.lengths & (1 << (len < 31 ? len : 31))) !== 0;
  }

  /** The value of `b[s, e)`, or -1. */
  get(b: Uint8Array, s: number, e: number): number {
    const len = e - s;
    const keys = this.keys;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k];
      if (key.length !== len) continue;
      let j = 0;
      while (j < len && key[j] === b[s + j]) j++;
      if (j === len) return this.values[k];
    }
    return -1;
  }
}

/** Per-spec tables of the fast path, built once per spec. */
interface FastSpec {
  readonly kinds: Uint8Array;
  /** By feature: the table of its spellings (booleans and categories). */
  readonly tables: (ByteTable | undefined)[];
  /** The text of each index 0, 1, ... as bytes (category indices, class labels). */
  readonly indexBytes: Uint8Array[];
  /** Bytes of the longest index text. */
  readonly indexWidth: number;
  /** By feature: the category names of a category feature. */
  readonly categoryNames: readonly (readonly string[])[];
  readonly classNames: readonly string[];
  /** The missing-value texts, "" included. */
  readonly missingValues: readonly string[];
  readonly missing: ByteTable;
  readonly labelKind: number;
  readonly classTable: ByteTable | undefined;
  /** Compiled encoders by header layout (the roles of the columns). */
  readonly encoders: Map<string, RowsEncoder>;
}

const fastSpecs = new WeakMap<FeatureSpec, FastSpec>();

function fastSpec(spec: FeatureSpec): FastSpec {
  let f = fastSpecs.get(spec);
  if (f) return f;
  let maxIndex = 16;
  const booleans = new ByteTable(BOOL_SPELLINGS);
  const tables = spec.features.map((feat) => {
    if (feat.type === 'boolean') return booleans;
    if (feat.type !== 'category') return undefined;
    const cats = feat.categories ?? [];
    maxIndex = Math.max(maxIndex, cats.length);
    return new ByteTable(cats.map((c, i) => [c, i] as const));
  });
  const classes = spec.target.type === 'string' ? (spec.target.classes ?? []) : [];
  maxIndex = Math.max(maxIndex, classes.length);
  const missingValues = [...new Set(['', ...spec.missingValues])];
  const labelKind =
    spec.target.type === 'boolean'
      ? L_BOOLEAN
      : spec.target.type === 'string'
        ? L_CLASS
        : spec.problem === 'regression'
          ? L_REGRESSION
          : L_NUMERIC_CLASS;
  f = {
    kinds: Uint8Array.from(
      spec.features.map((x) =>
        x.type === 'boolean' ? K_BOOLEAN : x.type === 'category' ? K_CATEGORY : K_NUMERIC,
      ),
    ),
    tables,
    categoryNames: spec.features.map((x) => (x.type === 'category' ? (x.categories ?? []) : [])),
    classNames: classes,
    indexBytes: Array.from({ length: maxIndex }, (_, i) => utf8(String(i))),
    indexWidth: String(maxIndex - 1).length,
    missingValues,
    missing: new ByteTable(missingValues.map((m) => [m, 1] as const)),
    labelKind,
    classTable:
      labelKind === L_BOOLEAN
        ? booleans
        : labelKind === L_CLASS
          ? new ByteTable(classes.map((c, i) => [c, i] as const))
          : undefined,
    encoders: new Map(),
  };
  fastSpecs.set(spec, f);
  return f;
}

/**
 * The compiled fast path (see compileRowsEncoder): encodes the run of plain records from `pos`, hands each
 * line to `emit`, sets `st.scanned` and returns where it stopped.
 */
type RowsEncoder = (
  buf: Uint8Array,
  pos: number,
  end: number,
  out: Uint8Array,
  values: Float64Array,
  target: EncodedRowTarget,
  st: { scanned: number; grow(need: number): void },
) => number;

/**
 * The label's text just before `LABEL_ROOM` in `out`, as RowEncoder writes it (String(label)); returns where
 * it starts, or -1 when it does not fit.
 */
function writeLabel(out: Uint8Array, label: number, indexBytes: readonly Uint8Array[]): number {
  if (label >= 0 && Number.isInteger(label) && label < indexBytes.length) {
    const t = indexBytes[label];
    const start = LABEL_ROOM - t.length;
    for (let j = 0; j < t.length; j++) out[start + j] = t[j];
    return start;
  }
  const text = String(label);
  if (text.length > LABEL_ROOM) return -1;
  const start = LABEL_ROOM - text.length;
  for (let j = 0; j < text.length; j++) out[start + j] = text.charCodeAt(j);
  return start;
}

/** Bytes that cannot stand unquoted in a cell, and so are never matched in place. */
const NEEDS_QUOTES = /[",\r\n]/;
/** A missing-value marker that a plain decimal could spell (then numbers are tested against the markers). */
const DECIMAL_LIKE = /^[+-]?[0-9]*\.?[0-9]*$/;

/**
 * Compiles the fast path for one spec and header layout: the column loop unrolled, each column's role, enum
 * and boolean spellings and the missing values fixed in its code, as validate.ts does for validation. Only
 * integers reach the generated source (strings go in as their byte values), so a schema cannot inject code.
 *
 * It handles the run of records from `pos` that are unquoted, ASCII (outside values matched in place), have
 * one cell per column, a usable label and values it can encode by itself (plain decimals, known spellings,
 * missing markers); it stops before any other record, with no side effect from it beyond the scratch arrays,
 * and the reader gives that record to the general path. Features are written to `out` from LABEL_ROOM on, in
 * header order (so only for headers that list the features in spec order, as curated files do), and the
 * label's text just before them. Byte loops need no bounds check: they all stop at LF, and `end` is just past
 * an LF (CsvFastPath).
 */
function compileRowsEncoder(
  f: FastSpec,
  roles: Int32Array,
  maxLineBytes: number,
  validationFraction: number,
  seed: number,
): RowsEncoder {
  const width = roles.length;
  const bytesOf = (v: string): number[] => Array.from(utf8(v));
  const lit = (x: number): string => {
    if (!Number.isSafeInteger(x)) throw new Error(`internal: not an integer: ${x}`);
    return String(x);
  };
  /** A test that `buf[s, s + len)` is one of `values`, as byte comparisons; null when too many. */
  const matcher = (values: readonly string[]): string | null => {
    const encoded = values.map(bytesOf);
    if (encoded.length > 16 || encoded.some((v) => v.length > 32)) return null;
    return encoded
      .map((v) => `(${[`len === ${v.length}`, ...v.map((b, k) => `buf[s + ${k}] === ${b}`)].join(' && ')})`)
      .join(' || ');
  };
  const missingTest = matcher(f.missingValues) ?? 'MISSING.mayHave(len) && MISSING.get(buf, s, e) >= 0';
  const decimalMissing = f.missingValues.filter((m) => /[0-9]/.test(m) && DECIMAL_LIKE.test(m));
  /** In-place tests of spellings that end at the cell's terminator, each with the code it runs on a match. */
  const direct = (
    col: number,
    spellings: readonly (readonly [string, number])[],
    term: number,
    then: (v: number) => string,
  ): string[] =>
    spellings
      .filter(([text]) => text !== '' && !f.missingValues.includes(text) && !NEEDS_QUOTES.test(text))
      .filter(([text]) => utf8(text).length <= 32)
      .slice(0, 16)
      .map(([text, v]) => {
        const b = bytesOf(text);
        const test = [...b.map((x, k) => `buf[i + ${k}] === ${x}`), `buf[i + ${b.length}] === ${term}`];
        return `if (${test.join(' && ')}) { ${then(v)} i += ${b.length + 1}; break c${col}; }`;
      });
  /** Writes the bytes of index `v` (a constant) to out. */
  const writeIndex = (v: number): string =>
    Array.from(f.indexBytes[v] ?? utf8(String(v)), (b) => `out[o++] = ${b};`).join(' ');
  const src: string[] = [
    'let count = 0, i = 0, c = 0, hi = 0, s = 0, e = 0, o = 0, co = 0, len = 0, start = 0;',
    'let m = 0, d = 0, d0 = 0, digits = 0, frac = 0, v = 0, label = 0, t = null, h = 0;',
    'let stage = null, sb = null, su = 0;',
    'rows: while (pos < end) {',
    `i = pos; hi = 0; o = ${LABEL_ROOM}; start = -1; label = NaN;`,
  ];
  /** Finds the end of an unquoted cell and its content [s, e) (a last cell's CR excluded), or leaves the row. */
  const scan = (term: number, last: boolean): string[] => [
    `for (;;) { c = buf[i]; if (c < 45 && (c === ${COMMA} || c === ${LF} || c === ${QUOTE})) break; hi |= c; i++; }`,
    `if (c !== ${term}) break rows;`,
    'e = i;',
    last ? `if (e > s && buf[e - 1] === ${CR}) e--;` : '',
    'len = e - s;',
  ];
  for (let col = 0; col < width; col++) {
    const role = roles[col];
    const last = col === width - 1;
    const term = last ? LF : COMMA;
    src.push(`c${col}: {`, 's = i;');
    if (role === ROLE_SKIP) {
      src.push(
        `for (;;) { c = buf[i]; if (c < 45 && (c === ${COMMA} || c === ${LF} || c === ${QUOTE})) break; hi |= c; i++; }`,
        `if (c !== ${term}) break rows;`,
        'i++;',
        '}',
      );
      continue;
    }
    if (role === ROLE_TARGET) {
      const lk = f.labelKind;
      if (lk === L_BOOLEAN || lk === L_CLASS) {
        const entries = lk === L_BOOLEAN ? BOOL_SPELLINGS : f.classNames.map((c, i) => [c, i] as const);
        src.push(
          ...direct(col, entries, term, (v) => {
            const b = f.indexBytes[v];
            const at = LABEL_ROOM - b.length;
            return `label = ${lit(v)}; start = ${at}; ${Array.from(b, (x, k) => `out[${at + k}] = ${x};`).join(' ')}`;
          }),
          ...scan(term, last),
          `if (${missingTest}) break rows;`,
          'label = LABELS.get(buf, s, e);',
          'if (label < 0) break rows;',
        );
      } else {
        src.push(
          ...scan(term, last),
          `if (${missingTest}) break rows;`,
          'label = parseDecimal(buf, s, e);',
          lk === L_NUMERIC_CLASS
            ? 'if (!(label >= 0 && Number.isInteger(label))) break rows;'
            : 'if (label !== label) break rows;',
        );
      }
      src.push('start = writeLabel(out, label, INDEX);', 'if (start < 0) break rows;', 'i++;', '}');
      continue;
    }
    const k = role;
    if (f.kinds[k] === K_NUMERIC) {
      const digitLoop =
        'for (;;) { c = buf[i]; d = c - 48; if (d < 0 || d > 9) break; m = m * 10 + d; out[o++] = c; i++; }';
      src.push(
        `out[o++] = ${COMMA}; co = o; m = 0; frac = 0;`,
        'c = buf[i]; if (c === 45 || c === 43) { out[o++] = c; i++; }',
        'd0 = i;',
        digitLoop,
        'digits = i - d0;',
        `if (c === 46) { out[o++] = 46; i++; d0 = i; ${digitLoop} frac = i - d0; digits += frac; }`,
        'e = i;',
        last ? `if (c === ${CR} && buf[i + 1] === ${LF}) { i++; c = ${LF}; }` : '',
        // At most 15 digits: the mantissa is exact, and m / 10^frac is the correctly rounded value (as parseNumber).
        `if (c === ${term} && digits > 0 && digits <= 15) {`,
        decimalMissing.length > 0
          ? `  len = e - s; if (${matcher(decimalMissing)}) { o = co; values[${k}] = NaN; i++; break c${col}; }`
          : '',
        `  v = frac > 0 ? m / POW10[frac] : m; values[${k}] = buf[s] === 45 ? -v : v; i++; break c${col};`,
        '}',
        // Anything else is fine only when the whole cell is a missing-value marker.
        'o = co; i = s;',
        ...scan(term, last),
        `if (!(${missingTest})) break rows;`,
        `values[${k}] = NaN; i++;`,
        '}',
      );
      continue;
    }
    const entries =
      f.kinds[k] === K_BOOLEAN ? BOOL_SPELLINGS : f.categoryNames[k].map((c, i) => [c, i] as const);
    src.push(
      `out[o++] = ${COMMA};`,
      ...direct(col, entries, term, (v) => `values[${k}] = ${lit(v)}; ${writeIndex(v)}`),
      ...scan(term, last),
      `if (${missingTest}) { values[${k}] = NaN; i++; break c${col}; }`,
      `v = TABLES[${k}].get(buf, s, e);`,
      'if (v < 0) break rows;',
      `values[${k}] = v; t = INDEX[v]; for (d = 0; d < t.length; d++) out[o++] = t[d];`,
      'i++;',
      '}',
    );
  }
  const grow = LABEL_ROOM + width * (f.indexWidth + 1) + 2;
  src.push(
    // i is just past the LF.
    `if (i - 1 - pos > ${lit(maxLineBytes)} || (hi & 0x80) !== 0) break rows;`,
    // Writes past the end of `out` were dropped: grow it, and let the reader's general path take this record.
    `if (o >= out.length) { st.grow(i - pos + ${lit(grow)}); break rows; }`,
    // split.ts's isValidationRange, inlined (rowHashRange of the line without its LF; no CR can end it), and
    // fused with the copy of the line to the training stage, which a validation line simply does not keep.
    `len = o + 1 - start; if (len > ${STAGE_BYTES}) break rows;`,
    'stage = target.trainStage; if (stage.used + len > stage.buf.length) stage.flush();',
    'sb = stage.buf; su = stage.used;',
    `h = ${lit((FNV_OFFSET ^ seed) >>> 0)};`,
    `for (d = start; d < o; d++) { c = out[d]; h = Math.imul(h ^ c, ${FNV_PRIME}); sb[su++] = c; }`,
    `sb[su++] = ${LF};`,
    'h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;',
    'count++;',
    'if (h >>> 0 < THRESHOLD) {',
    '  stage = target.validationStage; if (stage.used + len > stage.buf.length) stage.flush();',
    '  sb = stage.buf; su = stage.used;',
    `  for (d = start; d < o; d++) sb[su++] = out[d];`,
    `  sb[su++] = ${LF}; stage.used = su; target.validationRows++;`,
    '} else {',
    '  stage.used = su; target.trainRow(values, label);',
    '}',
    'pos = i;',
    '}',
    'st.scanned = count;',
    'return pos;',
  );
  const factory = new Function(
    'POW10',
    'MISSING',
    'TABLES',
    'LABELS',
    'INDEX',
    'parseDecimal',
    'writeLabel',
    'THRESHOLD',
    `"use strict";\nreturn function encodeRows(buf, pos, end, out, values, target, st) {\n${src
      .filter((line) => line !== '')
      .join('\n')}\n};`,
  ) as (
    pow10: readonly number[],
    missing: ByteTable,
    tables: readonly (ByteTable | undefined)[],
    labels: ByteTable | undefined,
    index: readonly Uint8Array[],
    parse: typeof parseDecimal,
    label: (out: Uint8Array, label: number, indexBytes: readonly Uint8Array[]) => number,
    threshold: number,
  ) => RowsEncoder;
  return factory(
    POW10,
    f.missing,
    f.tables,
    f.classTable,
    f.indexBytes,
    parseDecimal,
    writeLabel,
    validationThreshold(validationFraction),
  );
}

/**
 * Reads one CSV file whose first record is the header (curated files, or raw files with the schema's
 * columns in any order) and encodes each data row as RowEncoder does (DESIGN.md section 4).
 *
 * Two paths give the same bytes: a fast path compiled per header (compileRowsEncoder) for the common record
 * (no quotes, ASCII, plain decimals, known values), which builds no string at all, and RowEncoder for
 * everything else. The fast path gives up on anything unusual before any side effect, so the reader hands
 * that record to the general path (unit tests check that both paths agree byte for byte).
 */
export class EncodedCsvReader {
  readonly counts = emptyCounts();
  /** CsvRunFastPath: records handled by the last fastRecords call. @internal */
  scanned = 0;
  private readonly reader: CsvReader;
  private readonly fast: FastSpec;
  private encoder?: RowEncoder;
  private rowsEncoder?: RowsEncoder;
  private width = 0;
  private cells: (string | undefined)[] = [];
  private readonly features: Float64Array;
  private line = new Uint8Array(4096);
  private wrappedOf?: Uint8Array;
  private wrapped: Buffer = Buffer.alloc(0);
  private readonly maxLineBytes: number;

  constructor(
    private readonly spec: FeatureSpec,
    /** For messages: the file or object name. */
    readonly name: string,
    private readonly split: EncodedRowTarget,
    options: { maxLineBytes: number; fastPath?: boolean },
  ) {
    this.fast = fastSpec(spec);
    this.features = new Float64Array(spec.features.length);
    this.maxLineBytes = options.maxLineBytes;
    this.reader = new CsvReader(
      { maxLineBytes: options.maxLineBytes, fastPath: (options.fastPath ?? true) ? this : undefined },
      (rec) => this.onRecord(rec),
    );
  }

  /** True once the header has been read. */
  get hasHeader(): boolean {
    return this.encoder !== undefined;
  }

  push(chunk: Uint8Array): void {
    this.reader.push(chunk);
  }

  end(): void {
    this.reader.end();
  }

  private onRecord(rec: CsvRecord): void {
    if (!this.encoder) {
      this.readHeader(rec);
      return;
    }
    this.counts.records++;
    if (rec.error !== null || rec.count !== this.width) {
      this.counts.skipped++;
      return;
    }
    this.fillCells(rec);
    const enc = this.encoder;
    const text = enc.encode(this.cells);
    if (text === undefined) {
      this.counts.unlabeled++;
      return;
    }
    const n = this.lineBuffer(text.length * 3 + 1).write(text, 0, 'utf8');
    this.line[n] = LF;
    this.counts.encoded++;
    const sp = this.split;
    if (isValidationRange(this.line, 0, n + 1, sp.validationFraction, sp.seed)) {
      sp.validationStage.add(this.line, 0, n + 1);
      sp.validationRows++;
    } else {
      sp.trainStage.add(this.line, 0, n + 1);
      sp.trainRow(enc.features, enc.label);
    }
  }

  /** The line buffer, grown to at least `need` bytes, as a Buffer for its write(). */
  private lineBuffer(need: number): Buffer {
    if (this.line.length < need) this.line = new Uint8Array(Math.max(need, this.line.length * 2));
    return Buffer.from(this.line.buffer, this.line.byteOffset, this.line.length);
  }

  /** For the compiled fast path: a line did not fit. @internal */
  grow(need: number): void {
    this.lineBuffer(need);
  }

  private readHeader(rec: CsvRecord): void {
    if (rec.error !== null) throw new Error(`${this.name}: the header cannot be read: ${rec.message}`);
    const header: string[] = [];
    for (let i = 0; i < rec.count; i++) header.push(fieldText(rec, i));
    let encoder: RowEncoder;
    try {
      encoder = new RowEncoder(this.spec, header);
    } catch (err) {
      throw new Error(`${this.name}: ${(err as Error).message}`);
    }
    // As RowEncoder: a name that appears twice is read from its last column.
    const roles = new Int32Array(rec.count).fill(ROLE_SKIP);
    const last = new Map(header.map((h, i) => [h, i] as const));
    this.spec.features.forEach((f, k) => (roles[last.get(f.name)!] = k));
    roles[last.get(this.spec.target.name)!] = ROLE_TARGET;
    // The fast path writes features as it meets them: only when the header lists them in spec order.
    const order = [...roles].filter((r) => r >= 0);
    if (order.every((r, k) => r === k)) {
      const sp = this.split;
      const key = `${this.maxLineBytes}:${sp.validationFraction}:${sp.seed}:${roles.join(',')}`;
      let compiled = this.fast.encoders.get(key);
      if (!compiled) {
        compiled = compileRowsEncoder(this.fast, roles, this.maxLineBytes, sp.validationFraction, sp.seed);
        this.fast.encoders.set(key, compiled);
      }
      this.rowsEncoder = compiled;
    }
    this.width = rec.count;
    this.cells = new Array<string | undefined>(rec.count).fill(undefined);
    this.encoder = encoder;
  }

  /**
   * One string per record and cheap substrings per cell: a native decode per cell would cost more than the
   * encoding. When the decoded length equals the byte length, every byte became one UTF-16 unit (any
   * multi-byte sequence decodes shorter), so byte offsets are string offsets.
   */
  private fillCells(rec: CsvRecord): void {
    const buf = rec.buf;
    if (buf !== this.wrappedOf) {
      this.wrappedOf = buf;
      this.wrapped = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    const cells = this.cells;
    const base = rec.start;
    const s = this.wrapped.toString('utf8', base, rec.end);
    if (s.length !== rec.end - base) {
      for (let i = 0; i < rec.count; i++) cells[i] = fieldText(rec, i);
      return;
    }
    for (let i = 0; i < rec.count; i++) {
      const cell = s.substring(rec.starts[i] - base, rec.ends[i] - base);
      cells[i] = rec.flags[i] & FIELD_ESCAPED ? cell.replace(/""/g, '"') : cell;
    }
  }

  /** CsvRunFastPath: the compiled fast path over a run of records (none before the header). @internal */
  fastRecords(buf: Uint8Array, pos: number, end: number): number {
    const enc = this.rowsEncoder;
    if (enc === undefined) {
      this.scanned = 0;
      return pos;
    }
    const next = enc(buf, pos, end, this.line, this.features, this.split, this);
    this.counts.records += this.scanned;
    this.counts.encoded += this.scanned;
    return next;
  }
}

/**
 * encoding.ts's parseNumber on bytes, fast path only: an optional sign, digits and at most one dot, with an
 * integer mantissa below 2^53 and at most 22 decimals, which it parses to the same (correctly rounded)
 * double. Anything else is NaN, and the caller leaves the row to the general path.
 */
function parseDecimal(b: Uint8Array, s: number, e: number): number {
  let i = s;
  let neg = false;
  let c = b[i];
  if (c === 45) {
    neg = true;
    i++;
  } else if (c === 43) i++;
  let mant = 0;
  let scale = 0;
  let dot = false;
  let digits = false;
  for (; i < e; i++) {
    c = b[i];
    if (c >= 48 && c <= 57) {
      mant = mant * 10 + (c - 48);
      digits = true;
      if (dot) scale++;
    } else if (c === 46 && !dot) dot = true;
    else return NaN;
  }
  if (!digits || mant > Number.MAX_SAFE_INTEGER || scale > 22) return NaN;
  const v = scale === 0 ? mant : mant / POW10[scale];
  return neg ? -v : v;
}

/**
 * Where Prepare sends the training lines: `lines[start, end)`, one or more whole lines, each with its LF, in
 * order (Prepare coalesces them: a call per line would cost more than encoding it). The bytes are reused
 * after the call, so a sink copies what it keeps.
 */
export interface PrepareSink {
  train(line: Uint8Array, start: number, end: number): void;
  validation(line: Uint8Array, start: number, end: number): void;
}

export interface PrepareOptions {
  /**
   * Fraction of rows, by a stable hash of each encoded row, that goes to validation; in [0, 1). 0 sends
   * every row to training (the baseline CLI).
   */
  readonly validationFraction: number;
  /** Picks another (equally deterministic) split. @default 0 */
  readonly splitSeed?: number;
  /** Longest record accepted, in bytes. @default 64 MiB (curated rows were validated under a lower limit) */
  readonly maxLineBytes?: number;
  /** @default the BaselineBuilder defaults (deciles) */
  readonly baseline?: BaselineOptions;
  /** The byte-level fast path; off only to check that both paths agree. @default true */
  readonly fastPath?: boolean;
}

export interface PrepareResult {
  readonly featureSpec: FeatureSpec;
  /** Built over the training rows only: what the model learnt from, which drift compares against. */
  readonly baseline: Baseline;
  readonly rows: { total: number; train: number; validation: number };
  readonly files: number;
  /** Summed over every file. */
  readonly counts: EncodeCounts;
}

const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * One Prepare pass over any number of files: `beginFile`, `push` (any chunking), `endFile`, for each file in a
 * fixed order, then `finish`. Each row goes to validation when `isValidationRow` says so for its encoded line,
 * so the split depends on the row alone (never on file order or chunking) and identical rows, which would
 * otherwise leak between the channels, always land on the same side.
 */
export class DatasetPreparer {
  readonly spec: FeatureSpec;
  private readonly builder: BaselineBuilder;
  private readonly fastPath: boolean;
  private readonly seed: number;
  private readonly maxLineBytes: number;
  private current?: EncodedCsvReader;
  private readonly totals = emptyCounts();
  private files = 0;
  private readonly target: EncodedRowTarget & { trainRows: number };

  constructor(schema: DatasetSchema, options: PrepareOptions, sink: PrepareSink) {
    const f = options.validationFraction;
    if (!(f >= 0 && f < 1)) throw new RangeError(`validationFraction must be in [0, 1), got ${f}`);
    this.fastPath = options.fastPath ?? true;
    this.seed = options.splitSeed ?? 0;
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.spec = featureSpec(schema);
    const builder = new BaselineBuilder(this.spec, options.baseline);
    this.builder = builder;
    this.target = {
      validationFraction: f,
      seed: this.seed,
      trainStage: new LineStage((l, s, e) => sink.train(l, s, e)),
      validationStage: new LineStage((l, s, e) => sink.validation(l, s, e)),
      trainRows: 0,
      validationRows: 0,
      trainRow(features: Float64Array, label: number): void {
        this.trainRows++;
        builder.add(features, label);
      },
    };
  }

  beginFile(name: string): void {
    if (this.current) throw new Error(`beginFile(${name}) before endFile(${this.current.name})`);
    this.current = new EncodedCsvReader(this.spec, name, this.target, {
      maxLineBytes: this.maxLineBytes,
      fastPath: this.fastPath,
    });
  }

  push(chunk: Uint8Array): void {
    if (!this.current) throw new Error('push before beginFile');
    this.current.push(chunk);
  }

  /** An empty file (no header) counts as a file with no rows. */
  endFile(): void {
    const r = this.current;
    if (!r) throw new Error('endFile before beginFile');
    r.end();
    this.current = undefined;
    // Callers may close their outputs after the last endFile.
    this.target.trainStage.flush();
    this.target.validationStage.flush();
    this.files++;
    const t = this.totals;
    t.records += r.counts.records;
    t.encoded += r.counts.encoded;
    t.unlabeled += r.counts.unlabeled;
    t.skipped += r.counts.skipped;
  }

  /** Rows so far, for progress. */
  get rows(): { total: number; train: number; validation: number } {
    const { trainRows: train, validationRows: validation } = this.target;
    return { total: train + validation, train, validation };
  }

  finish(): PrepareResult {
    if (this.current) throw new Error(`finish before endFile(${this.current.name})`);
    return {
      featureSpec: this.spec,
      baseline: this.builder.finish(),
      rows: this.rows,
      files: this.files,
      counts: { ...this.totals },
    };
  }
}

/** The bytes of `feature-spec.json` / `baseline.json`: stable key order, so equal inputs give equal files. */
export function toJsonBytes(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** SageMaker's name rule for training jobs, models and endpoint configs. */
export const SAGEMAKER_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;

/**
 * `<project>-<yyyymmddhhmmss, UTC, of the execution start>-<6 hex of sha256(execution name)>`: readable,
 * sortable by time, unique per execution (the hash tells apart two executions started in the same second),
 * and the same on a retry of the same execution, so a re-run overwrites rather than duplicates.
 */
export function trainingJobName(project: string, executionName: string, executionStartTime: string): string {
  const start = new Date(executionStartTime);
  if (executionStartTime === '' || Number.isNaN(start.getTime()))
    throw new Error(`executionStartTime must be an ISO 8601 time, got "${executionStartTime}"`);
  if (executionName === '') throw new Error('executionName must not be empty');
  const stamp = start.toISOString().slice(0, 19).replace(/[-:T]/g, '');
  const hash = createHash('sha256').update(executionName).digest('hex').slice(0, 6);
  const name = `${project}-${stamp}-${hash}`;
  if (!SAGEMAKER_NAME.test(name))
    throw new Error(
      `training job name "${name}" breaks SageMaker's rule (1-63 letters, digits and -): check the project name`,
    );
  return name;
}
