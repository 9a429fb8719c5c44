import { createServer, request, type Server } from 'node:http';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { FeatureSpec } from '../../lambdas/core/encoding';
import { POINTER_KEY, pointerJson, type CurrentPointer } from '../../lambdas/core/pointer';
import { readProjectConfig } from '../../lib/config';
import { listenOnLoopback } from '../../lib/local/aws-api-server';
import { CaptureWriter, type CaptureConfig } from '../../lib/local/capture';
import { LocalClock } from '../../lib/local/clock';
import {
  startEndpointServer,
  type EndpointServer,
  type ServingEndpointLike,
  type ServingModel,
  type ServingVariantLike,
} from '../../lib/local/endpoint-server';
import { parseXgbCsv, trainXgboost, type LocalModel } from '../../lib/local/xgboost';
import { churnCsv, churnSpec } from './churn';
import { startTestS3, type TestS3 } from './local-s3';

/**
 * What the inference tests run against: local S3 holding current.json and the feature specs, the local
 * endpoint server serving real XGBoost models (trained here by the local built-in algorithm), and a loopback
 * proxy in front of the endpoint that counts every request reaching it and can answer as a throttling
 * endpoint or a container with unreadable output does.
 */

export const BUCKET = 'test-artifacts';
export const ENDPOINT = 'devmlops-endpoint';
/** An endpoint whose variant captures (what a realtime endpoint writes for a request). */
export const CAPTURED = 'devmlops-captured';
export const ACCOUNT = '123456789012';
export const GROUP_ARN = `arn:aws:sagemaker:us-east-1:${ACCOUNT}:model-package/devmlops-churn`;
export const schema = readProjectConfig().dataset;
export { churnSpec as spec1 };

/** Model v2's feature spec: one more plan, "enterprise". */
export const spec2: FeatureSpec = {
  ...churnSpec,
  features: churnSpec.features.map((f) =>
    f.name === 'plan' ? { ...f, categories: [...f.categories!, 'enterprise'] } : f,
  ),
};

export type ProxyMode = 'pass' | 'throttle' | 'garbage';

export interface InferenceFixture {
  readonly s3: TestS3;
  readonly model1: LocalModel;
  readonly model2: LocalModel;
  readonly writer: CaptureWriter;
  /** The proxy's URL: the runtime endpoint override. */
  readonly runtimeUrl: string;
  /** A runtime client to the proxy, one attempt per call. */
  readonly runtime: SageMakerRuntimeClient;
  /** The model each endpoint serves; undefined: the endpoint does not exist. */
  readonly serving: Record<string, ServingModel | undefined>;
  /** What the proxy does with the next requests. */
  mode: ProxyMode;
  /** Requests that reached the proxy (InvokeEndpoint calls, retries included). */
  readonly invocations: number;
  /** Writes model `version`'s feature spec and points current.json at it. */
  deploy(version: 1 | 2): Promise<void>;
  stop(): Promise<void>;
}

const captureConfig: CaptureConfig = {
  destinationS3Uri: `s3://${BUCKET}/capture`,
  samplingPercentage: 100,
  input: true,
  output: true,
  csvContentTypes: ['text/csv'],
};

async function train(numRound: string, seed: number): Promise<LocalModel> {
  const { model } = await trainXgboost(parseXgbCsv(churnCsv(1500, seed)), undefined, {
    num_round: numRound,
    objective: 'binary:logistic',
    max_depth: '4',
    eta: '0.3',
  });
  return model;
}

export function pointer(version: number, execution: string): CurrentPointer {
  return {
    modelPackageArn: `${GROUP_ARN}/${version}`,
    jobName: `job-${version}`,
    endpointName: ENDPOINT,
    endpointConfigName: `config-${version}`,
    baselineUri: `s3://${BUCKET}/training/${execution}/baseline.json`,
    featureSpecUri: `s3://${BUCKET}/training/${execution}/feature-spec.json`,
    metricName: 'validation:auc',
    metric: 0.8,
    execution,
    deployedAt: '2026-03-01T09:00:00.000Z',
    cooldownUntil: '2026-03-01T09:00:00.000Z',
  };
}

export async function startInferenceFixture(): Promise<InferenceFixture> {
  const s3 = await startTestS3([BUCKET]);
  const [model1, model2] = await Promise.all([train('12', 1), train('4', 2)]);
  const serving: Record<string, ServingModel | undefined> = { [ENDPOINT]: model1, [CAPTURED]: model1 };
  const clock = new LocalClock({ start: new Date('2026-03-01T10:15:00.000Z') });
  const writer = new CaptureWriter({ s3: s3.s3, clock, flushMilliseconds: 0 });
  const resolve = (name: string): ServingEndpointLike | undefined => {
    const model = serving[name];
    if (!model) return undefined;
    const variant: ServingVariantLike = {
      variantName: 'AllTraffic',
      modelName: `model-${name}`,
      model,
      ...(name === CAPTURED ? { capture: captureConfig } : {}),
    };
    return {
      endpointName: name,
      endpointConfigName: `${name}-config`,
      status: 'InService',
      pick: () => variant,
    };
  };
  const endpointServer: EndpointServer = await startEndpointServer({
    resolve,
    capture: writer,
    accountId: ACCOUNT,
    region: 'us-east-1',
  });

  const state = { mode: 'pass' as ProxyMode, invocations: 0 };
  const proxy: Server = createServer((req, res) => {
    state.invocations++;
    if (state.mode === 'throttle') {
      req.resume();
      // What the runtime answers when the endpoint is over its request limit.
      const body = JSON.stringify({ message: 'Rate exceeded' });
      res.writeHead(400, {
        'Content-Type': 'application/json',
        'x-amzn-ErrorType': 'ThrottlingException',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    if (state.mode === 'garbage') {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Length': 3 });
      res.end('abc');
      return;
    }
    const upstream = request(
      new URL(req.url ?? '/', endpointServer.endpoint),
      { method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 500, r.headers);
        r.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  const port = await listenOnLoopback(proxy, 0);
  const runtimeUrl = `http://127.0.0.1:${port}`;
  const runtime = new SageMakerRuntimeClient({ endpoint: runtimeUrl, region: 'us-east-1', maxAttempts: 1 });

  const putJson = (key: string, body: string) =>
    s3.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));

  return {
    s3,
    model1,
    model2,
    writer,
    runtimeUrl,
    runtime,
    serving,
    get mode() {
      return state.mode;
    },
    set mode(m: ProxyMode) {
      state.mode = m;
    },
    get invocations() {
      return state.invocations;
    },
    async deploy(version) {
      const execution = `exec-${version}`;
      await putJson(
        `training/${execution}/feature-spec.json`,
        JSON.stringify(version === 1 ? churnSpec : spec2),
      );
      await putJson(POINTER_KEY, pointerJson(pointer(version, execution)));
    },
    async stop() {
      runtime.destroy();
      await new Promise<void>((done) => {
        proxy.close(() => done());
        proxy.closeAllConnections();
      });
      await endpointServer.close();
      await writer.close();
      await s3.stop();
    },
  };
}

/** An API Gateway proxy event (payload format 1.0) for POST /v1/predict. */
export function predictEvent(
  body: unknown,
  requestId = `req-${Math.random().toString(36).slice(2)}`,
): APIGatewayProxyEvent {
  return {
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    httpMethod: 'POST',
    path: '/v1/predict',
    resource: '/v1/predict',
    headers: { 'Content-Type': 'application/json' },
    multiValueHeaders: {},
    pathParameters: null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: { requestId, stage: 'prod' } as APIGatewayProxyEvent['requestContext'],
  };
}

/** Valid churn records: all fields, missing values (null, "NA", absent), a boolean spelt "FALSE", a target. */
export const goodRecords = [
  {
    customer_id: 'c-1',
    tenure_months: 12,
    plan: 'basic',
    monthly_charges: 70.5,
    total_charges: 846,
    support_calls: 4,
    region: 'north',
    has_partner: true,
    avg_session_minutes: 12.5,
  },
  {
    customer_id: 'c-2',
    tenure_months: 48,
    plan: 'pro',
    monthly_charges: 120,
    total_charges: null,
    region: 'NA',
    has_partner: 'FALSE',
    avg_session_minutes: 3,
    churned: false,
  },
  { customer_id: 'c-3', tenure_months: 1, plan: 'plus', monthly_charges: 20, support_calls: 0 },
];

/** Model-input rows computed by hand from the spec (DESIGN.md section 4), independently of the core. */
export function expectedRows(spec: FeatureSpec, records: readonly Record<string, unknown>[]): number[][] {
  return records.map((r) =>
    spec.features.map((f) => {
      const v = r[f.name];
      if (v === undefined || v === null || v === '' || v === 'NA') return Number.NaN;
      if (f.type === 'category') return f.categories!.indexOf(String(v));
      if (f.type === 'boolean') return String(v).toLowerCase() === 'true' ? 1 : 0;
      return Number(v);
    }),
  );
}

/** Records from CSV lines with a header (the sample generator's format; no quoted cells), every value a string. */
export function recordsFromCsv(lines: readonly string[]): Record<string, string>[] {
  const header = lines[0].trimEnd().split(',');
  return lines.slice(1).map((line) => {
    const cells = line.trimEnd().split(',');
    return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
  });
}
