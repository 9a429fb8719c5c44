import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../lambdas/shared/clients';
import { startLocalS3, type LocalS3, type ObjectCreatedEvent } from '../../lib/local/s3';

export const BUCKETS = {
  raw: 'test-raw',
  curated: 'test-curated',
  quarantine: 'test-quarantine',
  artifacts: 'test-artifacts',
} as const;

/** A running s3rver in a fresh temp directory, an SDK client configured as the handler's, and every event it emitted. */
export interface TestS3 {
  readonly local: LocalS3;
  readonly s3: S3Client;
  readonly events: ObjectCreatedEvent[];
  readonly directory: string;
  /** The `Object Created` events (after delivery) for a bucket/key, oldest first. */
  eventsFor(bucket: string, key: string): Promise<ObjectCreatedEvent[]>;
  stop(): Promise<void>;
}

export async function startTestS3(buckets: readonly string[] = Object.values(BUCKETS)): Promise<TestS3> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'devmlops-s3-'));
  const local = await startLocalS3({ directory, buckets });
  const events: ObjectCreatedEvent[] = [];
  local.onObjectCreated((e) => {
    events.push(e);
  });
  // The handler under test builds its client from the environment: point it at this server.
  process.env.AWS_ENDPOINT_URL_S3 = local.endpoint;
  const s3 = createS3Client({ ...process.env, AWS_ENDPOINT_URL_S3: local.endpoint });
  return {
    local,
    s3,
    events,
    directory,
    async eventsFor(bucket, key) {
      await local.idle();
      return events.filter(
        (e) =>
          e.detail.bucket.name === bucket &&
          decodeURIComponent(e.detail.object.key.replace(/\+/g, ' ')) === key,
      );
    },
    async stop() {
      s3.destroy();
      await local.close();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Every key in a bucket (optionally under a prefix), sorted. */
export async function listKeys(s3: S3Client, bucket: string, prefix?: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

export async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

export async function getText(s3: S3Client, bucket: string, key: string): Promise<string> {
  return (await getBytes(s3, bucket, key)).toString('utf8');
}

/**
 * Every object under the buckets (and prefix), as `bucket/key` -> `size etag`. S3's ETag of a single-part
 * object is the MD5 of its bytes (and s3rver's is always), so equal snapshots mean equal contents.
 */
export async function snapshot(
  s3: S3Client,
  buckets: readonly string[],
  prefix?: string,
): Promise<Map<string, string>> {
  const all = new Map<string, string>();
  for (const bucket of buckets) {
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) all.set(`${bucket}/${o.Key}`, `${o.Size} ${o.ETag}`);
      token = page.NextContinuationToken;
    } while (token);
  }
  return all;
}
