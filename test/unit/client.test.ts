import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createPredictHandler } from '../../lambdas/handlers/predict';
import {
  ApiError,
  DevMlopsClient,
  EndpointClient,
  InvalidRecordsError,
  ModelError,
  NoModelError,
  regionFromApiUrl,
  ThrottledError,
  type PredictResponse,
} from '../../lib/client';
import { backoffDelay } from '../../lib/client/retry';
import { listenOnLoopback } from '../../lib/local/aws-api-server';
import { sampleCsv } from '../../lib/local/sample-data';
import {
  BUCKET,
  ENDPOINT,
  goodRecords,
  predictEvent,
  schema,
  startInferenceFixture,
  type InferenceFixture,
  recordsFromCsv,
} from '../helpers/inference';

/**
 * lib/client: DevMlopsClient's SigV4 signing (checked by an independent implementation of the algorithm),
 * retries and error types against a loopback server; then both clients against the real inference handler
 * and the local endpoint server, which must agree on every prediction and error.
 */

const KEY = 'AKIDEXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const TOKEN = 'session-token-example';

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (key: string | Buffer, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();

/**
 * Verifies a request's SigV4 signature from scratch (AWS's documented algorithm, node:crypto only): the
 * canonical request from what arrived on the wire, the string to sign, the derived key.
 */
function verifySigV4(r: Received, secret: string): boolean {
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(
      String(r.headers.authorization),
    );
  if (!m) return false;
  const [, , date, region, service, signedHeaders, signature] = m;
  const amzDate = String(r.headers['x-amz-date']);
  if (!amzDate.startsWith(date)) return false;
  const names = signedHeaders.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) return false;
  const canonicalHeaders = names
    .map(
      (h) =>
        `${h}:${String(r.headers[h] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const payloadHash = sha256(r.body);
  const declared = r.headers['x-amz-content-sha256'];
  if (declared !== undefined && declared !== payloadHash) return false;
  const canonicalRequest = [r.method, r.path, '', canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  return hmac(key, stringToSign).toString('hex') === signature;
}

type Reply = { status: number; body: unknown; headers?: Record<string, string> } | 'reset';

/** A loopback server that records each request and answers from a script. */
class ScriptedServer {
  readonly received: Received[] = [];
  replies: Reply[] = [];
  url = '';
  private server: Server | undefined;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.received.push({
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        const reply = this.replies.shift() ?? { status: 500, body: { message: 'no scripted reply' } };
        if (reply === 'reset') {
          req.socket.destroy();
          return;
        }
        const text = JSON.stringify(reply.body);
        res.writeHead(reply.status, { 'Content-Type': 'application/json', ...reply.headers });
        res.end(text);
      });
    });
    const port = await listenOnLoopback(this.server, 0);
    this.url = `http://127.0.0.1:${port}/prod/`;
  }

  reset(replies: Reply[]): void {
    this.received.length = 0;
    this.replies = replies;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }
}

const OK: PredictResponse = {
  modelVersion: '3',
  modelPackageArn: 'arn:aws:sagemaker:eu-west-1:123456789012:model-package/devmlops-churn/3',
  predictions: [{ label: 'true', probability: 0.83 }],
};

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('DevMlopsClient against a scripted server', () => {
  const server = new ScriptedServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  const client = (overrides: Partial<ConstructorParameters<typeof DevMlopsClient>[0]> = {}) =>
    new DevMlopsClient({
      apiUrl: server.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: KEY, secretAccessKey: SECRET, sessionToken: TOKEN },
      retryBaseDelayMs: 1,
      ...overrides,
    });

  it('POSTs the records to <apiUrl>v1/predict, signed with SigV4 for execute-api', async () => {
    server.reset([{ status: 200, body: OK }]);
    const out = await client().predict([goodRecords[0]]);
    expect(out).toEqual(OK);
    expect(server.received).toHaveLength(1);
    const r = server.received[0];
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/prod/v1/predict');
    expect(JSON.parse(r.body)).toEqual({ records: [goodRecords[0]] });
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers.authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${KEY}/\\d{8}/eu-west-1/execute-api/aws4_request, ` +
          'SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$',
      ),
    );
    expect(r.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(String(r.headers.authorization)).toContain(`/${String(r.headers['x-amz-date']).slice(0, 8)}/`);
    expect(r.headers['x-amz-security-token']).toBe(TOKEN);
    expect(String(r.headers.authorization)).toMatch(/SignedHeaders=[^,]*x-amz-security-token/);
    expect(verifySigV4(r, SECRET)).toBe(true);
    // The check can fail: another secret, or a body changed after signing, does not verify.
    expect(verifySigV4(r, `${SECRET}x`)).toBe(false);
    expect(verifySigV4({ ...r, body: r.body.replace('c-1', 'c-2') }, SECRET)).toBe(false);
  });

  it('keeps the stage when the URL has no trailing slash; no token header without a session token', async () => {
    server.reset([{ status: 200, body: OK }]);
    await client({
      apiUrl: server.url.replace(/\/$/, ''),
      credentials: { accessKeyId: KEY, secretAccessKey: SECRET },
    }).predict([goodRecords[0]]);
    const r = server.received[0];
    expect(r.path).toBe('/prod/v1/predict');
    expect(r.headers['x-amz-security-token']).toBeUndefined();
    expect(verifySigV4(r, SECRET)).toBe(true);
  });

  it('without credentials it signs with the default chain (here the environment)', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDFROMENV', AWS_SECRET_ACCESS_KEY: 'env-secret' });
    delete process.env.AWS_SESSION_TOKEN;
    try {
      server.reset([{ status: 200, body: OK }]);
      await new DevMlopsClient({ apiUrl: server.url, region: 'us-east-2' }).predict([goodRecords[0]]);
      const r = server.received[0];
      expect(r.headers.authorization).toContain('Credential=AKIDFROMENV/');
      expect(r.headers.authorization).toContain('/us-east-2/execute-api/aws4_request');
      expect(verifySigV4(r, 'env-secret')).toBe(true);
    } finally {
      process.env = saved;
    }
  });

  it('takes the region from an execute-api URL', async () => {
    const calls: { url: string; headers: Record<string, string> }[] = [];
    const fakeFetch = (async (url: URL, init: RequestInit) => {
      calls.push({ url: String(url), headers: init.headers as Record<string, string> });
      return new Response(JSON.stringify(OK), { status: 200 });
    }) as unknown as typeof fetch;
    const c = new DevMlopsClient({
      apiUrl: 'https://abc123.execute-api.eu-central-1.amazonaws.com/prod/',
      credentials: { accessKeyId: KEY, secretAccessKey: SECRET },
      fetch: fakeFetch,
    });
    expect(c.region).toBe('eu-central-1');
    await c.predict([goodRecords[0]]);
    expect(calls[0].url).toBe('https://abc123.execute-api.eu-central-1.amazonaws.com/prod/v1/predict');
    expect(calls[0].headers.authorization).toContain('/eu-central-1/execute-api/aws4_request');
    expect(regionFromApiUrl('https://x.execute-api.cn-north-1.amazonaws.com.cn/prod/')).toBe('cn-north-1');
    expect(regionFromApiUrl('http://127.0.0.1:3000/prod/')).toBeUndefined();
  });

  it('retries 429 with backoff, each attempt signed afresh, then succeeds', async () => {
    const tooMany = { status: 429, body: { message: 'Too Many Requests' } };
    server.reset([tooMany, tooMany, { status: 200, body: OK }]);
    expect(await client({ maxAttempts: 3 }).predict([goodRecords[0]])).toEqual(OK);
    expect(server.received).toHaveLength(3);
    for (const r of server.received) expect(verifySigV4(r, SECRET)).toBe(true);
  });

  it('gives up after maxAttempts with ThrottledError', async () => {
    const throttled = { status: 429, body: { code: 'throttled', message: 'the endpoint is throttling' } };
    server.reset([throttled, throttled, throttled, { status: 200, body: OK }]);
    const e = await rejection(client({ maxAttempts: 3 }).predict([goodRecords[0]]));
    expect(e).toBeInstanceOf(ThrottledError);
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ status: 429, code: 'throttled', attempts: 3 });
    expect(e.message).toContain('after 3 attempt(s)');
    expect(server.received).toHaveLength(3);
  });

  it('retries a gateway 5XX and a dropped connection, not the model error', async () => {
    server.reset([
      'reset',
      { status: 503, body: { message: 'Service Unavailable' }, headers: { 'Retry-After': '0' } },
      { status: 500, body: { code: 'internal', message: 'internal error' } },
      // The API's DEFAULT_5XX gateway response (lib/constructs/inference-api.ts).
      {
        status: 504,
        body: { code: 'gateway-error', type: 'INTEGRATION_TIMEOUT', message: 'Endpoint request timed out' },
      },
      { status: 200, body: OK },
    ]);
    expect(await client({ maxAttempts: 5 }).predict([goodRecords[0]])).toEqual(OK);
    expect(server.received).toHaveLength(5);
  });

  it('every attempt failing on the network: ApiError with status 0', async () => {
    server.reset(['reset', 'reset']);
    const e = await rejection(client({ maxAttempts: 2 }).predict([goodRecords[0]]));
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ status: 0, code: 'network' });
    expect(server.received).toHaveLength(2);
  });

  it.each([
    [
      'invalid-records',
      {
        status: 400,
        body: {
          code: 'invalid-records',
          message: '1 of 1 records are invalid',
          errors: [
            { record: 0, field: 'plan', code: 'enum', message: '"gold" is not one of basic, plus, pro' },
          ],
        },
      },
      InvalidRecordsError,
      {
        status: 400,
        code: 'invalid-records',
        errors: [
          { record: 0, field: 'plan', code: 'enum', message: '"gold" is not one of basic, plus, pro' },
        ],
      },
    ],
    [
      'no-model',
      { status: 503, body: { code: 'no-model', message: 'none yet' } },
      NoModelError,
      { status: 503 },
    ],
    [
      'model-error',
      { status: 502, body: { code: 'model-error', message: 'boom' } },
      ModelError,
      { status: 502 },
    ],
    [
      'batch-too-large',
      { status: 400, body: { code: 'batch-too-large', message: 'too many' } },
      ApiError,
      { status: 400, code: 'batch-too-large' },
    ],
    [
      'a bad signature',
      {
        status: 403,
        body: { message: 'The request signature we calculated does not match the signature you provided.' },
        headers: { 'x-amzn-ErrorType': 'InvalidSignatureException', 'x-amzn-RequestId': 'rid-1' },
      },
      ApiError,
      { status: 403, code: 'InvalidSignatureException', requestId: 'rid-1' },
    ],
    [
      "the API's DEFAULT_4XX gateway response",
      {
        status: 403,
        body: { code: 'request-rejected', type: 'ACCESS_DENIED', message: 'User is not authorized' },
      },
      ApiError,
      { status: 403, code: 'request-rejected', type: 'ACCESS_DENIED' },
    ],
  ])('%s: the matching error, no retry', async (_name, reply, type, fields) => {
    server.reset([reply as Reply, { status: 200, body: OK }]);
    const e = await rejection(client().predict([goodRecords[0]]));
    expect(e).toBeInstanceOf(type);
    expect(e).toMatchObject(fields);
    expect(e.message).toBe((reply as { body: { message: string } }).body.message);
    expect(server.received).toHaveLength(1);
  });

  it('refuses a bad configuration up front', () => {
    expect(() => new DevMlopsClient({ apiUrl: 'not a url', region: 'x' })).toThrow('apiUrl is not a URL');
    expect(() => new DevMlopsClient({ apiUrl: server.url, region: 'x', maxAttempts: 0 })).toThrow(
      'maxAttempts must be a whole number >= 1',
    );
  });
});

describe('backoffDelay', () => {
  it('full jitter under base * 2^(attempt-1), capped; Retry-After wins up to the cap', () => {
    expect(backoffDelay(1, 100, 5000, undefined, () => 0.999)).toBe(99);
    expect(backoffDelay(3, 100, 5000, undefined, () => 0.5)).toBe(200);
    expect(backoffDelay(10, 100, 5000, undefined, () => 0.999)).toBe(4995);
    expect(backoffDelay(1, 100, 5000, undefined, () => 0)).toBe(0);
    expect(backoffDelay(1, 100, 5000, '2', () => 0)).toBe(2000);
    expect(backoffDelay(1, 100, 5000, '60', () => 0)).toBe(5000);
  });
});

describe('DevMlopsClient and EndpointClient against the inference handler and the local endpoint', () => {
  let f: InferenceFixture;
  let api: Server;
  let apiUrl: string;

  beforeAll(async () => {
    f = await startInferenceFixture();
    const predict = createPredictHandler(
      {
        artifactsBucket: BUCKET,
        endpointName: ENDPOINT,
        schema,
        maxBatchSize: 100,
        threshold: 0.5,
        specRefreshSeconds: 0,
      },
      { s3: f.s3.s3, runtime: f.runtime },
    );
    // A minimal API Gateway: checks the SigV4 signature, then Lambda proxy integration.
    api = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const received: Received = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        if (!verifySigV4(received, SECRET)) {
          res.writeHead(403, { 'Content-Type': 'application/json' }).end('{"message":"Forbidden"}');
          return;
        }
        void predict(predictEvent(received.body)).then((r) => {
          res.writeHead(r.statusCode, r.headers as Record<string, string>).end(r.body);
        });
      });
    });
    const port = await listenOnLoopback(api, 0);
    apiUrl = `http://127.0.0.1:${port}/prod/`;
  }, 60_000);

  afterAll(async () => {
    await new Promise<void>((resolve) => {
      api?.close(() => resolve());
      api?.closeAllConnections();
    });
    await f?.stop();
  });

  beforeEach(() => {
    f.mode = 'pass';
  });

  const apiClient = () =>
    new DevMlopsClient({
      apiUrl,
      region: 'us-east-1',
      credentials: { accessKeyId: KEY, secretAccessKey: SECRET },
      retryBaseDelayMs: 1,
      maxAttempts: 2,
    });
  const endpointClient = (withSchema = true) =>
    new EndpointClient({
      endpointName: ENDPOINT,
      artifactsBucket: BUCKET,
      runtime: f.runtime,
      s3: f.s3.s3,
      refreshSeconds: 0,
      ...(withSchema ? { schema } : {}),
    });

  it('before anything is deployed both throw NoModelError', async () => {
    expect(await rejection(apiClient().predict(goodRecords))).toBeInstanceOf(NoModelError);
    expect(await rejection(endpointClient().predict(goodRecords))).toBeInstanceOf(NoModelError);
  });

  it('the same predictions for the same records', async () => {
    await f.deploy(1);
    const records = [
      ...goodRecords,
      ...recordsFromCsv(sampleCsv({ rows: 60, seed: 7 }).trimEnd().split('\n')),
    ];
    const viaApi = await apiClient().predict(records);
    const direct = await endpointClient().predict(records);
    expect(viaApi.predictions).toHaveLength(records.length);
    expect(direct).toEqual(viaApi);
    expect(viaApi.modelVersion).toBe('1');
    // Both labels occur, so the threshold is exercised.
    expect(new Set(viaApi.predictions.map((p) => (p as { label: string }).label))).toEqual(
      new Set(['true', 'false']),
    );
  });

  it('the same InvalidRecordsError for the same invalid records', async () => {
    await f.deploy(1);
    const records = [goodRecords[0], { ...goodRecords[0], plan: 'gold', tenure_months: 601 }];
    const viaApi = await rejection(apiClient().predict(records));
    const direct = await rejection(endpointClient().predict(records));
    expect(viaApi).toBeInstanceOf(InvalidRecordsError);
    expect(direct).toBeInstanceOf(InvalidRecordsError);
    expect((direct as InvalidRecordsError).errors).toEqual((viaApi as InvalidRecordsError).errors);
    expect((viaApi as InvalidRecordsError).errors.map((e) => e.code)).toEqual(['maximum', 'enum']);
    // Without the dataset schema the client knows only what the feature spec says: categories, not ranges.
    const specOnly = await rejection(endpointClient(false).predict(records));
    expect((specOnly as InvalidRecordsError).errors.map((e) => [e.field, e.code])).toEqual([
      ['plan', 'enum'],
    ]);
  });

  it('throttling: ThrottledError from both', async () => {
    await f.deploy(1);
    f.mode = 'throttle';
    expect(await rejection(apiClient().predict(goodRecords))).toBeInstanceOf(ThrottledError);
    expect(await rejection(endpointClient().predict(goodRecords))).toBeInstanceOf(ThrottledError);
  });

  it('a request signed with another secret is refused by the gateway (403 ApiError)', async () => {
    const e = await rejection(
      new DevMlopsClient({
        apiUrl,
        region: 'us-east-1',
        credentials: { accessKeyId: KEY, secretAccessKey: 'wrong' },
      }).predict(goodRecords),
    );
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ status: 403, code: 'http-403' });
  });
});
