import { z } from 'zod';
import { parseWith } from './schema';

/**
 * `artifacts/baselines/current.json` (DESIGN.md section 6, step 7): what is deployed and what it was
 * trained on. The drift check reads the baseline and feature spec from it; the state machine's drift guard
 * reads `cooldownUntil` (RFC 3339, compared with $$.Execution.StartTime).
 */

export const POINTER_KEY = 'baselines/current.json';

const s3Uri = z
  .string()
  .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+/, 'must be an s3://bucket/key URI');
const nonEmpty = z.string().min(1);
const isoTime = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 time')
  .transform((s) => new Date(s).toISOString());
const numeric = z
  .union([z.number(), z.string().trim().min(1)])
  .transform((v) => Number(v))
  .refine((n) => Number.isFinite(n), 'must be a finite number');

const pointerFields = {
  modelPackageArn: z.string().regex(/^arn:aws[a-z-]*:sagemaker:/, 'must be a SageMaker model package ARN'),
  jobName: nonEmpty,
  endpointName: nonEmpty,
  endpointConfigName: nonEmpty,
  baselineUri: s3Uri,
  featureSpecUri: s3Uri,
  metricName: nonEmpty,
  metric: numeric,
  execution: nonEmpty,
};

export const currentPointerZ = z.object({
  ...pointerFields,
  deployedAt: isoTime,
  cooldownUntil: isoTime,
});

export type CurrentPointer = z.output<typeof currentPointerZ>;

/** What the Promote task is given: the pointer without cooldownUntil; the time as deployedAt or executionStartTime. */
const promoteInputZ = z
  .object({
    ...pointerFields,
    deployedAt: isoTime.optional(),
    executionStartTime: isoTime.optional(),
  })
  .refine((p) => p.deployedAt !== undefined || p.executionStartTime !== undefined, {
    message: 'needs deployedAt (or executionStartTime): the time the deploying execution started',
    path: ['deployedAt'],
  });

export type PromoteInput = z.input<typeof promoteInputZ>;

/**
 * Builds the pointer from the Promote payload. `deployedAt` is the execution's start time as passed in
 * (never the Lambda's clock, so a retried Promote writes the same object); cooldownUntil is that plus
 * `cooldownMinutes`. Throws a SchemaError naming each bad field.
 */
export function buildPointer(input: unknown, cooldownMinutes: number): CurrentPointer {
  if (!(Number.isFinite(cooldownMinutes) && cooldownMinutes >= 0))
    throw new RangeError(`cooldownMinutes must be a number >= 0, got ${cooldownMinutes}`);
  const p = parseWith(promoteInputZ, input, 'Promote input');
  const deployedAt = (p.deployedAt ?? p.executionStartTime)!;
  const cooldownUntil = new Date(Date.parse(deployedAt) + cooldownMinutes * 60_000).toISOString();
  return {
    modelPackageArn: p.modelPackageArn,
    jobName: p.jobName,
    endpointName: p.endpointName,
    endpointConfigName: p.endpointConfigName,
    baselineUri: p.baselineUri,
    featureSpecUri: p.featureSpecUri,
    metricName: p.metricName,
    metric: p.metric,
    execution: p.execution,
    deployedAt,
    cooldownUntil,
  };
}

/** Reads a stored pointer (e.g. for the drift check); throws a SchemaError naming each bad field. */
export function parsePointer(json: unknown): CurrentPointer {
  return parseWith(currentPointerZ, json, POINTER_KEY);
}

/** True while a drift alarm should not retrain: `now` is before cooldownUntil. */
export function inCooldown(pointer: CurrentPointer, now: Date): boolean {
  return now.getTime() < Date.parse(pointer.cooldownUntil);
}

export function pointerJson(pointer: CurrentPointer): string {
  return `${JSON.stringify(pointer, null, 2)}\n`;
}

/** Splits `s3://bucket/key`. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = S3_URI.exec(uri);
  if (!m || m[2] === '') throw new Error(`not an s3://bucket/key URI: ${uri}`);
  return { bucket: m[1], key: m[2] };
}

const S3_URI = /^s3:\/\/([^/]+)\/?(.*)$/;

/** `s3://bucket[/key-or-prefix]` split in two; the key may be empty (a whole bucket, as S3 prefixes allow). */
export function splitS3Uri(uri: string): { bucket: string; key: string } {
  const m = S3_URI.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: m[1], key: m[2] };
}
