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
  // Decided by the Lambda adapter before the validator sees a byte: the file is over the size it can read in time.
  'too-large',
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

/**
 * Validation throughput assumed per vCPU, end to end in the Lambda (S3 read, validation, curated upload),
 * in bytes per second. The core alone validates 185-273 MB/s on one core of the development machine; the whole
 * handler, with S3 in another process, 28.5 MB/s using 54% of a core, so about 53 MB/s per core of CPU
 * (bench/reliability.ts, on the shared 2-core machine). This is 2.6x lower again, so that a slow S3
 * connection, KMS and retries still fit.
 */
export const ASSUMED_BYTES_PER_VCPU_SECOND = 20e6;
/** Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB. */
export const LAMBDA_MB_PER_VCPU = 1769;
/** Only half of the timeout is planned for reading: the rest is margin (retries, the uploads, the report). */
export const TIMEOUT_SHARE_FOR_READING = 0.5;

/**
 * The largest object one validation run is expected to finish within the Lambda's timeout: half the timeout
 * at the assumed throughput, scaled by the share of a vCPU the memory size buys (the validator is single
 * threaded, so more than one vCPU does not help). 900 s at 1024 MB gives 5,209,723,007 bytes (5.2 GB).
 */
export function defaultMaxFileBytes(timeoutSeconds: number, memoryMb: number): number {
  if (!(timeoutSeconds > 0) || !(memoryMb > 0))
    throw new Error(
      `defaultMaxFileBytes: timeout and memory must be positive, got ${timeoutSeconds} s, ${memoryMb} MB`,
    );
  const vcpu = Math.min(1, memoryMb / LAMBDA_MB_PER_VCPU);
  return Math.floor(timeoutSeconds * TIMEOUT_SHARE_FOR_READING * ASSUMED_BYTES_PER_VCPU_SECOND * vcpu);
}

/** `1,048,577 bytes (1.05 MB)`: exact for the record, decimal MB for people. */
export function describeBytes(bytes: number): string {
  return `${bytes.toLocaleString('en-US')} bytes (${(bytes / 1e6).toFixed(2)} MB)`;
}

/** The message of a `too-large` file: its size (or the decompressed bytes read) and the limit, in bytes and MB. */
export function tooLargeMessage(limit: number, size: number, decompressed = false): string {
  const what = decompressed
    ? `the gzip stream decompresses to more than ${describeBytes(limit)}`
    : `the file is ${describeBytes(size)}`;
  return (
    `${what}, over the limit of ${describeBytes(limit)} that one validation run can read within the ` +
    `Lambda timeout (validation.maxFileBytes); split the file, or raise the limit with the timeout and memory`
  );
}
