import { gzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { StoredValidationReport } from '../../lambdas/handlers/validate-object';
import { DeployedModelCache } from '../../lambdas/shared/deployed-model';
import { listKeys } from '../../lambdas/shared/s3';
import { reportKey, type DriftWindow, type StoredDriftReport } from '../../lambdas/handlers/drift-check';
import type { InputRecord } from '../../lambdas/core/inference';
import type { DatasetSchema } from '../../lambdas/core/schema';
import { DevMlopsClient } from '../client';
import { LocalClock } from './clock';
import type { AlarmStateChange } from './cloudwatch';
import { LocalPlatform, type LocalExecution, type LocalPlatformOptions } from './platform';
import { sampleChunks, sampleRows } from './sample-data';

/**
 * The demo's loop (issue 5): data in, validation, training and a first deploy, normal traffic, a quiet drift
 * check, shifted traffic, the drift alarm, retraining on the new data and a second deploy through the update
 * path. One function serves `npm run demo`, the end-to-end test (with less data) and the benchmark, so the three
 * cannot drift apart. Every outcome is read back from the platform's stores, never from log text.
 */

const HOUR = 3_600_000;
const SPINNER = ['|', '/', '-', '\\'];

export interface LoopSizes {
  /** Rows of the clean gzipped file and of the file with 2% invalid rows. */
  readonly goodRows: number;
  /** Rows of the file that is quarantined whole (30% invalid). */
  readonly badRows: number;
  /** Rows of the shifted file uploaded before retraining. */
  readonly newRows: number;
  /** Records sent to the inference API per simulated hour. */
  readonly trafficPerHour: number;
  /** Records per POST /v1/predict, at most the API's limit. @default config.inference.maxBatchSize */
  readonly batch?: number;
}

export const DEMO_SIZES: LoopSizes = {
  goodRows: 20_000,
  badRows: 2_000,
  newRows: 20_000,
  trafficPerHour: 2_000,
};

/** Where each stage reports: the CLI prints it, tests ignore it. */
export interface LoopReporter {
  step<T>(name: string, fn: () => Promise<T>, detail?: (result: T) => string): Promise<T>;
  info(message: string): void;
  /** A live line for long steps (redrawn in place on a terminal). @default none */
  ticker?(name: string): { update(text: string): void; done(): void };
}

export interface FileOutcome {
  readonly key: string;
  readonly what: string;
  readonly status: string;
  readonly rows: number;
  readonly valid: number;
  readonly invalid: number;
}

export interface ModelOutcome {
  readonly version: number;
  readonly trigger: string;
  readonly execution: string;
  readonly status: string;
  readonly metricName?: string;
  readonly metric?: number;
  /** CreateEndpoint (first deploy) or UpdateEndpoint (blue/green). */
  readonly deployedBy?: string;
  readonly modelPackageArn?: string;
  readonly path: readonly string[];
}

export interface DriftOutcome {
  readonly hour: string;
  readonly traffic: 'normal' | 'shifted';
  readonly status: string;
  readonly samples?: number;
  readonly maxPsi?: number;
  readonly drifted: readonly string[];
  readonly features: ReadonlyArray<{ name: string; psi: number; drifted: boolean }>;
}

export interface LoopResult {
  readonly files: readonly FileOutcome[];
  readonly models: readonly ModelOutcome[];
  readonly drift: readonly DriftOutcome[];
  readonly alarms: ReadonlyArray<{ name: string; state: string }>;
  readonly alarmChanges: ReadonlyArray<{ name: string; from: string; to: string; at: string }>;
  /** Records the inference API scored, in all and by the model version it answered with. */
  readonly predictions: { readonly sent: number; readonly byModelVersion: Readonly<Record<string, number>> };
  readonly captureFiles: number;
  readonly notifications: ReadonlyArray<{ subject?: string; status?: string }>;
  /** Wall time per stage, in milliseconds, in order. */
  readonly timings: ReadonlyArray<{ stage: string; ms: number }>;
  /** What did not happen as it should; empty when the loop did everything. */
  readonly problems: readonly string[];
}

export interface LoopOptions {
  readonly directory: string;
  readonly sizes?: LoopSizes;
  readonly reporter?: LoopReporter;
  /** Leave the platform running and return it. @default false */
  readonly keep?: boolean;
  /** Platform options beyond the directory (timings, log). */
  readonly platform?: Partial<LocalPlatformOptions>;
}

const quiet: LoopReporter = { step: (_n, fn) => fn(), info: () => undefined };

/**
 * The demo's config: the project's own (cdk.json), with the drift cooldown off and the inference Lambda checking
 * baselines/current.json on every request. The demo compresses hours into seconds of simulated time, but Step
 * Functions stamps executions with real time, so a cooldown counted in real minutes would skip the retraining the
 * demo exists to show; and traffic follows a deploy within a second, sooner than the usual 10 s refresh.
 */
export function demoConfig(base: Record<string, unknown>): Record<string, unknown> {
  const training = (base.training ?? {}) as Record<string, unknown>;
  const inference = (base.inference ?? {}) as Record<string, unknown>;
  return {
    ...base,
    training: { ...training, driftCooldownMinutes: 0 },
    inference: { ...inference, specRefreshSeconds: 0 },
  };
}

/**
 * Prediction requests as an application would send them: the sample generator's rows as JSON records with typed
 * values (numbers, booleans; a missing value is null), without the label, which applications do not know.
 */
export function trafficRecords(schema: DatasetSchema, rows: number, seed: number, drift = 0): InputRecord[] {
  const [header, ...lines] = [...sampleRows({ rows, seed, drift })];
  const names = header.trimEnd().split(',');
  const fields = names.map((n) => schema.fields.find((f) => f.name === n));
  const missing = new Set(schema.missingValues ?? ['']);
  return lines.map((line) => {
    const cells = line.trimEnd().split(',');
    const record: Record<string, string | number | boolean | null> = {};
    names.forEach((name, i) => {
      const f = fields[i];
      if (!f || name === schema.target) return;
      const text = cells[i] ?? '';
      if (missing.has(text)) record[name] = null;
      else if (f.type === 'integer' || f.type === 'number') record[name] = Number(text);
      else if (f.type === 'boolean') record[name] = text === 'true' || text === '1';
      else record[name] = text;
    });
    return record;
  });
}

export async function runLoop(
  options: LoopOptions & { readonly config: unknown },
): Promise<{ result: LoopResult; platform?: LocalPlatform }> {
  const sizes = options.sizes ?? DEMO_SIZES;
  const reporter = options.reporter ?? quiet;
  const timings: Array<{ stage: string; ms: number }> = [];
  const problems: string[] = [];
  const stage = async <T>(name: string, fn: () => Promise<T>, detail?: (r: T) => string): Promise<T> => {
    const t0 = performance.now();
    const ticker = reporter.ticker?.(name);
    const spin = ticker
      ? setInterval(() => {
          const frame = SPINNER[Math.floor((performance.now() - t0) / 100) % SPINNER.length];
          const doing = live.platform?.activity() ?? '';
          ticker.update(
            `${frame} ${((performance.now() - t0) / 1000).toFixed(1)} s${doing ? `  ${doing}` : ''}`,
          );
        }, 100)
      : undefined;
    try {
      return await reporter.step(name, fn, detail);
    } finally {
      if (spin) clearInterval(spin);
      ticker?.done();
      timings.push({ stage: name, ms: performance.now() - t0 });
    }
  };
  // The platform once started, for the live progress line of the stages after it.
  const live: { platform?: LocalPlatform } = {};
  const expect = (ok: boolean, problem: string): void => {
    if (!ok) problems.push(problem);
  };

  // Half past an hour: each simulated hour of traffic falls in one capture partition and one drift window.
  const start = new Date(Math.floor(Date.now() / HOUR) * HOUR + HOUR / 2);
  const clock = new LocalClock({ start });
  const platform = await stage(
    'start the local platform (synthesize the app, S3, SageMaker, endpoint, inference API, CloudWatch, EventBridge)',
    () =>
      LocalPlatform.start({
        ...options.platform,
        directory: options.directory,
        fresh: true,
        // An app given already described (a test's variant of a stack) was synthesized with its own config.
        ...(options.platform?.app === undefined ? { config: options.config } : {}),
        clock,
      }),
    (p) =>
      `S3 ${p.s3Endpoint}, AWS APIs ${p.awsEndpoint}, endpoint ${p.runtimeEndpoint}, inference API ${p.apiUrl ?? '-'}`,
  );
  live.platform = platform;
  const { names } = platform;
  if (platform.apiUrl === undefined)
    throw new Error('the synthesized app has no inference API to send traffic to');
  // Applications call the model through the inference API, SigV4-signed with the credentials the platform accepts.
  const client = new DevMlopsClient({
    apiUrl: platform.apiUrl,
    region: names.region,
    credentials: platform.credentials,
  });
  const batch = Math.min(
    sizes.batch ?? platform.config.inference.maxBatchSize,
    platform.config.inference.maxBatchSize,
  );
  let kept = false;
  try {
    // ---- data lake
    const dataset = names.dataset;
    const files = [
      {
        key: `${dataset}/good.csv.gz`,
        what: 'clean, gzipped',
        rows: sizes.goodRows,
        seed: 1,
        invalid: 0,
        gz: true,
      },
      {
        key: `${dataset}/mixed.csv`,
        what: '2% invalid rows',
        rows: sizes.goodRows,
        seed: 2,
        invalid: 0.02,
        gz: false,
      },
      {
        key: `${dataset}/bad.csv`,
        what: '30% invalid rows',
        rows: sizes.badRows,
        seed: 3,
        invalid: 0.3,
        gz: false,
      },
    ];
    const upload = async (
      key: string,
      rows: number,
      seed: number,
      invalid: number,
      gz: boolean,
      drift = 0,
    ) => {
      let body = Buffer.concat([...sampleChunks({ rows, seed, invalidFraction: invalid, drift })]);
      if (gz) body = gzipSync(body);
      await platform.s3.send(new PutObjectCommand({ Bucket: names.buckets.raw, Key: key, Body: body }));
      return body.length;
    };
    await stage(
      `upload ${files.length} files to s3://${names.buckets.raw}/${dataset}/`,
      async () => {
        let bytes = 0;
        for (const f of files) bytes += await upload(f.key, f.rows, f.seed, f.invalid, f.gz);
        return bytes;
      },
      (b) => `${(b / 1024).toFixed(0)} KiB`,
    );
    const reports = await stage('validate (EventBridge rule -> SQS -> the validation Lambda)', async () => {
      await platform.idle();
      return readReports(platform);
    });
    const fileOutcomes: FileOutcome[] = files.map((f) => {
      const r = reports.find((x) => x.source.key === f.key);
      return {
        key: f.key,
        what: f.what,
        status: r?.status ?? 'NO REPORT',
        rows: r?.rows.total ?? 0,
        valid: r?.rows.valid ?? 0,
        invalid: r?.rows.invalid ?? 0,
      };
    });
    expect(
      fileOutcomes.filter((f) => f.status === 'accepted').length === 2,
      'the two good files were not both accepted',
    );
    expect(fileOutcomes[2].status === 'quarantined', 'the bad file was not quarantined');

    // ---- train and deploy version 1
    const models: ModelOutcome[] = [];
    const v1 = await stage(
      'train, evaluate, register and deploy version 1 (the training state machine)',
      () => trainAndWait(platform, { trigger: 'manual', dataset }),
      (m) => describeModel(m),
    );
    models.push(modelOutcome(1, v1));
    expect(
      v1.status === 'SUCCEEDED' && v1.record?.path.includes('CreateEndpoint') === true,
      'version 1 was not deployed by CreateEndpoint',
    );
    // Read afresh at every use (refreshSeconds 0): the loop checks what each deploy wrote.
    const deployedModel = new DeployedModelCache({
      s3: platform.s3,
      bucket: names.buckets.artifacts,
      refreshSeconds: 0,
    });
    let deployed = await deployedModel.current();
    expect(deployed !== undefined, 'no baselines/current.json after the first deploy');

    // ---- traffic and drift checks, one simulated hour at a time
    // The API answers with the model version, not the SageMaker variant: traffic is counted by version.
    const byModelVersion: Record<string, number> = {};
    let sent = 0;
    let trafficSeed = 100;
    const sendTraffic = async (drift: number): Promise<number> => {
      if (!deployed) throw new Error('nothing is deployed');
      const records = trafficRecords(platform.config.dataset, sizes.trafficPerHour, trafficSeed++, drift);
      for (let i = 0; i < records.length; i += batch) {
        const { predictions, modelVersion } = await client.predict(records.slice(i, i + batch));
        sent += predictions.length;
        const version = `v${modelVersion}`;
        byModelVersion[version] = (byModelVersion[version] ?? 0) + predictions.length;
      }
      await platform.flushCapture();
      return records.length;
    };
    const drift: DriftOutcome[] = [];
    const alarmChanges: LoopResult['alarmChanges'][number][] = [];
    /** Moves the clock one hour on; the hourly drift check runs, then the alarms are evaluated. */
    const nextHour = async (traffic: DriftOutcome['traffic']): Promise<DriftOutcome | undefined> => {
      const hourStart = new Date(Math.floor(clock.now().getTime() / HOUR) * HOUR);
      clock.advance(HOUR);
      const changes: AlarmStateChange[] = await platform.tick();
      for (const c of changes)
        alarmChanges.push({
          name: c.alarmName,
          from: c.previous.value,
          to: c.current.value,
          at: c.time.toISOString(),
        });
      await platform.idle();
      const report = await readDriftReport(platform, hourStart);
      if (report) drift.push({ ...report, traffic });
      return report ? { ...report, traffic } : undefined;
    };

    await stage(
      `send normal traffic (${sizes.trafficPerHour} records through the inference API, typed client)`,
      () => sendTraffic(0),
      (n) => `${n} predictions`,
    );
    const quietCheck = await stage(
      'an hour later: the drift check runs (expect no drift)',
      () => nextHour('normal'),
      (d) => (d ? `${d.status}, max PSI ${d.maxPsi?.toFixed(3)}` : 'no report'),
    );
    expect(
      quietCheck?.status === 'OK' && quietCheck.drifted.length === 0,
      'the drift check over normal traffic did not report OK',
    );
    expect(
      platform.alarms.state(`${names.project}-drift`) !== 'ALARM',
      'the drift alarm fired on normal traffic',
    );

    await stage(
      `new, shifted data arrives in raw (${sizes.newRows} rows)`,
      async () => {
        await upload(`${dataset}/new.csv`, sizes.newRows, 4, 0, false, 1);
        await platform.idle();
        return (
          (await readReports(platform)).find((r) => r.source.key === `${dataset}/new.csv`)?.status ??
          'NO REPORT'
        );
      },
      (s) => s,
    );

    let retraining: LocalExecution | undefined;
    for (let hour = 1; hour <= 3 && !retraining; hour++) {
      await stage(
        `hour ${hour}: shifted traffic`,
        () => sendTraffic(1),
        (n) => `${n} predictions`,
      );
      const d = await stage(
        `hour ${hour}: drift check, alarm evaluation and what the alarm starts`,
        () => nextHour('shifted'),
        (r) =>
          r
            ? `${r.status}, drifted: ${r.drifted.length > 0 ? r.drifted.join(', ') : 'none'}; alarm ${platform.alarms.state(`${names.project}-drift`)}`
            : 'no report',
      );
      expect(d?.status === 'DRIFT', `hour ${hour} of shifted traffic was not reported as drift`);
      retraining = platform.executions.find((e) => (e.input as { trigger?: string }).trigger === 'drift');
    }
    expect(retraining !== undefined, 'the drift alarm did not start a retraining execution');
    if (retraining) {
      await stage(
        'version 2: the retraining the alarm started (new data, UpdateEndpoint canary)',
        async () => {
          await retraining!.done;
          await platform.idle();
          return retraining!;
        },
        (m) => describeModel(m),
      );
      models.push(modelOutcome(2, retraining));
      expect(
        retraining.status === 'SUCCEEDED' && retraining.record?.path.includes('UpdateEndpoint') === true,
        'version 2 was not deployed through UpdateEndpoint',
      );
      deployed = await deployedModel.current();
      expect(
        deployed?.pointer.execution === retraining.name,
        'baselines/current.json does not point at version 2',
      );
      await stage(
        'send traffic to version 2',
        () => sendTraffic(1),
        (n) => `${n} predictions`,
      );
    }

    const captureFiles = (
      await listKeys(platform.s3, names.buckets.artifacts, `capture/${names.endpointName}/`)
    ).length;
    expect(captureFiles > 0, 'no capture files were written');
    const alarms = platform.alarms
      .describeAll()
      .map((a) => ({ name: a.name, state: a.state }))
      .sort((a, b) => a.name.localeCompare(b.name));
    if (platform.deliveryErrors.length > 0)
      problems.push(...platform.deliveryErrors.map((e) => `delivery failed: ${e.target}: ${e.error}`));
    const result: LoopResult = {
      files: fileOutcomes,
      models,
      drift,
      alarms,
      alarmChanges,
      predictions: { sent, byModelVersion },
      captureFiles,
      notifications: platform.notifications.map((n) => ({ subject: n.subject, status: n.status })),
      timings,
      problems,
    };
    if (options.keep === true) {
      kept = true;
      return { result, platform };
    }
    return { result };
  } finally {
    if (!kept) await platform.close();
  }
}

async function trainAndWait(platform: LocalPlatform, input: unknown): Promise<LocalExecution> {
  const e = platform.startExecution(input);
  await e.done;
  await platform.idle();
  return e;
}

function describeModel(e: LocalExecution): string {
  const out = e.record?.output as { status?: string; reason?: string } | undefined;
  if (e.status !== 'SUCCEEDED') return `${e.status}: ${e.record?.error ?? ''} ${e.record?.cause ?? ''}`;
  const m = evaluationOf(e);
  return `${out?.status ?? e.status}${m ? `, ${m.metricName} = ${m.metric.toFixed(4)}` : ''}`;
}

function evaluationOf(e: LocalExecution): { metricName: string; metric: number } | undefined {
  const call = e.record?.calls.find((c) => c.state === 'Evaluate');
  const r = call?.response as { metricName?: string; metric?: number } | undefined;
  return r?.metricName !== undefined && r.metric !== undefined
    ? { metricName: r.metricName, metric: r.metric }
    : undefined;
}

function modelOutcome(version: number, e: LocalExecution): ModelOutcome {
  const m = evaluationOf(e);
  const path = e.record?.path ?? [];
  const registered = e.record?.calls.find((c) => c.state === 'Register')?.response as
    { ModelPackageArn?: string } | undefined;
  return {
    version,
    trigger: String((e.input as { trigger?: string }).trigger),
    execution: e.name,
    status: e.status,
    metricName: m?.metricName,
    metric: m?.metric,
    deployedBy: path.includes('UpdateEndpoint')
      ? 'UpdateEndpoint'
      : path.includes('CreateEndpoint')
        ? 'CreateEndpoint'
        : undefined,
    modelPackageArn: registered?.ModelPackageArn,
    path,
  };
}

async function readReports(platform: LocalPlatform): Promise<StoredValidationReport[]> {
  const { artifacts } = platform.names.buckets;
  const all = await listKeys(platform.s3, artifacts, `reports/validation/${platform.names.dataset}/`);
  // Each JSON report has its HTML rendering beside it.
  const keys = all.filter((k) => k.endsWith('.json'));
  return Promise.all(
    keys.map(async (k) => {
      const r = await platform.s3.send(new GetObjectCommand({ Bucket: artifacts, Key: k }));
      return JSON.parse(await r.Body!.transformToString('utf8')) as StoredValidationReport;
    }),
  );
}

/** The drift report of the window that starts at `hourStart`, if the check wrote one. */
async function readDriftReport(
  platform: LocalPlatform,
  hourStart: Date,
): Promise<Omit<DriftOutcome, 'traffic'> | undefined> {
  const { artifacts } = platform.names.buckets;
  const window: DriftWindow = {
    start: hourStart,
    end: new Date(hourStart.getTime() + HOUR),
    hours: [hourStart],
  };
  const key = reportKey(platform.names.endpointName, window);
  let report: StoredDriftReport;
  try {
    const r = await platform.s3.send(new GetObjectCommand({ Bucket: artifacts, Key: key }));
    report = JSON.parse(await r.Body!.transformToString('utf8')) as StoredDriftReport;
  } catch (e) {
    if ((e as Error).name === 'NoSuchKey') return undefined;
    throw e;
  }
  return {
    hour: hourStart.toISOString(),
    status: !report.sufficient ? 'INSUFFICIENT DATA' : report.drifted ? 'DRIFT' : 'OK',
    samples: report.samples,
    maxPsi: report.maxDrift,
    drifted: report.driftedFeatures,
    features: report.features.map((f) => ({ name: f.name, psi: f.psi ?? 0, drifted: f.drifted })),
  };
}
