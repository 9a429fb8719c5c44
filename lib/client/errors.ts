import type { ApiErrorBody, RecordError } from '../../lambdas/core/inference';

/**
 * What DevMlopsClient and EndpointClient throw. Every error is an ApiError, so one `instanceof ApiError`
 * catches them all; the subclasses are the cases an application handles differently.
 */

export class ApiError extends Error {
  /** API Gateway's response type for its own errors (ACCESS_DENIED, INTEGRATION_TIMEOUT...), when given. */
  readonly type?: string;

  constructor(
    message: string,
    /** The HTTP status; 0 when no response came back (network error, timeout). */
    readonly status: number,
    /** The API's error code (`invalid-request`, `batch-too-large`...), API Gateway's error type, or `network`. */
    readonly code: string,
    /** The request id API Gateway or SageMaker gave, when there is one. */
    readonly requestId?: string,
    options?: { cause?: unknown; type?: string },
  ) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'ApiError';
    if (options?.type !== undefined) this.type = options.type;
  }
}

/** 400 `invalid-records`: some records failed validation; nothing was sent to the model. */
export class InvalidRecordsError extends ApiError {
  constructor(
    message: string,
    /** Every field error, by record index. */
    readonly errors: readonly RecordError[],
    requestId?: string,
  ) {
    super(message, 400, 'invalid-records', requestId);
    this.name = 'InvalidRecordsError';
  }
}

/** 503 `no-model`: nothing is deployed yet. */
export class NoModelError extends ApiError {
  constructor(message: string, requestId?: string) {
    super(message, 503, 'no-model', requestId);
    this.name = 'NoModelError';
  }
}

/** Still throttled after every attempt (429, or SageMaker's ThrottlingException). */
export class ThrottledError extends ApiError {
  constructor(
    message: string,
    /** Attempts made. */
    readonly attempts: number,
    requestId?: string,
  ) {
    super(message, 429, 'throttled', requestId);
    this.name = 'ThrottledError';
  }
}

/** 502 `model-error`: the endpoint failed or answered something unreadable. */
export class ModelError extends ApiError {
  constructor(message: string, requestId?: string, options?: { cause?: unknown }) {
    super(message, 502, 'model-error', requestId, options);
    this.name = 'ModelError';
  }
}

/** The error for an error response of the API (or the same shape built in-process). */
export function errorFromResponse(
  status: number,
  body: Partial<ApiErrorBody> & { Message?: string; type?: string },
  options: { requestId?: string; errorType?: string; attempts?: number } = {},
): ApiError {
  const { requestId } = options;
  const message = body.message ?? body.Message ?? `HTTP ${status}`;
  const code = body.code ?? options.errorType ?? `http-${status}`;
  if (code === 'invalid-records') return new InvalidRecordsError(message, body.errors ?? [], requestId);
  if (code === 'no-model') return new NoModelError(message, requestId);
  if (status === 429 || code === 'throttled')
    return new ThrottledError(message, options.attempts ?? 1, requestId);
  if (code === 'model-error') return new ModelError(message, requestId);
  return new ApiError(
    message,
    status,
    code,
    requestId,
    body.type !== undefined ? { type: body.type } : undefined,
  );
}
