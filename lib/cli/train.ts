import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { readProjectConfig } from '../config';
import { numberOption, parseCommand, stringOption } from './args';
import { CliError, EXIT_OK, EXIT_REJECTED, UsageError } from './errors';
import { runningPlatform } from './platform-info';
import { formatSeconds, type Progress } from './progress';

/** The environment variable that names the training state machine when --state-machine-arn is not given. */
export const STATE_MACHINE_ENV = 'DEVMLOPS_STATE_MACHINE_ARN';

const ARN = /^arn:aws[a-z-]*:states:([a-z0-9-]+):\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/;
const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;

export interface TrainOptions {
  stateMachineArn: string;
  region: string;
  dataset?: string;
  name?: string;
  wait: boolean;
  pollSeconds: number;
  /** Give up waiting after this long (the execution keeps running). */
  timeoutSeconds: number;
}

export interface TrainResult {
  executionArn: string;
  startDate?: string;
  status?: string;
  output?: unknown;
  error?: string;
  cause?: string;
}

/** Injected by tests: how to wait between polls. */
export interface TrainDeps {
  sleep(ms: number): Promise<void>;
  client?: SFNClient;
}

const realDeps: TrainDeps = { sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Starts the training state machine with `{trigger: "manual", dataset}`; with `wait`, polls until it ends. */
export async function startTraining(
  o: TrainOptions,
  progress: Progress,
  deps: TrainDeps = realDeps,
): Promise<TrainResult> {
  const client = deps.client ?? new SFNClient({ region: o.region });
  const input = { trigger: 'manual', ...(o.dataset !== undefined ? { dataset: o.dataset } : {}) };
  let started;
  try {
    started = await client.send(
      new StartExecutionCommand({
        stateMachineArn: o.stateMachineArn,
        name: o.name,
        input: JSON.stringify(input),
      }),
    );
  } catch (err) {
    throw new CliError(`cannot start ${o.stateMachineArn}: ${(err as Error).message}`);
  }
  const executionArn = started.executionArn!;
  progress.info(`Started ${executionArn} with input ${JSON.stringify(input)}`);
  const result: TrainResult = { executionArn, startDate: started.startDate?.toISOString() };
  if (!o.wait) return result;

  const t0 = Date.now();
  for (;;) {
    let d;
    try {
      d = await client.send(new DescribeExecutionCommand({ executionArn }));
    } catch (err) {
      throw new CliError(`cannot describe ${executionArn}: ${(err as Error).message}`);
    }
    if (d.status !== 'RUNNING' && d.status !== 'PENDING_REDRIVE') {
      return {
        ...result,
        status: d.status,
        output: parseJson(d.output),
        ...(d.error !== undefined ? { error: d.error } : {}),
        ...(d.cause !== undefined ? { cause: d.cause } : {}),
      };
    }
    if (Date.now() - t0 >= o.timeoutSeconds * 1000)
      return {
        ...result,
        status: 'RUNNING',
        error: `still running after ${o.timeoutSeconds} s; not waiting longer`,
      };
    progress.info(`  ${d.status} after ${formatSeconds(Date.now() - t0)}...`);
    await deps.sleep(o.pollSeconds * 1000);
  }
}

function defaultDataset(): string | undefined {
  try {
    return readProjectConfig().dataset.name;
  } catch {
    return undefined;
  }
}

export async function trainCommand(argv: string[], progress: Progress, deps?: TrainDeps): Promise<number> {
  const { values, positionals } = parseCommand(
    'train',
    argv,
    {
      dataset: { type: 'string' },
      wait: { type: 'boolean' },
      'state-machine-arn': { type: 'string' },
      region: { type: 'string' },
      name: { type: 'string' },
      'poll-seconds': { type: 'string' },
      'timeout-minutes': { type: 'string' },
      json: { type: 'boolean' },
      local: { type: 'boolean' },
    },
    false,
  );
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, 'train');
  if (values.local === true) {
    // The same StartExecution/DescribeExecution path as against AWS, sent to the local platform's endpoint.
    const info = runningPlatform();
    const local: TrainDeps = {
      ...(deps ?? realDeps),
      client:
        deps?.client ??
        new SFNClient({
          region: info.names.region,
          endpoint: info.awsEndpoint,
          credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        }),
    };
    return runTrain(values, info.names.trainingStateMachineArn, info.names.region, progress, local, {
      pollSeconds: 1,
      dataset: info.names.dataset,
    });
  }
  const arn = stringOption(values['state-machine-arn']) ?? process.env[STATE_MACHINE_ENV];
  if (arn === undefined || arn === '')
    throw new UsageError(
      `the state machine is unknown: pass --state-machine-arn ARN or set ${STATE_MACHINE_ENV} ` +
        '(the TrainingStateMachineArn output of the <project>-pipeline stack), or train in the local platform with --local',
      'train',
    );
  const m = ARN.exec(arn);
  if (!m) throw new UsageError(`not a Step Functions state machine ARN: "${arn}"`, 'train');
  // The client must talk to the state machine's own region.
  return runTrain(values, arn, stringOption(values.region) ?? m[1], progress, deps, {
    pollSeconds: 30,
    dataset: defaultDataset(),
  });
}

/** Starts (and with --wait follows) an execution; shared by AWS and the local platform. */
async function runTrain(
  values: Record<string, string | boolean | undefined>,
  stateMachineArn: string,
  region: string,
  progress: Progress,
  deps: TrainDeps | undefined,
  defaults: { pollSeconds: number; dataset?: string },
): Promise<number> {
  const name = stringOption(values.name);
  if (name !== undefined && !EXECUTION_NAME.test(name))
    throw new UsageError('--name must be 1-80 letters, digits, - or _', 'train');
  const pollSeconds =
    numberOption('train', 'poll-seconds', values['poll-seconds'], { min: 1, max: 3600, integer: true }) ??
    defaults.pollSeconds;
  const timeoutMinutes =
    numberOption('train', 'timeout-minutes', values['timeout-minutes'], {
      min: 1,
      max: 7 * 24 * 60,
      integer: true,
    }) ?? 24 * 60;
  const options: TrainOptions = {
    stateMachineArn,
    region,
    dataset: stringOption(values.dataset) ?? defaults.dataset,
    name,
    wait: values.wait === true,
    pollSeconds,
    timeoutSeconds: timeoutMinutes * 60,
  };
  const result = await startTraining(options, progress, deps);
  if (values.json === true) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (!options.wait) return EXIT_OK;
  const summary = [`${result.executionArn}: ${result.status}`];
  const out = result.output as { status?: string; reason?: string } | undefined;
  if (out?.status) summary.push(`  outcome: ${out.status}${out.reason ? ` (${out.reason})` : ''}`);
  if (result.error) summary.push(`  error:   ${result.error}${result.cause ? `: ${result.cause}` : ''}`);
  progress.info(summary.join('\n'));
  return result.status === 'SUCCEEDED' ? EXIT_OK : EXIT_REJECTED;
}
