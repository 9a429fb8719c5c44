import { createHash } from 'node:crypto';
import { Stack, type CfnElement } from 'aws-cdk-lib';
import {
  allStates,
  taskStates,
  trainingStateMachine,
  validateAsl,
  type AslDefinition,
  type AslState,
  type TemplateStateMachine,
} from '../../lib/local/asl';
import {
  checkRequest,
  assertValidRequest,
  sageMakerApiOf,
  type SageMakerApi,
} from '../../lib/local/sagemaker-api';
import {
  runExecution,
  taskOverrides,
  TaskFailure,
  type ExecutionRecord,
  type LocalServices,
  type RecordedCall,
  type TaskCall,
} from '../../lib/local/step-functions';
import { synthesizeApp, type SynthesizeOptions } from '../../lib/local/synthesize';
import { LocalTemplates } from '../../lib/local/template';
import type { DevMlopsStacks } from '../../lib/app';
import { defaultConfigInput } from '../infra/helpers';
import { TrainingPipeline } from '../../lib/constructs/training-pipeline';
import { handler as evaluateHandler } from '../../lambdas/handlers/evaluate';

/**
 * The training state machine exactly as synthesized (issue 3 "Tests that must exist"): its definition is taken
 * from the template with tokens resolved to local names, validated with asl-validator and run with
 * aws-local-stepfunctions. SageMaker, S3, SNS and Step Functions calls go to an in-memory fake that checks every
 * request against the SageMaker API's required fields and keeps state the way SageMaker does (endpoint status,
 * package approval), so each scenario is driven by the state of the world, not by scripting state names.
 */

interface LocalApp {
  readonly local: LocalTemplates;
  readonly machine: TemplateStateMachine;
  readonly config: DevMlopsStacks['config'];
  /** Local function names of the pipeline's Lambdas. */
  readonly functions: { prepare: string; evaluate: string; promote: string };
  /** The artifacts bucket's local name. */
  readonly artifacts: string;
}

/** The app synthesized in-process, its training state machine, and the local names the fakes need. */
function localApp(options: SynthesizeOptions = {}): LocalApp {
  const built = synthesizeApp(options);
  const local = new LocalTemplates(built.templates);
  // The Lambdas are found through the construct tree, not by the state that calls them.
  const pipeline = built.stacks.pipeline.node
    .findAll()
    .find((c): c is TrainingPipeline => c instanceof TrainingPipeline);
  if (!pipeline) throw new Error('no TrainingPipeline in the pipeline stack');
  const nameOf = (fn: { node: { defaultChild?: unknown } }) => {
    const el = fn.node.defaultChild as CfnElement;
    const stack = Stack.of(el);
    return local.resource(stack.stackName, stack.getLogicalId(el)).ref;
  };
  const bucket = local.resourcesOfType('AWS::S3::Bucket').find((b) => b.logicalId.startsWith('Artifacts'));
  if (!bucket) throw new Error('no artifacts bucket');
  return {
    local,
    machine: trainingStateMachine(local),
    config: built.stacks.config,
    functions: {
      prepare: nameOf(pipeline.prepare.function),
      evaluate: nameOf(pipeline.evaluate.function),
      promote: nameOf(pipeline.promote.function),
    },
    artifacts: local.resource(bucket.stackName, bucket.logicalId).ref,
  };
}

const APP = localApp();
const { machine, config } = APP;
const definition = machine.definition;
const FUNCTIONS = APP.functions;
const ARTIFACTS = APP.artifacts;
const project = config.project;
/** What RecordSkipped puts, once, on a guard skip. */
const SKIPPED_METRIC = [
  {
    namespace: 'DevMLOps',
    name: 'PipelineSkipped',
    dimensions: [{ Name: 'Project', Value: project }],
    value: 1,
    unit: 'Count',
  },
];
const ENDPOINT = `${project}-endpoint`;
const ALARMS = [`${project}-endpoint-5xx`, `${project}-endpoint-latency`];
const GROUP = `${project}-models`;
const { accountId, region } = APP.local.pseudo;

type Json = Record<string, unknown>;

interface Endpoint {
  config: string;
  status: string;
  /** A deployment in progress: what the endpoint becomes after `polls` more DescribeEndpoint calls. */
  pending?: { config: string; polls: number; outcome: Outcome };
}

/** How the next endpoint create or update ends. */
type Outcome = 'InService' | 'RolledBack' | 'Failed' | 'Stuck';

interface Package {
  arn: string;
  group: string;
  version: number;
  status: string;
  created: number;
  metadata: Record<string, string>;
  request: Json;
}

/** What the fake world answers, and what a scenario can change. */
interface World {
  running: number;
  pointer?: Json;
  endpoints: Map<string, Endpoint>;
  models: Map<string, Json>;
  endpointConfigs: Map<string, Json>;
  packages: Package[];
  trainingJobs: Map<string, Json>;
  notifications: Array<{ subject: string; message: string; status?: string }>;
  /** Every metric datum put through cloudwatch:putMetricData, with its namespace. */
  metrics: Array<{ namespace: string; name: string; dimensions: Json[]; value: number; unit?: string }>;
  /** Knobs. */
  trainingFailure?: string;
  metricValue: number;
  prepareError?: { name: string; message: string };
  pollsUntilDone: number;
  nextOutcome: Outcome;
  /** Manual approval: a reviewer decides after this many DescribeModelPackage calls on a pending package. */
  review?: { after: number; decision: 'Approved' | 'Rejected' | 'never' };
}

function newWorld(): World {
  return {
    running: 1,
    endpoints: new Map(),
    models: new Map(),
    endpointConfigs: new Map(),
    packages: [],
    trainingJobs: new Map(),
    notifications: [],
    metrics: [],
    metricValue: 0.91,
    pollsUntilDone: 2,
    nextOutcome: 'InService',
  };
}

const sagemakerArn = (type: string, name: string) =>
  `arn:aws:sagemaker:${region}:${accountId}:${type}/${name.toLowerCase()}`;

/** SageMaker's answer to a missing resource in a Describe/Create call (a ValidationException). */
function validationError(message: string, integration: 'aws-sdk' | 'optimized' = 'aws-sdk'): TaskFailure {
  return new TaskFailure(
    integration === 'aws-sdk' ? 'SageMaker.SageMakerException' : 'SageMaker.AmazonSageMakerException',
    `${message} (Service: SageMaker, Status Code: 400, Error Code: ValidationException)`,
  );
}

function services(world: World, app: LocalApp = APP): LocalServices {
  const sm =
    (api: SageMakerApi, fn: (r: Json, call: TaskCall) => unknown) => (request: unknown, call: TaskCall) => {
      assertValidRequest(
        api,
        request,
        call.task.resource.integration === 'aws-sdk' ? 'aws-sdk' : 'optimized',
      );
      return fn(request as Json, call);
    };
  const describe = (r: Json) => {
    const name = r.EndpointName as string;
    const e = world.endpoints.get(name);
    if (!e) throw validationError(`Could not find endpoint "${sagemakerArn('endpoint', name)}".`);
    if (e.pending) {
      e.pending.polls -= 1;
      if (e.pending.polls <= 0) {
        const { config, outcome } = e.pending;
        if (outcome === 'InService') {
          e.config = config;
          e.status = 'InService';
          e.pending = undefined;
        } else if (outcome === 'Failed') {
          e.status = 'Failed';
          e.pending = undefined;
        } else if (outcome === 'RolledBack') {
          // SageMaker rolls back through RollingBack to the previous config, InService.
          if (e.status === 'RollingBack') {
            e.status = 'InService';
            e.pending = undefined;
          } else {
            e.status = 'RollingBack';
            e.pending.polls = 1;
          }
        }
      }
    }
    return {
      EndpointName: name,
      EndpointArn: sagemakerArn('endpoint', name),
      EndpointConfigName: e.config,
      EndpointStatus: e.status,
      CreationTime: new Date().toISOString(),
      LastModifiedTime: new Date().toISOString(),
    };
  };
  const packageOf = (nameOrArn: string) => {
    const p = world.packages.find((x) => x.arn === nameOrArn);
    if (!p) throw validationError(`ModelPackage ${nameOrArn} does not exist.`);
    return p;
  };
  return {
    services: {
      'sfn:listExecutions': (r) => {
        const { StateMachineArn, StatusFilter } = r as Json;
        expect(StateMachineArn).toBe(app.machine.arn);
        expect(StatusFilter).toBe('RUNNING');
        return {
          Executions: Array.from({ length: world.running }, (_, i) => ({
            ExecutionArn: `${app.machine.arn.replace(':stateMachine:', ':execution:')}:run-${i}`,
            Name: `run-${i}`,
            Status: 'RUNNING',
          })),
        };
      },
      's3:getObject': (r) => {
        const { Bucket, Key } = r as Json;
        expect(Bucket).toBe(app.artifacts);
        if (Key !== 'baselines/current.json' || !world.pointer) {
          throw new TaskFailure(
            'S3.NoSuchKeyException',
            'The specified key does not exist. (Service: S3, Status Code: 404)',
          );
        }
        return { Body: JSON.stringify(world.pointer), ContentType: 'application/json' };
      },
      'sns:publish': (r) => {
        const { Message, Subject, MessageAttributes } = r as Json;
        const status = (MessageAttributes as Record<string, { StringValue?: string }> | undefined)?.status
          ?.StringValue;
        world.notifications.push({ subject: String(Subject), message: String(Message), status });
        return { MessageId: `m-${world.notifications.length}` };
      },
      'cloudwatch:putMetricData': (r) => {
        const { Namespace, MetricData } = r as { Namespace: string; MetricData: Json[] };
        expect(MetricData.length).toBeGreaterThan(0);
        for (const d of MetricData)
          world.metrics.push({
            namespace: Namespace,
            name: String(d.MetricName),
            dimensions: (d.Dimensions as Json[] | undefined) ?? [],
            value: d.Value as number,
            unit: d.Unit as string | undefined,
          });
        return {};
      },
      'sagemaker:createTrainingJob': sm('CreateTrainingJob', (r, call) => {
        expect(call.task.resource.pattern).toBe('sync');
        const name = r.TrainingJobName as string;
        const described = {
          TrainingJobName: name,
          TrainingJobArn: sagemakerArn('training-job', name),
          AlgorithmSpecification: r.AlgorithmSpecification,
          HyperParameters: r.HyperParameters,
          RoleArn: r.RoleArn,
          CreationTime: new Date().toISOString(),
        };
        if (world.trainingFailure) {
          const failed = { ...described, TrainingJobStatus: 'Failed', FailureReason: world.trainingFailure };
          world.trainingJobs.set(name, failed);
          // The .sync integration fails the task with the DescribeTrainingJob response as the cause.
          throw new TaskFailure('States.TaskFailed', JSON.stringify(failed));
        }
        const evalMetric = (r.HyperParameters as Record<string, string>).eval_metric;
        const output = r.OutputDataConfig as Json;
        const completed = {
          ...described,
          TrainingJobStatus: 'Completed',
          SecondaryStatus: 'Completed',
          ModelArtifacts: {
            S3ModelArtifacts: `${String(output.S3OutputPath).replace(/\/$/, '')}/${name}/output/model.tar.gz`,
          },
          // XGBoost reports each eval_metric per channel; train first, so a test of "by name" can fail on [0].
          FinalMetricDataList: [
            { MetricName: `train:${evalMetric}`, Value: 0.99, Timestamp: new Date().toISOString() },
            {
              MetricName: `validation:${evalMetric}`,
              Value: world.metricValue,
              Timestamp: new Date().toISOString(),
            },
          ],
        };
        world.trainingJobs.set(name, completed);
        return completed;
      }),
      'sagemaker:listModelPackages': sm('ListModelPackages', (r) => {
        let list = world.packages.filter(
          (p) =>
            p.group === r.ModelPackageGroupName &&
            (r.ModelApprovalStatus === undefined || p.status === r.ModelApprovalStatus),
        );
        list = list.sort((a, b) =>
          r.SortOrder === 'Ascending' ? a.created - b.created : b.created - a.created,
        );
        return {
          ModelPackageSummaryList: list.slice(0, (r.MaxResults as number | undefined) ?? 100).map((p) => ({
            ModelPackageArn: p.arn,
            ModelPackageGroupName: p.group,
            ModelPackageVersion: p.version,
            ModelApprovalStatus: p.status,
            ModelPackageStatus: 'Completed',
            CreationTime: new Date(p.created).toISOString(),
          })),
        };
      }),
      'sagemaker:describeModelPackage': sm('DescribeModelPackage', (r) => {
        const p = packageOf(r.ModelPackageName as string);
        if (p.status === 'PendingManualApproval' && world.review) {
          world.review.after -= 1;
          if (world.review.after <= 0 && world.review.decision !== 'never') p.status = world.review.decision;
        }
        return {
          ModelPackageArn: p.arn,
          ModelPackageGroupName: p.group,
          ModelPackageVersion: p.version,
          ModelApprovalStatus: p.status,
          ModelPackageStatus: 'Completed',
          CustomerMetadataProperties: p.metadata,
          InferenceSpecification: p.request.InferenceSpecification,
        };
      }),
      'sagemaker:createModelPackage': sm('CreateModelPackage', (r) => {
        const group = r.ModelPackageGroupName as string;
        const version = world.packages.filter((p) => p.group === group).length + 1;
        const p: Package = {
          arn: sagemakerArn('model-package', `${group}/${version}`),
          group,
          version,
          status: (r.ModelApprovalStatus as string | undefined) ?? 'PendingManualApproval',
          created: Date.now() + world.packages.length,
          metadata: (r.CustomerMetadataProperties as Record<string, string> | undefined) ?? {},
          request: r,
        };
        world.packages.push(p);
        return { ModelPackageArn: p.arn };
      }),
      'sagemaker:updateModelPackage': sm('UpdateModelPackage', (r) => {
        const p = packageOf(r.ModelPackageArn as string);
        if (r.ModelApprovalStatus) p.status = r.ModelApprovalStatus as string;
        return { ModelPackageArn: p.arn };
      }),
      'sagemaker:createModel': sm('CreateModel', (r) => {
        const name = r.ModelName as string;
        if (world.models.has(name))
          throw validationError(`Cannot create already existing model "${sagemakerArn('model', name)}".`);
        world.models.set(name, r);
        return { ModelArn: sagemakerArn('model', name) };
      }),
      'sagemaker:createEndpointConfig': sm('CreateEndpointConfig', (r) => {
        const name = r.EndpointConfigName as string;
        for (const v of r.ProductionVariants as Json[]) {
          if (!world.models.has(v.ModelName as string))
            throw validationError(`Could not find model "${sagemakerArn('model', String(v.ModelName))}".`);
        }
        world.endpointConfigs.set(name, r);
        return { EndpointConfigArn: sagemakerArn('endpoint-config', name) };
      }),
      'sagemaker:describeEndpoint': sm('DescribeEndpoint', describe),
      'sagemaker:createEndpoint': sm('CreateEndpoint', (r) => {
        const name = r.EndpointName as string;
        if (world.endpoints.has(name))
          throw validationError(
            `Cannot create already existing endpoint "${sagemakerArn('endpoint', name)}".`,
          );
        const config = r.EndpointConfigName as string;
        if (!world.endpointConfigs.has(config))
          throw validationError(`Could not find endpoint configuration "${config}".`);
        world.endpoints.set(name, {
          config,
          status: 'Creating',
          pending: { config, polls: world.pollsUntilDone, outcome: world.nextOutcome },
        });
        return { EndpointArn: sagemakerArn('endpoint', name) };
      }),
      'sagemaker:updateEndpoint': sm('UpdateEndpoint', (r) => {
        const name = r.EndpointName as string;
        const e = world.endpoints.get(name);
        if (!e) throw validationError(`Could not find endpoint "${sagemakerArn('endpoint', name)}".`);
        const config = r.EndpointConfigName as string;
        if (!world.endpointConfigs.has(config))
          throw validationError(`Could not find endpoint configuration "${config}".`);
        e.status = 'Updating';
        e.pending = { config, polls: world.pollsUntilDone, outcome: world.nextOutcome };
        return { EndpointArn: sagemakerArn('endpoint', name) };
      }),
    },
    lambda: (functionName, payload) => {
      const p = payload as Json;
      if (functionName === app.functions.prepare) {
        if (world.prepareError) throw new TaskFailure(world.prepareError.name, world.prepareError.message);
        // The contract's name: <project>-<yyyymmddhhmmss>-<6 hex of the execution name hash>.
        const stamp = String(p.executionStartTime).replace(/[-:T]/g, '').slice(0, 14);
        const hash = createHash('sha256').update(String(p.executionName)).digest('hex').slice(0, 6);
        const jobName = `${app.config.project}-${stamp}-${hash}`;
        const prefix = `s3://${app.artifacts}/training/${jobName}/`;
        return {
          jobName,
          dataset: p.dataset,
          trainUri: `${prefix}train.csv`,
          validationUri: `${prefix}validation.csv`,
          baselineUri: `${prefix}baseline.json`,
          featureSpecUri: `${prefix}feature-spec.json`,
          trainingPrefix: prefix,
          rows: { total: 5000, train: 4000, validation: 1000 },
          problem: 'binary',
        };
      }
      // The real Evaluate handler: a pure adapter over lambdas/core/evaluate.ts.
      if (functionName === app.functions.evaluate) return evaluateHandler(payload);
      if (functionName === app.functions.promote) {
        const cooldownUntil = new Date(
          Date.parse(String(p.deployedAt ?? p.executionStartTime)) +
            app.config.training.driftCooldownMinutes * 60_000,
        ).toISOString();
        world.pointer = { ...p, cooldownUntil };
        return { currentUri: `s3://${app.artifacts}/baselines/current.json` };
      }
      throw new TaskFailure('Lambda.ResourceNotFoundException', `Function not found: ${functionName}`);
    },
  };
}

async function run(world: World, input: Json, app: LocalApp = APP): Promise<ExecutionRecord> {
  return runExecution(app.machine.definition, input, services(world, app), {
    stateMachineArn: app.machine.arn,
  });
}

function callsOf(record: ExecutionRecord, state: string): RecordedCall[] {
  return record.calls.filter((c) => c.state === state);
}

function requestOf(record: ExecutionRecord, state: string): Json {
  const calls = callsOf(record, state);
  expect(calls.length).toBeGreaterThan(0);
  return calls[calls.length - 1].request as Json;
}

/** Every SageMaker request of the execution has what the API requires. */
function expectValidSageMakerRequests(record: ExecutionRecord): void {
  const sagemaker = record.calls.filter((c) => c.resource.service === 'sagemaker');
  expect(sagemaker.length).toBeGreaterThan(0);
  for (const c of sagemaker) {
    const api = sageMakerApiOf(c.resource.action);
    expect(api).toBeDefined();
    expect({ state: c.state, problems: checkRequest(api!, c.request) }).toEqual({
      state: c.state,
      problems: [],
    });
  }
}

const DEFAULTS = ['ApplyDefaults', 'MergeDefaults'];
const GUARD = [...DEFAULTS, 'CheckRunning', 'AlreadyRunning?', 'IsDriftTrigger?'];
const TO_EVALUATE = ['Prepare', 'Train', 'GetChampion', 'HasChampion?'];
const POLL_TWICE = [
  'WaitForEndpoint',
  'PollEndpoint',
  'EndpointStatus?',
  'CountEndpointPoll',
  'WaitForEndpoint',
  'PollEndpoint',
  'EndpointStatus?',
];

async function firstDeploy(world = newWorld()): Promise<{ world: World; record: ExecutionRecord }> {
  const record = await run(world, { trigger: 'manual', dataset: config.dataset.name });
  return { world, record };
}

describe('the synthesized training state machine definition', () => {
  it('is valid ASL (asl-validator)', () => {
    expect(validateAsl(definition)).toEqual([]);
  });

  it('is checked for real: a transition to a missing state is reported', () => {
    const broken = {
      ...definition,
      States: { ...definition.States, Skipped: { Type: 'Pass', Next: 'Nowhere' } },
    };
    expect(validateAsl(broken).join('\n')).toMatch(/Nowhere/);
  });

  it('has every token resolved to local names', () => {
    const text = JSON.stringify(definition);
    expect(text).not.toMatch(/\$\{Token\[|Fn::|"Ref"/);
    expect(text).toContain(ARTIFACTS);
    expect(text).toContain(`arn:aws:lambda:${region}:${accountId}:function:${FUNCTIONS.prepare}`);
  });

  it('gives every Task a TimeoutSeconds and a catch-all, as the local engine and the contract need', () => {
    const tasks = taskStates(definition);
    expect(tasks.length).toBeGreaterThan(10);
    for (const { name, state } of tasks) {
      expect({ name, timeout: typeof state.TimeoutSeconds }).toEqual({ name, timeout: 'number' });
      const all = (state.Catch ?? []).find((c) => c.ErrorEquals.includes('States.ALL'));
      expect({ name, catchAll: all?.Next }).toEqual({
        name,
        catchAll: name === 'NotifyFailure' ? 'PipelineFailed' : 'NotifyFailure',
      });
    }
  });

  it('has a local handler for every Task Resource', () => {
    expect(() => taskOverrides(definition, services(newWorld()))).not.toThrow();
  });
});

describe('local executions of the synthesized definition', () => {
  it('first deploy: DescribeEndpoint does not find the endpoint, so it is created', async () => {
    const { world, record } = await firstDeploy();
    expect(record.status).toBe('SUCCEEDED');
    expect(record.path).toEqual([
      ...GUARD,
      ...TO_EVALUATE,
      'Evaluate',
      'Passed?',
      'Register',
      'CreateModel',
      'CreateEndpointConfig',
      'DescribeEndpoint',
      'CreateEndpoint',
      ...POLL_TWICE,
      'Promote',
      'NotifyDeployed',
      'Succeeded',
    ]);
    expectValidSageMakerRequests(record);
    expect(callsOf(record, 'DescribeEndpoint')[0].error?.name).toBe('SageMaker.SageMakerException');

    const jobName = (record.output as { prepare: { jobName: string } }).prepare.jobName;
    expect(jobName).toMatch(new RegExp(`^${project}-\\d{14}-[0-9a-f]{6}$`));
    expect(jobName.length).toBeLessThanOrEqual(63);
    // Prepare gets the execution's name and start time, the dataset and the trigger.
    expect(requestOf(record, 'Prepare')).toEqual({
      executionName: expect.any(String),
      executionStartTime: expect.any(String),
      dataset: config.dataset.name,
      trigger: 'manual',
    });
    // Train: the job's name from Prepare, channels from its URIs, the objective of a binary problem.
    const train = requestOf(record, 'Train');
    expect(train.TrainingJobName).toBe(jobName);
    expect(
      (train.InputDataConfig as Json[]).map((c) => [
        c.ChannelName,
        (c.DataSource as { S3DataSource: Json }).S3DataSource.S3Uri,
      ]),
    ).toEqual([
      ['train', `s3://${ARTIFACTS}/training/${jobName}/train.csv`],
      ['validation', `s3://${ARTIFACTS}/training/${jobName}/validation.csv`],
    ]);
    expect(train.HyperParameters).toMatchObject({ objective: 'binary:logistic', eval_metric: 'auc' });
    expect(String((train.AlgorithmSpecification as Json).TrainingImage)).toMatch(
      /\/sagemaker-xgboost:1\.7-1$/,
    );
    // Evaluate gets the metric list of the job and no champion.
    expect(requestOf(record, 'Evaluate')).toMatchObject({
      metricName: 'validation:auc',
      minimum: config.training.metric.minimum ?? null,
      tolerance: config.training.metric.tolerance,
      finalMetrics: world.trainingJobs.get(jobName)!.FinalMetricDataList,
      champion: null,
    });
    // Register: metric as a string, URIs from Prepare.
    expect(world.packages).toHaveLength(1);
    expect(world.packages[0]).toMatchObject({
      group: GROUP,
      status: 'Approved',
      metadata: {
        metricName: 'validation:auc',
        metric: '0.91',
        baselineUri: `s3://${ARTIFACTS}/training/${jobName}/baseline.json`,
        featureSpecUri: `s3://${ARTIFACTS}/training/${jobName}/feature-spec.json`,
        jobName,
      },
    });
    // Model, endpoint config and endpoint named after the job, tagged for the cleanup.
    const tags = [
      { Key: 'devmlops:project', Value: project },
      { Key: 'devmlops:managed-by', Value: 'pipeline' },
    ];
    for (const state of ['Train', 'CreateModel', 'CreateEndpointConfig', 'CreateEndpoint', 'Register']) {
      expect({ state, tags: requestOf(record, state).Tags }).toEqual({ state, tags });
    }
    const endpointConfig = requestOf(record, 'CreateEndpointConfig');
    expect(endpointConfig.ProductionVariants).toEqual([
      expect.objectContaining({
        VariantName: 'AllTraffic',
        ModelName: jobName,
        InstanceType: config.endpoint.instanceType,
      }),
    ]);
    expect(endpointConfig.DataCaptureConfig).toMatchObject({
      EnableCapture: true,
      DestinationS3Uri: `s3://${ARTIFACTS}/capture`,
      CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
      CaptureContentTypeHeader: { CsvContentTypes: ['text/csv'] },
    });
    expect(requestOf(record, 'CreateEndpoint')).toMatchObject({
      EndpointName: ENDPOINT,
      EndpointConfigName: jobName,
    });
    expect(world.endpoints.get(ENDPOINT)).toMatchObject({ status: 'InService', config: jobName });
    // Promote writes the pointer for this deploy; SNS says so.
    expect(requestOf(record, 'Promote')).toMatchObject({
      modelPackageArn: world.packages[0].arn,
      jobName,
      endpointName: ENDPOINT,
      endpointConfigName: jobName,
      metricName: 'validation:auc',
      metric: 0.91,
    });
    expect((record.output as { promotion: Json }).promotion).toEqual({
      currentUri: `s3://${ARTIFACTS}/baselines/current.json`,
    });
    expect(world.notifications.map((n) => n.status)).toEqual(['Deployed']);
  });

  it('second deploy: the endpoint exists, so it is updated blue/green with the rollback alarms', async () => {
    const { world } = await firstDeploy();
    const champion = world.packages[0];
    world.metricValue = 0.93;
    const record = await run(world, { trigger: 'schedule', dataset: config.dataset.name });
    expect(record.status).toBe('SUCCEEDED');
    expect(record.path).toEqual([
      ...GUARD,
      ...TO_EVALUATE,
      'DescribeChampion',
      'Evaluate',
      'Passed?',
      'Register',
      'CreateModel',
      'CreateEndpointConfig',
      'DescribeEndpoint',
      'UpdateEndpoint',
      ...POLL_TWICE,
      'Promote',
      'NotifyDeployed',
      'Succeeded',
    ]);
    expectValidSageMakerRequests(record);
    expect(requestOf(record, 'Evaluate').champion).toEqual({ modelPackageArn: champion.arn, metric: '0.91' });
    const jobName = (record.output as { prepare: { jobName: string } }).prepare.jobName;
    const update = requestOf(record, 'UpdateEndpoint');
    expect(update).toEqual({
      EndpointName: ENDPOINT,
      EndpointConfigName: jobName,
      DeploymentConfig: {
        BlueGreenUpdatePolicy: {
          TrafficRoutingConfiguration: {
            Type: 'CANARY',
            CanarySize: { Type: 'CAPACITY_PERCENT', Value: config.endpoint.canarySizePercent },
            WaitIntervalInSeconds: config.endpoint.canaryWaitSeconds,
          },
          TerminationWaitInSeconds: config.endpoint.terminationWaitSeconds,
          MaximumExecutionTimeoutInSeconds: expect.any(Number),
        },
        AutoRollbackConfiguration: { Alarms: ALARMS.map((AlarmName) => ({ AlarmName })) },
      },
    });
    expect(world.endpoints.get(ENDPOINT)).toMatchObject({ status: 'InService', config: jobName });
    expect(world.packages.map((p) => p.status)).toEqual(['Approved', 'Approved']);
    expect(world.notifications.map((n) => n.status)).toEqual(['Deployed', 'Deployed']);
  });

  it('challenger rejected: a notified ModelRejected outcome, nothing registered or deployed', async () => {
    const { world } = await firstDeploy();
    world.metricValue = 0.7;
    const before = world.endpoints.get(ENDPOINT)!.config;
    const record = await run(world, { trigger: 'manual', dataset: config.dataset.name });
    expect(record.status).toBe('SUCCEEDED');
    expect(record.path).toEqual([
      ...GUARD,
      ...TO_EVALUATE,
      'DescribeChampion',
      'Evaluate',
      'Passed?',
      'NotifyRejected',
      'ModelRejected',
      'Rejected',
    ]);
    const evaluation = callsOf(record, 'Evaluate')[0].response as { passed: boolean; reason: string };
    expect(evaluation.passed).toBe(false);
    expect(record.output).toEqual({
      status: 'ModelRejected',
      reason: evaluation.reason,
      metric: 0.7,
      championMetric: 0.91,
    });
    expectValidSageMakerRequests(record);
    expect(world.packages).toHaveLength(1);
    expect(world.endpoints.get(ENDPOINT)!.config).toBe(before);
    expect(world.notifications.at(-1)).toMatchObject({
      status: 'ModelRejected',
      message: expect.stringContaining(evaluation.reason),
    });
  });

  it('training job failure: notified, and the execution fails with the job failure as its cause', async () => {
    const world = newWorld();
    world.trainingFailure = 'AlgorithmError: framework error: XGBoostError: label must be in [0,1]';
    const record = await run(world, { trigger: 'manual', dataset: config.dataset.name });
    expect(record.status).toBe('FAILED');
    expect(record.path).toEqual([...GUARD, 'Prepare', 'Train', 'NotifyFailure', 'PipelineFailed']);
    expect(record.error).toBe('States.TaskFailed');
    expect(JSON.parse(record.cause!)).toMatchObject({
      TrainingJobStatus: 'Failed',
      FailureReason: world.trainingFailure,
    });
    expectValidSageMakerRequests(record);
    expect(world.notifications).toHaveLength(1);
    expect(world.notifications[0].message).toContain('States.TaskFailed');
    expect(world.packages).toHaveLength(0);
  });

  it('endpoint update rolled back: the package is rejected, notified, and the execution fails', async () => {
    const { world } = await firstDeploy();
    const previous = world.endpoints.get(ENDPOINT)!.config;
    world.nextOutcome = 'RolledBack';
    world.pollsUntilDone = 1;
    const record = await run(world, { trigger: 'manual', dataset: config.dataset.name });
    expect(record.status).toBe('FAILED');
    expect(record.path).toEqual([
      ...GUARD,
      ...TO_EVALUATE,
      'DescribeChampion',
      'Evaluate',
      'Passed?',
      'Register',
      'CreateModel',
      'CreateEndpointConfig',
      'DescribeEndpoint',
      'UpdateEndpoint',
      // RollingBack is still in progress: poll again, then InService on the previous config.
      ...POLL_TWICE,
      'RejectPackage',
      'NotifyRolledBack',
      'DeploymentFailed',
    ]);
    expect(record.error).toBe('DeploymentFailed');
    expectValidSageMakerRequests(record);
    expect(requestOf(record, 'UpdateEndpoint').DeploymentConfig).toMatchObject({
      AutoRollbackConfiguration: { Alarms: ALARMS.map((AlarmName) => ({ AlarmName })) },
    });
    expect(world.endpoints.get(ENDPOINT)).toMatchObject({ status: 'InService', config: previous });
    expect(world.packages.map((p) => p.status)).toEqual(['Approved', 'Rejected']);
    expect(requestOf(record, 'RejectPackage')).toMatchObject({
      ModelPackageArn: world.packages[1].arn,
      ModelApprovalStatus: 'Rejected',
    });
    expect(world.notifications.at(-1)?.status).toBe('DeploymentFailed');
    expect(world.pointer).toMatchObject({ endpointConfigName: previous });
  });

  it('endpoint creation failed: the package is rejected and the execution fails', async () => {
    const world = newWorld();
    world.nextOutcome = 'Failed';
    world.pollsUntilDone = 1;
    const record = await run(world, { trigger: 'manual', dataset: config.dataset.name });
    expect(record.status).toBe('FAILED');
    expect(record.path.slice(-6)).toEqual([
      'WaitForEndpoint',
      'PollEndpoint',
      'EndpointStatus?',
      'RejectPackage',
      'NotifyRolledBack',
      'DeploymentFailed',
    ]);
    expect(world.packages.map((p) => p.status)).toEqual(['Rejected']);
    expect(world.pointer).toBeUndefined();
  });

  it('deployment timeout: still in progress after maxPolls, notified and failed', async () => {
    const world = newWorld();
    world.nextOutcome = 'Stuck';
    const record = await run(world, { trigger: 'manual', dataset: config.dataset.name });
    expect(record.status).toBe('FAILED');
    expect(record.error).toBe('DeploymentTimeout');
    expect(callsOf(record, 'PollEndpoint')).toHaveLength(config.endpoint.maxPolls);
    expect(record.path.slice(-3)).toEqual([
      'EndpointStatus?',
      'NotifyDeploymentTimeout',
      'DeploymentTimeout',
    ]);
  });

  it('guard: another execution running ends Skipped, with a reason, before any work', async () => {
    const world = newWorld();
    world.running = 2;
    const record = await run(world, { trigger: 'schedule', dataset: config.dataset.name });
    expect(record.status).toBe('SUCCEEDED');
    expect(record.path).toEqual([
      ...DEFAULTS,
      'CheckRunning',
      'AlreadyRunning?',
      'SkipRunning',
      'RecordSkipped',
      'Skipped',
    ]);
    expect(record.output).toEqual({ status: 'Skipped', reason: expect.stringMatching(/running/i) });
    expect(record.calls.map((c) => c.state)).toEqual(['CheckRunning', 'RecordSkipped']);
    expect(world.metrics).toEqual(SKIPPED_METRIC);
    expect(world.notifications).toEqual([]);
  });

  it('guard: a drift trigger within the cooldown after the last deploy ends Skipped', async () => {
    const { world } = await firstDeploy();
    const cooldownUntil = String(world.pointer!.cooldownUntil);
    expect(Date.parse(cooldownUntil)).toBeGreaterThan(Date.now());
    // The first deploy recorded no skip; this run records exactly one.
    expect(world.metrics).toEqual([]);
    const record = await run(world, { trigger: 'drift', dataset: config.dataset.name });
    expect(record.status).toBe('SUCCEEDED');
    expect(record.path).toEqual([
      ...GUARD,
      'ReadCurrentPointer',
      'InCooldown?',
      'SkipCooldown',
      'RecordSkipped',
      'Skipped',
    ]);
    expect(record.output).toEqual({ status: 'Skipped', reason: expect.stringContaining(cooldownUntil) });
    expect(callsOf(record, 'Prepare')).toHaveLength(0);
    expect(world.metrics).toEqual(SKIPPED_METRIC);
  });

  it('a skip whose metric cannot be put is notified and fails, not counted as a success', async () => {
    const world = newWorld();
    world.running = 2;
    const record = await runExecution(
      definition,
      { trigger: 'schedule', dataset: config.dataset.name },
      {
        ...services(world),
        services: {
          ...services(world).services,
          'cloudwatch:putMetricData': () => {
            throw new TaskFailure(
              'CloudWatch.CloudWatchException',
              'User is not authorized to perform PutMetricData',
            );
          },
        },
      },
      { stateMachineArn: machine.arn },
    );
    expect(record.status).toBe('FAILED');
    expect(record.path.slice(-4)).toEqual([
      'SkipRunning',
      'RecordSkipped',
      'NotifyFailure',
      'PipelineFailed',
    ]);
    expect(record.error).toBe('CloudWatch.CloudWatchException');
    expect(world.notifications.map((n) => n.status)).toEqual(['Failed']);
    expect(world.metrics).toEqual([]);
  });

  it('a drift trigger after the cooldown retrains', async () => {
    const { world } = await firstDeploy();
    world.pointer = { ...world.pointer, cooldownUntil: new Date(Date.now() - 60_000).toISOString() };
    const record = await run(world, { trigger: 'drift', dataset: config.dataset.name });
    expect(record.status).toBe('SUCCEEDED');
    expect(record.path.slice(0, 8)).toEqual([...GUARD, 'ReadCurrentPointer', 'InCooldown?', 'Prepare']);
    expect(record.path).toContain('UpdateEndpoint');
  });

  it('a drift trigger before any deploy (no pointer) retrains', async () => {
    const record = await run(newWorld(), { trigger: 'drift', dataset: config.dataset.name });
    expect(record.status).toBe('SUCCEEDED');
    expect(record.path.slice(0, 8)).toEqual([...GUARD, 'ReadCurrentPointer', 'Prepare', 'Train']);
    expect(callsOf(record, 'ReadCurrentPointer')[0].error?.name).toBe('S3.NoSuchKeyException');
    expect(record.path).toContain('CreateEndpoint');
  });

  it('a metric missing from FinalMetricDataList fails the execution with MetricNotFoundError', async () => {
    const world = newWorld();
    const record = await runExecution(
      definition,
      { trigger: 'manual', dataset: config.dataset.name },
      {
        ...services(world),
        // A training job that reports another metric than the configured one.
        services: {
          ...services(world).services,
          'sagemaker:createTrainingJob': (request, call) => {
            const job = services(world).services['sagemaker:createTrainingJob'](request, call) as Json;
            return { ...job, FinalMetricDataList: [{ MetricName: 'validation:logloss', Value: 0.3 }] };
          },
        },
      },
      { stateMachineArn: machine.arn },
    );
    expect(record.status).toBe('FAILED');
    expect(record.path.slice(-3)).toEqual(['Evaluate', 'NotifyFailure', 'PipelineFailed']);
    expect(record.error).toBe('MetricNotFoundError');
  });

  it('too few rows: Prepare fails with InsufficientDataError, which the execution fails with', async () => {
    const world = newWorld();
    world.prepareError = {
      name: 'InsufficientDataError',
      message: 'dataset churn has 12 rows, fewer than 1000',
    };
    const record = await run(world, { trigger: 'manual', dataset: config.dataset.name });
    expect(record.status).toBe('FAILED');
    expect(record.path).toEqual([...GUARD, 'Prepare', 'NotifyFailure', 'PipelineFailed']);
    expect({ error: record.error, cause: record.cause }).toEqual({
      error: 'InsufficientDataError',
      cause: 'dataset churn has 12 rows, fewer than 1000',
    });
    expect(world.notifications[0].message).toContain('InsufficientDataError');
  });
});

describe('execution input defaults', () => {
  it('an empty input runs as a manual trigger on the configured dataset', async () => {
    const world = newWorld();
    const record = await run(world, {});
    expect(record.status).toBe('SUCCEEDED');
    expect(record.path.slice(0, 6)).toEqual([...GUARD, 'Prepare']);
    expect(requestOf(record, 'Prepare')).toMatchObject({ dataset: config.dataset.name, trigger: 'manual' });
    expect(record.output).toMatchObject({ trigger: 'manual', dataset: config.dataset.name });
    expect(record.path).toContain('CreateEndpoint');
    expect(world.notifications).toHaveLength(1);
  });

  it('keeps what the input gives: its trigger, its dataset and any other key', async () => {
    const world = newWorld();
    const record = await run(world, { trigger: 'new-data', key: 'churn/ingest_date=2026-01-01/a.csv' });
    expect(record.status).toBe('SUCCEEDED');
    expect(requestOf(record, 'Prepare')).toMatchObject({ dataset: config.dataset.name, trigger: 'new-data' });
    expect(record.output).toMatchObject({
      trigger: 'new-data',
      dataset: config.dataset.name,
      key: 'churn/ingest_date=2026-01-01/a.csv',
    });
    const other = await run(newWorld(), { dataset: 'other', trigger: 'schedule' });
    expect(requestOf(other, 'Prepare')).toMatchObject({ dataset: 'other', trigger: 'schedule' });
  });

  it('an input without trigger is not mistaken for a drift trigger: no pointer is read', async () => {
    const { world } = await firstDeploy();
    const record = await run(world, { dataset: config.dataset.name });
    expect(record.status).toBe('SUCCEEDED');
    expect(callsOf(record, 'ReadCurrentPointer')).toHaveLength(0);
    expect(record.path).toContain('UpdateEndpoint');
  });
});

describe('routing Task states by Resource', () => {
  /** The definition with one more state, calling a service action that already has a local handler. */
  function withExtraState(name: string, state: AslState, after: string): AslDefinition {
    const states = { ...definition.States } as Record<string, AslState>;
    const next = states[after].Next!;
    states[after] = { ...states[after], Next: name };
    states[name] = { ...state, Next: next };
    return { ...definition, States: states };
  }

  it('runs a new state that calls a known Resource without any change to the local services', async () => {
    const describeEndpoint = definition.States.DescribeEndpoint;
    const extra = withExtraState(
      'LookAtEndpointFirst',
      {
        Type: 'Task',
        Resource: describeEndpoint.Resource,
        Parameters: { EndpointName: ENDPOINT },
        ResultPath: '$.lookedAt',
        TimeoutSeconds: 30,
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.lookError', Next: 'CreateModel' }],
      },
      'Register',
    );
    const world = newWorld();
    const record = await runExecution(
      extra,
      { trigger: 'manual', dataset: config.dataset.name },
      services(world),
      {
        stateMachineArn: machine.arn,
      },
    );
    expect(record.status).toBe('SUCCEEDED');
    const i = record.path.indexOf('Register');
    expect(record.path.slice(i, i + 3)).toEqual(['Register', 'LookAtEndpointFirst', 'CreateModel']);
    expect(callsOf(record, 'LookAtEndpointFirst')[0].error?.name).toBe('SageMaker.SageMakerException');
  });

  it('refuses to run a definition with a Resource that has no local handler, naming the state', () => {
    const extra = withExtraState(
      'DeleteSomething',
      { Type: 'Task', Resource: 'arn:aws:states:::aws-sdk:sagemaker:deleteEndpoint', TimeoutSeconds: 30 },
      'Register',
    );
    expect(() => taskOverrides(extra, services(newWorld()))).toThrow(
      'no local handler for: DeleteSomething (arn:aws:states:::aws-sdk:sagemaker:deleteEndpoint)',
    );
  });

  it('fails a malformed SageMaker request as SageMaker would, with the missing field named', async () => {
    const states = { ...definition.States } as Record<string, AslState>;
    const params = { ...(states.CreateEndpoint.Parameters as Json) };
    delete params.EndpointConfigName;
    delete params['EndpointConfigName.$'];
    states.CreateEndpoint = { ...states.CreateEndpoint, Parameters: params };
    const record = await runExecution(
      { ...definition, States: states },
      { trigger: 'manual', dataset: config.dataset.name },
      services(newWorld()),
      {
        stateMachineArn: machine.arn,
      },
    );
    expect(record.status).toBe('FAILED');
    expect(record.path.slice(-3)).toEqual(['CreateEndpoint', 'NotifyFailure', 'PipelineFailed']);
    expect(record.error).toBe('SageMaker.SageMakerException');
    expect(record.cause).toContain('EndpointConfigName: required');
  });

  it('lists every state of the definition once', () => {
    const names = allStates(definition).map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining(['CheckRunning', 'Prepare', 'Train', 'Evaluate', 'Register', 'Promote']),
    );
  });
});

describe('a serverless endpoint with manual approval (another config, synthesized again)', () => {
  const input = defaultConfigInput();
  const variant = {
    ...input,
    training: { ...input.training, approval: 'manual', approvalTimeoutMinutes: 30 },
    endpoint: {
      ...input.endpoint,
      type: 'serverless',
      serverlessMemoryMb: 3072,
      serverlessMaxConcurrency: 7,
    },
  };
  const app = localApp({ config: variant });
  const trigger = { trigger: 'manual', dataset: app.config.dataset.name };
  const APPROVAL_LOOP = ['Register', 'WaitForApproval', 'DescribePackage', 'Approved?'];

  it('waits for the approval, then creates a serverless endpoint without capture or KMS key', async () => {
    const world = newWorld();
    world.review = { after: 2, decision: 'Approved' };
    const record = await run(world, trigger, app);
    expect(record.status).toBe('SUCCEEDED');
    const i = record.path.indexOf('Register');
    expect(record.path.slice(i, i + 9)).toEqual([
      ...APPROVAL_LOOP,
      'CountApprovalPoll',
      'WaitForApproval',
      'DescribePackage',
      'Approved?',
      'CreateModel',
    ]);
    expect(record.path).toContain('CreateEndpoint');
    expectValidSageMakerRequests(record);
    expect(requestOf(record, 'Register').ModelApprovalStatus).toBe('PendingManualApproval');
    const endpointConfig = requestOf(record, 'CreateEndpointConfig');
    expect(endpointConfig.ProductionVariants).toEqual([
      {
        VariantName: 'AllTraffic',
        ModelName: expect.any(String),
        ServerlessConfig: { MemorySizeInMB: 3072, MaxConcurrency: 7 },
      },
    ]);
    expect(endpointConfig).not.toHaveProperty('KmsKeyId');
    expect(endpointConfig).not.toHaveProperty('DataCaptureConfig');
  });

  it('updates a serverless endpoint all at once, still guarded by the rollback alarms', async () => {
    const world = newWorld();
    world.review = { after: 1, decision: 'Approved' };
    expect((await run(world, trigger, app)).status).toBe('SUCCEEDED');
    world.review = { after: 1, decision: 'Approved' };
    const record = await run(world, trigger, app);
    expect(record.status).toBe('SUCCEEDED');
    expect(record.path).toContain('UpdateEndpoint');
    expectValidSageMakerRequests(record);
    expect(requestOf(record, 'UpdateEndpoint').DeploymentConfig).toMatchObject({
      BlueGreenUpdatePolicy: { TrafficRoutingConfiguration: { Type: 'ALL_AT_ONCE' } },
      AutoRollbackConfiguration: { Alarms: ALARMS.map((AlarmName) => ({ AlarmName })) },
    });
  });

  it('a reviewer rejecting the package fails the execution as ModelNotApproved, nothing deployed', async () => {
    const world = newWorld();
    world.review = { after: 1, decision: 'Rejected' };
    const record = await run(world, trigger, app);
    expect(record.status).toBe('FAILED');
    expect(record.error).toBe('ModelNotApproved');
    expect(record.path.slice(-6)).toEqual([...APPROVAL_LOOP, 'NotifyNotApproved', 'ModelNotApproved']);
    expect(world.endpoints.size).toBe(0);
  });

  it('no decision within the timeout fails the execution as ApprovalTimeout', async () => {
    const world = newWorld();
    world.review = { after: 1, decision: 'never' };
    const record = await run(world, trigger, app);
    expect(record.status).toBe('FAILED');
    expect(record.error).toBe('ApprovalTimeout');
    expect(record.path.slice(-3)).toEqual(['Approved?', 'NotifyApprovalTimeout', 'ApprovalTimeout']);
    expect(callsOf(record, 'DescribePackage').length).toBeGreaterThanOrEqual(1);
    expect(world.models.size).toBe(0);
  });
});
