import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Baseline } from '../../lambdas/core/baseline';
import { CaptureParser, type CaptureStats } from '../../lambdas/core/capture';
import { DriftAccumulator, type DriftReport } from '../../lambdas/core/drift';
import type { FeatureSpec } from '../../lambdas/core/encoding';
import { renderDriftHtml } from '../../lambdas/core/html/drift';
import { numberOption, parseCommand, stringOption } from './args';
import { CliError, EXIT_OK, UsageError } from './errors';
import { openInput } from './input';
import { formatBytes, formatRate, formatSeconds, type Progress } from './progress';

/** Exit code when a feature drifted (DESIGN.md section 9). */
export const EXIT_DRIFT = 1;

function readJson<T>(file: string, what: string): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new CliError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

export interface DriftRun {
  report: DriftReport;
  capture: CaptureStats;
  bytes: number;
}

/** Streams capture files (JSONL, or gzip) through the same core as the drift Lambda. */
export async function driftFiles(
  files: readonly string[],
  baseline: Baseline,
  spec: FeatureSpec,
  options: { minSamples?: number; threshold?: number } = {},
  onProgress?: (bytes: number) => void,
): Promise<DriftRun> {
  let accumulator: DriftAccumulator;
  try {
    accumulator = new DriftAccumulator(baseline, spec, options);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const parser = new CaptureParser(spec, accumulator);
  let capture = parser.stats;
  let bytes = 0;
  for (const file of files) {
    const { source, input } = await openInput(file);
    try {
      for await (const chunk of source) {
        bytes += chunk.length;
        parser.push(chunk);
        onProgress?.(bytes);
      }
      capture = parser.end();
    } catch (err) {
      throw new CliError(`${file}: ${(err as Error).message}`);
    } finally {
      if (!input.destroyed) input.destroy();
    }
  }
  return { report: accumulator.report(), capture, bytes };
}

function fmt(v: number | null): string {
  return v === null ? '-' : v.toFixed(4);
}

function summary(run: DriftRun, files: number, ms: number): string {
  const r = run.report;
  const c = run.capture;
  const verdict = !r.sufficient
    ? `insufficient data: ${r.samples} rows, ${r.minSamples} needed (counts as no drift)`
    : r.drifted
      ? `DRIFT in ${r.driftedFeatures.join(', ')} (max PSI ${fmt(r.maxDrift)})`
      : `no drift (max PSI ${fmt(r.maxDrift)}, threshold ${r.threshold})`;
  const lines = [
    verdict,
    `  capture: ${c.records} records, ${c.rows} rows from ${files} file${files === 1 ? '' : 's'}; ` +
      `${c.malformedLines} malformed lines and ${c.wrongColumnRows} rows of the wrong width (skipped), ` +
      `${c.invalidValues} invalid values (counted as missing)`,
    `  feature                    psi      ks       missing  (baseline)  threshold`,
  ];
  for (const f of r.features)
    lines.push(
      `  ${(f.drifted ? '* ' : '  ') + f.name.padEnd(24)} ${fmt(f.psi).padEnd(8)} ${fmt(f.ks).padEnd(8)} ` +
        `${f.missingRate.toFixed(4).padEnd(8)} (${f.baselineMissingRate.toFixed(4)})    ${f.threshold}`,
    );
  if (r.predictions)
    lines.push(
      `  predictions (vs ${r.predictions.reference}): psi ${fmt(r.predictions.psi)}, ks ${fmt(r.predictions.ks)}` +
        `${r.predictions.drifted ? ', drifted' : ''}`,
    );
  lines.push(`  read:    ${formatBytes(run.bytes)} in ${formatSeconds(ms)} (${formatRate(run.bytes, ms)})`);
  return lines.join('\n');
}

function writeDriftHtml(
  file: string,
  run: DriftRun,
  captureFiles: readonly string[],
  baseline: Baseline,
): void {
  const html = renderDriftHtml(run.report, {
    title: `Drift report: ${baseline.dataset}`,
    capture: { ...run.capture, files: captureFiles.length },
    sources: captureFiles.map((f) => path.basename(f)),
  });
  try {
    fs.writeFileSync(file, html);
  } catch (err) {
    throw new CliError(`cannot write ${file}: ${(err as Error).message}`);
  }
}

export async function driftCommand(argv: string[], progress: Progress): Promise<number> {
  const { values, positionals } = parseCommand(
    'drift',
    argv,
    {
      baseline: { type: 'string' },
      spec: { type: 'string' },
      json: { type: 'boolean' },
      'min-samples': { type: 'string' },
      threshold: { type: 'string' },
      html: { type: 'string' },
    },
    true,
  );
  const htmlFile = stringOption(values.html);
  if (htmlFile === '') throw new UsageError('--html needs a file name', 'drift');
  const baselineFile = stringOption(values.baseline);
  if (baselineFile === undefined || baselineFile === '')
    throw new UsageError('--baseline baseline.json is required', 'drift');
  if (positionals.length === 0) throw new UsageError('at least one CAPTURE.jsonl file is required', 'drift');
  const minSamples = numberOption('drift', 'min-samples', values['min-samples'], {
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
  const threshold = numberOption('drift', 'threshold', values.threshold, { min: Number.MIN_VALUE, max: 1e6 });
  const specFile = stringOption(values.spec) ?? path.join(path.dirname(baselineFile), 'feature-spec.json');

  const baseline = readJson<Baseline>(baselineFile, 'baseline');
  const spec = readJson<FeatureSpec>(specFile, 'feature spec');
  const ticker = progress.ticker('drift');
  const t0 = performance.now();
  let run: DriftRun;
  try {
    run = await driftFiles(positionals, baseline, spec, { minSamples, threshold }, (bytes) =>
      ticker.update(`${formatBytes(bytes)} (${formatRate(bytes, performance.now() - t0)})`),
    );
  } finally {
    ticker.done();
  }
  if (htmlFile !== undefined) writeDriftHtml(htmlFile, run, positionals, baseline);
  if (values.json === true) process.stdout.write(`${JSON.stringify(run.report, null, 2)}\n`);
  progress.info(summary(run, positionals.length, performance.now() - t0));
  if (htmlFile !== undefined) progress.info(`  html:    ${htmlFile}`);
  return run.report.drifted ? EXIT_DRIFT : EXIT_OK;
}
