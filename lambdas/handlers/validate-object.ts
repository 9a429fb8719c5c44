import { createHash } from 'node:crypto';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { HeadObjectCommand, PutObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { isGzip } from '../core/gzip';
import { renderValidationHtml } from '../core/html/validation';
import {
  defaultMaxFileBytes,
  tooLargeMessage,
  type ValidationOptions,
  type ValidationReport,
} from '../core/report';
import { parseDatasetSchema, type DatasetSchema } from '../core/schema';
import { FileValidator } from '../core/validate';
import { LineUpload } from '../shared/line-upload';
import { copyWholeObject } from '../shared/object-copy';
import { openObject, type OpenedObject } from '../shared/object-reader';

/** Settings of the validation Lambda, read from its environment once per cold start. */
export interface ValidationEnv {
  readonly rawBucket: string;
  readonly curatedBucket: string;
  readonly quarantineBucket: string;
  readonly artifactsBucket: string;
  /** Dataset schemas by name; the name is the first segment of a raw key. */
  readonly datasets: ReadonlyMap<string, DatasetSchema>;
  readonly options: ValidationOptions;
  /**
   * Objects larger than this (stored bytes, and decompressed bytes of a gzip) are quarantined whole with code
   * `too-large` instead of being read: they could not be validated within the Lambda timeout. Absent: no limit.
   */
  readonly maxFileBytes?: number;
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
    // The stack always sets it; the fallback is the limit of the default Lambda settings (900 s, 1024 MB).
    maxFileBytes: Math.floor(
      numberEnv(env, 'MAX_FILE_BYTES', defaultMaxFileBytes(900, 1024), 1, Number.MAX_SAFE_INTEGER),
    ),
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

/** The report of a file quarantined whole for its size: from a validator that saw no byte, so it never varies. */
function tooLargeReport(
  schema: DatasetSchema,
  options: ValidationOptions,
  message: string,
): ValidationReport {
  const none = (): void => undefined;
  return new FileValidator(schema, options, { valid: none, invalid: none }).fail('too-large', message);
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

  let object: OpenedObject;
  try {
    object = await openObject(
      s3,
      {
        Bucket: ref.bucket,
        Key: key,
        VersionId: versionId,
        // Unversioned bucket: make sure the bytes are the ones this event (and this id) is about.
        IfMatch: versionId === undefined && etag !== undefined ? `"${etag}"` : undefined,
      },
      {
        onResume: ({ offset, resumes, error }) =>
          log.warn('Reading the raw object broke; resuming', { key, offset, resumes, error: String(error) }),
      },
    );
  } catch (err) {
    if (isPreconditionFailed(err))
      return {
        kind: 'skipped',
        reason: 'object was overwritten after the event; its newer version has its own event',
      };
    throw err;
  }
  const head = object.head;
  const size = head.ContentLength ?? ref.size ?? 0;
  const date = ingestDate(head.LastModified ?? new Date(0));
  const partition = `${dataset}/ingest_date=${date}/${id}`;
  const limit = env.maxFileBytes;

  const state = { gzip: false };
  // The sink runs only inside push(), after both uploads below exist.
  const validator: FileValidator = new FileValidator(schema, env.options, {
    valid: (buf, start, end) => curated.write(buf, start, end),
    invalid: (buf, start, end) => quarantine.write(buf, start, end),
  });
  // Started by the first row, so that a file without invalid rows leaves no empty quarantine object.
  const curated = new LineUpload(
    s3,
    { bucket: env.curatedBucket, key: `${partition}.csv` },
    { header: validator.curatedHeader, skipIfEmpty: true },
  );
  const quarantine = new LineUpload(
    s3,
    { bucket: env.quarantineBucket, key: `${partition}.csv` },
    { header: validator.quarantineHeader, skipIfEmpty: true },
  );

  let report: ValidationReport;
  if (limit !== undefined && size > limit) {
    // Decided from the size alone, before any byte is read: reading would only be cut off by the timeout.
    object.destroy();
    state.gzip = isGzip(key, new Uint8Array(0));
    report = tooLargeReport(schema, env.options, tooLargeMessage(limit, size));
  } else {
    // A gzip within the limit may still decompress past it; counting decoded bytes catches that, at the same
    // byte whatever the chunking, so the outcome is still a pure function of the object.
    let decoded = 0;
    try {
      try {
        let overLimit = false;
        for await (const chunk of decodedBytes(object.body, key, state)) {
          decoded += chunk.length;
          if (limit !== undefined && decoded > limit) {
            overLimit = true;
            break;
          }
          validator.push(chunk);
          await Promise.all([curated.drained(), quarantine.drained()]);
        }
        if (overLimit) {
          object.destroy();
          await Promise.all([curated.abort(), quarantine.abort()]);
          report = tooLargeReport(schema, env.options, tooLargeMessage(limit!, size, true));
        } else report = validator.end();
      } catch (err) {
        if (!(state.gzip && isZlibError(err))) throw err;
        report = validator.fail('encoding', `not a readable gzip stream: ${(err as Error).message}`);
      }
    } catch (err) {
      object.destroy();
      await Promise.all([curated.abort(), quarantine.abort()]);
      throw err;
    }
  }

  const outputs: StoredValidationReport['outputs'] = {};
  if (report.status === 'accepted') {
    try {
      if (await curated.finish()) outputs.curated = { ...curated.location, rows: curated.rows };
      if (await quarantine.finish())
        outputs.quarantine = { ...quarantine.location, content: 'rows', rows: quarantine.rows };
    } catch (err) {
      // Neither upload may stay open: a completed one is whole (and identical on the retry), the other is aborted.
      await Promise.all([curated.abort(), quarantine.abort()]);
      throw err;
    }
  } else {
    await Promise.all([curated.abort(), quarantine.abort()]);
    const target = { bucket: env.quarantineBucket, key: `${partition}${state.gzip ? '.csv.gz' : '.csv'}` };
    // Server side, never through the Lambda; above 5 GiB (CopyObject's limit) as a multipart copy.
    await copyWholeObject(s3, { bucket: ref.bucket, key, versionId, etag }, target, size, {
      contentType: head.ContentType,
      contentEncoding: head.ContentEncoding,
      metadata: head.Metadata,
    });
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
      etag: etag ?? stripQuotes(head.ETag) ?? '',
      size,
      gzip: state.gzip,
    },
    outputs,
  };
  await writeReports(s3, reportLocation, stored);
  return { kind: 'processed', report: stored, location: reportLocation };
}

/** `reports/validation/<dataset>/<id>.html`: the picture of the report, beside its JSON. */
export function validationHtmlKey(jsonKey: string): string {
  return jsonKey.replace(/\.json$/, '.html');
}

/**
 * Writes the HTML report, then the JSON report. The JSON is the commit marker (its existence means "done"), so it
 * goes last; both are pure functions of the object version, so a retry after a crash in between rewrites the same
 * bytes.
 */
export async function writeReports(
  s3: S3Client,
  location: OutputLocation,
  stored: StoredValidationReport,
): Promise<void> {
  const src = stored.source;
  const where = (o: OutputLocation): string => `s3://${o.bucket}/${o.key}`;
  const outputs: Array<{ label: string; location: string; rows?: number }> = [];
  if (stored.outputs.curated)
    outputs.push({
      label: 'Curated rows',
      location: where(stored.outputs.curated),
      rows: stored.outputs.curated.rows,
    });
  const q = stored.outputs.quarantine;
  if (q)
    outputs.push(
      q.content === 'rows'
        ? { label: 'Quarantined rows', location: where(q), rows: q.rows }
        : { label: 'Quarantined file (copied whole)', location: where(q) },
    );
  await s3.send(
    new PutObjectCommand({
      Bucket: location.bucket,
      Key: validationHtmlKey(location.key),
      Body: renderValidationHtml(stored, {
        title: `Validation report: ${src.key.slice(src.key.lastIndexOf('/') + 1)}`,
        source: `s3://${src.bucket}/${src.key}`,
        dataset: stored.dataset,
        id: stored.id,
        ingestDate: stored.ingestDate,
        versionId: src.versionId,
        etag: src.etag,
        bytes: src.size,
        gzip: src.gzip,
        outputs,
      }),
      ContentType: 'text/html; charset=utf-8',
    }),
  );
  await s3.send(
    new PutObjectCommand({
      Bucket: location.bucket,
      Key: location.key,
      Body: `${JSON.stringify(stored, null, 2)}\n`,
      ContentType: 'application/json',
    }),
  );
}
