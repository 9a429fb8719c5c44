/**
 * @jest-environment ./test/reliability/environment.js
 */
// Sets the handler's environment before it loads (it reads it once, as at a cold start).
import '../helpers/validation-env';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { toSqsEvent, type ObjectCreatedEvent } from '../../lib/local/s3';
import { sampleCsv } from '../../lib/local/sample-data';
import { handler } from '../../lambdas/handlers/validate';
import { decodeEventKey, outputId } from '../../lambdas/handlers/validate-object';
import { logger } from '../../lambdas/shared/powertools';
import { isRetryable } from '../../lambdas/shared/retry';
import {
  FAULT_KINDS,
  startFaultProxy,
  totalFaults,
  type FaultProxy,
  type FaultRates,
} from '../helpers/fault-proxy';
import { mixedCsv, rowWith, validCsv } from '../helpers/csv';
import { BUCKETS, startTestS3, type TestS3 } from '../helpers/local-s3';
import { clearBuckets, contentSnapshot, foreignObjects, lostObjects, writeFigures } from './harness';

/**
 * The validation handler (SQS event -> validate-object) against s3rver through the fault proxy. Every delivery
 * either succeeds with outputs byte-identical to the fault-free run, or fails the message (batchItemFailures,
 * so SQS redelivers it) with a transient error and leaves only whole objects identical to the fault-free
 * ones; redelivery until success (as SQS does) ends with exactly the fault-free outputs.
 */
const OUTPUTS = [BUCKETS.curated, BUCKETS.quarantine, BUCKETS.artifacts];
/** The queue's default maxReceiveCount: an event needing more deliveries would have gone to the DLQ. */
const MAX_RECEIVE_COUNT = 3;
const MAX_DELIVERIES = 12;

let t: TestS3;
let proxy: FaultProxy;
const events: ObjectCreatedEvent[] = [];
let reference: Map<string, string>;
const errors: unknown[] = [];

const files: [string, string | Buffer][] = [
  ['churn/faults/clean.csv', validCsv(2000, 1)],
  [
    'churn/faults/mixed.csv',
    mixedCsv(
      3000,
      Array.from({ length: 20 }, (_, i) => rowWith(`BAD${i}`, { plan: 'gold' })),
    ),
  ],
  ['churn/faults/rejected.csv', sampleCsv({ rows: 500, seed: 5, invalidFraction: 0.3 })],
  ['churn/faults/zipped.csv.gz', gzipSync(validCsv(4000, 3))],
  // Over 5 MiB of curated rows: a multipart upload of two parts.
  ['churn/faults/large.csv', validCsv(110_000, 4)],
  ['churn/faults/empty.csv', ''],
  ['churn/faults/binary.csv', randomBytes(30_000)],
];

beforeAll(async () => {
  t = await startTestS3();
  proxy = await startFaultProxy({ upstream: t.local.endpoint, s3rverDirectory: t.directory, seed: 1 });
  // The handler's own client (created on first use) goes through the proxy; the test's client does not.
  process.env.AWS_ENDPOINT_URL_S3 = proxy.endpoint;
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
  jest.spyOn(logger, 'error').mockImplementation(((_message: unknown, extra?: { error?: unknown }) => {
    errors.push(extra?.error);
  }) as never);
  for (const [key, body] of files) {
    await t.s3.send(
      new PutObjectCommand({
        Bucket: BUCKETS.raw,
        Key: key,
        Body: body,
        ContentLength: Buffer.byteLength(body),
      }),
    );
    const seen = await t.eventsFor(BUCKETS.raw, key);
    events.push(seen[seen.length - 1]);
  }
  // The fault-free run: the reference every faulty run must reproduce exactly.
  proxy.configure({ enabled: false });
  for (const e of events) expect(await handler(toSqsEvent([e]))).toEqual({ batchItemFailures: [] });
  reference = await contentSnapshot(t.s3, OUTPUTS);
  proxy.configure({ enabled: true });
}, 120_000);

afterAll(async () => {
  jest.restoreAllMocks();
  await proxy?.close();
  await t?.stop();
});

const ids = (): string[] =>
  events.map((e) => outputId(decodeEventKey(e.detail.object.key), e.detail.object.etag));

test('the reference run covers every outcome', () => {
  const keys = [...reference.keys()];
  // Curated and quarantined rows, whole-file quarantine (plain and gzip), a multipart output, a report per file.
  expect(keys.filter((k) => k.startsWith(`${BUCKETS.curated}/`))).toHaveLength(4);
  expect(keys.filter((k) => k.startsWith(`${BUCKETS.quarantine}/`))).toHaveLength(4);
  expect(keys.filter((k) => k.endsWith('.json'))).toHaveLength(files.length);
  for (const id of ids()) expect(keys.some((k) => k.endsWith(`/${id}.json`))).toBe(true);
});

interface RunFigures {
  run: string;
  seed: number;
  rates: FaultRates;
  deliveries: number;
  failedDeliveries: number;
  wouldReachDlq: number;
  requests: number;
  faults: Record<string, number>;
  faultsInjected: number;
  resumedReads: number;
  invariantChecks: number;
  objectsCompared: number;
  objectsLost: number;
  orphanedUploads: number;
  uploadsWithLostCreateResponse: number;
}

const figures: RunFigures[] = [];

async function runUnderFaults(
  run: string,
  seed: number,
  rates: FaultRates,
  retryWithoutFaults: boolean,
): Promise<RunFigures> {
  await clearBuckets(t.s3, OUTPUTS);
  proxy.resetStats();
  proxy.configure({ seed, rates, enabled: true });
  errors.length = 0;
  const uploadsBefore = new Set(proxy.uploads.keys());
  let deliveries = 0;
  let failed = 0;
  let wouldReachDlq = 0;
  let checks = 0;
  for (const [i, event] of events.entries()) {
    const id = ids()[i];
    let attempt = 0;
    for (;;) {
      attempt++;
      deliveries++;
      const res = await handler(toSqsEvent([event]));
      if (res.batchItemFailures.length === 0) break;
      failed++;
      expect(attempt).toBeLessThan(MAX_DELIVERIES);
      // Only whole objects identical to the reference, and the report only with all its outputs.
      proxy.configure({ enabled: false });
      const now = await contentSnapshot(t.s3, OUTPUTS);
      proxy.configure({ enabled: !retryWithoutFaults });
      expect(foreignObjects(now, reference)).toEqual([]);
      const report = [...now.keys()].find((k) => k.endsWith(`/${id}.json`));
      if (report !== undefined)
        expect([...reference.keys()].filter((k) => k.includes(id) && !now.has(k))).toEqual([]);
      checks++;
    }
    proxy.configure({ enabled: true });
    if (attempt > MAX_RECEIVE_COUNT) wouldReachDlq++;
  }
  proxy.configure({ enabled: false });
  const final = await contentSnapshot(t.s3, OUTPUTS);
  expect(final).toEqual(reference);
  // Every failure was transient: a retry was the right answer.
  expect(errors.filter((e) => !isRetryable(e))).toEqual([]);
  expect(errors).toHaveLength(failed);
  const mine = [...proxy.uploads.values()].filter((u) => !uploadsBefore.has(u.uploadId));
  const orphaned = mine.filter((u) => u.state === 'open' && u.createDelivered);
  expect(orphaned).toEqual([]);
  const f: RunFigures = {
    run,
    seed,
    rates,
    deliveries,
    failedDeliveries: failed,
    wouldReachDlq,
    requests: proxy.stats.requests,
    faults: { ...proxy.stats.faults },
    faultsInjected: totalFaults(proxy.stats),
    resumedReads: proxy.stats.rangedGets,
    invariantChecks: checks,
    objectsCompared: final.size,
    objectsLost: lostObjects(final, reference).length,
    orphanedUploads: orphaned.length,
    uploadsWithLostCreateResponse: mine.filter((u) => u.state === 'open' && !u.createDelivered).length,
  };
  figures.push(f);
  return f;
}

const each = (p: number, latency = 0.1): FaultRates => ({
  ...Object.fromEntries(FAULT_KINDS.map((k) => [k, p])),
  latency,
});

test.each([
  ['5% of each fault', 13, each(0.05), false],
  ['10% of each fault, faults on the redeliveries too', 14, each(0.1), false],
])(
  '%s (seed %i): identical outputs or a retryable failure, then identical',
  async (run, seed, rates, clean) => {
    const f = await runUnderFaults(run, seed, rates, clean);
    expect(f.faultsInjected).toBeGreaterThan(0);
    expect(f.objectsLost).toBe(0);
  },
  120_000,
);

test('an outage (75% of requests fail: 500s and resets) outlasts the SDK retries: the message fails, its redelivery succeeds', async () => {
  const f = await runUnderFaults(
    'outage: 25% each of 500, reset request, reset response; redelivered without faults',
    15,
    { internalError: 0.25, resetRequest: 0.25, resetResponse: 0.25 },
    true,
  );
  // The point of this run: deliveries did fail, and each failure left only whole, identical objects.
  expect(f.failedDeliveries).toBeGreaterThan(0);
  expect(f.invariantChecks).toBe(f.failedDeliveries);
  expect(f.objectsLost).toBe(0);
}, 120_000);

afterAll(() => {
  if (figures.length === 0) return;
  const sum = (k: keyof RunFigures): number => figures.reduce((n, f) => n + (f[k] as number), 0);
  writeFigures('validation-faults', {
    files: files.length,
    runs: figures.length,
    deliveries: sum('deliveries'),
    failedDeliveries: sum('failedDeliveries'),
    wouldReachDlq: sum('wouldReachDlq'),
    requests: sum('requests'),
    faultsInjected: sum('faultsInjected'),
    byKind: Object.fromEntries(FAULT_KINDS.map((k) => [k, figures.reduce((n, f) => n + f.faults[k], 0)])),
    resumedReads: sum('resumedReads'),
    invariantChecks: sum('invariantChecks'),
    objectsCompared: sum('objectsCompared'),
    objectsLost: sum('objectsLost'),
    orphanedUploads: sum('orphanedUploads'),
    uploadsWithLostCreateResponse: sum('uploadsWithLostCreateResponse'),
    perRun: figures,
  });
});
