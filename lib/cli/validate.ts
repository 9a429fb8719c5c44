import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderValidationHtml } from '../../lambdas/core/html/validation';
import type { ValidationOptions, ValidationReport } from '../../lambdas/core/report';
import { parseDatasetSchema, SchemaError, type DatasetSchema } from '../../lambdas/core/schema';
import { FileValidator } from '../../lambdas/core/validate';
import { readProjectConfig } from '../config';
import { numberOption, parseCommand, stringOption } from './args';
import { CliError, EXIT_OK, EXIT_REJECTED, UsageError } from './errors';
import { openInput } from './input';
import { formatBytes, formatRate, formatSeconds, type Progress } from './progress';
import { LineBatcher } from '../../lambdas/core/line-batcher';

/** What `--out-dir` holds after a run, relative file names. */
export interface FileOutputs {
  curated?: { file: string; rows: number };
  /** `rows`: the invalid rows with an `_errors` column; `file`: the original file, copied unchanged. */
  quarantine?: { file: string; content: 'rows' | 'file'; rows?: number };
}

/** The report printed with --json and written to report.json: the core report plus where it came from. */
export interface FileValidationReport extends ValidationReport {
  source: { file: string; bytes: number; gzip: boolean; decodedBytes: number };
  outputs: FileOutputs;
}

const OUTPUT_NAMES = ['curated.csv', 'quarantine.csv', 'quarantine.csv.gz', 'report.json'];

/** Reads a dataset schema file; every failure is a CliError that says what is wrong and where. */
export function readSchemaFile(file: string): DatasetSchema {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read schema file ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CliError(`schema file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return parseDatasetSchema(json);
  } catch (err) {
    if (err instanceof SchemaError) throw new CliError(`schema file ${file}: ${err.message}`);
    throw err;
  }
}

/**
 * A CSV output written through a temporary name, created on its first row so that an empty output leaves no
 * file, and renamed into place only when the file is accepted. Rows are coalesced into large writes: one
 * stream write per row would cost more than validating it.
 */
class OutputFile {
  private stream?: fs.WriteStream;
  private batcher?: LineBatcher;
  private error?: Error;
  rows = 0;

  constructor(
    private readonly file: string,
    private readonly header: Uint8Array,
  ) {}

  private get temp(): string {
    return `${this.file}.partial`;
  }

  private start(): LineBatcher {
    const stream = fs.createWriteStream(this.temp);
    stream.on('error', (err) => (this.error ??= err));
    const batcher = new LineBatcher((bytes) => stream.write(bytes));
    batcher.add(this.header, 0, this.header.length);
    this.stream = stream;
    this.batcher = batcher;
    return batcher;
  }

  /** Copies the row `buf[start, end)`: the validator may reuse that memory after the call. */
  write(buf: Uint8Array, start: number, end: number): void {
    this.rows++;
    (this.batcher ?? this.start()).add(buf, start, end);
  }

  async drained(): Promise<void> {
    if (this.error) throw this.error;
    const stream = this.stream;
    if (!stream?.writableNeedDrain) return;
    await Promise.race([once(stream, 'drain'), once(stream, 'error')]);
    if (this.error) throw this.error;
  }

  /** Moves the output into place; false when it never got a row. */
  async finish(): Promise<boolean> {
    if (!this.stream) return false;
    this.batcher!.flush();
    this.stream.end();
    await once(this.stream, 'close');
    if (this.error) throw this.error;
    fs.renameSync(this.temp, this.file);
    return true;
  }

  async discard(): Promise<void> {
    if (!this.stream) return;
    this.stream.destroy();
    if (!this.stream.closed) await once(this.stream, 'close');
    fs.rmSync(this.temp, { force: true });
  }
}

function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/**
 * Streams `file` through the validation core. With `outDir`, writes curated.csv, quarantine.csv and
 * report.json there (and removes those names left by an earlier run). IO errors throw CliError.
 */
export async function validateFile(
  file: string,
  schema: DatasetSchema,
  options: ValidationOptions,
  run: { outDir?: string; onProgress?: (bytesRead: number, totalBytes: number) => void } = {},
): Promise<FileValidationReport> {
  const { source, input, gzip, size } = await openInput(file);

  const outDir = run.outDir;
  if (outDir !== undefined) {
    try {
      fs.mkdirSync(outDir, { recursive: true });
      for (const name of OUTPUT_NAMES) fs.rmSync(path.join(outDir, name), { force: true });
    } catch (err) {
      input.destroy();
      throw new CliError(`cannot prepare output directory ${outDir}: ${(err as Error).message}`);
    }
  }

  let curated: OutputFile | undefined;
  let quarantine: OutputFile | undefined;
  const validator: FileValidator = new FileValidator(schema, options, {
    valid: (buf, start, end) => curated?.write(buf, start, end),
    invalid: (buf, start, end) => quarantine?.write(buf, start, end),
  });
  if (outDir !== undefined) {
    curated = new OutputFile(path.join(outDir, 'curated.csv'), validator.curatedHeader);
    quarantine = new OutputFile(path.join(outDir, 'quarantine.csv'), validator.quarantineHeader);
  }

  let decodedBytes = 0;
  let report: ValidationReport;
  try {
    try {
      for await (const chunk of source) {
        decodedBytes += chunk.length;
        validator.push(chunk);
        run.onProgress?.(input.bytesRead, size);
        if (curated && quarantine) await Promise.all([curated.drained(), quarantine.drained()]);
      }
      report = validator.end();
    } catch (err) {
      if (!(gzip && isZlibError(err))) throw err;
      report = validator.fail('encoding', `not a readable gzip stream: ${(err as Error).message}`);
    }
  } catch (err) {
    input.destroy();
    await Promise.all([curated?.discard(), quarantine?.discard()]);
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  } finally {
    if (!input.destroyed) input.destroy();
  }

  const outputs: FileOutputs = {};
  if (outDir !== undefined && curated && quarantine) {
    try {
      if (report.status === 'accepted') {
        if (await curated.finish()) outputs.curated = { file: 'curated.csv', rows: curated.rows };
        if (await quarantine.finish())
          outputs.quarantine = { file: 'quarantine.csv', content: 'rows', rows: quarantine.rows };
      } else {
        // As in the lake: a file quarantined whole is kept as it came, and none of its rows are curated.
        await Promise.all([curated.discard(), quarantine.discard()]);
        const name = gzip ? 'quarantine.csv.gz' : 'quarantine.csv';
        fs.copyFileSync(file, path.join(outDir, name));
        outputs.quarantine = { file: name, content: 'file' };
      }
    } catch (err) {
      throw new CliError(`cannot write to ${outDir}: ${(err as Error).message}`);
    }
  }

  const full: FileValidationReport = {
    ...report,
    source: { file: path.basename(file), bytes: size, gzip, decodedBytes },
    outputs,
  };
  if (outDir !== undefined) {
    try {
      fs.writeFileSync(path.join(outDir, 'report.json'), `${JSON.stringify(full, null, 2)}\n`);
    } catch (err) {
      throw new CliError(`cannot write ${path.join(outDir, 'report.json')}: ${(err as Error).message}`);
    }
  }
  return full;
}

/** The validation limits from cdk.json, or the documented defaults if it cannot be read. */
function configuredOptions(): { maxInvalidRowFraction: number; maxLineBytes: number } {
  try {
    const v = readProjectConfig().validation;
    return { maxInvalidRowFraction: v.maxInvalidRowFraction, maxLineBytes: v.maxLineBytes };
  } catch {
    return { maxInvalidRowFraction: 0.05, maxLineBytes: 1024 * 1024 };
  }
}

const SHOWN_ERRORS = 10;

/** The human summary, for stderr. */
export function formatSummary(file: string, r: FileValidationReport, ms: number, outDir?: string): string {
  const lines: string[] = [];
  const status = r.status === 'accepted' ? 'ACCEPTED' : 'QUARANTINED';
  lines.push(`${file}: ${status}${r.reason ? ` (${r.reason})` : ''}`);
  const pct = r.rows.total > 0 ? ` (${((100 * r.rows.invalid) / r.rows.total).toFixed(2)}% invalid)` : '';
  lines.push(`  rows:   ${r.rows.total} total, ${r.rows.valid} valid, ${r.rows.invalid} invalid${pct}`);
  const counts = Object.entries(r.errorCounts)
    .filter(([, n]) => (n ?? 0) > 0)
    .sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0));
  if (counts.length > 0) lines.push(`  errors: ${counts.map(([code, n]) => `${code} ${n}`).join(', ')}`);
  if (r.errors.length > 0) {
    const total = counts.reduce((s, [, n]) => s + (n ?? 0), 0);
    lines.push(total > SHOWN_ERRORS ? `  first ${SHOWN_ERRORS} of ${total} errors:` : '  all errors:');
    for (const e of r.errors.slice(0, SHOWN_ERRORS))
      lines.push(`    row ${e.row}${e.field === null ? '' : `, ${e.field}`}: [${e.code}] ${e.message}`);
  }
  if (outDir !== undefined) {
    const out: string[] = [];
    if (r.outputs.curated) out.push(`curated.csv (${r.outputs.curated.rows} rows)`);
    if (r.outputs.quarantine)
      out.push(
        r.outputs.quarantine.content === 'rows'
          ? `${r.outputs.quarantine.file} (${r.outputs.quarantine.rows} rows)`
          : `${r.outputs.quarantine.file} (the original file)`,
      );
    out.push('report.json');
    lines.push(`  wrote:  ${out.join(', ')} in ${outDir}`);
  }
  lines.push(
    `  read:   ${formatBytes(r.source.bytes)}${r.source.gzip ? ` gzip (${formatBytes(r.source.decodedBytes)} CSV)` : ''}` +
      ` in ${formatSeconds(ms)} (${formatRate(r.source.decodedBytes, ms)})`,
  );
  return `${lines.join('\n')}\n`;
}

function writeValidationHtml(
  htmlFile: string,
  file: string,
  schema: DatasetSchema,
  report: FileValidationReport,
  outDir: string | undefined,
): void {
  const where = (name: string): string => (outDir === undefined ? name : path.join(outDir, name));
  const outputs: Array<{ label: string; location: string; rows?: number }> = [];
  const { curated, quarantine } = report.outputs;
  if (curated) outputs.push({ label: 'Curated rows', location: where(curated.file), rows: curated.rows });
  if (quarantine)
    outputs.push(
      quarantine.content === 'rows'
        ? { label: 'Quarantined rows', location: where(quarantine.file), rows: quarantine.rows }
        : { label: 'Quarantined file (copied whole)', location: where(quarantine.file) },
    );
  const html = renderValidationHtml(report, {
    title: `Validation report: ${path.basename(file)}`,
    source: file,
    dataset: schema.name,
    bytes: report.source.bytes,
    gzip: report.source.gzip,
    outputs,
  });
  try {
    fs.writeFileSync(htmlFile, html);
  } catch (err) {
    throw new CliError(`cannot write ${htmlFile}: ${(err as Error).message}`);
  }
}

export async function validateCommand(argv: string[], progress: Progress): Promise<number> {
  const { values, positionals } = parseCommand(
    'validate',
    argv,
    {
      schema: { type: 'string' },
      'out-dir': { type: 'string' },
      json: { type: 'boolean' },
      'max-invalid-fraction': { type: 'string' },
      'max-line-bytes': { type: 'string' },
      html: { type: 'string' },
    },
    true,
  );
  const htmlFile = stringOption(values.html);
  if (htmlFile === '') throw new UsageError('--html needs a file name', 'validate');
  const schemaFile = stringOption(values.schema);
  if (schemaFile === undefined || schemaFile === '')
    throw new UsageError('--schema S.json is required', 'validate');
  if (positionals.length !== 1)
    throw new UsageError(
      positionals.length === 0 ? 'FILE is required' : `expected one FILE, got ${positionals.length}`,
      'validate',
    );
  const file = positionals[0];
  const defaults = configuredOptions();
  const maxInvalidRowFraction =
    numberOption('validate', 'max-invalid-fraction', values['max-invalid-fraction'], { min: 0, max: 1 }) ??
    defaults.maxInvalidRowFraction;
  const maxLineBytes =
    numberOption('validate', 'max-line-bytes', values['max-line-bytes'], {
      min: 1,
      max: 1024 * 1024 * 1024,
      integer: true,
    }) ?? defaults.maxLineBytes;
  const outDir = stringOption(values['out-dir']);
  const json = values.json === true;

  const schema = readSchemaFile(schemaFile);
  const ticker = progress.ticker('validate');
  const t0 = performance.now();
  let report: FileValidationReport;
  try {
    report = await validateFile(
      file,
      schema,
      { maxInvalidRowFraction, maxLineBytes },
      {
        outDir,
        onProgress: (read, total) =>
          ticker.update(
            `${formatBytes(read)} of ${formatBytes(total)} (${formatRate(read, performance.now() - t0)})`,
          ),
      },
    );
  } finally {
    ticker.done();
  }
  const ms = performance.now() - t0;
  if (htmlFile !== undefined) writeValidationHtml(htmlFile, file, schema, report, outDir);
  if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  progress.info(formatSummary(file, report, ms, outDir).trimEnd());
  if (htmlFile !== undefined) progress.info(`  html:   ${htmlFile}`);
  return report.status === 'accepted' ? EXIT_OK : EXIT_REJECTED;
}
