import { CsvReader, fieldText, type CsvRecord } from '../../lambdas/core/csv';
import { ERROR_CODES, type ErrorCode, type ValidationOptions } from '../../lambdas/core/report';
import type { DatasetSchema } from '../../lambdas/core/schema';

/**
 * A deliberately naive validator, the oracle that FileValidator is compared with in the fuzz targets. It reads
 * records with CsvReader's general path only (no fast path, one push) and checks each cell with regular
 * expressions and `Number`, straight from the rules in DESIGN.md section 4 and lambdas/core/report.ts, so the
 * compiled single-pass scanner, the byte-level number parser and the curated writer are all checked against it.
 */

export interface ReferenceResult {
  status: 'accepted' | 'quarantined';
  rows: { total: number; valid: number; invalid: number };
  errorCounts: Partial<Record<ErrorCode, number>>;
  /** Every error (not capped), without messages. */
  errors: { row: number; field: string | null; code: ErrorCode }[];
  fields: Record<string, { missing: number; invalid: number; min?: number; max?: number }>;
  /** The sink's output: curated rows and quarantined rows, each concatenated. */
  valid: string;
  invalid: string;
}

const INTEGER = /^[+-]?[0-9]+$/;
const NUMBER = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/;
const BOOLEAN = /^(true|false|1|0)$/i;

const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** A cell's bytes as written, quotes included. */
function rawCell(rec: CsvRecord, i: number): Uint8Array {
  const q = rec.flags[i] & 1 ? 1 : 0;
  return rec.buf.subarray(rec.starts[i] - q, rec.ends[i] + q);
}

/** A cell's value: quotes removed and `""` unescaped, as bytes (the validator compares bytes, not text). */
function cellValue(rec: CsvRecord, i: number): string {
  const s = latin1(rec.buf.subarray(rec.starts[i], rec.ends[i]));
  return rec.flags[i] & 2 ? s.replace(/""/g, '"') : s;
}

export function referenceValidate(
  schema: DatasetSchema,
  options: ValidationOptions,
  input: Uint8Array,
): ReferenceResult {
  const names = schema.fields.map((f) => f.name);
  const n = names.length;
  const missing = new Set(schema.missingValues.map((v) => latin1(new TextEncoder().encode(v))));
  const enums = schema.fields.map(
    (f) => new Set((f.constraints?.enum ?? []).map((v) => latin1(new TextEncoder().encode(v)))),
  );
  const errors: ReferenceResult['errors'] = [];
  const fields: ReferenceResult['fields'] = Object.fromEntries(
    names.map((name) => [name, { missing: 0, invalid: 0 }]),
  );
  let valid = '';
  let invalid = '';
  let total = 0;
  let validRows = 0;
  let invalidRows = 0;
  let header = false;
  let failure: ErrorCode | null = null;

  const onRow = (rec: CsvRecord): void => {
    total++;
    const rowErrors: { code: ErrorCode; field: number }[] = [];
    const cells: string[] = [];
    if (rec.error !== null) rowErrors.push({ code: rec.error, field: -1 });
    else if (rec.count !== n) rowErrors.push({ code: 'columns', field: -1 });
    else {
      schema.fields.forEach((f, i) => {
        const v = cellValue(rec, i);
        const c = f.constraints ?? {};
        if (missing.has(v)) {
          fields[f.name].missing++;
          if (c.required) rowErrors.push({ code: 'required', field: i });
          cells.push('');
          return;
        }
        cells.push(latin1(rawCell(rec, i)));
        if (f.type === 'boolean') {
          if (!BOOLEAN.test(v)) rowErrors.push({ code: 'type', field: i });
          else cells[i] = /^(true|1)$/i.test(v) ? 'true' : 'false';
        } else if (f.type === 'string') {
          if (c.enum && !enums[i].has(v)) rowErrors.push({ code: 'enum', field: i });
        } else {
          const x = (f.type === 'integer' ? INTEGER : NUMBER).test(v) ? Number(v) : NaN;
          if (!Number.isFinite(x)) rowErrors.push({ code: 'type', field: i });
          else if (c.minimum !== undefined && x < c.minimum) rowErrors.push({ code: 'minimum', field: i });
          else if (c.maximum !== undefined && x > c.maximum) rowErrors.push({ code: 'maximum', field: i });
          else {
            const s = fields[f.name];
            if (s.min === undefined || x < s.min) s.min = x;
            if (s.max === undefined || x > s.max) s.max = x;
          }
        }
      });
    }
    for (const e of rowErrors) {
      errors.push({ row: rec.no, field: e.field >= 0 ? names[e.field] : null, code: e.code });
      if (e.field >= 0) fields[names[e.field]].invalid++;
    }
    if (rowErrors.length === 0) {
      validRows++;
      valid += cells.join(',') + '\n';
      return;
    }
    invalidRows++;
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      if (i >= Math.min(rec.count, n)) out.push('');
      else if (rec.error !== 'quote') out.push(latin1(rawCell(rec, i)));
      else {
        // A malformed record's cells are quoted where they would not read back as one cell.
        const v = latin1(rec.buf.subarray(rec.starts[i], rec.ends[i]));
        out.push(/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
      }
    }
    out.push(rowErrors.map((e) => (e.field >= 0 ? `${e.code}:${names[e.field]}` : e.code)).join(';'));
    invalid += out.join(',') + '\n';
  };

  const reader = new CsvReader({ maxLineBytes: options.maxLineBytes }, (rec) => {
    if (failure !== null) return;
    if (header) return onRow(rec);
    header = true;
    if (rec.error !== null) failure = rec.error;
    else {
      const got = Array.from({ length: rec.count }, (_, i) => fieldText(rec, i));
      if (got.length !== n || got.some((name, i) => name !== names[i])) failure = 'header';
    }
    if (failure !== null) errors.push({ row: rec.no, field: null, code: failure });
  });
  reader.push(input);
  reader.end();
  if (failure === null && (input.length === 0 || !header || total === 0)) {
    failure = 'empty';
    errors.push({ row: input.length === 0 || !header ? 1 : reader.records + 1, field: null, code: 'empty' });
  }
  const errorCounts: ReferenceResult['errorCounts'] = {};
  for (const code of ERROR_CODES) {
    const k = errors.filter((e) => e.code === code).length;
    if (k > 0) errorCounts[code] = k;
  }
  const status =
    failure !== null || invalidRows / total > options.maxInvalidRowFraction ? 'quarantined' : 'accepted';
  return {
    status,
    rows: { total, valid: validRows, invalid: invalidRows },
    errorCounts,
    errors,
    fields,
    valid,
    invalid,
  };
}
