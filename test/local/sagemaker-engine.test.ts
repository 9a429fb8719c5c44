import { gzipSync } from 'node:zlib';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { DescribeEndpointOutput } from '@aws-sdk/client-sagemaker';
import type { Clock } from '../../lib/local/clock';
import { AwsApiError } from '../../lib/local/errors';
import { prng } from '../../lib/local/sample-data';
import {
  LocalSageMaker,
  type PublishedMetric,
  type SageMakerEvent,
  type ServingVariant,
} from '../../lib/local/sagemaker';
import { modelTarGz, readModelTarGz, trainXgboost, type LocalModel } from '../../lib/local/xgboost';
import { startTestS3, type TestS3 } from '../helpers/local-s3';
import { churnCsv, churnSpec } from '../helpers/churn';

/**
 * The local SageMaker control plane against local S3: a training job as the pipeline's Train state sends it,
 * the endpoint lifecycle with real (short) deployment timers, blue/green canary updates and alarm rollbacks,
 * the model registry, and SageMaker's answers to bad requests and missing resources.
 */

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const BUCKET = 'test-artifacts';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/sagemaker-role`;
const KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const IMAGE = '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1';
const ALARMS = ['proj-endpoint-5xx', 'proj-endpoint-latency'];
const arn = (type: string, name: string) =>
  `arn:aws:sagemaker:${REGION}:${ACCOUNT}:${type}/${name.toLowerCase()}`;

const spec = churnSpec;

/** A clock that moves only when told: resource timestamps are exact. */
class ManualClock implements Clock {
  private t = Date.parse('2026-03-04T05:00:00Z');
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A training job request exactly as the pipeline's Train state builds it. */
function trainingRequest(
  name: string,
  overrides: Record<string, unknown> = {},
  prefix = `s3://${BUCKET}/training/${name}`,
): Record<string, unknown> {
  const channel = (channelName: string, uri: string) => ({
    ChannelName: channelName,
    ContentType: 'text/csv',
    CompressionType: 'None',
    DataSource: {
      S3DataSource: { S3DataType: 'S3Prefix', S3Uri: uri, S3DataDistributionType: 'FullyReplicated' },
    },
  });
  return {
    TrainingJobName: name,
    RoleArn: ROLE,
    AlgorithmSpecification: { TrainingImage: IMAGE, TrainingInputMode: 'File' },
    EnableNetworkIsolation: true,
    HyperParameters: {
      num_round: '30',
      max_depth: '4',
      eta: '0.2',
      subsample: '0.8',
      min_child_weight: '1',
      objective: 'binary:logistic',
      eval_metric: 'auc',
    },
    InputDataConfig: [channel('train', `${prefix}/train/`), channel('validation', `${prefix}/validation/`)],
    OutputDataConfig: { S3OutputPath: `s3://${BUCKET}/models/`, KmsKeyId: KEY },
    ResourceConfig: {
      InstanceCount: 1,
      InstanceType: 'ml.m5.large',
      VolumeSizeInGB: 10,
      VolumeKmsKeyId: KEY,
    },
    StoppingCondition: { MaxRuntimeInSeconds: 3600 },
    Tags: [{ Key: 'project', Value: 'proj' }],
    ...overrides,
  };
}

/** The pipeline's blue/green update. */
const CANARY = {
  BlueGreenUpdatePolicy: {
    TrafficRoutingConfiguration: {
      Type: 'CANARY',
      CanarySize: { Type: 'CAPACITY_PERCENT', Value: 10 },
      WaitIntervalInSeconds: 300,
    },
    TerminationWaitInSeconds: 120,
    MaximumExecutionTimeoutInSeconds: 1800,
  },
  AutoRollbackConfiguration: { Alarms: ALARMS.map((AlarmName) => ({ AlarmName })) },
};

let t: TestS3;
let sm: LocalSageMaker;
let clock: ManualClock;
let alarms: Map<string, string>;
let events: SageMakerEvent[];
let metrics: PublishedMetric[];
/** Two small models on 3 features: A answers low, B high (for telling which one served a request). */
let modelA: LocalModel;
let modelB: LocalModel;

async function put(key: string, body: string | Buffer): Promise<void> {
  await t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
}

function newSageMaker(
  options: { deployMilliseconds?: number; bakeMilliseconds?: number } = {},
): LocalSageMaker {
  const sagemaker = new LocalSageMaker({
    s3: t.s3,
    clock,
    region: REGION,
    accountId: ACCOUNT,
    deployMilliseconds: options.deployMilliseconds ?? 40,
    bakeMilliseconds: options.bakeMilliseconds ?? 80,
    alarmState: (name) => alarms.get(name) ?? 'OK',
    putMetric: (m) => metrics.push(m),
  });
  sagemaker.onEvent((e) => events.push(e));
  return sagemaker;
}

/** Calls an API and returns the AwsApiError it throws. */
async function apiError(api: string, request: unknown): Promise<AwsApiError> {
  try {
    await sm.call(api, request);
  } catch (e) {
    expect(e).toBeInstanceOf(AwsApiError);
    return e as AwsApiError;
  }
  throw new Error(`${api} did not fail`);
}

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function describeEndpoint(name: string): Promise<DescribeEndpointOutput> {
  return (await sm.call('DescribeEndpoint', { EndpointName: name })) as DescribeEndpointOutput;
}

/** A model, its endpoint config (with data capture, as the pipeline's), in local S3 and the control plane. */
async function modelAndConfig(name: string, model: LocalModel | Buffer): Promise<void> {
  const key = `models/${name}/output/model.tar.gz`;
  await put(key, Buffer.isBuffer(model) ? model : modelTarGz(model));
  await sm.call('CreateModel', {
    ModelName: name,
    ExecutionRoleArn: ROLE,
    PrimaryContainer: { Image: IMAGE, ModelDataUrl: `s3://${BUCKET}/${key}` },
    EnableNetworkIsolation: true,
  });
  await sm.call('CreateEndpointConfig', {
    EndpointConfigName: name,
    ProductionVariants: [
      {
        VariantName: 'AllTraffic',
        ModelName: name,
        InitialInstanceCount: 1,
        InstanceType: 'ml.m5.large',
        InitialVariantWeight: 1,
      },
    ],
    KmsKeyId: KEY,
    DataCaptureConfig: {
      EnableCapture: true,
      InitialSamplingPercentage: 100,
      DestinationS3Uri: `s3://${BUCKET}/capture`,
      KmsKeyId: KEY,
      CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
      CaptureContentTypeHeader: { CsvContentTypes: ['text/csv'] },
    },
  });
}

/** Which of the two models served: A scores the probe row low, B high. */
function served(v: ServingVariant): 'A' | 'B' {
  return v.model.predict([[0.9, 0.9, 0.9]])[0][0] > 0.5 ? 'B' : 'A';
}

beforeAll(async () => {
  t = await startTestS3([BUCKET]);
  const rnd = prng(3);
  const rows = Array.from({ length: 400 }, () => [rnd(), rnd(), rnd()]);
  const hp = { num_round: '5', objective: 'binary:logistic', max_depth: '2' };
  modelA = (await trainXgboost({ rows, labels: rows.map((r) => (r[0] > 0.5 ? 0 : 1)) }, undefined, hp)).model;
  modelB = (await trainXgboost({ rows, labels: rows.map((r) => (r[0] > 0.5 ? 1 : 0)) }, undefined, hp)).model;
});

afterAll(async () => {
  await t.stop();
});

beforeEach(() => {
  clock = new ManualClock();
  alarms = new Map();
  events = [];
  metrics = [];
  sm = newSageMaker();
});

afterEach(async () => {
  await sm.close();
});

describe('training jobs (the .sync integration)', () => {
  it('trains built-in XGBoost from the S3 prefixes; Completed with the model, metrics and transitions', async () => {
    const name = 'proj-20260304050000-a1b2c3';
    // S3Prefix: every object under the prefix is read (here the train channel comes in two parts).
    const train = churnCsv(6000, 1).split('\n');
    await put(`training/${name}/train/part-1.csv`, `${train.slice(0, 3000).join('\n')}\n`);
    await put(`training/${name}/train/part-2.csv`, train.slice(3000).join('\n'));
    await put(`training/${name}/validation/data.csv`, churnCsv(1500, 2));

    const described = await sm.runTrainingJob(trainingRequest(name));
    expect(described).toMatchObject({
      TrainingJobName: name,
      TrainingJobArn: arn('training-job', name),
      TrainingJobStatus: 'Completed',
      SecondaryStatus: 'Completed',
      ModelArtifacts: { S3ModelArtifacts: `s3://${BUCKET}/models/${name}/output/model.tar.gz` },
      HyperParameters: { num_round: '30', eval_metric: 'auc' },
      RoleArn: ROLE,
      EnableNetworkIsolation: true,
      CreationTime: new Date('2026-03-04T05:00:00Z'),
    });
    expect(described.FailureReason).toBeUndefined();
    expect(described.SecondaryStatusTransitions!.map((s) => s.Status)).toEqual([
      'Starting',
      'Downloading',
      'Training',
      'Uploading',
      'Completed',
    ]);
    expect(described.SecondaryStatusTransitions!.every((s) => s.EndTime instanceof Date)).toBe(true);
    const finals = described.FinalMetricDataList!;
    expect(finals.map((m) => m.MetricName)).toEqual(['train:auc', 'validation:auc']);
    expect(finals.every((m) => m.Timestamp instanceof Date)).toBe(true);
    expect(finals[1].Value).toBeGreaterThan(0.7);

    // The artifact is a real model.tar.gz in S3.
    const object = await t.s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: `models/${name}/output/model.tar.gz` }),
    );
    const model = readModelTarGz(Buffer.from(await object.Body!.transformToByteArray()));
    expect(model).toMatchObject({
      objective: 'binary:logistic',
      numFeatures: spec.features.length,
      numTrees: 30,
    });

    expect(await sm.call('DescribeTrainingJob', { TrainingJobName: name })).toEqual(described);
    expect(await sm.call('ListTrainingJobs', { StatusEquals: 'Completed' })).toEqual({
      TrainingJobSummaries: [
        expect.objectContaining({
          TrainingJobName: name,
          TrainingJobStatus: 'Completed',
          SecondaryStatus: 'Completed',
        }),
      ],
    });
    expect(events.map((e) => [e.type, e.status])).toEqual([
      ['TrainingJob', 'InProgress'],
      ['TrainingJob', 'Completed'],
    ]);
    expect(metrics.map((m) => [m.namespace, m.metricName, m.dimensions.Host])).toEqual([
      ['/aws/sagemaker/TrainingJobs', 'train:auc', `${name}/algo-1`],
      ['/aws/sagemaker/TrainingJobs', 'validation:auc', `${name}/algo-1`],
    ]);

    // Job names are unique.
    const again = await apiError('CreateTrainingJob', trainingRequest(name));
    expect(again.code).toBe('ResourceInUse');
    expect(again.message).toContain(
      `a training job with this name already exists (${arn('training-job', name)})`,
    );
  });

  it('is InProgress while it trains, then Completed (CreateTrainingJob + DescribeTrainingJob)', async () => {
    const name = 'async-job';
    await put(`training/${name}/train/data.csv.gz`, gzipSync(churnCsv(1000, 3)));
    const request = trainingRequest(name, {
      InputDataConfig: [
        {
          ChannelName: 'train',
          ContentType: 'text/csv;label_size=1',
          CompressionType: 'Gzip',
          DataSource: {
            S3DataSource: { S3DataType: 'S3Prefix', S3Uri: `s3://${BUCKET}/training/${name}/train` },
          },
        },
      ],
    });
    expect(await sm.call('CreateTrainingJob', request)).toEqual({
      TrainingJobArn: arn('training-job', name),
    });
    const running = (await sm.call('DescribeTrainingJob', { TrainingJobName: name })) as Record<
      string,
      unknown
    >;
    expect(running).toMatchObject({ TrainingJobStatus: 'InProgress' });
    expect(running.ModelArtifacts).toBeUndefined();
    await sm.settled();
    expect(await sm.call('DescribeTrainingJob', { TrainingJobName: name })).toMatchObject({
      TrainingJobStatus: 'Completed',
      FinalMetricDataList: [expect.objectContaining({ MetricName: 'train:auc' })],
    });
  });

  it.each([
    [
      'an unknown hyperparameter',
      { HyperParameters: { num_round: '5', objective: 'binary:logistic', learning_rate: '0.1' } },
      "ClientError: Unknown hyperparameter: learning_rate (SageMaker's XGBoost calls it eta)",
    ],
    [
      'no num_round',
      { HyperParameters: { objective: 'binary:logistic' } },
      'ClientError: Missing required hyperparameter: num_round',
    ],
    [
      'no data under the prefix',
      {
        InputDataConfig: [
          {
            ChannelName: 'train',
            ContentType: 'text/csv',
            DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: `s3://${BUCKET}/nothing/here/` } },
          },
        ],
      },
      `ClientError: Data download failed:No S3 objects found under S3 URL "s3://${BUCKET}/nothing/here/"`,
    ],
    [
      'a channel without ContentType (XGBoost would read libsvm)',
      {
        InputDataConfig: [
          {
            ChannelName: 'train',
            DataSource: {
              S3DataSource: { S3DataType: 'S3Prefix', S3Uri: `s3://${BUCKET}/training/bad/train/` },
            },
          },
        ],
      },
      'ClientError: Channel train has no ContentType',
    ],
  ])('fails the job (not the request) on %s', async (_what, overrides, reason) => {
    await put('training/bad/train/data.csv', churnCsv(50, 4));
    await put('training/bad/validation/data.csv', churnCsv(50, 5));
    const base = trainingRequest('bad');
    const described = await sm.runTrainingJob({ ...base, ...overrides });
    expect(described.TrainingJobStatus).toBe('Failed');
    expect(described.SecondaryStatus).toBe('Failed');
    expect(described.FailureReason).toContain(reason);
    expect(described.ModelArtifacts).toBeUndefined();
    expect(events.map((e) => e.status)).toEqual(['InProgress', 'Failed']);
  });

  it('fails on bad rows with the object and line: an empty train channel, a header row, labels out of range', async () => {
    const job = async (name: string, train: string) => {
      await put(`training/rows/${name}/train/data.csv`, train);
      await put(`training/rows/${name}/validation/data.csv`, churnCsv(50, 6));
      return sm.runTrainingJob(trainingRequest(name, {}, `s3://${BUCKET}/training/rows/${name}`));
    };
    expect((await job('empty', '\n')).FailureReason).toBe('ClientError: Channel train has no rows');
    expect((await job('header', 'churned,tenure\n1,2\n')).FailureReason).toBe(
      `ClientError: Channel train, s3://${BUCKET}/training/rows/header/train/data.csv: line 1, column 1: "churned" is not a number`,
    );
    expect((await job('labels', '3,1,2,3,4,5,6,7,8\n')).FailureReason).toBe(
      'ClientError: Channel train, row 1: label 3 must be in [0,1] for logistic regression',
    );
  });

  it('rejects a malformed request as CreateTrainingJob does: ValidationException, no job', async () => {
    const noRole = trainingRequest('x', { ResourceConfig: { InstanceType: 'ml.m5.large' } });
    delete noRole.RoleArn;
    const e = await apiError('CreateTrainingJob', noRole);
    expect(e.code).toBe('ValidationException');
    expect(e.message).toMatch(/^3 validation errors detected: /);
    expect(e.message).toContain('RoleArn: required');
    expect(e.message).toContain('ResourceConfig.InstanceCount: required');
    await expect(sm.runTrainingJob({ TrainingJobName: 'y' })).rejects.toThrow(/validation errors detected/);
    const missing = await apiError('DescribeTrainingJob', { TrainingJobName: 'x' });
    expect([missing.code, missing.message]).toEqual(['ValidationException', 'Requested resource not found.']);
  });
});

describe('endpoints', () => {
  it('CreateEndpoint: Creating (nothing serves yet), then InService serving the model with its capture config', async () => {
    await modelAndConfig('cfg-a', modelA);
    expect(await sm.call('CreateEndpoint', { EndpointName: 'ep', EndpointConfigName: 'cfg-a' })).toEqual({
      EndpointArn: arn('endpoint', 'ep'),
    });
    const creating = await describeEndpoint('ep');
    expect(creating).toMatchObject({
      EndpointName: 'ep',
      EndpointConfigName: 'cfg-a',
      EndpointStatus: 'Creating',
      PendingDeploymentSummary: {
        EndpointConfigName: 'cfg-a',
        ProductionVariants: [expect.objectContaining({ VariantName: 'AllTraffic', DesiredInstanceCount: 1 })],
      },
    });
    expect(creating.ProductionVariants).toBeUndefined();
    const serving = sm.endpoint('ep')!;
    expect(serving.status).toBe('Creating');
    expect(() => serving.pick()).toThrow(`Endpoint ep of account ${ACCOUNT} not found.`);

    await sm.settled();
    const inService = await describeEndpoint('ep');
    expect(inService).toMatchObject({
      EndpointStatus: 'InService',
      EndpointConfigName: 'cfg-a',
      ProductionVariants: [
        expect.objectContaining({ VariantName: 'AllTraffic', CurrentWeight: 1, CurrentInstanceCount: 1 }),
      ],
      DataCaptureConfig: {
        EnableCapture: true,
        CaptureStatus: 'Started',
        CurrentSamplingPercentage: 100,
        DestinationS3Uri: `s3://${BUCKET}/capture`,
        KmsKeyId: KEY,
      },
    });
    expect(inService.PendingDeploymentSummary).toBeUndefined();
    expect(inService.FailureReason).toBeUndefined();
    expect(serving.status).toBe('InService');
    const v = serving.pick();
    expect(v).toMatchObject({
      variantName: 'AllTraffic',
      modelName: 'cfg-a',
      capture: {
        destinationS3Uri: `s3://${BUCKET}/capture`,
        samplingPercentage: 100,
        input: true,
        output: true,
        csvContentTypes: ['text/csv'],
        kmsKeyId: KEY,
      },
    });
    expect(served(v)).toBe('A');
    expect(serving.variant('AllTraffic')).toBe(v);
    expect(serving.variant('Other')).toBeUndefined();
    expect(events.filter((e) => e.type === 'EndpointStatus').map((e) => e.status)).toEqual([
      'Creating',
      'InService',
    ]);
    expect(await sm.call('ListEndpoints', {})).toEqual({
      Endpoints: [
        expect.objectContaining({
          EndpointName: 'ep',
          EndpointArn: arn('endpoint', 'ep'),
          EndpointStatus: 'InService',
        }),
      ],
    });
  });

  it('canary update: the new model gets its share during the bake, every request served, then all traffic', async () => {
    sm = newSageMaker({ bakeMilliseconds: 400 });
    await modelAndConfig('cfg-a', modelA);
    await modelAndConfig('cfg-b', modelB);
    await sm.call('CreateEndpoint', { EndpointName: 'ep', EndpointConfigName: 'cfg-a' });
    await sm.settled();
    const serving = sm.endpoint('ep')!;

    await sm.call('UpdateEndpoint', {
      EndpointName: 'ep',
      EndpointConfigName: 'cfg-b',
      DeploymentConfig: CANARY,
    });
    // The old fleet serves while the new one loads; Describe already names the new config.
    expect(await describeEndpoint('ep')).toMatchObject({
      EndpointStatus: 'Updating',
      EndpointConfigName: 'cfg-b',
    });
    expect(served(serving.pick())).toBe('A');
    await until('the canary bake', async () => {
      const d = await describeEndpoint('ep');
      return d.PendingDeploymentSummary?.ProductionVariants?.[0].VariantStatus?.[0].Status === 'Baking';
    });
    const counts = { A: 0, B: 0 };
    for (let i = 0; i < 2000; i++) counts[served(serving.pick())]++;
    expect(counts.B / 2000).toBeGreaterThan(0.05);
    expect(counts.B / 2000).toBeLessThan(0.16);
    expect(serving.status).toBe('Updating');

    await sm.settled();
    const done = await describeEndpoint('ep');
    expect(done).toMatchObject({
      EndpointStatus: 'InService',
      EndpointConfigName: 'cfg-b',
      LastDeploymentConfig: CANARY,
    });
    expect(done.FailureReason).toBeUndefined();
    expect(done.PendingDeploymentSummary).toBeUndefined();
    for (let i = 0; i < 50; i++) expect(served(serving.pick())).toBe('B');
    expect(events.filter((e) => e.type === 'EndpointStatus').map((e) => e.status)).toEqual([
      'Creating',
      'InService',
      'Updating',
      'InService',
    ]);
  });

  it('a rollback alarm in ALARM during the bake: RollingBack, then InService on the OLD config, saying why', async () => {
    sm = newSageMaker({ deployMilliseconds: 100 });
    await modelAndConfig('cfg-a', modelA);
    await modelAndConfig('cfg-b', modelB);
    await sm.call('CreateEndpoint', { EndpointName: 'ep', EndpointConfigName: 'cfg-a' });
    await sm.settled();
    const serving = sm.endpoint('ep')!;
    alarms.set(ALARMS[1], 'ALARM');
    await sm.call('UpdateEndpoint', {
      EndpointName: 'ep',
      EndpointConfigName: 'cfg-b',
      DeploymentConfig: CANARY,
    });
    await until('the rollback', () => serving.status === 'RollingBack');
    expect(await describeEndpoint('ep')).toMatchObject({
      EndpointStatus: 'RollingBack',
      EndpointConfigName: 'cfg-b',
    });
    // Traffic is back on the old fleet at once.
    for (let i = 0; i < 50; i++) expect(served(serving.pick())).toBe('A');
    await sm.settled();
    const back = await describeEndpoint('ep');
    expect(back).toMatchObject({
      EndpointStatus: 'InService',
      EndpointConfigName: 'cfg-a',
      LastDeploymentConfig: CANARY,
    });
    expect(back.FailureReason).toContain('rolled back');
    expect(back.FailureReason).toContain(ALARMS[1]);
    expect(events.filter((e) => e.type === 'EndpointStatus').map((e) => e.status)).toEqual([
      'Creating',
      'InService',
      'Updating',
      'RollingBack',
      'InService',
    ]);
    // The next update (alarm back to OK) goes through.
    alarms.set(ALARMS[1], 'OK');
    await sm.call('UpdateEndpoint', {
      EndpointName: 'ep',
      EndpointConfigName: 'cfg-b',
      DeploymentConfig: CANARY,
    });
    await sm.settled();
    expect(await describeEndpoint('ep')).toMatchObject({
      EndpointStatus: 'InService',
      EndpointConfigName: 'cfg-b',
    });
  });

  it('an update without DeploymentConfig switches at once when the new model is loaded', async () => {
    await modelAndConfig('cfg-a', modelA);
    await modelAndConfig('cfg-b', modelB);
    await sm.call('CreateEndpoint', { EndpointName: 'ep', EndpointConfigName: 'cfg-a' });
    await sm.settled();
    alarms.set(ALARMS[0], 'ALARM');
    await sm.call('UpdateEndpoint', { EndpointName: 'ep', EndpointConfigName: 'cfg-b' });
    await sm.settled();
    const d = await describeEndpoint('ep');
    expect(d).toMatchObject({ EndpointStatus: 'InService', EndpointConfigName: 'cfg-b' });
    expect(d.LastDeploymentConfig).toBeUndefined();
    expect(served(sm.endpoint('ep')!.pick())).toBe('B');
  });

  it('a model that does not load: CreateEndpoint ends Failed; an update stays InService on the old config', async () => {
    await modelAndConfig('cfg-a', modelA);
    await modelAndConfig('cfg-junk', Buffer.from('not a model'));
    await sm.call('CreateEndpoint', { EndpointName: 'bad', EndpointConfigName: 'cfg-junk' });
    await sm.settled();
    const failed = await describeEndpoint('bad');
    expect(failed.EndpointStatus).toBe('Failed');
    expect(failed.FailureReason).toMatch(
      /^The primary container for production variant AllTraffic did not pass the ping health check\. .*not gzip data/,
    );
    expect(() => sm.endpoint('bad')!.pick()).toThrow('not found');
    const e = await apiError('UpdateEndpoint', { EndpointName: 'bad', EndpointConfigName: 'cfg-a' });
    expect(e.message).toBe(`Cannot update endpoint "${arn('endpoint', 'bad')}" in status Failed.`);
    await sm.call('DeleteEndpoint', { EndpointName: 'bad' });

    // The model data disappears after CreateModel: the download fails.
    await modelAndConfig('cfg-gone', modelB);
    await t.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'models/cfg-gone/output/model.tar.gz' }));
    await sm.call('CreateEndpoint', { EndpointName: 'ep', EndpointConfigName: 'cfg-a' });
    await sm.settled();
    await sm.call('UpdateEndpoint', {
      EndpointName: 'ep',
      EndpointConfigName: 'cfg-gone',
      DeploymentConfig: CANARY,
    });
    expect(served(sm.endpoint('ep')!.pick())).toBe('A');
    await sm.settled();
    const kept = await describeEndpoint('ep');
    expect(kept).toMatchObject({ EndpointStatus: 'InService', EndpointConfigName: 'cfg-a' });
    expect(kept.FailureReason).toBe(
      `Failed to download model data for container "container_1" from URL: "s3://${BUCKET}/models/cfg-gone/output/model.tar.gz". Please ensure that there is an object located at the URL and that the role passed to CreateModel has permissions to download the object.`,
    );
    expect(served(sm.endpoint('ep')!.pick())).toBe('A');
  });

  it('refuses to update or delete an endpoint in progress; deleted endpoints are gone', async () => {
    await modelAndConfig('cfg-a', modelA);
    await sm.call('CreateEndpoint', { EndpointName: 'ep', EndpointConfigName: 'cfg-a' });
    const busy = `Cannot update in-progress endpoint "${arn('endpoint', 'ep')}".`;
    expect(
      (await apiError('UpdateEndpoint', { EndpointName: 'ep', EndpointConfigName: 'cfg-a' })).message,
    ).toBe(busy);
    expect((await apiError('DeleteEndpoint', { EndpointName: 'ep' })).message).toBe(busy);
    await sm.settled();
    expect(await sm.call('DeleteEndpoint', { EndpointName: 'ep' })).toEqual({});
    expect(sm.endpoint('ep')).toBeUndefined();
    expect((await apiError('DescribeEndpoint', { EndpointName: 'ep' })).message).toBe(
      `Could not find endpoint "${arn('endpoint', 'ep')}".`,
    );
  });

  it('close() ends deployments in flight', async () => {
    sm = newSageMaker({ deployMilliseconds: 60_000 });
    await modelAndConfig('cfg-b', modelA);
    await sm.call('CreateEndpoint', { EndpointName: 'slow', EndpointConfigName: 'cfg-b' });
    const started = Date.now();
    await sm.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(sm.endpoint('slow')!.status).toBe('Creating');
  });
});

describe('SageMaker answers to bad requests and missing resources', () => {
  it('missing endpoints, configs, models and model data are ValidationExceptions naming the ARN', async () => {
    const cases: [string, unknown, string][] = [
      ['DescribeEndpoint', { EndpointName: 'nope' }, `Could not find endpoint "${arn('endpoint', 'nope')}".`],
      [
        'UpdateEndpoint',
        { EndpointName: 'nope', EndpointConfigName: 'c' },
        `Could not find endpoint "${arn('endpoint', 'nope')}".`,
      ],
      [
        'DescribeEndpointConfig',
        { EndpointConfigName: 'Nope' },
        `Could not find endpoint configuration "${arn('endpoint-config', 'nope')}".`,
      ],
      [
        'CreateEndpoint',
        { EndpointName: 'ep', EndpointConfigName: 'nope' },
        `Could not find endpoint configuration "${arn('endpoint-config', 'nope')}".`,
      ],
      ['DescribeModel', { ModelName: 'nope' }, `Could not find model "${arn('model', 'nope')}".`],
      ['DeleteModel', { ModelName: 'nope' }, `Could not find model "${arn('model', 'nope')}".`],
      [
        'CreateEndpointConfig',
        {
          EndpointConfigName: 'c',
          ProductionVariants: [
            { VariantName: 'v', ModelName: 'nope', InitialInstanceCount: 1, InstanceType: 'ml.m5.large' },
          ],
        },
        `Could not find model "${arn('model', 'nope')}".`,
      ],
      [
        'CreateModel',
        {
          ModelName: 'm',
          ExecutionRoleArn: ROLE,
          PrimaryContainer: { Image: IMAGE, ModelDataUrl: `s3://${BUCKET}/none.tar.gz` },
        },
        `Could not find model data at s3://${BUCKET}/none.tar.gz.`,
      ],
      [
        'DescribeModelPackage',
        { ModelPackageName: `${arn('model-package', 'grp')}/7` },
        `ModelPackage ${arn('model-package', 'grp')}/7 does not exist.`,
      ],
      [
        'CreateModelPackage',
        { ModelPackageGroupName: 'nogroup', InferenceSpecification: { Containers: [{ Image: IMAGE }] } },
        'ModelPackageGroup nogroup does not exist.',
      ],
    ];
    for (const [api, request, message] of cases) {
      const e = await apiError(api, request);
      expect({ api, code: e.code, status: e.statusCode, message: e.message }).toEqual({
        api,
        code: 'ValidationException',
        status: 400,
        message,
      });
    }
  });

  it('duplicates, malformed requests and unknown operations', async () => {
    await modelAndConfig('cfg-a', modelA);
    expect(
      (
        await apiError('CreateModel', {
          ModelName: 'cfg-a',
          ExecutionRoleArn: ROLE,
          PrimaryContainer: { Image: IMAGE },
        })
      ).message,
    ).toBe(`Cannot create already existing model "${arn('model', 'cfg-a')}".`);
    expect(
      (
        await apiError('CreateEndpointConfig', {
          EndpointConfigName: 'cfg-a',
          ProductionVariants: [
            { VariantName: 'v', ModelName: 'cfg-a', InitialInstanceCount: 1, InstanceType: 'ml.m5.large' },
          ],
        })
      ).message,
    ).toBe(`Cannot create already existing endpoint configuration "${arn('endpoint-config', 'cfg-a')}".`);
    await sm.call('CreateEndpoint', { EndpointName: 'ep', EndpointConfigName: 'cfg-a' });
    expect(
      (await apiError('CreateEndpoint', { EndpointName: 'ep', EndpointConfigName: 'cfg-a' })).message,
    ).toBe(`Cannot create already existing endpoint "${arn('endpoint', 'ep')}".`);

    const bad = await apiError('DescribeEndpoint', { EndpointName: '-bad-', Extra: 1 });
    expect(bad.code).toBe('ValidationException');
    expect(bad.message).toMatch(/^2 validation errors detected: EndpointName: "-bad-" is not a valid name/);
    expect(bad.message).toContain('Extra: not a field of this request');
    const one = await apiError('DescribeModel', {});
    expect(one.message).toBe('1 validation error detected: ModelName: required');
    const unknown = await apiError('InvokeEndpoint', {});
    expect([unknown.code, unknown.statusCode]).toEqual(['UnknownOperationException', 400]);
    // Every operation the platform registers is served.
    for (const api of LocalSageMaker.APIS)
      expect((await apiError(api, 'x')).code).toBe('ValidationException');
  });
});

describe('model registry', () => {
  const register = async (status?: string, metric = '0.9') =>
    (
      (await sm.call('CreateModelPackage', {
        ModelPackageGroupName: 'proj-models',
        ModelPackageDescription: 'Training job j of execution e on dataset churn',
        InferenceSpecification: {
          Containers: [{ Image: IMAGE, ModelDataUrl: `s3://${BUCKET}/models/j/output/model.tar.gz` }],
          SupportedContentTypes: ['text/csv'],
          SupportedResponseMIMETypes: ['text/csv'],
        },
        ...(status ? { ModelApprovalStatus: status } : {}),
        CustomerMetadataProperties: { metricName: 'validation:auc', metric },
      })) as { ModelPackageArn: string }
    ).ModelPackageArn;

  it('groups from the templates exist from the start (modelPackageGroups); others must be created', async () => {
    sm = new LocalSageMaker({
      s3: t.s3,
      clock,
      region: REGION,
      accountId: ACCOUNT,
      modelPackageGroups: ['proj-models'],
    });
    expect(await register()).toBe(arn('model-package', 'proj-models/1'));
    expect(await sm.call('ListModelPackageGroups', {})).toEqual({
      ModelPackageGroupSummaryList: [
        expect.objectContaining({
          ModelPackageGroupName: 'proj-models',
          ModelPackageGroupStatus: 'Completed',
        }),
      ],
    });
  });

  it('versions packages per group; the champion query; approval updates; metadata', async () => {
    expect(await sm.call('CreateModelPackageGroup', { ModelPackageGroupName: 'proj-models' })).toEqual({
      ModelPackageGroupArn: arn('model-package-group', 'proj-models'),
    });
    expect(
      (await apiError('CreateModelPackageGroup', { ModelPackageGroupName: 'proj-models' })).message,
    ).toContain('already exists');
    const first = await register('Approved', '0.91');
    clock.advance(1000);
    const second = await register('Approved', '0.93');
    clock.advance(1000);
    const third = await register(undefined, '0.95');
    expect([first, second, third]).toEqual([1, 2, 3].map((v) => arn('model-package', `proj-models/${v}`)));

    // GetChampion: the latest Approved package of the group.
    const champion = (await sm.call('ListModelPackages', {
      ModelPackageGroupName: 'proj-models',
      ModelApprovalStatus: 'Approved',
      SortBy: 'CreationTime',
      SortOrder: 'Descending',
      MaxResults: 1,
    })) as { ModelPackageSummaryList: Record<string, unknown>[]; NextToken?: string };
    expect(champion.ModelPackageSummaryList).toEqual([
      expect.objectContaining({
        ModelPackageArn: second,
        ModelPackageGroupName: 'proj-models',
        ModelPackageVersion: 2,
        ModelApprovalStatus: 'Approved',
        ModelPackageStatus: 'Completed',
      }),
    ]);
    expect(champion.NextToken).toEqual(expect.any(String));
    const next = (await sm.call('ListModelPackages', {
      ModelPackageGroupName: arn('model-package-group', 'proj-models'),
      ModelApprovalStatus: 'Approved',
      SortOrder: 'Descending',
      MaxResults: 1,
      NextToken: champion.NextToken,
    })) as { ModelPackageSummaryList: { ModelPackageArn: string }[]; NextToken?: string };
    expect(next.ModelPackageSummaryList.map((p) => p.ModelPackageArn)).toEqual([first]);
    expect(next.NextToken).toBeUndefined();

    expect(await sm.call('DescribeModelPackage', { ModelPackageName: third })).toMatchObject({
      ModelPackageName: 'proj-models',
      ModelPackageGroupName: 'proj-models',
      ModelPackageVersion: 3,
      ModelPackageArn: third,
      ModelApprovalStatus: 'PendingManualApproval',
      ModelPackageStatus: 'Completed',
      CustomerMetadataProperties: { metricName: 'validation:auc', metric: '0.95' },
      InferenceSpecification: { SupportedContentTypes: ['text/csv'] },
      CreationTime: new Date('2026-03-04T05:00:02Z'),
    });

    await sm.call('UpdateModelPackage', {
      ModelPackageArn: third,
      ModelApprovalStatus: 'Rejected',
      ApprovalDescription: 'Deployment to ep ended InService with endpoint config old',
      CustomerMetadataProperties: { reviewed: 'yes' },
      CustomerMetadataPropertiesToRemove: ['metric'],
    });
    expect(await sm.call('DescribeModelPackage', { ModelPackageName: third })).toMatchObject({
      ModelApprovalStatus: 'Rejected',
      ApprovalDescription: 'Deployment to ep ended InService with endpoint config old',
      CustomerMetadataProperties: { metricName: 'validation:auc', reviewed: 'yes' },
    });
    const all = (await sm.call('ListModelPackages', { ModelPackageGroupName: 'proj-models' })) as {
      ModelPackageSummaryList: { ModelApprovalStatus: string }[];
    };
    expect(all.ModelPackageSummaryList.map((p) => p.ModelApprovalStatus)).toEqual([
      'Approved',
      'Approved',
      'Rejected',
    ]);
    // Without a group, only unversioned packages are listed (SageMaker's default ModelPackageType).
    expect(await sm.call('ListModelPackages', {})).toEqual({ ModelPackageSummaryList: [] });
    expect(events.filter((e) => e.type === 'ModelPackage').map((e) => e.status)).toEqual([
      'Approved',
      'Approved',
      'PendingManualApproval',
      'Rejected',
    ]);
    expect(
      await sm.call('DescribeModelPackageGroup', { ModelPackageGroupName: 'proj-models' }),
    ).toMatchObject({
      ModelPackageGroupStatus: 'Completed',
      ModelPackageGroupArn: arn('model-package-group', 'proj-models'),
    });
  });
});
