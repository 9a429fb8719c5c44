import { runChild } from './child';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readProjectConfig } from '../lib/config';
import { DatasetPreparer, LineBatcher, toJsonBytes } from '../lambdas/core/prepare';

/**
 * Prepare throughput (issue 3): the Prepare core (CSV reading, encoding, split, baseline) over one large
 * curated-style file (valid rows only, as curated holds), read from disk with no S3. The training lines are
 * coalesced into 256 KiB buffers as the Lambda does, then dropped, so the figure is Prepare's own work.
 *
 * Each run is a child process, so that its peak RSS is its own. For the "within 2x of validation" target the
 * validation core runs on the same file, in its own child, right after (the machine's speed drifts).
 * `BENCH_MB` sets the file size (default 500), `BENCH_RUNS` the runs (default 3, the fastest counts).
 */

const MB = 1e6;
const READ_CHUNK = 1 << 20;
const OUT_DIR = path.join(__dirname, 'out');

export interface PrepareRunResult {
  readonly bytes: number;
  readonly seconds: number;
  readonly mbPerSecond: number;
  readonly rowsPerSecond: number;
  readonly rows: { total: number; train: number; validation: number };
  readonly outBytes: number;
  readonly peakRssMb: number;
}

export interface PrepareBenchResult {
  readonly file: string;
  readonly fileBytes: number;
  readonly prepare: PrepareRunResult;
  readonly validationMbPerSecond: number;
  readonly prepareRssMb: number;
  readonly runs: number;
  readonly targets: { name: string; value: string; met: boolean }[];
}

/** The curated-style file: like the validation bench's, without invalid rows. Generated once per size. */
export async function ensureCuratedFile(targetMb: number): Promise<{ file: string; bytes: number }> {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const file = path.join(OUT_DIR, `churn-curated-${targetMb}mb.csv`);
  const meta = `${file}.json`;
  if (fs.existsSync(file) && fs.existsSync(meta)) {
    const recorded = JSON.parse(fs.readFileSync(meta, 'utf8')) as { bytes: number };
    if (fs.statSync(file).size === recorded.bytes) return { file, bytes: recorded.bytes };
  }
  const { sampleCsv, writeSampleCsv } = await import('../lib/local/sample-data');
  const probeRows = 20000;
  const meanRow = Buffer.byteLength(sampleCsv({ rows: probeRows, seed: 7 })) / probeRows;
  const rows = Math.ceil(((targetMb * MB) / meanRow) * 1.01);
  process.stderr.write(`generating ${file} (${rows} rows)...\n`);
  const written = await writeSampleCsv(file, { rows, seed: 7 });
  fs.writeFileSync(meta, JSON.stringify(written));
  return { file, bytes: written.bytes };
}

/** One Prepare pass over the file, in this process: called in the child. */
export async function runPrepare(file: string): Promise<Omit<PrepareRunResult, 'peakRssMb'>> {
  const config = readProjectConfig();
  let outBytes = 0;
  const drop = (b: Buffer): void => {
    outBytes += b.length;
  };
  const train = new LineBatcher(drop);
  const validation = new LineBatcher(drop);
  const t0 = process.hrtime.bigint();
  const p = new DatasetPreparer(
    config.dataset,
    { validationFraction: config.training.validationFraction },
    {
      train: (l, s, e) => train.add(l, s, e),
      validation: (l, s, e) => validation.add(l, s, e),
    },
  );
  p.beginFile(file);
  let bytes = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: READ_CHUNK })) {
    bytes += (chunk as Buffer).length;
    p.push(chunk as Buffer);
  }
  p.endFile();
  train.flush();
  validation.flush();
  const r = p.finish();
  // Serialising the outputs is part of Prepare's work.
  outBytes += toJsonBytes(r.baseline).length + toJsonBytes(r.featureSpec).length;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return {
    bytes,
    seconds,
    mbPerSecond: bytes / MB / seconds,
    rowsPerSecond: r.counts.records / seconds,
    rows: r.rows,
    outBytes,
  };
}

export async function prepareBench(
  targetMb = Number(process.env.BENCH_MB ?? 500),
  runs = Number(process.env.BENCH_RUNS ?? 3),
): Promise<PrepareBenchResult> {
  if (!(targetMb > 0)) throw new RangeError(`BENCH_MB must be a positive number, got ${targetMb}`);
  if (!Number.isInteger(runs) || runs < 1)
    throw new RangeError(`BENCH_RUNS must be a whole number >= 1, got ${runs}`);
  const { file, bytes } = await ensureCuratedFile(targetMb);
  process.stderr.write(`file: ${path.relative(process.cwd(), file)}, ${(bytes / MB).toFixed(1)} MB\n`);
  let best: PrepareRunResult | undefined;
  let peak = 0;
  let validationBest = 0;
  for (let k = 0; k < runs; k++) {
    process.stderr.write(`running prepare (${k + 1}/${runs})...\n`);
    const r = await runChild<PrepareRunResult>([__filename, '--run', file]);
    peak = Math.max(peak, r.peakRssMb);
    if (!best || r.seconds < best.seconds) best = r;
    process.stderr.write(`running validation on the same file (${k + 1}/${runs})...\n`);
    const v = await runChild<{ mbPerSecond: number }>([
      path.join(__dirname, 'validation.ts'),
      '--contender',
      'devmlops',
      file,
    ]);
    validationBest = Math.max(validationBest, v.mbPerSecond);
  }
  const prepare = best as PrepareRunResult;
  const ratio = validationBest / prepare.mbPerSecond;
  return {
    file,
    fileBytes: bytes,
    prepare,
    validationMbPerSecond: validationBest,
    prepareRssMb: peak,
    runs,
    targets: [
      {
        name: 'prepare within 2x of validation throughput',
        value: `${prepare.mbPerSecond.toFixed(0)} vs ${validationBest.toFixed(0)} MB/s (${ratio.toFixed(2)}x slower)`,
        met: ratio <= 2,
      },
      { name: 'prepare peak RSS < 256 MB', value: `${peak.toFixed(0)} MB`, met: peak < 256 },
    ],
  };
}

export function printPrepareBench(r: PrepareBenchResult): void {
  const p = r.prepare;
  console.log(`\nprepare bench: ${(r.fileBytes / MB).toFixed(1)} MB curated-style CSV, ${r.file}`);
  console.log(
    `prepare     ${p.mbPerSecond.toFixed(1)} MB/s  ${(p.rowsPerSecond / 1e6).toFixed(2)} M rows/s  ` +
      `${p.seconds.toFixed(2)} s  peak RSS ${r.prepareRssMb.toFixed(0)} MB  (best of ${r.runs})`,
  );
  console.log(
    `            rows ${p.rows.total} (train ${p.rows.train}, validation ${p.rows.validation}), ` +
      `${(p.outBytes / MB).toFixed(0)} MB of training lines`,
  );
  console.log(`validation  ${r.validationMbPerSecond.toFixed(1)} MB/s on the same file (best of ${r.runs})`);
  console.log('targets:');
  for (const t of r.targets) console.log(`  ${t.met ? 'met ' : 'MISS'}  ${t.name}: ${t.value}`);
}

if (require.main === module && process.argv[2] === '--run') {
  runPrepare(process.argv[3])
    .then((r) => {
      const peakRssMb = (process.resourceUsage().maxRSS * 1024) / MB;
      process.stdout.write(JSON.stringify({ ...r, peakRssMb }) + '\n');
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
