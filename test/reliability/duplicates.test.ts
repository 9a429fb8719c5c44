/**
 * @jest-environment ./test/reliability/environment.js
 */
import '../helpers/validation-env';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { toSqsEvent, type ObjectCreatedEvent } from '../../lib/local/s3';
import { sampleCsv } from '../../lib/local/sample-data';
import { handler } from '../../lambdas/handlers/validate';
import { decodeEventKey, outputId } from '../../lambdas/handlers/validate-object';
import { logger } from '../../lambdas/shared/powertools';
import { startFaultProxy, totalFaults, type FaultProxy } from '../helpers/fault-proxy';
import { validCsv } from '../helpers/csv';
import { BUCKETS, startTestS3, type TestS3 } from '../helpers/local-s3';
import { clearBuckets, contentSnapshot, eachFault, writeFigures } from './harness';

/**
 * Duplicate, out-of-order and concurrent events for the validation handler, against s3rver through the proxy
 * (which adds the If-Match that s3rver ignores): whatever the delivery, the outputs are exactly, object for object
 * and byte for byte, what one-at-a-time processing of the same objects gives.
 */
const OUTPUTS = [BUCKETS.curated, BUCKETS.quarantine, BUCKETS.artifacts];
let t: TestS3;
let proxy: FaultProxy;
const figures = {
  eventsReplayed: 0,
  concurrentDeliveries: 0,
  files: 0,
  failedDeliveries: 0,
  faultsInjected: 0,
};

beforeAll(async () => {
  t = await startTestS3();
  proxy = await startFaultProxy({ upstream: t.local.endpoint, s3rverDirectory: t.directory });
  process.env.AWS_ENDPOINT_URL_S3 = proxy.endpoint;
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
  jest.spyOn(logger, 'error').mockImplementation(() => undefined);
});

afterAll(async () => {
  jest.restoreAllMocks();
  await proxy?.close();
  await t?.stop();
  writeFigures('duplicates', figures);
});

async function land(key: string, body: string): Promise<ObjectCreatedEvent> {
  await t.s3.send(new PutObjectCommand({ Bucket: BUCKETS.raw, Key: key, Body: body }));
  const events = await t.eventsFor(BUCKETS.raw, key);
  return events[events.length - 1];
}

/** One SQS message per event, as the queue hands them out with batchSize 1; true when it succeeded. */
async function deliver(event: ObjectCreatedEvent): Promise<boolean> {
  return (await handler(toSqsEvent([event]))).batchItemFailures.length === 0;
}

/** Delivers every event, `concurrency` at a time, redelivering failed ones (as SQS does) until all succeed. */
async function deliverAll(events: readonly ObjectCreatedEvent[], concurrency: number): Promise<number> {
  const queue = [...events];
  let failures = 0;
  const worker = async (): Promise<void> => {
    for (let e = queue.shift(); e !== undefined; e = queue.shift()) {
      if (!(await deliver(e))) {
        failures++;
        expect(failures).toBeLessThan(200);
        queue.push(e);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failures;
}

const idOf = (e: ObjectCreatedEvent): string =>
  outputId(decodeEventKey(e.detail.object.key), e.detail.object.etag);

describe('the same event more than once', () => {
  let event: ObjectCreatedEvent;
  let once: Map<string, string>;

  beforeAll(async () => {
    event = await land('churn/dup/a.csv', validCsv(3000, 31));
    await clearBuckets(t.s3, OUTPUTS);
    expect(await deliver(event)).toBe(true);
    once = await contentSnapshot(t.s3, OUTPUTS);
  });

  test('sequentially: the second delivery finds the report and writes nothing', async () => {
    const before = { ...proxy.stats.byOperation };
    expect(await deliver(event)).toBe(true);
    figures.eventsReplayed++;
    const after = proxy.stats.byOperation;
    for (const op of ['PutObject', 'CreateMultipartUpload', 'CopyObject', 'GetObject'] as const)
      expect(after[op] ?? 0).toBe(before[op] ?? 0);
    expect(await contentSnapshot(t.s3, OUTPUTS)).toEqual(once);
  });

  test('concurrently (five deliveries at once, before any report exists): the same objects as one delivery', async () => {
    await clearBuckets(t.s3, OUTPUTS);
    const results = await Promise.all(Array.from({ length: 5 }, () => deliver(event)));
    figures.eventsReplayed += 4;
    figures.concurrentDeliveries += 5;
    expect(results).toEqual([true, true, true, true, true]);
    expect(await contentSnapshot(t.s3, OUTPUTS)).toEqual(once);
  });
});

describe('two events for one key (overwritten in an unversioned bucket: two ETags)', () => {
  let first: ObjectCreatedEvent;
  let second: ObjectCreatedEvent;
  let both: Map<string, string>;
  let latest: Map<string, string>;

  test('each processed as it arrives: two ids, each from its own bytes', async () => {
    await clearBuckets(t.s3, OUTPUTS);
    first = await land('churn/dup/b.csv', validCsv(500, 41));
    expect(await deliver(first)).toBe(true);
    second = await land('churn/dup/b.csv', validCsv(700, 42));
    expect(await deliver(second)).toBe(true);
    both = await contentSnapshot(t.s3, OUTPUTS);
    const reports = [...both.keys()].filter((k) => k.endsWith('.json'));
    expect(reports.sort()).toEqual(
      [idOf(first), idOf(second)]
        .map((id) => `${BUCKETS.artifacts}/reports/validation/churn/${id}.json`)
        .sort(),
    );
    expect(idOf(first)).not.toBe(idOf(second));
  });

  test('delivered late, after the overwrite: the stale event is skipped (412 on If-Match), only the new version is processed', async () => {
    await clearBuckets(t.s3, OUTPUTS);
    expect(await deliver(second)).toBe(true);
    latest = await contentSnapshot(t.s3, OUTPUTS);
    expect([...latest.keys()].filter((k) => k.endsWith('.json'))).toEqual([
      `${BUCKETS.artifacts}/reports/validation/churn/${idOf(second)}.json`,
    ]);
    // The outputs of the second version are the same as when it was processed in order.
    for (const [k, h] of latest) expect(both.get(k)).toBe(h);

    for (const order of [
      [first, second],
      [second, first],
    ]) {
      await clearBuckets(t.s3, OUTPUTS);
      const before = proxy.stats.preconditionFailed;
      for (const e of order) expect(await deliver(e)).toBe(true);
      figures.eventsReplayed += 2;
      expect(proxy.stats.preconditionFailed).toBe(before + 1);
      expect(await contentSnapshot(t.s3, OUTPUTS)).toEqual(latest);
    }
  });

  test('both at once, out of order and twice each: still only the current version, byte for byte', async () => {
    await clearBuckets(t.s3, OUTPUTS);
    await Promise.all([second, first, first, second].map(deliver));
    figures.eventsReplayed += 4;
    figures.concurrentDeliveries += 4;
    expect(await contentSnapshot(t.s3, OUTPUTS)).toEqual(latest);
  });
});

describe('100 files landing at once', () => {
  const events: ObjectCreatedEvent[] = [];
  let sequential: Map<string, string>;

  beforeAll(async () => {
    // Mostly accepted files with some invalid rows; every tenth is rejected whole. Landed all at once.
    const keys = Array.from({ length: 100 }, (_, i) => `churn/burst/file-${String(i).padStart(3, '0')}.csv`);
    await Promise.all(
      keys.map((key, i) =>
        t.s3.send(
          new PutObjectCommand({
            Bucket: BUCKETS.raw,
            Key: key,
            Body: sampleCsv({
              rows: 100 + ((i * 37) % 150),
              seed: 100 + i,
              invalidFraction: i % 10 === 9 ? 0.4 : 0.01,
            }),
          }),
        ),
      ),
    );
    for (const key of keys) events.push((await t.eventsFor(BUCKETS.raw, key)).at(-1)!);
    figures.files += events.length;
    await clearBuckets(t.s3, OUTPUTS);
    for (const e of events) expect(await deliver(e)).toBe(true);
    sequential = await contentSnapshot(t.s3, OUTPUTS);
  }, 120_000);

  test('one at a time: a report per file, curated and quarantine outputs', () => {
    const keys = [...sequential.keys()];
    expect(keys.filter((k) => k.endsWith('.json'))).toHaveLength(100);
    expect(keys.filter((k) => k.startsWith(`${BUCKETS.curated}/`))).toHaveLength(90);
    expect(keys.filter((k) => k.startsWith(`${BUCKETS.quarantine}/`)).length).toBeGreaterThanOrEqual(10);
  });

  test('16 at a time, in reverse order: the same objects, byte for byte', async () => {
    await clearBuckets(t.s3, OUTPUTS);
    expect(await deliverAll([...events].reverse(), 16)).toBe(0);
    figures.concurrentDeliveries += events.length;
    expect(await contentSnapshot(t.s3, OUTPUTS)).toEqual(sequential);
  }, 120_000);

  test('16 at a time, every event delivered twice, under 3% of each fault: the same objects, byte for byte', async () => {
    await clearBuckets(t.s3, OUTPUTS);
    proxy.resetStats();
    proxy.configure({ seed: 77, rates: eachFault(0.03) });
    // Half the duplicates right behind the original (likely concurrent with it), half after all the others.
    const twice = events
      .flatMap((e, i) => (i % 2 === 0 ? [e, e] : [e]))
      .concat(events.filter((_, i) => i % 2 === 1));
    const failures = await deliverAll(twice, 16);
    proxy.configure({ rates: {} });
    figures.eventsReplayed += twice.length - events.length;
    figures.concurrentDeliveries += twice.length;
    figures.failedDeliveries += failures;
    figures.faultsInjected += totalFaults(proxy.stats);
    expect(totalFaults(proxy.stats)).toBeGreaterThan(0);
    expect(await contentSnapshot(t.s3, OUTPUTS)).toEqual(sequential);
    expect(proxy.openUploads().filter((u) => u.createDelivered)).toEqual([]);
  }, 120_000);
});
