import { listKeys } from '../shared/s3';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { checkSufficient, DatasetPreparer, toJsonBytes, trainingJobName } from '../core/prepare';
import type { DatasetSchema, ProblemType } from '../core/schema';
import { datasetSchemasEnv, numberEnv, requiredEnv } from '../shared/env';
import { LineUpload } from '../shared/line-upload';
import { openObject } from '../shared/object-reader';

/** Settings of the Prepare Lambda, from its environment (the contract with the PipelineStack). */
export interface PrepareEnv {
  readonly project: string;
  readonly artifactsBucket: string;
  readonly curatedBucket: string;
  readonly datasets: ReadonlyMap<string, DatasetSchema>;
  readonly minTrainingRows: number;
  readonly validationFraction: number;
  readonly maxLineBytes: number;
}

export function readPrepareEnv(env: NodeJS.ProcessEnv = process.env): PrepareEnv {
  const artifactsBucket = requiredEnv(env, 'ARTIFACTS_BUCKET');
  const curatedBucket = requiredEnv(env, 'CURATED_BUCKET');
  return {
    project: requiredEnv(env, 'PROJECT'),
    artifactsBucket,
    curatedBucket,
    datasets: datasetSchemasEnv(env),
    minTrainingRows: numberEnv(env, 'MIN_TRAINING_ROWS', 1000, { min: 1, max: 1e12, integer: true }),
    validationFraction: numberEnv(env, 'VALIDATION_FRACTION', 0.2, { min: 0.0001, max: 0.9999 }),
    // Curated rows passed validation under a lower limit; this only bounds memory against a corrupt object.
    maxLineBytes: numberEnv(env, 'MAX_LINE_BYTES', 64 * 1024 * 1024, { min: 1024, max: 256 * 1024 * 1024 }),
  };
}

/** The state machine's payload (issue 3 contract): `dataset` is optional when only one is configured. */
export interface PrepareEvent {
  readonly executionName: string;
  readonly executionStartTime: string;
  readonly dataset?: string;
  readonly trigger?: string;
}

/** The Lambda's result, which the state machine keeps at $.prepare. */
export interface PrepareOutput {
  jobName: string;
  dataset: string;
  /** The train channel's S3 prefix (S3DataType S3Prefix): `s3://<artifacts>/training/<jobName>/train/`. */
  trainUri: string;
  validationUri: string;
  baselineUri: string;
  featureSpecUri: string;
  /** `s3://<artifacts>/training/<jobName>/` */
  trainingPrefix: string;
  rows: { total: number; train: number; validation: number };
  problem: ProblemType;
}

export class BadPrepareEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadPrepareEventError';
  }
}

export function parsePrepareEvent(event: unknown): PrepareEvent {
  const e = (event ?? {}) as Record<string, unknown>;
  const str = (name: string, required: boolean): string | undefined => {
    const v = e[name];
    if (v === undefined || v === null) {
      if (required) throw new BadPrepareEventError(`Prepare input needs "${name}" (a string)`);
      return undefined;
    }
    if (typeof v !== 'string' || v === '')
      throw new BadPrepareEventError(
        `Prepare input "${name}" must be a non-empty string, got ${JSON.stringify(v)}`,
      );
    return v;
  };
  return {
    executionName: str('executionName', true)!,
    executionStartTime: str('executionStartTime', true)!,
    dataset: str('dataset', false),
    trigger: str('trigger', false),
  };
}

/** A log sink, so the module stays free of the Powertools singleton. */
export interface Log {
  info(message: string, extra: Record<string, unknown>): void;
  warn?(message: string, extra: Record<string, unknown>): void;
}

/** `<dataset>/ingest_date=YYYY-MM-DD/<id>.csv`: the curated layout (DESIGN.md section 5); nothing else is read. */
function curatedKeyPattern(dataset: string): RegExp {
  const escaped = dataset.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
  return new RegExp(`^${escaped}/ingest_date=\\d{4}-\\d{2}-\\d{2}/[^/]+\\.csv$`);
}

/** Every curated object of the dataset, sorted by key: the order, and so the baseline, is deterministic. */
export async function listCuratedKeys(s3: S3Client, bucket: string, dataset: string): Promise<string[]> {
  const pattern = curatedKeyPattern(dataset);
  const keys = (await listKeys(s3, bucket, `${dataset}/ingest_date=`)).filter((k) => pattern.test(k));
  // S3 lists in UTF-8 byte order; sorting by code unit here keeps the order independent of the listing.
  return keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function pickDataset(env: PrepareEnv, requested: string | undefined): DatasetSchema {
  if (requested !== undefined) {
    const schema = env.datasets.get(requested);
    if (!schema)
      throw new BadPrepareEventError(
        `unknown dataset "${requested}"; configured: ${[...env.datasets.keys()].join(', ')}`,
      );
    return schema;
  }
  if (env.datasets.size !== 1)
    throw new BadPrepareEventError(
      `Prepare input has no "dataset" and ${env.datasets.size} datasets are configured: name one`,
    );
  return [...env.datasets.values()][0];
}

/**
 * Prepare: streams every curated object of the dataset (sorted by key) through the core once, uploading the
 * train and validation CSVs as they are produced, then writes feature-spec.json and baseline.json. With
 * too few rows it aborts both uploads (so nothing is written) and throws InsufficientDataError. Every
 * output is a pure function of the curated data and the execution, so a retry writes identical objects.
 */
export async function prepareDataset(
  s3: S3Client,
  env: PrepareEnv,
  event: PrepareEvent,
  log?: Log,
): Promise<PrepareOutput> {
  const schema = pickDataset(env, event.dataset);
  const dataset = schema.name;
  const jobName = trainingJobName(env.project, event.executionName, event.executionStartTime);
  const bucket = env.artifactsBucket;
  const prefix = `training/${jobName}/`;
  const s3Uri = (key: string): string => `s3://${bucket}/${key}`;

  const keys = await listCuratedKeys(s3, env.curatedBucket, dataset);
  const where = `s3://${env.curatedBucket}/${dataset}/ingest_date=*/ (${keys.length} curated file${keys.length === 1 ? '' : 's'})`;

  const train = new LineUpload(s3, { bucket, key: `${prefix}train/data.csv` });
  const validation = new LineUpload(s3, { bucket, key: `${prefix}validation/data.csv` });
  const preparer = new DatasetPreparer(
    schema,
    { validationFraction: env.validationFraction, maxLineBytes: env.maxLineBytes },
    {
      train: (line, start, end) => train.write(line, start, end),
      validation: (line, start, end) => validation.write(line, start, end),
    },
  );

  let result: ReturnType<DatasetPreparer['finish']>;
  try {
    for (const key of keys) {
      // A connection that breaks mid-object resumes where it stopped: the preparer sees each byte once.
      const object = await openObject(
        s3,
        { Bucket: env.curatedBucket, Key: key },
        {
          onResume: ({ offset, resumes, error }) =>
            log?.warn?.('Reading a curated object broke; resuming', {
              key,
              offset,
              resumes,
              error: String(error),
            }),
        },
      );
      preparer.beginFile(`s3://${env.curatedBucket}/${key}`);
      try {
        for await (const chunk of object.body) {
          preparer.push(chunk);
          await Promise.all([train.drained(), validation.drained()]);
        }
      } catch (err) {
        object.destroy();
        throw err;
      }
      preparer.endFile();
    }
    result = preparer.finish();
    checkSufficient(result.rows, env.minTrainingRows, where);
  } catch (err) {
    await Promise.all([train.abort(), validation.abort()]);
    throw err;
  }
  await Promise.all([train.finish(), validation.finish()]);

  const featureSpecKey = `${prefix}feature-spec.json`;
  const baselineKey = `${prefix}baseline.json`;
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: featureSpecKey,
      Body: toJsonBytes(result.featureSpec),
      ContentType: 'application/json',
    }),
  );
  // Last: its presence means the whole training set is there.
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: baselineKey,
      Body: toJsonBytes(result.baseline),
      ContentType: 'application/json',
    }),
  );

  const output: PrepareOutput = {
    jobName,
    dataset,
    trainUri: s3Uri(`${prefix}train/`),
    validationUri: s3Uri(`${prefix}validation/`),
    baselineUri: s3Uri(baselineKey),
    featureSpecUri: s3Uri(featureSpecKey),
    trainingPrefix: s3Uri(prefix),
    rows: result.rows,
    problem: result.featureSpec.problem,
  };
  log?.info('Prepared the training set', {
    ...output,
    trigger: event.trigger,
    files: result.files,
    records: result.counts.records,
    unlabeled: result.counts.unlabeled,
    skipped: result.counts.skipped,
    trainBytes: train.bytes,
    validationBytes: validation.bytes,
  });
  return output;
}
