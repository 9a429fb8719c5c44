import * as fs from 'node:fs';
import * as path from 'node:path';
import { readProjectConfig } from '../config';
import { LocalClock } from '../local/clock';
import { LocalPlatform } from '../local/platform';
import { PLATFORM_INFO_FILE, readPlatformInfo } from '../local/platform-info';
import { numberOption, parseCommand } from './args';
import { CliError, EXIT_OK, UsageError } from './errors';
import type { Progress } from './progress';
import { connectionHelp, LOCAL_DIRECTORY } from './platform-info';

/** How often the platform's schedules and alarms are looked at, in real time. */
const TICK_MILLISECONDS = 1000;

/**
 * Keeps a platform serving until Ctrl-C: ticks its schedules and alarms, publishes platform.json for the other
 * commands, and on SIGINT/SIGTERM stops every server and removes the file.
 */
export async function serveUntilInterrupted(
  platform: LocalPlatform,
  progress: Progress,
  directory = LOCAL_DIRECTORY,
): Promise<void> {
  fs.mkdirSync(directory, { recursive: true });
  const infoFile = path.join(directory, PLATFORM_INFO_FILE);
  const info = platform.info();
  fs.writeFileSync(infoFile, `${JSON.stringify(info, null, 2)}\n`);
  progress.info(`\nThe local platform is running (Ctrl-C stops it):\n${connectionHelp(info)}\n`);
  let ticking = false;
  const timer = setInterval(() => {
    if (ticking) return;
    ticking = true;
    platform
      .tick()
      .catch((e: Error) => progress.info(`tick failed: ${e.message}`))
      .finally(() => (ticking = false));
  }, TICK_MILLISECONDS);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      progress.info(`\n${signal}: stopping the local platform...`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve();
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  clearInterval(timer);
  fs.rmSync(infoFile, { force: true });
  await platform.close();
  progress.info('Stopped.');
}

export async function localCommand(argv: string[], progress: Progress): Promise<number> {
  const { values, positionals } = parseCommand(
    'local',
    argv,
    { speed: { type: 'string' }, fresh: { type: 'boolean' } },
    true,
  );
  if (positionals[0] !== 'up' || positionals.length > 1)
    throw new UsageError(
      positionals.length === 0 ? 'missing subcommand: up' : `unknown subcommand "${positionals.join(' ')}"`,
      'local',
    );
  const speed = numberOption('local', 'speed', values.speed, { min: 1, max: 3600 }) ?? 120;
  const existing = readPlatformInfo(LOCAL_DIRECTORY);
  if (existing)
    throw new CliError(`a local platform is already running (pid ${existing.pid}); stop it first`);
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  const config = readProjectConfig();
  const platform = await progress.step(
    'start the local platform',
    () =>
      LocalPlatform.start({
        directory: LOCAL_DIRECTORY,
        fresh: values.fresh === true,
        clock: new LocalClock({ speed }),
        log: (line) => progress.info(`  ${line}`),
      }),
    () =>
      `config from cdk.json (project ${config.project}); simulated time runs ${speed}x real time, so the hourly drift check runs every ${(3600 / speed).toFixed(0)} s`,
  );
  progress.info(
    'SageMaker models, endpoints and executions live in memory: after a restart, run `devmlops train --local` to deploy again (S3 data is kept unless --fresh).',
  );
  await serveUntilInterrupted(platform, progress);
  return EXIT_OK;
}
