import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { AwsApiError } from './errors';

/**
 * One loopback HTTP endpoint for the AWS APIs the local platform serves over the AWS JSON protocols (awsJson1_0:
 * CloudWatch, Step Functions; awsJson1_1: SageMaker), so the real SDK clients, the CLI and the handlers talk to it
 * through an endpoint override exactly as they talk to AWS. A request is `POST /` with
 * `X-Amz-Target: <prefix>.<Operation>` and a JSON body; the prefix picks the service.
 *
 * What the SDK (v3, @aws-sdk/core AwsJsonRpcProtocol) reads back, and so what this server writes:
 * - success: a JSON body; timestamps as epoch seconds (the protocol's default timestamp format), so Date values
 *   in a response are converted;
 * - an error: the status code, `x-amzn-ErrorType: <code>` and `{"__type": "<code>", "message": "..."}`. The SDK
 *   takes the code from `__type` first, then a body `code`, then the header, and uses it as the error's `name`.
 * - query-compatible services (CloudWatch): the SDK takes the code from `x-amzn-query-error: <code>;Sender`
 *   and maps it back to the modeled error (e.g. `InvalidParameterValue` -> InvalidParameterValueException), so
 *   the header carries the service's awsQuery error code.
 */

// Operations receive whatever JSON the caller sent; each one checks its own input.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AwsOperation = (request: any) => unknown | Promise<unknown>;

export interface AwsApiServer {
  /** e.g. http://127.0.0.1:41234 */
  readonly endpoint: string;
  readonly port: number;
  /** Serves `<targetPrefix>.<Operation>` for each operation; registering a prefix again adds to it. */
  register(targetPrefix: string, operations: Record<string, AwsOperation>): void;
  close(): Promise<void>;
}

export interface AwsApiServerOptions {
  /** @default 0 (a free port) */
  readonly port?: number;
  /**
   * Largest request body accepted (after decompression).
   * @default 16 MiB
   */
  readonly maxBodyBytes?: number;
}

/** Target prefixes of the services this project calls. */
export const TARGET_PREFIXES = {
  cloudWatch: 'GraniteServiceVersion20100801',
  stepFunctions: 'AWSStepFunctions',
  sageMaker: 'SageMaker',
} as const;

/**
 * The awsQuery error code of each CloudWatch error shape (the `awsQueryError` trait in the service model, as
 * @aws-sdk/client-cloudwatch carries it). An operation may throw either name.
 */
const CLOUDWATCH_QUERY_ERRORS: Readonly<Record<string, string>> = {
  ConcurrentModificationException: 'ConcurrentModificationException',
  DashboardInvalidInputError: 'InvalidParameterInput',
  DashboardNotFoundError: 'ResourceNotFound',
  InternalServiceFault: 'InternalServiceError',
  InvalidFormatFault: 'InvalidFormat',
  InvalidNextToken: 'InvalidNextToken',
  InvalidParameterCombinationException: 'InvalidParameterCombination',
  InvalidParameterValueException: 'InvalidParameterValue',
  LimitExceededException: 'LimitExceededException',
  LimitExceededFault: 'LimitExceeded',
  MissingRequiredParameterException: 'MissingParameter',
  ResourceConflict: 'ResourceConflict',
  ResourceNotFound: 'ResourceNotFound',
  ResourceNotFoundException: 'ResourceNotFoundException',
  ValidationException: 'ValidationError',
};

/** Services with the awsQueryCompatible trait: their error responses carry x-amzn-query-error. */
const QUERY_COMPATIBLE: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  [TARGET_PREFIXES.cloudWatch]: CLOUDWATCH_QUERY_ERRORS,
};

/** A response body: Date -> epoch seconds (fractional), as awsJson timestamps are; undefined members dropped. */
export function toAwsJson(value: unknown): string {
  return JSON.stringify(value ?? {}, function (this: Record<string, unknown>, key, v: unknown) {
    // JSON.stringify has already applied Date.prototype.toJSON to `v`; the holder still has the Date.
    const raw = this[key];
    return raw instanceof Date ? raw.getTime() / 1000 : v;
  });
}

class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

export async function startAwsApiServer(options: AwsApiServerOptions = {}): Promise<AwsApiServer> {
  const services = new Map<string, Map<string, AwsOperation>>();
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const target = header(req, 'x-amz-target');
    const dot = target?.lastIndexOf('.') ?? -1;
    const prefix = target && dot > 0 ? target.slice(0, dot) : undefined;
    const jsonVersion =
      /application\/x-amz-json-(1\.[01])/.exec(header(req, 'content-type') ?? '')?.[1] ?? '1.0';
    try {
      if (req.method !== 'POST' || !target || dot <= 0) {
        req.resume();
        throw new RequestError('UnknownOperationException', 'Missing or malformed X-Amz-Target', 400);
      }
      const operation = services.get(prefix!)?.get(target.slice(dot + 1));
      const body = await readBody(req, maxBodyBytes);
      if (!operation) throw new RequestError('UnknownOperationException', `Unknown operation ${target}`, 400);
      let request: unknown = {};
      if (body.length > 0) {
        try {
          request = JSON.parse(body.toString('utf8'));
        } catch {
          throw new RequestError('SerializationException', 'Request body is not valid JSON', 400);
        }
      }
      const result = await operation(request);
      send(res, 200, requestId, jsonVersion, toAwsJson(result));
    } catch (e) {
      let code: string;
      let statusCode: number;
      if (e instanceof AwsApiError || e instanceof RequestError) {
        code = e.code;
        statusCode = e.statusCode;
      } else {
        // A bug in an operation, not a service error: the caller sees a retryable 500, as from AWS.
        code = 'InternalFailure';
        statusCode = 500;
      }
      const message = e instanceof Error ? e.message : String(e);
      const headers: Record<string, string> = { 'x-amzn-ErrorType': code };
      const queryCodes = prefix === undefined ? undefined : QUERY_COMPATIBLE[prefix];
      if (queryCodes)
        headers['x-amzn-query-error'] =
          `${queryCodes[code] ?? code};${statusCode >= 500 ? 'Receiver' : 'Sender'}`;
      send(res, statusCode, requestId, jsonVersion, JSON.stringify({ __type: code, message }), headers);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      // Only writing the response can get here (e.g. the client went away).
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy(e instanceof Error ? e : undefined);
    });
  });
  const port = await listenOnLoopback(server, options.port ?? 0);

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    register(targetPrefix, operations) {
      let ops = services.get(targetPrefix);
      if (!ops) {
        ops = new Map();
        services.set(targetPrefix, ops);
      }
      for (const [name, op] of Object.entries(operations)) ops.set(name, op);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // SDK clients keep connections alive; without this, close() waits for them to time out.
        server.closeAllConnections();
      }),
  };
}

/** A request header's (first) value; `name` in lower case. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * A request body of at most `maxBytes`, for every local server. Over the limit it rejects with `tooLarge()` at
 * once and drains the rest, so the caller can still answer on the connection. Events rather than async
 * iteration, which costs a promise per chunk on the inference API's hot path.
 */
export function readRequestBody(
  req: IncomingMessage,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The request body, gunzipped when the SDK compressed it (CloudWatch PutMetricData has requestCompression). */
async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const raw = await readRequestBody(
    req,
    maxBytes,
    () => new RequestError('SerializationException', 'Request body too large', 413),
  );
  const encoding = (header(req, 'content-encoding') ?? '').toLowerCase();
  if (encoding === '' || encoding === 'identity') return raw;
  if (encoding !== 'gzip')
    throw new RequestError('SerializationException', `Unsupported Content-Encoding ${encoding}`, 400);
  try {
    return gunzipSync(raw, { maxOutputLength: maxBytes });
  } catch (e) {
    if (e instanceof RangeError)
      throw new RequestError('SerializationException', 'Request body too large', 413);
    throw new RequestError('SerializationException', 'Request body is not valid gzip', 400);
  }
}

function send(
  res: ServerResponse,
  statusCode: number,
  requestId: string,
  jsonVersion: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(statusCode, {
    'Content-Type': `application/x-amz-json-${jsonVersion}`,
    'Content-Length': Buffer.byteLength(body),
    'x-amzn-RequestId': requestId,
    ...headers,
  });
  res.end(body);
}

/**
 * How long the local API Gateway and endpoint keep an idle connection. Their callers keep connections alive (the
 * SDK, autocannon, the inference Lambda's invoker); Node's 5 s default closes a socket that sat idle between two
 * bursts just as a caller may be reusing it, and the bench saw such a request reset and retried after the
 * invoker's backoff (about 100 ms).
 */
export const KEEP_ALIVE_MILLISECONDS = 60_000;

/** Starts `server` on 127.0.0.1 (port 0: any free port) and resolves to the port it got. */
export async function listenOnLoopback(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}
