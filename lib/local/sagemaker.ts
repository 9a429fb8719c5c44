import { gunzipSync } from 'node:zlib';
import { splitS3Uri } from '../../lambdas/core/pointer';
import type { CaptureConfig } from './capture';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type {
  Channel,
  CreateEndpointConfigInput,
  CreateEndpointInput,
  CreateModelInput,
  CreateModelPackageInput,
  CreateTrainingJobRequest,
  DeploymentConfig,
  DescribeEndpointConfigOutput,
  DescribeEndpointOutput,
  DescribeModelOutput,
  DescribeModelPackageGroupOutput,
  DescribeModelPackageOutput,
  DescribeTrainingJobResponse,
  EndpointSummary,
  ModelPackageGroupSummary,
  ModelPackageSummary,
  ProductionVariant,
  ProductionVariantSummary,
  SecondaryStatusTransition,
  TrainingJobSummary,
  UpdateEndpointInput,
  UpdateModelPackageInput,
} from '@aws-sdk/client-sagemaker';
import type { Clock } from './clock';
import { AwsApiError } from './errors';
import { checkRequest, SAGEMAKER_APIS, type SageMakerApi } from './sagemaker-api';
import {
  modelTarGz,
  parseXgbCsv,
  readModelTarGz,
  trainXgboost,
  XgbInputError,
  type LocalModel,
  type XgbDataset,
} from './xgboost';

/**
 * The local SageMaker control plane: training jobs (built-in XGBoost, see xgboost.ts), models, endpoint
 * configs, endpoints with blue/green updates and alarm rollback, and the model registry, in memory, with the
 * request checks, statuses, error codes and messages of the SageMaker API.
 *
 * Deployment delays use real timers (a demo must not wait minutes); resource timestamps come from the clock.
 * What SageMaker answers for a missing resource, as observed (SageMaker does not use 404s):
 * - endpoint, endpoint config, model: ValidationException "Could not find endpoint|endpoint configuration|model "<arn>"."
 * - training job: ValidationException "Requested resource not found."
 * - model package (group): ValidationException "... does not exist."
 */

export interface ServingVariant {
  readonly variantName: string;
  readonly modelName: string;
  readonly model: LocalModel;
  readonly capture?: CaptureConfig;
}

export interface ServingEndpoint {
  readonly endpointName: string;
  readonly endpointConfigName: string;
  readonly status: string;
  /**
   * The variant for one request (variant weights; the canary's share of traffic during a bake). Always a
   * loaded model: it serves while the endpoint is InService, Updating or RollingBack. Throws (ValidationError)
   * when nothing is loaded (Creating, Failed).
   */
  pick(): ServingVariant;
  /** The named production variant of the serving config (X-Amzn-SageMaker-Target-Variant), if there is one. */
  variant(variantName: string): ServingVariant | undefined;
}

export type SageMakerEventType = 'EndpointStatus' | 'TrainingJob' | 'ModelPackage';

export interface SageMakerEvent {
  readonly type: SageMakerEventType;
  readonly name: string;
  /** EndpointStatus, TrainingJobStatus or ModelApprovalStatus. */
  readonly status: string;
  readonly arn: string;
  readonly time: Date;
}

/** A metric as SageMaker would publish it to CloudWatch (the shape MetricStore.put takes). */
export interface PublishedMetric {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Record<string, string>;
  readonly values: number[];
  readonly unit?: string;
  readonly timestamp?: Date;
}

export interface LocalSageMakerOptions {
  readonly s3: S3Client;
  readonly clock: Clock;
  readonly region: string;
  readonly accountId: string;
  /** ms an endpoint stays Creating/Updating before it serves (and a rollback lasts). @default 200 */
  readonly deployMilliseconds?: number;
  /** ms of each bake of a blue/green update (canary, linear step, all at once). @default 300 */
  readonly bakeMilliseconds?: number;
  /** The state of a CloudWatch alarm by name, for AutoRollbackConfiguration. @default always 'OK' */
  readonly alarmState?: (alarmName: string) => string;
  /** Training job metrics, as SageMaker publishes them (namespace /aws/sagemaker/TrainingJobs). */
  readonly putMetric?: (metric: PublishedMetric) => void;
  /** Traffic split randomness (canary share, variant weights). @default Math.random */
  readonly random?: () => number;
  /**
   * Model package groups that exist from the start, as CloudFormation creates them from the templates
   * (AWS::SageMaker::ModelPackageGroup). CreateModelPackage into any other group fails, as on AWS.
   */
  readonly modelPackageGroups?: readonly string[];
}

type Json = Record<string, unknown>;

const IN_PROGRESS = new Set(['Creating', 'Updating', 'SystemUpdating', 'RollingBack', 'Deleting']);
const ENTITY_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const DEFAULT_MAX_RESULTS = 10;
const BAKE_POLL_MS = 20;

interface TrainingJob {
  readonly name: string;
  readonly arn: string;
  readonly request: CreateTrainingJobRequest;
  readonly created: Date;
  modified: Date;
  status: 'InProgress' | 'Completed' | 'Failed' | 'Stopping' | 'Stopped';
  secondary: NonNullable<DescribeTrainingJobResponse['SecondaryStatus']>;
  transitions: SecondaryStatusTransition[];
  failureReason?: string;
  started?: Date;
  ended?: Date;
  metrics?: { MetricName: string; Value: number; Timestamp: Date }[];
  artifact?: string;
  done: Promise<void>;
  readonly abort: AbortController;
}

interface Model {
  readonly request: CreateModelInput;
  readonly arn: string;
  readonly created: Date;
}

interface EndpointConfig {
  readonly request: CreateEndpointConfigInput;
  readonly arn: string;
  readonly created: Date;
}

/** An endpoint config with its models loaded: what serves. */
interface Fleet {
  readonly configName: string;
  readonly config: EndpointConfig;
  readonly variants: ServingVariant[];
  readonly weights: number[];
}

interface Endpoint {
  readonly name: string;
  readonly arn: string;
  readonly created: Date;
  modified: Date;
  status: NonNullable<DescribeEndpointOutput['EndpointStatus']>;
  /** What DescribeEndpoint reports: the new config while it deploys, the old one again after a rollback. */
  configName: string;
  live?: Fleet;
  canary?: { fleet: Fleet; share: number };
  pending?: { configName: string; started: Date; variantStatus: 'Creating' | 'Baking' | 'ActivatingTraffic' };
  failureReason?: string;
  lastDeploymentConfig?: DeploymentConfig;
  /** Bumped by every create/update/delete: an older deployment that wakes up finds it changed and stops. */
  generation: number;
  done: Promise<void>;
}

interface PackageGroup {
  readonly name: string;
  readonly arn: string;
  readonly description?: string;
  readonly created: Date;
}

interface ModelPackage {
  readonly arn: string;
  /** The group name for a versioned package (as DescribeModelPackage reports it), else its own name. */
  readonly name: string;
  readonly group?: string;
  readonly version?: number;
  readonly request: CreateModelPackageInput;
  readonly created: Date;
  modified: Date;
  approval?: string;
  approvalDescription?: string;
  metadata?: Record<string, string>;
}

/** The checks of APIs sagemaker-api.ts does not cover: names, types, unknown fields. */
type FieldKind = 'name' | 'string' | 'int' | 'time' | 'bool' | 'any' | readonly string[];
const LOCAL_REQUESTS: Record<string, Record<string, { required?: boolean; kind: FieldKind }>> = {
  DescribeTrainingJob: { TrainingJobName: { required: true, kind: 'name' } },
  DescribeModel: { ModelName: { required: true, kind: 'name' } },
  DeleteModel: { ModelName: { required: true, kind: 'name' } },
  DescribeEndpointConfig: { EndpointConfigName: { required: true, kind: 'name' } },
  DeleteEndpointConfig: { EndpointConfigName: { required: true, kind: 'name' } },
  DeleteEndpoint: { EndpointName: { required: true, kind: 'name' } },
  ListEndpoints: {
    SortBy: { kind: ['Name', 'CreationTime', 'Status'] },
    SortOrder: { kind: ['Ascending', 'Descending'] },
    NextToken: { kind: 'string' },
    MaxResults: { kind: 'int' },
    NameContains: { kind: 'string' },
    CreationTimeBefore: { kind: 'time' },
    CreationTimeAfter: { kind: 'time' },
    LastModifiedTimeBefore: { kind: 'time' },
    LastModifiedTimeAfter: { kind: 'time' },
    StatusEquals: {
      kind: [
        'OutOfService',
        'Creating',
        'Updating',
        'SystemUpdating',
        'RollingBack',
        'InService',
        'Deleting',
        'Failed',
        'UpdateRollbackFailed',
      ],
    },
  },
  ListTrainingJobs: {
    NextToken: { kind: 'string' },
    MaxResults: { kind: 'int' },
    CreationTimeAfter: { kind: 'time' },
    CreationTimeBefore: { kind: 'time' },
    LastModifiedTimeAfter: { kind: 'time' },
    LastModifiedTimeBefore: { kind: 'time' },
    NameContains: { kind: 'string' },
    StatusEquals: { kind: ['InProgress', 'Completed', 'Failed', 'Stopping', 'Stopped', 'Deleting'] },
    SortBy: { kind: ['Name', 'CreationTime', 'Status'] },
    SortOrder: { kind: ['Ascending', 'Descending'] },
    WarmPoolStatusEquals: { kind: 'any' },
    TrainingPlanArnEquals: { kind: 'any' },
  },
  CreateModelPackageGroup: {
    ModelPackageGroupName: { required: true, kind: 'name' },
    ModelPackageGroupDescription: { kind: 'string' },
    Tags: { kind: 'any' },
    ManagedConfiguration: { kind: 'any' },
  },
  DescribeModelPackageGroup: { ModelPackageGroupName: { required: true, kind: 'string' } },
  ListModelPackageGroups: {
    CreationTimeAfter: { kind: 'time' },
    CreationTimeBefore: { kind: 'time' },
    MaxResults: { kind: 'int' },
    NameContains: { kind: 'string' },
    NextToken: { kind: 'string' },
    SortBy: { kind: ['Name', 'CreationTime'] },
    SortOrder: { kind: ['Ascending', 'Descending'] },
    CrossAccountFilterOption: { kind: 'any' },
  },
};

function localProblems(api: string, request: unknown): string[] {
  const fields = LOCAL_REQUESTS[api];
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    return ['request: must be an object'];
  }
  const r = request as Json;
  const problems: string[] = [];
  for (const [name, f] of Object.entries(fields)) {
    const v = r[name];
    if (v === undefined || v === null) {
      if (f.required) problems.push(`${name}: required`);
      continue;
    }
    const k = f.kind;
    if (Array.isArray(k)) {
      if (typeof v !== 'string' || !k.includes(v))
        problems.push(`${name}: ${JSON.stringify(v)} is not one of ${k.join(', ')}`);
    } else if (k === 'name') {
      if (typeof v !== 'string' || !ENTITY_NAME.test(v)) {
        problems.push(`${name}: ${JSON.stringify(v)} is not a valid name (1-63 of a-z, A-Z, 0-9 and -)`);
      }
    } else if (k === 'string' && typeof v !== 'string') {
      problems.push(`${name}: must be a string`);
    } else if (k === 'int' && !(typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 100)) {
      problems.push(`${name}: must be an integer in [1, 100]`);
    } else if (k === 'bool' && typeof v !== 'boolean') {
      problems.push(`${name}: must be a boolean`);
    } else if (k === 'time' && toDate(v) === undefined) {
      problems.push(`${name}: must be a timestamp`);
    }
  }
  for (const name of Object.keys(r))
    if (!(name in fields)) problems.push(`${name}: not a field of this request`);
  return problems;
}

/** A request timestamp: a Date, epoch seconds (what the SDKs send over awsJson) or an ISO string. */
function toDate(v: unknown): Date | undefined {
  const d =
    v instanceof Date
      ? v
      : typeof v === 'number'
        ? new Date(v * 1000)
        : typeof v === 'string'
          ? new Date(v)
          : undefined;
  return d && !Number.isNaN(d.getTime()) ? d : undefined;
}

/** The response without undefined members, as an SDK would parse it (Dates kept). */
function compact<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => compact(v)) as T;
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = compact(v);
  return out as T;
}

function sortAndPage<T>(
  items: T[],
  request: Json,
  keys: Record<string, (x: T) => string | number>,
  defaults: { sortBy: string; sortOrder: 'Ascending' | 'Descending'; maxResults?: number },
): { page: T[]; nextToken?: string } {
  const key = keys[(request.SortBy as string | undefined) ?? defaults.sortBy] ?? keys[defaults.sortBy];
  const sign = ((request.SortOrder as string | undefined) ?? defaults.sortOrder) === 'Ascending' ? 1 : -1;
  const sorted = items
    .map((x, i) => ({ x, i }))
    .sort((a, b) => {
      const ka = key(a.x);
      const kb = key(b.x);
      return (ka < kb ? -1 : ka > kb ? 1 : a.i - b.i) * sign;
    })
    .map(({ x }) => x);
  const start =
    request.NextToken === undefined
      ? 0
      : Number(Buffer.from(String(request.NextToken), 'base64url').toString());
  if (!Number.isInteger(start) || start < 0)
    throw new AwsApiError('ValidationException', 'Invalid pagination token');
  const max = (request.MaxResults as number | undefined) ?? defaults.maxResults ?? DEFAULT_MAX_RESULTS;
  const page = sorted.slice(start, start + max);
  const next =
    start + max < sorted.length ? Buffer.from(String(start + max)).toString('base64url') : undefined;
  return { page, nextToken: next };
}

function inTimeRange(t: Date, after: unknown, before: unknown): boolean {
  const a = toDate(after);
  const b = toDate(before);
  return (a === undefined || t > a) && (b === undefined || t < b);
}

export class LocalSageMaker {
  private readonly s3: S3Client;
  private readonly clock: Clock;
  private readonly region: string;
  private readonly accountId: string;
  private readonly deployMs: number;
  private readonly bakeMs: number;
  private readonly alarmState: (name: string) => string;
  private readonly putMetric?: (metric: PublishedMetric) => void;
  private readonly random: () => number;

  private readonly trainingJobs = new Map<string, TrainingJob>();
  private readonly models = new Map<string, Model>();
  private readonly endpointConfigs = new Map<string, EndpointConfig>();
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly groups = new Map<string, PackageGroup>();
  private readonly packages: ModelPackage[] = [];
  private readonly listeners = new Set<(e: SageMakerEvent) => void>();
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private closed = false;

  private readonly handlers: Record<string, (r: Json) => unknown> = {
    CreateTrainingJob: (r) => this.createTrainingJob(r as unknown as CreateTrainingJobRequest),
    DescribeTrainingJob: (r) => this.describeTrainingJob(r.TrainingJobName as string),
    ListTrainingJobs: (r) => this.listTrainingJobs(r),
    CreateModel: (r) => this.createModel(r as unknown as CreateModelInput),
    DescribeModel: (r) => this.describeModel(r.ModelName as string),
    DeleteModel: (r) => this.deleteModel(r.ModelName as string),
    CreateEndpointConfig: (r) => this.createEndpointConfig(r as unknown as CreateEndpointConfigInput),
    DescribeEndpointConfig: (r) => this.describeEndpointConfig(r.EndpointConfigName as string),
    DeleteEndpointConfig: (r) => this.deleteEndpointConfig(r.EndpointConfigName as string),
    CreateEndpoint: (r) => this.createEndpoint(r as unknown as CreateEndpointInput),
    UpdateEndpoint: (r) => this.updateEndpoint(r as unknown as UpdateEndpointInput),
    DescribeEndpoint: (r) => this.describeEndpoint(r.EndpointName as string),
    DeleteEndpoint: (r) => this.deleteEndpoint(r.EndpointName as string),
    ListEndpoints: (r) => this.listEndpoints(r),
    CreateModelPackageGroup: (r) => this.createModelPackageGroup(r),
    DescribeModelPackageGroup: (r) => this.describeModelPackageGroup(r.ModelPackageGroupName as string),
    ListModelPackageGroups: (r) => this.listModelPackageGroups(r),
    CreateModelPackage: (r) => this.createModelPackage(r as unknown as CreateModelPackageInput),
    DescribeModelPackage: (r) => this.describeModelPackage(r.ModelPackageName as string),
    ListModelPackages: (r) => this.listModelPackages(r),
    UpdateModelPackage: (r) => this.updateModelPackage(r as unknown as UpdateModelPackageInput),
  };

  constructor(options: LocalSageMakerOptions) {
    this.s3 = options.s3;
    this.clock = options.clock;
    this.region = options.region;
    this.accountId = options.accountId;
    this.deployMs = options.deployMilliseconds ?? 200;
    this.bakeMs = options.bakeMilliseconds ?? 300;
    this.alarmState = options.alarmState ?? (() => 'OK');
    this.putMetric = options.putMetric;
    this.random = options.random ?? Math.random;
    for (const name of options.modelPackageGroups ?? []) {
      this.groups.set(name, { name, arn: this.arn('model-package-group', name), created: this.clock.now() });
    }
  }

  /** The APIs `call` serves (PascalCase). */
  static readonly APIS: readonly string[] = [
    'CreateTrainingJob',
    'DescribeTrainingJob',
    'ListTrainingJobs',
    'CreateModel',
    'DescribeModel',
    'DeleteModel',
    'CreateEndpointConfig',
    'DescribeEndpointConfig',
    'DeleteEndpointConfig',
    'CreateEndpoint',
    'UpdateEndpoint',
    'DescribeEndpoint',
    'DeleteEndpoint',
    'ListEndpoints',
    'CreateModelPackageGroup',
    'DescribeModelPackageGroup',
    'ListModelPackageGroups',
    'CreateModelPackage',
    'DescribeModelPackage',
    'ListModelPackages',
    'UpdateModelPackage',
  ];

  /**
   * One SageMaker API call: PascalCase name and request as the API takes them, the API's response shape
   * (timestamps as Date). Errors are AwsApiError with SageMaker's codes.
   */
  async call(api: string, request: unknown): Promise<unknown> {
    const handler = this.handlers[api];
    if (!handler)
      throw new AwsApiError('UnknownOperationException', `Unknown operation ${api} for SageMaker`);
    const problems = (SAGEMAKER_APIS as readonly string[]).includes(api)
      ? checkRequest(api as SageMakerApi, request)
      : localProblems(api, request);
    if (problems.length > 0) {
      throw new AwsApiError(
        'ValidationException',
        `${problems.length} validation error${problems.length === 1 ? '' : 's'} detected: ${problems.join('; ')}`,
      );
    }
    return compact(await handler(request as Json));
  }

  /**
   * CreateTrainingJob, then the job to its end: what the `.sync` integration waits for. Returns the final
   * DescribeTrainingJob (Completed, Failed or Stopped); request problems throw as CreateTrainingJob does.
   */
  async runTrainingJob(request: unknown): Promise<DescribeTrainingJobResponse> {
    await this.call('CreateTrainingJob', request);
    const name = (request as Json).TrainingJobName as string;
    await this.trainingJobs.get(name)!.done;
    return compact(this.describeTrainingJob(name));
  }

  /** What the endpoint serves now (a live view), or undefined if there is no such endpoint. */
  endpoint(name: string): ServingEndpoint | undefined {
    const e = this.endpoints.get(name);
    if (!e) return undefined;
    return {
      endpointName: e.name,
      get endpointConfigName() {
        return e.configName;
      },
      get status() {
        return e.status;
      },
      pick: () => this.pick(e),
      variant: (variantName) => e.live?.variants.find((v) => v.variantName === variantName),
    };
  }

  /** Status changes of endpoints, training jobs and model package approvals. Returns an unsubscribe function. */
  onEvent(listener: (e: SageMakerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when every training and deployment in flight has finished. */
  async settled(): Promise<void> {
    for (;;) {
      const pending = [
        ...[...this.trainingJobs.values()].map((j) => j.done),
        ...[...this.endpoints.values()].map((e) => e.done),
      ];
      await Promise.all(pending);
      const again = [
        ...[...this.trainingJobs.values()].map((j) => j.done),
        ...[...this.endpoints.values()].map((e) => e.done),
      ];
      if (again.every((p, i) => p === pending[i]) && again.length === pending.length) return;
    }
  }

  /** Stops trainings and deployments in flight (they end where they are) and releases timers. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.trainingJobs.values()) job.abort.abort(new Error('LocalSageMaker closed'));
    for (const [timer, wake] of this.timers) {
      clearTimeout(timer);
      wake();
    }
    this.timers.clear();
    await Promise.allSettled([
      ...[...this.trainingJobs.values()].map((j) => j.done),
      ...[...this.endpoints.values()].map((e) => e.done),
    ]);
  }

  // -------------------------------------------------------------------------------------------------------
  // helpers

  private arn(type: string, name: string): string {
    return `arn:aws:sagemaker:${this.region}:${this.accountId}:${type}/${name.toLowerCase()}`;
  }

  private emit(type: SageMakerEventType, name: string, status: string, arn: string): void {
    const event = { type, name, status, arn, time: this.clock.now() };
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // A listener's failure is its own business, not the control plane's.
      }
    }
  }

  /** A real-time delay that close() cuts short. */
  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.set(timer, resolve);
    });
  }

  private async getObject(uri: string): Promise<Buffer> {
    const { bucket, key } = splitS3Uri(uri);
    const out = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  }

  // -------------------------------------------------------------------------------------------------------
  // training jobs

  private createTrainingJob(r: CreateTrainingJobRequest): { TrainingJobArn: string } {
    const name = r.TrainingJobName!;
    const arn = this.arn('training-job', name);
    if (this.trainingJobs.has(name)) {
      throw new AwsApiError(
        'ResourceInUse',
        `Training job names must be unique within an AWS account and region, and a training job with this name already exists (${arn})`,
      );
    }
    const now = this.clock.now();
    const job: TrainingJob = {
      name,
      arn,
      request: structuredClone(r),
      created: now,
      modified: now,
      status: 'InProgress',
      secondary: 'Starting',
      transitions: [
        { Status: 'Starting', StartTime: now, StatusMessage: 'Preparing the instances for training' },
      ],
      done: Promise.resolve(),
      abort: new AbortController(),
    };
    this.trainingJobs.set(name, job);
    this.emit('TrainingJob', name, 'InProgress', arn);
    job.done = this.train(job);
    return { TrainingJobArn: arn };
  }

  private advance(job: TrainingJob, status: TrainingJob['secondary'], message: string): void {
    const now = this.clock.now();
    const last = job.transitions.at(-1);
    if (last) last.EndTime = now;
    job.transitions.push({ Status: status, StartTime: now, StatusMessage: message });
    job.secondary = status;
    job.modified = now;
  }

  private async train(job: TrainingJob): Promise<void> {
    const r = job.request;
    const limitSeconds = r.StoppingCondition?.MaxRuntimeInSeconds;
    let timedOut = false;
    const limit =
      limitSeconds === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            job.abort.abort(new Error('MaxRuntimeExceeded'));
          }, limitSeconds * 1000);
    try {
      await Promise.resolve();
      this.advance(job, 'Downloading', 'Downloading input data');
      const channels = await this.readChannels(r.InputDataConfig ?? [], r.RoleArn!);
      job.started = this.clock.now();
      this.advance(job, 'Training', 'Training image download completed. Training in progress.');
      const result = await trainXgboost(channels.train, channels.validation, r.HyperParameters ?? {}, {
        signal: job.abort.signal,
      });
      this.advance(job, 'Uploading', 'Uploading generated training model');
      const output = r.OutputDataConfig!.S3OutputPath!.replace(/\/+$/, '');
      const artifact = `${output}/${job.name}/output/model.tar.gz`;
      const { bucket, key } = splitS3Uri(artifact);
      try {
        await this.s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: modelTarGz(result.model, { mtime: this.clock.now() }),
            ContentType: 'application/x-gzip',
          }),
        );
      } catch (e) {
        throw new XgbInputError(`Could not upload the model to ${artifact}: ${(e as Error).message}`);
      }
      const now = this.clock.now();
      job.metrics = result.metrics.map((m) => ({ ...m, Timestamp: now }));
      job.artifact = artifact;
      job.ended = now;
      job.status = 'Completed';
      this.advance(job, 'Completed', 'Training job completed');
      job.transitions.at(-1)!.EndTime = now;
      for (const m of result.metrics) {
        this.putMetric?.({
          namespace: '/aws/sagemaker/TrainingJobs',
          metricName: m.MetricName,
          dimensions: { Host: `${job.name}/algo-1` },
          values: [m.Value],
          unit: 'None',
          timestamp: now,
        });
      }
    } catch (e) {
      const now = this.clock.now();
      job.ended = now;
      if (timedOut) {
        job.status = 'Stopped';
        this.advance(
          job,
          'MaxRuntimeExceeded',
          'Job stopped because it exceeded the maximum allowed runtime',
        );
      } else {
        job.status = 'Failed';
        job.failureReason =
          e instanceof XgbInputError
            ? `ClientError: ${e.message}`
            : `AlgorithmError: ${(e as Error).message}`;
        this.advance(job, 'Failed', 'Training job failed');
      }
      job.transitions.at(-1)!.EndTime = now;
    } finally {
      if (limit) clearTimeout(limit);
    }
    this.emit('TrainingJob', job.name, job.status, job.arn);
  }

  /** The train and validation channels, read the way the XGBoost container reads File mode CSV. */
  private async readChannels(
    channels: Channel[],
    role: string,
  ): Promise<{ train: XgbDataset; validation?: XgbDataset }> {
    const byName = new Map(channels.map((c) => [c.ChannelName!, c]));
    for (const name of byName.keys()) {
      if (name !== 'train' && name !== 'validation') {
        throw new XgbInputError(`Channel ${name} is not supported by XGBoost (train, validation)`);
      }
    }
    const train = byName.get('train');
    if (!train) throw new XgbInputError('InputDataConfig has no train channel, which XGBoost requires');
    const validation = byName.get('validation');
    return {
      train: await this.readChannel(train, role),
      validation: validation ? await this.readChannel(validation, role) : undefined,
    };
  }

  private async readChannel(c: Channel, role: string): Promise<XgbDataset> {
    const name = c.ChannelName!;
    const source = c.DataSource?.S3DataSource;
    if (!source) throw new XgbInputError(`Channel ${name}: only S3DataSource is supported locally`);
    if (source.S3DataType !== 'S3Prefix') {
      throw new XgbInputError(
        `Channel ${name}: S3DataType ${source.S3DataType} is not supported locally (S3Prefix)`,
      );
    }
    const contentType = c.ContentType?.split(';')[0].trim().toLowerCase();
    if (contentType === undefined) {
      throw new XgbInputError(
        `Channel ${name} has no ContentType: XGBoost would read it as libsvm; the local runtime reads text/csv only`,
      );
    }
    if (contentType !== 'text/csv' && contentType !== 'csv') {
      throw new XgbInputError(
        `Channel ${name}: content type ${c.ContentType} is not supported locally (text/csv)`,
      );
    }
    const { bucket, key: prefix } = splitS3Uri(source.S3Uri!);
    const keys: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const o of page.Contents ?? []) if (o.Key && !o.Key.endsWith('/')) keys.push(o.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch {
      keys.length = 0;
    }
    if (keys.length === 0) {
      throw new XgbInputError(
        `Data download failed:No S3 objects found under S3 URL "${source.S3Uri}" given in input data source. Please ensure that the bucket exists in the selected region (${this.region}), that objects exist under that S3 prefix, and that the role "${role}" has "s3:ListBucket" permissions on bucket "${bucket}".`,
      );
    }
    const labels: number[] = [];
    const rows: number[][] = [];
    for (const key of keys.sort()) {
      let body = await this.getObject(`s3://${bucket}/${key}`);
      if (c.CompressionType === 'Gzip') {
        try {
          body = gunzipSync(body);
        } catch {
          throw new XgbInputError(
            `Channel ${name}: s3://${bucket}/${key} is not gzip data (CompressionType Gzip)`,
          );
        }
      }
      let parsed: { labels: number[]; rows: number[][] };
      try {
        parsed = parseXgbCsv(body);
      } catch (e) {
        throw new XgbInputError(`Channel ${name}, s3://${bucket}/${key}: ${(e as Error).message}`);
      }
      for (let i = 0; i < parsed.rows.length; i++) {
        labels.push(parsed.labels[i]);
        rows.push(parsed.rows[i]);
      }
    }
    return { labels, rows };
  }

  private job(name: string): TrainingJob {
    const job = this.trainingJobs.get(name);
    if (!job) throw new AwsApiError('ValidationException', 'Requested resource not found.');
    return job;
  }

  describeTrainingJob(name: string): DescribeTrainingJobResponse {
    const j = this.job(name);
    const r = j.request;
    const seconds =
      j.started && j.ended
        ? Math.max(1, Math.round((j.ended.getTime() - j.started.getTime()) / 1000))
        : undefined;
    return {
      TrainingJobName: j.name,
      TrainingJobArn: j.arn,
      ModelArtifacts: j.artifact ? { S3ModelArtifacts: j.artifact } : undefined,
      TrainingJobStatus: j.status,
      SecondaryStatus: j.secondary,
      FailureReason: j.failureReason,
      HyperParameters: r.HyperParameters,
      AlgorithmSpecification: r.AlgorithmSpecification,
      RoleArn: r.RoleArn,
      InputDataConfig: r.InputDataConfig,
      OutputDataConfig: r.OutputDataConfig,
      ResourceConfig: r.ResourceConfig,
      VpcConfig: r.VpcConfig,
      StoppingCondition: r.StoppingCondition,
      CreationTime: j.created,
      TrainingStartTime: j.started,
      TrainingEndTime: j.ended,
      LastModifiedTime: j.modified,
      SecondaryStatusTransitions: j.transitions.map((t) => ({ ...t })),
      FinalMetricDataList: j.metrics?.map((m) => ({ ...m })),
      EnableNetworkIsolation: r.EnableNetworkIsolation ?? false,
      EnableInterContainerTrafficEncryption: r.EnableInterContainerTrafficEncryption ?? false,
      EnableManagedSpotTraining: r.EnableManagedSpotTraining ?? false,
      TrainingTimeInSeconds: seconds,
      BillableTimeInSeconds: seconds,
      Environment: r.Environment,
      RetryStrategy: r.RetryStrategy,
    };
  }

  private listTrainingJobs(r: Json): { TrainingJobSummaries: TrainingJobSummary[]; NextToken?: string } {
    const jobs = [...this.trainingJobs.values()].filter(
      (j) =>
        (r.NameContains === undefined ||
          j.name.toLowerCase().includes(String(r.NameContains).toLowerCase())) &&
        (r.StatusEquals === undefined || j.status === r.StatusEquals) &&
        inTimeRange(j.created, r.CreationTimeAfter, r.CreationTimeBefore) &&
        inTimeRange(j.modified, r.LastModifiedTimeAfter, r.LastModifiedTimeBefore),
    );
    const { page, nextToken } = sortAndPage(
      jobs,
      r,
      { Name: (j) => j.name, CreationTime: (j) => j.created.getTime(), Status: (j) => j.status },
      { sortBy: 'CreationTime', sortOrder: 'Ascending' },
    );
    return {
      TrainingJobSummaries: page.map((j) => ({
        TrainingJobName: j.name,
        TrainingJobArn: j.arn,
        CreationTime: j.created,
        TrainingEndTime: j.ended,
        LastModifiedTime: j.modified,
        TrainingJobStatus: j.status,
        SecondaryStatus: j.secondary,
      })),
      NextToken: nextToken,
    };
  }

  // -------------------------------------------------------------------------------------------------------
  // models, endpoint configs

  private async createModel(r: CreateModelInput): Promise<{ ModelArn: string }> {
    const name = r.ModelName!;
    const arn = this.arn('model', name);
    if (this.models.has(name))
      throw new AwsApiError('ValidationException', `Cannot create already existing model "${arn}".`);
    const containers = r.PrimaryContainer ? [r.PrimaryContainer] : (r.Containers ?? []);
    for (const c of containers) {
      if (c.ModelPackageName) this.packageOf(c.ModelPackageName);
      if (c.ModelDataUrl) {
        const { bucket, key } = splitS3Uri(c.ModelDataUrl);
        try {
          await this.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        } catch {
          throw new AwsApiError('ValidationException', `Could not find model data at ${c.ModelDataUrl}.`);
        }
      }
    }
    if (this.models.has(name))
      throw new AwsApiError('ValidationException', `Cannot create already existing model "${arn}".`);
    this.models.set(name, { request: structuredClone(r), arn, created: this.clock.now() });
    return { ModelArn: arn };
  }

  private model(name: string): Model {
    const m = this.models.get(name);
    if (!m)
      throw new AwsApiError('ValidationException', `Could not find model "${this.arn('model', name)}".`);
    return m;
  }

  private describeModel(name: string): DescribeModelOutput {
    const m = this.model(name);
    const described = structuredClone(m.request) as unknown as Json;
    delete described.Tags;
    return {
      ...described,
      ModelName: name,
      ModelArn: m.arn,
      CreationTime: m.created,
      EnableNetworkIsolation: m.request.EnableNetworkIsolation ?? false,
    } as DescribeModelOutput;
  }

  private deleteModel(name: string): Json {
    this.model(name);
    this.models.delete(name);
    return {};
  }

  private createEndpointConfig(r: CreateEndpointConfigInput): { EndpointConfigArn: string } {
    const name = r.EndpointConfigName!;
    const arn = this.arn('endpoint-config', name);
    if (this.endpointConfigs.has(name)) {
      throw new AwsApiError(
        'ValidationException',
        `Cannot create already existing endpoint configuration "${arn}".`,
      );
    }
    const variants = r.ProductionVariants ?? [];
    const names = variants.map((v) => v.VariantName);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) throw new AwsApiError('ValidationException', `Variant name ${dup} is used more than once.`);
    for (const v of variants) {
      if (!v.ModelName)
        throw new AwsApiError('ValidationException', `ProductionVariant ${v.VariantName} has no ModelName.`);
      this.model(v.ModelName);
    }
    this.endpointConfigs.set(name, { request: structuredClone(r), arn, created: this.clock.now() });
    return { EndpointConfigArn: arn };
  }

  private endpointConfig(name: string): EndpointConfig {
    const c = this.endpointConfigs.get(name);
    if (!c) {
      throw new AwsApiError(
        'ValidationException',
        `Could not find endpoint configuration "${this.arn('endpoint-config', name)}".`,
      );
    }
    return c;
  }

  private describeEndpointConfig(name: string): DescribeEndpointConfigOutput {
    const c = this.endpointConfig(name);
    const described = structuredClone(c.request) as unknown as Json;
    delete described.Tags;
    return {
      ...described,
      EndpointConfigName: name,
      EndpointConfigArn: c.arn,
      CreationTime: c.created,
    } as DescribeEndpointConfigOutput;
  }

  private deleteEndpointConfig(name: string): Json {
    this.endpointConfig(name);
    this.endpointConfigs.delete(name);
    return {};
  }

  // -------------------------------------------------------------------------------------------------------
  // endpoints

  private endpointState(name: string): Endpoint {
    const e = this.endpoints.get(name);
    if (!e)
      throw new AwsApiError(
        'ValidationException',
        `Could not find endpoint "${this.arn('endpoint', name)}".`,
      );
    return e;
  }

  private setStatus(e: Endpoint, status: Endpoint['status']): void {
    e.modified = this.clock.now();
    if (e.status === status) return;
    e.status = status;
    this.emit('EndpointStatus', e.name, status, e.arn);
  }

  private createEndpoint(r: CreateEndpointInput): { EndpointArn: string } {
    const name = r.EndpointName!;
    const arn = this.arn('endpoint', name);
    if (this.endpoints.has(name)) {
      throw new AwsApiError('ValidationException', `Cannot create already existing endpoint "${arn}".`);
    }
    const configName = r.EndpointConfigName!;
    this.endpointConfig(configName);
    const now = this.clock.now();
    const e: Endpoint = {
      name,
      arn,
      created: now,
      modified: now,
      status: 'Creating',
      configName,
      pending: { configName, started: now, variantStatus: 'Creating' },
      generation: 0,
      done: Promise.resolve(),
    };
    this.endpoints.set(name, e);
    this.emit('EndpointStatus', name, 'Creating', arn);
    e.done = this.deploy(e, configName, undefined, 'create');
    return { EndpointArn: arn };
  }

  private updateEndpoint(r: UpdateEndpointInput): { EndpointArn: string } {
    const e = this.endpointState(r.EndpointName!);
    const configName = r.EndpointConfigName!;
    this.endpointConfig(configName);
    if (IN_PROGRESS.has(e.status)) {
      throw new AwsApiError('ValidationException', `Cannot update in-progress endpoint "${e.arn}".`);
    }
    if (e.status !== 'InService' || !e.live) {
      throw new AwsApiError(
        'ValidationException',
        `Cannot update endpoint "${e.arn}" in status ${e.status}.`,
      );
    }
    const deployment = r.DeploymentConfig ?? (r.RetainDeploymentConfig ? e.lastDeploymentConfig : undefined);
    e.configName = configName;
    e.failureReason = undefined;
    e.pending = { configName, started: this.clock.now(), variantStatus: 'Creating' };
    this.setStatus(e, 'Updating');
    e.done = this.deploy(e, configName, deployment, 'update');
    return { EndpointArn: e.arn };
  }

  private deleteEndpoint(name: string): Json {
    const e = this.endpointState(name);
    if (IN_PROGRESS.has(e.status)) {
      throw new AwsApiError('ValidationException', `Cannot update in-progress endpoint "${e.arn}".`);
    }
    e.generation++;
    this.endpoints.delete(name);
    this.emit('EndpointStatus', name, 'Deleting', e.arn);
    return {};
  }

  /** Loads every variant's model of an endpoint config from S3. Rejects with SageMaker's FailureReason. */
  private async loadFleet(configName: string): Promise<Fleet> {
    const config = this.endpointConfig(configName);
    const capture = config.request.DataCaptureConfig;
    const modes = new Set((capture?.CaptureOptions ?? []).map((o) => o.CaptureMode));
    const captureSpec =
      capture && capture.EnableCapture !== false
        ? {
            destinationS3Uri: capture.DestinationS3Uri!,
            samplingPercentage: capture.InitialSamplingPercentage!,
            input: modes.has('Input') || modes.has('InputAndOutput'),
            output: modes.has('Output') || modes.has('InputAndOutput'),
            // "If no headers are specified SageMaker will by default base64 encode when capturing the data."
            csvContentTypes: [...(capture.CaptureContentTypeHeader?.CsvContentTypes ?? [])],
            ...(capture.KmsKeyId ? { kmsKeyId: capture.KmsKeyId } : {}),
          }
        : undefined;
    const variants: ServingVariant[] = [];
    const weights: number[] = [];
    for (const v of config.request.ProductionVariants ?? []) {
      const modelName = v.ModelName!;
      const m = this.models.get(modelName);
      if (!m) throw new Error(`Could not find model "${this.arn('model', modelName)}".`);
      const container = m.request.PrimaryContainer ?? m.request.Containers?.[0];
      const url =
        container?.ModelDataUrl ??
        (container?.ModelPackageName
          ? this.packageOf(container.ModelPackageName).request.InferenceSpecification?.Containers?.[0]
              ?.ModelDataUrl
          : undefined);
      if (!url)
        throw new Error(
          `The model "${modelName}" has no ModelDataUrl; the local runtime serves XGBoost model.tar.gz files only.`,
        );
      let body: Buffer;
      try {
        body = await this.getObject(url);
      } catch {
        throw new Error(
          `Failed to download model data for container "container_1" from URL: "${url}". Please ensure that there is an object located at the URL and that the role passed to CreateModel has permissions to download the object.`,
        );
      }
      let model: LocalModel;
      try {
        model = readModelTarGz(body);
      } catch (err) {
        throw new Error(
          `The primary container for production variant ${v.VariantName} did not pass the ping health check. Please check CloudWatch logs for this endpoint. (local runtime: ${(err as Error).message})`,
        );
      }
      variants.push({
        variantName: v.VariantName!,
        modelName,
        model,
        ...(captureSpec ? { capture: captureSpec } : {}),
      });
      weights.push(v.InitialVariantWeight ?? 1);
    }
    return { configName, config, variants, weights };
  }

  /** The share of traffic at each step of a blue/green update (the last step is everything). */
  private trafficSteps(d: DeploymentConfig | undefined, fleet: Fleet): number[] {
    const routing = d?.BlueGreenUpdatePolicy?.TrafficRoutingConfiguration;
    const capacity =
      fleet.config.request.ProductionVariants?.reduce((n, v) => n + (v.InitialInstanceCount ?? 1), 0) ?? 1;
    const share = (size: { Type?: string; Value?: number } | undefined) =>
      Math.min(
        1,
        size?.Type === 'INSTANCE_COUNT' ? (size.Value ?? 1) / capacity : (size?.Value ?? 100) / 100,
      );
    if (routing?.Type === 'CANARY') return [share(routing.CanarySize), 1];
    if (routing?.Type === 'LINEAR') {
      const step = share(routing.LinearStepSize);
      const steps: number[] = [];
      for (let s = step; s < 1 - 1e-9; s += step) steps.push(s);
      return [...steps, 1];
    }
    return [1];
  }

  /** Waits one bake, watching the rollback alarms; returns the alarms that went to ALARM, if any. */
  private async bake(alarms: string[], ms: number, alive: () => boolean): Promise<string[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const firing = alarms.filter((a) => this.alarmState(a) === 'ALARM');
      if (firing.length > 0 || !alive()) return firing;
      const left = deadline - Date.now();
      if (left <= 0) return [];
      await this.sleep(Math.min(left, BAKE_POLL_MS));
    }
  }

  private async deploy(
    e: Endpoint,
    configName: string,
    d: DeploymentConfig | undefined,
    kind: 'create' | 'update',
  ): Promise<void> {
    const generation = ++e.generation;
    const alive = () => !this.closed && e.generation === generation && this.endpoints.get(e.name) === e;
    const loading = this.loadFleet(configName).then(
      (fleet) => ({ fleet, error: undefined }),
      (error: Error) => ({ fleet: undefined, error }),
    );
    const [{ fleet, error }] = await Promise.all([loading, this.sleep(this.deployMs)]);
    if (!alive()) return;
    const previous = e.live;
    if (!fleet) {
      e.pending = undefined;
      e.failureReason = error!.message;
      if (kind === 'create' || !previous) {
        this.setStatus(e, 'Failed');
      } else {
        // The old fleet never stopped serving: the endpoint is back InService on it.
        e.configName = previous.configName;
        e.lastDeploymentConfig = d;
        this.setStatus(e, 'InService');
      }
      return;
    }
    if (kind === 'create' || !previous) {
      e.live = fleet;
      e.pending = undefined;
      this.setStatus(e, 'InService');
      return;
    }
    const policy = d?.BlueGreenUpdatePolicy;
    const alarms = (d?.AutoRollbackConfiguration?.Alarms ?? []).map((a) => a.AlarmName!);
    const bakeMs = (policy?.TrafficRoutingConfiguration?.WaitIntervalInSeconds ?? 0) > 0 ? this.bakeMs : 0;
    for (const share of this.trafficSteps(d, fleet)) {
      // Switching is one assignment: a request picks either fleet, both loaded, never neither.
      if (share >= 1) {
        e.live = fleet;
        e.canary = undefined;
      } else {
        e.canary = { fleet, share };
      }
      if (!policy) break;
      if (e.pending) e.pending = { ...e.pending, variantStatus: 'Baking' };
      const firing = await this.bake(alarms, bakeMs, alive);
      if (!alive()) return;
      if (firing.length > 0) {
        e.live = previous;
        e.canary = undefined;
        this.setStatus(e, 'RollingBack');
        await this.sleep(this.deployMs);
        if (!alive()) return;
        e.pending = undefined;
        e.configName = previous.configName;
        e.lastDeploymentConfig = d;
        e.failureReason = `Deployment of endpoint configuration "${configName}" was rolled back: alarm(s) ${firing.join(', ')} in ALARM state during the baking period.`;
        this.setStatus(e, 'InService');
        return;
      }
    }
    e.live = fleet;
    e.canary = undefined;
    e.pending = undefined;
    e.lastDeploymentConfig = d;
    this.setStatus(e, 'InService');
  }

  private pick(e: Endpoint): ServingVariant {
    const live = e.live;
    if (!live) {
      throw new AwsApiError('ValidationError', `Endpoint ${e.name} of account ${this.accountId} not found.`);
    }
    const fleet = e.canary && this.random() < e.canary.share ? e.canary.fleet : live;
    const total = fleet.weights.reduce((a, b) => a + b, 0);
    if (total <= 0) return fleet.variants[0];
    let r = this.random() * total;
    for (let i = 0; i < fleet.variants.length; i++) {
      r -= fleet.weights[i];
      if (r < 0) return fleet.variants[i];
    }
    return fleet.variants[fleet.variants.length - 1];
  }

  private variantSummaries(fleet: Fleet, weightScale = 1): ProductionVariantSummary[] {
    const byName = new Map(
      (fleet.config.request.ProductionVariants ?? []).map((v) => [v.VariantName, v] as const),
    );
    return fleet.variants.map((sv, i) => {
      const v = byName.get(sv.variantName) as ProductionVariant;
      const image = this.models.get(sv.modelName)?.request.PrimaryContainer?.Image;
      return {
        VariantName: sv.variantName,
        DeployedImages: image
          ? [{ SpecifiedImage: image, ResolvedImage: image, ResolutionTime: fleet.config.created }]
          : undefined,
        CurrentWeight: fleet.weights[i] * weightScale,
        DesiredWeight: fleet.weights[i],
        ...(v.ServerlessConfig
          ? { CurrentServerlessConfig: v.ServerlessConfig, DesiredServerlessConfig: v.ServerlessConfig }
          : { CurrentInstanceCount: v.InitialInstanceCount, DesiredInstanceCount: v.InitialInstanceCount }),
      };
    });
  }

  private describeEndpoint(name: string): DescribeEndpointOutput {
    const e = this.endpointState(name);
    const capture = e.live?.config.request.DataCaptureConfig;
    const pendingConfig = e.pending ? this.endpointConfigs.get(e.pending.configName) : undefined;
    return {
      EndpointName: e.name,
      EndpointArn: e.arn,
      EndpointConfigName: e.configName,
      ProductionVariants: e.live
        ? this.variantSummaries(e.live, e.canary ? 1 - e.canary.share : 1)
        : undefined,
      DataCaptureConfig: capture
        ? {
            EnableCapture: capture.EnableCapture ?? true,
            CaptureStatus: capture.EnableCapture === false ? 'Stopped' : 'Started',
            CurrentSamplingPercentage: capture.InitialSamplingPercentage,
            DestinationS3Uri: capture.DestinationS3Uri,
            KmsKeyId: capture.KmsKeyId,
          }
        : undefined,
      EndpointStatus: e.status,
      FailureReason: e.failureReason,
      CreationTime: e.created,
      LastModifiedTime: e.modified,
      LastDeploymentConfig: e.lastDeploymentConfig ? structuredClone(e.lastDeploymentConfig) : undefined,
      PendingDeploymentSummary:
        e.pending && pendingConfig
          ? {
              EndpointConfigName: e.pending.configName,
              StartTime: e.pending.started,
              ProductionVariants: (pendingConfig.request.ProductionVariants ?? []).map((v) => ({
                VariantName: v.VariantName,
                DesiredWeight: v.InitialVariantWeight ?? 1,
                CurrentWeight: e.canary ? (v.InitialVariantWeight ?? 1) * e.canary.share : 0,
                ...(v.ServerlessConfig
                  ? { DesiredServerlessConfig: v.ServerlessConfig }
                  : { DesiredInstanceCount: v.InitialInstanceCount, InstanceType: v.InstanceType }),
                VariantStatus: [{ Status: e.pending!.variantStatus, StartTime: e.pending!.started }],
              })),
            }
          : undefined,
    };
  }

  private listEndpoints(r: Json): { Endpoints: EndpointSummary[]; NextToken?: string } {
    const list = [...this.endpoints.values()].filter(
      (e) =>
        (r.NameContains === undefined ||
          e.name.toLowerCase().includes(String(r.NameContains).toLowerCase())) &&
        (r.StatusEquals === undefined || e.status === r.StatusEquals) &&
        inTimeRange(e.created, r.CreationTimeAfter, r.CreationTimeBefore) &&
        inTimeRange(e.modified, r.LastModifiedTimeAfter, r.LastModifiedTimeBefore),
    );
    const { page, nextToken } = sortAndPage(
      list,
      r,
      { Name: (e) => e.name, CreationTime: (e) => e.created.getTime(), Status: (e) => e.status },
      { sortBy: 'CreationTime', sortOrder: 'Descending' },
    );
    return {
      Endpoints: page.map((e) => ({
        EndpointName: e.name,
        EndpointArn: e.arn,
        CreationTime: e.created,
        LastModifiedTime: e.modified,
        EndpointStatus: e.status,
      })),
      NextToken: nextToken,
    };
  }

  // -------------------------------------------------------------------------------------------------------
  // model registry

  private groupName(nameOrArn: string): string {
    const m = /:model-package-group\/(.+)$/.exec(nameOrArn);
    if (!m) return nameOrArn;
    return [...this.groups.keys()].find((g) => g.toLowerCase() === m[1].toLowerCase()) ?? m[1];
  }

  private createModelPackageGroup(r: Json): { ModelPackageGroupArn: string } {
    const name = r.ModelPackageGroupName as string;
    const arn = this.arn('model-package-group', name);
    if (this.groups.has(name))
      throw new AwsApiError('ValidationException', `Model Package Group already exists: ${arn}`);
    this.groups.set(name, {
      name,
      arn,
      description: r.ModelPackageGroupDescription as string | undefined,
      created: this.clock.now(),
    });
    return { ModelPackageGroupArn: arn };
  }

  private group(nameOrArn: string): PackageGroup {
    const g = this.groups.get(this.groupName(nameOrArn));
    if (!g) throw new AwsApiError('ValidationException', `ModelPackageGroup ${nameOrArn} does not exist.`);
    return g;
  }

  private describeModelPackageGroup(nameOrArn: string): DescribeModelPackageGroupOutput {
    const g = this.group(nameOrArn);
    return {
      ModelPackageGroupName: g.name,
      ModelPackageGroupArn: g.arn,
      ModelPackageGroupDescription: g.description,
      CreationTime: g.created,
      CreatedBy: {},
      ModelPackageGroupStatus: 'Completed',
    };
  }

  private listModelPackageGroups(r: Json): {
    ModelPackageGroupSummaryList: ModelPackageGroupSummary[];
    NextToken?: string;
  } {
    const list = [...this.groups.values()].filter(
      (g) =>
        (r.NameContains === undefined ||
          g.name.toLowerCase().includes(String(r.NameContains).toLowerCase())) &&
        inTimeRange(g.created, r.CreationTimeAfter, r.CreationTimeBefore),
    );
    const { page, nextToken } = sortAndPage(
      list,
      r,
      { Name: (g) => g.name, CreationTime: (g) => g.created.getTime() },
      { sortBy: 'CreationTime', sortOrder: 'Ascending' },
    );
    return {
      ModelPackageGroupSummaryList: page.map((g) => ({
        ModelPackageGroupName: g.name,
        ModelPackageGroupArn: g.arn,
        ModelPackageGroupDescription: g.description,
        CreationTime: g.created,
        ModelPackageGroupStatus: 'Completed',
      })),
      NextToken: nextToken,
    };
  }

  private createModelPackage(r: CreateModelPackageInput): { ModelPackageArn: string } {
    const now = this.clock.now();
    let p: ModelPackage;
    if (r.ModelPackageGroupName) {
      const g = this.group(r.ModelPackageGroupName);
      const version = this.packages.filter((x) => x.group === g.name).length + 1;
      p = {
        arn: this.arn('model-package', `${g.name}/${version}`),
        name: g.name,
        group: g.name,
        version,
        request: structuredClone(r),
        created: now,
        modified: now,
        approval: r.ModelApprovalStatus ?? 'PendingManualApproval',
        metadata: r.CustomerMetadataProperties ? { ...r.CustomerMetadataProperties } : undefined,
      };
    } else {
      const name = r.ModelPackageName!;
      const arn = this.arn('model-package', name);
      if (this.packages.some((x) => x.arn === arn)) {
        throw new AwsApiError(
          'ValidationException',
          `Cannot create already existing model package "${arn}".`,
        );
      }
      p = {
        arn,
        name,
        request: structuredClone(r),
        created: now,
        modified: now,
        metadata: r.CustomerMetadataProperties,
      };
    }
    this.packages.push(p);
    if (p.approval) this.emit('ModelPackage', p.arn, p.approval, p.arn);
    return { ModelPackageArn: p.arn };
  }

  private packageOf(nameOrArn: string): ModelPackage {
    const lower = nameOrArn.toLowerCase();
    const p = this.packages.find((x) => x.arn === lower || (x.group === undefined && x.name === nameOrArn));
    if (!p) throw new AwsApiError('ValidationException', `ModelPackage ${nameOrArn} does not exist.`);
    return p;
  }

  private summary(p: ModelPackage): ModelPackageSummary {
    return {
      ModelPackageName: p.name,
      ModelPackageGroupName: p.group,
      ModelPackageVersion: p.version,
      ModelPackageArn: p.arn,
      ModelPackageDescription: p.request.ModelPackageDescription,
      CreationTime: p.created,
      ModelPackageStatus: 'Completed',
      ModelApprovalStatus: p.approval as ModelPackageSummary['ModelApprovalStatus'],
    };
  }

  private describeModelPackage(nameOrArn: string): DescribeModelPackageOutput {
    const p = this.packageOf(nameOrArn);
    return {
      ...this.summary(p),
      ModelPackageName: p.name,
      InferenceSpecification: structuredClone(p.request.InferenceSpecification),
      ModelPackageStatusDetails: { ValidationStatuses: [], ImageScanStatuses: [] },
      CertifyForMarketplace: p.request.CertifyForMarketplace ?? false,
      MetadataProperties: p.request.MetadataProperties,
      ModelMetrics: p.request.ModelMetrics,
      LastModifiedTime: p.modified,
      ApprovalDescription: p.approvalDescription,
      Domain: p.request.Domain,
      Task: p.request.Task,
      SamplePayloadUrl: p.request.SamplePayloadUrl,
      CustomerMetadataProperties: p.metadata ? { ...p.metadata } : undefined,
      DriftCheckBaselines: p.request.DriftCheckBaselines,
      SkipModelValidation: p.request.SkipModelValidation,
    };
  }

  private listModelPackages(r: Json): { ModelPackageSummaryList: ModelPackageSummary[]; NextToken?: string } {
    const group =
      r.ModelPackageGroupName === undefined ? undefined : this.groupName(r.ModelPackageGroupName as string);
    // Without a group, SageMaker lists unversioned packages unless ModelPackageType says otherwise.
    const type =
      (r.ModelPackageType as string | undefined) ?? (group === undefined ? 'Unversioned' : 'Versioned');
    const list = this.packages.filter(
      (p) =>
        (group === undefined || p.group === group) &&
        (type === 'Both' || (type === 'Versioned') === (p.group !== undefined)) &&
        (r.ModelApprovalStatus === undefined || p.approval === r.ModelApprovalStatus) &&
        (r.NameContains === undefined ||
          p.name.toLowerCase().includes(String(r.NameContains).toLowerCase())) &&
        inTimeRange(p.created, r.CreationTimeAfter, r.CreationTimeBefore),
    );
    const { page, nextToken } = sortAndPage(
      list,
      r,
      { Name: (p) => p.name, CreationTime: (p) => p.created.getTime() },
      { sortBy: 'CreationTime', sortOrder: 'Ascending' },
    );
    return { ModelPackageSummaryList: page.map((p) => this.summary(p)), NextToken: nextToken };
  }

  private updateModelPackage(r: UpdateModelPackageInput): { ModelPackageArn: string } {
    const p = this.packageOf(r.ModelPackageArn!);
    if (r.ModelApprovalStatus !== undefined) {
      if (p.group === undefined) {
        throw new AwsApiError(
          'ValidationException',
          'ModelApprovalStatus applies to versioned model packages only.',
        );
      }
      const changed = p.approval !== r.ModelApprovalStatus;
      p.approval = r.ModelApprovalStatus;
      if (changed) this.emit('ModelPackage', p.arn, p.approval, p.arn);
    }
    if (r.ApprovalDescription !== undefined) p.approvalDescription = r.ApprovalDescription;
    if (r.CustomerMetadataProperties || r.CustomerMetadataPropertiesToRemove) {
      const metadata = { ...(p.metadata ?? {}), ...(r.CustomerMetadataProperties ?? {}) };
      for (const k of r.CustomerMetadataPropertiesToRemove ?? []) delete metadata[k];
      p.metadata = metadata;
    }
    p.modified = this.clock.now();
    return { ModelPackageArn: p.arn };
  }
}
