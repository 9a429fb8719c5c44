import { runChild } from './child';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { readProjectConfig } from '../lib/config';
import { prng, SAMPLE_COLUMNS, sampleRows } from '../lib/local/sample-data';
import { BaselineBuilder } from '../lambdas/core/baseline';
import { CaptureParser } from '../lambdas/core/capture';
import { DriftAccumulator } from '../lambdas/core/drift';
import { featureSpec, RowEncoder, type FeatureSpec } from '../lambdas/core/encoding';

/**
 * Drift throughput (issue 4): SageMaker Data Capture files (DESIGN.md section 7, CSV encoding, one row per
 * record) read from disk with no S3, through the CaptureParser into a DriftAccumulator, then the report.
 * Beside it, a naive pass over the same files that reads lines, JSON.parses each and splits the input data on
 * ',' while computing nothing: the drift computation must beat it.
 *
 * Each run is a child process, so that its peak RSS is its own; the two contenders alternate within a run
 * because the machine's speed drifts. `BENCH_RECORDS` sets the record count (default 1,000,000),
 * `BENCH_RUNS` the runs (default 3, the fastest counts).
 */

const MB = 1e6;
// 256 KiB reads: freed read buffers linger as external memory until the OS gets them back, and larger ones
// only add to peak RSS, not to speed.
const READ_CHUNK = 256 * 1024;
const OUT_DIR = path.join(__dirname, 'out');
const FILES = 4;
const BASELINE_ROWS = 50_000;

type Contender = 'drift' | 'naive';

export interface DriftRunResult {
  readonly records: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly mbPerSecond: number;
  readonly peakRssMb: number;
  /** Drift only: what the report said, to show the computation really happened. */
  readonly summary?: string;
}

export interface DriftBenchResult {
  readonly files: string[];
  readonly fileBytes: number;
  readonly records: number;
  readonly features: number;
  readonly drift: DriftRunResult;
  readonly naive: DriftRunResult;
  readonly driftRssMb: number;
  readonly naiveRssMb: number;
  readonly runs: number;
  readonly targets: { name: string; value: string; met: boolean }[];
}

function churnSpec(): FeatureSpec {
  return featureSpec(readProjectConfig().dataset);
}

/**
 * A plausible model score for a row: a logistic of a few encoded features plus noise, so that the outputs
 * have a realistic spread rather than one value.
 */
function scorer(spec: FeatureSpec): (f: Float64Array, u: number) => number {
  const at = (name: string): number => spec.features.findIndex((f) => f.name === name);
  const tenure = at('tenure_months');
  const calls = at('support_calls');
  const charges = at('monthly_charges');
  const val = (f: Float64Array, i: number): number => (i >= 0 && !Number.isNaN(f[i]) ? f[i] : 0);
  return (f, u) => {
    const z = -1 - 0.03 * val(f, tenure) + 0.35 * val(f, calls) + 0.01 * val(f, charges) + (u - 0.5);
    return 1 / (1 + Math.exp(-z));
  };
}

/** Encoded rows from the sample generator: the capture payload (features only) and the numeric form. */
function* encodedRows(
  spec: FeatureSpec,
  rows: number,
  seed: number,
): Generator<{ csv: string; features: Float64Array; label: number }> {
  const enc = new RowEncoder(spec, [...SAMPLE_COLUMNS]);
  let header = true;
  for (const line of sampleRows({ rows, seed })) {
    if (header) {
      header = false;
      continue;
    }
    const training = enc.encode(line.slice(0, -1).split(','));
    // Rows without a label cannot be trained on, and the sample data has none; skip rather than guess.
    if (training === undefined) continue;
    yield { csv: training.slice(training.indexOf(',') + 1), features: enc.features, label: enc.label };
  }
}

function hex(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ((rand() * 16) | 0).toString(16);
  return s;
}

/** The capture files: `FILES` JSON Lines files holding `records` records in all. Generated once per count. */
export function ensureCaptureFiles(records: number): { files: string[]; bytes: number } {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const files = Array.from({ length: FILES }, (_, k) => path.join(OUT_DIR, `capture-${records}-${k}.jsonl`));
  const meta = path.join(OUT_DIR, `capture-${records}.json`);
  if (fs.existsSync(meta) && files.every((f) => fs.existsSync(f))) {
    const recorded = JSON.parse(fs.readFileSync(meta, 'utf8')) as { sizes: number[] };
    if (files.every((f, k) => fs.statSync(f).size === recorded.sizes[k]))
      return { files, bytes: recorded.sizes.reduce((a, b) => a + b, 0) };
  }
  process.stderr.write(`generating ${FILES} capture files (${records} records)...\n`);
  const spec = churnSpec();
  const score = scorer(spec);
  const rand = prng(11);
  const rows = encodedRows(spec, Math.ceil(records * 1.01), 11);
  const start = Date.parse('2026-01-01T12:00:00Z');
  const sizes: number[] = [];
  let written = 0;
  for (let k = 0; k < FILES; k++) {
    const n = Math.floor((records * (k + 1)) / FILES) - written;
    const fd = fs.openSync(files[k], 'w');
    let size = 0;
    let parts: string[] = [];
    let pending = 0;
    const flush = (): void => {
      const buf = Buffer.from(parts.join(''), 'utf8');
      fs.writeSync(fd, buf);
      size += buf.length;
      parts = [];
      pending = 0;
    };
    for (let i = 0; i < n; i++) {
      const r = rows.next();
      if (r.done) throw new Error('the sample generator ran out of labelled rows');
      const p = score(r.value.features, rand()).toFixed(6);
      const uuid = `${hex(rand, 8)}-${hex(rand, 4)}-4${hex(rand, 3)}-a${hex(rand, 3)}-${hex(rand, 12)}`;
      const time = new Date(start + (written + i) * 3).toISOString().replace(/\.\d+Z$/, 'Z');
      const line =
        `{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT",` +
        `"data":${JSON.stringify(r.value.csv + '\n')},"encoding":"CSV"},` +
        `"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT",` +
        `"data":"${p}","encoding":"CSV"}},` +
        `"eventMetadata":{"eventId":"${uuid}","inferenceTime":"${time}"},` +
        `"eventVersion":"0"}\n`;
      parts.push(line);
      pending += line.length;
      if (pending >= READ_CHUNK) flush();
    }
    flush();
    fs.closeSync(fd);
    sizes.push(size);
    written += n;
  }
  fs.writeFileSync(meta, JSON.stringify({ records, sizes }));
  return { files, bytes: sizes.reduce((a, b) => a + b, 0) };
}

/** Full drift computation over the files, in this process: called in the child. */
export async function runDrift(files: string[]): Promise<Omit<DriftRunResult, 'peakRssMb'>> {
  const spec = churnSpec();
  // The baseline is training's output, not part of the drift check's work: built before the clock starts.
  const builder = new BaselineBuilder(spec);
  const score = scorer(spec);
  const rand = prng(3);
  for (const r of encodedRows(spec, BASELINE_ROWS, 3)) {
    builder.add(r.features, r.label);
    builder.addPrediction(score(r.features, rand()));
  }
  const baseline = builder.finish();
  const t0 = process.hrtime.bigint();
  const m = readProjectConfig().monitoring;
  const acc = new DriftAccumulator(baseline, spec, {
    minSamples: m.minSamples,
    threshold: m.driftThreshold,
    featureThresholds: m.featureThresholds,
  });
  const parser = new CaptureParser(spec, acc);
  let bytes = 0;
  for (const file of files) {
    for await (const chunk of fs.createReadStream(file, { highWaterMark: READ_CHUNK })) {
      bytes += (chunk as Buffer).length;
      parser.push(chunk as Buffer);
    }
  }
  const stats = parser.end();
  const report = acc.report();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return {
    records: stats.records,
    bytes,
    seconds,
    recordsPerSecond: stats.records / seconds,
    mbPerSecond: bytes / MB / seconds,
    summary:
      `rows ${stats.rows}, predictions ${stats.predictions}, malformed ${stats.malformedLines}, ` +
      `max PSI ${report.maxDrift.toFixed(4)}, drifted [${report.driftedFeatures.join(', ')}], ` +
      `prediction PSI ${report.predictions?.psi?.toFixed(4) ?? 'n/a'}`,
  };
}

interface CaptureLine {
  captureData: { endpointInput: { data: string } };
}

/** The naive pass: lines, JSON.parse, split the input data on ','. Nothing else. */
export async function runNaive(files: string[]): Promise<Omit<DriftRunResult, 'peakRssMb'>> {
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  let records = 0;
  // Kept so the work cannot be optimised away.
  let cells = 0;
  const line = (l: string): void => {
    if (l.length === 0) return;
    const rec = JSON.parse(l) as CaptureLine;
    cells += rec.captureData.endpointInput.data.split(',').length;
    records++;
  };
  for (const file of files) {
    const dec = new StringDecoder('utf8');
    let rest = '';
    for await (const chunk of fs.createReadStream(file, { highWaterMark: READ_CHUNK })) {
      bytes += (chunk as Buffer).length;
      const text = rest + dec.write(chunk as Buffer);
      let a = 0;
      for (let b = text.indexOf('\n'); b >= 0; b = text.indexOf('\n', a)) {
        line(text.slice(a, b));
        a = b + 1;
      }
      rest = text.slice(a);
    }
    line(rest + dec.end());
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (cells === 0) throw new Error('the naive pass read no cells');
  return {
    records,
    bytes,
    seconds,
    recordsPerSecond: records / seconds,
    mbPerSecond: bytes / MB / seconds,
  };
}

export async function driftBench(
  records = Number(process.env.BENCH_RECORDS ?? 1_000_000),
  runs = Number(process.env.BENCH_RUNS ?? 3),
): Promise<DriftBenchResult> {
  if (!(Number.isInteger(records) && records >= FILES))
    throw new RangeError(`BENCH_RECORDS must be a whole number >= ${FILES}, got ${records}`);
  if (!Number.isInteger(runs) || runs < 1)
    throw new RangeError(`BENCH_RUNS must be a whole number >= 1, got ${runs}`);
  const { files, bytes } = ensureCaptureFiles(records);
  process.stderr.write(
    `files: ${FILES} x ${path.relative(process.cwd(), files[0])}..., ${(bytes / MB).toFixed(1)} MB\n`,
  );
  const best: Partial<Record<Contender, DriftRunResult>> = {};
  const peak: Record<Contender, number> = { drift: 0, naive: 0 };
  for (let k = 0; k < runs; k++) {
    for (const c of ['drift', 'naive'] as const) {
      process.stderr.write(`running ${c} (${k + 1}/${runs})...\n`);
      const r = await runChild<DriftRunResult>([__filename, '--run', c, ...files]);
      if (r.records !== records) throw new Error(`${c} read ${r.records} records, expected ${records}`);
      peak[c] = Math.max(peak[c], r.peakRssMb);
      const b = best[c];
      if (!b || r.seconds < b.seconds) best[c] = r;
    }
  }
  const drift = best.drift as DriftRunResult;
  const naive = best.naive as DriftRunResult;
  return {
    files,
    fileBytes: bytes,
    records,
    features: churnSpec().features.length,
    drift,
    naive,
    driftRssMb: peak.drift,
    naiveRssMb: peak.naive,
    runs,
    targets: [
      {
        name: 'drift >= 250,000 records/s',
        value: `${drift.recordsPerSecond.toFixed(0)} records/s`,
        met: drift.recordsPerSecond >= 250_000,
      },
      {
        name: 'drift faster than the naive pass',
        value: `${(drift.recordsPerSecond / naive.recordsPerSecond).toFixed(2)}x`,
        met: drift.recordsPerSecond > naive.recordsPerSecond,
      },
      { name: 'drift peak RSS < 200 MB', value: `${peak.drift.toFixed(0)} MB`, met: peak.drift < 200 },
    ],
  };
}

export function printDriftBench(r: DriftBenchResult): void {
  console.log(
    `\ndrift bench: ${r.records} capture records, ${r.features} features, ` +
      `${(r.fileBytes / MB).toFixed(1)} MB in ${r.files.length} files under ${path.dirname(r.files[0])}`,
  );
  const row = (name: string, x: DriftRunResult, rss: number): void =>
    console.log(
      `${name.padEnd(12)}${(x.recordsPerSecond / 1e3).toFixed(0).padStart(6)} k records/s  ` +
        `${x.mbPerSecond.toFixed(1).padStart(6)} MB/s  ${x.seconds.toFixed(2).padStart(6)} s  ` +
        `peak RSS ${rss.toFixed(0).padStart(4)} MB  (best of ${r.runs})`,
    );
  row('drift', r.drift, r.driftRssMb);
  row('naive', r.naive, r.naiveRssMb);
  if (r.drift.summary) console.log(`            ${r.drift.summary}`);
  console.log('targets:');
  for (const t of r.targets) console.log(`  ${t.met ? 'met ' : 'MISS'}  ${t.name}: ${t.value}`);
}

if (require.main === module && process.argv[2] === '--run') {
  const contender = process.argv[3] as Contender;
  const files = process.argv.slice(4);
  (contender === 'drift' ? runDrift(files) : runNaive(files))
    .then((r) => {
      const peakRssMb = (process.resourceUsage().maxRSS * 1024) / MB;
      process.stdout.write(JSON.stringify({ ...r, peakRssMb }) + '\n');
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
