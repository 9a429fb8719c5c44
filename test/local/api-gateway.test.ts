import { execFile, execFileSync } from 'node:child_process';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { App, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import {
  matchRoute,
  restApisFromTemplates,
  startApiGateway,
  validateJsonSchema,
  verifySigV4,
  type ApiGatewayServer,
  type ApiRequestRecord,
  type MethodDefinition,
  type RestApiDefinition,
} from '../../lib/local/api-gateway';
import { LocalTemplates, type CfnTemplate } from '../../lib/local/template';

/**
 * The local API Gateway (issue 6): a REST API read from a synthesized template of this test's own (IAM auth,
 * Lambda proxy integration, request validator + model, stage throttling and access logs), served on loopback.
 * Requests are signed with @smithy/signature-v4 (what the SDKs and the typed client use) and with curl's
 * --aws-sigv4, independent implementations of the signer that the gateway's verifier must agree with.
 */

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const CREDENTIALS = { accessKeyId: 'LOCALKEY', secretAccessKey: 'local-secret' };

function synthesizeApi(): CfnTemplate {
  const app = new App();
  const stack = new Stack(app, 'ApiTest', { stackName: 'api-test' });
  const fn = new lambda.Function(stack, 'Predict', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({})'),
  });
  const api = new apigw.RestApi(stack, 'Api', {
    restApiName: 'test-inference',
    cloudWatchRole: false,
    deployOptions: {
      stageName: 'prod',
      throttlingRateLimit: 20,
      throttlingBurstLimit: 10,
      tracingEnabled: true,
      accessLogDestination: new apigw.LogGroupLogDestination(new logs.LogGroup(stack, 'AccessLogs')),
      accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
    },
  });
  const model = api.addModel('Body', {
    contentType: 'application/json',
    schema: {
      schema: apigw.JsonSchemaVersion.DRAFT4,
      type: apigw.JsonSchemaType.OBJECT,
      required: ['records'],
      properties: {
        records: {
          type: apigw.JsonSchemaType.ARRAY,
          minItems: 1,
          maxItems: 3,
          items: { type: apigw.JsonSchemaType.OBJECT },
        },
      },
    },
  });
  const validator = api.addRequestValidator('Validator', { validateRequestBody: true });
  api.addGatewayResponse('Throttled', {
    type: apigw.ResponseType.THROTTLED,
    statusCode: '429',
    responseHeaders: { 'Retry-After': "'1'" },
    templates: { 'application/json': '{"code":"throttled","message":$context.error.messageString}' },
  });
  const predict = api.root.addResource('v1').addResource('predict');
  predict.addMethod('POST', new apigw.LambdaIntegration(fn), {
    authorizationType: apigw.AuthorizationType.IAM,
    requestValidator: validator,
    requestModels: { 'application/json': model },
  });
  // An open method with a path parameter, to check routing and the event's pathParameters.
  api.root
    .addResource('items')
    .addResource('{id}')
    .addMethod('GET', new apigw.LambdaIntegration(fn), { authorizationType: apigw.AuthorizationType.NONE });
  return app.synth().getStackByName('api-test').template as CfnTemplate;
}

let definition: RestApiDefinition;
let server: ApiGatewayServer;
let url: string;
const invocations: Array<{ arn: string; event: APIGatewayProxyEvent }> = [];
const requests: ApiRequestRecord[] = [];
const accessLog: string[] = [];
/** What the fake function does next (default: echo the records count). */
let behaviour: (event: APIGatewayProxyEvent) => Promise<unknown> = defaultBehaviour;

async function defaultBehaviour(event: APIGatewayProxyEvent): Promise<unknown> {
  const body = event.body ? (JSON.parse(event.body) as { records?: unknown[] }) : {};
  return {
    statusCode: 200,
    headers: { 'Content-Type': 'application/json', 'X-Handled-By': 'fake' },
    body: JSON.stringify({ count: body.records?.length ?? 0, path: event.pathParameters }),
  };
}

const signer = (credentials = CREDENTIALS, region = REGION, service = 'execute-api') =>
  new SignatureV4({ credentials, region, service, sha256: Sha256 });

/** Signs and sends a request the way the SDKs do; `mutate` changes it after signing. */
async function send(
  path: string,
  options: {
    method?: string;
    body?: string;
    sign?: SignatureV4 | false;
    signingDate?: Date;
    mutate?: (r: { headers: Record<string, string>; body?: string }) => void;
  } = {},
): Promise<{ status: number; headers: Headers; text: string; json: () => unknown }> {
  const target = new URL(path, url);
  const method = options.method ?? 'POST';
  let headers: Record<string, string> = { host: target.host };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.sign !== false) {
    const signed = await (options.sign ?? signer()).sign(
      new HttpRequest({
        method,
        protocol: 'http:',
        hostname: target.hostname,
        port: Number(target.port),
        path: target.pathname,
        headers,
        body: options.body,
      }),
      { signingDate: options.signingDate },
    );
    headers = signed.headers as Record<string, string>;
  }
  const r = { headers: { ...headers }, body: options.body };
  options.mutate?.(r);
  delete r.headers.host;
  const res = await fetch(target, { method, headers: r.headers, body: r.body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

const records = (n: number) => ({ records: Array.from({ length: n }, (_, i) => ({ tenure_months: i })) });

beforeAll(async () => {
  const template = synthesizeApi();
  const stacks = [{ stackName: 'api-test', template }];
  const local = new LocalTemplates(stacks);
  [definition] = restApisFromTemplates(local);
  // The stage's own throttling (20/s) is tested on a server of its own; this one must not throttle the other tests.
  server = await startApiGateway({
    api: {
      ...definition,
      stages: definition.stages.map((s) => ({ ...s, throttle: { rateLimit: 10_000, burstLimit: 5_000 } })),
    },
    invoke: (arn, event) => {
      invocations.push({ arn, event });
      return behaviour(event);
    },
    credentials: [CREDENTIALS],
    region: REGION,
    accountId: ACCOUNT,
    onRequest: (r) => requests.push(r),
    onAccessLog: (line) => accessLog.push(line),
  });
  url = server.url('prod');
});

afterAll(async () => {
  await server?.close();
});

beforeEach(async () => {
  invocations.length = 0;
  requests.length = 0;
  accessLog.length = 0;
  behaviour = defaultBehaviour;
});

describe('reading the template', () => {
  it('takes the methods, integration, validator model, stage throttling and permissions', () => {
    expect(definition.name).toBe('test-inference');
    expect(definition.restApiId).toMatch(/^[0-9a-f]{10}$/);
    const predict = definition.methods.find((m) => m.resourcePath === '/v1/predict')!;
    expect(predict).toMatchObject({
      httpMethod: 'POST',
      authorizationType: 'AWS_IAM',
      integrationType: 'AWS_PROXY',
      functionArn: expect.stringMatching(/^arn:aws:lambda:us-east-1:000000000000:function:api-test-Predict/),
      timeoutMillis: 29_000,
      validateBody: true,
    });
    expect(predict.models['application/json']).toMatchObject({
      required: ['records'],
      properties: { records: { maxItems: 3 } },
    });
    expect(definition.methods.find((m) => m.resourcePath === '/items/{id}')).toMatchObject({
      httpMethod: 'GET',
      authorizationType: 'NONE',
    });
    expect(definition.stages).toEqual([
      expect.objectContaining({
        stageName: 'prod',
        throttle: { rateLimit: 20, burstLimit: 10 },
        tracingEnabled: true,
        accessLogFormat: expect.stringContaining('$context.requestId'),
      }),
    ]);
    // CDK grants the stage and the console's test-invoke-stage.
    expect(definition.permissions.map((p) => p.sourceArn)).toEqual(
      expect.arrayContaining([
        `arn:aws:execute-api:${REGION}:${ACCOUNT}:${definition.restApiId}/prod/POST/v1/predict`,
        `arn:aws:execute-api:${REGION}:${ACCOUNT}:${definition.restApiId}/test-invoke-stage/POST/v1/predict`,
      ]),
    );
  });

  it('routes literal segments before parameters, greedy parameters last', () => {
    const m = (resourcePath: string, httpMethod = 'GET') =>
      ({ resourcePath, httpMethod }) as MethodDefinition;
    const methods = [m('/a/{id}'), m('/a/me'), m('/files/{path+}'), m('/x', 'ANY'), m('/x', 'POST')];
    expect(matchRoute(methods, '/a/me', 'GET')?.method.resourcePath).toBe('/a/me');
    expect(matchRoute(methods, '/a/42', 'GET')).toMatchObject({ pathParameters: { id: '42' } });
    expect(matchRoute(methods, '/files/x/y%20z', 'GET')).toMatchObject({ pathParameters: { path: 'x/y z' } });
    expect(matchRoute(methods, '/x', 'POST')?.method.httpMethod).toBe('POST');
    expect(matchRoute(methods, '/x', 'DELETE')?.method.httpMethod).toBe('ANY');
    expect(matchRoute(methods, '/a', 'GET')).toBeUndefined();
    expect(matchRoute(methods, '/a/1/2', 'GET')).toBeUndefined();
  });
});

describe('a signed request', () => {
  it('reaches the function as a proxy event, and its result comes back as HTTP', async () => {
    const body = JSON.stringify(records(2));
    const r = await send('v1/predict', { body });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ count: 2, path: null });
    expect(r.headers.get('x-handled-by')).toBe('fake');
    expect(r.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers.get('x-amzn-trace-id')).toMatch(/^Root=1-/);
    expect(invocations).toHaveLength(1);
    const { arn, event } = invocations[0];
    expect(arn).toBe(definition.methods.find((m) => m.resourcePath === '/v1/predict')!.functionArn);
    expect(event).toMatchObject({
      resource: '/v1/predict',
      path: '/v1/predict',
      httpMethod: 'POST',
      body,
      isBase64Encoded: false,
      queryStringParameters: null,
      pathParameters: null,
      stageVariables: null,
      requestContext: {
        accountId: ACCOUNT,
        apiId: definition.restApiId,
        stage: 'prod',
        path: '/prod/v1/predict',
        resourcePath: '/v1/predict',
        httpMethod: 'POST',
        requestId: r.headers.get('x-amzn-requestid'),
        identity: { accessKey: 'LOCALKEY', caller: 'LOCALKEY', sourceIp: '127.0.0.1' },
      },
    });
    // Lambda receives the event as JSON: it holds only JSON values (null, never undefined), as on AWS.
    expect(JSON.parse(JSON.stringify(event))).toStrictEqual(event);
    expect(event.headers['X-Amz-Date'] ?? event.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(Object.values(event.multiValueHeaders).every(Array.isArray)).toBe(true);
    expect(requests[0]).toMatchObject({ apiName: 'test-inference', stage: 'prod', status: 200 });
    expect(requests[0].integrationLatencyMs).toBeGreaterThanOrEqual(0);
    const log = JSON.parse(accessLog[0]) as Record<string, string>;
    expect(log).toMatchObject({
      requestId: r.headers.get('x-amzn-requestid'),
      httpMethod: 'POST',
      resourcePath: '/v1/predict',
      status: '200',
      caller: 'LOCALKEY',
    });
  });

  it('open methods need no signature and get path parameters', async () => {
    const r = await send('items/abc%20d', { method: 'GET', sign: false });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ count: 0, path: { id: 'abc d' } });
    expect(invocations[0].event.requestContext.identity.accessKey).toBeNull();
  });
});

describe('what API Gateway refuses before the function', () => {
  const refused = async (
    r: Awaited<ReturnType<typeof send>>,
    status: number,
    errorType: string,
    message: RegExp,
  ) => {
    expect({ status: r.status, errorType: r.headers.get('x-amzn-errortype') }).toEqual({ status, errorType });
    expect((r.json() as { message: string }).message).toMatch(message);
    expect(invocations).toHaveLength(0);
  };

  it('an unsigned request: 403 Missing Authentication Token', async () => {
    await refused(
      await send('v1/predict', { body: JSON.stringify(records(1)), sign: false }),
      403,
      'MissingAuthenticationTokenException',
      /^Missing Authentication Token$/,
    );
  });

  it('an unknown path, method or stage, signed or not: 403 Missing Authentication Token', async () => {
    await refused(
      await send('v1/nope', { body: '{}' }),
      403,
      'MissingAuthenticationTokenException',
      /Missing Authentication Token/,
    );
    await refused(
      await send('v1/predict', { method: 'GET' }),
      403,
      'MissingAuthenticationTokenException',
      /Missing Authentication Token/,
    );
    await refused(
      await send(new URL('/dev/v1/predict', url).href, { body: '{}' }),
      403,
      'MissingAuthenticationTokenException',
      /Missing Authentication Token/,
    );
  });

  it('a wrong secret key: 403 signature mismatch, with the canonical request', async () => {
    const r = await send('v1/predict', {
      body: JSON.stringify(records(1)),
      sign: signer({ accessKeyId: 'LOCALKEY', secretAccessKey: 'wrong' }),
    });
    await refused(r, 403, 'InvalidSignatureException', /^The request signature we calculated does not match/);
    expect((r.json() as { message: string }).message).toContain(
      "should have been\n'POST\n/prod/v1/predict\n",
    );
  });

  it('a body changed after signing: 403 signature mismatch', async () => {
    await refused(
      await send('v1/predict', {
        body: JSON.stringify(records(1)),
        mutate: (x) => (x.body = JSON.stringify(records(2))),
      }),
      403,
      'InvalidSignatureException',
      /does not match the signature you provided/,
    );
  });

  it('an unknown access key: 403 invalid security token', async () => {
    await refused(
      await send('v1/predict', {
        body: JSON.stringify(records(1)),
        sign: signer({ accessKeyId: 'SOMEONEELSE', secretAccessKey: 'local-secret' }),
      }),
      403,
      'UnrecognizedClientException',
      /^The security token included in the request is invalid\.$/,
    );
  });

  it('a signature for another region or service, or too old', async () => {
    const body = JSON.stringify(records(1));
    await refused(
      await send('v1/predict', { body, sign: signer(CREDENTIALS, 'eu-west-1') }),
      403,
      'InvalidSignatureException',
      /Credential should be scoped to a valid region/,
    );
    await refused(
      await send('v1/predict', { body, sign: signer(CREDENTIALS, REGION, 'lambda') }),
      403,
      'InvalidSignatureException',
      /Credential should be scoped to correct service: 'execute-api'/,
    );
    await refused(
      await send('v1/predict', { body, signingDate: new Date(Date.now() - 10 * 60_000) }),
      403,
      'InvalidSignatureException',
      /^Signature expired: \d{8}T\d{6}Z is now earlier than/,
    );
  });

  it('a malformed Authorization header: 403 incomplete signature', async () => {
    await refused(
      await send('v1/predict', {
        body: JSON.stringify(records(1)),
        mutate: (x) =>
          (x.headers.authorization =
            'AWS4-HMAC-SHA256 Credential=LOCALKEY/20260101/us-east-1/execute-api/aws4_request'),
      }),
      403,
      'IncompleteSignatureException',
      /requires 'Signature' parameter/,
    );
  });

  it('a body the model rejects: 400 Invalid request body', async () => {
    await refused(
      await send('v1/predict', { body: JSON.stringify(records(4)) }),
      400,
      'BadRequestException',
      /^Invalid request body$/,
    );
    expect(requests[0].error).toBe(
      '[array is too long: must have at most 3 elements but instance has 4 elements (at /records)]',
    );
    await refused(
      await send('v1/predict', { body: '{"rows": []}' }),
      400,
      'BadRequestException',
      /Invalid request body/,
    );
    await refused(
      await send('v1/predict', { body: 'not json' }),
      400,
      'BadRequestException',
      /Invalid request body/,
    );
  });

  it('more requests than the stage allows: 429 Too Many Requests, then served again', async () => {
    const body = JSON.stringify(records(1));
    // The template's stage: burst 10, 20 a second.
    const stage = await startApiGateway({
      api: definition,
      invoke: (_arn, event) => defaultBehaviour(event),
      credentials: [CREDENTIALS],
      region: REGION,
      accountId: ACCOUNT,
    });
    const saved = url;
    url = stage.url('prod');
    try {
      const started = performance.now();
      const burst = await Promise.all(Array.from({ length: 30 }, () => send('v1/predict', { body })));
      const refilled = ((performance.now() - started) / 1000) * 20;
      const passed = burst.filter((r) => r.status === 200).length;
      expect(passed).toBeGreaterThanOrEqual(10);
      expect(passed).toBeLessThanOrEqual(10 + Math.ceil(refilled));
      expect(passed + burst.filter((r) => r.status === 429).length).toBe(30);
      const throttled = burst.find((r) => r.status === 429)!;
      // The API's THROTTLED gateway response, from the template.
      expect(throttled.json()).toEqual({ code: 'throttled', message: 'Too Many Requests' });
      expect(throttled.headers.get('retry-after')).toBe('1');
      expect(throttled.headers.get('x-amzn-errortype')).toBe('TooManyRequestsException');
      await new Promise((r) => setTimeout(r, 100));
      expect((await send('v1/predict', { body })).status).toBe(200);
    } finally {
      url = saved;
      await stage.close();
    }
  });
});

describe('the integration', () => {
  it('a function error is 502 Internal server error', async () => {
    behaviour = () => Promise.reject(new Error('boom'));
    const r = await send('v1/predict', { body: JSON.stringify(records(1)) });
    expect({ status: r.status, body: r.json() }).toEqual({
      status: 502,
      body: { message: 'Internal server error' },
    });
    expect(requests[0].error).toMatch(/Lambda invocation failed: Error: boom/);
  });

  it('a malformed proxy result is 502', async () => {
    behaviour = () => Promise.resolve({ body: { not: 'a string' } });
    const r = await send('v1/predict', { body: JSON.stringify(records(1)) });
    expect(r.status).toBe(502);
    expect(requests[0].error).toMatch(/Malformed Lambda proxy response/);
  });

  it('without a Lambda permission for the stage, API Gateway cannot invoke it: 500', async () => {
    const denied = await startApiGateway({
      api: {
        ...definition,
        permissions: definition.permissions.filter((p) => !p.sourceArn?.includes('/prod/')),
      },
      invoke: () => Promise.resolve({ statusCode: 200, body: '{}' }),
      credentials: [CREDENTIALS],
      region: REGION,
      accountId: ACCOUNT,
    });
    try {
      const res = await fetch(`${denied.url('prod')}items/1`);
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ message: 'Internal server error' });
    } finally {
      await denied.close();
    }
  });
});

describe('gateway responses', () => {
  it('DEFAULT_4XX and DEFAULT_5XX shape every error API Gateway answers itself', async () => {
    const custom = await startApiGateway({
      api: {
        ...definition,
        gatewayResponses: {
          DEFAULT_4XX: {
            headers: { 'X-Api': 'devmlops' },
            template:
              '{"code":"request-rejected","type":"$context.error.responseType","message":$context.error.messageString}',
          },
          DEFAULT_5XX: {
            headers: {},
            template:
              '{"code":"gateway-error","type":"$context.error.responseType","message":$context.error.messageString}',
          },
          BAD_REQUEST_BODY: {
            statusCode: 400,
            headers: {},
            template: '{"code":"invalid-request","detail":"$context.error.validationErrorString"}',
          },
        },
      },
      invoke: () => Promise.reject(new Error('down')),
      credentials: [CREDENTIALS],
      region: REGION,
      accountId: ACCOUNT,
    });
    try {
      const unsigned = await fetch(`${custom.url('prod')}v1/predict`, { method: 'POST', body: '{}' });
      expect(unsigned.status).toBe(403);
      expect(unsigned.headers.get('x-api')).toBe('devmlops');
      expect(await unsigned.json()).toEqual({
        code: 'request-rejected',
        type: 'MISSING_AUTHENTICATION_TOKEN',
        message: 'Missing Authentication Token',
      });
      const failing = await fetch(`${custom.url('prod')}items/1`);
      expect(failing.status).toBe(502);
      expect(await failing.json()).toEqual({
        code: 'gateway-error',
        type: 'INTEGRATION_FAILURE',
        message: 'Internal server error',
      });
      const saved = url;
      url = custom.url('prod');
      try {
        const bad = await send('v1/predict', { body: JSON.stringify(records(4)) });
        expect({ status: bad.status, body: bad.json() }).toEqual({
          status: 400,
          body: {
            code: 'invalid-request',
            detail:
              '[array is too long: must have at most 3 elements but instance has 4 elements (at /records)]',
          },
        });
      } finally {
        url = saved;
      }
    } finally {
      await custom.close();
    }
  });
});

describe('pieces', () => {
  it('validates JSON schema with the messages API Gateway logs', () => {
    const schema = {
      type: 'object',
      required: ['records'],
      additionalProperties: false,
      properties: {
        records: { type: 'array', minItems: 1, items: { type: 'object' } },
        n: { type: 'integer', minimum: 0, maximum: 9 },
        s: { type: 'string', enum: ['a', 'b'] },
      },
    };
    expect(validateJsonSchema(schema, { records: [{}] })).toEqual([]);
    expect(validateJsonSchema(schema, { records: [] })).toEqual([
      'array is too short: must have at least 1 elements but instance has 0 elements (at /records)',
    ]);
    expect(validateJsonSchema(schema, { n: 1.5, s: 'c', x: 1 })).toEqual([
      'object has missing required properties (["records"])',
      'instance type (number) does not match any allowed primitive type (allowed: ["integer"]) (at /n)',
      'instance value ("c") not found in enum (possible values: ["a","b"]) (at /s)',
      'object instance has properties which are not allowed by the schema: ["x"]',
    ]);
    expect(validateJsonSchema(schema, { records: [1] })).toEqual([
      'instance type (integer) does not match any allowed primitive type (allowed: ["object"]) (at /records/0)',
    ]);
  });

  it('verifies a signature made by the AWS SDK signer, independently of this module', async () => {
    const body = Buffer.from('{"records":[{"a":1}]}');
    const signed = await signer().sign(
      new HttpRequest({
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 8080,
        path: '/prod/v1/predict',
        query: { b: '2 3', a: ['1', 'x/y'] },
        headers: { host: '127.0.0.1:8080', 'content-type': 'application/json', 'x-custom': '  a   b ' },
        body,
      }),
    );
    const headers = Object.fromEntries(
      Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), [v]]),
    );
    const request = { method: 'POST', path: '/prod/v1/predict', query: 'b=2%203&a=x%2Fy&a=1', headers, body };
    expect(verifySigV4(request, { region: REGION, credentials: [CREDENTIALS] })).toEqual({
      accessKeyId: 'LOCALKEY',
    });
    expect(
      verifySigV4({ ...request, query: 'b=2%203&a=1' }, { region: REGION, credentials: [CREDENTIALS] }),
    ).toMatchObject({
      errorType: 'InvalidSignatureException',
    });
  });
});

const hasCurl = (() => {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

(hasCurl ? describe : describe.skip)('curl --aws-sigv4 (another SigV4 implementation)', () => {
  const curl = (args: string[]) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      execFile('curl', ['-s', '-o', '-', '-w', '\n%{http_code}', ...args], (err, stdout) => {
        if (err) return reject(err);
        const i = stdout.lastIndexOf('\n');
        resolve({ status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) });
      });
    });

  it('is accepted with the right keys and refused with a wrong one', async () => {
    const body = JSON.stringify(records(2));
    const ok = await curl([
      '--aws-sigv4',
      `aws:amz:${REGION}:execute-api`,
      '--user',
      `${CREDENTIALS.accessKeyId}:${CREDENTIALS.secretAccessKey}`,
      '-H',
      'content-type: application/json',
      '--data',
      body,
      `${url}v1/predict`,
    ]);
    expect(ok).toEqual({ status: 200, body: JSON.stringify({ count: 2, path: null }) });
    const wrong = await curl([
      '--aws-sigv4',
      `aws:amz:${REGION}:execute-api`,
      '--user',
      `${CREDENTIALS.accessKeyId}:nope`,
      '-H',
      'content-type: application/json',
      '--data',
      body,
      `${url}v1/predict`,
    ]);
    expect(wrong.status).toBe(403);
  });
});
