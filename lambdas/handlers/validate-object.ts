import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3ServiceException,
  type GetObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { isGzip } from '../core/gzip';
import { LineBatcher } from '../core/line-batcher';
import type { ValidationOptions, ValidationReport } from '../core/report';
import { parseDatasetSchema, type DatasetSchema } from '../core/schema';
import { FileValidator } from '../core/validate';

/** Settings of the validation Lambda, read from its environment once per cold start. */
export interface ValidationEnv {
  readonly rawBucket: string;
  readonly curatedBucket: string;
  readonly quarantineBucket: string;
  readonly artifactsBucket: string;
  /** Dataset schemas by name; the name is the first segment of a raw key. */
  readonly datasets: ReadonlyMap<string, DatasetSchema>;
  readonly options: ValidationOptions;
}

/** The object an `Object Created` event names. */
export interface ObjectRef {
  readonly bucket: string;
  /** The object key, already URL-decoded. */
  readonly key: string;
  readonly versionId?: string;
  /** Without quotes. */
  readonly etag?: string;
  readonly size?: number;
  /** The S3 operation that created it: PutObject, CompleteMultipartUpload, CopyObject, ... */
  readonly reason?: string;
}

/** Where one object's outputs live. All of it is a pure function of the object, never of the clock. */
export interface OutputLocation {
  readonly bucket: string;
  readonly key: string;
}

/** The JSON written to `artifacts/reports/validation/<dataset>/<id>.json`: the commit marker of a run. */
export interface StoredValidationReport extends ValidationReport {
  id: string;
  dataset: string;
  ingestDate: string;
  source: { bucket: string; key: string; versionId?: string; etag: string; size: number; gzip: boolean };
  outputs: {
    curated?: OutputLocation & { rows: number };
    /** `rows`: the invalid rows with an `_errors` column; `file`: the original object, copied unchanged. */
    quarantine?: OutputLocation & { content: 'rows' | 'file'; rows?: number };
  };
}

export type Outcome =
  | { kind: 'skipped'; reason: string }
  | { kind: 'duplicate'; report: OutputLocation }
  | { kind: 'processed'; report: StoredValidationReport; location: OutputLocation };

/** Thrown for a message that can never succeed (bad JSON, not an S3 event): it belongs in the DLQ. */
export class BadEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadEventError';
  }
}

const PART_SIZE = 5 * 1024 * 1024; // the S3 minimum; with QUEUE_SIZE it bounds the memory of each upload
const QUEUE_SIZE = 2;

function requiredEnv(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (v === undefined || v === '') throw new Error(`Environment variable ${name} is required`);
  return v;
}

function numberEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new Error(`Environment variable ${name} must be a number in [${min}, ${max}], got "${raw}"`);
  return n;
}

/** Reads and checks the Lambda's environment (the contract with the PipelineStack). Throws naming the bad variable. */
export function readValidationEnv(env: NodeJS.ProcessEnv = process.env): ValidationEnv {
  const rawBucket = requiredEnv(env, 'RAW_BUCKET');
  const curatedBucket = requiredEnv(env, 'CURATED_BUCKET');
  const quarantineBucket = requiredEnv(env, 'QUARANTINE_BUCKET');
  const artifactsBucket = requiredEnv(env, 'ARTIFACTS_BUCKET');
  // The handler must never write into raw: refuse a configuration that would make it.
  for (const [name, bucket] of [
    ['CURATED_BUCKET', curatedBucket],
    ['QUARANTINE_BUCKET', quarantineBucket],
    ['ARTIFACTS_BUCKET', artifactsBucket],
  ] as const) {
    if (bucket === rawBucket) throw new Error(`${name} must differ from RAW_BUCKET (${rawBucket})`);
  }
  let schemasJson: unknown;
  try {
    schemasJson = JSON.parse(requiredEnv(env, 'DATASET_SCHEMAS'));
  } catch (e) {
    throw new Error(`DATASET_SCHEMAS is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(schemasJson)) throw new Error('DATASET_SCHEMAS must be a JSON array of dataset schemas');
  const datasets = new Map<string, DatasetSchema>();
  schemasJson.forEach((s, i) => {
    const schema = parseDatasetSchema(s, `DATASET_SCHEMAS[${i}]`);
    if (datasets.has(schema.name)) throw new Error(`DATASET_SCHEMAS: dataset "${schema.name}" appears twice`);
    datasets.set(schema.name, schema);
  });
  return {
    rawBucket,
    curatedBucket,
    quarantineBucket,
    artifactsBucket,
    datasets,
    options: {
      maxInvalidRowFraction: numberEnv(env, 'MAX_INVALID_ROW_FRACTION', 0.05, 0, 1),
      maxLineBytes: Math.floor(numberEnv(env, 'MAX_LINE_BYTES', 1024 * 1024, 1, 64 * 1024 * 1024)),
    },
  };
}

/**
 * S3 puts keys into its event notifications URL-encoded, form style ("a b+c" arrives as "a+b%2Bc"), and
 * the EventBridge events carry the same encoding (AWS's own consumers, e.g. Powertools for Python's
 * S3EventBridgeNotificationObject, unquote_plus the key). A key that does not decode is used as it is.
 */
export function decodeEventKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}

function stripQuotes(etag: string | undefined): string | undefined {
  return etag === undefined ? undefined : etag.replace(/"/g, '');
}

/** Parses one SQS message body: an EventBridge `Object Created` event from S3. */
export function parseObjectCreated(body: string): ObjectRef {
  let event: unknown;
  try {
    event = JSON.parse(body);
  } catch {
    throw new BadEventError('message body is not JSON');
  }
  const e = event as {
    source?: unknown;
    'detail-type'?: unknown;
    detail?: {
      bucket?: { name?: unknown };
      object?: { key?: unknown; size?: unknown; etag?: unknown; 'version-id'?: unknown };
      reason?: unknown;
    };
  };
  if (e?.source !== 'aws.s3' || e['detail-type'] !== 'Object Created')
    throw new BadEventError(
      `not an S3 "Object Created" event (source ${String(e?.source)}, detail-type ${String(e?.['detail-type'])})`,
    );
  const bucket = e.detail?.bucket?.name;
  const obj = e.detail?.object;
  if (typeof bucket !== 'string' || typeof obj?.key !== 'string')
    throw new BadEventError('event has no detail.bucket.name or detail.object.key');
  return {
    bucket,
    key: decodeEventKey(obj.key),
    versionId: typeof obj['version-id'] === 'string' ? obj['version-id'] : undefined,
    etag: typeof obj.etag === 'string' ? stripQuotes(obj.etag) : undefined,
    size: typeof obj.size === 'number' ? obj.size : undefined,
    reason: typeof e.detail?.reason === 'string' ? e.detail.reason : undefined,
  };
}

/**
 * `<sanitised basename>-<12 hex>`: readable, and unique per object version because the hash covers the
 * full key and the version (or, in an unversioned bucket, the ETag, which changes with the content).
 */
export function outputId(key: string, versionOrEtag: string): string {
  const base = key
    .slice(key.lastIndexOf('/') + 1)
    .replace(/(\.csv)?(\.gz)?$/i, '')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .slice(0, 80);
  const hash = createHash('sha256').update(`${key}\n${versionOrEtag}`).digest('hex').slice(0, 12);
  return `${base === '' ? 'object' : base}-${hash}`;
}

/** The UTC date of the object's LastModified: re-processing later gives the same partition. */
export function ingestDate(lastModified: Date): string {
  return lastModified.toISOString().slice(0, 10);
}

function isNotFound(err: unknown): boolean {
  return (
    err instanceof S3ServiceException &&
    (err.$metadata?.httpStatusCode === 404 || err.name === 'NotFound' || err.name === 'NoSuchKey')
  );
}

function isPreconditionFailed(err: unknown): boolean {
  return (
    err instanceof S3ServiceException &&
    (err.$metadata?.httpStatusCode === 412 || err.name === 'PreconditionFailed')
  );
}

/** A log sink, so the module stays free of the Powertools singleton (and testable on its own). */
export interface Log {
  info(message: string, extra: Record<string, unknown>): void;
  warn(message: string, extra: Record<string, unknown>): void;
}

/**
 * A streamed upload that starts on the first row, so that a file without invalid rows leaves no empty
 * quarantine object. Rows are coalesced into 256 KiB writes: one stream write per CSV row costs more
 * than the validation itself.
 */
class RowUpload {
  private stream?: PassThrough;
  private done?: Promise<unknown>;
  private batcher?: LineBatcher;
  rows = 0;

  constructor(
    private readonly s3: S3Client,
    readonly location: OutputLocation,
    private readonly header: Uint8Array,
  ) {}

  private start(): LineBatcher {
    const stream = new PassThrough();
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.location.bucket, Key: this.location.key, Body: stream, ContentType: 'text/csv' },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    this.done = upload.done();
    // Observed by finish()/abort()/drained(); this keeps an early failure from being an unhandled rejection.
    this.done.catch(() => undefined);
    this.stream = stream;
    const batcher = new LineBatcher((bytes) => stream.write(bytes));
    batcher.add(this.header, 0, this.header.length);
    this.batcher = batcher;
    return batcher;
  }

  /** Copies the row `buf[start, end)`: the validator may reuse that memory after the call. */
  write(buf: Uint8Array, start: number, end: number): void {
    this.rows++;
    (this.batcher ?? this.start()).add(buf, start, end);
  }

  /** Resolves once the upload has room again; rejects if the upload failed meanwhile. */
  async drained(): Promise<void> {
    const stream = this.stream;
    if (!stream?.writableNeedDrain) return;
    await Promise.race([
      once(stream, 'drain'),
      this.done!.then(() => {
        throw new Error(`upload to ${this.location.bucket}/${this.location.key} ended before its input`);
      }),
    ]);
  }

  /** Completes the upload; false when no row was ever written (and nothing was uploaded). */
  async finish(): Promise<boolean> {
    if (!this.stream) return false;
    this.batcher!.flush();
    this.stream.end();
    await this.done;
    return true;
  }

  /** Discards what was streamed. An errored body makes lib-storage abort the multipart upload before done() settles. */
  async abort(): Promise<void> {
    if (!this.stream) return;
    this.stream.destroy(new Error('output discarded'));
    await this.done!.catch(() => undefined);
  }
}

/** Yields the object's bytes, gunzipped when the key or the magic bytes say gzip. */
async function* decodedBytes(
  body: AsyncIterable<Uint8Array>,
  key: string,
  state: { gzip: boolean },
): AsyncGenerator<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  const headChunks: Uint8Array[] = [];
  let headLength = 0;
  let ended = false;
  while (headLength < 2) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    headChunks.push(r.value);
    headLength += r.value.length;
  }
  const head = Buffer.concat(headChunks);
  async function* rest(): AsyncGenerator<Uint8Array> {
    if (head.length > 0) yield head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  state.gzip = isGzip(key, head.subarray(0, 2));
  if (!state.gzip) {
    yield* rest();
    return;
  }
  const gunzip = createGunzip();
  pipeline(Readable.from(rest()), gunzip, () => undefined);
  for await (const chunk of gunzip) yield chunk as Buffer;
}

function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

function encodeCopySource(bucket: string, key: string, versionId?: string): string {
  const path = `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  return versionId === undefined ? path : `${path}?versionId=${encodeURIComponent(versionId)}`;
}

/**
 * Validates one raw object and writes its outputs: curated rows, quarantined rows (or the whole file),
 * then the report, last, as the commit marker. S3 errors propagate (the caller retries the message);
 * a file that cannot be read as CSV is not an error but a quarantined file.
 */
export async function validateObject(
  s3: S3Client,
  env: ValidationEnv,
  ref: ObjectRef,
  log: Log,
): Promise<Outcome> {
  const { key } = ref;
  if (ref.bucket !== env.rawBucket)
    return { kind: 'skipped', reason: `bucket ${ref.bucket} is not the raw bucket` };
  if (key.endsWith('/')) return { kind: 'skipped', reason: 'folder marker' };
  const slash = key.indexOf('/');
  if (slash <= 0) return { kind: 'skipped', reason: 'key is outside a dataset prefix' };
  const dataset = key.slice(0, slash);
  const schema = env.datasets.get(dataset);
  if (!schema) return { kind: 'skipped', reason: `unknown dataset "${dataset}"` };

  let versionId = ref.versionId;
  let etag = ref.etag;
  if (versionId === undefined && etag === undefined) {
    // Without either, the output id would not pin one version of the object.
    const head = await s3.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: key }));
    versionId = head.VersionId;
    etag = stripQuotes(head.ETag);
  }
  const id = outputId(key, versionId ?? etag ?? '');
  const reportLocation = {
    bucket: env.artifactsBucket,
    key: `reports/validation/${dataset}/${id}.json`,
  };

  try {
    await s3.send(new HeadObjectCommand({ Bucket: reportLocation.bucket, Key: reportLocation.key }));
    log.info('Already validated: report exists, skipping', { key, id, report: reportLocation.key });
    return { kind: 'duplicate', report: reportLocation };
  } catch (err) {
    // 404: not done yet. Anything else (e.g. 403 without s3:ListBucket) also means "not known to be
    // done": processing again is safe, since every output is a pure function of the object version.
    if (!isNotFound(err))
      log.warn('Could not check for an existing report; validating anyway', { key, error: String(err) });
  }

  let object: GetObjectCommandOutput;
  try {
    object = await s3.send(
      new GetObjectCommand({
        Bucket: ref.bucket,
        Key: key,
        VersionId: versionId,
        // Unversioned bucket: make sure the bytes are the ones this event (and this id) is about.
        IfMatch: versionId === undefined && etag !== undefined ? `"${etag}"` : undefined,
      }),
    );
  } catch (err) {
    if (isPreconditionFailed(err))
      return {
        kind: 'skipped',
        reason: 'object was overwritten after the event; its newer version has its own event',
      };
    throw err;
  }
  const body = object.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
  if (!body) throw new Error(`GetObject ${ref.bucket}/${key} returned no body`);
  const date = ingestDate(object.LastModified ?? new Date(0));
  const partition = `${dataset}/ingest_date=${date}/${id}`;

  const state = { gzip: false };
  // The sink runs only inside push(), after both uploads below exist.
  const validator: FileValidator = new FileValidator(schema, env.options, {
    valid: (buf, start, end) => curated.write(buf, start, end),
    invalid: (buf, start, end) => quarantine.write(buf, start, end),
  });
  const curated = new RowUpload(
    s3,
    { bucket: env.curatedBucket, key: `${partition}.csv` },
    validator.curatedHeader,
  );
  const quarantine = new RowUpload(
    s3,
    { bucket: env.quarantineBucket, key: `${partition}.csv` },
    validator.quarantineHeader,
  );

  let report: ValidationReport;
  try {
    try {
      for await (const chunk of decodedBytes(body, key, state)) {
        validator.push(chunk);
        await Promise.all([curated.drained(), quarantine.drained()]);
      }
      report = validator.end();
    } catch (err) {
      if (!(state.gzip && isZlibError(err))) throw err;
      report = validator.fail('encoding', `not a readable gzip stream: ${(err as Error).message}`);
    }
  } catch (err) {
    body.destroy?.();
    await Promise.all([curated.abort(), quarantine.abort()]);
    throw err;
  }

  const outputs: StoredValidationReport['outputs'] = {};
  if (report.status === 'accepted') {
    if (await curated.finish()) outputs.curated = { ...curated.location, rows: curated.rows };
    if (await quarantine.finish())
      outputs.quarantine = { ...quarantine.location, content: 'rows', rows: quarantine.rows };
  } else {
    await Promise.all([curated.abort(), quarantine.abort()]);
    const target = { bucket: env.quarantineBucket, key: `${partition}${state.gzip ? '.csv.gz' : '.csv'}` };
    await s3.send(
      new CopyObjectCommand({
        Bucket: target.bucket,
        Key: target.key,
        CopySource: encodeCopySource(ref.bucket, key, versionId),
        CopySourceIfMatch: versionId === undefined && etag !== undefined ? `"${etag}"` : undefined,
        // Copying the data owner's tags would need s3:GetObjectTagging/PutObjectTagging; the report keeps the source.
        TaggingDirective: 'REPLACE',
      }),
    );
    outputs.quarantine = { ...target, content: 'file' };
  }

  const stored: StoredValidationReport = {
    id,
    dataset,
    ingestDate: date,
    ...report,
    source: {
      bucket: ref.bucket,
      key,
      ...(versionId === undefined ? {} : { versionId }),
      etag: etag ?? stripQuotes(object.ETag) ?? '',
      size: object.ContentLength ?? ref.size ?? 0,
      gzip: state.gzip,
    },
    outputs,
  };
  await s3.send(
    new PutObjectCommand({
      Bucket: reportLocation.bucket,
      Key: reportLocation.key,
      Body: `${JSON.stringify(stored, null, 2)}\n`,
      ContentType: 'application/json',
    }),
  );
  return { kind: 'processed', report: stored, location: reportLocation };
}
