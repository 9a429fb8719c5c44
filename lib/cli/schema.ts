import * as fs from 'node:fs';
import * as path from 'node:path';
import { readProjectConfig } from '../config';
import { parseCommand, stringOption } from './args';
import { CliError, EXIT_OK } from './errors';
import type { Progress } from './progress';

export function schemaCommand(argv: string[], progress: Progress): number {
  const { values } = parseCommand('schema', argv, { output: { type: 'string', short: 'o' } }, false);
  let dataset: unknown;
  try {
    dataset = readProjectConfig().dataset;
  } catch (err) {
    throw new CliError(`cannot read the project config: ${(err as Error).message}`);
  }
  const json = `${JSON.stringify(dataset, null, 2)}\n`;
  const output = stringOption(values.output);
  if (output === undefined || output === '-') {
    process.stdout.write(json);
    return EXIT_OK;
  }
  try {
    fs.writeFileSync(path.resolve(output), json);
  } catch (err) {
    throw new CliError(`cannot write ${output}: ${(err as Error).message}`);
  }
  progress.info(`Wrote the dataset schema to ${output}`);
  return EXIT_OK;
}
