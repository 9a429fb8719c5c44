import { Sha256 } from '@aws-crypto/sha256-js';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { ApiErrorBody, InputRecord, PredictResponse } from '../../lambdas/core/inference';
import { ApiError, errorFromResponse, ThrottledError } from './errors';
import { backoffDelay, sleep } from './retry';
import type { Predictor } from './types';

/** Static credentials or a provider (the SDK's credential identity types, as SignatureV4 takes them). */
export type Credentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];

export interface DevMlopsClientOptions {
  /**
   * The API stage URL: the pipeline stack's `InferenceApiUrl` output, e.g.
   * `https://abc123.execute-api.eu-west-1.amazonaws.com/prod/`. Requests go to `<apiUrl>v1/predict`.
   */
  readonly apiUrl: string;
  /**
   * The region requests are signed for.
   * @default the region in an execute-api host name, else AWS_REGION or AWS_DEFAULT_REGION
   */
  readonly region?: string;
  /** @default the default credential chain (environment, SSO, shared files, container and instance roles) */
  readonly credentials?: Credentials;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /**
   * Attempts per call, the first included. Retried: throttling (429), 5XX other than the model's own error
   * (502 `model-error`) and no model (503 `no-model`), network errors and timeouts.
   * @default 3
   */
  readonly maxAttempts?: number;
  /** Base of the exponential backoff with full jitter. @default 100 */
  readonly retryBaseDelayMs?: number;
  /** Longest wait between attempts (a Retry-After header included). @default 5000 */
  readonly maxRetryDelayMs?: number;
  /** Per attempt. @default 30000 */
  readonly timeoutMs?: number;
}

const EXECUTE_API_HOST = /\.execute-api\.([a-z0-9-]+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$/;

/** The region of an execute-api URL (`<id>.execute-api.<region>.amazonaws.com`), if it is one. */
export function regionFromApiUrl(apiUrl: string): string | undefined {
  try {
    return EXECUTE_API_HOST.exec(new URL(apiUrl).hostname)?.[1];
  } catch {
    return undefined;
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${name} must be a whole number >= 1, got ${value}`);
  return value;
}

/** Whether another attempt may succeed where this one failed. */
function retryable(status: number, code: string | undefined): boolean {
  if (status === 429) return true;
  if (status === 502) return code !== 'model-error';
  if (status === 503) return code !== 'no-model';
  return status === 500 || status === 504;
}

/**
 * The inference API's client: POST /v1/predict signed with SigV4 (service `execute-api`), retries with
 * exponential backoff and full jitter, and typed errors (errors.ts).
 */
export class DevMlopsClient implements Predictor {
  readonly url: URL;
  readonly region: string;
  private readonly signer: SignatureV4;
  private readonly fetch: typeof fetch;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;

  constructor(options: DevMlopsClientOptions) {
    let base: URL;
    try {
      base = new URL(options.apiUrl);
    } catch {
      throw new Error(`apiUrl is not a URL: "${options.apiUrl}"`);
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:')
      throw new Error(`apiUrl must be an http(s) URL, got "${options.apiUrl}"`);
    // new URL('v1/predict', base) would drop the stage if the URL had no trailing slash.
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    this.url = new URL('v1/predict', base);
    const region =
      options.region ??
      regionFromApiUrl(options.apiUrl) ??
      process.env.AWS_REGION ??
      process.env.AWS_DEFAULT_REGION;
    if (region === undefined || region === '')
      throw new Error('no region to sign for: give `region`, or set AWS_REGION');
    this.region = region;
    this.signer = new SignatureV4({
      service: 'execute-api',
      region,
      credentials: options.credentials ?? defaultProvider(),
      sha256: Sha256,
    });
    this.fetch = options.fetch ?? globalThis.fetch;
    this.maxAttempts = positiveInteger('maxAttempts', options.maxAttempts ?? 3);
    this.baseDelayMs = options.retryBaseDelayMs ?? 100;
    this.maxDelayMs = options.maxRetryDelayMs ?? 5000;
    this.timeoutMs = positiveInteger('timeoutMs', options.timeoutMs ?? 30_000);
  }

  /** Predictions for 1..maxBatchSize records (the API's limit), in record order. */
  async predict(records: readonly InputRecord[]): Promise<PredictResponse> {
    if (!Array.isArray(records)) throw new TypeError('predict(records): records must be an array of records');
    const body = JSON.stringify({ records });
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await this.send(body);
      } catch (e) {
        if (attempt < this.maxAttempts) {
          await sleep(backoffDelay(attempt, this.baseDelayMs, this.maxDelayMs));
          continue;
        }
        throw new ApiError(
          `POST ${this.url.href} failed after ${attempt} attempt(s): ${(e as Error).message}`,
          0,
          'network',
          undefined,
          { cause: e },
        );
      }
      const requestId = response.headers.get('x-amzn-requestid') ?? undefined;
      const text = await response.text();
      if (response.status === 200) {
        try {
          const parsed = JSON.parse(text) as PredictResponse;
          if (Array.isArray(parsed.predictions)) return parsed;
        } catch {
          // Reported below.
        }
        throw new ApiError(
          `unreadable 200 response: ${text.slice(0, 200)}`,
          200,
          'invalid-response',
          requestId,
        );
      }
      let errorBody: Partial<ApiErrorBody> & { Message?: string; type?: string } = {};
      try {
        errorBody = JSON.parse(text) as typeof errorBody;
      } catch {
        errorBody = { message: text.slice(0, 500) };
      }
      // API Gateway's own errors (403 for a bad signature...) have no code; the header names them.
      const errorType = response.headers.get('x-amzn-errortype')?.split(':')[0] ?? undefined;
      if (retryable(response.status, errorBody.code) && attempt < this.maxAttempts) {
        await sleep(
          backoffDelay(attempt, this.baseDelayMs, this.maxDelayMs, response.headers.get('retry-after')),
        );
        continue;
      }
      const error = errorFromResponse(response.status, errorBody, {
        requestId,
        errorType,
        attempts: attempt,
      });
      if (error instanceof ThrottledError)
        throw new ThrottledError(`${error.message} (after ${attempt} attempt(s))`, attempt, requestId);
      throw error;
    }
  }

  private async send(body: string): Promise<Response> {
    const url = this.url;
    const signed = await this.signer.sign(
      new HttpRequest({
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port !== '' ? { port: Number(url.port) } : {}),
        path: url.pathname,
        headers: {
          // Signed as fetch will send it: with the port when it is not the default.
          host: url.host,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body,
      }),
    );
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(signed.headers)) if (k.toLowerCase() !== 'host') headers[k] = v;
    return this.fetch(url, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
  }
}
