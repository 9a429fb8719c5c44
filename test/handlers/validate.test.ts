import '../helpers/validation-env';
import { gzipSync } from 'node:zlib';
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { SQSBatchResponse } from 'aws-lambda';
import { toSqsEvent, type ObjectCreatedEvent } from '../../lib/local/s3';
import { handler } from '../../lambdas/handlers/validate';
import type { StoredValidationReport } from '../../lambdas/handlers/validate-object';
import { header, mixedCsv, rowWith, validCsv } from '../helpers/csv';
import {
  BUCKETS,
  getBytes,
  getText,
  listKeys,
  snapshot,
  startTestS3,
  type TestS3,
} from '../helpers/local-s3';

let t: TestS3;
/** EMF goes to console.log under POWERTOOLS_DEV; captured to keep the output clean and to assert on it. */
let consoleLog: jest.SpyInstance;

function emfLines(): string[] {
  return consoleLog.mock.calls.map((c) => String(c[0])).filter((s) => s.includes('"_aws"'));
}
const OUTPUT_BUCKETS = [BUCKETS.curated, BUCKETS.quarantine, BUCKETS.artifacts];

beforeAll(async () => {
  t = await startTestS3();
  consoleLog = jest.spyOn(console, 'log').mockImplementation(() => undefined);
});

beforeEach(() => consoleLog.mockClear());

afterAll(async () => {
  consoleLog?.mockRestore();
  await t?.stop();
});

/** Writes an object to raw and returns the `Object Created` event the adapter made of it. */
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
  expect(events.length).toBeGreaterThan(0);
  return events[events.length - 1];
}

/** Runs the handler on the events and checks that it left raw exactly as it was. */
async function run(...events: ObjectCreatedEvent[]): Promise<SQSBatchResponse> {
  const rawBefore = await snapshot(t.s3, [BUCKETS.raw]);
  const response = await handler(toSqsEvent(events));
  expect(await snapshot(t.s3, [BUCKETS.raw])).toEqual(rawBefore);
  return response;
}

async function reportFor(key: string): Promise<StoredValidationReport> {
  // Each JSON report has its HTML rendering beside it.
  const keys = (await listKeys(t.s3, BUCKETS.artifacts, 'reports/validation/churn/')).filter((k) =>
    k.endsWith('.json'),
  );
  for (const k of keys) {
    const r = JSON.parse(await getText(t.s3, BUCKETS.artifacts, k)) as StoredValidationReport;
    if (r.source.key === key) return r;
  }
  throw new Error(`no report for ${key} among ${keys.join(', ')}`);
}

/** The HTML report beside a report: stored as HTML, with a reference to the report's numbers. */
async function htmlFor(report: StoredValidationReport): Promise<string> {
  const key = `reports/validation/churn/${report.id}.html`;
  const head = await t.s3.send(new HeadObjectCommand({ Bucket: BUCKETS.artifacts, Key: key }));
  expect(head.ContentType).toBe('text/html; charset=utf-8');
  return getText(t.s3, BUCKETS.artifacts, key);
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

test('an accepted file: every row goes to curated, no quarantine object, report written', async () => {
  const key = 'churn/2026/accepted file.csv';
  const event = await land(key, validCsv(200));
  expect(event.detail.object.key).toBe('churn/2026/accepted+file.csv'); // S3 URL-encodes event keys

  expect(await run(event)).toEqual({ batchItemFailures: [] });

  const report = await reportFor(key);
  expect(report.status).toBe('accepted');
  expect(report.rows).toEqual({ total: 200, valid: 200, invalid: 0 });
  expect(report.id).toMatch(/^accepted_file-[0-9a-f]{12}$/);
  expect(report.source).toMatchObject({
    bucket: BUCKETS.raw,
    key,
    etag: event.detail.object.etag,
    gzip: false,
  });
  expect(report.ingestDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  const curatedKey = `churn/ingest_date=${report.ingestDate}/${report.id}.csv`;
  expect(report.outputs).toEqual({ curated: { bucket: BUCKETS.curated, key: curatedKey, rows: 200 } });
  const curated = lines(await getText(t.s3, BUCKETS.curated, curatedKey));
  expect(curated[0]).toBe(header);
  expect(curated).toHaveLength(201);
  expect(
    await listKeys(t.s3, BUCKETS.quarantine, `churn/ingest_date=${report.ingestDate}/${report.id}`),
  ).toEqual([]);
});

test('a mixed file under the threshold: valid rows curated, invalid rows quarantined with _errors', async () => {
  const key = 'churn/mixed.csv';
  const bad = [
    rowWith('BAD-TYPE', { tenure_months: 'twelve' }),
    rowWith('BAD-ENUM', { plan: 'gold' }),
    rowWith('BAD-MIN', { monthly_charges: '-5' }),
  ];
  await run(await land(key, mixedCsv(97, bad)));

  const report = await reportFor(key);
  expect(report.status).toBe('accepted');
  expect(report.rows).toEqual({ total: 100, valid: 97, invalid: 3 });
  expect(report.errorCounts).toMatchObject({ type: 1, enum: 1, minimum: 1 });
  expect(report.errors.map((e) => e.field)).toEqual(['tenure_months', 'plan', 'monthly_charges']);
  expect(report.outputs.curated?.rows).toBe(97);
  expect(report.outputs.quarantine).toMatchObject({ bucket: BUCKETS.quarantine, content: 'rows', rows: 3 });

  const curated = await getText(t.s3, BUCKETS.curated, report.outputs.curated!.key);
  expect(lines(curated)).toHaveLength(98);
  expect(curated).not.toContain('BAD-');
  const quarantined = lines(await getText(t.s3, BUCKETS.quarantine, report.outputs.quarantine!.key));
  expect(quarantined[0]).toBe(`${header},_errors`);
  expect(quarantined.slice(1).map((l) => l.split(',')[0])).toEqual(['BAD-TYPE', 'BAD-ENUM', 'BAD-MIN']);

  // The HTML report beside the JSON: the same numbers, and where the rows went.
  const html = await htmlFor(report);
  expect(html).toContain('data-verdict="accepted"');
  expect(html).toContain('<dt>Rows</dt><dd>100 total, 97 valid, 3 invalid (3.00%)</dd>');
  expect(html).toContain(`<dt>File</dt><dd>s3://${BUCKETS.raw}/${key}</dd>`);
  expect(html).toContain(`s3://${BUCKETS.quarantine}/${report.outputs.quarantine!.key} (3 rows)`);
  for (const [code, n] of Object.entries(report.errorCounts))
    expect(html).toContain(`<tr data-key="${code}" data-count="${n}">`);
  const errorRows = html.split('<table class="errors">')[1].split('</table>')[0].split('<tr><td');
  expect(errorRows.slice(1).map((r) => Number(/^ class="num">(\d+)</.exec(r)![1]))).toEqual(
    report.errors.map((e) => e.row),
  );
});

test('a file over the threshold is quarantined whole: the original bytes, no curated object', async () => {
  const key = 'churn/too-many-errors.csv';
  const bad = Array.from({ length: 10 }, (_, i) => rowWith(`BAD-${i}`, { churned: 'maybe' }));
  const body = mixedCsv(40, bad); // 10/50 = 20% invalid > 5%
  await run(await land(key, body));

  const report = await reportFor(key);
  expect(report.status).toBe('quarantined');
  expect(report.rows).toEqual({ total: 50, valid: 40, invalid: 10 });
  expect(report.outputs.curated).toBeUndefined();
  expect(report.outputs.quarantine).toMatchObject({ content: 'file' });
  expect(report.outputs.quarantine!.key).toBe(`churn/ingest_date=${report.ingestDate}/${report.id}.csv`);
  expect((await getBytes(t.s3, BUCKETS.quarantine, report.outputs.quarantine!.key)).toString()).toBe(body);
  expect(
    await listKeys(t.s3, BUCKETS.curated, `churn/ingest_date=${report.ingestDate}/${report.id}`),
  ).toEqual([]);
});

test('a file with a wrong header is quarantined whole with the reason', async () => {
  const key = 'churn/wrong-header.csv';
  await run(await land(key, `id,${header}\n1,${rowWith('X', {})}\n`));
  const report = await reportFor(key);
  expect(report.status).toBe('quarantined');
  expect(report.reason).toEqual(expect.any(String));
  expect(report.errorCounts.header).toBeGreaterThan(0);
  expect(report.outputs).toEqual({ quarantine: expect.objectContaining({ content: 'file' }) });
});

test('gzip: by extension, and by magic bytes without one', async () => {
  const csv = validCsv(120, 3);
  for (const key of ['churn/zipped.csv.gz', 'churn/zipped-no-extension.csv']) {
    await run(await land(key, gzipSync(csv)));
    const report = await reportFor(key);
    expect(report.status).toBe('accepted');
    expect(report.source.gzip).toBe(true);
    expect(report.rows.total).toBe(120);
    expect(lines(await getText(t.s3, BUCKETS.curated, report.outputs.curated!.key))).toHaveLength(121);
  }
});

test('a quarantined gzip file keeps its compressed bytes and its .csv.gz name', async () => {
  const key = 'churn/bad.csv.gz';
  const gz = gzipSync(mixedCsv(5, [rowWith('BAD', { region: 'moon' })]));
  await run(await land(key, gz));
  const report = await reportFor(key);
  expect(report.status).toBe('quarantined');
  expect(report.outputs.quarantine!.key).toBe(`churn/ingest_date=${report.ingestDate}/${report.id}.csv.gz`);
  expect(await getBytes(t.s3, BUCKETS.quarantine, report.outputs.quarantine!.key)).toEqual(gz);
});

test('a corrupt gzip stream is quarantined whole with an encoding error, not retried', async () => {
  const key = 'churn/corrupt.csv.gz';
  const gz = gzipSync(validCsv(2000, 5));
  const corrupt = Buffer.concat([gz.subarray(0, 40), Buffer.alloc(200, 0xff), gz.subarray(240)]);
  expect(await run(await land(key, corrupt))).toEqual({ batchItemFailures: [] });
  const report = await reportFor(key);
  expect(report.status).toBe('quarantined');
  expect(report.errorCounts.encoding).toBe(1);
  expect(report.outputs.curated).toBeUndefined();
  expect(await getBytes(t.s3, BUCKETS.quarantine, report.outputs.quarantine!.key)).toEqual(corrupt);

  const truncatedKey = 'churn/truncated.csv.gz';
  await run(await land(truncatedKey, gz.subarray(0, Math.floor(gz.length / 2))));
  expect((await reportFor(truncatedKey)).errorCounts.encoding).toBe(1);
});

test('a multipart-uploaded object (> 5 MiB) is reported as CompleteMultipartUpload and validated', async () => {
  const key = 'churn/big/multipart.csv';
  const rows = 110_000;
  const csv = Buffer.from(validCsv(rows, 21));
  expect(csv.length).toBeGreaterThan(5 * 1024 * 1024 + 1);
  await new Upload({
    client: t.s3,
    params: { Bucket: BUCKETS.raw, Key: key, Body: csv },
    partSize: 5 * 1024 * 1024,
  }).done();
  const events = await t.eventsFor(BUCKETS.raw, key);
  expect(events.map((e) => e.detail.reason)).toEqual(['CompleteMultipartUpload']);
  expect(events[0].detail.object.size).toBe(csv.length);

  expect(await run(events[0])).toEqual({ batchItemFailures: [] });
  const report = await reportFor(key);
  expect(report.status).toBe('accepted');
  expect(report.rows.total).toBe(rows);
  expect(report.source.size).toBe(csv.length);
  // The curated output is itself > 5 MiB, so it went through the multipart path of the output upload.
  const curated = await getText(t.s3, BUCKETS.curated, report.outputs.curated!.key);
  expect(curated.length).toBeGreaterThan(5 * 1024 * 1024);
  expect(lines(curated)).toHaveLength(rows + 1);
}, 120_000);

test('a re-delivered event gives byte-identical outputs and no duplicates', async () => {
  const key = 'churn/redelivered.csv';
  const event = await land(key, mixedCsv(60, [rowWith('BAD', { tenure_months: '9999' })]));
  await run(event);
  const report = await reportFor(key);
  const reportKey = `reports/validation/churn/${report.id}.json`;
  const outputs: [string, string][] = [
    [BUCKETS.curated, report.outputs.curated!.key],
    [BUCKETS.quarantine, report.outputs.quarantine!.key],
    [BUCKETS.artifacts, reportKey],
    // The HTML report too: a pure function of the object version, so a retry rewrites the same bytes.
    [BUCKETS.artifacts, reportKey.replace(/\.json$/, '.html')],
  ];
  const bytes = () => Promise.all(outputs.map(([b, k]) => getBytes(t.s3, b, k)));
  const firstBytes = await bytes();
  const first = await snapshot(t.s3, OUTPUT_BUCKETS);

  // Delivered again (SQS is at-least-once): the report exists, nothing is rewritten.
  expect(await run(event)).toEqual({ batchItemFailures: [] });
  expect(await snapshot(t.s3, OUTPUT_BUCKETS)).toEqual(first);

  // Crash before the commit marker, then a retry: everything is recomputed to the very same bytes.
  await t.s3.send(new DeleteObjectCommand({ Bucket: BUCKETS.artifacts, Key: reportKey }));
  await run(event);
  expect(await bytes()).toEqual(firstBytes);
  expect(await snapshot(t.s3, OUTPUT_BUCKETS)).toEqual(first);
  const prefix = `churn/ingest_date=${report.ingestDate}/${report.id}`;
  expect(await listKeys(t.s3, BUCKETS.curated, prefix)).toEqual([`${prefix}.csv`]);
  expect(await listKeys(t.s3, BUCKETS.quarantine, prefix)).toEqual([`${prefix}.csv`]);
  expect(await listKeys(t.s3, BUCKETS.artifacts, `reports/validation/churn/${report.id}`)).toEqual([
    reportKey.replace(/\.json$/, '.html'),
    reportKey,
  ]);
});

test('objects outside a known dataset prefix are skipped: no output, no failure, no metrics', async () => {
  const before = await snapshot(t.s3, OUTPUT_BUCKETS);
  const events = [
    await land('unknown-dataset/file.csv', validCsv(5)),
    await land('top-level.csv', validCsv(5)),
    await land('churn/folder/', ''),
  ];
  expect(await run(...events)).toEqual({ batchItemFailures: [] });
  expect(emfLines()).toEqual([]);
  expect(await snapshot(t.s3, OUTPUT_BUCKETS)).toEqual(before);
});

test('an S3 failure fails only that message; the rest of the batch succeeds', async () => {
  const good = await land('churn/good-neighbour.csv', validCsv(10));
  const missing: ObjectCreatedEvent = JSON.parse(JSON.stringify(good));
  missing.detail.object.key = 'churn/deleted-before-processing.csv';
  const batch = toSqsEvent([missing, good]);
  const malformed = { ...batch.Records[0], messageId: 'not-json', body: '{"detail-type":' };
  batch.Records.push(malformed);

  const response = await handler(batch);
  expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
    [batch.Records[0].messageId, 'not-json'].sort(),
  );
  expect((await reportFor('churn/good-neighbour.csv')).status).toBe('accepted');
});

test('EMF metrics: namespace DevMLOps, dimension Project, row and file counts of the batch', async () => {
  const accepted = await land('churn/metrics-accepted.csv', mixedCsv(49, [rowWith('BAD', { plan: 'x' })]));
  const quarantined = await land(
    'churn/metrics-quarantined.csv',
    mixedCsv(8, [rowWith('B1', { plan: 'x' })]),
  );
  await run(accepted, quarantined);
  const emitted = emfLines();
  expect(emitted).toHaveLength(1);
  const emf = JSON.parse(emitted[0]) as Record<string, unknown> & {
    _aws: {
      CloudWatchMetrics: {
        Namespace: string;
        Dimensions: string[][];
        Metrics: { Name: string; Unit: string }[];
      }[];
    };
  };
  const directive = emf._aws.CloudWatchMetrics[0];
  expect(directive.Namespace).toBe('DevMLOps');
  expect(directive.Dimensions).toEqual([['Project']]);
  expect(emf.Project).toBe('testproj');
  expect(directive.Metrics.map((m) => m.Name).sort()).toEqual([
    'FilesAccepted',
    'FilesQuarantined',
    'RowsRejected',
    'RowsValidated',
  ]);
  expect(directive.Metrics.every((m) => m.Unit === 'Count')).toBe(true);
  // 50 rows with 1 invalid (accepted) + 9 rows with 1 invalid (quarantined whole: all 9 rejected).
  expect(emf).toMatchObject({ RowsValidated: 59, RowsRejected: 10, FilesAccepted: 1, FilesQuarantined: 1 });
});
