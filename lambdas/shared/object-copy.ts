import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { abortMultipartUpload } from './line-upload';

/** CopyObject copies at most 5 GiB in one request; larger objects need a multipart upload of copied parts. */
export const COPY_OBJECT_MAX_BYTES = 5 * 1024 ** 3;
/** S3's part limits: at least 5 MiB (except the last), at most 5 GiB, at most 10,000 parts. */
export const MIN_PART_BYTES = 5 * 1024 ** 2;
export const MAX_PART_BYTES = 5 * 1024 ** 3;
export const MAX_PARTS = 10_000;

export interface CopySource {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
  /** Without quotes; when set (and no version id), the copy fails with 412 if the object changed. */
  readonly etag?: string;
}

export interface CopyWholeOptions {
  /** Sizes above this use UploadPartCopy. @default COPY_OBJECT_MAX_BYTES (CopyObject's limit) */
  readonly multipartThreshold?: number;
  /** @default 512 MiB, raised when the object would need more than 10,000 parts */
  readonly partSize?: number;
  /** Parts copied at the same time (each is a server-side copy; the Lambda only waits). @default 4 */
  readonly concurrency?: number;
  /** What the multipart target gets, since only CopyObject copies the source's metadata itself. */
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly metadata?: Record<string, string>;
}

export interface CopyResult {
  readonly multipart: boolean;
  readonly parts: number;
}

/** `bucket/key[?versionId=...]` with the key URL-encoded segment by segment, as x-amz-copy-source wants it. */
export function encodeCopySource(source: CopySource): string {
  const path = `${source.bucket}/${source.key.split('/').map(encodeURIComponent).join('/')}`;
  return source.versionId === undefined ? path : `${path}?versionId=${encodeURIComponent(source.versionId)}`;
}

/** The inclusive byte ranges of the parts, in order. */
export function copyPartRanges(size: number, partSize: number): [number, number][] {
  const ranges: [number, number][] = [];
  for (let start = 0; start < size; start += partSize)
    ranges.push([start, Math.min(size, start + partSize) - 1]);
  return ranges;
}

/** The part size actually used: the requested one, raised to fit 10,000 parts, within S3's limits. */
export function copyPartSize(size: number, requested = 512 * 1024 ** 2): number {
  const fit = Math.ceil(size / MAX_PARTS);
  const partSize = Math.max(requested, fit, MIN_PART_BYTES);
  if (partSize > MAX_PART_BYTES)
    throw new Error(`an object of ${size} bytes cannot be copied in ${MAX_PARTS} parts of at most 5 GiB`);
  return partSize;
}

/**
 * Copies an object unchanged, server side: CopyObject up to 5 GiB, above that a multipart upload whose parts
 * are UploadPartCopy ranges of the source (pinned to the version, or to the ETag with
 * x-amz-copy-source-if-match). The target appears only when CompleteMultipartUpload succeeds; on any failure
 * the upload is aborted and the error rethrown.
 */
export async function copyWholeObject(
  s3: S3Client,
  source: CopySource,
  target: { readonly bucket: string; readonly key: string },
  size: number,
  options: CopyWholeOptions = {},
): Promise<CopyResult> {
  const copySource = encodeCopySource(source);
  const ifMatch =
    source.versionId === undefined && source.etag !== undefined ? `"${source.etag}"` : undefined;
  const threshold = options.multipartThreshold ?? COPY_OBJECT_MAX_BYTES;
  if (size <= threshold) {
    await s3.send(
      new CopyObjectCommand({
        Bucket: target.bucket,
        Key: target.key,
        CopySource: copySource,
        CopySourceIfMatch: ifMatch,
        // Copying the owner's tags would need s3:GetObjectTagging/PutObjectTagging; the report keeps the source.
        TaggingDirective: 'REPLACE',
      }),
    );
    return { multipart: false, parts: 1 };
  }

  const ranges = copyPartRanges(size, copyPartSize(size, options.partSize));
  const created = await s3.send(
    new CreateMultipartUploadCommand({
      Bucket: target.bucket,
      Key: target.key,
      ContentType: options.contentType,
      ContentEncoding: options.contentEncoding,
      Metadata: options.metadata,
    }),
  );
  const uploadId = created.UploadId;
  if (!uploadId)
    throw new Error(`CreateMultipartUpload for ${target.bucket}/${target.key} returned no UploadId`);
  try {
    const parts: CompletedPart[] = new Array(ranges.length);
    let next = 0;
    let stopped = false;
    const worker = async (): Promise<void> => {
      while (!stopped && next < ranges.length) {
        const i = next++;
        const [start, end] = ranges[i];
        const out = await s3.send(
          new UploadPartCopyCommand({
            Bucket: target.bucket,
            Key: target.key,
            UploadId: uploadId,
            PartNumber: i + 1,
            CopySource: copySource,
            CopySourceIfMatch: ifMatch,
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        const etag = out.CopyPartResult?.ETag;
        if (!etag) throw new Error(`UploadPartCopy of part ${i + 1} returned no ETag`);
        parts[i] = { PartNumber: i + 1, ETag: etag };
      }
    };
    const guarded = (): Promise<void> =>
      worker().catch((err: unknown) => {
        // The other workers finish the part they are copying and take no new one.
        stopped = true;
        throw err;
      });
    const workers = Array.from({ length: Math.min(options.concurrency ?? 4, ranges.length) }, guarded);
    // allSettled: no part copy may still be running when the upload is aborted.
    const settled = await Promise.allSettled(workers);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: target.bucket,
        Key: target.key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  } catch (err) {
    await abortMultipartUpload(s3, target, uploadId);
    throw err;
  }
  return { multipart: true, parts: ranges.length };
}
