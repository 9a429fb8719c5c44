import * as fs from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { s3ClientConfig } from '../../lambdas/shared/clients';
import { predict, readDeployed, type InputRecord, type Prediction } from '../local/traffic';
import { parseCommand, stringOption } from './args';
import { CliError, EXIT_OK, UsageError } from './errors';
import { runningPlatform } from './platform-info';
import type { Progress } from './progress';

/** Records per InvokeEndpoint call (the runtime's payload limit is 6 MB; a few hundred rows stay far below). */
const BATCH = 500;

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

function readRecords(values: Record<string, string | boolean | undefined>): InputRecord[] {
  const record = stringOption(values.record);
  const file = stringOption(values.file);
  if ((record === undefined) === (file === undefined))
    throw new UsageError('give exactly one of --record JSON and --file records.jsonl', 'predict');
  if (record !== undefined) return [parseRecord(record, '--record')];
  let text: string;
  try {
    text = fs.readFileSync(file!, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const records = text
    .split('\n')
    .map((line, i) => ({ line: line.trim(), n: i + 1 }))
    .filter((l) => l.line !== '')
    .map((l) => parseRecord(l.line, `${file}:${l.n}`));
  if (records.length === 0) throw new CliError(`${file} has no records`);
  return records;
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
      'endpoint-name': { type: 'string' },
      bucket: { type: 'string' },
      region: { type: 'string' },
    },
    false,
  );
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, 'predict');
  const records = readRecords(values);

  let s3: S3Client;
  let runtime: SageMakerRuntimeClient;
  let endpointName: string;
  let bucket: string;
  if (values.local === true) {
    const info = runningPlatform();
    const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
    s3 = new S3Client({
      ...s3ClientConfig({ AWS_REGION: info.names.region, AWS_ENDPOINT_URL_S3: info.s3Endpoint }),
      credentials,
    });
    runtime = new SageMakerRuntimeClient({
      region: info.names.region,
      endpoint: info.runtimeEndpoint,
      credentials,
    });
    endpointName = info.names.endpointName;
    bucket = info.names.buckets.artifacts;
  } else {
    endpointName = stringOption(values['endpoint-name']) ?? '';
    bucket = stringOption(values.bucket) ?? '';
    if (endpointName === '' || bucket === '')
      throw new UsageError(
        'against AWS, give --endpoint-name (the <project>-endpoint) and --bucket (the artifacts bucket, which holds baselines/current.json); or use --local',
        'predict',
      );
    const region = stringOption(values.region);
    s3 = new S3Client(region !== undefined ? { region } : {});
    runtime = new SageMakerRuntimeClient(region !== undefined ? { region } : {});
  }
  try {
    const deployed = await readDeployed(s3, bucket).catch((e: Error) => {
      throw new CliError(
        `cannot read what is deployed from s3://${bucket}/baselines/current.json: ${e.message}`,
      );
    });
    if (!deployed)
      throw new CliError(`nothing is deployed yet (no s3://${bucket}/baselines/current.json): train first`);
    const predictions: Prediction[] = [];
    for (let i = 0; i < records.length; i += BATCH) {
      try {
        const r = await predict(runtime, endpointName, deployed.spec, records.slice(i, i + BATCH));
        predictions.push(...r.predictions);
      } catch (e) {
        throw new CliError(
          `InvokeEndpoint ${endpointName} failed: ${(e as Error).name}: ${(e as Error).message}`,
        );
      }
    }
    const out = {
      modelPackageArn: deployed.pointer.modelPackageArn,
      jobName: deployed.pointer.jobName,
      predictions,
    };
    if (values.json === true) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    else {
      progress.info(`model ${deployed.pointer.jobName} (${deployed.pointer.modelPackageArn})`);
      for (const p of predictions)
        process.stdout.write(`${p.label !== undefined ? `${p.label}\t` : ''}${p.score}\n`);
    }
    return EXIT_OK;
  } finally {
    s3.destroy();
    runtime.destroy();
  }
}
