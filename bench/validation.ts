import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as csvParse } from 'csv-parse';
import Papa from 'papaparse';
import { readProjectConfig } from '../lib/config';
import { FileValidator } from '../lambdas/core/validate';

/**
 * Validation throughput against the parsers most Node users would reach for, on one generated file.
 *
 * Every contender runs in its own child process so that its peak RSS is its own. Sizes are in decimal MB
 * (10^6 bytes), the unit of the MB/s figures. `BENCH_MB` sets the file size (default 500), `BENCH_RUNS` the
 * runs per contender (default 3, the fastest counts; csv-parse runs once).
 */

const MB = 1e6;
const READ_CHUNK = 1 << 20;
const OUT_DIR = path.join(__dirname, 'out');

export const CONTENDERS = ['devmlops', 'csv-parse', 'papaparse', 'line-split'] as const;
export type Contender = (typeof CONTENDERS)[number];

export interface ContenderResult {
  readonly contender: Contender;
  readonly bytes: number;
  readonly seconds: number;
  readonly mbPerSecond: number;
  /** Peak resident set size of the contender's process, MB. */
  readonly peakRssMb: number;
  /** Records seen (data rows for devmlops, lines for the others, header included). */
  readonly records: number;
  /** Runs made; the figures are from the fastest, the peak RSS the highest of all. */
  readonly runs?: number;
  readonly note?: string;
}

export interface ValidationBenchResult {
  readonly file: string;
  readonly fileBytes: number;
  readonly results: ContenderResult[];
  readonly targets: { name: string; value: string; met: boolean }[];
}

async function readChunks(file: string, onChunk: (chunk: Buffer) => void): Promise<number> {
  let bytes = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: READ_CHUNK })) {
    bytes += (chunk as Buffer).length;
    onChunk(chunk as Buffer);
  }
  return bytes;
}

/** One contender, in this process: called in the child. */
export async function runContender(
  contender: Contender,
  file: string,
): Promise<Omit<ContenderResult, 'peakRssMb'>> {
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  let records = 0;
  let note: string | undefined;
  switch (contender) {
    case 'devmlops': {
      const config = readProjectConfig();
      let outBytes = 0;
      // A sink that writes nothing, so that the figure is validation alone.
      const sink = {
        valid: (_buf: Uint8Array, start: number, end: number) => {
          outBytes += end - start;
        },
        invalid: (_buf: Uint8Array, start: number, end: number) => {
          outBytes += end - start;
        },
      };
      const v = new FileValidator(config.dataset, config.validation, sink);
      bytes = await readChunks(file, (chunk) => v.push(chunk));
      const report = v.end();
      records = report.rows.total;
      note = `${report.status}, ${report.rows.invalid} invalid rows, ${(outBytes / MB).toFixed(0)} MB out`;
      break;
    }
    case 'csv-parse': {
      const parser = fs
        .createReadStream(file, { highWaterMark: READ_CHUNK })
        .pipe(csvParse({ relax_column_count: true }));
      for await (const record of parser) if (record) records++;
      bytes = fs.statSync(file).size;
      break;
    }
    case 'papaparse': {
      bytes = fs.statSync(file).size;
      await new Promise<void>((resolve, reject) => {
        const input = fs.createReadStream(file, { highWaterMark: READ_CHUNK, encoding: 'utf8' });
        Papa.parse(input as unknown as File, {
          chunk: (results: Papa.ParseResult<unknown>) => {
            records += results.data.length;
          },
          complete: () => resolve(),
          error: (err: Error) => reject(err),
        });
      });
      break;
    }
    case 'line-split': {
      let carry = '';
      bytes = await readChunks(file, (chunk) => {
        const lines = (carry + chunk.toString('utf8')).split('\n');
        carry = lines.pop() ?? '';
        records += lines.length;
      });
      if (carry !== '') records++;
      break;
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { contender, bytes, seconds, mbPerSecond: bytes / MB / seconds, records, ...(note ? { note } : {}) };
}

function runChild(contender: Contender, file: string): Promise<ContenderResult> {
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsx, __filename, '--contender', contender, file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${contender} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as ContenderResult);
    });
  });
}

/** Generates the CSV once per size; a later run with the same size reuses it. */
export async function ensureBenchFile(targetMb: number): Promise<{ file: string; bytes: number }> {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const file = path.join(OUT_DIR, `churn-${targetMb}mb.csv`);
  const meta = `${file}.json`;
  if (fs.existsSync(file) && fs.existsSync(meta)) {
    const recorded = JSON.parse(fs.readFileSync(meta, 'utf8')) as { bytes: number };
    if (fs.statSync(file).size === recorded.bytes) return { file, bytes: recorded.bytes };
  }
  const { sampleCsv, writeSampleCsv } = await import('../lib/local/sample-data');
  // Rows from the mean row length of a sample, with 1% slack so the file is never under the target.
  const probeRows = 20000;
  const meanRow =
    Buffer.byteLength(sampleCsv({ rows: probeRows, seed: 7, invalidFraction: 0.01 })) / probeRows;
  const rows = Math.ceil(((targetMb * MB) / meanRow) * 1.01);
  process.stderr.write(`generating ${file} (${rows} rows)...\n`);
  const written = await writeSampleCsv(file, { rows, seed: 7, invalidFraction: 0.01 });
  fs.writeFileSync(meta, JSON.stringify(written));
  return { file, bytes: written.bytes };
}

export async function validationBench(
  targetMb = Number(process.env.BENCH_MB ?? 500),
  runs = Number(process.env.BENCH_RUNS ?? 3),
): Promise<ValidationBenchResult> {
  if (!(targetMb > 0)) throw new RangeError(`BENCH_MB must be a positive number, got ${targetMb}`);
  if (!Number.isInteger(runs) || runs < 1)
    throw new RangeError(`BENCH_RUNS must be a whole number >= 1, got ${runs}`);
  const { file, bytes } = await ensureBenchFile(targetMb);
  process.stderr.write(`file: ${path.relative(process.cwd(), file)}, ${(bytes / MB).toFixed(1)} MB\n`);
  const results: ContenderResult[] = [];
  for (const c of CONTENDERS) {
    // Best of N tames the noise of a shared machine; csv-parse is so slow that one run says enough.
    const n = c === 'csv-parse' ? 1 : runs;
    let best: ContenderResult | undefined;
    let peak = 0;
    for (let k = 0; k < n; k++) {
      process.stderr.write(`running ${c} (${k + 1}/${n})...\n`);
      const r = await runChild(c, file);
      peak = Math.max(peak, r.peakRssMb);
      if (!best || r.seconds < best.seconds) best = r;
    }
    results.push({ ...(best as ContenderResult), peakRssMb: peak, runs: n });
  }
  const by = (c: Contender): ContenderResult => results.find((r) => r.contender === c) as ContenderResult;
  const dev = by('devmlops');
  const papa = by('papaparse');
  const split = by('line-split');
  const targets = [
    {
      name: 'validation >= 120 MB/s',
      value: `${dev.mbPerSecond.toFixed(0)} MB/s`,
      met: dev.mbPerSecond >= 120,
    },
    {
      name: 'validation >= 4x papaparse',
      value: `${(dev.mbPerSecond / papa.mbPerSecond).toFixed(2)}x`,
      met: dev.mbPerSecond >= 4 * papa.mbPerSecond,
    },
    {
      name: 'validation >= 0.4x bare line split',
      value: `${(dev.mbPerSecond / split.mbPerSecond).toFixed(2)}x`,
      met: dev.mbPerSecond >= 0.4 * split.mbPerSecond,
    },
    {
      name: 'validation peak RSS < 200 MB',
      value: `${dev.peakRssMb.toFixed(0)} MB`,
      met: dev.peakRssMb < 200,
    },
  ];
  return { file, fileBytes: bytes, results, targets };
}

export function printValidationBench(r: ValidationBenchResult): void {
  const rows = r.results.map((x) => [
    x.contender,
    x.mbPerSecond.toFixed(1),
    x.seconds.toFixed(2),
    x.peakRssMb.toFixed(0),
    String(x.runs ?? 1),
    String(x.records),
    x.note ?? '',
  ]);
  const head = ['contender', 'MB/s', 'seconds', 'peak RSS MB', 'runs', 'records', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(`\nvalidation bench: ${(r.fileBytes / MB).toFixed(1)} MB, ${r.file}`);
  console.log(line(head));
  for (const row of rows) console.log(line(row));
  console.log('targets:');
  for (const t of r.targets) console.log(`  ${t.met ? 'met ' : 'MISS'}  ${t.name}: ${t.value}`);
}

if (require.main === module && process.argv[2] === '--contender') {
  const contender = process.argv[3] as Contender;
  const file = process.argv[4];
  runContender(contender, file)
    .then((r) => {
      const peakRssMb = (process.resourceUsage().maxRSS * 1024) / MB;
      process.stdout.write(JSON.stringify({ ...r, peakRssMb }) + '\n');
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
