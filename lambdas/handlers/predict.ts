import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { FirehoseClient, PutRecordCommand } from '@aws-sdk/client-firehose';
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import {
  buildCaptureRecord,
  captureLine,
  ENDPOINT_CAPTURE_CONTENT_TYPES,
  InferenceError,
  parsePredictRequest,
} from '../core/inference';
import type { DatasetSchema } from '../core/schema';
import { s3Client } from '../shared/clients';
import { SignedInvoker, type EndpointInvoker } from '../shared/endpoint-invoker';
import { datasetSchemasEnv, numberEnv, requiredEnv } from '../shared/env';
import { logger, metrics, MetricUnit } from '../shared/powertools';
import { Scorer } from '../shared/scorer';

/**
 * The inference Lambda behind POST /v1/predict (REST API, Lambda proxy integration, payload format 1.0):
 * records as JSON in, predictions as JSON out. The records are validated with the data lake's validation core
 * (any invalid record: 400 and nothing is sent), encoded with the deployed model's feature spec, scored by
 * InvokeEndpoint and decoded. For a serverless endpoint, which SageMaker does not capture, the request and the
 * answer go to Firehose as one Data Capture record, delivered to the capture prefix the drift check reads.
 */

/** The Lambda's environment (its contract with the InferenceApi construct). */
export interface PredictEnv {
  readonly artifactsBucket: string;
  readonly endpointName: string;
  /** The dataset schema the records are validated against. */
  readonly schema: DatasetSchema;
  readonly maxBatchSize: number;
  readonly threshold: number;
  readonly specRefreshSeconds: number;
  /** Serverless endpoints only: the Firehose stream capture records go to. */
  readonly captureStreamName?: string;
}

export function readPredictEnv(env: NodeJS.ProcessEnv = process.env): PredictEnv {
  const schemas = datasetSchemasEnv(env);
  if (schemas.size !== 1)
    throw new Error(`DATASET_SCHEMAS must hold exactly one dataset schema, got ${schemas.size}`);
  const stream = env.CAPTURE_STREAM_NAME;
  return {
    artifactsBucket: requiredEnv(env, 'ARTIFACTS_BUCKET'),
    endpointName: requiredEnv(env, 'ENDPOINT_NAME'),
    schema: [...schemas.values()][0],
    maxBatchSize: numberEnv(env, 'MAX_BATCH_SIZE', 100, { min: 1, max: 10_000, integer: true }),
    threshold: numberEnv(env, 'THRESHOLD', 0.5, { min: 0, max: 1 }),
    specRefreshSeconds: numberEnv(env, 'SPEC_REFRESH_SECONDS', 10, { min: 0, max: 86_400 }),
    ...(stream !== undefined && stream !== '' ? { captureStreamName: stream } : {}),
  };
}

export interface PredictDeps {
  readonly s3: S3Client;
  /** InvokeEndpoint: the Lambda's own SignedInvoker, or the SDK's client (tests). */
  readonly runtime: SageMakerRuntimeClient | EndpointInvoker;
  /** Needed only with a capture stream. */
  readonly firehose?: FirehoseClient;
  /** Milliseconds since the epoch (the spec refresh period and capture times). @default Date.now */
  readonly now?: () => number;
}

export type PredictHandler = (
  event: APIGatewayProxyEvent,
  context?: Context,
) => Promise<APIGatewayProxyResult>;

const JSON_HEADERS = { 'Content-Type': 'application/json' } as const;

function respond(statusCode: number, body: unknown): APIGatewayProxyResult {
  return { statusCode, headers: JSON_HEADERS, body: JSON.stringify(body) };
}

/** Builds a handler over explicit settings and clients (tests, the local runtime). */
export function createPredictHandler(env: PredictEnv, deps: PredictDeps): PredictHandler {
  if (env.captureStreamName !== undefined && !deps.firehose)
    throw new Error('a capture stream needs a Firehose client');
  const now = deps.now ?? Date.now;
  const scorer = new Scorer({
    s3: deps.s3,
    runtime: deps.runtime,
    artifactsBucket: env.artifactsBucket,
    endpointName: env.endpointName,
    schema: env.schema,
    threshold: env.threshold,
    refreshSeconds: env.specRefreshSeconds,
    now,
    onSwitch: (from, to) =>
      logger.info('model switch', {
        from: from?.pointer.modelPackageArn ?? null,
        to: to.pointer.modelPackageArn,
        modelVersion: to.modelVersion,
        featureSpecUri: to.pointer.featureSpecUri,
      }),
    onStaleError: (e) =>
      logger.warn('cannot check the deployed model; serving the cached one', { error: e as Error }),
  });

  const capture = async (input: string, output: string, outputType: string, inferenceId?: string) => {
    const record = buildCaptureRecord({
      input: { contentType: 'text/csv', data: input },
      output: { contentType: outputType, data: output },
      contentTypes: ENDPOINT_CAPTURE_CONTENT_TYPES,
      eventId: randomUUID(),
      time: new Date(now()),
      ...(inferenceId !== undefined ? { inferenceId } : {}),
    });
    try {
      await deps.firehose!.send(
        new PutRecordCommand({
          DeliveryStreamName: env.captureStreamName,
          Record: { Data: Buffer.from(`${captureLine(record)}\n`, 'utf8') },
        }),
      );
    } catch (e) {
      // Capture feeds drift monitoring; losing one record must not cost the caller its prediction.
      metrics.addMetric('CaptureFailures', MetricUnit.Count, 1);
      logger.warn('capture record not delivered', { stream: env.captureStreamName, error: e as Error });
    }
  };

  /** The 200 body. */
  const predict = async (event: APIGatewayProxyEvent): Promise<string> => {
    const records = parsePredictRequest(event.body, event.isBase64Encoded === true, env.maxBatchSize);
    // The API request id becomes the InferenceId, so a capture record leads back to the request's logs.
    const scored = await scorer.scoreJson(records, event.requestContext?.requestId);
    if (env.captureStreamName !== undefined)
      await capture(scored.input, scored.output, scored.outputContentType, scored.inferenceId);
    metrics.addMetric('PredictionRecords', MetricUnit.Count, records.length);
    return scored.body;
  };

  return async (event, context) => {
    if (context) logger.addContext(context);
    try {
      return { statusCode: 200, headers: JSON_HEADERS, body: await predict(event) };
    } catch (e) {
      if (e instanceof InferenceError) {
        if (e.status === 400) metrics.addMetric('InvalidRequests', MetricUnit.Count, 1);
        else if (e.code === 'throttled') metrics.addMetric('ThrottledRequests', MetricUnit.Count, 1);
        else if (e.code === 'model-error') {
          metrics.addMetric('ModelErrors', MetricUnit.Count, 1);
          logger.error('model error', { message: e.message });
        }
        return respond(e.status, e.body());
      }
      logger.error('unexpected error', { error: e as Error });
      return respond(
        500,
        new InferenceError('internal', 'internal error; the request id is in the logs').body(),
      );
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

let defaultHandler: PredictHandler | undefined;

/** The Lambda entry point: settings from the environment and clients created once per sandbox. */
export const handler: PredictHandler = (event, context) => {
  if (!defaultHandler) {
    const env = readPredictEnv(process.env);
    // One retry at most: the API's caller has its own retries and a 29 s integration timeout.
    // InvokeEndpoint goes through SignedInvoker rather than the SDK client's middleware stack (why: its doc).
    // cacheMiddleware: the Firehose client's middleware stack never changes after creation, so each command's
    // handler chain is resolved once per sandbox instead of on every request (the SDK's own option for hot paths).
    defaultHandler = createPredictHandler(env, {
      s3: s3Client(),
      runtime: new SignedInvoker({ maxAttempts: 2 }),
      ...(env.captureStreamName !== undefined
        ? { firehose: new FirehoseClient({ retryMode: 'standard', maxAttempts: 2, cacheMiddleware: true }) }
        : {}),
    });
  }
  return defaultHandler(event, context);
};
