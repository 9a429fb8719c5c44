import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

/**
 * A loopback HTTP proxy in front of s3rver that injects the failures real S3 clients see, at configured rates
 * drawn from a seeded generator, and counts what it injected:
 * - `slowDown`: 503 SlowDown with S3's XML error body (what S3 answers while it scales a prefix);
 * - `internalError`: 500 InternalError (XML);
 * - `resetRequest`: the connection is reset while the request (and its body) is arriving; the request never
 *   reaches the server, as S3 discards an incomplete PUT;
 * - `resetResponse`: the request is carried out, then the connection is reset after the response headers and a
 *   random part of the body (before any byte when there is no body): the write happened, the client cannot know;
 * - latency, independently of the faults: a delay before the request is forwarded.
 * With several requests in flight, which request draws which fault depends on their arrival order; the rates
 * and the sequence for sequential requests are reproducible from the seed.
 *
 * It also does what s3rver 3.7 lacks and the handlers rely on, as S3 documents it: If-Match on GetObject and
 * HeadObject and x-amz-copy-source-if-match on CopyObject (412 PreconditionFailed), AbortMultipartUpload (s3rver
 * answers 405; here the upload is dropped, its parts deleted, and a second abort answers 404 NoSuchUpload), and
 * UploadPartCopy (s3rver answers NotImplemented; here a ranged GET of the source plus an UploadPart). It tracks
 * every multipart upload, so a test can tell which ones were left neither completed nor aborted.
 */

export type FaultKind = 'slowDown' | 'internalError' | 'resetRequest' | 'resetResponse';
export const FAULT_KINDS: readonly FaultKind[] = [
  'slowDown',
  'internalError',
  'resetRequest',
  'resetResponse',
];

export type FaultRates = Partial<Record<FaultKind | 'latency', number>>;

export type S3Operation =
  | 'GetObject'
  | 'HeadObject'
  | 'PutObject'
  | 'CopyObject'
  | 'DeleteObject'
  | 'DeleteObjects'
  | 'ListObjects'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'UploadPartCopy'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListParts'
  | 'Bucket';

export interface S3Request {
  readonly method: string;
  readonly operation: S3Operation;
  readonly bucket: string;
  readonly key: string;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
}

export interface FaultProxyOptions {
  /** s3rver's endpoint, e.g. http://127.0.0.1:41234 */
  readonly upstream: string;
  /** @default 1 */
  readonly seed?: number;
  /** Probability of each fault per request (their sum at most 1) and, separately, of a delay. @default none */
  readonly rates?: FaultRates;
  /** Delay range, ms. @default [5, 50] */
  readonly latencyMs?: readonly [number, number];
  /** Which requests may draw a fault or a delay. @default every request */
  readonly target?: (request: S3Request) => boolean;
  /** s3rver's directory, so that an aborted upload's parts are deleted as S3 deletes them. */
  readonly s3rverDirectory?: string;
}

export interface FaultStats {
  requests: number;
  byOperation: Partial<Record<S3Operation, number>>;
  faults: Record<FaultKind, number>;
  /** `<operation> <fault>` -> count */
  faultsByOperation: Record<string, number>;
  delayed: number;
  /** Answered 412 by the If-Match emulation. */
  preconditionFailed: number;
  /** GetObject requests with a Range header: a reader resuming a broken body. */
  rangedGets: number;
}

export interface TrackedUpload {
  readonly uploadId: string;
  readonly bucket: string;
  readonly key: string;
  state: 'open' | 'completed' | 'aborted';
  /** False when the CreateMultipartUpload response was cut: the client never learnt the upload id. */
  createDelivered: boolean;
}

export interface FaultProxy {
  /** Point the SDK here (AWS_ENDPOINT_URL_S3, forcePathStyle). */
  readonly endpoint: string;
  readonly stats: FaultStats;
  /** Every multipart upload created through the proxy, by id. */
  readonly uploads: ReadonlyMap<string, TrackedUpload>;
  /** Uploads neither completed nor aborted. */
  openUploads(): TrackedUpload[];
  /** New rates, seed or target (null: every request); faults only happen while enabled. */
  configure(settings: {
    rates?: FaultRates;
    seed?: number;
    enabled?: boolean;
    target?: ((request: S3Request) => boolean) | null;
  }): void;
  /** Zeroes the counters (not the upload tracking). */
  resetStats(): void;
  close(): Promise<void>;
}

/** mulberry32: small, fast, and good enough to draw faults from. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function emptyStats(): FaultStats {
  return {
    requests: 0,
    byOperation: {},
    faults: { slowDown: 0, internalError: 0, resetRequest: 0, resetResponse: 0 },
    faultsByOperation: {},
    delayed: 0,
    preconditionFailed: 0,
    rangedGets: 0,
  };
}

export function classify(method: string, url: string, headers: http.IncomingHttpHeaders): S3Request {
  const u = new URL(url, 'http://proxy');
  const segments = u.pathname.split('/').slice(1);
  const bucket = decodeURIComponent(segments[0] ?? '');
  const key = segments.slice(1).map(decodeURIComponent).join('/');
  const q = u.searchParams;
  const copy = 'x-amz-copy-source' in headers;
  let operation: S3Operation = 'Bucket';
  if (key === '') {
    if (method === 'GET' && bucket !== '') operation = 'ListObjects';
    else if (method === 'POST' && q.has('delete')) operation = 'DeleteObjects';
  } else if (method === 'GET') operation = q.has('uploadId') ? 'ListParts' : 'GetObject';
  else if (method === 'HEAD') operation = 'HeadObject';
  else if (method === 'PUT')
    operation = q.has('uploadId')
      ? copy
        ? 'UploadPartCopy'
        : 'UploadPart'
      : copy
        ? 'CopyObject'
        : 'PutObject';
  else if (method === 'POST')
    operation = q.has('uploads') ? 'CreateMultipartUpload' : 'CompleteMultipartUpload';
  else if (method === 'DELETE') operation = q.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
  return { method, operation, bucket, key, query: q, headers };
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** S3's error document. */
export function s3ErrorXml(code: string, message: string, resource: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>` +
    `<Resource>${xmlEscape(resource)}</Resource><RequestId>FAULTPROXY</RequestId></Error>`
  );
}

function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/"/g, '');
}

function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Headers worth passing on to an internal request to s3rver (it only looks up the access key). */
function authHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const h of ['authorization', 'x-amz-date', 'x-amz-content-sha256'])
    if (headers[h] !== undefined) out[h] = headers[h];
  return out;
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.upstream);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let random = seededRandom(options.seed ?? 1);
  let rates: FaultRates = { ...options.rates };
  let enabled = true;
  let target = options.target;
  let stats = emptyStats();
  const uploads = new Map<string, TrackedUpload>();
  const [latencyLo, latencyHi] = options.latencyMs ?? [5, 50];
  const sockets = new Set<import('node:net').Socket>();

  const upstreamRequest = (
    method: string,
    urlPath: string,
    headers: http.OutgoingHttpHeaders,
    body?: Buffer,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const r = http.request(
        { host: upstream.hostname, port: upstream.port, method, path: urlPath, headers, agent },
        (res) => {
          readAll(res).then(
            (b) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }),
            reject,
          );
        },
      );
      r.on('error', reject);
      r.end(body);
    });

  const drawFault = (): FaultKind | undefined => {
    const r = random();
    let acc = 0;
    for (const kind of FAULT_KINDS) {
      acc += rates[kind] ?? 0;
      if (r < acc) return kind;
    }
    return undefined;
  };

  const sendError = (
    res: http.ServerResponse,
    status: number,
    code: string,
    message: string,
    info: S3Request,
  ): void => {
    const body = info.method === 'HEAD' ? '' : s3ErrorXml(code, message, `/${info.bucket}/${info.key}`);
    res.writeHead(status, {
      'content-type': 'application/xml',
      'content-length': Buffer.byteLength(body),
      'x-amz-request-id': 'FAULTPROXY',
    });
    res.end(body);
  };

  /** S3's 412 for an If-Match (or copy-source If-Match) the object's ETag does not satisfy, counted. */
  const preconditionFailed = (res: http.ServerResponse, info: S3Request): void => {
    stats.preconditionFailed++;
    sendError(
      res,
      412,
      'PreconditionFailed',
      'At least one of the pre-conditions you specified did not hold',
      info,
    );
  };

  /** Writes a response, or (resetResponse) its headers and a random part of its body, then resets. */
  const reply = (
    res: http.ServerResponse,
    status: number,
    headers: http.IncomingHttpHeaders | http.OutgoingHttpHeaders,
    body: Buffer,
    cut: boolean,
  ): void => {
    if (!cut) {
      res.writeHead(status, headers);
      res.end(body);
      return;
    }
    if (body.length === 0) {
      res.socket?.destroy();
      return;
    }
    res.writeHead(status, headers);
    const keep = Math.floor(random() * body.length);
    res.write(body.subarray(0, keep), () => res.socket?.destroy());
  };

  const trackResponse = (info: S3Request, status: number, body: Buffer, delivered: boolean): void => {
    if (status !== 200) return;
    if (info.operation === 'CreateMultipartUpload') {
      const id = /<UploadId>([^<]+)<\/UploadId>/.exec(body.toString('utf8'))?.[1];
      if (id)
        uploads.set(id, {
          uploadId: id,
          bucket: info.bucket,
          key: info.key,
          state: 'open',
          createDelivered: delivered,
        });
    } else if (
      info.operation === 'CompleteMultipartUpload' &&
      body.includes('<CompleteMultipartUploadResult')
    ) {
      const u = uploads.get(info.query.get('uploadId') ?? '');
      if (u) u.state = 'completed';
    }
  };

  /** Forwards the request; streams GetObject bodies, buffers the rest (small XML or empty). */
  const forward = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    info: S3Request,
    cut: boolean,
  ): Promise<void> => {
    const up = http.request({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent,
    });
    req.pipe(up);
    const ur = await new Promise<http.IncomingMessage>((resolve, reject) => {
      up.on('response', resolve);
      up.on('error', reject);
    });
    const status = ur.statusCode ?? 502;
    const ifMatch = req.headers['if-match'];
    if (
      (info.operation === 'GetObject' || info.operation === 'HeadObject') &&
      typeof ifMatch === 'string' &&
      status < 300 &&
      ifMatch !== '*' &&
      unquote(ifMatch) !== unquote(ur.headers.etag)
    ) {
      ur.resume();
      preconditionFailed(res, info);
      return;
    }
    if (info.operation !== 'GetObject') {
      const body = await readAll(ur);
      trackResponse(info, status, body, !cut);
      reply(res, status, ur.headers, body, cut);
      return;
    }
    res.writeHead(status, ur.headers);
    const length = Number(ur.headers['content-length'] ?? 0);
    if (!cut) {
      ur.pipe(res);
      return;
    }
    // Cut somewhere in the body (an empty body: before the headers would have been complete).
    const keep = length > 0 ? Math.floor(random() * length) : 0;
    let sent = 0;
    ur.on('data', (chunk: Buffer) => {
      if (sent >= keep) return;
      const part = chunk.subarray(0, Math.min(chunk.length, keep - sent));
      sent += part.length;
      if (sent >= keep) {
        ur.destroy();
        res.write(part, () => res.socket?.destroy());
      } else res.write(part);
    });
    if (keep === 0) {
      ur.destroy();
      res.socket?.destroy();
    }
  };

  const abortUpload = (res: http.ServerResponse, info: S3Request, cut: boolean): void => {
    const id = info.query.get('uploadId') ?? '';
    const u = uploads.get(id);
    if (!u || u.state !== 'open') {
      sendError(
        res,
        404,
        'NoSuchUpload',
        'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
        info,
      );
      return;
    }
    u.state = 'aborted';
    if (options.s3rverDirectory)
      fs.rmSync(path.join(options.s3rverDirectory, info.bucket, '._S3rver_uploads', id), {
        recursive: true,
        force: true,
      });
    reply(res, 204, {}, Buffer.alloc(0), cut);
  };

  const uploadPartCopy = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    info: S3Request,
    cut: boolean,
  ): Promise<void> => {
    await readAll(req);
    const source = decodeURIComponent(String(req.headers['x-amz-copy-source'])).replace(/^\//, '');
    const [sourcePath] = source.split('?versionId=');
    const slash = sourcePath.indexOf('/');
    const srcBucket = sourcePath.slice(0, slash);
    const srcKey = sourcePath.slice(slash + 1);
    const range = req.headers['x-amz-copy-source-range'];
    const got = await upstreamRequest('GET', `/${srcBucket}/${encodeKey(srcKey)}`, {
      ...authHeaders(req.headers),
      ...(typeof range === 'string' ? { range } : {}),
    });
    if (got.status >= 300) {
      reply(res, got.status, got.headers, got.body, cut);
      return;
    }
    const ifMatch = req.headers['x-amz-copy-source-if-match'];
    if (typeof ifMatch === 'string' && unquote(ifMatch) !== unquote(got.headers.etag)) {
      preconditionFailed(res, info);
      return;
    }
    const put = await upstreamRequest(
      'PUT',
      req.url!,
      { ...authHeaders(req.headers), 'content-length': got.body.length },
      got.body,
    );
    if (put.status >= 300) {
      reply(res, put.status, put.headers, put.body, cut);
      return;
    }
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<CopyPartResult><LastModified>${new Date().toISOString()}</LastModified>` +
      `<ETag>${xmlEscape(String(put.headers.etag))}</ETag></CopyPartResult>`;
    reply(
      res,
      200,
      { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) },
      Buffer.from(xml),
      cut,
    );
  };

  const copyObjectPrecondition = async (req: http.IncomingMessage): Promise<boolean> => {
    const ifMatch = req.headers['x-amz-copy-source-if-match'];
    if (typeof ifMatch !== 'string') return true;
    const source = decodeURIComponent(String(req.headers['x-amz-copy-source'])).replace(/^\//, '');
    const [sourcePath] = source.split('?versionId=');
    const slash = sourcePath.indexOf('/');
    const head = await upstreamRequest(
      'HEAD',
      `/${sourcePath.slice(0, slash)}/${encodeKey(sourcePath.slice(slash + 1))}`,
      authHeaders(req.headers),
    );
    return head.status < 300 && unquote(head.headers.etag) === unquote(ifMatch);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const info = classify(req.method ?? 'GET', req.url ?? '/', req.headers);
    stats.requests++;
    stats.byOperation[info.operation] = (stats.byOperation[info.operation] ?? 0) + 1;
    if (info.operation === 'GetObject' && req.headers.range !== undefined) stats.rangedGets++;
    const eligible = enabled && (target?.(info) ?? true);
    if (eligible && (rates.latency ?? 0) > 0 && random() < rates.latency!) {
      stats.delayed++;
      await sleep(latencyLo + random() * (latencyHi - latencyLo));
    }
    const fault = eligible ? drawFault() : undefined;
    if (fault) {
      stats.faults[fault]++;
      const k = `${info.operation} ${fault}`;
      stats.faultsByOperation[k] = (stats.faultsByOperation[k] ?? 0) + 1;
    }
    if (fault === 'slowDown' || fault === 'internalError') {
      // Read the body first, as S3 does: answering early would turn the error into a broken pipe.
      await readAll(req);
      if (fault === 'slowDown') sendError(res, 503, 'SlowDown', 'Please reduce your request rate.', info);
      else sendError(res, 500, 'InternalError', 'We encountered an internal error. Please try again.', info);
      return;
    }
    if (fault === 'resetRequest') {
      const length = Number(req.headers['content-length'] ?? 0);
      if (length > 0) {
        // Somewhere in the body: wait for that many bytes (or its end), never forwarding any of it.
        const at = Math.floor(random() * length);
        let seen = 0;
        await new Promise<void>((resolve) => {
          req.on('data', (c: Buffer) => {
            seen += c.length;
            if (seen >= at) resolve();
          });
          req.on('end', () => resolve());
          req.on('error', () => resolve());
        });
      }
      req.socket.destroy();
      return;
    }
    const cut = fault === 'resetResponse';
    if (info.operation === 'AbortMultipartUpload') {
      await readAll(req);
      abortUpload(res, info, cut);
      return;
    }
    if (info.operation === 'UploadPartCopy') {
      await uploadPartCopy(req, res, info, cut);
      return;
    }
    if (info.operation === 'CopyObject' && !(await copyObjectPrecondition(req))) {
      await readAll(req);
      preconditionFailed(res, info);
      return;
    }
    await forward(req, res, info, cut);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => res.socket?.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    get stats() {
      return stats;
    },
    uploads,
    openUploads: () => [...uploads.values()].filter((u) => u.state === 'open'),
    configure(settings) {
      if (settings.rates !== undefined) rates = { ...settings.rates };
      if (settings.seed !== undefined) random = seededRandom(settings.seed);
      if (settings.enabled !== undefined) enabled = settings.enabled;
      if (settings.target !== undefined) target = settings.target ?? undefined;
    },
    resetStats() {
      stats = emptyStats();
    },
    async close() {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Faults injected, summed over the kinds. */
export function totalFaults(stats: FaultStats): number {
  return FAULT_KINDS.reduce((n, k) => n + stats.faults[k], 0);
}
