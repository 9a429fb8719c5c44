import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SQSBatchResponse } from 'aws-lambda';
import { createS3Client } from '../../lambdas/shared/clients';
import type { DevMlopsConfig } from '../config';
import { PIPELINE_OUTPUTS } from '../stacks/outputs';
import { stateMachinesOf, trainingStateMachine, type TemplateStateMachine } from './asl';
import { AwsApiError } from './errors';
import { startAwsApiServer, type AwsApiServer } from './aws-api-server';
import { CaptureWriter } from './capture';
import { LocalClock } from './clock';
import {
  AlarmEvaluator,
  alarmsFromTemplates,
  alarmStateChangeEvent,
  MetricStore,
  type AlarmStateChange,
} from './cloudwatch';
import { startDashboardServer, type DashboardServer } from './dashboard';
import {
  apiGatewayMetricData,
  localStageUrl,
  restApisFromTemplates,
  startApiGateway,
  type ApiGatewayServer,
} from './api-gateway';
import { deliveryStreamsFromTemplates, FIREHOSE_TARGET_PREFIX, LocalFirehose } from './firehose';
import { startEndpointServer, type EndpointServer } from './endpoint-server';
import {
  LocalEventBus,
  rulesFromTemplates,
  type EventBridgeEvent,
  type LocalRule,
  type RuleTarget,
} from './events';
import { LocalLambdas, localFunctions, sharedEnvironment } from './lambdas';
import { LineRing } from './line-ring';
import { startLocalS3, toSqsEvent, type LocalS3 } from './s3';
import { startLocalSns, type LocalSns } from './sns';
import { LocalSageMaker } from './sagemaker';
import { validationErrorName } from './sagemaker-api';
import {
  runExecution,
  TaskFailure,
  type ExecutionRecord,
  type LocalServices,
  type ServiceHandler,
  type TaskCall,
} from './step-functions';
import { LocalTemplates } from './template';
import { describeAppInChild, platformNames, type AppDescription } from './app-description';
import type { PlatformInfo, PlatformNames } from './platform-info';

/**
 * The whole devmlops loop in one process (DESIGN.md section 10). The app is synthesized in a child process (so that
 * this one does not hold aws-cdk-lib, see lib/local/app-description.ts) and everything the local run does is read
 * from its templates: bucket and function names, the state machine definitions, the EventBridge rules and their
 * targets, the SQS event source mapping and the alarms. The handlers are the real ones; SageMaker, CloudWatch and
 * Step Functions are local stand-ins reachable through the AWS SDKs.
 */

export interface LocalPlatformOptions {
  /** Where the platform keeps its data (local S3 under `<directory>/s3`). Created if missing. */
  readonly directory: string;
  /** Delete `directory` first, so a run starts from nothing. @default false */
  readonly fresh?: boolean;
  /**
   * The devmlops config input (cdk.json's `devmlops` context shape): the app is synthesized with it in a child
   * process (describeAppInChild). Not with `app`. @default cdk.json's
   */
  readonly config?: unknown;
  /**
   * The app, already synthesized and described (tests: `describeApp(synthesizeApp({ customize }))` for a variant
   * of a stack). Not with `config`. @default the app synthesized from `config`
   */
  readonly app?: AppDescription;
  /** @default a LocalClock starting now, at real speed */
  readonly clock?: LocalClock;
  /** Fixed ports (0 = any free port). @default 0 for all */
  readonly ports?: {
    readonly s3?: number;
    readonly aws?: number;
    readonly runtime?: number;
    readonly dashboard?: number;
    /** The inference API (API Gateway REST API). */
    readonly api?: number;
  };
  /**
   * Real milliseconds a SageMaker endpoint takes to deploy, and a canary to bake; the definition's Wait states and
   * Retry intervals are replaced by `waitMilliseconds`, since they are sized for SageMaker.
   * @default { deployMilliseconds: 200, bakeMilliseconds: 300, waitMilliseconds: 100 }
   */
  readonly timings?: {
    readonly deployMilliseconds?: number;
    readonly bakeMilliseconds?: number;
    readonly waitMilliseconds?: number;
  };
  /** Progress lines (executions, alarms, notifications). @default none */
  readonly log?: (line: string) => void;
}

export interface LocalExecution {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: unknown;
  readonly startDate: Date;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  /** The state the execution is in now (for progress displays). */
  currentState?: string;
  stopDate?: Date;
  record?: ExecutionRecord;
  readonly done: Promise<ExecutionRecord>;
}

export interface Notification {
  readonly topicArn: string;
  readonly subject?: string;
  readonly message: string;
  readonly status?: string;
  readonly time: Date;
}

let started = false;

const DEFAULT_TIMINGS = { deployMilliseconds: 200, bakeMilliseconds: 300, waitMilliseconds: 100 };

/** How many access log lines of the API stages the platform keeps for apiAccessLog. */
const API_ACCESS_LOG_LINES = 1000;

export class LocalPlatform {
  /** The app this platform runs: its templates, config and function sources. */
  readonly app: AppDescription;
  readonly config: DevMlopsConfig;
  readonly templates: LocalTemplates;
  readonly names: PlatformNames;
  readonly clock: LocalClock;
  readonly s3: S3Client;
  readonly metrics: MetricStore;
  readonly alarms: AlarmEvaluator;
  readonly bus: LocalEventBus;
  readonly lambdas: LocalLambdas;
  readonly sagemaker: LocalSageMaker;
  readonly stateMachines: readonly TemplateStateMachine[];
  readonly training: TemplateStateMachine;
  readonly executions: LocalExecution[] = [];
  readonly notifications: Notification[] = [];
  /** Messages that exhausted their receives, by queue ARN (what a DLQ would hold). */
  readonly deadLetters = new Map<string, string[]>();
  /** Failures of asynchronous deliveries (rule targets, queue consumers), so nothing fails silently. */
  readonly deliveryErrors: Array<{ readonly target: string; readonly error: string }> = [];

  private localS3!: LocalS3;
  private awsApi!: AwsApiServer;
  private sns!: LocalSns;
  private endpointServer!: EndpointServer;
  private dashboardServer!: DashboardServer;
  private capture!: CaptureWriter;
  private firehose!: LocalFirehose;
  private apiServers: ApiGatewayServer[] = [];
  /** The last API_ACCESS_LOG_LINES access log lines of the API stages (see LineRing for why not strings). */
  private readonly accessLines = new LineRing(API_ACCESS_LOG_LINES);
  private readonly pending = new Set<Promise<unknown>>();
  private readonly log: (line: string) => void;
  private readonly timings: typeof DEFAULT_TIMINGS;
  private readonly directory: string;
  private readonly rules: readonly LocalRule[];
  private readonly queues: ReadonlyMap<string, QueueRoute>;
  private localServices?: LocalServices;
  private closed = false;
  /** [endpoint, variant] pairs that have served, for their instance metrics. */
  private readonly servedVariants = new Set<string>();
  private cpuMark = { usage: process.cpuUsage(), at: performance.now() };
  private periodicAt = -Infinity;

  private constructor(options: LocalPlatformOptions, app: AppDescription) {
    this.directory = path.resolve(options.directory);
    this.log = options.log ?? (() => undefined);
    this.timings = { ...DEFAULT_TIMINGS, ...options.timings };
    this.clock = options.clock ?? new LocalClock();
    this.app = app;
    this.config = app.config;
    this.templates = new LocalTemplates(app.templates);
    this.names = platformNames(app, this.templates);
    this.stateMachines = stateMachinesOf(this.templates);
    this.training = trainingStateMachine(this.templates);
    this.metrics = new MetricStore(this.clock);
    const { region, accountId } = this.templates.pseudo;
    this.alarms = new AlarmEvaluator({
      alarms: alarmsFromTemplates(this.templates),
      store: this.metrics,
      clock: this.clock,
      region,
      accountId,
    });
    const functions = localFunctions(app.functions, this.templates);
    this.lambdas = new LocalLambdas({
      functions,
      onInvocation: (r) => {
        const dimensions = { FunctionName: r.functionName };
        // Deferred: the invocation's caller (the inference API) is waiting for its result.
        this.metrics.putLater({
          namespace: 'AWS/Lambda',
          metricName: 'Invocations',
          dimensions,
          values: [1],
        });
        this.metrics.putLater({
          namespace: 'AWS/Lambda',
          metricName: 'Duration',
          dimensions,
          values: [r.durationMs],
        });
        this.metrics.putLater({
          namespace: 'AWS/Lambda',
          metricName: 'Errors',
          dimensions,
          values: [r.error ? 1 : 0],
        });
        // Lambda reports Throttles beside every invocation; locally nothing is ever throttled.
        this.metrics.putLater({ namespace: 'AWS/Lambda', metricName: 'Throttles', dimensions, values: [0] });
        if (r.error) this.log(`Lambda ${r.functionName} failed: ${r.error.name}: ${r.error.message}`);
      },
    });
    // Every evaluation (a tick, a canary bake reading its rollback alarms, DescribeAlarms) sends its state changes
    // to the bus, as CloudWatch does: none is lost because someone other than tick() evaluated first.
    this.alarms.onChange((c) => {
      this.log(`alarm ${c.alarmName}: ${c.previous.value} -> ${c.current.value}`);
      const event = alarmStateChangeEvent(c, this.templates.pseudo) as EventBridgeEvent;
      void this.track(this.putEvent(event));
    });
    this.queues = queueConsumers(this.templates);
    this.rules = rulesFromTemplates(this.templates);
    this.bus = new LocalEventBus({
      rules: this.rules,
      clock: this.clock,
      invoke: (target, input, rule) => this.deliver(target, input, rule),
    });
    // s3 and sagemaker need the S3 endpoint: assigned in start().
    this.s3 = undefined as unknown as S3Client;
    this.sagemaker = undefined as unknown as LocalSageMaker;
  }

  /** Synthesizes the app and starts S3, the AWS API endpoint and the model endpoint on loopback. */
  static async start(options: LocalPlatformOptions): Promise<LocalPlatform> {
    // The handlers are loaded once and keep their clients and configuration, as in a Lambda sandbox: a second
    // platform in the same process would have them talk to the first one's servers.
    if (options.app !== undefined && options.config !== undefined)
      throw new Error('give LocalPlatform.start a config or an app, not both');
    if (started) throw new Error('one local platform per process: it has been started already');
    started = true;
    let app: AppDescription;
    try {
      app =
        options.app ??
        (await describeAppInChild(options.config !== undefined ? { config: options.config } : {}));
    } catch (e) {
      // Nothing was loaded or started: a corrected config may be tried again.
      started = false;
      throw e;
    }
    const p = new LocalPlatform(options, app);
    await p.startServices(options);
    return p;
  }

  private async startServices(options: LocalPlatformOptions): Promise<void> {
    if (options.fresh === true) fs.rmSync(this.directory, { recursive: true, force: true });
    fs.mkdirSync(path.join(this.directory, 's3'), { recursive: true });
    const { region, accountId } = this.templates.pseudo;
    const buckets = this.templates
      .resourcesOfType('AWS::S3::Bucket')
      .map((b) => this.templates.resource(b.stackName, b.logicalId).ref);
    this.localS3 = await startLocalS3({
      directory: path.join(this.directory, 's3'),
      buckets,
      port: options.ports?.s3 ?? 0,
      region,
      account: accountId,
    });
    this.awsApi = await startAwsApiServer({ port: options.ports?.aws ?? 0 });
    // Handlers publish with the SNS client (the drift check's notification); the state machine's SNS tasks are
    // served in-process below. Both land in `notifications`.
    this.sns = await startLocalSns({
      topicArns: this.templates
        .resourcesOfType('AWS::SNS::Topic')
        .map((t) => this.templates.resource(t.stackName, t.logicalId).ref),
      onPublish: (m) => {
        const n: Notification = {
          topicArn: m.topicArn,
          subject: m.subject,
          message: m.message,
          status: m.attributes.status,
          time: this.clock.now(),
        };
        this.notifications.push(n);
        this.log(`notification: ${n.subject ?? ''}: ${n.message.split('\n')[0]}`);
      },
    });

    // What the handlers' SDK clients read: every AWS call a handler makes goes to this process.
    Object.assign(process.env, sharedEnvironment(this.lambdas.functions), {
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: this.localS3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: this.localS3.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_S3: this.localS3.endpoint,
      AWS_ENDPOINT_URL_CLOUDWATCH: this.awsApi.endpoint,
      AWS_ENDPOINT_URL_SAGEMAKER: this.awsApi.endpoint,
      AWS_ENDPOINT_URL_SFN: this.awsApi.endpoint,
      AWS_ENDPOINT_URL_SNS: this.sns.endpoint,
      AWS_ENDPOINT_URL_FIREHOSE: this.awsApi.endpoint,
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    });
    // Metrics are the point here, even where POWERTOOLS_DEV (which disables them by default) is set.
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    // Powertools writes EMF lines to stdout, where CloudWatch Logs would extract the metrics; here they go to the
    // local store instead (the one Metrics instance every handler shares).
    // Required only now: the module reads PROJECT and the namespace from the environment when it loads.
    const { metrics: sharedMetrics } =
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('../../lambdas/shared/powertools') as typeof import('../../lambdas/shared/powertools');
    // Stored after the response, as CloudWatch Logs extracts them after the fact (MetricStore.putEmfLater).
    (sharedMetrics as unknown as { console: { log: (line: string) => void } }).console = {
      log: (line: string) => this.metrics.putEmfLater(line),
    };

    const s3 = createS3Client(process.env);
    (this as { s3: S3Client }).s3 = s3;
    const sagemaker = new LocalSageMaker({
      s3,
      clock: this.clock,
      region,
      accountId,
      deployMilliseconds: this.timings.deployMilliseconds,
      bakeMilliseconds: this.timings.bakeMilliseconds,
      // CloudFormation creates these with the stack; locally they exist from the start.
      modelPackageGroups: this.templates
        .resourcesOfType('AWS::SageMaker::ModelPackageGroup')
        .map((g) => this.templates.resource(g.stackName, g.logicalId).attributes.ModelPackageGroupName),
      alarmState: (name) => {
        // A canary bake reads the rollback alarms as they are now.
        this.alarms.evaluate();
        return this.alarms.state(name);
      },
    });
    (this as { sagemaker: LocalSageMaker }).sagemaker = sagemaker;
    this.capture = new CaptureWriter({ s3, clock: this.clock });
    // Serverless endpoints' capture: the inference Lambda puts records, delivered to S3 as the stream configures.
    this.firehose = new LocalFirehose({
      streams: deliveryStreamsFromTemplates(this.templates),
      s3,
      clock: this.clock,
      accountId,
      onMetric: (m) =>
        this.metrics.put({
          namespace: 'AWS/Firehose',
          metricName: m.metricName,
          dimensions: m.dimensions,
          values: [m.value],
        }),
    });
    this.endpointServer = await startEndpointServer({
      resolve: (name) => sagemaker.endpoint(name),
      capture: this.capture,
      clock: this.clock,
      accountId,
      port: options.ports?.runtime ?? 0,
      onInvocation: (m) => {
        const dimensions = { EndpointName: m.endpointName, VariantName: m.variantName };
        this.servedVariants.add(JSON.stringify([m.endpointName, m.variantName]));
        // Deferred: the invocation's answer has not been sent yet.
        const put = (metricName: string, value: number) =>
          this.metrics.putLater({ namespace: 'AWS/SageMaker', metricName, dimensions, values: [value] });
        put('Invocations', 1);
        put('Invocation4XXErrors', m.error === '4xx' ? 1 : 0);
        put('Invocation5XXErrors', m.error === '5xx' ? 1 : 0);
        if (!m.error) put('ModelLatency', m.latencyMicros);
      },
    });
    this.registerApis();
    process.env.AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME = this.endpointServer.endpoint;
    await this.startRestApis(options.ports?.api ?? 0);

    this.dashboardServer = await startDashboardServer({
      source: {
        templates: this.templates,
        metrics: this.metrics,
        alarms: this.alarms,
        clock: this.clock,
        s3,
        artifactsBucket: this.names.buckets.artifacts,
      },
      port: options.ports?.dashboard ?? 0,
    });
    for (const e of this.dashboardServer.layout.errors) this.log(`dashboard: ${e}`);

    // Raw uploads reach the rules as S3's EventBridge events.
    this.localS3.onObjectCreated(async (event) => {
      await this.track(this.putEvent(event as unknown as EventBridgeEvent));
    });
  }

  get s3Endpoint(): string {
    return this.localS3.endpoint;
  }
  get awsEndpoint(): string {
    return this.awsApi.endpoint;
  }
  get runtimeEndpoint(): string {
    return this.endpointServer.endpoint;
  }
  /** The inference API's stage URL (the InferenceApiUrl output, served locally): POST `<url>v1/predict`. */
  get apiUrl(): string | undefined {
    return localStageUrl(this.templates, this.apiServers, PIPELINE_OUTPUTS.inferenceApiUrl);
  }
  /** The credentials the platform's APIs accept (SigV4 for the inference API, s3rver's keys for S3). */
  get credentials(): { accessKeyId: string; secretAccessKey: string } {
    return { ...this.localS3.credentials };
  }
  /** The local dashboard page. */
  get dashboardUrl(): string {
    return this.dashboardServer.url;
  }
  /**
   * The last access log lines of the API stages (what CloudWatch Logs would hold, at most API_ACCESS_LOG_LINES),
   * newest last: a snapshot, which later requests do not change.
   */
  get apiAccessLog(): readonly string[] {
    return this.accessLines.lines();
  }

  info(): PlatformInfo {
    return {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      s3Endpoint: this.s3Endpoint,
      awsEndpoint: this.awsEndpoint,
      runtimeEndpoint: this.runtimeEndpoint,
      apiUrl: this.apiUrl,
      credentials: this.credentials,
      dashboardUrl: this.dashboardUrl,
      names: this.names,
    };
  }

  /** Sends an event to the local bus: every enabled rule whose pattern matches delivers it to its targets. */
  async putEvent(event: EventBridgeEvent): Promise<string[]> {
    const { matched } = await this.bus.put(event);
    return matched;
  }

  /**
   * Advances schedules and alarms to the clock's time: schedule rules that are due fire (the drift check), then
   * every alarm is evaluated, and state changes go to the bus as CloudWatch sends them (retraining on drift).
   */
  async tick(): Promise<AlarmStateChange[]> {
    this.publishPeriodicMetrics();
    await this.bus.tick();
    await this.idle();
    const changes = this.alarms.evaluate();
    await this.idle();
    return changes;
  }

  /** Starts an execution of a state machine (the training one by default), as StartExecution does. */
  startExecution(input: unknown, options: { name?: string; stateMachineArn?: string } = {}): LocalExecution {
    const machine = this.stateMachines.find(
      (m) => m.arn === (options.stateMachineArn ?? this.training.arn) || m.name === options.stateMachineArn,
    );
    if (!machine)
      throw new AwsApiError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${options.stateMachineArn ?? ''}'`,
      );
    const name = options.name ?? randomUUID();
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw new AwsApiError('InvalidName', `Invalid Name: '${name}'`);
    const executionArn = `${machine.arn.replace(':stateMachine:', ':execution:')}:${name}`;
    if (this.executions.some((e) => e.executionArn === executionArn))
      throw new AwsApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    const dimensions = { StateMachineArn: machine.arn };
    this.metrics.put({ namespace: 'AWS/States', metricName: 'ExecutionsStarted', dimensions, values: [1] });
    const startDate = new Date();
    let resolveDone!: (r: ExecutionRecord) => void;
    const done = new Promise<ExecutionRecord>((r) => (resolveDone = r));
    const execution: LocalExecution = {
      executionArn,
      stateMachineArn: machine.arn,
      name,
      input,
      startDate,
      status: 'RUNNING',
      done,
    };
    this.executions.push(execution);
    this.log(`execution ${name} started with ${JSON.stringify(input)}`);
    const run = (async () => {
      let record: ExecutionRecord;
      try {
        record = await runExecution(machine.definition, input, (this.localServices ??= this.services()), {
          executionName: name,
          stateMachineArn: machine.arn,
          waitMilliseconds: this.timings.waitMilliseconds,
          onStateEntered: (state) => (execution.currentState = state),
        });
      } catch (e) {
        // The engine rejects a definition it cannot run: an execution failure, not a crash of the platform.
        record = {
          status: 'FAILED',
          error: 'States.Runtime',
          cause: (e as Error).message,
          path: [],
          calls: [],
          events: [],
        };
      }
      execution.record = record;
      execution.status = record.status;
      execution.stopDate = new Date();
      this.metrics.put({
        namespace: 'AWS/States',
        metricName: record.status === 'SUCCEEDED' ? 'ExecutionsSucceeded' : 'ExecutionsFailed',
        dimensions,
        values: [1],
      });
      this.metrics.put({
        namespace: 'AWS/States',
        metricName: 'ExecutionTime',
        dimensions,
        values: [execution.stopDate.getTime() - startDate.getTime()],
        unit: 'Milliseconds',
      });
      this.log(
        `execution ${name} ${record.status}` +
          (record.status === 'FAILED' ? `: ${record.error ?? ''} ${record.cause ?? ''}` : ''),
      );
      resolveDone(record);
    })();
    this.track(run);
    return execution;
  }

  /**
   * The metrics AWS publishes on its own schedule rather than per request: every queue's depth (SQS sends it for
   * empty queues too) and the instance metrics of endpoints that serve. The local endpoint's instance is this
   * process, so its CPU (percent of one core, since the last time) and memory (RSS of the host's memory) are those.
   * At most once per 5 simulated minutes (the dashboard's period for them): the store keeps every sample.
   */
  private publishPeriodicMetrics(): void {
    if (this.clock.now().getTime() - this.periodicAt < 300_000) return;
    this.periodicAt = this.clock.now().getTime();
    for (const arn of this.queues.keys()) {
      this.metrics.put({
        namespace: 'AWS/SQS',
        metricName: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: arn.split(':').pop()! },
        values: [this.deadLetters.get(arn)?.length ?? 0],
      });
    }
    const now = performance.now();
    const used = process.cpuUsage(this.cpuMark.usage);
    const cpu = ((used.user + used.system) / 1000 / Math.max(now - this.cpuMark.at, 1)) * 100;
    this.cpuMark = { usage: process.cpuUsage(), at: now };
    const memory = (process.memoryUsage().rss / os.totalmem()) * 100;
    for (const served of this.servedVariants) {
      const [EndpointName, VariantName] = JSON.parse(served) as [string, string];
      const status = this.sagemaker.endpoint(EndpointName)?.status;
      if (status !== 'InService' && status !== 'Updating') continue;
      const put = (metricName: string, value: number) =>
        this.metrics.put({
          namespace: '/aws/sagemaker/Endpoints',
          metricName,
          dimensions: { EndpointName, VariantName },
          values: [value],
          unit: 'Percent',
        });
      put('CPUUtilization', cpu);
      put('MemoryUtilization', memory);
    }
  }

  /** Resolves when every event, message, invocation and execution started so far has finished. */
  async idle(): Promise<void> {
    for (;;) {
      await this.localS3.idle();
      if (this.pending.size === 0) break;
      await Promise.allSettled([...this.pending]);
    }
    await this.capture.flush();
    await this.firehose.flush();
  }

  /** Writes buffered capture records to S3 now (the drift check reads only what is in S3). */
  async flushCapture(): Promise<void> {
    await this.capture.flush();
    await this.firehose.flush();
  }

  /** What is going on now, in a few words: the running executions and their states. */
  activity(): string {
    const running = this.executions.filter((e) => e.status === 'RUNNING');
    return running.map((e) => `execution ${e.name.slice(0, 8)}: ${e.currentState ?? 'starting'}`).join(', ');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.idle().catch(() => undefined);
    await this.capture.close().catch(() => undefined);
    await this.firehose.close().catch(() => undefined);
    for (const api of this.apiServers) await api.close();
    await this.dashboardServer.close();
    await this.endpointServer.close();
    await this.awsApi.close();
    await this.sns.close();
    this.s3.destroy();
    await this.sagemaker.close?.();
    await this.localS3.close();
  }

  // ---- wiring -------------------------------------------------------------------------------------------------

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
    return p;
  }

  /** Delivers a rule's event to one target, as EventBridge does: a queue, a function or a state machine. */
  private async deliver(target: RuleTarget, input: string, rule: LocalRule): Promise<void> {
    const arn = target.arn;
    const service = arn.split(':')[2];
    try {
      if (service === 'sqs') await this.sendToQueue(arn, input);
      else if (service === 'lambda') await this.lambdas.invoke(arn, JSON.parse(input));
      else if (service === 'states') this.startExecution(JSON.parse(input), { stateMachineArn: arn });
      else throw new Error(`rule target service ${service} is not supported locally`);
    } catch (e) {
      const error = `${(e as Error).name}: ${(e as Error).message}`;
      this.deliveryErrors.push({ target: `${rule.logicalId} -> ${arn}`, error });
      this.log(`delivery ${rule.logicalId} -> ${arn} failed: ${error}`);
    }
  }

  /**
   * An SQS queue with a Lambda event source mapping: the message goes to the function (batch of one, partial
   * batch responses), is received again on failure, and lands in the queue's dead-letter queue after
   * maxReceiveCount receives, all as the template configures it.
   */
  private async sendToQueue(queueArn: string, body: string): Promise<void> {
    const queue = this.queues.get(queueArn);
    if (!queue) throw new Error(`no queue ${queueArn} in the templates`);
    const mapping = queue.consumer;
    if (!mapping) {
      // Nothing consumes it: it stays in the queue (kept where a test can see it).
      this.deadLetters.set(queueArn, [...(this.deadLetters.get(queueArn) ?? []), body]);
      return;
    }
    const maxReceives = queue.maxReceiveCount;
    for (let receive = 1; receive <= maxReceives; receive++) {
      const event = toSqsEvent([JSON.parse(body)], queueArn);
      event.Records[0].attributes.ApproximateReceiveCount = String(receive);
      try {
        const result = (await this.lambdas.invoke(mapping, event)) as SQSBatchResponse | null;
        const failed = (result?.batchItemFailures ?? []).length > 0;
        if (!failed) return;
      } catch {
        // A thrown error fails the whole batch: received again.
      }
    }
    const dlq = queue.deadLetterArn;
    if (dlq) {
      this.deadLetters.set(dlq, [...(this.deadLetters.get(dlq) ?? []), body]);
      const queueName = dlq.split(':').pop()!;
      this.metrics.put({
        namespace: 'AWS/SQS',
        metricName: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: queueName },
        values: [this.deadLetters.get(dlq)!.length],
      });
    }
  }

  /** The local stand-ins for every Task of the state machines, routed by their Resource. */
  private services(): LocalServices {
    // Routed by `sagemaker:<action>` for every API the engine serves: a state calling another one of them runs
    // without a change here.
    const sagemakerServices: Record<string, ServiceHandler> = {};
    for (const api of LocalSageMaker.APIS) {
      sagemakerServices[`sagemaker:${api.charAt(0).toLowerCase()}${api.slice(1)}`] = async (
        request: unknown,
        call: TaskCall,
      ) => {
        const integration = call.task.resource.integration === 'aws-sdk' ? 'aws-sdk' : 'optimized';
        try {
          if (api === 'CreateTrainingJob' && call.task.resource.pattern === 'sync') {
            const described = (await this.sagemaker.runTrainingJob(request)) as {
              TrainingJobStatus?: string;
            };
            // The .sync integration fails the task with the final Describe as the cause.
            if (described.TrainingJobStatus !== 'Completed')
              throw new TaskFailure('States.TaskFailed', JSON.stringify(described));
            return described;
          }
          return await this.sagemaker.call(api, request);
        } catch (e) {
          if (e instanceof AwsApiError)
            throw new TaskFailure(stepFunctionsErrorName(e, integration), e.message);
          throw e;
        }
      };
    }
    return {
      services: {
        ...sagemakerServices,
        's3:getObject': async (request: unknown) => {
          const { Bucket, Key } = request as { Bucket: string; Key: string };
          try {
            const r = await this.s3.send(new GetObjectCommand({ Bucket, Key }));
            return {
              Body: await r.Body!.transformToString('utf8'),
              ContentType: r.ContentType,
              ContentLength: r.ContentLength,
              ETag: r.ETag,
            };
          } catch (e) {
            const name = (e as Error).name;
            if (name === 'NoSuchKey')
              throw new TaskFailure(
                'S3.NoSuchKeyException',
                'The specified key does not exist. (Service: S3, Status Code: 404)',
              );
            throw new TaskFailure(`S3.${name}`, (e as Error).message);
          }
        },
        'sns:publish': (request: unknown) => {
          const r = request as {
            TopicArn: string;
            Subject?: string;
            Message: string;
            MessageAttributes?: Record<string, { StringValue?: string }>;
          };
          const n: Notification = {
            topicArn: r.TopicArn,
            subject: r.Subject,
            message: r.Message,
            status: r.MessageAttributes?.status?.StringValue,
            time: this.clock.now(),
          };
          this.notifications.push(n);
          this.log(`notification: ${n.subject ?? ''}: ${n.message}`);
          return { MessageId: randomUUID() };
        },
        'sfn:listExecutions': (request: unknown) => {
          const r = request as { StateMachineArn?: string; StatusFilter?: string; MaxResults?: number };
          // The AWS SDK integration answers with the API's fields in PascalCase.
          const list = this.executionsMatching(r.StateMachineArn, r.StatusFilter, r.MaxResults);
          return { Executions: list.map((e) => pascalCaseKeys(executionSummary(e))) };
        },
        'cloudwatch:putMetricData': (request: unknown) => this.metrics.putMetricData(request),
      },
      lambda: (functionName, payload) => this.lambdas.invoke(functionName, payload),
    };
  }

  /** Executions newest first, as ListExecutions filters them. */
  private executionsMatching(
    stateMachineArn?: string,
    status?: string,
    maxResults?: number,
  ): LocalExecution[] {
    return this.executions
      .filter((e) => stateMachineArn === undefined || e.stateMachineArn === stateMachineArn)
      .filter((e) => status === undefined || e.status === status)
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime())
      .slice(0, maxResults !== undefined && maxResults > 0 ? maxResults : 100);
  }

  private describeExecution(request: unknown): unknown {
    const { executionArn } = request as { executionArn?: string };
    const e = this.executions.find((x) => x.executionArn === executionArn);
    if (!e)
      throw new AwsApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn ?? ''}'`);
    return {
      executionArn: e.executionArn,
      stateMachineArn: e.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: e.startDate,
      ...(e.stopDate ? { stopDate: e.stopDate } : {}),
      input: JSON.stringify(e.input),
      ...(e.record?.status === 'SUCCEEDED' ? { output: JSON.stringify(e.record.output) } : {}),
      ...(e.record?.error !== undefined ? { error: e.record.error } : {}),
      ...(e.record?.cause !== undefined ? { cause: e.record.cause } : {}),
    };
  }

  /**
   * Serves every REST API of the templates on loopback (the first on `port`), its Lambda integrations invoking the
   * local functions, accepting SigV4 from the platform's credentials, its requests counted as AWS/ApiGateway metrics.
   */
  private async startRestApis(port: number): Promise<void> {
    const { region, accountId } = this.templates.pseudo;
    for (const api of restApisFromTemplates(this.templates)) {
      this.apiServers.push(
        await startApiGateway({
          api,
          invoke: (arn, event) => this.lambdas.invoke(arn, event),
          credentials: [this.localS3.credentials],
          region,
          accountId,
          port: this.apiServers.length === 0 ? port : 0,
          onRequest: (r) => {
            for (const m of apiGatewayMetricData(r))
              this.metrics.putLater({
                namespace: 'AWS/ApiGateway',
                metricName: m.metricName,
                dimensions: m.dimensions,
                values: [m.value],
              });
            // What API Gateway itself failed at (an integration error, a timeout); the Lambda logs its own answers.
            if (r.status >= 500 && r.error !== undefined)
              this.log(`API ${r.apiName} ${r.httpMethod} ${r.resourcePath ?? ''}: ${r.status} ${r.error}`);
          },
          onAccessLog: (line) => this.accessLines.push(line),
        }),
      );
    }
  }

  /** The AWS APIs the CLI and SDKs can call on the platform's endpoint. */
  private registerApis(): void {
    this.awsApi.register(FIREHOSE_TARGET_PREFIX, this.firehose.operations());
    const sagemakerOps: Record<string, (r: unknown) => unknown> = {};
    for (const api of LocalSageMaker.APIS) sagemakerOps[api] = (r) => this.sagemaker.call(api, r);
    this.awsApi.register('SageMaker', sagemakerOps);
    this.awsApi.register('GraniteServiceVersion20100801', {
      PutMetricData: (r) => this.metrics.putMetricData(r),
      GetMetricData: (r) => this.metrics.getMetricData(r),
      ListMetrics: (r) => this.metrics.list(r),
      DescribeAlarms: (r) => {
        this.alarms.evaluate();
        return this.alarms.describeAlarms(r);
      },
    });
    this.awsApi.register('AWSStepFunctions', {
      StartExecution: (r) => {
        const { stateMachineArn, name, input } = r as {
          stateMachineArn?: string;
          name?: string;
          input?: string;
        };
        let parsed: unknown = {};
        if (input !== undefined) {
          try {
            parsed = JSON.parse(input);
          } catch {
            throw new AwsApiError('InvalidExecutionInput', 'Invalid execution input: not JSON');
          }
        }
        const e = this.startExecution(parsed, { name, stateMachineArn: stateMachineArn ?? '' });
        return { executionArn: e.executionArn, startDate: e.startDate };
      },
      DescribeExecution: (r) => this.describeExecution(r),
      ListExecutions: (r) => {
        const { stateMachineArn, statusFilter, maxResults } = r as {
          stateMachineArn?: string;
          statusFilter?: string;
          maxResults?: number;
        };
        return {
          executions: this.executionsMatching(stateMachineArn, statusFilter, maxResults).map(
            executionSummary,
          ),
        };
      },
      ListStateMachines: () => ({
        stateMachines: this.stateMachines.map((m) => ({
          stateMachineArn: m.arn,
          name: m.name,
          type: 'STANDARD',
          creationDate: new Date(0),
        })),
      }),
    });
  }
}

/**
 * The error name Step Functions reports for a SageMaker API error: a ValidationException is an unmodeled error
 * named after the integration; modeled errors are `SageMaker.<code>`.
 */
export function stepFunctionsErrorName(e: AwsApiError, integration: 'aws-sdk' | 'optimized'): string {
  if (e.code === 'ValidationException') return validationErrorName(integration);
  return `SageMaker.${e.code.endsWith('Exception') ? e.code : `${e.code}Exception`}`;
}

/** An ExecutionListItem of the Step Functions API. */
function executionSummary(e: LocalExecution): Record<string, unknown> {
  return {
    executionArn: e.executionArn,
    stateMachineArn: e.stateMachineArn,
    name: e.name,
    status: e.status,
    startDate: e.startDate,
    ...(e.stopDate ? { stopDate: e.stopDate } : {}),
  };
}

function pascalCaseKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.charAt(0).toUpperCase() + k.slice(1), v]));
}

interface QueueRoute {
  /** The function an event source mapping delivers the queue's messages to. */
  readonly consumer?: string;
  readonly maxReceiveCount: number;
  readonly deadLetterArn?: string;
}

/** Every queue of the templates by ARN, with its consumer and redrive policy. */
function queueConsumers(local: LocalTemplates): Map<string, QueueRoute> {
  const consumers = new Map<string, string>();
  for (const m of local.resourcesOfType('AWS::Lambda::EventSourceMapping')) {
    const p = local.resolve(m.stackName, m.resource.Properties ?? {}, m.logicalId) as {
      EventSourceArn?: string;
      FunctionName: string;
    };
    if (p.EventSourceArn !== undefined) consumers.set(p.EventSourceArn, p.FunctionName);
  }
  const queues = new Map<string, QueueRoute>();
  for (const q of local.resourcesOfType('AWS::SQS::Queue')) {
    const arn = local.resource(q.stackName, q.logicalId).attributes.Arn;
    const p = local.resolve(q.stackName, q.resource.Properties ?? {}, q.logicalId) as {
      RedrivePolicy?: { deadLetterTargetArn?: string; maxReceiveCount?: number };
    };
    queues.set(arn, {
      consumer: consumers.get(arn),
      maxReceiveCount: p.RedrivePolicy?.maxReceiveCount ?? 1,
      deadLetterArn: p.RedrivePolicy?.deadLetterTargetArn,
    });
  }
  return queues;
}
