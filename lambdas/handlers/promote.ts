import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { buildPointer, pointerJson, POINTER_KEY, type CurrentPointer } from '../core/pointer';
import { s3Client } from '../shared/clients';
import { numberEnv, requiredEnv } from '../shared/env';
import { logger, metrics, MetricUnit } from '../shared/powertools';

/**
 * Promote Lambda, the state machine's `Promote` task (DESIGN.md section 6, step 7): once the endpoint
 * serves the new model, writes `artifacts/baselines/current.json` (the pointer the drift check and the drift
 * guard read) and publishes the model's metric as `TrainingMetric` (namespace DevMLOps, dimension Project,
 * the metric's name as a property).
 */

export interface PromoteEnv {
  readonly artifactsBucket: string;
  readonly driftCooldownMinutes: number;
}

export function readPromoteEnv(env: NodeJS.ProcessEnv = process.env): PromoteEnv {
  return {
    artifactsBucket: requiredEnv(env, 'ARTIFACTS_BUCKET'),
    driftCooldownMinutes: numberEnv(env, 'DRIFT_COOLDOWN_MINUTES', 360, {
      min: 0,
      max: 365 * 24 * 60,
      integer: true,
    }),
  };
}

export interface PromoteOutput {
  currentUri: string;
}

/** Writes the pointer; returns it with its URI. */
export async function writePointer(
  s3: S3Client,
  env: PromoteEnv,
  input: unknown,
): Promise<{ pointer: CurrentPointer; currentUri: string }> {
  const pointer = buildPointer(input, env.driftCooldownMinutes);
  await s3.send(
    new PutObjectCommand({
      Bucket: env.artifactsBucket,
      Key: POINTER_KEY,
      Body: pointerJson(pointer),
      ContentType: 'application/json',
    }),
  );
  return { pointer, currentUri: `s3://${env.artifactsBucket}/${POINTER_KEY}` };
}

let env: PromoteEnv | undefined;

export async function handler(event: unknown, context?: Context): Promise<PromoteOutput> {
  if (context) logger.addContext(context);
  env ??= readPromoteEnv(process.env);
  const { pointer, currentUri } = await writePointer(s3Client(), env, event);
  metrics.addMetric('TrainingMetric', MetricUnit.NoUnit, pointer.metric);
  metrics.addMetadata('metricName', pointer.metricName);
  metrics.addMetadata('jobName', pointer.jobName);
  metrics.publishStoredMetrics();
  logger.info('Promoted the deployed model', { ...pointer, currentUri });
  return { currentUri };
}
