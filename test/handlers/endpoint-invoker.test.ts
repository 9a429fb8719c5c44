import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import {
  errorName,
  RuntimeServiceError,
  sdkInvoker,
  SignedInvoker,
  type EndpointInvoker,
  type InvokeRequest,
  type SignedInvokerOptions,
} from '../../lambdas/shared/endpoint-invoker';
import { isThrottling } from '../../lambdas/shared/retry';
import { invokeError } from '../../lambdas/shared/scorer';
import { verifySigV4 } from '../../lib/local/api-gateway';
import {
  BUCKET,
  CAPTURED,
  ENDPOINT,
  startInferenceFixture,
  type InferenceFixture,
} from '../helpers/inference';
import { getText, listKeys } from '../helpers/local-s3';

/**
 * SignedInvoker (the inference Lambda's InvokeEndpoint) against the SDK's own client: the same answers and the
 * same errors from the real local endpoint server, a signature that an independent SigV4 verifier accepts (and
 * refuses with the wrong key), and the SDK's standard-mode retry rules against scripted failures.
 */

const REGION = 'us-east-1';
const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

function csvRequest(endpointName: string, csv: string, inferenceId?: string): InvokeRequest {
  return {
    endpointName,
    contentType: 'text/csv',
    accept: 'text/csv',
    body: Buffer.from(csv, 'utf8'),
    ...(inferenceId !== undefined ? { inferenceId } : {}),
  };
}

async function settle(invoker: EndpointInvoker, r: InvokeRequest): Promise<{ ok?: string; err?: unknown }> {
  try {
    return { ok: Buffer.from((await invoker.invoke(r)).body).toString('utf8') };
  } catch (err) {
    return { err };
  }
}

async function listen(handle: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void) {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function invokerTo(url: string, options: Partial<SignedInvokerOptions> = {}) {
  const sleeps: number[] = [];
  const invoker = new SignedInvoker({
    clientConfig: { endpoint: url, region: REGION, credentials: CREDENTIALS },
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...options,
  });
  return { invoker, sleeps };
}

describe('against the local endpoint server, beside the SDK client', () => {
  let f: InferenceFixture;
  let signed: SignedInvoker;
  let sdk: EndpointInvoker;
  let client: SageMakerRuntimeClient;
  // Rows in the churn model's 8 encoded features.
  const rows = '0.5,12,70.5,2,0,1,0,1\n0.1,3,20,0,1,0,0,0\n';

  beforeAll(async () => {
    f = await startInferenceFixture();
    signed = new SignedInvoker({
      clientConfig: { endpoint: f.runtimeUrl, region: REGION, credentials: CREDENTIALS },
      maxAttempts: 1,
    });
    client = new SageMakerRuntimeClient({
      endpoint: f.runtimeUrl,
      region: REGION,
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    sdk = sdkInvoker(client);
  }, 60_000);

  afterAll(async () => {
    signed?.destroy();
    client?.destroy();
    await f?.stop();
  });

  it('the same predictions and content type', async () => {
    const a = await signed.invoke(csvRequest(ENDPOINT, rows));
    const b = await sdk.invoke(csvRequest(ENDPOINT, rows));
    expect(Buffer.from(a.body).toString()).toBe(Buffer.from(b.body).toString());
    expect(Buffer.from(a.body).toString().trim().split('\n')).toHaveLength(2);
    expect(a.contentType).toBe(b.contentType);
    expect(a.contentType).toMatch(/^text\/csv/);
  });

  it('the InferenceId reaches the capture record', async () => {
    await signed.invoke(csvRequest(CAPTURED, rows, 'request-42'));
    await f.writer.flush();
    const keys = await listKeys(f.s3.s3, BUCKET, `capture/${CAPTURED}/AllTraffic/`);
    const lines = (await Promise.all(keys.map((k) => getText(f.s3.s3, BUCKET, k))))
      .join('')
      .trim()
      .split('\n');
    const ids = lines.map(
      (l) => (JSON.parse(l) as { eventMetadata: { inferenceId?: string } }).eventMetadata.inferenceId,
    );
    expect(ids).toContain('request-42');
  });

  it.each([
    ['an endpoint that does not exist (ValidationError 400)', 'no-such-endpoint', rows],
    ['rows of the wrong width (ModelError 424 wrapping the container 400)', ENDPOINT, '1,2,3\n'],
    ['a payload the container cannot parse (ModelError 424 wrapping 415)', ENDPOINT, 'a,b\n'],
  ])('%s: the same error fields and the same InferenceError', async (_, name, csv) => {
    const a = await settle(signed, csvRequest(name, csv));
    const b = await settle(sdk, csvRequest(name, csv));
    expect(a.ok).toBeUndefined();
    expect(b.ok).toBeUndefined();
    const ea = a.err as RuntimeServiceError;
    const eb = b.err as RuntimeServiceError;
    expect(ea).toBeInstanceOf(RuntimeServiceError);
    expect(ea.name).toBe(eb.name);
    expect(ea.message).toBe(eb.message);
    expect(ea.$metadata.httpStatusCode).toBe(eb.$metadata.httpStatusCode);
    expect(ea.$fault).toBe(eb.$fault);
    expect(ea.OriginalStatusCode).toBe(eb.OriginalStatusCode);
    expect(ea.OriginalMessage).toBe(eb.OriginalMessage);
    expect(invokeError(name, ea).body()).toEqual(invokeError(name, eb).body());
  });
});

describe('signing', () => {
  it('an independent SigV4 verifier (service sagemaker) accepts the request; the path, headers and body are as sent', async () => {
    const seen: Array<{ verdict: unknown; path: string; headers: Record<string, string>; body: string }> = [];
    const server = await listen((req, body, res) => {
      const headers: Record<string, string[]> = {};
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        (headers[req.rawHeaders[i].toLowerCase()] ??= []).push(req.rawHeaders[i + 1]);
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const verdict = verifySigV4(
        {
          method: req.method ?? 'GET',
          path: q < 0 ? url : url.slice(0, q),
          query: q < 0 ? '' : url.slice(q + 1),
          headers,
          body,
        },
        { region: REGION, credentials: [{ ...CREDENTIALS, sessionToken: 'token-1' }], service: 'sagemaker' },
      );
      seen.push({
        verdict,
        path: url,
        headers: req.headers as Record<string, string>,
        body: body.toString(),
      });
      if ('responseType' in verdict) {
        res.writeHead(403, { 'x-amzn-ErrorType': verdict.errorType, 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: verdict.message }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8' });
      res.end('0.25\n');
    });
    const good = invokerTo(server.url, {
      clientConfig: {
        endpoint: server.url,
        region: REGION,
        credentials: { ...CREDENTIALS, sessionToken: 'token-1' },
      },
    });
    const bad = invokerTo(server.url, {
      clientConfig: {
        endpoint: server.url,
        region: REGION,
        credentials: { ...CREDENTIALS, secretAccessKey: 'not-the-secret', sessionToken: 'token-1' },
      },
    });
    try {
      const out = await good.invoker.invoke(csvRequest('my-endpoint-1', '1,2\n', 'id with spaces'));
      expect(Buffer.from(out.body).toString()).toBe('0.25\n');
      expect(seen[0].verdict).toEqual({ accessKeyId: CREDENTIALS.accessKeyId });
      expect(seen[0].path).toBe('/endpoints/my-endpoint-1/invocations');
      expect(seen[0].body).toBe('1,2\n');
      expect(seen[0].headers).toMatchObject({
        'content-type': 'text/csv',
        accept: 'text/csv',
        'x-amzn-sagemaker-inference-id': 'id with spaces',
        'x-amz-security-token': 'token-1',
      });
      const signedHeaders = /SignedHeaders=([^,]+)/.exec(seen[0].headers.authorization)![1].split(';');
      expect(signedHeaders).toEqual(
        expect.arrayContaining([
          'host',
          'content-type',
          'accept',
          'x-amz-date',
          'x-amzn-sagemaker-inference-id',
        ]),
      );
      expect(seen[0].headers.authorization).toContain(`/${REGION}/sagemaker/aws4_request`);

      const refused = await settle(bad.invoker, csvRequest('my-endpoint-1', '1,2\n'));
      expect(seen[1].verdict).toMatchObject({ errorType: 'InvalidSignatureException' });
      expect(refused.err).toMatchObject({
        name: 'InvalidSignatureException',
        $metadata: { httpStatusCode: 403 },
      });
      // A refused signature is not retried.
      expect(seen).toHaveLength(2);
    } finally {
      good.invoker.destroy();
      bad.invoker.destroy();
      await server.close();
    }
  });
});

describe('retries (the SDK standard mode rules)', () => {
  type Step = (res: ServerResponse, req: IncomingMessage) => void;
  const error =
    (status: number, name: string | undefined, body: string): Step =>
    (res) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        ...(name !== undefined ? { 'x-amzn-ErrorType': name } : {}),
      });
      res.end(body);
    };
  const ok: Step = (res) => {
    res.writeHead(200, { 'content-type': 'text/csv' });
    res.end('0.5\n');
  };
  const reset: Step = (_res, req) => req.socket.destroy();
  const silent: Step = () => undefined;
  const throttled = error(400, 'ThrottlingException', '{"message":"Rate exceeded"}');

  async function run(steps: Step[], options: Partial<SignedInvokerOptions> = {}) {
    let n = 0;
    const server = await listen((req, _body, res) =>
      (steps[Math.min(n++, steps.length - 1)] ?? ok)(res, req),
    );
    const { invoker, sleeps } = invokerTo(server.url, options);
    try {
      const result = await settle(invoker, csvRequest('e', '1\n'));
      return { ...result, attempts: n, sleeps };
    } finally {
      invoker.destroy();
      await server.close();
    }
  }

  it('a 503 then an answer: one retry after a transient backoff (base 100 ms, full jitter)', async () => {
    const r = await run([error(503, 'ServiceUnavailable', '{"message":"busy"}'), ok]);
    expect(r).toMatchObject({ ok: '0.5\n', attempts: 2, sleeps: [50] });
  });

  it('throttling until the attempts run out: ThrottlingException, with throttling backoff (base 500 ms)', async () => {
    const r = await run([throttled], { maxAttempts: 3 });
    expect(r.attempts).toBe(3);
    expect(r.sleeps).toEqual([250, 500]);
    expect(r.err).toMatchObject({
      name: 'ThrottlingException',
      message: 'Rate exceeded',
      $metadata: { attempts: 3 },
    });
    expect(invokeError('e', r.err).code).toBe('throttled');
  });

  it('a ModelError (424) and a ValidationError (400) are answers, not retried', async () => {
    const model = await run([
      error(
        424,
        'ModelError',
        '{"ErrorCode":"CLIENT_ERROR_FROM_MODEL","Message":"Received client error (400) from primary","OriginalStatusCode":400,"OriginalMessage":"bad rows","LogStreamArn":"arn:aws:logs:x"}',
      ),
    ]);
    expect(model.attempts).toBe(1);
    expect(model.err).toMatchObject({
      name: 'ModelError',
      $fault: 'client',
      OriginalStatusCode: 400,
      OriginalMessage: 'bad rows',
      LogStreamArn: 'arn:aws:logs:x',
    });
    expect(invokeError('e', model.err).message).toBe('InvokeEndpoint e failed: ModelError: bad rows');
    const validation = await run([
      error(400, 'ValidationError:http://internal.amazon.com/coral/', '{"message":"no"}'),
    ]);
    expect(validation).toMatchObject({ attempts: 1, err: { name: 'ValidationError', message: 'no' } });
  });

  it('a connection reset before the answer is retried', async () => {
    const r = await run([reset, ok]);
    expect(r).toMatchObject({ ok: '0.5\n', attempts: 2 });
  });

  it('an answer that never comes: TimeoutError after the socket timeout, retried', async () => {
    const r = await run([silent], { socketTimeoutMs: 50, maxAttempts: 2 });
    expect(r.attempts).toBe(2);
    expect(r.err).toMatchObject({ name: 'TimeoutError' });
  });

  it('a 502 that is not JSON (a proxy page) is retried and named by its status', async () => {
    const page: Step = (res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Bad Gateway</html>');
    };
    const r = await run([page], { maxAttempts: 2 });
    expect(r.attempts).toBe(2);
    expect(r.err).toMatchObject({
      name: 'Http502Error',
      $fault: 'server',
      $metadata: { httpStatusCode: 502 },
    });
  });
});

describe('configuration', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('the endpoint comes from the SDK rules: region, partition, AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, explicit', async () => {
    delete process.env.AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME;
    delete process.env.AWS_ENDPOINT_URL;
    const at = (clientConfig: SignedInvokerOptions['clientConfig']) => {
      const i = new SignedInvoker({ clientConfig });
      return i.endpoint().finally(() => i.destroy());
    };
    await expect(at({ region: 'eu-west-1' })).resolves.toBe(
      'https://runtime.sagemaker.eu-west-1.amazonaws.com/',
    );
    await expect(at({ region: 'cn-north-1' })).resolves.toBe(
      'https://runtime.sagemaker.cn-north-1.amazonaws.com.cn/',
    );
    await expect(at({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:1234' })).resolves.toBe(
      'http://127.0.0.1:1234/',
    );
    process.env.AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME = 'http://127.0.0.1:4321';
    await expect(at({ region: 'eu-west-1' })).resolves.toBe('http://127.0.0.1:4321/');
  });

  it('refuses nonsense settings', () => {
    expect(() => new SignedInvoker({ maxAttempts: 0 })).toThrow(
      'maxAttempts must be a whole number >= 1, got 0',
    );
    expect(() => new SignedInvoker({ socketTimeoutMs: 0 })).toThrow('socketTimeoutMs must be > 0, got 0');
  });

  it('throttling (the longer backoff base) is told by name or by 429, as the rest of the project tells it', () => {
    const status = (httpStatusCode: number) => ({ name: 'X', $metadata: { httpStatusCode } });
    expect(
      isThrottling(new RuntimeServiceError('ThrottlingException', 'm', { httpStatusCode: 400, attempts: 1 })),
    ).toBe(true);
    expect(isThrottling(status(429))).toBe(true);
    expect(
      isThrottling(new RuntimeServiceError('ModelError', 'm', { httpStatusCode: 424, attempts: 1 })),
    ).toBe(false);
    expect(isThrottling(status(503))).toBe(false);
    expect(isThrottling(null)).toBe(false);
  });

  it('error names as restJson1 gives them', () => {
    expect(errorName('ModelError:http://internal.amazon.com/coral/com.amazon.sagemaker.runtime/', {})).toBe(
      'ModelError',
    );
    expect(errorName(undefined, { __type: 'com.amazon.sagemaker#ValidationError' })).toBe('ValidationError');
    expect(errorName(undefined, { code: 'ThrottlingException' })).toBe('ThrottlingException');
    expect(errorName(undefined, {})).toBe('UnknownError');
  });
});
