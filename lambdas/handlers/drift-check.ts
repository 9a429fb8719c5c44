import { listKeys } from '../shared/s3';
import { PutMetricDataCommand, type CloudWatchClient, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Baseline } from '../core/baseline';
import { CaptureParser, type CaptureStats } from '../core/capture';
import { DriftAccumulator, type DriftReport } from '../core/drift';
import { driftNotification } from '../core/drift-notification';
import { renderDriftHtml } from '../core/html/drift';
import type { FeatureSpec } from '../core/encoding';
import { parsePointer, parseS3Uri, POINTER_KEY, type CurrentPointer } from '../core/pointer';
import { numberEnv, requiredEnv } from '../shared/env';
import { openObject, readObjectBytes } from '../shared/object-reader';

/**
 * The drift check of one window (DESIGN.md section 8), as a module the handler wraps: reads the deployed
 * model's baseline and feature spec through `baselines/current.json`, streams the window's capture objects
 * through one CaptureParser into one DriftAccumulator (memory bounded by the bins, not the traffic), writes
 * the report (JSON, and HTML beside it), publishes the drift metrics and, when the window drifted, announces it on
 * the SNS topic with both reports' locations.
 */

export const METRIC_NAMESPACE = 'DevMLOps';
/** PutMetricData takes at most 1000 data points per call. */
const MAX_DATUMS_PER_CALL = 1000;

export interface DriftEnv {
  readonly project: string;
  readonly artifactsBucket: string;
  readonly endpointName: string;
  readonly windowHours: number;
  readonly minSamples: number;
  readonly threshold: number;
  readonly featureThresholds: Readonly<Record<string, number>>;
  readonly namespace: string;
  /** Where a drifted window is announced; no notification without it. */
  readonly topicArn?: string;
}

export function readDriftEnv(env: NodeJS.ProcessEnv = process.env): DriftEnv {
  return {
    project: requiredEnv(env, 'PROJECT'),
    artifactsBucket: requiredEnv(env, 'ARTIFACTS_BUCKET'),
    endpointName: requiredEnv(env, 'ENDPOINT_NAME'),
    windowHours: numberEnv(env, 'WINDOW_HOURS', 1, { min: 1, max: 24 * 31, integer: true }),
    minSamples: numberEnv(env, 'MIN_SAMPLES', 500, { min: 1, max: 1e12, integer: true }),
    threshold: numberEnv(env, 'DRIFT_THRESHOLD', 0.2, { min: Number.MIN_VALUE, max: 1e6 }),
    featureThresholds: featureThresholdsEnv(env.FEATURE_THRESHOLDS),
    namespace: env.POWERTOOLS_METRICS_NAMESPACE ?? METRIC_NAMESPACE,
    topicArn: topicArnEnv(env.TOPIC_ARN),
  };
}

function topicArnEnv(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^arn:[a-z-]+:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}(\.fifo)?$/.test(raw))
    throw new Error(`Environment variable TOPIC_ARN must be an SNS topic ARN, got "${raw}"`);
  return raw;
}

function featureThresholdsEnv(raw: string | undefined): Record<string, number> {
  if (raw === undefined || raw.trim() === '') return {};
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new Error(`FEATURE_THRESHOLDS is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error('FEATURE_THRESHOLDS must be a JSON object of feature name to PSI threshold');
  const out: Record<string, number> = {};
  for (const [name, v] of Object.entries(json)) {
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))
      throw new Error(`FEATURE_THRESHOLDS.${name} must be a positive number, got ${JSON.stringify(v)}`);
    out[name] = v;
  }
  return out;
}

/** The `hours` whole UTC hours ending at `time` rounded down to the hour. */
export interface DriftWindow {
  readonly start: Date;
  readonly end: Date;
  /** The start of each hour in the window, oldest first. */
  readonly hours: Date[];
}

export function driftWindow(time: string | Date, hours: number): DriftWindow {
  const t = typeof time === 'string' ? Date.parse(time) : time.getTime();
  if (Number.isNaN(t)) throw new Error(`not a time: ${String(time)}`);
  const endMs = Math.floor(t / 3_600_000) * 3_600_000;
  const list: Date[] = [];
  for (let i = hours; i >= 1; i--) list.push(new Date(endMs - i * 3_600_000));
  return { start: list[0], end: new Date(endMs), hours: list };
}

/** `yyyy/mm/dd/hh` of an hour (UTC), as Data Capture partitions it. */
export function hourPath(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${p(d.getUTCHours())}`;
}

export function reportKey(endpointName: string, window: DriftWindow): string {
  return `reports/drift/${endpointName}/${hourPath(window.hours[window.hours.length - 1])}.json`;
}

/** The HTML report beside the JSON one: the same key with .html. */
export function htmlReportKey(jsonKey: string): string {
  return jsonKey.replace(/\.json$/, '.html');
}

export interface DriftCheckResult {
  status: 'ok' | 'insufficient-data' | 'no-model';
  samples: number;
  /** Whether any feature drifted (never when the data is insufficient). */
  drifted: boolean;
  driftedFeatures: string[];
  maxDrift: number;
  /** Key of the report in the artifacts bucket; absent when no model is deployed. */
  reportKey?: string;
  /** Key of the HTML report next to it. */
  htmlReportKey?: string;
  /** The SNS MessageId of the drift notification, when one was published. */
  notificationId?: string;
}

/** What is stored at reportKey: the DriftReport and where it came from. */
export interface StoredDriftReport extends DriftReport {
  readonly project: string;
  readonly endpointName: string;
  readonly window: { readonly start: string; readonly end: string };
  readonly model: { readonly modelPackageArn: string; readonly jobName: string };
  readonly capture: CaptureStats & { readonly objects: number };
}

export interface DriftCheckDeps {
  readonly s3: S3Client;
  readonly cloudWatch: CloudWatchClient;
  /** Publishes the drift notification; needed only when env.topicArn is set. */
  readonly sns?: SNSClient;
  readonly log?: (message: string, extra?: Record<string, unknown>) => void;
}

async function getText(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    return (await readObjectBytes(s3, { Bucket: bucket, Key: key })).toString('utf-8');
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === 'NoSuchKey' || name === 'NotFound') return undefined;
    throw err;
  }
}

async function getJson<T>(s3: S3Client, uri: string): Promise<T> {
  const { bucket, key } = parseS3Uri(uri);
  const text = await getText(s3, bucket, key);
  if (text === undefined) throw new Error(`${uri} does not exist`);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${uri} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * The variant names under `capture/<endpoint>/`, one listing call per variant: each call starts after the
 * previous variant's keys and only its first key is used. A Delimiter listing would do the same on S3, but
 * s3rver (the local runtime and the tests) prunes every directory below a common prefix and so never
 * reports one; it also fails on MaxKeys with StartAfter, so each call reads one page (at most 1000 keys).
 */
export async function captureVariants(s3: S3Client, bucket: string, endpointName: string): Promise<string[]> {
  const base = `capture/${endpointName}/`;
  const variants: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: base, StartAfter: after }));
    const key = page.Contents?.[0]?.Key;
    if (key === undefined) return variants;
    const slash = key.indexOf('/', base.length);
    // A stray object directly under the endpoint prefix is no variant: step over it.
    if (slash < 0) {
      after = key;
      continue;
    }
    const variant = key.slice(base.length, slash);
    variants.push(variant);
    // '0' is the character after '/': every `<variant>/...` key sorts before `<variant>0`, every later
    // variant (including `<variant>0...`) after it.
    after = `${base}${variant}0`;
  }
}

/** The capture objects of the window, every variant, in key order. */
export async function windowCaptureKeys(
  s3: S3Client,
  bucket: string,
  endpointName: string,
  window: DriftWindow,
): Promise<string[]> {
  const keys: string[] = [];
  for (const variant of await captureVariants(s3, bucket, endpointName))
    for (const hour of window.hours)
      keys.push(
        ...(await listKeys(s3, bucket, `capture/${endpointName}/${variant}/${hourPath(hour)}/`)).sort(),
      );
  return keys;
}

function metricData(env: DriftEnv, report: DriftReport, timestamp: Date): MetricDatum[] {
  const project = { Name: 'Project', Value: env.project };
  const data: MetricDatum[] = [
    {
      MetricName: 'CapturedRecords',
      Dimensions: [project],
      Timestamp: timestamp,
      Value: report.samples,
      Unit: 'Count',
    },
  ];
  // Insufficient data: no drift metrics at all, so the alarm sees missing data (not breaching), not a 0.
  if (!report.sufficient) return data;
  for (const f of report.features)
    if (f.psi !== null)
      data.push({
        MetricName: 'FeatureDrift',
        Dimensions: [project, { Name: 'Feature', Value: f.name }],
        Timestamp: timestamp,
        Value: f.psi,
        Unit: 'None',
      });
  data.push(
    {
      MetricName: 'MaxFeatureDrift',
      Dimensions: [project],
      Timestamp: timestamp,
      Value: report.maxDrift,
      Unit: 'None',
    },
    {
      MetricName: 'DriftedFeatures',
      Dimensions: [project],
      Timestamp: timestamp,
      Value: report.driftedFeatures.length,
      Unit: 'Count',
    },
  );
  return data;
}

/** Runs the drift check for the window ending at `time` (floored to the hour). */
export async function runDriftCheck(
  deps: DriftCheckDeps,
  env: DriftEnv,
  time: string | Date,
): Promise<DriftCheckResult> {
  const log = deps.log ?? ((): void => undefined);
  const pointerText = await getText(deps.s3, env.artifactsBucket, POINTER_KEY);
  if (pointerText === undefined) {
    log('no model deployed yet: nothing to check', { pointer: `s3://${env.artifactsBucket}/${POINTER_KEY}` });
    return { status: 'no-model', samples: 0, drifted: false, driftedFeatures: [], maxDrift: 0 };
  }
  let pointer: CurrentPointer;
  try {
    pointer = parsePointer(JSON.parse(pointerText));
  } catch (e) {
    throw new Error(`${POINTER_KEY}: ${(e as Error).message}`);
  }
  const [baseline, spec] = await Promise.all([
    getJson<Baseline>(deps.s3, pointer.baselineUri),
    getJson<FeatureSpec>(deps.s3, pointer.featureSpecUri),
  ]);
  const accumulator = new DriftAccumulator(baseline, spec, {
    minSamples: env.minSamples,
    threshold: env.threshold,
    featureThresholds: env.featureThresholds,
  });
  const parser = new CaptureParser(spec, accumulator);

  const window = driftWindow(time, env.windowHours);
  const keys = await windowCaptureKeys(deps.s3, env.artifactsBucket, env.endpointName, window);
  let stats: CaptureStats = parser.stats;
  for (const key of keys) {
    // Resumed after a broken connection, so the parser sees every byte exactly once.
    const object = await openObject(deps.s3, { Bucket: env.artifactsBucket, Key: key });
    try {
      for await (const chunk of object.body) parser.push(chunk);
    } finally {
      object.destroy();
    }
    stats = parser.end();
  }

  const report = accumulator.report();
  const key = reportKey(env.endpointName, window);
  const stored: StoredDriftReport = {
    project: env.project,
    endpointName: env.endpointName,
    window: { start: window.start.toISOString(), end: window.end.toISOString() },
    model: { modelPackageArn: pointer.modelPackageArn, jobName: pointer.jobName },
    capture: { ...stats, objects: keys.length },
    ...report,
  };
  const htmlKey = htmlReportKey(key);
  // The HTML first: the JSON, which the loop and the dashboard read, then never points at a missing picture.
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: env.artifactsBucket,
      Key: htmlKey,
      Body: renderDriftHtml(report, {
        project: env.project,
        endpointName: env.endpointName,
        window: stored.window,
        model: stored.model,
        capture: stored.capture,
        sources: [`s3://${env.artifactsBucket}/capture/${env.endpointName}/`],
      }),
      ContentType: 'text/html; charset=utf-8',
    }),
  );
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: env.artifactsBucket,
      Key: key,
      Body: `${JSON.stringify(stored, null, 2)}\n`,
      ContentType: 'application/json',
    }),
  );

  const all = metricData(env, report, window.end);
  for (let i = 0; i < all.length; i += MAX_DATUMS_PER_CALL)
    await deps.cloudWatch.send(
      new PutMetricDataCommand({
        Namespace: env.namespace,
        MetricData: all.slice(i, i + MAX_DATUMS_PER_CALL),
      }),
    );

  // After the metrics: the alarm, which retrains, matters more than the mail; a failed publish fails the run,
  // and the retry rewrites the same reports.
  let notificationId: string | undefined;
  if (report.drifted && env.topicArn !== undefined) {
    if (!deps.sns) throw new Error('TOPIC_ARN is set but no SNS client was given');
    const n = driftNotification({
      project: env.project,
      endpointName: env.endpointName,
      topicArn: env.topicArn,
      bucket: env.artifactsBucket,
      jsonKey: key,
      htmlKey,
      window: stored.window,
      modelPackageArn: pointer.modelPackageArn,
      report,
    });
    const sent = await deps.sns.send(
      new PublishCommand({
        TopicArn: env.topicArn,
        Subject: n.subject,
        Message: n.message,
        MessageAttributes: { status: { DataType: 'String', StringValue: n.status } },
      }),
    );
    notificationId = sent.MessageId;
  }

  const result: DriftCheckResult = {
    status: report.sufficient ? 'ok' : 'insufficient-data',
    samples: report.samples,
    drifted: report.drifted,
    driftedFeatures: report.driftedFeatures,
    maxDrift: report.maxDrift,
    reportKey: key,
    htmlReportKey: htmlKey,
    ...(notificationId !== undefined ? { notificationId } : {}),
  };
  log(
    report.sufficient
      ? report.drifted
        ? `drift in ${report.driftedFeatures.join(', ')}`
        : 'no drift'
      : `insufficient data: ${report.samples} rows captured, ${report.minSamples} needed`,
    { ...result, window: stored.window, capture: stored.capture },
  );
  return result;
}
