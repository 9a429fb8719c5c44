import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { AbortMultipartUploadCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { LineBatcher } from '../core/line-batcher';
import { backoffMs, isRetryable, sleep } from './retry';

const PART_SIZE = 5 * 1024 * 1024; // the S3 minimum; with QUEUE_SIZE it bounds the memory of each upload
const QUEUE_SIZE = 2;

export interface LineUploadOptions {
  /** @default 'text/csv' */
  readonly contentType?: string;
  /** Bytes written before the first line (a CSV header). */
  readonly header?: Uint8Array;
  /**
   * Start the upload only when the first line is written, so that no lines means no object (and no request).
   * @default false (the object is created, possibly empty or header only)
   */
  readonly skipIfEmpty?: boolean;
}

/**
 * Aborts a multipart upload, retrying transient failures a few times more than the SDK does: an upload left
 * open keeps its parts (and their cost) until the bucket's abort-incomplete-multipart-uploads lifecycle rule
 * removes them. NoSuchUpload (404) means there is nothing left to abort. Resolves false when it gave up.
 */
export async function abortMultipartUpload(
  s3: S3Client,
  location: { readonly bucket: string; readonly key: string },
  uploadId: string,
  attempts = 4,
): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      await s3.send(
        new AbortMultipartUploadCommand({ Bucket: location.bucket, Key: location.key, UploadId: uploadId }),
      );
      return true;
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NoSuchUpload' || e.$metadata?.httpStatusCode === 404) return true;
      if (!isRetryable(err) || attempt + 1 >= attempts) return false;
      await sleep(backoffMs(attempt, 100, 2000));
    }
  }
}

/**
 * A streamed (multipart when large) upload of many short lines, coalesced into 256 KiB writes (one stream
 * write per line costs more than validating it), with backpressure through `drained()`. Nothing exists in
 * S3 until `finish()` completes the upload. Any failure, and `abort()`, aborts the multipart upload here
 * rather than in lib-storage (leavePartsOnError), so that the abort itself is retried and its outcome known:
 * a failed run leaves no object and, unless S3 keeps refusing the abort, no parts.
 */
export class LineUpload {
  private stream?: PassThrough;
  private upload?: Upload;
  private done?: Promise<unknown>;
  private batcher?: LineBatcher;
  private failed = false;
  private settled = false;
  /** Calls to write(): one per row for both callers. */
  rows = 0;
  /** The multipart upload left open because its abort kept failing (for the caller's log), if any. */
  orphanedUploadId?: string;

  constructor(
    private readonly s3: S3Client,
    readonly location: { readonly bucket: string; readonly key: string },
    private readonly options: LineUploadOptions = {},
  ) {
    if (!options.skipIfEmpty) this.start();
  }

  private start(): LineBatcher {
    const stream = new PassThrough();
    const upload = new Upload({
      client: this.s3,
      params: {
        Bucket: this.location.bucket,
        Key: this.location.key,
        Body: stream,
        ContentType: this.options.contentType ?? 'text/csv',
      },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: true,
    });
    this.done = upload.done();
    // Observed by finish()/abort()/drained(); this keeps an early failure from being an unhandled rejection.
    this.done.catch(() => {
      this.failed = true;
    });
    this.stream = stream;
    this.upload = upload;
    const batcher = new LineBatcher((bytes) => stream.write(bytes));
    if (this.options.header) batcher.add(this.options.header, 0, this.options.header.length);
    this.batcher = batcher;
    return batcher;
  }

  /** Bytes written so far (header included). */
  get bytes(): number {
    return this.batcher?.bytes ?? 0;
  }

  /** Copies `lines[start, end)`: one or more whole lines, each with its LF. The caller may reuse the memory. */
  write(lines: Uint8Array, start: number, end: number): void {
    this.rows++;
    (this.batcher ?? this.start()).add(lines, start, end);
  }

  /** Resolves once the upload has room again; rejects if the upload failed meanwhile. */
  async drained(): Promise<void> {
    if (!this.stream) return;
    if (this.failed) await this.done;
    if (!this.stream.writableNeedDrain) return;
    await Promise.race([
      once(this.stream, 'drain'),
      this.done!.then(() => {
        throw new Error(`upload to ${this.location.bucket}/${this.location.key} ended before its input`);
      }),
    ]);
  }

  /**
   * Completes the upload: only now does the object appear. False when `skipIfEmpty` and nothing was written
   * (nothing was uploaded). On failure the multipart upload is aborted and the error rethrown.
   */
  async finish(): Promise<boolean> {
    if (!this.stream) return false;
    this.batcher!.flush();
    this.stream.end();
    try {
      await this.done;
    } catch (err) {
      await this.abortParts();
      throw err;
    }
    this.settled = true;
    return true;
  }

  /** Discards what was streamed: no object is created, and the parts already uploaded are aborted. */
  async abort(): Promise<void> {
    if (!this.stream) return;
    this.stream.destroy(new Error('output discarded'));
    await this.done!.catch(() => undefined);
    await this.abortParts();
  }

  private async abortParts(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    const uploadId = this.upload?.uploadId;
    // No upload id: lib-storage sent (or was about to send) a single PutObject, which is all or nothing.
    if (uploadId === undefined) return;
    if (!(await abortMultipartUpload(this.s3, this.location, uploadId))) this.orphanedUploadId = uploadId;
  }
}
