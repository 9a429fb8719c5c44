import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { s3Client } from '../shared/clients';
import { logger, metrics, MetricUnit } from '../shared/powertools';
import { BadEventError, parseObjectCreated, readValidationEnv, validateObject } from './validate-object';

/**
 * Validation Lambda: EventBridge `Object Created` on raw -> SQS -> this handler (DESIGN.md sections 3, 5).
 * Each message is processed on its own; a failed one is reported in batchItemFailures so SQS retries
 * just that message (and, after maxReceiveCount, moves it to the DLQ) while the others are deleted.
 */
const env = readValidationEnv(process.env);

export async function handler(event: SQSEvent, context?: Context): Promise<SQSBatchResponse> {
  if (context) logger.addContext(context);
  const batchItemFailures: SQSBatchItemFailure[] = [];
  const totals = { files: 0, rowsValidated: 0, rowsRejected: 0, accepted: 0, quarantined: 0 };
  try {
    for (const record of event.Records) {
      try {
        const ref = parseObjectCreated(record.body);
        const outcome = await validateObject(s3Client(), env, ref, logger);
        if (outcome.kind === 'skipped') {
          logger.warn('Skipped object', { bucket: ref.bucket, key: ref.key, reason: outcome.reason });
          continue;
        }
        if (outcome.kind === 'duplicate') continue;
        const r = outcome.report;
        totals.files++;
        totals.rowsValidated += r.rows.total;
        if (r.status === 'accepted') {
          totals.accepted++;
          totals.rowsRejected += r.rows.invalid;
        } else {
          totals.quarantined++;
          totals.rowsRejected += r.rows.total;
        }
        logger.info('Validated object', {
          key: r.source.key,
          id: r.id,
          status: r.status,
          reason: r.reason,
          rows: r.rows,
          errorCounts: r.errorCounts,
          report: `s3://${outcome.location.bucket}/${outcome.location.key}`,
        });
      } catch (err) {
        logger.error(
          err instanceof BadEventError ? 'Malformed event' : 'Validation failed; message will be retried',
          {
            messageId: record.messageId,
            error: err as Error,
          },
        );
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
  } finally {
    if (totals.files > 0) {
      metrics.addMetric('RowsValidated', MetricUnit.Count, totals.rowsValidated);
      metrics.addMetric('RowsRejected', MetricUnit.Count, totals.rowsRejected);
      metrics.addMetric('FilesAccepted', MetricUnit.Count, totals.accepted);
      metrics.addMetric('FilesQuarantined', MetricUnit.Count, totals.quarantined);
      metrics.publishStoredMetrics();
    }
  }
  return { batchItemFailures };
}
