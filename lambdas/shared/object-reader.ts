import {
  GetObjectCommand,
  type GetObjectCommandInput,
  type GetObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { backoffMs, isRetryable, sleep } from './retry';

/**
 * Reading an S3 object as a stream that survives a broken connection. The SDK retries a request until its
 * response headers arrive; a body that breaks after that (a reset, a stalled socket, a truncated response)
 * surfaces as a stream error that nothing retries. Restarting the whole object would re-feed bytes the
 * caller has already consumed, so the read resumes where it stopped with a ranged GET of the same version
 * (VersionId, or If-Match on the ETag of the first response), as the S3 transfer managers do.
 */

/** Thrown when a body ends cleanly but short of its Content-Length (a proxy or connection cut it). */
export class TruncatedBodyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TruncatedBodyError';
  }
}

/** The object changed between the first response and a resumed one: the bytes would not fit together. */
export class ObjectChangedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ObjectChangedError';
  }
}

export interface OpenObjectOptions {
  /**
   * Ranged GETs allowed to resume one object's body. Beyond it the read fails (and the event is retried):
   * that many breaks in one object means something is wrong beyond a transient blip.
   * @default 10
   */
  readonly maxResumes?: number;
  /** First backoff before a resume, doubled per failure that brought no new bytes. @default 50 */
  readonly backoffBaseMs?: number;
  /** @default 2000 */
  readonly backoffCapMs?: number;
  /** Called before each resume, e.g. to log it. */
  readonly onResume?: (info: { offset: number; resumes: number; error: unknown }) => void;
}

export interface OpenedObject {
  /** The first response without its body: ContentLength, ETag, LastModified, VersionId, ContentType, ... */
  readonly head: Omit<GetObjectCommandOutput, 'Body'>;
  /** The object's bytes, each exactly once, in order. Iterate it once. */
  readonly body: AsyncIterable<Uint8Array>;
  /** Stops reading and releases the connection; safe to call at any time, more than once. */
  destroy(): void;
  /** Ranged GETs made so far to resume the body. */
  readonly resumes: number;
  /** Bytes delivered so far. */
  readonly offset: number;
}

type Body = AsyncIterable<Uint8Array> & { destroy?: (err?: Error) => void };

function bodyOf(out: GetObjectCommandOutput, what: string): Body {
  const body = out.Body as Body | undefined;
  if (!body) throw new Error(`GetObject ${what} returned no body`);
  return body;
}

/**
 * GetObject, with the body resumed after a retryable break. Errors before the first response (404, 403,
 * 412, ...) are thrown here, as from `s3.send`.
 */
export async function openObject(
  s3: S3Client,
  input: GetObjectCommandInput,
  options: OpenObjectOptions = {},
): Promise<OpenedObject> {
  const maxResumes = options.maxResumes ?? 10;
  const baseMs = options.backoffBaseMs ?? 50;
  const capMs = options.backoffCapMs ?? 2000;
  const what = `s3://${input.Bucket}/${input.Key}`;
  const first = await s3.send(new GetObjectCommand(input));
  const total = first.ContentLength;
  const etag = first.ETag;
  let current: Body = bodyOf(first, what);
  let offset = 0;
  let resumes = 0;
  let destroyed = false;
  const head: Partial<GetObjectCommandOutput> = { ...first };
  delete head.Body;

  /** Replaces the broken body with a ranged GET from `offset`, retrying within the budget; throws when spent. */
  async function resumeAfter(failure: unknown, attempt: number): Promise<void> {
    for (;;) {
      current.destroy?.();
      if (destroyed || total === undefined || !isRetryable(failure) || resumes >= maxResumes) throw failure;
      resumes++;
      options.onResume?.({ offset, resumes, error: failure });
      await sleep(backoffMs(attempt++, baseMs, capMs));
      try {
        const out = await s3.send(
          new GetObjectCommand({
            ...input,
            Range: `bytes=${offset}-`,
            // Without a version id the key may have been overwritten meanwhile: only the same bytes may continue.
            IfMatch: input.IfMatch ?? (input.VersionId === undefined ? etag : undefined),
          }),
        );
        const body = bodyOf(out, what);
        if (etag !== undefined && out.ETag !== undefined && out.ETag !== etag) {
          body.destroy?.();
          throw new ObjectChangedError(`${what} changed while it was read (ETag ${etag}, now ${out.ETag})`);
        }
        if (!out.ContentRange?.startsWith(`bytes ${offset}-`)) {
          body.destroy?.();
          throw new Error(
            `${what}: a read resumed at byte ${offset} answered Content-Range ${out.ContentRange}`,
          );
        }
        current = body;
        return;
      } catch (err) {
        failure = err;
      }
    }
  }

  async function* read(): AsyncGenerator<Uint8Array> {
    // Backoff grows only while resumes bring no new bytes.
    let failuresWithoutProgress = 0;
    try {
      for (;;) {
        const it = current[Symbol.asyncIterator]();
        let failure: unknown;
        for (;;) {
          let r: IteratorResult<Uint8Array>;
          try {
            r = await it.next();
          } catch (err) {
            failure = err;
            break;
          }
          if (r.done) break;
          failuresWithoutProgress = 0;
          offset += r.value.length;
          yield r.value;
        }
        if (destroyed) {
          if (failure !== undefined) throw failure;
          return;
        }
        if (failure === undefined) {
          if (total === undefined || offset >= total) return;
          failure = new TruncatedBodyError(`${what}: the body ended at byte ${offset} of ${total}`);
        }
        await resumeAfter(failure, failuresWithoutProgress++);
      }
    } finally {
      // Also when the consumer stops early: the connection must not stay open.
      current.destroy?.();
    }
  }

  return {
    head: head as Omit<GetObjectCommandOutput, 'Body'>,
    body: read(),
    destroy() {
      destroyed = true;
      current.destroy?.();
    },
    get resumes() {
      return resumes;
    },
    get offset() {
      return offset;
    },
  };
}

/** The whole object as bytes (for small JSON objects), resumed like any other read. */
export async function readObjectBytes(
  s3: S3Client,
  input: GetObjectCommandInput,
  options?: OpenObjectOptions,
): Promise<Buffer> {
  const object = await openObject(s3, input, options);
  const chunks: Uint8Array[] = [];
  try {
    for await (const chunk of object.body) chunks.push(chunk);
  } finally {
    object.destroy();
  }
  return Buffer.concat(chunks);
}
