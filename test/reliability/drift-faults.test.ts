/**
 * @jest-environment ./test/reliability/environment.js
 */
// PROJECT and the bucket names, before the handler loads.
import '../helpers/validation-env';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { encodeFeatures, type FeatureSpec } from '../../lambdas/core/encoding';
import { DatasetPreparer, toJsonBytes } from '../../lambdas/core/prepare';
import { handler } from '../../lambdas/handlers/drift';
import { sampleCsv } from '../../lib/local/sample-data';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { schema } from '../helpers/csv';
import { BUCKETS, startTestS3, type TestS3 } from '../helpers/local-s3';
import {
  contentSnapshot,
  eachFault,
  invokeUntilSuccess,
  OUTAGE,
  summarise,
  writeFigures,
  type FaultTarget,
  type InvocationFigures,
  type Reference,
} from './harness';

/**
 * The drift check (scheduled, retried by Lambda's asynchronous invocation) against s3rver through the fault proxy:
 * each invocation either returns the fault-free result with byte-identical reports, or throws a transient error
 * having left only whole reports identical to the fault-free ones (the HTML before the JSON, the JSON last);
 * invoking again until success ends with exactly the fault-free reports.
 */
const ENDPOINT = 'testproj-endpoint';
const MODEL = 'training/testproj-20260101000000-abcdef';
const PREFIX = 'reports/drift/';

const cw = mockClient(CloudWatchClient);
let t: TestS3;
let proxy: FaultProxy;
let target: FaultTarget;
let reference: Reference;
const figures: InvocationFigures[] = [];

/** Data Capture JSONL (DESIGN.md section 7): three model-input rows per record. */
function captureJsonl(spec: FeatureSpec, rows: number, seed: number, drift: number, time: string): string {
  const lines = sampleCsv({ rows, seed, drift }).trimEnd().split('\n');
  const header = lines[0].split(',');
  const cols = spec.features.map((f) => header.indexOf(f.name));
  let out = '';
  for (let i = 1; i < lines.length; i += 3) {
    const group = lines.slice(i, i + 3).map((l) => {
      const cells = l.split(',');
      return encodeFeatures(
        spec,
        cols.map((c) => cells[c]),
      );
    });
    const record = {
      captureData: {
        endpointInput: {
          observedContentType: 'text/csv',
          mode: 'INPUT',
          data: `${group.join('\n')}\n`,
          encoding: 'CSV',
        },
        endpointOutput: {
          observedContentType: 'text/csv; charset=utf-8',
          mode: 'OUTPUT',
          data: group.map((_, j) => ((i + j) % 7) / 7).join('\n'),
          encoding: 'CSV',
        },
      },
      eventMetadata: { eventId: `e-${seed}-${i}`, inferenceTime: time },
      eventVersion: '0',
    };
    out += `${JSON.stringify(record)}\n`;
  }
  return out;
}

beforeAll(async () => {
  t = await startTestS3();
  proxy = await startFaultProxy({ upstream: t.local.endpoint, s3rverDirectory: t.directory });
  process.env.AWS_ENDPOINT_URL_S3 = proxy.endpoint;
  Object.assign(process.env, {
    ENDPOINT_NAME: ENDPOINT,
    WINDOW_HOURS: '2',
    MIN_SAMPLES: '500',
    DRIFT_THRESHOLD: '0.2',
    FEATURE_THRESHOLDS: '{}',
  });
  delete process.env.TOPIC_ARN;
  cw.on(PutMetricDataCommand).resolves({});
  const put = (key: string, body: string | Uint8Array) =>
    t.s3.send(new PutObjectCommand({ Bucket: BUCKETS.artifacts, Key: key, Body: body }));

  const noop = (): void => undefined;
  const preparer = new DatasetPreparer(schema, { validationFraction: 0 }, { train: noop, validation: noop });
  preparer.beginFile('train.csv');
  preparer.push(Buffer.from(sampleCsv({ rows: 5000, seed: 1 })));
  preparer.endFile();
  const { baseline, featureSpec: spec } = preparer.finish();
  await put(
    'baselines/current.json',
    JSON.stringify({
      modelPackageArn: 'arn:aws:sagemaker:us-east-1:000000000000:model-package/testproj-models/1',
      jobName: 'testproj-20260101000000-abcdef',
      endpointName: ENDPOINT,
      endpointConfigName: 'testproj-20260101000000-abcdef',
      baselineUri: `s3://${BUCKETS.artifacts}/${MODEL}/baseline.json`,
      featureSpecUri: `s3://${BUCKETS.artifacts}/${MODEL}/feature-spec.json`,
      metricName: 'validation:auc',
      metric: 0.8,
      execution: 'arn:aws:states:us-east-1:000000000000:execution:testproj-training:run-0',
      deployedAt: '2026-01-01T00:00:00.000Z',
      cooldownUntil: '2026-01-01T06:00:00.000Z',
    }),
  );
  await put(`${MODEL}/baseline.json`, toJsonBytes(baseline));
  await put(`${MODEL}/feature-spec.json`, toJsonBytes(spec));
  // Two hours, two variants.
  const c = `capture/${ENDPOINT}`;
  await put(`${c}/AllTraffic/2026/03/05/10/a.jsonl`, captureJsonl(spec, 3000, 21, 0, '2026-03-05T10:01:00Z'));
  await put(
    `${c}/AllTraffic/2026/03/05/11/b.jsonl`,
    captureJsonl(spec, 3000, 22, 0.8, '2026-03-05T11:01:00Z'),
  );
  await put(`${c}/Canary/2026/03/05/11/c.jsonl`, captureJsonl(spec, 2000, 23, 0.8, '2026-03-05T11:02:00Z'));

  target = {
    name: 'drift',
    bucket: BUCKETS.artifacts,
    prefix: PREFIX,
    marker: `${BUCKETS.artifacts}/${PREFIX}${ENDPOINT}/2026/03/05/11.json`,
    invoke: () => handler({ time: '2026-03-05T12:10:00Z' }),
  };
  proxy.configure({ enabled: false });
  const result = await target.invoke();
  reference = { result, objects: await contentSnapshot(t.s3, [BUCKETS.artifacts], PREFIX) };
}, 120_000);

afterAll(async () => {
  cw.restore();
  await proxy?.close();
  await t?.stop();
  if (figures.length > 0) writeFigures('drift-faults', { ...summarise(figures), perRun: figures });
});

test('the reference: a drifted window, its JSON and HTML reports', () => {
  expect(reference.result).toMatchObject({ status: 'ok', drifted: true, samples: 8000 });
  expect([...reference.objects.keys()]).toEqual([
    `${BUCKETS.artifacts}/${PREFIX}${ENDPOINT}/2026/03/05/11.html`,
    `${BUCKETS.artifacts}/${PREFIX}${ENDPOINT}/2026/03/05/11.json`,
  ]);
});

test.each([
  [21, 0.05],
  [22, 0.1],
])(
  'seed %i, %f of each fault: identical reports, or a retryable failure and then identical',
  async (seed, p) => {
    const f = await invokeUntilSuccess({
      s3: t.s3,
      proxy,
      target,
      reference,
      seed,
      rates: eachFault(p),
      retryWithoutFaults: false,
    });
    figures.push(f);
    expect(f.faultsInjected).toBeGreaterThan(0);
  },
  120_000,
);

test('an outage outlasting the SDK retries: a retryable failure, nothing partial, then identical reports', async () => {
  let failures = 0;
  for (const seed of [31, 32]) {
    const f = await invokeUntilSuccess({
      s3: t.s3,
      proxy,
      target,
      reference,
      seed,
      rates: OUTAGE,
      retryWithoutFaults: true,
    });
    figures.push(f);
    failures += f.failedInvocations;
  }
  expect(failures).toBeGreaterThan(0);
}, 120_000);
