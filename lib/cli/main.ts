import { CliError, EXIT_ERROR, EXIT_OK, UsageError } from './errors';
import { createProgress, type Progress } from './progress';
import {
  BASELINE_USAGE,
  DEMO_USAGE,
  DRIFT_USAGE,
  GENERATE_USAGE,
  LOCAL_USAGE,
  PREDICT_USAGE,
  SCHEMA_USAGE,
  TRAIN_USAGE,
  USAGE,
  VALIDATE_USAGE,
} from './usage';

type Run = (argv: string[], progress: Progress) => Promise<number> | number;

interface Command {
  usage: string;
  /** Loaded on use: `--help` and the light commands need none of the AWS SDK or the validation core. */
  load(): Run;
}

/* eslint-disable @typescript-eslint/no-require-imports -- a plain require: under the tsx CJS hook, import() would bypass TypeScript resolution */
const COMMANDS: Record<string, Command> = {
  validate: {
    usage: VALIDATE_USAGE,
    load: () => (require('./validate') as typeof import('./validate')).validateCommand,
  },
  schema: {
    usage: SCHEMA_USAGE,
    load: () => (require('./schema') as typeof import('./schema')).schemaCommand,
  },
  generate: {
    usage: GENERATE_USAGE,
    load: () => (require('./generate') as typeof import('./generate')).generateCommand,
  },
  baseline: {
    usage: BASELINE_USAGE,
    load: () => (require('./baseline') as typeof import('./baseline')).baselineCommand,
  },
  drift: {
    usage: DRIFT_USAGE,
    load: () => (require('./drift') as typeof import('./drift')).driftCommand,
  },
  train: { usage: TRAIN_USAGE, load: () => (require('./train') as typeof import('./train')).trainCommand },
  demo: { usage: DEMO_USAGE, load: () => (require('./demo') as typeof import('./demo')).demoCommand },
  local: { usage: LOCAL_USAGE, load: () => (require('./local') as typeof import('./local')).localCommand },
  predict: {
    usage: PREDICT_USAGE,
    load: () => (require('./predict') as typeof import('./predict')).predictCommand,
  },
};
/* eslint-enable @typescript-eslint/no-require-imports */

function wantsHelp(argv: string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** Runs the CLI and resolves to the exit code; human text goes to stderr, machine output to stdout. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(USAGE);
    return EXIT_ERROR;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    process.stdout.write(
      topic !== undefined && Object.hasOwn(COMMANDS, topic) ? COMMANDS[topic].usage : USAGE,
    );
    return EXIT_OK;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    process.stderr.write(`devmlops: unknown command "${name}"\n\n${USAGE}`);
    return EXIT_ERROR;
  }
  if (wantsHelp(rest)) {
    process.stdout.write(command.usage);
    return EXIT_OK;
  }
  const progress = createProgress(process.stderr);
  try {
    const run = command.load();
    return await run(rest, progress);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`devmlops ${name}: ${err.message}\nRun \`devmlops ${name} --help\` for usage.\n`);
      return EXIT_ERROR;
    }
    if (err instanceof CliError) {
      process.stderr.write(`devmlops ${name}: ${err.message}\n`);
      return EXIT_ERROR;
    }
    process.stderr.write(`devmlops ${name}: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT_ERROR;
  }
}
