import { featureFields, problemType, type DatasetSchema, type FieldType, type ProblemType } from './schema';

/**
 * Model-input encoding (DESIGN.md section 4), shared by Prepare, inference and drift so that all three see
 * the same columns. Pure: no I/O.
 */

export type FeatureType = 'number' | 'integer' | 'boolean' | 'category';

export interface FeatureSpecFeature {
  readonly name: string;
  readonly type: FeatureType;
  /** For `category`: the enum in schema order; a value's encoding is its 0-based index here. */
  readonly categories?: readonly string[];
}

/** The content of `feature-spec.json`, written next to every trained model. */
export interface FeatureSpec {
  readonly version: 1;
  readonly dataset: string;
  readonly problem: ProblemType;
  readonly target: {
    readonly name: string;
    readonly type: FieldType;
    /**
     * Classification only: class names by label. Boolean targets are `["false", "true"]` (label 0, 1); enum
     * targets use the enum order. Absent for regression, and for numeric classification targets whose
     * labels are the values as given.
     */
    readonly classes?: readonly string[];
  };
  /** Model input columns in schema order. */
  readonly features: readonly FeatureSpecFeature[];
  /** Cell texts that mean "missing" in curated or raw input (the schema's missingValues). */
  readonly missingValues: readonly string[];
}

export const BOOLEAN_CATEGORIES: readonly string[] = ['false', 'true'];

export function featureSpec(schema: DatasetSchema): FeatureSpec {
  const problem = problemType(schema);
  const targetField = schema.fields.find((f) => f.name === schema.target);
  if (!targetField) throw new Error(`target "${schema.target}" is not one of the fields`);
  let classes: string[] | undefined;
  if (problem !== 'regression') {
    if (targetField.type === 'boolean') classes = [...BOOLEAN_CATEGORIES];
    else if (targetField.type === 'string') classes = [...(targetField.constraints?.enum ?? [])];
  }
  return {
    version: 1,
    dataset: schema.name,
    problem,
    target: { name: targetField.name, type: targetField.type, ...(classes ? { classes } : {}) },
    features: featureFields(schema).map((f): FeatureSpecFeature => {
      if (f.type === 'string')
        return { name: f.name, type: 'category', categories: [...f.constraints!.enum!] };
      return { name: f.name, type: f.type };
    }),
    missingValues: [...schema.missingValues],
  };
}

/** Number of buckets of a categorical feature (booleans have two), or 0 for a numeric one. */
export function categoryCount(f: FeatureSpecFeature): number {
  if (f.type === 'boolean') return 2;
  if (f.type === 'category') return f.categories?.length ?? 0;
  return 0;
}

export function isCategorical(f: FeatureSpecFeature): boolean {
  return f.type === 'boolean' || f.type === 'category';
}

/** Names of the classes of a classification target, by label; undefined for regression. */
export function targetClasses(spec: FeatureSpec): readonly string[] | undefined {
  return spec.problem === 'regression' ? undefined : spec.target.classes;
}

/** The boolean spellings the encoders read, with their encoded values (curated data holds only true/false). */
export const BOOL_SPELLINGS: readonly (readonly [string, number])[] = [
  ['true', 1],
  ['True', 1],
  ['TRUE', 1],
  ['1', 1],
  ['false', 0],
  ['False', 0],
  ['FALSE', 0],
  ['0', 0],
];
const BOOL_TEXT = new Map<string, number>(BOOL_SPELLINGS);

/** Exact powers of ten up to 1e22, the largest a double holds exactly. */
export const POW10: readonly number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * Parses a decimal number in `s[start, end)` without allocating in the common case (`-12.5`). The fast path
 * is exact: an integer mantissa below 2^53 divided by an exact power of ten (<= 1e22) is correctly rounded,
 * so it equals `Number(text)`. Anything else (exponents, long mantissas) falls back to `Number`.
 * Returns NaN for text that is not a finite number (the caller decides whether that is missing or invalid).
 */
export function parseNumber(s: string, start: number, end: number): number {
  let i = start;
  let neg = false;
  let c = s.charCodeAt(i);
  if (c === 45) {
    neg = true;
    i++;
  } else if (c === 43) i++;
  let mant = 0;
  let scale = 0;
  let dot = false;
  let digits = false;
  for (; i < end; i++) {
    c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      mant = mant * 10 + (c - 48);
      digits = true;
      if (dot) scale++;
    } else if (c === 46 && !dot) dot = true;
    else return slowNumber(s, start, end);
  }
  if (!digits) return Number.NaN;
  if (mant > Number.MAX_SAFE_INTEGER || scale > 22) return slowNumber(s, start, end);
  const v = scale === 0 ? mant : mant / POW10[scale];
  return neg ? -v : v;
}

function slowNumber(s: string, start: number, end: number): number {
  const text = s.slice(start, end).trim();
  // Number('') is 0 and Number('0x1f') is 31: neither is a CSV number.
  if (text === '' || /[xXoObB]/.test(text)) return Number.NaN;
  const v = Number(text);
  return Number.isFinite(v) ? v : Number.NaN;
}

/** Per-spec lookup tables, built once per spec object. */
interface Compiled {
  readonly kinds: Uint8Array; // 0 numeric, 1 boolean, 2 category
  readonly catIndex: (Map<string, number> | undefined)[];
  readonly catCount: Int32Array;
  readonly missing: Set<string>;
  readonly classIndex: Map<string, number> | undefined;
  /**
   * Boolean and category features: the model-input cell of each text that has one (a missing value's is
   * empty), so that encoding such a cell is one lookup. Undefined for numeric features.
   */
  readonly cells: (Map<string, string> | undefined)[];
}
const KIND_NUMERIC = 0;
const KIND_BOOLEAN = 1;
const KIND_CATEGORY = 2;

const compiledCache = new WeakMap<FeatureSpec, Compiled>();

function compile(spec: FeatureSpec): Compiled {
  let c = compiledCache.get(spec);
  if (c) return c;
  const n = spec.features.length;
  const kinds = new Uint8Array(n);
  const catCount = new Int32Array(n);
  const catIndex: (Map<string, number> | undefined)[] = [];
  spec.features.forEach((f, i) => {
    kinds[i] = f.type === 'boolean' ? KIND_BOOLEAN : f.type === 'category' ? KIND_CATEGORY : KIND_NUMERIC;
    catCount[i] = categoryCount(f);
    catIndex.push(
      f.type === 'category' ? new Map((f.categories ?? []).map((v, j) => [v, j] as const)) : undefined,
    );
  });
  const classes = targetClasses(spec);
  const missing = new Set(['', ...spec.missingValues]);
  const cells = Array.from(kinds, (kind, i): Map<string, string> | undefined => {
    if (kind === KIND_NUMERIC) return undefined;
    const table = new Map<string, string>(
      kind === KIND_BOOLEAN
        ? BOOL_SPELLINGS.map(([text, b]) => [text, String(b)] as const)
        : [...catIndex[i]!].map(([text, j]) => [text, String(j)] as const),
    );
    // A missing value wins over a category or boolean of the same spelling.
    for (const m of missing) table.set(m, '');
    return table;
  });
  c = {
    kinds,
    catIndex,
    catCount,
    missing,
    cells,
    classIndex:
      classes && spec.target.type === 'string' ? new Map(classes.map((v, j) => [v, j] as const)) : undefined,
  };
  compiledCache.set(spec, c);
  return c;
}

/**
 * Encodes one row's feature values (by feature, in spec order) to model-input cells joined by commas, no
 * newline: numbers as given, booleans 1/0, enum values by index, missing as an empty cell. A value that
 * cannot be encoded (an unknown enum value, a non-boolean) also becomes an empty cell: validated input never
 * has one, and XGBoost treating it as missing is safer than failing the whole batch.
 */
export function encodeFeatures(spec: FeatureSpec, values: readonly (string | undefined)[]): string {
  const c = compile(spec);
  let out = '';
  for (let i = 0; i < c.kinds.length; i++) {
    if (i > 0) out += ',';
    out += encodeCell(c, i, values[i]);
  }
  return out;
}

function encodeCell(c: Compiled, i: number, v: string | undefined): string {
  if (v === undefined) return '';
  const table = c.cells[i];
  if (table !== undefined) return table.get(v) ?? '';
  return c.missing.has(v) ? '' : v;
}

/**
 * encodeFeatures one cell at a time, for a caller that reads each value from elsewhere (the inference core
 * reads them from request records) and so need not gather a row of values first.
 */
export class FeatureCellEncoder {
  private readonly c: Compiled;
  /** Some missing value is the text of a number (`-1`), so a number's text can be missing. */
  private readonly numbersCanBeMissing: boolean;

  constructor(readonly spec: FeatureSpec) {
    this.c = compile(spec);
    this.numbersCanBeMissing = [...this.c.missing].some((m) => String(Number(m)) === m);
  }

  /** The model-input cell of feature `i` for the value text `v` (undefined: missing), as encodeFeatures. */
  cell(i: number, v: string | undefined): string {
    return encodeCell(this.c, i, v);
  }

  /** cell(i, text) for the text of a number (`String(v)`), sparing a numeric feature the missing-value test. */
  numberCell(i: number, text: string): string {
    if (this.numberIsText(i)) return text;
    return encodeCell(this.c, i, text);
  }

  /** Whether feature `i`'s cell for a number is the number's text itself. */
  numberIsText(i: number): boolean {
    return this.c.kinds[i] === KIND_NUMERIC && !this.numbersCanBeMissing;
  }
}

/**
 * The numeric form of one feature value, as drift and the baseline count it: the number, 1/0, the category
 * index; NaN when missing. An unknown category maps to the unseen bucket (the category count).
 */
function numericCell(c: Compiled, i: number, v: string | undefined): number {
  if (v === undefined || c.missing.has(v)) return Number.NaN;
  switch (c.kinds[i]) {
    case KIND_BOOLEAN:
      return BOOL_TEXT.get(v) ?? 2;
    case KIND_CATEGORY:
      return c.catIndex[i]!.get(v) ?? c.catCount[i];
    default:
      return parseNumber(v, 0, v.length);
  }
}

/**
 * The training label of a target value (the first column of the XGBoost CSV): binary boolean targets 1/0,
 * enum targets their index, regression the number. Numeric classification targets are used as given and
 * must be non-negative integers (XGBoost's requirement). NaN when the value is missing or unusable.
 */
export function encodeLabel(spec: FeatureSpec, value: string | undefined): number {
  const c = compile(spec);
  if (value === undefined || c.missing.has(value)) return Number.NaN;
  if (spec.target.type === 'boolean') return BOOL_TEXT.get(value) ?? Number.NaN;
  if (spec.target.type === 'string') return c.classIndex?.get(value) ?? Number.NaN;
  const v = parseNumber(value, 0, value.length);
  if (spec.problem === 'regression') return v;
  return Number.isInteger(v) && v >= 0 ? v : Number.NaN;
}

/**
 * Encodes curated rows for Prepare in one step per row: the training line and the numeric form the
 * baseline counts, so each cell is looked at once.
 */
export class RowEncoder {
  /** Numeric form of the last encoded row's features (NaN = missing); reused between rows. */
  readonly features: Float64Array;
  /** Label of the last encoded row (NaN when missing). */
  label = Number.NaN;
  private readonly columns: Int32Array;
  private readonly targetColumn: number;
  private readonly c: Compiled;

  /** @param header the curated file's column names; every feature and the target must be among them. */
  constructor(
    readonly spec: FeatureSpec,
    header: readonly string[],
  ) {
    this.c = compile(spec);
    const pos = new Map(header.map((h, i) => [h, i] as const));
    const missing = [...spec.features.map((f) => f.name), spec.target.name].filter((n) => !pos.has(n));
    if (missing.length > 0) throw new Error(`curated header lacks column(s): ${missing.join(', ')}`);
    this.columns = Int32Array.from(spec.features.map((f) => pos.get(f.name)!));
    this.targetColumn = pos.get(spec.target.name)!;
    this.features = new Float64Array(spec.features.length);
  }

  /**
   * Encodes one curated row (cells in header order). Returns the XGBoost training line, label first with no
   * header and no newline, or undefined when the label is missing (such a row cannot be trained on).
   * `features` and `label` are filled in either case.
   */
  encode(cells: readonly (string | undefined)[]): string | undefined {
    const c = this.c;
    let line = '';
    for (let i = 0; i < this.columns.length; i++) {
      const v = cells[this.columns[i]];
      this.features[i] = numericCell(c, i, v);
      line += ',';
      line += encodeCell(c, i, v);
    }
    this.label = encodeLabel(this.spec, cells[this.targetColumn]);
    if (Number.isNaN(this.label)) return undefined;
    return String(this.label) + line;
  }
}

/**
 * Decodes model-input rows (the capture CSV) back to numeric values for drift: numbers; booleans 1/0;
 * category indices, with anything that is not a known index or category name counted in the unseen bucket
 * (index = number of categories); empty cells NaN (missing). Text that is not a number in a numeric column
 * is treated as missing and counted in `invalidValues`.
 */
export class FeatureDecoder {
  invalidValues = 0;
  private readonly c: Compiled;
  readonly width: number;

  constructor(readonly spec: FeatureSpec) {
    this.c = compile(spec);
    this.width = spec.features.length;
  }

  /**
   * Decodes the comma-separated cells of `s[start, end)` into `out`. Returns false (leaving `out` partly
   * written) when the row does not have exactly one cell per feature.
   */
  decode(s: string, start: number, end: number, out: Float64Array): boolean {
    const n = this.width;
    let col = 0;
    let cellStart = start;
    for (let i = start; i <= end; i++) {
      if (i < end && s.charCodeAt(i) !== 44) continue;
      if (col >= n) return false;
      out[col] = this.cell(col, s, cellStart, i);
      col++;
      cellStart = i + 1;
    }
    return col === n;
  }

  /**
   * Decodes one row given as JSON values (numbers, strings, null for missing) into `out`. Returns false when
   * the row does not have exactly one value per feature.
   */
  decodeValues(values: readonly unknown[], out: Float64Array): boolean {
    if (values.length !== this.width) return false;
    for (let col = 0; col < values.length; col++) {
      const v = values[col];
      if (typeof v === 'number') {
        if (this.c.kinds[col] === KIND_NUMERIC) out[col] = Number.isFinite(v) ? v : Number.NaN;
        else {
          const k = this.c.catCount[col];
          out[col] = Number.isInteger(v) && v >= 0 && v < k ? v : k;
        }
      } else if (typeof v === 'string') out[col] = this.cell(col, v, 0, v.length);
      else if (typeof v === 'boolean' && this.c.kinds[col] === KIND_BOOLEAN) out[col] = v ? 1 : 0;
      else if (v === null || v === undefined) out[col] = Number.NaN;
      else {
        this.invalidValues++;
        out[col] = Number.NaN;
      }
    }
    return true;
  }

  private cell(col: number, s: string, start: number, end: number): number {
    // Whitespace and quotes around a cell are tolerated: clients build these rows by hand.
    while (start < end && s.charCodeAt(start) === 32) start++;
    while (end > start && (s.charCodeAt(end - 1) === 32 || s.charCodeAt(end - 1) === 13)) end--;
    if (end - start >= 2 && s.charCodeAt(start) === 34 && s.charCodeAt(end - 1) === 34) {
      start++;
      end--;
    }
    if (start === end) return Number.NaN;
    const kind = this.c.kinds[col];
    if (kind === KIND_NUMERIC) {
      const v = parseNumber(s, start, end);
      if (Number.isNaN(v)) this.invalidValues++;
      return v;
    }
    const k = this.c.catCount[col];
    if (end - start === 1) {
      // The common case: a one-digit index (or 0/1 for booleans).
      const d = s.charCodeAt(start) - 48;
      return d >= 0 && d < k ? d : d >= 0 && d <= 9 ? k : this.named(col, s.slice(start, end));
    }
    const v = parseNumber(s, start, end);
    if (!Number.isNaN(v)) return Number.isInteger(v) && v >= 0 && v < k ? v : k;
    return this.named(col, s.slice(start, end));
  }

  /** A category or boolean given by name rather than by its encoding. */
  private named(col: number, text: string): number {
    if (this.c.kinds[col] === KIND_BOOLEAN) return BOOL_TEXT.get(text) ?? 2;
    return this.c.catIndex[col]!.get(text) ?? this.c.catCount[col];
  }
}

const decoderCache = new WeakMap<FeatureSpec, FeatureDecoder>();

/**
 * Decodes one encoded model-input CSV row (no newline) to numeric values by feature; null when it does not
 * have one cell per feature. See FeatureDecoder for the value rules.
 */
export function decodeFeatureRow(
  spec: FeatureSpec,
  csvLine: string,
  out?: Float64Array,
): Float64Array | null {
  let d = decoderCache.get(spec);
  if (!d) {
    d = new FeatureDecoder(spec);
    decoderCache.set(spec, d);
  }
  const buf = out ?? new Float64Array(spec.features.length);
  let end = csvLine.length;
  if (end > 0 && csvLine.charCodeAt(end - 1) === 10) end--;
  return d.decode(csvLine, 0, end, buf) ? buf : null;
}

/** Feature values in spec order from a record keyed by column name (for callers that hold cells by name). */
export function featureValuesFromRecord(
  spec: FeatureSpec,
  record: Readonly<Record<string, string | undefined>>,
): (string | undefined)[] {
  return spec.features.map((f) => record[f.name]);
}
