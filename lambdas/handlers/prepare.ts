import type { Context } from 'aws-lambda';
import { s3Client } from '../shared/clients';
import { logger } from '../shared/powertools';
import {
  parsePrepareEvent,
  prepareDataset,
  readPrepareEnv,
  type PrepareEnv,
  type PrepareOutput,
} from './prepare-dataset';

/**
 * Prepare Lambda, the state machine's `Prepare` task (DESIGN.md section 6, step 2): curated partitions in,
 * the training set out. Errors propagate with their `name` (InsufficientDataError, BadPrepareEventError),
 * which is what the state machine's Catch and the failure notification show.
 */
let env: PrepareEnv | undefined;

export async function handler(event: unknown, context?: Context): Promise<PrepareOutput> {
  if (context) logger.addContext(context);
  // Read on first use rather than at import, so a wiring mistake fails the invocation with a clear message.
  env ??= readPrepareEnv(process.env);
  try {
    return await prepareDataset(s3Client(), env, parsePrepareEvent(event), logger);
  } catch (err) {
    logger.error('Prepare failed', { error: err as Error });
    throw err;
  }
}
