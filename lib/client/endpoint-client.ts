import type { S3Client } from '@aws-sdk/client-s3';
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import {
  checkRecords,
  InferenceError,
  type InputRecord,
  type PredictResponse,
} from '../../lambdas/core/inference';
import type { DatasetSchema } from '../../lambdas/core/schema';
import { Scorer } from '../../lambdas/shared/scorer';
import { ApiError, errorFromResponse } from './errors';
import type { Predictor } from './types';

export interface EndpointClientOptions {
  /** The SageMaker endpoint (`<project>-endpoint`). */
  readonly endpointName: string;
  /** The artifacts bucket, which holds baselines/current.json and the feature specs. */
  readonly artifactsBucket: string;
  /** Its retry settings apply to InvokeEndpoint (the SDK retries throttling itself). */
  readonly runtime: SageMakerRuntimeClient;
  readonly s3: S3Client;
  /**
   * Binary problems: the probability at or above which the label is the positive class.
   * @default 0.5
   */
  readonly threshold?: number;
  /**
   * The dataset schema, to check records as the API does (ranges, required fields).
   * @default the deployed feature spec's fields only (types and categories; other fields are ignored)
   */
  readonly schema?: DatasetSchema;
  /**
   * Seconds between checks of baselines/current.json for a newly deployed model. Once a model is known the check
   * runs in the background, and calls until it ends use the cached model (see DeployedModelCache.current); 0
   * checks before every call.
   * @default 10
   */
  readonly refreshSeconds?: number;
}

/**
 * Calls the model without the API: reads what is deployed (current.json and its feature spec), validates and
 * encodes the records client-side, InvokeEndpoint, and decodes into the API's response shape, with the same
 * core as the inference Lambda. Needs s3:GetObject on the artifacts and sagemaker:InvokeEndpoint; writes no
 * capture (a realtime endpoint captures itself; a serverless one is captured only through the API).
 */
export class EndpointClient implements Predictor {
  private readonly scorer: Scorer;

  constructor(options: EndpointClientOptions) {
    if (options.endpointName === '') throw new Error('endpointName must not be empty');
    if (options.artifactsBucket === '') throw new Error('artifactsBucket must not be empty');
    this.scorer = new Scorer({
      s3: options.s3,
      runtime: options.runtime,
      artifactsBucket: options.artifactsBucket,
      endpointName: options.endpointName,
      threshold: options.threshold ?? 0.5,
      refreshSeconds: options.refreshSeconds ?? 10,
      ...(options.schema ? { schema: options.schema } : {}),
    });
  }

  async predict(records: readonly InputRecord[]): Promise<PredictResponse> {
    try {
      // InvokeEndpoint's 6 MB payload is the real limit; the API's batch size does not apply here.
      return (await this.scorer.score(checkRecords(records, Number.MAX_SAFE_INTEGER))).response;
    } catch (e) {
      if (e instanceof InferenceError) throw errorFromResponse(e.status, e.body());
      if (e instanceof ApiError) throw e;
      throw new ApiError(
        `cannot read what is deployed: ${(e as Error).message}`,
        500,
        'internal',
        undefined,
        {
          cause: e,
        },
      );
    }
  }
}
