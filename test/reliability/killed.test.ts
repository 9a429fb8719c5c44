/**
 * @jest-environment ./test/reliability/environment.js
 */
import '../helpers/validation-env';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { toSqsEvent, type ObjectCreatedEvent } from '../../lib/local/s3';
import { handler } from '../../lambdas/handlers/validate';
import { decodeEventKey, outputId } from '../../lambdas/handlers/validate-object';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { validCsv } from '../helpers/csv';
import { BUCKETS, startTestS3, type TestS3 } from '../helpers/local-s3';
import { clearBuckets, contentSnapshot, writeFigures } from './harness';

/**
 * The validation Lambda killed at its timeout, mid-file: the handler runs in a child process that is SIGKILLed
 * after the first part of its curated upload went out, before the upload could complete. Nothing is visible
 * afterwards (the multipart upload is open, which S3 never lists; the bucket's lifecycle rule aborts it after 7
 * days), there is no report, so the redelivered message is processed again: identical outputs.
 */
const OUTPUTS = [BUCKETS.curated, BUCKETS.quarantine, BUCKETS.artifacts];
let t: TestS3;
let proxy: FaultProxy;

beforeAll(async () => {
  t = await startTestS3();
  proxy = await startFaultProxy({
    upstream: t.local.endpoint,
    s3rverDirectory: t.directory,
    latencyMs: [3000, 3000],
  });
  process.env.AWS_ENDPOINT_URL_S3 = proxy.endpoint;
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
});

afterAll(async () => {
  jest.restoreAllMocks();
  await proxy?.close();
  await t?.stop();
});

function runChild(event: ObjectCreatedEvent): { done: Promise<number | null>; kill: () => void } {
  const child = spawn(
    process.execPath,
    ['--import', require.resolve('tsx'), path.join(__dirname, 'validate-child.ts')],
    {
      env: {
        ...process.env,
        SQS_EVENT: JSON.stringify(toSqsEvent([event])),
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  return {
    done: new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal === null ? code : -1))),
    kill: () => child.kill('SIGKILL'),
  };
}

test('killed mid-upload: nothing visible, no report; the redelivery writes exactly the fault-free outputs', async () => {
  await t.s3.send(
    new PutObjectCommand({ Bucket: BUCKETS.raw, Key: 'churn/killed/big.csv', Body: validCsv(110_000, 12) }),
  );
  const event = (await t.eventsFor(BUCKETS.raw, 'churn/killed/big.csv')).at(-1)!;
  const id = outputId(decodeEventKey(event.detail.object.key), event.detail.object.etag);

  // The fault-free reference, in this process.
  proxy.configure({ enabled: false });
  expect(await handler(toSqsEvent([event]))).toEqual({ batchItemFailures: [] });
  const reference = await contentSnapshot(t.s3, OUTPUTS);
  expect([...reference.keys()].filter((k) => k.includes(id))).toHaveLength(3);
  await clearBuckets(t.s3, OUTPUTS);

  // The killed run: CompleteMultipartUpload and every PutObject are held 3 s, so the kill lands before them.
  proxy.resetStats();
  proxy.configure({
    enabled: true,
    rates: { latency: 1 },
    target: (r) => r.operation === 'CompleteMultipartUpload' || r.operation === 'PutObject',
  });
  const before = new Set(proxy.uploads.keys());
  const child = runChild(event);
  for (let i = 0; i < 1500 && (proxy.stats.byOperation.UploadPart ?? 0) < 1; i++)
    await new Promise((r) => setTimeout(r, 10));
  expect(proxy.stats.byOperation.UploadPart ?? 0).toBeGreaterThanOrEqual(1);
  expect(proxy.stats.byOperation.CompleteMultipartUpload).toBeUndefined();
  child.kill();
  expect(await child.done).toBe(-1);
  // Whatever the proxy was still holding has been answered (to a dead client) by now.
  await new Promise((r) => setTimeout(r, 3500));
  proxy.configure({ enabled: false, rates: {}, target: null });

  expect(await contentSnapshot(t.s3, OUTPUTS)).toEqual(new Map());
  const orphans = [...proxy.uploads.values()].filter((u) => !before.has(u.uploadId) && u.state === 'open');
  expect(orphans.map((u) => u.key)).toEqual([
    expect.stringMatching(new RegExp(`^churn/ingest_date=[0-9-]{10}/${id}\\.csv$`)),
  ]);

  // SQS hands the message out again after the visibility timeout.
  expect(await handler(toSqsEvent([event]))).toEqual({ batchItemFailures: [] });
  expect(await contentSnapshot(t.s3, OUTPUTS)).toEqual(reference);
  writeFigures('killed', {
    killedRuns: 1,
    objectsVisibleAfterKill: 0,
    orphanedUploadsLeftToLifecycle: orphans.length,
    objectsLost: 0,
  });
}, 60_000);
