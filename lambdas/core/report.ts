/** Shapes shared by the validation core, its Lambda adapter and the CLI (DESIGN.md section 9). */

export const ERROR_CODES = [
  'type',
  'required',
  'minimum',
  'maximum',
  'enum',
  'columns',
  'header',
  'encoding',
  'quote',
  'empty',
  'line-too-long',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface RowError {
  /** 1-based record number in the file, the header being record 1 (what a spreadsheet shows). */
  readonly row: number;
  /** The column, or null for a whole-row or whole-file error. */
  readonly field: string | null;
  readonly code: ErrorCode;
  readonly message: string;
}

export interface FieldStats {
  /** Cells that were missing (one of the schema's missingValues). */
  missing: number;
  /** Cells that failed a check. */
  invalid: number;
  /** Smallest and largest valid value of a number/integer field; absent when it had none. */
  min?: number;
  max?: number;
}

export interface ValidationReport {
  status: 'accepted' | 'quarantined';
  /** Why the whole file was quarantined; absent when accepted. */
  reason?: string;
  rows: { total: number; valid: number; invalid: number };
  errorCounts: Partial<Record<ErrorCode, number>>;
  /** The first `maxReportedErrors` errors (default 100), in file order. */
  errors: RowError[];
  fields: Record<string, FieldStats>;
}

export interface ValidationOptions {
  /** Above this fraction of invalid rows (invalid / total data rows) the whole file is quarantined. */
  readonly maxInvalidRowFraction: number;
  /** A record longer than this many bytes is rejected with `line-too-long`, and the reader resynchronises at the next newline. */
  readonly maxLineBytes: number;
  /** @default 100 */
  readonly maxReportedErrors?: number;
}

/**
 * Receives output rows as they are produced, so that a caller can stream them out with bounded memory.
 * Each call gets exactly one complete CSV record, `buf[start, end)`, ending in '\n'. The record is passed as
 * a range rather than a view so that no object is allocated per row. `buf` is the reader's or the validator's
 * own memory, valid only during the call: copy the range (or write it out) before returning, and never keep
 * or modify `buf`.
 */
export interface ValidationSink {
  /** A valid row in schema column order with normalised values (the curated layout). */
  valid(buf: Uint8Array, start: number, end: number): void;
  /** An invalid row: its original cells (padded or cut to the schema's columns) plus an `_errors` column. */
  invalid(buf: Uint8Array, start: number, end: number): void;
}
