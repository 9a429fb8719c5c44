import type { Context } from 'aws-lambda';
import { evaluate, parseEvaluateInput, type EvaluateResult } from '../core/evaluate';
import { logger } from '../shared/powertools';

/**
 * Evaluate Lambda, the state machine's `Evaluate` task: a pure adapter over lambdas/core/evaluate.ts, with
 * no AWS calls (the state machine fetched the training result and the champion). A rejection is a normal
 * result (`passed: false`); only a missing or unusable metric throws (MetricNotFoundError, UnknownMetricError).
 */
export async function handler(event: unknown, context?: Context): Promise<EvaluateResult> {
  if (context) logger.addContext(context);
  const result = evaluate(parseEvaluateInput(event));
  logger.info('Evaluated the challenger', { ...result });
  return result;
}
