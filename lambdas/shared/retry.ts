/**
 * Which failures are worth another attempt. The SDK applies the same rules to a request before it returns
 * (lambdas/shared/clients.ts), but not to what happens afterwards: a GetObject body that breaks mid-stream,
 * or a request whose retries ran out. The handlers use this to resume a read, or to tell a transient failure
 * (the event is retried) from a permanent one.
 */

/** Throttling error names S3 and the other services use (as in @smithy's service-error-classification). */
const THROTTLING_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'PriorRequestNotComplete',
]);

const TRANSIENT_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'TruncatedBodyError',
]);

/** The connection broke, stalled or could not be made: nothing is wrong with the request itself. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  cause?: unknown;
}

/** True for throttling, 5XX (except 501 Not Implemented), timeouts and broken connections, at any depth of `cause`. */
export function isRetryable(err: unknown, depth = 0): boolean {
  if (err === null || typeof err !== 'object' || depth > 10) return false;
  const e = err as ErrorLike;
  // Aborted on purpose (by this process): retrying would undo the decision.
  if (e.name === 'AbortError') return false;
  if (e.$retryable !== undefined && e.$retryable !== null && e.$retryable !== false) return true;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status === 429 || (status >= 500 && status <= 599 && status !== 501)))
    return true;
  if (typeof e.name === 'string' && (THROTTLING_NAMES.has(e.name) || TRANSIENT_NAMES.has(e.name)))
    return true;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  return isRetryable(e.cause, depth + 1);
}

/** Throttling, by error name or HTTP 429: what standard mode backs off from with its longer base delay. */
export function isThrottling(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const e = err as ErrorLike;
  return e.$metadata?.httpStatusCode === 429 || (typeof e.name === 'string' && THROTTLING_NAMES.has(e.name));
}

/** Full-jitter exponential backoff (AWS's recommendation): a random delay in [0, min(cap, base * 2^attempt)). */
export function backoffMs(attempt: number, baseMs: number, capMs: number, random = Math.random): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
