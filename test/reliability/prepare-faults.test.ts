/**
 * @jest-environment ./test/reliability/environment.js
 */
// PROJECT, the bucket names and DATASET_SCHEMAS, before the handler loads.
import '../helpers/validation-env';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { trainingJobName } from '../../lambdas/core/prepare';
import { handler } from '../../lambdas/handlers/prepare';
import { logger } from '../../lambdas/shared/powertools';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { validCsv } from '../helpers/csv';
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
 * Prepare, the state machine's task, against s3rver through the fault proxy: each invocation either returns what
 * the fault-free one returned, with byte-identical objects, or throws a transient error having left only whole
 * objects identical to the fault-free ones, and never baseline.json (written last) without the rest. Invoking
 * again until success ends with exactly the fault-free objects.
 */
const EVENT = {
  executionName: 'run-faults',
  executionStartTime: '2026-05-06T07:08:09.123Z',
  dataset: 'churn',
  trigger: 'manual',
};
const PREFIX = `training/${trainingJobName('testproj', EVENT.executionName, EVENT.executionStartTime)}/`;

let t: TestS3;
let proxy: FaultProxy;
let target: FaultTarget;
let reference: Reference;
const figures: InvocationFigures[] = [];

beforeAll(async () => {
  t = await startTestS3();
  proxy = await startFaultProxy({ upstream: t.local.endpoint, s3rverDirectory: t.directory });
  // The handler's own client (created on first use) goes through the proxy; the test's client does not.
  process.env.AWS_ENDPOINT_URL_S3 = proxy.endpoint;
  process.env.MIN_TRAINING_ROWS = '100';
  process.env.VALIDATION_FRACTION = '0.2';
  jest.spyOn(logger, 'error').mockImplementation(() => undefined);
  const put = (key: string, body: string) =>
    t.s3.send(new PutObjectCommand({ Bucket: BUCKETS.curated, Key: key, Body: body }));
  await put('churn/ingest_date=2026-01-01/a-111111111111.csv', validCsv(700, 1));
  await put('churn/ingest_date=2026-01-02/b-222222222222.csv', validCsv(1500, 2));
  // Large enough that the train channel is a multipart upload (over 5 MiB).
  await put('churn/ingest_date=2026-01-03/c-333333333333.csv', validCsv(230_000, 3));
  target = {
    name: 'prepare',
    bucket: BUCKETS.artifacts,
    prefix: PREFIX,
    marker: `${BUCKETS.artifacts}/${PREFIX}baseline.json`,
    invoke: () => handler(EVENT),
  };
  proxy.configure({ enabled: false });
  const result = await target.invoke();
  reference = { result, objects: await contentSnapshot(t.s3, [BUCKETS.artifacts], PREFIX) };
}, 120_000);

afterAll(async () => {
  jest.restoreAllMocks();
  await proxy?.close();
  await t?.stop();
  if (figures.length > 0) writeFigures('prepare-faults', { ...summarise(figures), perRun: figures });
});

test('the reference: both channels (train as a multipart upload), feature-spec.json and baseline.json', () => {
  expect([...reference.objects.keys()].map((k) => k.slice(`${BUCKETS.artifacts}/${PREFIX}`.length))).toEqual([
    'baseline.json',
    'feature-spec.json',
    'train/data.csv',
    'validation/data.csv',
  ]);
  const train = [...proxy.uploads.values()].filter((u) => u.key === `${PREFIX}train/data.csv`);
  expect(train.map((u) => u.state)).toEqual(['completed']);
});

test('8% of each fault: identical outputs, or a retryable failure and then identical outputs', async () => {
  const f = await invokeUntilSuccess({
    s3: t.s3,
    proxy,
    target,
    reference,
    seed: 21,
    rates: eachFault(0.08),
    retryWithoutFaults: false,
  });
  figures.push(f);
  expect(f.faultsInjected).toBeGreaterThan(0);
}, 120_000);

test('an outage outlasting the SDK retries: a retryable failure leaving only whole objects, then identical outputs', async () => {
  const f = await invokeUntilSuccess({
    s3: t.s3,
    proxy,
    target,
    reference,
    seed: 31,
    rates: OUTAGE,
    retryWithoutFaults: true,
  });
  figures.push(f);
  expect(f.failedInvocations).toBeGreaterThan(0);
}, 120_000);
