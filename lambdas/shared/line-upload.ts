import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { LineBatcher } from '../core/line-batcher';

const PART_SIZE = 5 * 1024 * 1024; // the S3 minimum; with QUEUE_SIZE it bounds the memory of each upload
const QUEUE_SIZE = 2;

/**
 * A streamed (multipart when large) upload of many short lines, coalesced into 256 KiB writes, with
 * backpressure through `drained()`. Nothing exists in S3 until `finish()` completes: `abort()` leaves no
 * object behind (lib-storage aborts the multipart upload when its body errors). The same approach as the
 * validation Lambda's row uploads (validate-object.ts), for Prepare's training channels.
 */
export class LineUpload {
  private readonly stream = new PassThrough();
  private readonly done: Promise<unknown>;
  private readonly batcher: LineBatcher;
  private failed = false;

  constructor(
    s3: S3Client,
    readonly location: { readonly bucket: string; readonly key: string },
    contentType = 'text/csv',
  ) {
    const upload = new Upload({
      client: s3,
      params: { Bucket: location.bucket, Key: location.key, Body: this.stream, ContentType: contentType },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    this.done = upload.done();
    // Observed by finish()/abort()/drained(); this keeps an early failure from being an unhandled rejection.
    this.done.catch(() => {
      this.failed = true;
    });
    this.batcher = new LineBatcher((bytes) => this.stream.write(bytes));
  }

  get bytes(): number {
    return this.batcher.bytes;
  }

  /** Copies `lines[start, end)`: one or more whole lines, each with its LF. */
  write(lines: Uint8Array, start: number, end: number): void {
    this.batcher.add(lines, start, end);
  }

  /** Resolves once the upload has room again; rejects if the upload failed meanwhile. */
  async drained(): Promise<void> {
    if (this.failed) await this.done;
    if (!this.stream.writableNeedDrain) return;
    await Promise.race([
      once(this.stream, 'drain'),
      this.done.then(() => {
        throw new Error(`upload to ${this.location.bucket}/${this.location.key} ended before its input`);
      }),
    ]);
  }

  /** Completes the upload: only now does the object appear. */
  async finish(): Promise<void> {
    this.batcher.flush();
    this.stream.end();
    await this.done;
  }

  /** Discards what was streamed; no object is created. */
  async abort(): Promise<void> {
    this.stream.destroy(new Error('output discarded'));
    await this.done.catch(() => undefined);
  }
}
