import '../helpers/validation-env';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
  type GetObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { toSqsEvent, type ObjectCreatedEvent } from '../../lib/local/s3';
import { handler } from '../../lambdas/handlers/validate';
import { s3Client } from '../../lambdas/shared/clients';
import { mixedCsv, rowWith, validCsv } from '../helpers/csv';
import { BUCKETS, getBytes, listKeys, snapshot, startTestS3, type TestS3 } from '../helpers/local-s3';

/**
 * Failure paths, injected into the handler's own S3 client (the process-wide one) in front of a real s3rver:
 * each command either reaches the server or gets the error S3 would return.
 */
let t: TestS3;
let client: S3Client;
let send: jest.SpyInstance;
const OUTPUT_BUCKETS = [BUCKETS.curated, BUCKETS.quarantine, BUCKETS.artifacts];

type Intercept = (command: unknown, pass: () => Promise<unknown>) => Promise<unknown>;

function intercept(fn: Intercept): void {
  const original = send.getMockImplementation() ?? ((c: unknown) => realSend(c));
  send.mockImplementation((command: unknown) => fn(command, () => original(command)));
}

let realSend: (command: unknown) => Promise<unknown>;

function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: status },
    message: name,
  });
}

beforeAll(async () => {
  t = await startTestS3();
  client = s3Client();
  realSend = client.send.bind(client) as (command: unknown) => Promise<unknown>;
  send = jest.spyOn(client, 'send');
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
});

afterEach(() => send.mockReset());

afterAll(async () => {
  jest.restoreAllMocks();
  await t?.stop();
});

async function land(key: string, body: string | Buffer): Promise<ObjectCreatedEvent> {
  await t.s3.send(
    new PutObjectCommand({
      Bucket: BUCKETS.raw,
      Key: key,
      Body: body,
      ContentLength: Buffer.byteLength(body),
    }),
  );
  const events = await t.eventsFor(BUCKETS.raw, key);
  return events[events.length - 1];
}

/** The commit markers: the JSON reports (each has its HTML rendering beside it, written just before). */
const reportKeys = async () =>
  (await listKeys(t.s3, BUCKETS.artifacts, 'reports/validation/')).filter((k) => k.endsWith('.json'));

test('the report write fails: message retried, no commit marker; the retry commits identical outputs', async () => {
  send.mockImplementation((c: unknown) => realSend(c));
  const event = await land('churn/report-fails.csv', mixedCsv(40, [rowWith('BAD', { plan: 'gold' })]));
  intercept((c, pass) =>
    c instanceof PutObjectCommand && c.input.Bucket === BUCKETS.artifacts
      ? Promise.reject(s3Error('AccessDenied', 403))
      : pass(),
  );
  const batch = toSqsEvent([event]);
  expect(await handler(batch)).toEqual({
    batchItemFailures: [{ itemIdentifier: batch.Records[0].messageId }],
  });
  expect(await reportKeys()).toEqual([]);
  const partial = await snapshot(t.s3, [BUCKETS.curated, BUCKETS.quarantine]);
  expect(partial.size).toBe(2); // curated and quarantine rows were written before the commit failed

  send.mockImplementation((c: unknown) => realSend(c));
  expect(await handler(toSqsEvent([event]))).toEqual({ batchItemFailures: [] });
  expect(await reportKeys()).toHaveLength(1);
  expect(await snapshot(t.s3, [BUCKETS.curated, BUCKETS.quarantine])).toEqual(partial);
});

test('an output upload fails mid-stream: message retried, no report, nothing half-written', async () => {
  send.mockImplementation((c: unknown) => realSend(c));
  // > 5 MiB of curated rows, so the curated output is a multipart upload whose second part fails.
  const event = await land('churn/upload-fails.csv', validCsv(110_000, 4));
  const before = await snapshot(t.s3, OUTPUT_BUCKETS);
  intercept((c, pass) =>
    c instanceof UploadPartCommand && c.input.PartNumber === 2
      ? Promise.reject(s3Error('InternalError', 500))
      : pass(),
  );
  const batch = toSqsEvent([event]);
  expect(await handler(batch)).toEqual({
    batchItemFailures: [{ itemIdentifier: batch.Records[0].messageId }],
  });
  expect(await snapshot(t.s3, OUTPUT_BUCKETS)).toEqual(before);
  const aborted = send.mock.calls.filter((c) => c[0]?.constructor?.name === 'AbortMultipartUploadCommand');
  expect(aborted).toHaveLength(1);
}, 120_000);

test('the raw object stream breaks (gzip): retried as an S3 failure, not quarantined as bad encoding', async () => {
  send.mockImplementation((c: unknown) => realSend(c));
  const event = await land('churn/stream-breaks.csv.gz', gzipSync(validCsv(3000, 9)));
  const before = await snapshot(t.s3, OUTPUT_BUCKETS);
  intercept(async (c, pass) => {
    if (!(c instanceof GetObjectCommand) || c.input.Bucket !== BUCKETS.raw) return pass();
    const out = (await pass()) as GetObjectCommandOutput;
    const bytes = Buffer.from(await out.Body!.transformToByteArray());
    const broken = Readable.from(
      (async function* () {
        yield bytes.subarray(0, 1000);
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      })(),
    );
    return { ...out, Body: broken };
  });
  const batch = toSqsEvent([event]);
  expect(await handler(batch)).toEqual({
    batchItemFailures: [{ itemIdentifier: batch.Records[0].messageId }],
  });
  expect(await snapshot(t.s3, OUTPUT_BUCKETS)).toEqual(before);
});

test('the object changed since the event (412 on If-Match): skipped, nothing written', async () => {
  send.mockImplementation((c: unknown) => realSend(c));
  const event = await land('churn/overwritten.csv', validCsv(5));
  const before = await snapshot(t.s3, OUTPUT_BUCKETS);
  intercept((c, pass) => {
    if (c instanceof GetObjectCommand && c.input.Bucket === BUCKETS.raw) {
      expect(c.input.IfMatch).toBe(`"${event.detail.object.etag}"`);
      return Promise.reject(s3Error('PreconditionFailed', 412));
    }
    return pass();
  });
  expect(await handler(toSqsEvent([event]))).toEqual({ batchItemFailures: [] });
  expect(await snapshot(t.s3, OUTPUT_BUCKETS)).toEqual(before);
});

test('HeadObject on the report denied (no s3:ListBucket gives 403, not 404): validated anyway', async () => {
  send.mockImplementation((c: unknown) => realSend(c));
  const key = 'churn/head-denied.csv';
  const event = await land(key, validCsv(5));
  intercept((c, pass) =>
    c instanceof HeadObjectCommand && c.input.Bucket === BUCKETS.artifacts
      ? Promise.reject(s3Error('Forbidden', 403))
      : pass(),
  );
  expect(await handler(toSqsEvent([event]))).toEqual({ batchItemFailures: [] });
  const reports = await reportKeys();
  const mine = [];
  for (const k of reports) {
    const r = JSON.parse((await getBytes(t.s3, BUCKETS.artifacts, k)).toString()) as {
      source: { key: string };
    };
    if (r.source.key === key) mine.push(k);
  }
  expect(mine).toHaveLength(1);
});

test('the JSON report write fails after the HTML one: no commit marker; the retry rewrites the same HTML', async () => {
  send.mockImplementation((c: unknown) => realSend(c));
  const event = await land('churn/json-fails.csv', mixedCsv(40, [rowWith('BAD', { plan: 'gold' })]));
  intercept((c, pass) =>
    c instanceof PutObjectCommand && c.input.Key?.endsWith('.json') === true
      ? Promise.reject(s3Error('SlowDown', 503))
      : pass(),
  );
  const batch = toSqsEvent([event]);
  expect(await handler(batch)).toEqual({
    batchItemFailures: [{ itemIdentifier: batch.Records[0].messageId }],
  });
  const all = await listKeys(t.s3, BUCKETS.artifacts, 'reports/validation/churn/json-fails');
  expect(all).toHaveLength(1);
  expect(all[0]).toMatch(/\.html$/);
  const html = await getBytes(t.s3, BUCKETS.artifacts, all[0]);

  send.mockImplementation((c: unknown) => realSend(c));
  expect(await handler(toSqsEvent([event]))).toEqual({ batchItemFailures: [] });
  expect(await listKeys(t.s3, BUCKETS.artifacts, 'reports/validation/churn/json-fails')).toEqual([
    all[0],
    all[0].replace(/\.html$/, '.json'),
  ]);
  expect((await getBytes(t.s3, BUCKETS.artifacts, all[0])).equals(html)).toBe(true);
});
