import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { defaultMaxFileBytes } from '../../lambdas/core/report';
import {
  readValidationEnv,
  validateObject,
  type ObjectRef,
  type StoredValidationReport,
} from '../../lambdas/handlers/validate-object';
import { COPY_OBJECT_MAX_BYTES, copyPartRanges, copyPartSize } from '../../lambdas/shared/object-copy';
import { schema, validCsv } from '../helpers/csv';

/**
 * Sizes that cannot be materialised in a test (2 GB, 6 GiB) and the versioned-bucket path, against a mocked S3:
 * the object's Content-Length says how big it is, and its body is a stream that records any read. s3rver answers
 * NotImplemented to UploadPartCopy, so the request shapes of the multipart copy are asserted here; the same code
 * runs end to end through the fault proxy's UploadPartCopy in fault-proxy.test.ts.
 */
const s3mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'us-east-1' });
const GiB = 1024 ** 3;
// A Lambda with a 300 s timeout and 1024 MB: 1,736,574,335 bytes, so 2 GB is too large for it.
const LIMIT = defaultMaxFileBytes(300, 1024);
const env = readValidationEnv({
  RAW_BUCKET: 'raw',
  CURATED_BUCKET: 'curated',
  QUARANTINE_BUCKET: 'quarantine',
  ARTIFACTS_BUCKET: 'artifacts',
  DATASET_SCHEMAS: JSON.stringify([schema]),
  MAX_FILE_BYTES: String(LIMIT),
});
const log = { info: () => undefined, warn: () => undefined };
const LAST_MODIFIED = new Date('2026-04-01T10:00:00Z');

let reads = 0;
/** A body that must never be read: it counts every attempt. */
function untouchableBody(): Readable {
  return new Readable({
    read() {
      reads++;
      this.destroy(new Error('the body of a too-large object was read'));
    },
  });
}

function notFound(): S3ServiceException {
  return new S3ServiceException({ name: 'NotFound', $fault: 'client', $metadata: { httpStatusCode: 404 } });
}

function storedReport(): StoredValidationReport {
  const put = s3mock
    .commandCalls(PutObjectCommand)
    .find((c) => c.args[0].input.Key?.endsWith('.json') && c.args[0].input.Bucket === 'artifacts');
  expect(put).toBeDefined();
  return JSON.parse(String(put!.args[0].input.Body)) as StoredValidationReport;
}

beforeEach(() => {
  reads = 0;
  s3mock.reset();
  s3mock.on(HeadObjectCommand).rejects(notFound());
  s3mock.on(PutObjectCommand).resolves({});
  s3mock.on(CopyObjectCommand).resolves({ CopyObjectResult: { ETag: '"copy"' } });
  s3mock.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-1' });
  s3mock.on(UploadPartCopyCommand).callsFake((input: { PartNumber: number }) => ({
    CopyPartResult: { ETag: `"part-${input.PartNumber}"` },
  }));
  s3mock.on(CompleteMultipartUploadCommand).resolves({ ETag: '"whole-12"' });
  s3mock.on(AbortMultipartUploadCommand).resolves({});
});

afterAll(() => s3mock.restore());

function bigObject(size: number, extra: Record<string, unknown> = {}): void {
  s3mock.on(GetObjectCommand).callsFake(() => ({
    Body: untouchableBody(),
    ContentLength: size,
    ETag: '"etag-big"',
    LastModified: LAST_MODIFIED,
    ContentType: 'text/csv',
    ...extra,
  }));
}

test('the default limit follows the timeout and the memory', () => {
  expect(defaultMaxFileBytes(900, 1024)).toBe(5_209_723_007);
  expect(LIMIT).toBe(1_736_574_335);
  // Beyond one vCPU (1,769 MB) the single-threaded validator gets no faster.
  expect(defaultMaxFileBytes(900, 3538)).toBe(defaultMaxFileBytes(900, 1769));
  expect(defaultMaxFileBytes(900, 512)).toBeLessThan(defaultMaxFileBytes(900, 1024));
});

test('2 GB (a Lambda with a 300 s timeout): too-large from Content-Length, one CopyObject, the body never read', async () => {
  const size = 2_000_000_000;
  bigObject(size);
  const ref: ObjectRef = { bucket: 'raw', key: 'churn/huge/2gb.csv', etag: 'etag-big', size };
  const out = await validateObject(s3, env, ref, log);
  expect(out.kind).toBe('processed');
  expect(reads).toBe(0);
  const report = storedReport();
  expect(report.errorCounts).toEqual({ 'too-large': 1 });
  expect(report.reason).toContain('the file is 2,000,000,000 bytes (2000.00 MB)');
  expect(report.reason).toContain('the limit of 1,736,574,335 bytes (1736.57 MB)');
  expect(report.source).toMatchObject({ size, etag: 'etag-big', gzip: false });
  const copies = s3mock.commandCalls(CopyObjectCommand);
  expect(copies).toHaveLength(1);
  expect(copies[0].args[0].input).toMatchObject({
    Bucket: 'quarantine',
    Key: `churn/ingest_date=2026-04-01/${report.id}.csv`,
    CopySource: 'raw/churn/huge/2gb.csv',
    CopySourceIfMatch: '"etag-big"',
  });
  expect(s3mock.commandCalls(UploadPartCopyCommand)).toHaveLength(0);
  // Nothing went to curated.
  expect(s3mock.commandCalls(PutObjectCommand).filter((c) => c.args[0].input.Bucket === 'curated')).toEqual(
    [],
  );
});

test('6 GiB: over CopyObject’s 5 GiB, so a multipart copy of contiguous 512 MiB ranges, completed in order', async () => {
  const size = 6 * GiB;
  bigObject(size, { Metadata: { owner: 'team-a' } });
  const ref: ObjectRef = { bucket: 'raw', key: 'churn/huge/6gib.csv', etag: 'etag-big', size };
  await validateObject(s3, env, ref, log);
  expect(reads).toBe(0);
  expect(s3mock.commandCalls(CopyObjectCommand)).toHaveLength(0);
  const report = storedReport();
  const target = `churn/ingest_date=2026-04-01/${report.id}.csv`;
  expect(s3mock.commandCalls(CreateMultipartUploadCommand)[0].args[0].input).toEqual({
    Bucket: 'quarantine',
    Key: target,
    ContentType: 'text/csv',
    ContentEncoding: undefined,
    Metadata: { owner: 'team-a' },
  });
  const parts = s3mock
    .commandCalls(UploadPartCopyCommand)
    .map((c) => c.args[0].input)
    .sort((a, b) => a.PartNumber! - b.PartNumber!);
  expect(parts).toHaveLength(12);
  let next = 0;
  for (const [i, p] of parts.entries()) {
    expect(p).toMatchObject({
      Bucket: 'quarantine',
      Key: target,
      UploadId: 'upload-1',
      PartNumber: i + 1,
      CopySource: 'raw/churn/huge/6gib.csv',
      CopySourceIfMatch: '"etag-big"',
    });
    const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(p.CopySourceRange!)!.map(Number);
    expect(a).toBe(next);
    next = b + 1;
  }
  expect(next).toBe(size);
  expect(s3mock.commandCalls(CompleteMultipartUploadCommand)[0].args[0].input.MultipartUpload?.Parts).toEqual(
    parts.map((p) => ({ PartNumber: p.PartNumber, ETag: `"part-${p.PartNumber}"` })),
  );
  expect(report.outputs.quarantine).toEqual({ bucket: 'quarantine', key: target, content: 'file' });
});

test('a part copy that fails: the upload is aborted, nothing completed, no report, the error propagates', async () => {
  bigObject(6 * GiB);
  s3mock
    .on(UploadPartCopyCommand, { PartNumber: 3 })
    .rejects(
      new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 } }),
    );
  const ref: ObjectRef = { bucket: 'raw', key: 'churn/huge/fails.csv', etag: 'etag-big', size: 6 * GiB };
  await expect(validateObject(s3, env, ref, log)).rejects.toMatchObject({ name: 'AccessDenied' });
  expect(s3mock.commandCalls(AbortMultipartUploadCommand).map((c) => c.args[0].input)).toEqual([
    {
      Bucket: 'quarantine',
      Key: expect.stringMatching(/^churn\/ingest_date=2026-04-01\//),
      UploadId: 'upload-1',
    },
  ]);
  expect(s3mock.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
  expect(s3mock.commandCalls(PutObjectCommand)).toHaveLength(0);
});

test('versioned bucket: every request names the version (no If-Match), in the GET and in each part copy', async () => {
  bigObject(6 * GiB, { VersionId: 'v 2' });
  const ref: ObjectRef = { bucket: 'raw', key: 'churn/huge/v.csv', versionId: 'v 2', etag: 'etag-big' };
  await validateObject(s3, env, ref, log);
  expect(s3mock.commandCalls(GetObjectCommand)[0].args[0].input).toEqual({
    Bucket: 'raw',
    Key: 'churn/huge/v.csv',
    VersionId: 'v 2',
    IfMatch: undefined,
  });
  for (const c of s3mock.commandCalls(UploadPartCopyCommand)) {
    expect(c.args[0].input.CopySource).toBe('raw/churn/huge/v.csv?versionId=v%202');
    expect(c.args[0].input.CopySourceIfMatch).toBeUndefined();
  }
  expect(storedReport().source.versionId).toBe('v 2');
});

test('two versions of one key: distinct ids, each validated from its own bytes', async () => {
  const bodies: Record<string, string> = { v1: validCsv(50, 1), v2: validCsv(80, 2) };
  s3mock.on(GetObjectCommand).callsFake((input: { VersionId: string }) => ({
    Body: Readable.from([Buffer.from(bodies[input.VersionId])]),
    ContentLength: Buffer.byteLength(bodies[input.VersionId]),
    ETag: `"etag-${input.VersionId}"`,
    LastModified: LAST_MODIFIED,
    VersionId: input.VersionId,
  }));
  const reports: StoredValidationReport[] = [];
  for (const versionId of ['v2', 'v1']) {
    s3mock.resetHistory();
    const out = await validateObject(s3, env, { bucket: 'raw', key: 'churn/same.csv', versionId }, log);
    expect(out.kind).toBe('processed');
    reports.push(storedReport());
    const curated = s3mock.commandCalls(PutObjectCommand).find((c) => c.args[0].input.Bucket === 'curated');
    expect(curated?.args[0].input.Key).toBe(`churn/ingest_date=2026-04-01/${reports.at(-1)!.id}.csv`);
  }
  expect(reports.map((r) => r.rows.total)).toEqual([80, 50]);
  expect(new Set(reports.map((r) => r.id)).size).toBe(2);
});

test('the part plan: 512 MiB parts, raised to fit 10,000 parts, refused past 5 GiB parts', () => {
  expect(copyPartSize(6 * GiB)).toBe(512 * 1024 ** 2);
  expect(copyPartRanges(6 * GiB, copyPartSize(6 * GiB))).toHaveLength(12);
  // 5 TiB, S3's largest object: 10,000 parts of 549,755,814 bytes.
  const tib5 = 5 * 1024 ** 4;
  expect(copyPartRanges(tib5, copyPartSize(tib5))).toHaveLength(10_000);
  expect(() => copyPartSize(10_001 * 5 * GiB)).toThrow(/cannot be copied in 10000 parts/);
  expect(COPY_OBJECT_MAX_BYTES).toBe(5 * GiB);
});
