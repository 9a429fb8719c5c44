import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { s3Client } from '../shared/clients';
import { logger } from '../shared/powertools';
import { readDriftEnv, runDriftCheck, type DriftCheckResult, type DriftEnv } from './drift-check';

/**
 * Drift Lambda, run on a schedule (EventBridge Scheduled Event): checks the window of whole hours ending at
 * the event's time floored to the hour. The metrics go through PutMetricData rather than EMF because their
 * timestamp is the window's end, not the invocation's, and FeatureDrift needs a second dimension.
 */

let env: DriftEnv | undefined;
let cloudWatch: CloudWatchClient | undefined;
let sns: SNSClient | undefined;

export async function handler(
  event: Partial<Pick<ScheduledEvent, 'time'>> | undefined,
  context?: Context,
): Promise<DriftCheckResult> {
  if (context) logger.addContext(context);
  env ??= readDriftEnv(process.env);
  cloudWatch ??= new CloudWatchClient({ retryMode: 'standard', maxAttempts: 3 });
  if (env.topicArn !== undefined) sns ??= new SNSClient({ retryMode: 'standard', maxAttempts: 3 });
  // A manual invocation without a time checks the last complete window.
  const time = event?.time ?? new Date().toISOString();
  return runDriftCheck(
    { s3: s3Client(), cloudWatch, sns, log: (m, extra) => logger.info(m, extra ?? {}) },
    env,
    time,
  );
}
