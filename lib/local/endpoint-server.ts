import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { CaptureConfig, CaptureWriter } from './capture';
import type { Clock } from './clock';
import { EXACT_POWERS_OF_TEN } from '../../lambdas/core/number-text';
import { header, KEEP_ALIVE_MILLISECONDS, listenOnLoopback, readRequestBody } from './aws-api-server';

/**
 * The SageMaker runtime on loopback: `POST /endpoints/<name>/invocations`, so the real
 * @aws-sdk/client-sagemaker-runtime InvokeEndpoint works against it through an endpoint override. Each request
 * asks the local control plane which variant serves it now (resolve + pick), so an endpoint update swaps models
 * between two requests and never drops one.
 *
 * The model behaves as SageMaker's built-in XGBoost container (aws/sagemaker-xgboost-container, serve.py and
 * encoder.csv_to_dmatrix): text/csv only, no header, empty cell = missing, every row as wide as the model. Its
 * refusals come back the way the runtime wraps a container error: HTTP 424 `ModelError` with the container's
 * status in OriginalStatusCode (415 for a payload it cannot parse or a content type it does not take, 400 for
 * rows of the wrong width), its text in OriginalMessage, and a Message "Received client error (<n>) from primary
 * with message ...". Errors of the runtime itself are 400 `ValidationError` (unknown endpoint, an endpoint not
 * serving). The SDK (restJson1) takes the error name from the `x-amzn-ErrorType` header and the fields from the
 * body.
 */

/** The model a variant serves (LocalModel in xgboost.ts has this shape). */
export interface ServingModel {
  /** One output array per input row: [p] for binary/regression, K probabilities for multi:softprob. */
  predict(rows: number[][]): number[][];
  readonly numFeatures: number;
  readonly objective?: string;
}

/** A production variant as served now (ServingVariant in sagemaker.ts has this shape). */
export interface ServingVariantLike {
  readonly variantName: string;
  readonly modelName: string;
  readonly model: ServingModel;
  readonly capture?: CaptureConfig;
}

/** An endpoint as served now (ServingEndpoint in sagemaker.ts has this shape). */
export interface ServingEndpointLike {
  readonly endpointName: string;
  readonly endpointConfigName: string;
  readonly status: string;
  /** Picks the variant for one request (weights; canary traffic during a bake). */
  pick(): ServingVariantLike;
  /** The named variant, for X-Amzn-SageMaker-Target-Variant; without it, only the picked variant can be named. */
  variant?(variantName: string): ServingVariantLike | undefined;
}

export interface InvocationMetric {
  readonly endpointName: string;
  readonly variantName: string;
  /** Time in the model (ModelLatency), microseconds. */
  readonly latencyMicros: number;
  readonly rows: number;
  /** Set when the model answered with an error (Invocation4XXErrors / Invocation5XXErrors). */
  readonly error?: '4xx' | '5xx';
}

export interface EndpointServerOptions {
  resolve(endpointName: string): ServingEndpointLike | undefined;
  readonly capture: CaptureWriter;
  /** Not read: capture times come from the CaptureWriter's clock (the same simulated clock in the platform). */
  readonly clock?: Clock;
  readonly accountId: string;
  /** For the CloudWatch log links in model errors. @default AWS_REGION or us-east-1 */
  readonly region?: string;
  /** @default 0 (a free port) */
  readonly port?: number;
  /** Called once per invocation that reached a variant (for the AWS/SageMaker metrics). */
  onInvocation?(m: InvocationMetric): void;
}

export interface EndpointServer {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

/** InvokeEndpoint's payload limit. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

/**
 * Endpoint statuses in which SageMaker routes traffic: an update or rollback keeps the current fleet serving.
 * Creating, Deleting, Failed and OutOfService endpoints have nothing to serve with.
 */
const SERVING_STATUSES = new Set([
  'InService',
  'Updating',
  'SystemUpdating',
  'RollingBack',
  'UpdateRollbackFailed',
]);

const OUTPUT_CONTENT_TYPE = 'text/csv; charset=utf-8';

/** A runtime error response. */
class RuntimeError extends Error {
  constructor(
    readonly code: 'ValidationError' | 'ModelError' | 'InternalFailure' | 'UnknownOperationException',
    readonly statusCode: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.Message ?? body.message ?? code));
  }
}

/** What the container answered with instead of predictions. */
export class ContainerError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Parses a text/csv payload as the XGBoost container does: the payload is stripped, split on newlines and
 * commas, an empty cell is NaN (missing), anything else must be a Python float; ragged rows are an error (numpy
 * refuses them). Throws ContainerError 415 with the container's message.
 *
 * One pass over the text, with no string made for a cell that is a plain decimal (what an encoder writes); any
 * other cell goes through Python's float rules. Splitting, then a trim, a regular expression and two replaces
 * per cell, was the largest source of the serving process's garbage.
 */
export function parseCsvPayload(text: string): number[][] {
  // What trim() keeps, without copying the payload when only ASCII white space is cut.
  let from = 0;
  let to = text.length;
  while (from < to && isAsciiSpace(text.charCodeAt(from))) from++;
  while (to > from && isAsciiSpace(text.charCodeAt(to - 1))) to--;
  const body =
    from < to && (text.charCodeAt(from) > 127 || text.charCodeAt(to - 1) > 127) ? text.trim() : text;
  if (body !== text) [from, to] = [0, body.length];
  const rows: number[][] = [];
  // Rows after the first are made as wide as it, rather than grown cell by cell.
  let row: number[] = [];
  let k = 0;
  let start = from;
  for (let i = from; i <= to; i++) {
    const c = i < to ? body.charCodeAt(i) : NEWLINE;
    if (c !== COMMA && c !== NEWLINE) continue;
    row[k++] =
      i === start ? Number.NaN : (plainDecimal(body, start, i) ?? pythonFloatCell(body.slice(start, i)));
    start = i + 1;
    if (c === NEWLINE) {
      row.length = k;
      rows.push(row);
      row = new Array<number>(rows[0].length);
      k = 0;
    }
  }
  const width = rows[0]!.length;
  if (rows.some((r) => r.length !== width))
    throw csvError(
      'setting an array element with a sequence. The requested array has an inhomogeneous shape after 1 ' +
        `dimensions. The detected shape was (${rows.length},) + inhomogeneous part.`,
    );
  return rows;
}

const COMMA = 44;
const NEWLINE = 10;

/** The white space trim() cuts that is ASCII: tab, line feed, vertical tab, form feed, carriage return, space. */
function isAsciiSpace(c: number): boolean {
  return (c >= 9 && c <= 13) || c === 32;
}

/**
 * The value of text[start, end) when it is `[+-]?digits[.digits]` with at most 15 digits, else undefined. Such
 * a number is its digits as an integer (exact below 2^53) divided by an exact power of ten, and IEEE division
 * rounds that quotient correctly, as Number and Python's float do: the same double, -0 included.
 */
function plainDecimal(text: string, start: number, end: number): number | undefined {
  let i = start;
  let c = text.charCodeAt(i);
  const negative = c === 45;
  if (negative || c === 43) i++;
  let digits = 0;
  let point = -1;
  let value = 0;
  for (; i < end; i++) {
    c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      digits++;
    } else if (c === 46 && point < 0) {
      point = i;
    } else {
      return undefined;
    }
  }
  if (digits === 0 || digits > 15) return undefined;
  const v = point < 0 ? value : value / EXACT_POWERS_OF_TEN[end - point - 1];
  return negative ? -v : v;
}

function pythonFloatCell(cell: string): number {
  const v = parsePythonFloat(cell);
  if (v === undefined) throw csvError(`could not convert string to float: '${cell}'`);
  return v;
}

function csvError(detail: string): ContainerError {
  return new ContainerError(
    415,
    `Loading csv data failed with Exception, please ensure data is in csv format:\n <class 'ValueError'>\n ${detail}`,
  );
}

const PY_FLOAT =
  /^[+-]?(?:(?:\d(?:_?\d)*)?\.?\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*\.|inf|infinity|nan)$/i;

/** Python's float(str): surrounding whitespace allowed, inf/nan words, digit underscores; undefined if refused. */
export function parsePythonFloat(cell: string): number | undefined {
  const s = cell.trim();
  if (!PY_FLOAT.test(s)) return undefined;
  const lower = s.toLowerCase().replace(/_/g, '');
  const sign = lower.startsWith('-') ? -1 : 1;
  const body = lower.replace(/^[+-]/, '');
  if (body === 'nan') return Number.NaN;
  if (body === 'inf' || body === 'infinity') return sign * Number.POSITIVE_INFINITY;
  return Number(lower);
}

/** One output line per input row: the value, or the comma-joined class probabilities. */
export function formatPredictions(predictions: readonly (readonly number[])[]): string {
  let text = '';
  for (let i = 0; i < predictions.length; i++) {
    const p = predictions[i];
    if (i > 0) text += '\n';
    for (let j = 0; j < p.length; j++) text += j > 0 ? `,${formatNumber(p[j])}` : formatNumber(p[j]);
  }
  return text;
}

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Number.POSITIVE_INFINITY) return 'inf';
  if (v === Number.NEGATIVE_INFINITY) return '-inf';
  // JSON.stringify spells a finite number as String does, but String keeps what it makes in V8's number-string
  // cache, which outlives the young generation (see writeShortNumber in lambdas/core/number-text.ts): at 200
  // requests/s of 100 records, these probabilities were the largest share of what the serving process moved to its
  // old generation.
  return JSON.stringify(v);
}

/**
 * The container's answer to one payload: predictions as CSV text, or a ContainerError as the XGBoost container
 * would send it.
 */
export function invokeModel(
  model: ServingModel,
  contentType: string | undefined,
  body: string,
): { text: string; rows: number; latencyMicros: number } {
  const type = (contentType ?? 'application/octet-stream').split(';')[0]!.trim().toLowerCase();
  if (type !== 'text/csv')
    throw new ContainerError(
      415,
      `Content-type ${type} not supported. Supported content-type is text/csv, text/libsvm, application/x-recordio-protobuf`,
    );
  const rows = parseCsvPayload(body);
  const width = rows[0]!.length;
  if (width !== model.numFeatures)
    throw new ContainerError(
      400,
      `Unable to evaluate payload provided: Feature size of csv inference data ${width} is not consistent with ` +
        `feature size of trained model ${model.numFeatures}.`,
    );
  const start = process.hrtime.bigint();
  let predictions: number[][];
  try {
    predictions = model.predict(rows);
  } catch (e) {
    throw new ContainerError(400, `Unable to evaluate payload provided: ${(e as Error).message}`);
  }
  const latencyMicros = Number((process.hrtime.bigint() - start) / 1000n);
  if (!Array.isArray(predictions) || predictions.length !== rows.length)
    throw new ContainerError(
      500,
      `model returned ${predictions?.length} predictions for ${rows.length} rows`,
    );
  return { text: formatPredictions(predictions), rows: rows.length, latencyMicros };
}

export async function startEndpointServer(options: EndpointServerOptions): Promise<EndpointServer> {
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const { accountId } = options;

  const notFound = (name: string) =>
    new RuntimeError('ValidationError', 400, {
      Message: `Endpoint ${name} of account ${accountId} not found.`,
    });

  const modelError = (endpointName: string, e: ContainerError): RuntimeError => {
    const kind = e.statusCode >= 500 ? 'server' : 'client';
    const logGroup = `/aws/sagemaker/Endpoints/${endpointName}`;
    const logs =
      `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}` +
      `#logEventViewer:group=${logGroup}`;
    return new RuntimeError('ModelError', 424, {
      ErrorCode: kind === 'client' ? 'CLIENT_ERROR_FROM_MODEL' : 'SERVER_ERROR_FROM_MODEL',
      LogStreamArn: `arn:aws:logs:${region}:${accountId}:log-group:${logGroup}`,
      Message:
        `Received ${kind} error (${e.statusCode}) from primary with message "${e.message}". ` +
        `See ${logs} in account ${accountId} for more information.`,
      OriginalMessage: e.message,
      OriginalStatusCode: e.statusCode,
    });
  };

  const pickVariant = (endpoint: ServingEndpointLike, target: string | undefined): ServingVariantLike => {
    if (target === undefined) return endpoint.pick();
    const variant = endpoint.variant ? endpoint.variant(target) : endpoint.pick();
    if (variant?.variantName !== target)
      throw new RuntimeError('ValidationError', 400, {
        Message: `Variant ${target} not found for endpoint ${endpoint.endpointName} of account ${accountId}.`,
      });
    return variant;
  };

  const invoke = async (req: IncomingMessage, res: ServerResponse, endpointName: string): Promise<void> => {
    const body = await readBody(req);
    const endpoint = options.resolve(endpointName);
    if (!endpoint || !SERVING_STATUSES.has(endpoint.status)) throw notFound(endpointName);
    if (header(req, 'x-amzn-sagemaker-target-model') !== undefined)
      throw new RuntimeError('ValidationError', 400, {
        Message: `Endpoint ${endpointName} is not a multi-model endpoint and does not support target model header.`,
      });
    const variant = pickVariant(endpoint, header(req, 'x-amzn-sagemaker-target-variant'));
    const contentType = header(req, 'content-type');
    const text = body.toString('utf8');
    const metric = (m: Omit<InvocationMetric, 'endpointName' | 'variantName'>) => {
      // Metrics are a side channel: a failing listener must not fail the invocation.
      try {
        options.onInvocation?.({ endpointName, variantName: variant.variantName, ...m });
      } catch (e) {
        process.emitWarning(`endpoint server: onInvocation failed: ${String(e)}`);
      }
    };

    // The XGBoost container answers an empty payload with 204 and no body.
    if (body.length === 0) {
      metric({ latencyMicros: 0, rows: 0 });
      sendOutput(res, variant.variantName, '');
      return;
    }
    let result: ReturnType<typeof invokeModel>;
    try {
      result = invokeModel(variant.model, contentType, text);
    } catch (e) {
      const err =
        e instanceof ContainerError ? e : new ContainerError(500, String((e as Error)?.message ?? e));
      metric({ latencyMicros: 0, rows: 0, error: err.statusCode >= 500 ? '5xx' : '4xx' });
      throw modelError(endpointName, err);
    }
    // The answer first: capture and metrics are SageMaker's side channels, never on the caller's time.
    sendOutput(res, variant.variantName, result.text);
    metric({ latencyMicros: result.latencyMicros, rows: result.rows });
    try {
      options.capture.record(
        endpointName,
        variant.variantName,
        variant.capture,
        { contentType: contentType ?? 'application/octet-stream', data: text },
        { contentType: OUTPUT_CONTENT_TYPE, data: result.text },
        header(req, 'x-amzn-sagemaker-inference-id'),
      );
    } catch (e) {
      // The answer is sent; a capture failure must not turn it into an error.
      process.emitWarning(`endpoint server: data capture failed: ${String(e)}`);
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method === 'GET' && url.pathname === '/ping') {
        req.resume();
        res.writeHead(200, { 'Content-Length': 0 }).end();
        return;
      }
      const m = /^\/endpoints\/([^/]+)\/invocations$/.exec(url.pathname);
      if (req.method !== 'POST' || !m) {
        req.resume();
        throw new RuntimeError('UnknownOperationException', 404, {
          message: `No operation for ${req.method} ${url.pathname}`,
        });
      }
      await invoke(req, res, decodeURIComponent(m[1]!));
    } catch (e) {
      const err =
        e instanceof RuntimeError
          ? e
          : new RuntimeError('InternalFailure', 500, { Message: (e as Error).message });
      const body = JSON.stringify(err.body);
      res.writeHead(err.statusCode, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        'x-amzn-ErrorType': err.code,
        'x-amzn-RequestId': requestId,
      });
      res.end(body);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_MILLISECONDS;
  const port = await listenOnLoopback(server, options.port ?? 0);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // SDK clients keep connections alive; without this, close() waits for them to time out.
        server.closeAllConnections();
      }),
  };
}

function sendOutput(res: ServerResponse, variantName: string, text: string): void {
  res.writeHead(200, {
    'Content-Type': OUTPUT_CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(text),
    'x-Amzn-Invoked-Production-Variant': variantName,
    'x-amzn-RequestId': randomUUID(),
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return readRequestBody(
    req,
    MAX_PAYLOAD_BYTES,
    () =>
      new RuntimeError('ValidationError', 400, {
        Message: `Request payload exceeds the ${MAX_PAYLOAD_BYTES} byte limit of InvokeEndpoint.`,
      }),
  );
}
