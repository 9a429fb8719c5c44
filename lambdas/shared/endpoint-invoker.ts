import * as http from 'node:http';
import * as https from 'node:https';
import {
  InvokeEndpointCommand,
  SageMakerRuntimeClient,
  type SageMakerRuntimeClientConfig,
} from '@aws-sdk/client-sagemaker-runtime';
import { getEndpointFromInstructions } from '@smithy/core/endpoints';
import { backoffMs, isRetryable, isThrottling, sleep } from './retry';
import { RequestSigner, type SigningCredentials } from './sigv4';

/**
 * Calling InvokeEndpoint. Two implementations of one small interface:
 *
 * - `sdkInvoker`: the SDK's SageMakerRuntimeClient, as it is (lib/client's EndpointClient, tests).
 * - `SignedInvoker`: what the inference Lambda uses. It is the same request with the same signature the SDK's signer
 *   (@smithy/signature-v4) gives it (RequestSigner, tested against that signer), with the SDK's own credential chain
 *   and endpoint rules (resolved once per process through an SDK client's configuration), sent over a keep-alive
 *   agent. What it leaves out is the SDK's per-request middleware stack: serialization through the service schema,
 *   endpoint rule evaluation, user agent assembly, retry bookkeeping and response deserialization. Measured per
 *   call, that stack cost 0.2 to 0.3 ms of CPU on top of a plain signed request (README, Performance), which on a
 *   Lambda with a fraction of a vCPU becomes latency on every prediction. The parts of the SDK that matter here are
 *   kept as behaviour and tested against the local endpoint server and a faulty proxy: retries with full-jitter
 *   backoff on throttling, 5XX and broken connections (standard mode's rules, lambdas/shared/retry.ts), the
 *   restJson1 error shape (name from `x-amzn-ErrorType`, `Message`, ModelError's
 *   `OriginalStatusCode`/`OriginalMessage`/`LogStreamArn`, `$metadata.httpStatusCode`), and a socket timeout. Left
 *   out, deliberately: the SDK's clock-skew correction (Lambda's clock is kept in sync) and its client-wide retry
 *   quota (at most `maxAttempts` per call, 2 in the Lambda, bounds the retries already).
 */

export interface InvokeRequest {
  readonly endpointName: string;
  readonly contentType: string;
  readonly accept: string;
  readonly body: Uint8Array;
  /** SageMaker's InferenceId (X-Amzn-SageMaker-Inference-Id): it goes into the capture record. */
  readonly inferenceId?: string;
}

export interface InvokeResult {
  readonly body: Uint8Array;
  readonly contentType?: string;
}

export interface EndpointInvoker {
  invoke(request: InvokeRequest): Promise<InvokeResult>;
}

/** The SDK client as an EndpointInvoker. */
export function sdkInvoker(client: SageMakerRuntimeClient): EndpointInvoker {
  return {
    async invoke(r) {
      const out = await client.send(
        new InvokeEndpointCommand({
          EndpointName: r.endpointName,
          ContentType: r.contentType,
          Accept: r.accept,
          Body: r.body,
          ...(r.inferenceId !== undefined ? { InferenceId: r.inferenceId } : {}),
        }),
      );
      return {
        body: out.Body ?? new Uint8Array(),
        ...(out.ContentType !== undefined ? { contentType: out.ContentType } : {}),
      };
    },
  };
}

/**
 * An error answer of the SageMaker runtime, shaped as the SDK's service exceptions are (name, message,
 * `$metadata`, `$fault`, and ModelError's fields), so callers handle both invokers' errors alike.
 */
export class RuntimeServiceError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: {
    readonly httpStatusCode: number;
    readonly requestId?: string;
    readonly attempts: number;
  };
  readonly OriginalStatusCode?: number;
  readonly OriginalMessage?: string;
  readonly LogStreamArn?: string;

  constructor(
    name: string,
    message: string,
    metadata: RuntimeServiceError['$metadata'],
    fields: { OriginalStatusCode?: number; OriginalMessage?: string; LogStreamArn?: string } = {},
  ) {
    super(message);
    this.name = name;
    this.$metadata = metadata;
    this.$fault = metadata.httpStatusCode >= 500 ? 'server' : 'client';
    if (fields.OriginalStatusCode !== undefined) this.OriginalStatusCode = fields.OriginalStatusCode;
    if (fields.OriginalMessage !== undefined) this.OriginalMessage = fields.OriginalMessage;
    if (fields.LogStreamArn !== undefined) this.LogStreamArn = fields.LogStreamArn;
  }
}

/** The restJson1 error name: `x-amzn-ErrorType` (before any `:`), else the body's `code` or `__type` (after any `#`). */
export function errorName(header: string | undefined, body: Record<string, unknown>): string {
  const raw =
    header ??
    (typeof body.code === 'string' ? body.code : typeof body.__type === 'string' ? body.__type : undefined);
  if (raw === undefined) return 'UnknownError';
  const name = raw.split(':')[0].trim();
  const hash = name.lastIndexOf('#');
  return hash >= 0 ? name.slice(hash + 1) : name;
}

export interface SignedInvokerOptions {
  /**
   * Region, credentials and endpoint are resolved as this SDK client configuration would resolve them (the
   * default credential chain, AWS_REGION, AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, FIPS and partition rules).
   * @default {}
   */
  readonly clientConfig?: SageMakerRuntimeClientConfig;
  /** Attempts per call, the first included (the SDK's maxAttempts). @default 3 */
  readonly maxAttempts?: number;
  /** An answer that stops arriving for this long fails the attempt (retryable TimeoutError). @default 60000 */
  readonly socketTimeoutMs?: number;
  /** Backoff base for throttling and for other retryable failures (standard mode: 500 and 100 ms). */
  readonly throttlingBaseMs?: number;
  readonly transientBaseMs?: number;
  /** @default Math.random */
  readonly random?: () => number;
  /** @default setTimeout-based sleep */
  readonly sleep?: (ms: number) => Promise<void>;
}

const BACKOFF_CAP_MS = 20_000;

interface Resolved {
  readonly url: URL;
  readonly signer: RequestSigner;
  /** The client's credential provider (memoised, refreshed before expiry). */
  readonly credentials: () => Promise<SigningCredentials>;
  readonly agent: http.Agent;
  readonly send: typeof http.request;
}

export class SignedInvoker implements EndpointInvoker {
  private readonly client: SageMakerRuntimeClient;
  private readonly maxAttempts: number;
  private readonly socketTimeoutMs: number;
  private resolved: Promise<Resolved> | undefined;

  constructor(private readonly options: SignedInvokerOptions = {}) {
    this.maxAttempts = options.maxAttempts ?? 3;
    this.socketTimeoutMs = options.socketTimeoutMs ?? 60_000;
    if (!(Number.isInteger(this.maxAttempts) && this.maxAttempts >= 1))
      throw new RangeError(`maxAttempts must be a whole number >= 1, got ${this.maxAttempts}`);
    if (!(this.socketTimeoutMs > 0))
      throw new RangeError(`socketTimeoutMs must be > 0, got ${this.socketTimeoutMs}`);
    // Only its configuration is used: the credential provider (memoised, refreshed before expiry), the region
    // and the endpoint rules. No request is ever sent through it.
    this.client = new SageMakerRuntimeClient(options.clientConfig ?? {});
  }

  async invoke(request: InvokeRequest): Promise<InvokeResult> {
    const resolved = await this.resolve();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(resolved, request, attempt);
      } catch (e) {
        if (attempt >= this.maxAttempts || !isRetryable(e)) throw e;
        const base = isThrottling(e)
          ? (this.options.throttlingBaseMs ?? 500)
          : (this.options.transientBaseMs ?? 100);
        await (this.options.sleep ?? sleep)(
          backoffMs(attempt - 1, base, BACKOFF_CAP_MS, this.options.random),
        );
      }
    }
  }

  /** The runtime endpoint requests go to (resolved once, as the SDK client would resolve it). */
  async endpoint(): Promise<string> {
    return (await this.resolve()).url.href;
  }

  /** Frees the keep-alive sockets. */
  destroy(): void {
    void this.resolved?.then((r) => r.agent.destroy()).catch(() => undefined);
    this.client.destroy();
  }

  /** Once per process: the endpoint URL and the signer, as the SDK client would have them. */
  private resolve(): Promise<Resolved> {
    this.resolved ??= (async () => {
      const config = this.client.config;
      // EndpointName is not part of the host for this service; any name resolves the same endpoint.
      const endpoint = await getEndpointFromInstructions(
        { EndpointName: 'endpoint' },
        InvokeEndpointCommand,
        config,
      );
      const url = new URL(endpoint.url.href);
      const region = await config.region();
      const signer = new RequestSigner(region, 'sagemaker');
      const provider = config.credentials as unknown;
      const credentials =
        typeof provider === 'function'
          ? (provider as () => Promise<SigningCredentials>)
          : async () => provider as SigningCredentials;
      const secure = url.protocol === 'https:';
      const agent = secure
        ? new https.Agent({ keepAlive: true, maxSockets: 50 })
        : new http.Agent({ keepAlive: true, maxSockets: 50 });
      return { url, signer, credentials, agent, send: secure ? https.request : http.request };
    })();
    // A failed resolution (no region, say) is retried on the next call rather than cached.
    this.resolved.catch(() => (this.resolved = undefined));
    return this.resolved;
  }

  private async attempt(r: Resolved, request: InvokeRequest, attempt: number): Promise<InvokeResult> {
    const base = r.url.pathname.replace(/\/$/, '');
    const path = `${base}/endpoints/${encodeURIComponent(request.endpointName)}/invocations`;
    const headers: Record<string, string> = {
      host: r.url.host,
      'content-type': request.contentType,
      accept: request.accept,
      'content-length': String(request.body.byteLength),
    };
    if (request.inferenceId !== undefined) headers['x-amzn-sagemaker-inference-id'] = request.inferenceId;
    const signed = r.signer.sign(
      { method: 'POST', path, headers, body: request.body },
      await r.credentials(),
    );
    return new Promise<InvokeResult>((resolve, reject) => {
      const req = r.send(
        {
          protocol: r.url.protocol,
          hostname: r.url.hostname,
          port: r.url.port,
          method: 'POST',
          path,
          headers: signed,
          agent: r.agent,
          timeout: this.socketTimeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
            const status = res.statusCode ?? 0;
            const contentType = res.headers['content-type'];
            if (status >= 200 && status < 300) {
              resolve({ body, ...(contentType !== undefined ? { contentType } : {}) });
              return;
            }
            reject(runtimeError(status, res.headers, body, attempt));
          });
        },
      );
      req.on('timeout', () => {
        const e = new Error(`InvokeEndpoint: no answer for ${this.socketTimeoutMs} ms`);
        e.name = 'TimeoutError';
        req.destroy(e);
      });
      req.on('error', reject);
      req.end(request.body);
    });
  }
}

function runtimeError(
  status: number,
  headers: http.IncomingHttpHeaders,
  body: Buffer,
  attempts: number,
): RuntimeServiceError {
  let parsed: Record<string, unknown> = {};
  try {
    const json: unknown = JSON.parse(body.toString('utf8'));
    if (json !== null && typeof json === 'object' && !Array.isArray(json))
      parsed = json as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's HTML page, say): the status and the name from the header still tell what happened.
  }
  const header = headers['x-amzn-errortype'];
  const name = errorName(typeof header === 'string' ? header : undefined, parsed);
  const message =
    typeof parsed.Message === 'string'
      ? parsed.Message
      : typeof parsed.message === 'string'
        ? parsed.message
        : `HTTP ${status}`;
  const requestId = headers['x-amzn-requestid'];
  return new RuntimeServiceError(
    name === 'UnknownError' ? `Http${status}Error` : name,
    message,
    {
      httpStatusCode: status,
      ...(typeof requestId === 'string' ? { requestId } : {}),
      attempts,
    },
    {
      ...(typeof parsed.OriginalStatusCode === 'number'
        ? { OriginalStatusCode: parsed.OriginalStatusCode }
        : {}),
      ...(typeof parsed.OriginalMessage === 'string' ? { OriginalMessage: parsed.OriginalMessage } : {}),
      ...(typeof parsed.LogStreamArn === 'string' ? { LogStreamArn: parsed.LogStreamArn } : {}),
    },
  );
}
