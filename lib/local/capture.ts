import { randomUUID } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  buildCaptureRecord,
  captureLine,
  type CapturedPayload,
  type CaptureRecord,
} from '../../lambdas/core/inference';
import { splitS3Uri } from '../../lambdas/core/pointer';
import type { Clock } from './clock';
import { unsignedPayload } from './s3';

/**
 * SageMaker Data Capture for the local endpoint (DESIGN.md section 7): every sampled invocation becomes one JSON
 * line, and the lines are written to S3 in batches, one object per endpoint, variant and hour, at
 * `<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-SSS>-<uuid>.jsonl`, the layout and file naming SageMaker
 * uses (e.g. `.../AllTraffic/2020/03/11/12/32-18-648-cee08c3a-....jsonl`). The drift check lists and reads exactly
 * these files, so the hour comes from the simulated clock, as the drift windows do.
 */

/** A variant's capture settings, as the endpoint config's DataCaptureConfig gives them. */
export interface CaptureConfig {
  /** s3://bucket[/prefix] */
  readonly destinationS3Uri: string;
  /** 0..100: the share of invocations captured. */
  readonly samplingPercentage: number;
  /** CaptureMode Input */
  readonly input: boolean;
  /** CaptureMode Output */
  readonly output: boolean;
  /** CaptureContentTypeHeader.CsvContentTypes: payloads of these media types are captured as text (CSV). */
  readonly csvContentTypes: readonly string[];
  /** CaptureContentTypeHeader.JsonContentTypes: payloads of these media types are captured as text (JSON). */
  readonly jsonContentTypes?: readonly string[];
  readonly kmsKeyId?: string;
}

// The record builder and its helpers live in the core, shared with the inference API's serverless capture.
export {
  buildCaptureRecord,
  captureEncoding,
  inferenceTime,
  mediaType,
  type CapturedPayload,
  type CaptureRecord,
  type CaptureRecordPayload,
} from '../../lambdas/core/inference';

export interface CaptureWriterOptions {
  readonly s3: S3Client;
  readonly clock: Clock;
  /**
   * Buffered records (over all files) that trigger a write.
   * @default 1000
   */
  readonly flushRecords?: number;
  /**
   * Real milliseconds between background writes of whatever is buffered; 0 disables the timer.
   * @default 1000
   */
  readonly flushMilliseconds?: number;
}

export interface CaptureStats {
  /** Records written to S3. */
  readonly records: number;
  /** Files written to S3. */
  readonly files: number;
  /** Records buffered, not yet written. */
  readonly pending: number;
  /** Invocations left out by the sampling percentage. */
  readonly sampledOut: number;
}

/** An invocation recorded for capture, its record not built yet (see CaptureWriter.record). */
interface Unbuilt {
  readonly endpointName: string;
  readonly variantName: string;
  readonly capture: CaptureConfig;
  readonly input: CapturedPayload;
  readonly output: CapturedPayload;
  readonly inferenceId: string | undefined;
  readonly time: Date;
}

/** Records bound for one S3 object. */
interface Batch {
  readonly bucket: string;
  /** The object key without the file name: `<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/`. */
  readonly directory: string;
  readonly kmsKeyId?: string;
  /** The time of the first record, which names the file. */
  readonly first: Date;
  /**
   * The file so far, `bytes[0, length)`: each record's line and its newline. A line waits up to the flush interval
   * (a second): long enough for V8 to move a string, or a buffer of its own, out of its young generation, where at
   * 200 requests/s of 100 records they piled up about a megabyte a second of garbage that only major collections
   * free, and those stalled the serving process for tens of milliseconds. So lines are copied into a buffer that is
   * reused once its file is written (see take and give), which also spares the flush a join and an encoding.
   */
  bytes: Buffer;
  length: number;
  /** How many records the bytes hold. */
  records: number;
}

/** Spare file buffers kept for reuse, and the largest kept. */
const SPARE_BUFFERS = 4;
const MAX_SPARE_BYTES = 16 * 1024 * 1024;
const FIRST_BUFFER_BYTES = 256 * 1024;

/** Bucket and key prefix (no leading or trailing slash, maybe empty) of an s3:// URI. */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const { bucket, key } = splitS3Uri(uri);
  return { bucket, prefix: key.replace(/\/+$/, '') };
}

/** `yyyy/mm/dd/hh/` of a time, UTC. */
export function hourPartition(time: Date): string {
  const iso = time.toISOString();
  return `${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(11, 13)}/`;
}

/** The object key directory of a capture file: `<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/`. */
export function captureDirectory(
  prefix: string,
  endpointName: string,
  variantName: string,
  time: Date,
): string {
  return `${prefix ? `${prefix}/` : ''}${endpointName}/${variantName}/${hourPartition(time)}`;
}

/** `mm-ss-SSS-<uuid>.jsonl`, SageMaker's capture file name. */
export function captureFileName(time: Date): string {
  const iso = time.toISOString();
  return `${iso.slice(14, 16)}-${iso.slice(17, 19)}-${iso.slice(20, 23)}-${randomUUID()}.jsonl`;
}

export class CaptureWriter {
  private readonly s3: S3Client;
  private readonly clock: Clock;
  private readonly flushRecords: number;
  private readonly batches = new Map<string, Batch>();
  /** Invocations recorded but not yet turned into capture lines (see record). */
  private unbuilt: Unbuilt[] = [];
  /** Per endpoint/variant: sampling credit, so that N% means exactly N of every 100 invocations. */
  private readonly credit = new Map<string, number>();
  private readonly timer: NodeJS.Timeout | undefined;
  private pendingRecords = 0;
  private written = { records: 0, files: 0 };
  /** File buffers to reuse (see Batch.bytes). */
  private readonly spare: Buffer[] = [];
  private sampledOut = 0;
  /** Writes run one after another, so flush() can wait for the ones started before it. */
  private writing: Promise<void> = Promise.resolve();
  private readonly warned = new Set<string>();
  private closed = false;

  constructor(options: CaptureWriterOptions) {
    this.s3 = options.s3;
    this.clock = options.clock;
    this.flushRecords = Math.max(1, options.flushRecords ?? 1000);
    const every = options.flushMilliseconds ?? 1000;
    if (every > 0) {
      this.timer = setInterval(() => {
        if (this.pendingRecords > 0) this.flushInBackground();
      }, every);
      // Buffered capture must not keep a finished process alive; close() writes what is left.
      this.timer.unref();
    }
  }

  /**
   * Captures one invocation, subject to the variant's sampling. Never throws and never waits: the endpoint
   * answers whether or not capture works, as SageMaker's does.
   */
  record(
    endpointName: string,
    variantName: string,
    capture: CaptureConfig | undefined,
    input: CapturedPayload,
    output: CapturedPayload,
    inferenceId?: string,
  ): void {
    if (!capture || this.closed || (!capture.input && !capture.output)) return;
    if (!this.sampled(`${endpointName}\n${variantName}`, capture.samplingPercentage)) {
      this.sampledOut++;
      return;
    }
    // Only the time is taken now: the record is built on a later turn of the event loop (or by flush), so that
    // an invocation from this same process (the inference Lambda, locally) gets its answer before the endpoint's
    // side channel does its work, as it would from SageMaker's endpoint on another host.
    this.unbuilt.push({
      endpointName,
      variantName,
      capture,
      input,
      output,
      inferenceId,
      time: this.clock.now(),
    });
    this.pendingRecords++;
    // A full buffer is written at once, as before; otherwise the records are built on a timer.
    if (this.pendingRecords >= this.flushRecords) this.build();
    else if (this.unbuilt.length === 1) setTimeout(() => this.build(), 0);
  }

  /** Turns the recorded invocations into capture lines in their batches. */
  private build(): void {
    const unbuilt = this.unbuilt;
    if (unbuilt.length === 0) return;
    this.unbuilt = [];
    for (const u of unbuilt) {
      try {
        this.buildOne(u);
      } catch (e) {
        // As before the deferral: a record that cannot be built is reported, never thrown at the endpoint.
        this.pendingRecords--;
        this.warnOnce('build', `data capture of ${u.endpointName}: ${String(e)}`);
      }
    }
    if (this.pendingRecords >= this.flushRecords) this.flushInBackground();
  }

  private buildOne(u: Unbuilt): void {
    const { endpointName, variantName, capture, input, output, inferenceId, time } = u;
    let destination: { bucket: string; prefix: string };
    try {
      destination = parseS3Uri(capture.destinationS3Uri);
    } catch (e) {
      this.pendingRecords--;
      this.warnOnce(capture.destinationS3Uri, `data capture of ${endpointName}: ${(e as Error).message}`);
      return;
    }
    const record: CaptureRecord = buildCaptureRecord({
      ...(capture.input ? { input } : {}),
      ...(capture.output ? { output } : {}),
      contentTypes: capture,
      eventId: randomUUID(),
      time,
      ...(inferenceId !== undefined ? { inferenceId } : {}),
    });
    const directory = captureDirectory(destination.prefix, endpointName, variantName, time);
    const id = `${destination.bucket}/${directory}`;
    let batch = this.batches.get(id);
    if (!batch) {
      batch = {
        bucket: destination.bucket,
        directory,
        kmsKeyId: capture.kmsKeyId,
        first: time,
        bytes: this.take(FIRST_BUFFER_BYTES),
        length: 0,
        records: 0,
      };
      this.batches.set(id, batch);
    }
    this.append(batch, captureLine(record));
    batch.records++;
  }

  /** Writes every buffered record to S3 and waits for writes already under way. Rejects if a write fails. */
  async flush(): Promise<void> {
    this.build();
    const batches = [...this.batches.values()];
    this.batches.clear();
    this.pendingRecords = 0;
    const run = this.writing.then(() => this.write(batches));
    // A failed write must not stop later ones; the caller of this flush sees the failure.
    this.writing = run.catch(() => undefined);
    await run;
  }

  /** Stops the timer and writes what is left. Records after close are ignored. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.closed = true;
    await this.flush();
  }

  stats(): CaptureStats {
    return { ...this.written, pending: this.pendingRecords, sampledOut: this.sampledOut };
  }

  private sampled(key: string, percentage: number): boolean {
    const pct = Math.min(100, Math.max(0, Number.isFinite(percentage) ? percentage : 0));
    if (pct >= 100) return true;
    if (pct <= 0) return false;
    const credit = (this.credit.get(key) ?? 0) + pct;
    if (credit >= 100) {
      this.credit.set(key, credit - 100);
      return true;
    }
    this.credit.set(key, credit);
    return false;
  }

  private flushInBackground(): void {
    this.flush().catch((e: unknown) =>
      this.warnOnce('write', `data capture: writing to S3 failed: ${String(e)}`),
    );
  }

  private async write(batches: readonly Batch[]): Promise<void> {
    const failures: unknown[] = [];
    await Promise.all(
      batches.map(async (b) => {
        const key = `${b.directory}${captureFileName(b.first)}`;
        try {
          // Bytes, unsigned (see unsignedPayload): this runs in the serving process, where SageMaker's capture
          // agent runs beside the model server, out of its request path.
          const command = unsignedPayload(
            new PutObjectCommand({
              Bucket: b.bucket,
              Key: key,
              Body: b.bytes.subarray(0, b.length),
              ContentType: 'application/jsonl',
              ...(b.kmsKeyId ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: b.kmsKeyId } : {}),
            }),
          );
          await this.s3.send(command);
          this.written.records += b.records;
          this.give(b.bytes);
          this.written.files++;
        } catch (e) {
          // Kept for the next flush rather than lost: capture is what the drift check reads.
          this.requeue(b);
          failures.push(e);
        }
      }),
    );
    if (failures.length > 0) throw failures[0];
  }

  private requeue(b: Batch): void {
    const id = `${b.bucket}/${b.directory}`;
    this.pendingRecords += b.records;
    const current = this.batches.get(id);
    // The failed file's records first, then those recorded since.
    if (current) {
      this.ensure(b, current.length);
      current.bytes.copy(b.bytes, b.length, 0, current.length);
      b.length += current.length;
      b.records += current.records;
      this.give(current.bytes);
    }
    this.batches.set(id, b);
  }

  /**
   * A buffer of at least `min` bytes: the largest spare one, when that is big enough, or a new one. The largest,
   * so that a steady stream of records starts each file in a buffer of the size the last one needed. Taking the
   * first that fitted, each file grew again through the sizes from 256 KB up; at 200 requests/s of 100 records
   * that took five buffers a second, one more than are kept, and the one allocated anew each second (megabytes
   * outside V8's heap) was enough to set off its major collections every few seconds.
   */
  private take(min: number): Buffer {
    let largest = -1;
    for (let i = 0; i < this.spare.length; i++)
      if (largest < 0 || this.spare[i].length > this.spare[largest].length) largest = i;
    if (largest >= 0 && this.spare[largest].length >= min) return this.spare.splice(largest, 1)[0];
    return Buffer.allocUnsafe(Math.max(min, FIRST_BUFFER_BYTES));
  }

  /** A buffer whose file is written (or dropped), for reuse: kept in place of the smallest spare when all are taken. */
  private give(buffer: Buffer): void {
    if (buffer.length > MAX_SPARE_BYTES) return;
    if (this.spare.length < SPARE_BUFFERS) {
      this.spare.push(buffer);
      return;
    }
    let smallest = 0;
    for (let i = 1; i < this.spare.length; i++)
      if (this.spare[i].length < this.spare[smallest].length) smallest = i;
    if (this.spare[smallest].length < buffer.length) this.spare[smallest] = buffer;
  }

  /** Room for `more` bytes after the batch's bytes, in a larger buffer if need be. */
  private ensure(batch: Batch, more: number): void {
    if (batch.length + more <= batch.bytes.length) return;
    const bigger = this.take(Math.max(batch.length + more, 2 * batch.bytes.length));
    batch.bytes.copy(bigger, 0, 0, batch.length);
    this.give(batch.bytes);
    batch.bytes = bigger;
  }

  /** Appends the line and a newline to the batch's file. */
  private append(batch: Batch, line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.ensure(batch, 3 * line.length + 1);
    batch.length += batch.bytes.write(line, batch.length, 'utf8');
    batch.bytes[batch.length++] = 10;
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    process.emitWarning(message);
  }
}
