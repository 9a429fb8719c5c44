/**
 * @jest-environment ./test/reliability/environment.js
 */
import '../helpers/validation-env';
import './limit-env';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { toSqsEvent, type ObjectCreatedEvent } from '../../lib/local/s3';
import { handler } from '../../lambdas/handlers/validate';
import {
  decodeEventKey,
  outputId,
  type StoredValidationReport,
} from '../../lambdas/handlers/validate-object';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { header, rowWith, validCsv } from '../helpers/csv';
import { BUCKETS, getBytes, getText, listKeys, startTestS3, type TestS3 } from '../helpers/local-s3';

/**
 * Files over validation.maxFileBytes (1 MiB here, through MAX_FILE_BYTES as the stack sets it) are quarantined
 * whole with code `too-large` and a message naming the limit, never validated: the handler decides from the
 * object's Content-Length before reading, or, for a gzip, when the decompressed bytes pass the limit.
 */
const LIMIT = 1024 * 1024;
let t: TestS3;
let proxy: FaultProxy;

/** A valid CSV of exactly `size` bytes: sample rows, the last one's free-text id padded to fit. */
function csvOfSize(size: number): Buffer {
  const lines = validCsv(Math.ceil(size / 50), 8).split('\n');
  const out = [`${header}\n`];
  let length = out[0].length;
  let i = 1;
  while (length + lines[i].length + 1 + 60 < size) {
    out.push(`${lines[i]}\n`);
    length += lines[i].length + 1;
    i++;
  }
  const last = lines[i].split(',');
  last[0] = `${last[0]}${'x'.repeat(size - length - lines[i].length - 1)}`;
  out.push(`${last.join(',')}\n`);
  const b = Buffer.from(out.join(''));
  expect(b.length).toBe(size);
  return b;
}

async function land(key: string, body: Buffer): Promise<ObjectCreatedEvent> {
  await t.s3.send(
    new PutObjectCommand({ Bucket: BUCKETS.raw, Key: key, Body: body, ContentLength: body.length }),
  );
  const events = await t.eventsFor(BUCKETS.raw, key);
  return events[events.length - 1];
}

async function validate(event: ObjectCreatedEvent): Promise<StoredValidationReport> {
  expect(await handler(toSqsEvent([event]))).toEqual({ batchItemFailures: [] });
  const id = outputId(decodeEventKey(event.detail.object.key), event.detail.object.etag);
  return JSON.parse(
    await getText(t.s3, BUCKETS.artifacts, `reports/validation/churn/${id}.json`),
  ) as StoredValidationReport;
}

beforeAll(async () => {
  t = await startTestS3();
  proxy = await startFaultProxy({ upstream: t.local.endpoint, s3rverDirectory: t.directory });
  process.env.AWS_ENDPOINT_URL_S3 = proxy.endpoint;
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
});

afterAll(async () => {
  jest.restoreAllMocks();
  await proxy?.close();
  await t?.stop();
});

test('a file of exactly the limit is validated as usual', async () => {
  const r = await validate(await land('churn/limit/exact.csv', csvOfSize(LIMIT)));
  expect(r.status).toBe('accepted');
  expect(r.source.size).toBe(LIMIT);
  expect(r.rows.total).toBeGreaterThan(10_000);
  expect(r.outputs.curated).toBeDefined();
});

test('one byte over: quarantined whole with too-large, the limit in bytes and MB, the body never validated', async () => {
  const body = csvOfSize(LIMIT + 1);
  const event = await land('churn/limit/over.csv', body);
  const gets = proxy.stats.byOperation.GetObject ?? 0;
  const r = await validate(event);
  expect(r.status).toBe('quarantined');
  expect(r.errorCounts).toEqual({ 'too-large': 1 });
  expect(r.errors).toEqual([{ row: 1, field: null, code: 'too-large', message: r.reason }]);
  expect(r.reason).toBe(
    'the file is 1,048,577 bytes (1.05 MB), over the limit of 1,048,576 bytes (1.05 MB) that one validation run ' +
      'can read within the Lambda timeout (validation.maxFileBytes); split the file, or raise the limit with the ' +
      'timeout and memory',
  );
  // No row was read: the counts are those of an empty run, and one GetObject was opened (for its headers) and dropped.
  expect(r.rows).toEqual({ total: 0, valid: 0, invalid: 0 });
  expect(Object.values(r.fields).every((f) => f.missing === 0 && f.invalid === 0)).toBe(true);
  expect(proxy.stats.byOperation.GetObject).toBe(gets + 1);
  expect(proxy.stats.rangedGets).toBe(0);
  expect(r.source.size).toBe(LIMIT + 1);
  expect(r.outputs.curated).toBeUndefined();
  expect(r.outputs.quarantine).toEqual({
    bucket: BUCKETS.quarantine,
    key: `churn/ingest_date=${r.ingestDate}/${r.id}.csv`,
    content: 'file',
  });
  expect((await getBytes(t.s3, BUCKETS.quarantine, r.outputs.quarantine!.key)).equals(body)).toBe(true);
  expect(await listKeys(t.s3, BUCKETS.curated, `churn/ingest_date=${r.ingestDate}/${r.id}`)).toEqual([]);
});

test('a small gzip that decompresses past the limit: too-large at that byte, partial outputs discarded', async () => {
  // The same valid row 60,000 times: 2.6 MB that compress to 7.8 KB.
  const body = gzipSync(`${header}\n${`${rowWith('C1', {})}\n`.repeat(60_000)}`);
  expect(body.length).toBeLessThan(LIMIT);
  const r = await validate(await land('churn/limit/bomb.csv.gz', body));
  expect(r.status).toBe('quarantined');
  expect(r.errorCounts).toEqual({ 'too-large': 1 });
  expect(r.reason).toMatch(
    /^the gzip stream decompresses to more than 1,048,576 bytes \(1\.05 MB\), over the limit/,
  );
  expect(r.rows).toEqual({ total: 0, valid: 0, invalid: 0 });
  expect(r.source.gzip).toBe(true);
  expect(r.outputs.quarantine?.key).toBe(`churn/ingest_date=${r.ingestDate}/${r.id}.csv.gz`);
  expect((await getBytes(t.s3, BUCKETS.quarantine, r.outputs.quarantine!.key)).equals(body)).toBe(true);
  expect(await listKeys(t.s3, BUCKETS.curated, `churn/ingest_date=${r.ingestDate}/${r.id}`)).toEqual([]);
  expect(proxy.openUploads().filter((u) => u.createDelivered)).toEqual([]);
});

test('a gzip over the limit as stored: decided from its size, kept as .csv.gz', async () => {
  const body = gzipSync(randomBytes(LIMIT + 4096), { level: 0 });
  const r = await validate(await land('churn/limit/big.csv.gz', body));
  expect(r.errorCounts).toEqual({ 'too-large': 1 });
  expect(r.reason).toMatch(/^the file is 1,052,\d{3} bytes/);
  expect(r.source.gzip).toBe(true);
  expect(r.outputs.quarantine?.key).toMatch(/\.csv\.gz$/);
  expect((await getBytes(t.s3, BUCKETS.quarantine, r.outputs.quarantine!.key)).equals(body)).toBe(true);
});

test('the same too-large event again: a duplicate, the report byte-identical', async () => {
  const event = (await t.eventsFor(BUCKETS.raw, 'churn/limit/over.csv')).at(-1)!;
  const id = outputId(decodeEventKey(event.detail.object.key), event.detail.object.etag);
  const key = `reports/validation/churn/${id}.json`;
  const before = await getBytes(t.s3, BUCKETS.artifacts, key);
  const puts = proxy.stats.byOperation.PutObject ?? 0;
  const copies = proxy.stats.byOperation.CopyObject ?? 0;
  expect(await handler(toSqsEvent([event]))).toEqual({ batchItemFailures: [] });
  expect(proxy.stats.byOperation.PutObject ?? 0).toBe(puts);
  expect(proxy.stats.byOperation.CopyObject ?? 0).toBe(copies);
  expect((await getBytes(t.s3, BUCKETS.artifacts, key)).equals(before)).toBe(true);
});
