import type { S3Client } from '@aws-sdk/client-s3';
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import {
  decodePredictions,
  InferenceError,
  ModelOutputError,
  predictResponseJson,
  RecordValidator,
  validationSchema,
  type InputRecord,
  type PredictResponse,
} from '../core/inference';
import type { DatasetSchema } from '../core/schema';
import { DeployedModelCache, type DeployedModel, type DeployedModelCacheOptions } from './deployed-model';
import { sdkInvoker, type EndpointInvoker } from './endpoint-invoker';

/**
 * Scoring records with the deployed model: validate (data lake core), encode (its feature spec), InvokeEndpoint,
 * decode. Shared by the inference Lambda and lib/client's EndpointClient, so the API and a direct caller give
 * the same answers and the same errors (InferenceError codes) for the same records.
 */

export interface ScorerOptions {
  readonly s3: S3Client;
  /** InvokeEndpoint: the SDK's client, or an EndpointInvoker (the inference Lambda's SignedInvoker). */
  readonly runtime: SageMakerRuntimeClient | EndpointInvoker;
  /** The artifacts bucket (baselines/current.json). */
  readonly artifactsBucket: string;
  readonly endpointName: string;
  /**
   * Records are validated against this schema merged with the feature spec. Without one, against the spec
   * alone, and fields it does not name (free text, ids) are ignored rather than refused.
   */
  readonly schema?: DatasetSchema;
  /** Binary problems: the probability at or above which the label is the positive class. */
  readonly threshold: number;
  /** Seconds between checks of current.json. */
  readonly refreshSeconds: number;
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
  readonly onSwitch?: DeployedModelCacheOptions['onSwitch'];
  readonly onStaleError?: DeployedModelCacheOptions['onStaleError'];
}

export interface Scored extends Invoked {
  readonly response: PredictResponse;
}

/** What `scoreJson` gives: the response as the API's 200 body. */
export interface ScoredJson extends Invoked {
  /** `JSON.stringify` of the response, in meaning (see predictResponseJson). */
  readonly body: string;
}

interface Invoked {
  /** The model-input CSV sent (text/csv). */
  readonly input: string;
  /** The endpoint's answer and its content type, as received. */
  readonly output: string;
  readonly outputContentType: string;
  /** The InferenceId sent, when the one asked for was acceptable to SageMaker. */
  readonly inferenceId?: string;
}

/** SageMaker's InferenceId: 1-64 printable characters, the first not a space. */
const INFERENCE_ID = /^\S[\x20-\x7e]{0,63}$/;

function httpStatus(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** A failed InvokeEndpoint: throttling is the caller's to retry later; anything else is the model's failure. */
export function invokeError(endpointName: string, e: unknown): InferenceError {
  const name = (e as Error)?.name ?? 'Error';
  if (name === 'ThrottlingException' || httpStatus(e) === 429)
    return new InferenceError(
      'throttled',
      `the endpoint ${endpointName} is throttling requests; retry with backoff`,
    );
  // ModelError carries the container's own words; the runtime's Message wraps them in boilerplate.
  const original = (e as { OriginalMessage?: string }).OriginalMessage;
  return new InferenceError(
    'model-error',
    `InvokeEndpoint ${endpointName} failed: ${name}: ${original ?? (e as Error)?.message ?? String(e)}`,
  );
}

export class Scorer {
  private readonly models: DeployedModelCache;
  private readonly invoker: EndpointInvoker;
  /** The validator of the current model: it compiles the schema once per model, not per request. */
  private validated: { model: DeployedModel; validator: RecordValidator } | undefined;

  constructor(private readonly options: ScorerOptions) {
    if (!(options.threshold >= 0 && options.threshold <= 1))
      throw new RangeError(`threshold must be between 0 and 1, got ${options.threshold}`);
    this.invoker = 'invoke' in options.runtime ? options.runtime : sdkInvoker(options.runtime);
    this.models = new DeployedModelCache({
      s3: options.s3,
      bucket: options.artifactsBucket,
      refreshSeconds: options.refreshSeconds,
      ...(options.now ? { now: options.now } : {}),
      ...(options.onSwitch ? { onSwitch: options.onSwitch } : {}),
      ...(options.onStaleError ? { onStaleError: options.onStaleError } : {}),
    });
  }

  /**
   * Scores checked records (see checkRecords). Throws InferenceError: `no-model`, `invalid-request` (unknown
   * field), `invalid-records` (nothing is sent then), `throttled` or `model-error`. Anything else (S3 down
   * before a model was ever read) is thrown as it is.
   */
  async score(records: readonly InputRecord[], inferenceId?: string): Promise<Scored> {
    const { model, ...invoked } = await this.invoke(records, inferenceId);
    const predictions = this.decode(() =>
      decodePredictions(model.spec, invoked.output, this.options.threshold, records.length),
    );
    return {
      response: {
        modelVersion: model.modelVersion,
        modelPackageArn: model.pointer.modelPackageArn,
        predictions,
      },
      ...invoked,
    };
  }

  /** As `score`, with the response as the API's JSON body, written without building it as objects first. */
  async scoreJson(records: readonly InputRecord[], inferenceId?: string): Promise<ScoredJson> {
    const { model, ...invoked } = await this.invoke(records, inferenceId);
    const head = { modelVersion: model.modelVersion, modelPackageArn: model.pointer.modelPackageArn };
    const body = this.decode(() =>
      predictResponseJson(head, model.spec, invoked.output, this.options.threshold, records.length),
    );
    return { body, ...invoked };
  }

  /** The model's failure to answer one readable prediction per record is the model's error. */
  private decode<T>(decode: () => T): T {
    try {
      return decode();
    } catch (e) {
      if (e instanceof ModelOutputError)
        throw new InferenceError(
          'model-error',
          `the endpoint ${this.options.endpointName} answered: ${e.message}`,
        );
      throw e;
    }
  }

  private async invoke(
    records: readonly InputRecord[],
    inferenceId: string | undefined,
  ): Promise<Invoked & { model: DeployedModel }> {
    const { endpointName } = this.options;
    const model = await this.models.current();
    if (!model)
      throw new InferenceError(
        'no-model',
        'no model is deployed yet (no baselines/current.json): run the training pipeline first',
      );
    const { errors, input } = this.validator(model).checkAndEncode(records, model.spec);
    if (errors.length > 0) {
      const bad = new Set(errors.map((e) => e.record)).size;
      throw new InferenceError(
        'invalid-records',
        `${bad} of ${records.length} records are invalid; nothing was sent to the model`,
        errors,
      );
    }
    const id = inferenceId !== undefined && INFERENCE_ID.test(inferenceId) ? inferenceId : undefined;
    let output: string;
    let outputContentType: string;
    try {
      const out = await this.invoker.invoke({
        endpointName,
        contentType: 'text/csv',
        accept: 'text/csv',
        body: Buffer.from(input, 'utf8'),
        ...(id !== undefined ? { inferenceId: id } : {}),
      });
      // A view, not a copy: the body is read once, here.
      output = Buffer.from(out.body.buffer, out.body.byteOffset, out.body.byteLength).toString('utf8');
      outputContentType = out.contentType ?? 'text/csv';
    } catch (e) {
      throw invokeError(endpointName, e);
    }
    return {
      model,
      input,
      output,
      outputContentType,
      ...(id !== undefined ? { inferenceId: id } : {}),
    };
  }

  private validator(model: DeployedModel): RecordValidator {
    if (this.validated?.model !== model)
      this.validated = {
        model,
        validator: new RecordValidator(
          validationSchema(model.spec, this.options.schema),
          this.options.schema ? 'reject' : 'ignore',
        ),
      };
    return this.validated.validator;
  }
}
