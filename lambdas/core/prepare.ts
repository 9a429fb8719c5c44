import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { BaselineBuilder, type Baseline, type BaselineOptions } from './baseline';
import { CsvReader, FIELD_ESCAPED, fieldText, type CsvRecord } from './csv';
import { featureSpec, RowEncoder, type FeatureSpec } from './encoding';
import type { DatasetSchema } from './schema';
import { isValidationRange } from './split';

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

/**
 * Receives one encoded row: the training line in `line[start, end)`, LF included (label first, no header),
 * the numeric form of its features (NaN = missing) and its label. All three are reused for the next row.
 */
export type EncodedRowHandler = (
  line: Uint8Array,
  start: number,
  end: number,
  features: Float64Array,
  label: number,
) => void;

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
const BOOL_SPELLINGS: readonly (readonly [string, number])[] = [
  ['true', 1],
  ['True', 1],
  ['TRUE', 1],
  ['1', 1],
  ['false', 0],
  ['False', 0],
  ['FALSE', 0],
  ['0', 0],
];
const POW10: number[] = [];
for (let i = 0; i <= 22; i++) POW10.push(10 ** i);
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
  readonly tables: (ByteTable | undefined)[];
  /** The text of each index 0, 1, ... as bytes (category indices, class labels). */
  readonly indexBytes: Uint8Array[];
  /** Bytes of the longest index text. */
  readonly indexWidth: number;
  readonly missing: ByteTable;
  readonly booleans: ByteTable;
  readonly labelKind: number;
  readonly classTable: ByteTable | undefined;
}

const fastSpecs = new WeakMap<FeatureSpec, FastSpec>();

function fastSpec(spec: FeatureSpec): FastSpec {
  let f = fastSpecs.get(spec);
  if (f) return f;
  let maxIndex = 16;
  const tables = spec.features.map((feat) => {
    if (feat.type !== 'category') return undefined;
    const cats = feat.categories ?? [];
    maxIndex = Math.max(maxIndex, cats.length);
    return new ByteTable(cats.map((c, i) => [c, i] as const));
  });
  const classes = spec.target.type === 'string' ? (spec.target.classes ?? []) : [];
  maxIndex = Math.max(maxIndex, classes.length);
  f = {
    kinds: Uint8Array.from(
      spec.features.map((x) =>
        x.type === 'boolean' ? K_BOOLEAN : x.type === 'category' ? K_CATEGORY : K_NUMERIC,
      ),
    ),
    tables,
    indexBytes: Array.from({ length: maxIndex }, (_, i) => utf8(String(i))),
    indexWidth: String(maxIndex - 1).length,
    missing: new ByteTable([...new Set(['', ...spec.missingValues])].map((m) => [m, 1] as const)),
    booleans: new ByteTable(BOOL_SPELLINGS),
    labelKind:
      spec.target.type === 'boolean'
        ? L_BOOLEAN
        : spec.target.type === 'string'
          ? L_CLASS
          : spec.problem === 'regression'
            ? L_REGRESSION
            : L_NUMERIC_CLASS,
    classTable:
      spec.target.type === 'string' ? new ByteTable(classes.map((c, i) => [c, i] as const)) : undefined,
  };
  fastSpecs.set(spec, f);
  return f;
}

/**
 * Reads one CSV file whose first record is the header (curated files, or raw files with the schema's
 * columns in any order) and encodes each data row as RowEncoder does (DESIGN.md section 4).
 *
 * Two paths give the same bytes: a single-pass byte-level fast path for the common record (no quotes,
 * ASCII, plain decimals, known values), which builds no string at all, and RowEncoder for everything else.
 * The fast path gives up on anything unusual before any side effect, so the reader hands that record to the
 * general path (unit tests check that both paths agree byte for byte).
 */
export class EncodedCsvReader {
  readonly counts = emptyCounts();
  private readonly reader: CsvReader;
  private readonly fast: FastSpec;
  private encoder?: RowEncoder;
  private width = 0;
  private cells: (string | undefined)[] = [];
  /** By header column: ROLE_SKIP, ROLE_TARGET or the feature index. */
  private roles = new Int32Array(0);
  /** The header lists the features in spec order: the fast path can write them as it meets them. */
  private inSpecOrder = false;
  private readonly features: Float64Array;
  private line = new Uint8Array(4096);
  private wrappedOf?: Uint8Array;
  private wrapped: Buffer = Buffer.alloc(0);
  private readonly maxLineBytes: number;

  constructor(
    private readonly spec: FeatureSpec,
    /** For messages: the file or object name. */
    readonly name: string,
    private readonly onRow: EncodedRowHandler,
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
    this.onRow(this.line, 0, n + 1, enc.features, enc.label);
  }

  /** The line buffer, grown to at least `need` bytes, as a Buffer for its write(). */
  private lineBuffer(need: number): Buffer {
    if (this.line.length < need) this.line = new Uint8Array(Math.max(need, this.line.length * 2));
    return Buffer.from(this.line.buffer, this.line.byteOffset, this.line.length);
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
    this.roles = roles;
    const order = [...roles].filter((r) => r >= 0);
    this.inSpecOrder = order.every((r, k) => r === k);
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

  /**
   * CsvFastPath: encodes a plain record in one pass over its bytes, copying numbers as it checks them.
   * Features go to the line buffer from LABEL_ROOM on, in header order (used only when that is the spec's
   * order, as in curated files), and the label's text is put just before them. Returns -1, having counted and emitted
   * nothing, for the header, a blank line, quotes, non-ASCII bytes, a wrong cell count, an overlong
   * record, a missing label, or any value the general path must judge (exponents, unknown categories...).
   * @internal
   */
  fastRecord(buf: Uint8Array, pos: number, _end: number): number {
    if (!this.inSpecOrder) return -1;
    const f = this.fast;
    // Typed arrays drop writes past their end: a line that did not fit is detected below, after the fact.
    const out = this.line;
    const missing = f.missing;
    const kinds = f.kinds;
    const roles = this.roles;
    const values = this.features;
    const last = this.width - 1;
    let o = LABEL_ROOM;
    let label = NaN;
    let i = pos;
    let c = 0;
    for (let col = 0; col <= last; col++) {
      const s = i;
      const role = roles[col];
      if (role >= 0 && kinds[role] === K_NUMERIC) {
        out[o++] = COMMA;
        const cellOut = o;
        let mant = 0;
        let scale = 0;
        let dot = false;
        let digits = false;
        c = buf[i];
        if (c === 45 || c === 43) out[o++] = buf[i++];
        for (;;) {
          c = buf[i];
          if (c >= 48 && c <= 57) {
            mant = mant * 10 + (c - 48);
            if (dot) scale++;
            digits = true;
          } else if (c === 46 && !dot) dot = true;
          else break;
          out[o++] = c;
          i++;
        }
        if (c !== COMMA && c !== LF && c !== CR) {
          // Not a plain decimal: fine only if the whole cell is a missing-value marker.
          while (c !== COMMA && c !== LF) {
            if (c === QUOTE || c > 127) return -1;
            c = buf[++i];
          }
          let e = i;
          if (c === LF && col === last && e > s && buf[e - 1] === CR) e--;
          if (!(missing.mayHave(e - s) && missing.get(buf, s, e) >= 0)) return -1;
          o = cellOut;
          values[role] = NaN;
        } else {
          const e = i;
          if (c === CR) {
            // Only a CRLF line ending may follow a number.
            if (col !== last || buf[i + 1] !== LF) return -1;
            c = LF;
            i++;
          }
          const len = e - s;
          if (missing.mayHave(len) && missing.get(buf, s, e) >= 0) {
            o = cellOut;
            values[role] = NaN;
          } else {
            if (!digits || mant > Number.MAX_SAFE_INTEGER || scale > 22) return -1;
            const v = scale === 0 ? mant : mant / POW10[scale];
            values[role] = buf[s] === 45 ? -v : v;
          }
        }
      } else {
        c = buf[i];
        while (c !== COMMA && c !== LF) {
          if (c === QUOTE || c > 127) return -1;
          c = buf[++i];
        }
        let e = i;
        if (c === LF && col === last && e > s && buf[e - 1] === CR) e--;
        if (role !== ROLE_SKIP) {
          const isMissing = missing.mayHave(e - s) && missing.get(buf, s, e) >= 0;
          if (role === ROLE_TARGET) {
            if (isMissing) return -1;
            const lk = f.labelKind;
            if (lk === L_BOOLEAN) label = f.booleans.get(buf, s, e);
            else if (lk === L_CLASS) label = f.classTable!.get(buf, s, e);
            else {
              label = parseDecimal(buf, s, e);
              if (lk === L_NUMERIC_CLASS && !(Number.isInteger(label) && label >= 0)) return -1;
            }
            if (!(label >= 0) && lk !== L_REGRESSION) return -1;
            if (label !== label) return -1;
          } else {
            out[o++] = COMMA;
            if (isMissing) values[role] = NaN;
            else {
              const v =
                kinds[role] === K_BOOLEAN ? f.booleans.get(buf, s, e) : f.tables[role]!.get(buf, s, e);
              if (v < 0) return -1;
              values[role] = v;
              const t = f.indexBytes[v];
              for (let j = 0; j < t.length; j++) out[o++] = t[j];
            }
          }
        }
      }
      if (col < last) {
        if (c !== COMMA) return -1;
        i++;
      } else if (c !== LF) return -1;
    }
    // The reader's `end` is just past the chunk's last LF, so the scan stopped at a LF (i) within the chunk.
    if (i - pos > this.maxLineBytes) return -1;
    if (o + 1 >= out.length) {
      this.lineBuffer(LABEL_ROOM + (i - pos) + this.width * (f.indexWidth + 1) + 2);
      return -1;
    }
    let start: number;
    if (label >= 0 && Number.isInteger(label) && label < f.indexBytes.length) {
      const t = f.indexBytes[label];
      start = LABEL_ROOM - t.length;
      for (let j = 0; j < t.length; j++) out[start + j] = t[j];
    } else {
      const text = String(label);
      if (text.length > LABEL_ROOM) return -1;
      start = LABEL_ROOM - text.length;
      for (let j = 0; j < text.length; j++) out[start + j] = text.charCodeAt(j);
    }
    out[o++] = LF;
    this.counts.records++;
    this.counts.encoded++;
    this.onRow(out, start, o, values, label);
    return i + 1;
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
 * Where Prepare sends the training lines: `line[start, end)`, LF included. The bytes are reused after the
 * call, so a sink copies what it keeps.
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
  private readonly fraction: number;
  private readonly fastPath: boolean;
  private readonly seed: number;
  private readonly maxLineBytes: number;
  private current?: EncodedCsvReader;
  private readonly totals = emptyCounts();
  private files = 0;
  private train = 0;
  private validation = 0;

  constructor(
    schema: DatasetSchema,
    options: PrepareOptions,
    private readonly sink: PrepareSink,
  ) {
    const f = options.validationFraction;
    if (!(f >= 0 && f < 1)) throw new RangeError(`validationFraction must be in [0, 1), got ${f}`);
    this.fraction = f;
    this.fastPath = options.fastPath ?? true;
    this.seed = options.splitSeed ?? 0;
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.spec = featureSpec(schema);
    this.builder = new BaselineBuilder(this.spec, options.baseline);
  }

  beginFile(name: string): void {
    if (this.current) throw new Error(`beginFile(${name}) before endFile(${this.current.name})`);
    this.current = new EncodedCsvReader(
      this.spec,
      name,
      (line, start, end, features, label) => this.row(line, start, end, features, label),
      { maxLineBytes: this.maxLineBytes, fastPath: this.fastPath },
    );
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
    this.files++;
    const t = this.totals;
    t.records += r.counts.records;
    t.encoded += r.counts.encoded;
    t.unlabeled += r.counts.unlabeled;
    t.skipped += r.counts.skipped;
  }

  private row(line: Uint8Array, start: number, end: number, features: Float64Array, label: number): void {
    if (isValidationRange(line, start, end, this.fraction, this.seed)) {
      this.validation++;
      this.sink.validation(line, start, end);
      return;
    }
    this.train++;
    this.builder.add(features, label);
    this.sink.train(line, start, end);
  }

  /** Rows so far, for progress. */
  get rows(): { total: number; train: number; validation: number } {
    return { total: this.train + this.validation, train: this.train, validation: this.validation };
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

/**
 * Coalesces lines into large buffers (one write per line would cost more than encoding it) and hands each
 * full buffer to `out`. A handed-over buffer is never reused, so the receiver may keep it.
 */
export class LineBatcher {
  private buf: Buffer;
  private used = 0;
  /** Bytes handed over or pending. */
  bytes = 0;
  lines = 0;

  constructor(
    private readonly out: (bytes: Buffer) => void,
    private readonly size = 256 * 1024,
  ) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Copies `line[start, end)`. */
  add(line: Uint8Array, start: number, end: number): void {
    const length = end - start;
    if (this.used + length > this.size) {
      this.flush();
      if (length > this.size) {
        this.bytes += length;
        this.lines++;
        this.out(Buffer.from(line.subarray(start, end)));
        return;
      }
    }
    const buf = this.buf;
    let o = this.used;
    // Lines are short: a loop beats set() and its subarray.
    for (let j = start; j < end; j++) buf[o++] = line[j];
    this.used = o;
    this.bytes += length;
    this.lines++;
  }

  flush(): void {
    if (this.used === 0) return;
    this.out(this.buf.subarray(0, this.used));
    this.buf = Buffer.allocUnsafe(this.size);
    this.used = 0;
  }
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
