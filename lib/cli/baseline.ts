import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Baseline } from '../../lambdas/core/baseline';
import type { FeatureSpec } from '../../lambdas/core/encoding';
import { DatasetPreparer, toJsonBytes, type EncodeCounts } from '../../lambdas/core/prepare';
import type { DatasetSchema } from '../../lambdas/core/schema';
import { numberOption, parseCommand, stringOption } from './args';
import { CliError, EXIT_OK, UsageError } from './errors';
import { openInput } from './input';
import { formatBytes, formatRate, formatSeconds, type Progress } from './progress';
import { readSchemaFile } from './validate';

export interface BaselineRun {
  baseline: Baseline;
  featureSpec: FeatureSpec;
  counts: EncodeCounts;
  /** Rows the baseline was built from (all labelled rows, or the training side of the split). */
  rows: number;
  bytes: number;
}

/**
 * Builds baseline.json over CSV files (curated files, or raw files with a header: no validation, each row is
 * encoded as Prepare encodes it) with the same core as the Prepare Lambda. With `validationFraction` 0
 * every labelled row counts; with the pipeline's fraction, exactly the training rows Prepare would use.
 */
export async function baselineFiles(
  files: readonly string[],
  schema: DatasetSchema,
  options: { validationFraction?: number; maxLineBytes?: number } = {},
  onProgress?: (bytes: number) => void,
): Promise<BaselineRun> {
  const noop = (): void => undefined;
  const preparer = new DatasetPreparer(
    schema,
    { validationFraction: options.validationFraction ?? 0, maxLineBytes: options.maxLineBytes },
    { train: noop, validation: noop },
  );
  let bytes = 0;
  for (const file of files) {
    const { source, input } = await openInput(file);
    preparer.beginFile(file);
    try {
      for await (const chunk of source) {
        bytes += chunk.length;
        preparer.push(chunk);
        onProgress?.(bytes);
      }
      preparer.endFile();
    } catch (err) {
      throw new CliError(
        (err as Error).message.startsWith(file)
          ? (err as Error).message
          : `${file}: ${(err as Error).message}`,
      );
    } finally {
      if (!input.destroyed) input.destroy();
    }
  }
  const r = preparer.finish();
  return { baseline: r.baseline, featureSpec: r.featureSpec, counts: r.counts, rows: r.rows.train, bytes };
}

function writeFile(file: string, text: string): void {
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, text);
  } catch (err) {
    throw new CliError(`cannot write ${file}: ${(err as Error).message}`);
  }
}

export async function baselineCommand(argv: string[], progress: Progress): Promise<number> {
  const { values, positionals } = parseCommand(
    'baseline',
    argv,
    {
      schema: { type: 'string' },
      output: { type: 'string', short: 'o' },
      'spec-out': { type: 'string' },
      'validation-fraction': { type: 'string' },
      json: { type: 'boolean' },
    },
    true,
  );
  const schemaFile = stringOption(values.schema);
  if (schemaFile === undefined || schemaFile === '')
    throw new UsageError('--schema S.json is required', 'baseline');
  if (positionals.length === 0) throw new UsageError('at least one FILE is required', 'baseline');
  const validationFraction =
    numberOption('baseline', 'validation-fraction', values['validation-fraction'], { min: 0, max: 0.99 }) ??
    0;
  const output = stringOption(values.output);
  const toStdout = output === undefined || output === '-';
  const specOut =
    stringOption(values['spec-out']) ??
    (toStdout ? undefined : path.join(path.dirname(output), 'feature-spec.json'));
  const json = values.json === true;

  const schema = readSchemaFile(schemaFile);
  const ticker = progress.ticker('baseline');
  const t0 = performance.now();
  let run: BaselineRun;
  try {
    run = await baselineFiles(positionals, schema, { validationFraction }, (bytes) =>
      ticker.update(`${formatBytes(bytes)} (${formatRate(bytes, performance.now() - t0)})`),
    );
  } finally {
    ticker.done();
  }
  const ms = performance.now() - t0;
  if (run.rows === 0)
    throw new CliError(
      `no usable rows in ${positionals.join(', ')}: ${run.counts.records} data rows read, ` +
        `${run.counts.unlabeled} without a label, ${run.counts.skipped} unreadable`,
    );

  const text = toJsonBytes(run.baseline);
  if (toStdout || json) process.stdout.write(text);
  if (!toStdout) writeFile(output, text);
  if (specOut !== undefined) writeFile(specOut, toJsonBytes(run.featureSpec));

  const c = run.counts;
  const lines = [
    `baseline of ${run.rows} rows (${run.baseline.featureOrder.length} features, ${run.baseline.problem}) from ${positionals.length} file${positionals.length === 1 ? '' : 's'}`,
    `  rows:   ${c.records} read, ${c.encoded} labelled${validationFraction > 0 ? ` (${run.rows} on the training side of the split)` : ''}, ${c.unlabeled} without a label, ${c.skipped} unreadable or wrong width (skipped)`,
  ];
  const wrote = [toStdout ? undefined : output, specOut].filter((x): x is string => x !== undefined);
  if (wrote.length > 0) lines.push(`  wrote:  ${wrote.join(', ')}`);
  lines.push(`  read:   ${formatBytes(run.bytes)} in ${formatSeconds(ms)} (${formatRate(run.bytes, ms)})`);
  progress.info(lines.join('\n'));
  return EXIT_OK;
}
