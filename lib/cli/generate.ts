import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeSampleCsv } from '../local/sample-data';
import { numberOption, parseCommand, stringOption } from './args';
import { CliError, EXIT_OK, UsageError } from './errors';
import { formatBytes, formatRate, formatSeconds, type Progress } from './progress';

export async function generateCommand(argv: string[], progress: Progress): Promise<number> {
  const { values } = parseCommand(
    'generate',
    argv,
    {
      rows: { type: 'string' },
      seed: { type: 'string' },
      drift: { type: 'string' },
      'invalid-fraction': { type: 'string' },
      output: { type: 'string', short: 'o' },
    },
    false,
  );
  const rows = numberOption('generate', 'rows', values.rows, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
  if (rows === undefined) throw new UsageError('--rows is required', 'generate');
  const seed = numberOption('generate', 'seed', values.seed, {
    min: -(2 ** 31),
    max: 2 ** 32 - 1,
    integer: true,
  });
  const drift = numberOption('generate', 'drift', values.drift, { min: 0, max: 1 });
  const invalidFraction = numberOption('generate', 'invalid-fraction', values['invalid-fraction'], {
    min: 0,
    max: 1,
  });
  const output = stringOption(values.output);
  if (output === undefined || output === '') throw new UsageError('-o FILE is required', 'generate');
  const file = path.resolve(output);
  if (!fs.existsSync(path.dirname(file)))
    throw new CliError(`directory ${path.dirname(file)} does not exist`);

  progress.info(`Generating ${rows} rows -> ${output}`);
  const ticker = progress.ticker('generate');
  const t0 = performance.now();
  let result: { rows: number; bytes: number };
  try {
    result = await writeSampleCsv(file, {
      rows,
      seed,
      drift,
      invalidFraction,
      onProgress: (bytes) => ticker.update(formatBytes(bytes)),
    });
  } catch (err) {
    throw new CliError(`cannot write ${output}: ${(err as Error).message}`);
  } finally {
    ticker.done();
  }
  const ms = performance.now() - t0;
  const onDisk = fs.statSync(file).size;
  progress.info(
    `Wrote ${result.rows} rows, ${formatBytes(result.bytes)} of CSV` +
      (onDisk !== result.bytes ? ` (${formatBytes(onDisk)} gzipped)` : '') +
      ` in ${formatSeconds(ms)} (${formatRate(result.bytes, ms)}) to ${output}`,
  );
  return EXIT_OK;
}
