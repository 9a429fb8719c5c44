import { randomBytes, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { AwsOperation } from './aws-api-server';
import type { Clock } from './clock';
import { AwsApiError } from './errors';
import { unsignedPayload } from './s3';
import type { LocalTemplates, PseudoParameters } from './template';

/**
 * Amazon Data Firehose for the local platform: the delivery streams of the synthesized templates (DirectPut to
 * S3), served over the AWS JSON 1.1 protocol (`Firehose_20150804.PutRecord` / `PutRecordBatch`) on the platform's
 * AWS API endpoint, so the real @aws-sdk/client-firehose works against it. Records are buffered per stream and
 * written to S3 as Firehose writes them: concatenated as sent (Firehose adds no delimiter), one object per flush,
 * when the buffer reaches BufferingHints.SizeInMBs or its oldest record is IntervalInSeconds old on the platform
 * clock, named `<evaluated prefix><stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><extension>`. Prefix expressions
 * (`!{timestamp:<Java DateTimeFormatter pattern>}`, `!{firehose:random-string}`) are evaluated with the arrival
 * time of the oldest record in the object, in CustomTimeZone (UTC by default), as the developer guide
 * ("Custom Prefixes for Amazon S3 Objects", "Amazon S3 object name format") describes.
 */

export const FIREHOSE_TARGET_PREFIX = 'Firehose_20150804';

/** A Firehose stream's S3 delivery, read from its template. */
export interface DeliveryStreamConfig {
  readonly name: string;
  readonly arn: string;
  readonly stackName: string;
  readonly logicalId: string;
  readonly bucket: string;
  /** The Prefix as configured (expressions unevaluated); undefined = Firehose's default `yyyy/MM/dd/HH/`. */
  readonly prefix?: string;
  readonly errorOutputPrefix?: string;
  readonly bufferIntervalSeconds: number;
  readonly bufferSizeBytes: number;
  readonly compression: 'UNCOMPRESSED' | 'GZIP';
  /** Appended to every object name. @default '' (UNCOMPRESSED), '.gz' (GZIP) */
  readonly fileExtension: string;
  /** IANA time zone of prefix timestamps and object names. */
  readonly timeZone: string;
  /** S3 SSE-KMS key of the delivered objects (EncryptionConfiguration.KMSEncryptionConfig). */
  readonly kmsKeyArn?: string;
  /** Server-side encryption of the stream itself (what PutRecord's `Encrypted` reports). */
  readonly streamEncrypted: boolean;
}

/** Firehose's defaults (BufferingHints: 5 MiB or 300 s, whichever first). */
const DEFAULT_BUFFER_MB = 5;
const DEFAULT_BUFFER_SECONDS = 300;
const MIB = 1024 * 1024;
/** PutRecord / PutRecordBatch limits (Firehose quotas): 1,000 KiB a record, 500 records and 4 MiB a batch. */
const MAX_RECORD_BYTES = 1000 * 1024;
const MAX_BATCH_RECORDS = 500;
const MAX_BATCH_BYTES = 4 * MIB;
/** The stream version in object names: 1 until the destination is updated, which never happens locally. */
const STREAM_VERSION = 1;

function streamArn(p: PseudoParameters, name: string): string {
  return `arn:${p.partition}:firehose:${p.region}:${p.accountId}:deliverystream/${name}`;
}

interface S3DestinationProps {
  BucketARN?: string;
  Prefix?: string;
  ErrorOutputPrefix?: string;
  BufferingHints?: { IntervalInSeconds?: number; SizeInMBs?: number };
  CompressionFormat?: string;
  FileExtension?: string;
  CustomTimeZone?: string;
  EncryptionConfiguration?: { KMSEncryptionConfig?: { AWSKMSKeyARN?: string }; NoEncryptionConfig?: string };
  ProcessingConfiguration?: { Enabled?: boolean };
  DynamicPartitioningConfiguration?: { Enabled?: boolean };
  DataFormatConversionConfiguration?: { Enabled?: boolean };
}

/** Every delivery stream of the templates; throws naming the stream for what the local Firehose cannot do. */
export function deliveryStreamsFromTemplates(local: LocalTemplates): DeliveryStreamConfig[] {
  const out: DeliveryStreamConfig[] = [];
  for (const { stackName, logicalId, resource } of local.resourcesOfType(
    'AWS::KinesisFirehose::DeliveryStream',
  )) {
    const at = `${stackName}/${logicalId}`;
    const p = resource.Properties ?? {};
    const res = (key: string): unknown =>
      p[key] === undefined
        ? undefined
        : local.resolve(stackName, p[key], `Resources.${logicalId}.Properties.${key}`);
    const type = (res('DeliveryStreamType') as string | undefined) ?? 'DirectPut';
    if (type !== 'DirectPut')
      throw new Error(
        `Firehose stream ${at}: DeliveryStreamType ${type} is not supported locally (DirectPut only)`,
      );
    const destination = (res('ExtendedS3DestinationConfiguration') ?? res('S3DestinationConfiguration')) as
      S3DestinationProps | undefined;
    if (!destination) throw new Error(`Firehose stream ${at}: only S3 destinations are supported locally`);
    for (const feature of [
      'ProcessingConfiguration',
      'DynamicPartitioningConfiguration',
      'DataFormatConversionConfiguration',
    ] as const)
      if (destination[feature]?.Enabled === true)
        throw new Error(`Firehose stream ${at}: ${feature} is not supported locally`);
    const bucketArn = destination.BucketARN ?? '';
    const bucket = /^arn:[^:]+:s3:::([^/]+)$/.exec(bucketArn)?.[1];
    if (!bucket) throw new Error(`Firehose stream ${at}: BucketARN "${bucketArn}" is not a bucket ARN`);
    const compression = destination.CompressionFormat ?? 'UNCOMPRESSED';
    if (compression !== 'UNCOMPRESSED' && compression !== 'GZIP')
      throw new Error(`Firehose stream ${at}: CompressionFormat ${compression} is not supported locally`);
    const timeZone = destination.CustomTimeZone ?? 'UTC';
    checkTimeZone(timeZone, at);
    const errorOutputPrefix = destination.ErrorOutputPrefix;
    // Parsed now, so a prefix Firehose would refuse fails at start, as CreateDeliveryStream would.
    if (destination.Prefix !== undefined) parsePrefix(destination.Prefix, false, at);
    if (errorOutputPrefix !== undefined) parsePrefix(errorOutputPrefix, true, at);
    if (destination.Prefix?.includes('!{') === true && errorOutputPrefix === undefined)
      throw new Error(`Firehose stream ${at}: a Prefix with expressions needs an ErrorOutputPrefix`);
    const sse = res('DeliveryStreamEncryptionConfigurationInput') as { KeyType?: string } | undefined;
    const name = local.resource(stackName, logicalId).ref;
    out.push({
      name,
      arn: streamArn(local.pseudo, name),
      stackName,
      logicalId,
      bucket,
      prefix: destination.Prefix,
      errorOutputPrefix,
      bufferIntervalSeconds: destination.BufferingHints?.IntervalInSeconds ?? DEFAULT_BUFFER_SECONDS,
      bufferSizeBytes: (destination.BufferingHints?.SizeInMBs ?? DEFAULT_BUFFER_MB) * MIB,
      compression,
      fileExtension: destination.FileExtension ?? (compression === 'GZIP' ? '.gz' : ''),
      timeZone,
      kmsKeyArn: destination.EncryptionConfiguration?.KMSEncryptionConfig?.AWSKMSKeyARN,
      streamEncrypted: sse !== undefined,
    });
  }
  return out;
}

// ---- prefixes and times ----------------------------------------------------------------------------------------

/** A time's calendar fields in one time zone. */
export interface TimeParts {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly millisecond: number;
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

function checkTimeZone(zone: string, at: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new Error(`Firehose stream ${at}: CustomTimeZone "${zone}" is not a time zone`);
  }
}

export function timeParts(time: Date, zone = 'UTC'): TimeParts {
  if (zone === 'UTC')
    return {
      year: time.getUTCFullYear(),
      month: time.getUTCMonth() + 1,
      day: time.getUTCDate(),
      hour: time.getUTCHours(),
      minute: time.getUTCMinutes(),
      second: time.getUTCSeconds(),
      millisecond: time.getUTCMilliseconds(),
    };
  let format = zoneFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    zoneFormats.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(time).map((p) => [p.type, p.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    millisecond: time.getUTCMilliseconds(),
  };
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/**
 * Formats with a Java DateTimeFormatter pattern, the subset prefixes use: y (yyyy, yy), M, d, H, m, s, S
 * (a letter repeated sets the zero padding), text in single quotes ('' is a quote); other letters are refused.
 */
export function formatJavaTime(pattern: string, t: TimeParts): string {
  let out = '';
  for (let i = 0; i < pattern.length;) {
    const c = pattern[i];
    if (c === "'") {
      const end = pattern.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in time pattern "${pattern}"`);
      out += end === i + 1 ? "'" : pattern.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (!/[A-Za-z]/.test(c)) {
      out += c;
      i++;
      continue;
    }
    let n = 1;
    while (pattern[i + n] === c) n++;
    i += n;
    switch (c) {
      case 'y':
      case 'u':
        out += n === 2 ? pad(t.year % 100, 2) : pad(t.year, n);
        break;
      case 'M':
        out += pad(t.month, n);
        break;
      case 'd':
        out += pad(t.day, n);
        break;
      case 'H':
        out += pad(t.hour, n);
        break;
      case 'm':
        out += pad(t.minute, n);
        break;
      case 's':
        out += pad(t.second, n);
        break;
      case 'S':
        out += pad(t.millisecond, 3).slice(0, n).padEnd(n, '0');
        break;
      default:
        throw new Error(`time pattern letter "${c}" in "${pattern}" is not supported locally`);
    }
  }
  return out;
}

type PrefixPart =
  | { readonly text: string }
  | { readonly timestamp: string }
  | { readonly firehose: 'random-string' | 'error-output-type' };

/** Splits a prefix into text and `!{namespace:value}` expressions; throws for what Firehose would refuse. */
export function parsePrefix(prefix: string, errorPrefix: boolean, at = 'prefix'): PrefixPart[] {
  const parts: PrefixPart[] = [];
  const re = /!\{([^}:]*):([^}]*)\}/g;
  let last = 0;
  for (let m = re.exec(prefix); m; m = re.exec(prefix)) {
    if (m.index > last) parts.push({ text: prefix.slice(last, m.index) });
    last = m.index + m[0].length;
    const [, namespace, value] = m;
    if (namespace === 'timestamp') {
      // Fails on a letter this formatter does not know, at load rather than at the first delivery.
      formatJavaTime(value, timeParts(new Date(0)));
      parts.push({ timestamp: value });
    } else if (namespace === 'firehose' && (value === 'random-string' || value === 'error-output-type')) {
      if (value === 'error-output-type' && !errorPrefix)
        throw new Error(`${at}: !{firehose:error-output-type} is only allowed in ErrorOutputPrefix`);
      parts.push({ firehose: value });
    } else if (namespace === 'partitionKeyFromQuery' || namespace === 'partitionKeyFromLambda') {
      throw new Error(`${at}: dynamic partitioning (!{${namespace}:...}) is not supported locally`);
    } else {
      throw new Error(`${at}: unknown prefix expression ${m[0]}`);
    }
  }
  const rest = prefix.slice(last);
  if (rest.includes('!{')) throw new Error(`${at}: malformed prefix expression in "${prefix}"`);
  if (rest) parts.push({ text: rest });
  return parts;
}

/** Firehose's prefix when none is configured, or when the configured one has no expression. */
const DEFAULT_TIME_PREFIX = 'yyyy/MM/dd/HH/';

/** The evaluated prefix of an object whose oldest record arrived at `time`. */
export function evaluatePrefix(
  prefix: string | undefined,
  time: Date,
  options: { timeZone?: string; errorOutputType?: string } = {},
): string {
  const t = timeParts(time, options.timeZone ?? 'UTC');
  if (prefix === undefined || !prefix.includes('!{'))
    return `${prefix ?? ''}${formatJavaTime(DEFAULT_TIME_PREFIX, t)}`;
  return parsePrefix(prefix, options.errorOutputType !== undefined)
    .map((p) => {
      if ('text' in p) return p.text;
      if ('timestamp' in p) return formatJavaTime(p.timestamp, t);
      if (p.firehose === 'random-string') return randomString(11);
      return options.errorOutputType ?? '';
    })
    .join('');
}

function randomString(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

/** `<stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><extension>`, the object name suffix Firehose writes. */
export function objectName(stream: DeliveryStreamConfig, time: Date): string {
  const stamp = formatJavaTime('yyyy-MM-dd-HH-mm-ss', timeParts(time, stream.timeZone));
  return `${stream.name}-${STREAM_VERSION}-${stamp}-${randomUUID()}${stream.fileExtension}`;
}

// ---- the service ------------------------------------------------------------------------------------------------

export interface FirehoseMetric {
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface LocalFirehoseOptions {
  readonly streams: readonly DeliveryStreamConfig[];
  readonly s3: S3Client;
  /** Arrival times and buffer ages (the platform clock). */
  readonly clock: Clock;
  readonly accountId: string;
  /**
   * Real milliseconds between checks for buffers whose interval has passed on the clock; 0 disables the timer
   * (then only puts, flush() and close() deliver).
   * @default 250
   */
  readonly checkMilliseconds?: number;
  /** AWS/Firehose metrics (IncomingRecords, IncomingBytes, DeliveryToS3.*). @default none */
  readonly onMetric?: (m: FirehoseMetric) => void;
}

export interface FirehoseStats {
  readonly records: number;
  readonly objects: number;
  readonly bytes: number;
  readonly pendingRecords: number;
}

interface Buffer_ {
  readonly stream: DeliveryStreamConfig;
  readonly chunks: Buffer[];
  bytes: number;
  /** Arrival time of the oldest record (names the object and evaluates its prefix). */
  readonly oldest: Date;
}

export class LocalFirehose {
  private readonly streams = new Map<string, DeliveryStreamConfig>();
  private readonly buffers = new Map<string, Buffer_>();
  private readonly s3: S3Client;
  private readonly clock: Clock;
  private readonly accountId: string;
  private readonly onMetric?: (m: FirehoseMetric) => void;
  private readonly timer?: NodeJS.Timeout;
  /** Deliveries run one after another, so that flush() waits for those started before it. */
  private writing: Promise<void> = Promise.resolve();
  private readonly delivered = { records: 0, objects: 0, bytes: 0 };
  private readonly warned = new Set<string>();
  private closed = false;

  constructor(options: LocalFirehoseOptions) {
    for (const s of options.streams) this.streams.set(s.name, s);
    this.s3 = options.s3;
    this.clock = options.clock;
    this.accountId = options.accountId;
    this.onMetric = options.onMetric;
    const every = options.checkMilliseconds ?? 250;
    if (every > 0) {
      this.timer = setInterval(() => this.deliverDue(), every);
      // Buffered records must not keep a finished process alive; close() delivers them.
      this.timer.unref();
    }
  }

  /** The operations to register under `Firehose_20150804` on the AWS API server. */
  operations(): Record<string, AwsOperation> {
    return {
      PutRecord: (r: { DeliveryStreamName?: string; Record?: { Data?: string } }) => {
        const stream = this.stream(r.DeliveryStreamName);
        const data = decodeData(r.Record?.Data, 'record.data');
        return { RecordId: this.put(stream, [data])[0], Encrypted: stream.streamEncrypted };
      },
      PutRecordBatch: (r: { DeliveryStreamName?: string; Records?: Array<{ Data?: string }> }) => {
        const stream = this.stream(r.DeliveryStreamName);
        const records = r.Records;
        if (!Array.isArray(records) || records.length === 0)
          throw new AwsApiError(
            'ValidationException',
            "1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1",
          );
        if (records.length > MAX_BATCH_RECORDS)
          throw new AwsApiError(
            'ValidationException',
            `1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length less than or equal to ${MAX_BATCH_RECORDS}`,
          );
        const data = records.map((x, i) => decodeData(x?.Data, `records.${i + 1}.member.data`));
        const total = data.reduce((n, d) => n + d.length, 0);
        if (total > MAX_BATCH_BYTES)
          throw new AwsApiError(
            'InvalidArgumentException',
            `Records size exceeds ${MAX_BATCH_BYTES} bytes limit`,
          );
        const ids = this.put(stream, data);
        return {
          FailedPutCount: 0,
          Encrypted: stream.streamEncrypted,
          RequestResponses: ids.map((RecordId) => ({ RecordId })),
        };
      },
      DescribeDeliveryStream: (r: { DeliveryStreamName?: string }) =>
        this.describe(this.stream(r.DeliveryStreamName)),
      ListDeliveryStreams: () => ({
        DeliveryStreamNames: [...this.streams.keys()].sort(),
        HasMoreDeliveryStreams: false,
      }),
    };
  }

  /** Delivers every buffered record now and waits for deliveries under way. Rejects if a write failed. */
  async flush(): Promise<void> {
    const all = [...this.buffers.values()];
    this.buffers.clear();
    await this.deliver(all);
  }

  /** Stops the timer and delivers what is left; later puts are refused. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.closed = true;
    await this.flush();
  }

  stats(): FirehoseStats {
    let pendingRecords = 0;
    for (const b of this.buffers.values()) pendingRecords += b.chunks.length;
    return { ...this.delivered, pendingRecords };
  }

  private stream(name: string | undefined): DeliveryStreamConfig {
    if (this.closed) throw new AwsApiError('ServiceUnavailableException', 'Firehose is shutting down', 503);
    const stream = name === undefined ? undefined : this.streams.get(name);
    if (!stream)
      throw new AwsApiError(
        'ResourceNotFoundException',
        `Firehose ${name ?? ''} under account ${this.accountId} not found.`,
      );
    return stream;
  }

  private put(stream: DeliveryStreamConfig, records: readonly Buffer[]): string[] {
    // A buffer whose interval has passed is delivered before a new record joins it, timer or not.
    this.deliverDue();
    const now = this.clock.now();
    let buffer = this.buffers.get(stream.name);
    if (!buffer) {
      buffer = { stream, chunks: [], bytes: 0, oldest: now };
      this.buffers.set(stream.name, buffer);
    }
    let bytes = 0;
    for (const r of records) {
      buffer.chunks.push(r);
      buffer.bytes += r.length;
      bytes += r.length;
    }
    const dimensions = { DeliveryStreamName: stream.name };
    this.onMetric?.({ metricName: 'IncomingRecords', dimensions, value: records.length });
    this.onMetric?.({ metricName: 'IncomingBytes', dimensions, value: bytes });
    if (buffer.bytes >= stream.bufferSizeBytes || stream.bufferIntervalSeconds === 0) {
      this.buffers.delete(stream.name);
      this.deliverInBackground([buffer]);
    }
    // Record ids are opaque; Firehose's are long base64 strings.
    return records.map(() => randomBytes(42).toString('base64'));
  }

  /** Buffers whose oldest record is older than the stream's interval on the clock. */
  private deliverDue(): void {
    const now = this.clock.now().getTime();
    const due: Buffer_[] = [];
    for (const [name, b] of this.buffers) {
      if (now - b.oldest.getTime() >= b.stream.bufferIntervalSeconds * 1000) {
        due.push(b);
        this.buffers.delete(name);
      }
    }
    if (due.length > 0) this.deliverInBackground(due);
  }

  private deliverInBackground(buffers: Buffer_[]): void {
    this.deliver(buffers).catch((e: unknown) =>
      this.warnOnce('deliver', `Firehose delivery to S3 failed: ${String(e)}`),
    );
  }

  private deliver(buffers: readonly Buffer_[]): Promise<void> {
    const run = this.writing.then(() => this.write(buffers));
    // A failed delivery must not stop later ones; its caller sees the failure.
    this.writing = run.catch(() => undefined);
    return run;
  }

  private async write(buffers: readonly Buffer_[]): Promise<void> {
    const failures: unknown[] = [];
    await Promise.all(
      buffers.map(async (b) => {
        const s = b.stream;
        const key = `${evaluatePrefix(s.prefix, b.oldest, { timeZone: s.timeZone })}${objectName(s, b.oldest)}`;
        const raw = Buffer.concat(b.chunks);
        const body = s.compression === 'GZIP' ? gzipSync(raw) : raw;
        const dimensions = { DeliveryStreamName: s.name };
        try {
          await this.s3.send(
            unsignedPayload(
              new PutObjectCommand({
                Bucket: s.bucket,
                Key: key,
                Body: body,
                ...(s.kmsKeyArn
                  ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: s.kmsKeyArn }
                  : {}),
              }),
            ),
          );
          this.delivered.records += b.chunks.length;
          this.delivered.objects++;
          this.delivered.bytes += body.length;
          this.onMetric?.({ metricName: 'DeliveryToS3.Records', dimensions, value: b.chunks.length });
          this.onMetric?.({ metricName: 'DeliveryToS3.Bytes', dimensions, value: body.length });
          this.onMetric?.({ metricName: 'DeliveryToS3.Success', dimensions, value: 1 });
        } catch (e) {
          // Firehose keeps retrying S3 delivery (for up to 24 hours): the records stay buffered for the next flush.
          this.requeue(b);
          this.onMetric?.({ metricName: 'DeliveryToS3.Success', dimensions, value: 0 });
          failures.push(e);
        }
      }),
    );
    if (failures.length > 0) throw failures[0];
  }

  private requeue(b: Buffer_): void {
    const current = this.buffers.get(b.stream.name);
    this.buffers.set(
      b.stream.name,
      current ? { ...b, chunks: [...b.chunks, ...current.chunks], bytes: b.bytes + current.bytes } : b,
    );
  }

  private describe(s: DeliveryStreamConfig): unknown {
    return {
      DeliveryStreamDescription: {
        DeliveryStreamName: s.name,
        DeliveryStreamARN: s.arn,
        DeliveryStreamStatus: 'ACTIVE',
        DeliveryStreamType: 'DirectPut',
        VersionId: String(STREAM_VERSION),
        DeliveryStreamEncryptionConfiguration: { Status: s.streamEncrypted ? 'ENABLED' : 'DISABLED' },
        Destinations: [
          {
            DestinationId: 'destinationId-000000000001',
            ExtendedS3DestinationDescription: {
              BucketARN: `arn:aws:s3:::${s.bucket}`,
              ...(s.prefix !== undefined ? { Prefix: s.prefix } : {}),
              ...(s.errorOutputPrefix !== undefined ? { ErrorOutputPrefix: s.errorOutputPrefix } : {}),
              BufferingHints: {
                IntervalInSeconds: s.bufferIntervalSeconds,
                SizeInMBs: s.bufferSizeBytes / MIB,
              },
              CompressionFormat: s.compression,
              ...(s.fileExtension ? { FileExtension: s.fileExtension } : {}),
              CustomTimeZone: s.timeZone,
              EncryptionConfiguration: s.kmsKeyArn
                ? { KMSEncryptionConfig: { AWSKMSKeyARN: s.kmsKeyArn } }
                : { NoEncryptionConfig: 'NoEncryption' },
            },
          },
        ],
        HasMoreDestinations: false,
      },
    };
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    process.emitWarning(message);
  }
}

/** A record's Data: a base64 blob in the JSON body. */
function decodeData(data: unknown, at: string): Buffer {
  if (typeof data !== 'string')
    throw new AwsApiError(
      'ValidationException',
      `1 validation error detected: Value null at '${at}' failed to satisfy constraint: Member must not be null`,
    );
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length > MAX_RECORD_BYTES)
    throw new AwsApiError(
      'ValidationException',
      `1 validation error detected: Value at '${at}' failed to satisfy constraint: Member must have length less than or equal to ${MAX_RECORD_BYTES}`,
    );
  return bytes;
}
