import * as fs from 'node:fs';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { stackNames } from '../app';
import {
  ApiError,
  DevMlopsClient,
  EndpointClient,
  InvalidRecordsError,
  NoModelError,
  type InputRecord,
  type Prediction,
  type PredictResponse,
  type Predictor,
  type RecordError,
} from '../client';
import type { DatasetSchema } from '../../lambdas/core/schema';
import { readProjectConfig } from '../config';
import { PIPELINE_OUTPUTS } from '../stacks/outputs';
import { numberOption, parseCommand, stringOption } from './args';
import { CliError, EXIT_OK, EXIT_REJECTED, UsageError } from './errors';
import { runningPlatform } from './platform-info';
import type { Progress } from './progress';

/**
 * `devmlops predict`: records in, predictions out, through the inference API (issue 6): the local platform's
 * (`--local`), or the deployed one, found from the pipeline stack's InferenceApiUrl output (or `--api-url`).
 * `--endpoint-name` and `--bucket` call the SageMaker endpoint directly instead, encoding client-side.
 */

/** The API's batch limit when cdk.json cannot be read (the config's default). */
const DEFAULT_BATCH = 100;

interface SourcedRecord {
  readonly record: InputRecord;
  /** Where it came from, for error messages: `--record` or `file:line`. */
  readonly where: string;
}

function parseRecord(text: string, where: string): InputRecord {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CliError(`${where}: not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new CliError(`${where}: a record must be a JSON object of field values`);
  for (const [k, x] of Object.entries(v))
    if (x !== null && typeof x === 'object')
      throw new CliError(`${where}: field "${k}" must be a string, number, boolean or null`);
  return v as InputRecord;
}

function readRecords(values: Record<string, string | boolean | undefined>): SourcedRecord[] {
  const record = stringOption(values.record);
  const file = stringOption(values.file);
  if ((record === undefined) === (file === undefined))
    throw new UsageError('give exactly one of --record JSON and --file records.jsonl', 'predict');
  if (record !== undefined) return [{ record: parseRecord(record, '--record'), where: '--record' }];
  let text: string;
  try {
    text = fs.readFileSync(file!, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const records = text
    .split('\n')
    .map((line, i) => ({ line: line.trim(), where: `${file}:${i + 1}` }))
    .filter((l) => l.line !== '')
    .map((l) => ({ record: parseRecord(l.line, l.where), where: l.where }));
  if (records.length === 0) throw new CliError(`${file} has no records`);
  return records;
}

/** The project's settings where cdk.json is at hand, the defaults elsewhere (an application's machine). */
function projectSettings(): {
  project: string;
  maxBatchSize: number;
  threshold: number;
  dataset?: DatasetSchema;
} {
  try {
    const c = readProjectConfig(process.cwd());
    return {
      project: c.project,
      maxBatchSize: c.inference.maxBatchSize,
      threshold: c.inference.threshold,
      dataset: c.dataset,
    };
  } catch {
    return { project: 'devmlops', maxBatchSize: DEFAULT_BATCH, threshold: 0.5 };
  }
}

/** The InferenceApiUrl output of a deployed pipeline stack. */
export async function apiUrlFromStack(cfn: CloudFormationClient, stackName: string): Promise<string> {
  let outputs;
  try {
    outputs = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0]?.Outputs;
  } catch (e) {
    throw new CliError(
      `cannot describe the stack ${stackName}: ${(e as Error).name}: ${(e as Error).message} (give --api-url, or --stack-name and --region)`,
    );
  }
  const url = outputs?.find((o) => o.OutputKey === PIPELINE_OUTPUTS.inferenceApiUrl)?.OutputValue;
  if (url === undefined || url === '')
    throw new CliError(
      `the stack ${stackName} has no ${PIPELINE_OUTPUTS.inferenceApiUrl} output: deploy the current version of the app, or give --api-url`,
    );
  return url;
}

/** One line per field error, naming the record by where it came from. */
export function describeRecordErrors(
  errors: readonly RecordError[],
  sources: readonly SourcedRecord[],
): string[] {
  return errors.map((e) => {
    const source = sources[e.record]?.where ?? `record ${e.record}`;
    return `  ${source}${e.field !== null ? `, field ${e.field}` : ''}: ${e.code}: ${e.message}`;
  });
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(4);
}

/** The table printed without --json: one row per record. */
export function predictionTable(
  predictions: readonly Prediction[],
  sources: readonly SourcedRecord[],
): string {
  const rows: string[][] = predictions.map((p, i) => {
    const where = sources[i]?.where ?? String(i);
    if ('value' in p) return [where, '', formatNumber(p.value)];
    if ('probability' in p) return [where, p.label, formatNumber(p.probability)];
    const top = Object.entries(p.probabilities)
      .map(([k, v]) => `${k}=${formatNumber(v)}`)
      .join(' ');
    return [where, p.label, top];
  });
  const first = predictions[0];
  const kind =
    first && 'value' in first ? 'value' : first && 'probability' in first ? 'probability' : 'probabilities';
  const all = [['record', 'label', kind], ...rows];
  const widths = all[0].map((_, c) => Math.max(...all.map((r) => r[c].length)));
  return (
    all
      .map((r) =>
        r
          .map((cell, c) => cell.padEnd(widths[c]))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export async function predictCommand(argv: string[], progress: Progress): Promise<number> {
  const { values, positionals } = parseCommand(
    'predict',
    argv,
    {
      record: { type: 'string' },
      file: { type: 'string' },
      local: { type: 'boolean' },
      json: { type: 'boolean' },
      'api-url': { type: 'string' },
      'stack-name': { type: 'string' },
      'batch-size': { type: 'string' },
      'endpoint-name': { type: 'string' },
      bucket: { type: 'string' },
      region: { type: 'string' },
    },
    false,
  );
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, 'predict');
  const sources = readRecords(values);
  const settings = projectSettings();
  const batchSize =
    numberOption('predict', 'batch-size', values['batch-size'], { min: 1, max: 1000, integer: true }) ??
    settings.maxBatchSize;
  const region = stringOption(values.region);
  const endpointName = stringOption(values['endpoint-name']);
  const bucket = stringOption(values.bucket);
  const apiUrlOption = stringOption(values['api-url']);
  const direct = endpointName !== undefined || bucket !== undefined;
  if (direct && (endpointName === undefined || bucket === undefined))
    throw new UsageError('--endpoint-name and --bucket go together (the direct endpoint path)', 'predict');
  if (direct && (values.local === true || apiUrlOption !== undefined))
    throw new UsageError(
      '--endpoint-name/--bucket call the endpoint directly: not with --local or --api-url',
      'predict',
    );

  let predictor: Predictor;
  const cleanup: Array<() => void> = [];
  let target: string;
  if (direct) {
    const s3 = new S3Client(region !== undefined ? { region } : {});
    const runtime = new SageMakerRuntimeClient(region !== undefined ? { region } : {});
    cleanup.push(
      () => s3.destroy(),
      () => runtime.destroy(),
    );
    predictor = new EndpointClient({
      endpointName: endpointName!,
      artifactsBucket: bucket!,
      runtime,
      s3,
      threshold: settings.threshold,
      // The API's checks (ranges, required fields), where cdk.json gives the schema.
      ...(settings.dataset ? { schema: settings.dataset } : {}),
    });
    target = `endpoint ${endpointName}`;
  } else if (values.local === true) {
    const info = runningPlatform();
    if (info.apiUrl === undefined || info.credentials === undefined)
      throw new CliError('the running local platform serves no inference API: restart `devmlops local up`');
    predictor = new DevMlopsClient({
      apiUrl: info.apiUrl,
      region: info.names.region,
      credentials: info.credentials,
    });
    target = `${info.apiUrl}v1/predict (local)`;
  } else {
    let apiUrl = apiUrlOption;
    if (apiUrl === undefined) {
      const stackName = stringOption(values['stack-name']) ?? stackNames(settings.project).pipeline;
      const cfn = new CloudFormationClient(region !== undefined ? { region } : {});
      try {
        apiUrl = await progress.step(`find the inference API (stack ${stackName})`, () =>
          apiUrlFromStack(cfn, stackName),
        );
      } finally {
        cfn.destroy();
      }
    }
    predictor = new DevMlopsClient({ apiUrl, ...(region !== undefined ? { region } : {}) });
    target = `${apiUrl}v1/predict`;
  }

  try {
    const predictions: Prediction[] = [];
    const versions: Array<{ modelVersion: string; modelPackageArn: string }> = [];
    for (let i = 0; i < sources.length; i += batchSize) {
      const batch = sources.slice(i, i + batchSize);
      let r: PredictResponse;
      try {
        r = await predictor.predict(batch.map((s) => s.record));
      } catch (e) {
        if (e instanceof InvalidRecordsError) {
          const offset = e.errors.map((x) => ({ ...x, record: x.record + i }));
          process.stderr.write(
            `devmlops predict: ${e.message}\n${describeRecordErrors(offset, sources).join('\n')}\n`,
          );
          return EXIT_REJECTED;
        }
        if (e instanceof NoModelError) throw new CliError(`nothing is deployed yet: ${e.message}`);
        if (e instanceof ApiError)
          throw new CliError(`${target} failed: ${e.status} ${e.code}: ${e.message}`);
        throw e;
      }
      predictions.push(...r.predictions);
      if (!versions.some((v) => v.modelPackageArn === r.modelPackageArn))
        versions.push({ modelVersion: r.modelVersion, modelPackageArn: r.modelPackageArn });
    }
    const last = versions[versions.length - 1];
    if (values.json === true) {
      const out = {
        modelVersion: last.modelVersion,
        modelPackageArn: last.modelPackageArn,
        // A deploy between two batches: the records were scored by more than one model.
        ...(versions.length > 1 ? { models: versions } : {}),
        predictions,
      };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    } else {
      progress.info(
        `${predictions.length} prediction(s) from ${target}, model version ${versions.map((v) => v.modelVersion).join(', ')} (${versions.map((v) => v.modelPackageArn).join(', ')})`,
      );
      process.stdout.write(predictionTable(predictions, sources));
    }
    return EXIT_OK;
  } finally {
    for (const c of cleanup) c();
  }
}
