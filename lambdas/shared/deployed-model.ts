import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { FeatureSpec } from '../core/encoding';
import { modelVersion } from '../core/inference';
import { parsePointer, parseS3Uri, POINTER_KEY, type CurrentPointer } from '../core/pointer';

/**
 * What is deployed now, as the inference Lambda and the EndpointClient see it: `baselines/current.json` and
 * the feature spec it names, cached. Once a model is known, the pointer is checked at most once per refresh
 * period, in the background (see current), with a conditional GET (If-None-Match: the last ETag), so a quiet
 * period costs one 304 per period; a changed pointer re-reads the feature spec.
 */

export interface DeployedModel {
  readonly pointer: CurrentPointer;
  readonly spec: FeatureSpec;
  /** The model package version, e.g. "3". */
  readonly modelVersion: string;
  /** ETag of the current.json this came from. */
  readonly etag: string;
}

export interface DeployedModelCacheOptions {
  readonly s3: S3Client;
  /** The artifacts bucket (holds baselines/current.json). */
  readonly bucket: string;
  /** Seconds between checks of current.json; 0 checks on every call. */
  readonly refreshSeconds: number;
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
  /** Called when the deployed model changes (the first load included: `from` undefined). */
  readonly onSwitch?: (from: DeployedModel | undefined, to: DeployedModel) => void;
  /** Called when a check fails while a model is cached: the cached one keeps serving. */
  readonly onStaleError?: (error: unknown) => void;
}

/** current.json or the feature spec it names cannot be read or parsed. */
export class DeployedModelError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeployedModelError';
  }
}

function statusOf(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

export class DeployedModelCache {
  private model: DeployedModel | undefined;
  /** When current.json was last looked at (ms), or undefined before the first look. */
  private checkedAt: number | undefined;
  private inFlight: Promise<DeployedModel | undefined> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: DeployedModelCacheOptions) {
    if (!(Number.isFinite(options.refreshSeconds) && options.refreshSeconds >= 0))
      throw new RangeError(`refreshSeconds must be a number >= 0, got ${options.refreshSeconds}`);
    this.now = options.now ?? Date.now;
  }

  /**
   * The deployed model, or undefined when nothing is deployed yet (no current.json).
   *
   * Once a model is known (and refreshSeconds is not 0), a due check runs in the background: the call that finds
   * it due, and any until it ends, get the cached model, and later calls get what it found (stale-while-
   * revalidate). So no request waits for S3: when it waited, one request every refreshSeconds, and every request
   * that came during its GET, queued behind it (locally, clusters of requests of 8 to 17 ms at 200 requests/s).
   * A new current.json then serves from the first call after the check that saw it: within refreshSeconds and
   * one GET of the change, under steady traffic. On Lambda a check under way when the handler returns finishes
   * in a later invocation (the sandbox is frozen in between), within the S3 client's timeouts.
   */
  async current(): Promise<DeployedModel | undefined> {
    const due =
      this.model === undefined ||
      this.checkedAt === undefined ||
      this.now() - this.checkedAt >= this.options.refreshSeconds * 1000;
    if (!due) return this.model;
    // Until the first model, every call waits: it has nothing else to serve. refreshSeconds 0 asks for a check
    // on every call, before the call is served.
    const waits = this.model === undefined || this.options.refreshSeconds === 0;
    // Concurrent callers (the local API serves many at once) share one check.
    // A background check never rejects: with a model cached, refresh reports a failure and resolves to it.
    this.inFlight ??= this.refresh().finally(() => {
      this.inFlight = undefined;
    });
    return waits ? this.inFlight : this.model;
  }

  private async refresh(): Promise<DeployedModel | undefined> {
    const startedAt = this.now();
    try {
      const next = await this.load();
      this.checkedAt = startedAt;
      if (next !== this.model && next !== undefined) this.options.onSwitch?.(this.model, next);
      this.model = next;
      return next;
    } catch (e) {
      if (this.model === undefined) throw e;
      // Serving the last known model beats failing every request while S3 or the pointer is broken.
      this.checkedAt = startedAt;
      this.options.onStaleError?.(e);
      return this.model;
    }
  }

  /** The same object when current.json has not changed. */
  private async load(): Promise<DeployedModel | undefined> {
    const { s3, bucket } = this.options;
    let text: string;
    let etag: string;
    try {
      const r = await s3.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: POINTER_KEY,
          ...(this.model ? { IfNoneMatch: this.model.etag } : {}),
        }),
      );
      text = await r.Body!.transformToString('utf8');
      etag = r.ETag ?? '';
    } catch (e) {
      if (statusOf(e) === 304) return this.model;
      if ((e as Error).name === 'NoSuchKey' || statusOf(e) === 404) return undefined;
      throw new DeployedModelError(`cannot read s3://${bucket}/${POINTER_KEY}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    let pointer: CurrentPointer;
    try {
      pointer = parsePointer(JSON.parse(text));
    } catch (e) {
      throw new DeployedModelError(
        `s3://${bucket}/${POINTER_KEY} is not a valid pointer: ${(e as Error).message}`,
      );
    }
    const { bucket: specBucket, key } = parseS3Uri(pointer.featureSpecUri);
    let spec: FeatureSpec;
    try {
      const r = await s3.send(new GetObjectCommand({ Bucket: specBucket, Key: key }));
      spec = JSON.parse(await r.Body!.transformToString('utf8')) as FeatureSpec;
    } catch (e) {
      throw new DeployedModelError(
        `cannot read the feature spec ${pointer.featureSpecUri}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    if (!Array.isArray(spec?.features) || typeof spec.target?.name !== 'string')
      throw new DeployedModelError(`${pointer.featureSpecUri} is not a feature spec`);
    return { pointer, spec, modelVersion: modelVersion(pointer.modelPackageArn), etag };
  }
}
