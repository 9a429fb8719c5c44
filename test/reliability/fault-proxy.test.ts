/**
 * @jest-environment ./test/reliability/environment.js
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createS3Client } from '../../lambdas/shared/clients';
import { LineUpload } from '../../lambdas/shared/line-upload';
import { copyWholeObject } from '../../lambdas/shared/object-copy';
import { openObject, readObjectBytes } from '../../lambdas/shared/object-reader';
import { isRetryable } from '../../lambdas/shared/retry';
import { startFaultProxy, totalFaults, type FaultKind, type FaultProxy } from '../helpers/fault-proxy';
import { BUCKETS, getBytes, listKeys, startTestS3, type TestS3 } from '../helpers/local-s3';

/**
 * The fault proxy itself, and the shared S3 pieces the handlers build on (the handlers' client settings,
 * the resumable reader, the streamed upload's abort, the multipart copy) under its faults.
 */
let t: TestS3;
let proxy: FaultProxy;
/** The handlers' client settings (5 attempts, standard mode) pointed at the proxy. */
let s3: S3Client;
/** The same, with one attempt: the faults as the caller sees them. */
let bare: S3Client;

const MiB = 1024 * 1024;

/** Deterministic bytes, different at every offset, so that a misplaced range shows. */
function pattern(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

beforeAll(async () => {
  t = await startTestS3();
  proxy = await startFaultProxy({ upstream: t.local.endpoint, s3rverDirectory: t.directory });
  s3 = createS3Client({ ...process.env, AWS_ENDPOINT_URL_S3: proxy.endpoint });
  bare = new S3Client({
    region: 'us-east-1',
    endpoint: proxy.endpoint,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  });
});

afterEach(() => {
  jest.restoreAllMocks();
  proxy.configure({ rates: {}, enabled: true, target: null });
});

afterAll(async () => {
  s3?.destroy();
  bare?.destroy();
  await proxy?.close();
  await t?.stop();
});

async function failure(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await p;
  } catch (e) {
    return e as Error & Record<string, unknown>;
  }
  throw new Error('expected a failure');
}

describe('faults as a single attempt sees them', () => {
  beforeAll(async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: BUCKETS.raw, Key: 'p/obj.bin', Body: pattern(200_000) }));
  });

  test('503 SlowDown carries S3 XML: the SDK names it SlowDown, a throttling error', async () => {
    proxy.configure({ rates: { slowDown: 1 } });
    const err = await failure(bare.send(new ListObjectsV2Command({ Bucket: BUCKETS.raw })));
    expect(err.name).toBe('SlowDown');
    expect(err.message).toBe('Please reduce your request rate.');
    expect((err.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(503);
    expect(isRetryable(err)).toBe(true);
  });

  test('500 InternalError', async () => {
    proxy.configure({ rates: { internalError: 1 } });
    const err = await failure(bare.send(new HeadObjectCommand({ Bucket: BUCKETS.raw, Key: 'p/obj.bin' })));
    expect((err.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(500);
    expect(isRetryable(err)).toBe(true);
  });

  test('a reset while the request body arrives: nothing reaches the server', async () => {
    proxy.configure({ rates: { resetRequest: 1 } });
    const err = await failure(
      bare.send(new PutObjectCommand({ Bucket: BUCKETS.raw, Key: 'p/never.bin', Body: pattern(500_000) })),
    );
    expect(err.code).toBe('ECONNRESET');
    expect(isRetryable(err)).toBe(true);
    expect(await listKeys(t.s3, BUCKETS.raw, 'p/never')).toEqual([]);
  });

  test('a reset after the response headers: GetObject resolves, its body breaks (the SDK cannot retry that)', async () => {
    proxy.configure({ rates: { resetResponse: 1 } });
    let broke: unknown;
    // The cut point is random: somewhere in the body, possibly before the headers were complete.
    for (let i = 0; i < 5 && broke === undefined; i++) {
      try {
        const r = await bare.send(new GetObjectCommand({ Bucket: BUCKETS.raw, Key: 'p/obj.bin' }));
        await r.Body!.transformToByteArray();
      } catch (e) {
        if ((e as { $metadata?: unknown }).$metadata === undefined) broke = e;
      }
    }
    expect(broke).toMatchObject({ code: 'ECONNRESET' });
    expect(isRetryable(broke)).toBe(true);
  });

  test('a reset after a PUT was carried out: the object exists although the client saw an error', async () => {
    proxy.configure({ rates: { resetResponse: 1 } });
    const err = await failure(
      bare.send(new PutObjectCommand({ Bucket: BUCKETS.raw, Key: 'p/written.bin', Body: pattern(1000) })),
    );
    expect(isRetryable(err)).toBe(true);
    expect(await getBytes(t.s3, BUCKETS.raw, 'p/written.bin')).toEqual(pattern(1000));
  });

  test('the same seed gives the same faults for the same sequence of requests', async () => {
    const run = async (): Promise<Record<FaultKind, number>> => {
      proxy.resetStats();
      proxy.configure({
        seed: 42,
        rates: { slowDown: 0.1, internalError: 0.1, resetRequest: 0.1, resetResponse: 0.1 },
      });
      for (let i = 0; i < 40; i++)
        await bare
          .send(new HeadObjectCommand({ Bucket: BUCKETS.raw, Key: 'p/obj.bin' }))
          .catch(() => undefined);
      return { ...proxy.stats.faults };
    };
    const a = await run();
    expect(await run()).toEqual(a);
    expect(totalFaults(proxy.stats)).toBeGreaterThan(5);
  });
});

describe('the handlers client under faults', () => {
  test('40% faulty requests: every PUT and GET still succeeds through the SDK retries', async () => {
    proxy.resetStats();
    proxy.configure({
      seed: 7,
      rates: { slowDown: 0.1, internalError: 0.1, resetRequest: 0.1, resetResponse: 0.1, latency: 0.2 },
    });
    const bodies = Array.from({ length: 12 }, (_, i) => pattern(20_000 + i, i + 1));
    for (const [i, body] of bodies.entries())
      await s3.send(new PutObjectCommand({ Bucket: BUCKETS.raw, Key: `q/${i}.bin`, Body: body }));
    for (const [i, body] of bodies.entries())
      expect(await readObjectBytes(s3, { Bucket: BUCKETS.raw, Key: `q/${i}.bin` })).toEqual(body);
    expect(totalFaults(proxy.stats)).toBeGreaterThan(4);
  });
});

describe('openObject: a body that breaks resumes with a ranged GET', () => {
  const body = pattern(3 * MiB, 9);
  beforeAll(async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: BUCKETS.raw, Key: 'r/big.bin', Body: body }));
  });

  test('every byte once, in order, across many resets', async () => {
    proxy.resetStats();
    // Three GETs in four are cut somewhere in their body.
    let n = 0;
    proxy.configure({
      seed: 3,
      rates: { resetResponse: 1 },
      target: (r) => r.operation === 'GetObject' && n++ % 4 !== 3,
    });
    const object = await openObject(s3, { Bucket: BUCKETS.raw, Key: 'r/big.bin' }, { maxResumes: 50 });
    const chunks: Uint8Array[] = [];
    for await (const c of object.body) chunks.push(c);
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
    expect(object.resumes).toBeGreaterThan(0);
    expect(object.offset).toBe(body.length);
  });

  test('gives up after maxResumes with the retryable error, for the event to be retried', async () => {
    proxy.configure({ rates: { resetResponse: 1 } });
    const err = await failure(
      (async () => {
        const object = await openObject(s3, { Bucket: BUCKETS.raw, Key: 'r/big.bin' }, { maxResumes: 2 });
        for await (const c of object.body) void c;
      })(),
    );
    expect(isRetryable(err)).toBe(true);
  });

  test('an object overwritten before a resume is not stitched together: 412 on If-Match, no bytes mixed', async () => {
    await t.s3.send(
      new PutObjectCommand({ Bucket: BUCKETS.raw, Key: 'r/changing.bin', Body: pattern(MiB, 1) }),
    );
    // The first GET breaks somewhere in its body; the object is overwritten just before the ranged GET.
    proxy.configure({
      rates: { resetResponse: 1 },
      target: (r) => r.operation === 'GetObject' && r.headers.range === undefined,
    });
    const send = s3.send.bind(s3) as (c: unknown) => Promise<unknown>;
    jest.spyOn(s3, 'send').mockImplementation((async (c: unknown) => {
      if (c instanceof GetObjectCommand && c.input.Range !== undefined)
        await t.s3.send(
          new PutObjectCommand({ Bucket: BUCKETS.raw, Key: 'r/changing.bin', Body: pattern(MiB, 2) }),
        );
      return send(c);
    }) as never);
    const before = proxy.stats.preconditionFailed;
    const err = await failure(readObjectBytes(s3, { Bucket: BUCKETS.raw, Key: 'r/changing.bin' }));
    expect(err).toMatchObject({ $metadata: { httpStatusCode: 412 } });
    expect(isRetryable(err)).toBe(false);
    expect(proxy.stats.preconditionFailed).toBe(before + 1);
  });
});

describe('LineUpload: a failed or discarded upload leaves neither an object nor open parts', () => {
  const uploadsDir = (bucket: string): string => path.join(t.directory, bucket, '._S3rver_uploads');
  const line = Buffer.from(`${'x'.repeat(99)}\n`);

  test('abort after two parts: the multipart upload is aborted and its parts deleted', async () => {
    proxy.configure({ rates: {} });
    const up = new LineUpload(s3, { bucket: BUCKETS.curated, key: 'u/aborted.csv' });
    for (let i = 0; i < 130_000; i++) {
      up.write(line, 0, line.length);
      if (i % 1000 === 0) await up.drained();
    }
    // Parts go out as the stream fills; wait until the upload exists.
    for (let i = 0; i < 100 && proxy.openUploads().length === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    const open = proxy.openUploads().filter((u) => u.key === 'u/aborted.csv');
    expect(open).toHaveLength(1);
    await up.abort();
    expect(proxy.uploads.get(open[0].uploadId)?.state).toBe('aborted');
    expect(up.orphanedUploadId).toBeUndefined();
    expect(await listKeys(t.s3, BUCKETS.curated, 'u/')).toEqual([]);
    const left = fs.existsSync(uploadsDir(BUCKETS.curated))
      ? fs.readdirSync(uploadsDir(BUCKETS.curated))
      : [];
    expect(left).not.toContain(open[0].uploadId);
  });

  test('a part upload that keeps failing: finish() rejects, the upload is aborted, no object', async () => {
    const up = new LineUpload(s3, { bucket: BUCKETS.curated, key: 'u/failing.csv' });
    // Every UploadPart fails, through all the SDK's attempts; the abort gets through.
    proxy.configure({ rates: { internalError: 1 }, target: (r) => r.operation === 'UploadPart' });
    for (let i = 0; i < 60_000; i++) up.write(line, 0, line.length);
    const err = await failure(up.finish());
    expect(isRetryable(err)).toBe(true);
    const mine = [...proxy.uploads.values()].filter((u) => u.key === 'u/failing.csv');
    expect(mine.map((u) => u.state)).toEqual(['aborted']);
    expect(await listKeys(t.s3, BUCKETS.curated, 'u/failing')).toEqual([]);
  });
});

describe('copyWholeObject', () => {
  const size = 12 * MiB + 12345;
  const body = pattern(size, 5);
  beforeAll(async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: BUCKETS.raw, Key: 'c/big.csv', Body: body }));
  });

  test('below the threshold: one CopyObject', async () => {
    proxy.resetStats();
    const r = await copyWholeObject(
      s3,
      { bucket: BUCKETS.raw, key: 'c/big.csv' },
      { bucket: BUCKETS.quarantine, key: 'c/one.csv' },
      size,
    );
    expect(r).toEqual({ multipart: false, parts: 1 });
    expect(proxy.stats.byOperation.CopyObject).toBe(1);
    expect((await getBytes(t.s3, BUCKETS.quarantine, 'c/one.csv')).equals(body)).toBe(true);
  });

  test('above it (lowered to 5 MiB here, 5 GiB in use): UploadPartCopy ranges reassemble the same bytes', async () => {
    proxy.resetStats();
    const r = await copyWholeObject(
      s3,
      { bucket: BUCKETS.raw, key: 'c/big.csv' },
      { bucket: BUCKETS.quarantine, key: 'c/parts.csv' },
      size,
      { multipartThreshold: 5 * MiB, partSize: 5 * MiB, contentType: 'text/csv' },
    );
    expect(r).toEqual({ multipart: true, parts: 3 });
    expect(proxy.stats.byOperation.UploadPartCopy).toBe(3);
    expect((await getBytes(t.s3, BUCKETS.quarantine, 'c/parts.csv')).equals(body)).toBe(true);
    expect(proxy.openUploads()).toEqual([]);
  });

  test('under faults: the same bytes, or a retryable error with the upload aborted and no object', async () => {
    proxy.resetStats();
    let copied = 0;
    let failed = 0;
    for (let seed = 1; seed <= 4; seed++) {
      proxy.configure({
        seed,
        rates: { slowDown: 0.05, internalError: 0.05, resetRequest: 0.05, resetResponse: 0.05 },
      });
      const key = `c/faulty-${seed}.csv`;
      try {
        await copyWholeObject(
          s3,
          { bucket: BUCKETS.raw, key: 'c/big.csv' },
          { bucket: BUCKETS.quarantine, key },
          size,
          {
            multipartThreshold: 5 * MiB,
            partSize: 5 * MiB,
          },
        );
        copied++;
        proxy.configure({ rates: {} });
        expect((await getBytes(t.s3, BUCKETS.quarantine, key)).equals(body)).toBe(true);
      } catch (err) {
        failed++;
        expect(isRetryable(err)).toBe(true);
        proxy.configure({ rates: {} });
        // A CompleteMultipartUpload carried out whose response was lost leaves the whole object: never a part of it.
        const keys = await listKeys(t.s3, BUCKETS.quarantine, key);
        if (keys.length > 0) expect((await getBytes(t.s3, BUCKETS.quarantine, key)).equals(body)).toBe(true);
      }
    }
    expect(copied + failed).toBe(4);
    expect(copied).toBeGreaterThan(0);
    // Only uploads whose creation response was lost can be left open (the client never knew their id).
    expect(proxy.openUploads().filter((u) => u.createDelivered)).toEqual([]);
    expect(totalFaults(proxy.stats)).toBeGreaterThan(0);
  });
});
