import { ArnFormat, Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { DatasetSchema } from '../../lambdas/core/schema';
import type { DataLakeResources } from './data-lake';
import { LAMBDA_ENVIRONMENT_LIMIT_BYTES, lambdaEnvironmentBytes } from './data-validation';
import { METRICS_NAMESPACE } from './drift-monitor';
import { DevFunction } from './lambda-function';
import { acknowledgeWildcards, PINNED_RUNTIME_REASON, type WildcardGrant } from './nag-acks';
import { ARTIFACT_PREFIXES, VARIANT_NAME } from './training-names';

/** The one resource of the API, as the client and the invoke policy name it. */
export const PREDICT_PATH = '/v1/predict';
/** Where Firehose writes records it could not deliver (DESIGN.md section 5 has no place for them; kept apart). */
export const CAPTURE_ERRORS_PREFIX = 'capture-errors/';
/** A feature spec's key under the artifacts bucket: `training/<execution>/feature-spec.json`. */
const FEATURE_SPEC_FILE = 'feature-spec.json';
/** API Gateway's REST integration limit; a Lambda that runs longer is cut off at the gateway anyway. */
const MAX_INTEGRATION_SECONDS = 29;
/** SageMaker endpoint names (CreateEndpoint's EndpointName pattern). */
const ENDPOINT_NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
/** The managed policy AmazonAPIGatewayPushToCloudWatchLogs grants exactly these. */
const API_GATEWAY_LOGGING_ACTIONS = [
  'logs:CreateLogGroup',
  'logs:CreateLogStream',
  'logs:DescribeLogGroups',
  'logs:DescribeLogStreams',
  'logs:PutLogEvents',
  'logs:GetLogEvents',
  'logs:FilterLogEvents',
] as const;

export type InferenceEndpointType = 'realtime' | 'serverless';

export interface InferenceApiProps {
  /** The data lake: the function reads the model pointer and feature specs; Firehose writes capture. Required. */
  readonly dataLake: DataLakeResources;
  /** The dataset schema: requests are validated against it (without its target) in the Lambda and the model. Required. */
  readonly dataset: DatasetSchema;
  /** The `Project` metric dimension and the prefix of the API's name. Required. */
  readonly project: string;
  /** The SageMaker endpoint the function invokes (`<project>-endpoint`). Required. */
  readonly endpointName: string;
  /**
   * `serverless` adds the Firehose stream the function writes Data Capture records to, since SageMaker has no
   * data capture for serverless endpoints. `realtime` endpoints capture on their own: no stream.
   * @default 'realtime'
   */
  readonly endpointType?: InferenceEndpointType;
  /**
   * The handler file, relative to the repository root.
   * @default 'lambdas/handlers/predict.ts'
   */
  readonly entry?: string;
  /**
   * Records per request: the request model rejects a larger batch before the function runs.
   * @default 100
   */
  readonly maxBatchSize?: number;
  /**
   * Binary problems: the probability at or above which the label is the positive class.
   * @default 0.5
   */
  readonly threshold?: number;
  /**
   * Stage throttling: steady-state requests per second.
   * @default 100
   */
  readonly throttlingRateLimit?: number;
  /**
   * Stage throttling: burst (token bucket size).
   * @default 200
   */
  readonly throttlingBurstLimit?: number;
  /** @default 512 */
  readonly memorySize?: number;
  /**
   * The function's timeout, at most 29 s (API Gateway's integration limit).
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * How often the function checks whether `baselines/current.json` changed (a conditional GET).
   * @default Duration.seconds(10)
   */
  readonly specRefresh?: Duration;
  /**
   * The name of the stage, part of the URL and of the invoke policy's ARN.
   * @default 'prod'
   */
  readonly stageName?: string;
  /**
   * Execution logging of the stage (to `API-Gateway-Execution-Logs_<api>/<stage>`). Every request is in the access
   * log already; ERROR adds what went wrong inside API Gateway without logging each request twice.
   * @default apigw.MethodLoggingLevel.ERROR
   */
  readonly executionLoggingLevel?: apigw.MethodLoggingLevel.ERROR | apigw.MethodLoggingLevel.INFO;
  /**
   * Set API Gateway's account-level CloudWatch Logs role, which access and execution logging need. One per account
   * and region: `false` when the account already has one.
   * @default true
   */
  readonly cloudWatchRole?: boolean;
  /**
   * Serverless only: the capture variant, the path segment after the endpoint name.
   * @default 'AllTraffic'
   */
  readonly captureVariant?: string;
  /**
   * Serverless only: Firehose writes a capture object after this long, or after `captureBufferSizeMb`,
   * whichever comes first.
   * @default Duration.minutes(5)
   */
  readonly captureBufferInterval?: Duration;
  /**
   * Serverless only: Firehose buffer size, MB.
   * @default 5
   */
  readonly captureBufferSizeMb?: number;
  /**
   * Retention of the function's, the access log's and the Firehose error log's log groups.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The alarms' action (the project's SNS topic). Its KMS key, if any, must let CloudWatch alarms named
   * `<project>-*` use it (MonitoringAlarms adds that statement).
   * @default - the alarms change state with no action
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * The API 5XX alarm fires when more than this fraction of the requests answered 5XX in two 5-minute periods in
   * a row.
   * @default 0.05
   */
  readonly max5xxRate?: number;
}

/** The deterministic names of the inference API's alarms (the dashboard shows them by name). */
export interface InferenceAlarmNames {
  readonly api5xx: string;
  /** Serverless endpoints only: capture records the Lambda could not put, or Firehose could not deliver. */
  readonly captureFailures: string;
  readonly captureDelivery: string;
}

export function inferenceAlarmNames(project: string): InferenceAlarmNames {
  return {
    api5xx: `${project}-api-5xx`,
    captureFailures: `${project}-capture-failures`,
    captureDelivery: `${project}-capture-delivery`,
  };
}

/**
 * The access log line's fields: one JSON object per request (see accessLogFormat). The error message is
 * `messageString`, which API Gateway substitutes as a quoted, escaped JSON string: `$context.error.message` is
 * substituted as it is, and the request validator's messages hold quotes (`[object has missing required
 * properties (["records"])]`), which in a quoted value would end the string and break the line.
 */
export const ACCESS_LOG_FIELDS: Readonly<Record<string, string>> = {
  requestId: '$context.requestId',
  extendedRequestId: '$context.extendedRequestId',
  requestTime: '$context.requestTime',
  requestTimeEpoch: '$context.requestTimeEpoch',
  httpMethod: '$context.httpMethod',
  resourcePath: '$context.resourcePath',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integration.status',
  integrationLatency: '$context.integration.latency',
  integrationError: '$context.integration.error',
  sourceIp: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  caller: '$context.identity.caller',
  userArn: '$context.identity.userArn',
  accountId: '$context.identity.accountId',
  errorType: '$context.error.responseType',
  errorMessage: '$context.error.messageString',
  xrayTraceId: '$context.xrayTraceId',
};

/** The variables API Gateway substitutes as quoted JSON strings: they stand in the format without quotes. */
const QUOTED_BY_API_GATEWAY = new Set(['$context.error.messageString']);

/**
 * The stage's access log format for these fields: a JSON object with every value in quotes, as in API Gateway's
 * own JSON example (a value that is not available is logged as `-`, which would break an unquoted number), except
 * the variables API Gateway quotes itself.
 */
export function accessLogFormat(fields: Readonly<Record<string, string>> = ACCESS_LOG_FIELDS): string {
  const members = Object.entries(fields).map(
    ([name, variable]) =>
      `${JSON.stringify(name)}:${QUOTED_BY_API_GATEWAY.has(variable) ? variable : JSON.stringify(variable)}`,
  );
  return `{${members.join(',')}}`;
}

/** Where Firehose delivers one endpoint variant's capture records, and where the records it cannot deliver go. */
export function capturePrefixes(endpointName: string, variant: string): { capture: string; errors: string } {
  return {
    capture: `${ARTIFACT_PREFIXES.capture}${endpointName}/${variant}/`,
    errors: `${CAPTURE_ERRORS_PREFIX}${endpointName}/`,
  };
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(`InferenceApi: ${message}`);
}

/**
 * The inference API (issue 6): API Gateway REST API with IAM (SigV4) authorization, `POST /v1/predict` with a
 * request model, proxied to the inference Lambda, which validates the records, encodes them with the deployed
 * model's feature spec, calls the SageMaker endpoint and decodes the answer. The `prod` stage throttles, writes JSON
 * access logs to its own log group, execution logs, metrics and X-Ray traces. Callers get the managed policy
 * `invokePolicy`.
 *
 * For a serverless endpoint, which SageMaker cannot capture, the function also puts one Data Capture record per
 * request into a Firehose stream that delivers to `capture/<endpoint>/<variant>/yyyy/MM/dd/HH/` in the artifacts
 * bucket, the layout SageMaker itself writes, so the drift check reads either unchanged.
 */
export class InferenceApi extends Construct {
  readonly api: apigw.RestApi;
  readonly stage: apigw.Stage;
  /** The stage URL, ending in `/`; the client posts to `<url>v1/predict`. */
  readonly url: string;
  readonly predictMethod: apigw.Method;
  readonly requestModel: apigw.Model;
  /** The wrapper holding the handler's role and log group. */
  readonly function: DevFunction;
  readonly handler: lambda.Function;
  /** Grants `execute-api:Invoke` on POST /v1/predict of the stage, and nothing else: attach it to callers. */
  readonly invokePolicy: iam.ManagedPolicy;
  readonly accessLogGroup: logs.LogGroup;
  /** API Gateway's account-level CloudWatch Logs role; undefined when `cloudWatchRole: false`. */
  readonly cloudWatchRole?: iam.Role;
  /** Serverless endpoints only. */
  readonly deliveryStream?: firehose.CfnDeliveryStream;
  /** Serverless endpoints only: the role Firehose writes to S3 with. */
  readonly deliveryRole?: iam.Role;
  /** Serverless endpoints only: Firehose's delivery errors. */
  readonly deliveryLogGroup?: logs.LogGroup;
  readonly alarmNames: InferenceAlarmNames;
  /** More than `max5xxRate` of the requests answered 5XX for 10 minutes. */
  readonly api5xxAlarm: cloudwatch.Alarm;
  /** Serverless endpoints only: a capture record the Lambda could not put to Firehose. */
  readonly captureFailuresAlarm?: cloudwatch.Alarm;
  /** Serverless endpoints only: a Firehose delivery to S3 failed (the records go to the capture-errors prefix). */
  readonly captureDeliveryAlarm?: cloudwatch.Alarm;
  private readonly project: string;
  private readonly stageName: string;

  constructor(scope: Construct, id: string, props: InferenceApiProps) {
    super(scope, id);
    const endpointType = props.endpointType ?? 'realtime';
    const maxBatchSize = props.maxBatchSize ?? 100;
    const threshold = props.threshold ?? 0.5;
    const rateLimit = props.throttlingRateLimit ?? 100;
    const burstLimit = props.throttlingBurstLimit ?? 200;
    const timeout = props.timeout ?? Duration.seconds(10);
    const specRefreshSeconds = (props.specRefresh ?? Duration.seconds(10)).toSeconds();
    const stageName = props.stageName ?? 'prod';
    const loggingLevel = props.executionLoggingLevel ?? apigw.MethodLoggingLevel.ERROR;
    const variant = props.captureVariant ?? VARIANT_NAME;
    const bufferSeconds = (props.captureBufferInterval ?? Duration.minutes(5)).toSeconds();
    const bufferMb = props.captureBufferSizeMb ?? 5;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const max5xxRate = props.max5xxRate ?? 0.05;

    check(!!props.project, 'project is required');
    check(
      ENDPOINT_NAME_PATTERN.test(props.endpointName ?? ''),
      `endpointName must be a SageMaker endpoint name (letters, digits and -, at most 63), got "${props.endpointName}"`,
    );
    check(
      endpointType === 'realtime' || endpointType === 'serverless',
      `endpointType must be "realtime" or "serverless", got "${String(endpointType)}"`,
    );
    check(
      Number.isInteger(maxBatchSize) && maxBatchSize >= 1 && maxBatchSize <= 1000,
      `maxBatchSize must be an integer in [1, 1000], got ${maxBatchSize}`,
    );
    check(threshold >= 0 && threshold <= 1, `threshold must be in [0, 1], got ${threshold}`);
    check(max5xxRate > 0 && max5xxRate < 1, `max5xxRate must be in (0, 1), got ${max5xxRate}`);
    check(rateLimit > 0 && Number.isFinite(rateLimit), `throttlingRateLimit must be > 0, got ${rateLimit}`);
    check(
      Number.isInteger(burstLimit) && burstLimit >= 1,
      `throttlingBurstLimit must be an integer >= 1, got ${burstLimit}`,
    );
    check(
      timeout.toSeconds() >= 1 && timeout.toSeconds() <= MAX_INTEGRATION_SECONDS,
      `timeout must be between 1 and ${MAX_INTEGRATION_SECONDS} seconds (API Gateway's integration limit), got ${timeout.toSeconds()}`,
    );
    check(
      Number.isInteger(specRefreshSeconds) && specRefreshSeconds >= 0 && specRefreshSeconds <= 3600,
      `specRefresh must be a whole number of seconds in [0, 3600], got ${specRefreshSeconds}`,
    );
    check(
      /^[A-Za-z0-9_]{1,128}$/.test(stageName),
      `stageName must be letters, digits or _, got "${stageName}"`,
    );
    check(
      /^[A-Za-z0-9_-]{1,63}$/.test(variant),
      `captureVariant must be a SageMaker variant name (letters, digits, - and _), got "${variant}"`,
    );
    check(
      Number.isInteger(bufferSeconds) && bufferSeconds >= 0 && bufferSeconds <= 900,
      `captureBufferInterval must be a whole number of seconds in [0, 900] (Firehose's limits), got ${bufferSeconds}`,
    );
    check(
      Number.isInteger(bufferMb) && bufferMb >= 1 && bufferMb <= 128,
      `captureBufferSizeMb must be an integer in [1, 128] (Firehose's limits), got ${bufferMb}`,
    );
    check(props.dataset.fields.length > 0, 'dataset must have fields');

    const { dataLake } = props;
    // SageMaker ARNs carry the endpoint name in lower case, whatever case it was created with.
    const endpointArn = Stack.of(this).formatArn({
      service: 'sagemaker',
      resource: 'endpoint',
      resourceName: props.endpointName.toLowerCase(),
    });

    if (endpointType === 'serverless') {
      const capture = this.captureStream(props, variant, bufferSeconds, bufferMb, logRetention);
      this.deliveryStream = capture.stream;
      this.deliveryRole = capture.role;
      this.deliveryLogGroup = capture.logGroup;
    }

    const environment: Record<string, string> = {
      PROJECT: props.project,
      ARTIFACTS_BUCKET: dataLake.artifacts.bucketName,
      ENDPOINT_NAME: props.endpointName,
      DATASET_SCHEMAS: JSON.stringify([props.dataset]),
      MAX_BATCH_SIZE: String(maxBatchSize),
      THRESHOLD: String(threshold),
      SPEC_REFRESH_SECONDS: String(specRefreshSeconds),
      POWERTOOLS_SERVICE_NAME: 'inference',
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      ...(this.deliveryStream ? { CAPTURE_STREAM_NAME: this.deliveryStream.ref } : {}),
    };
    const envBytes = lambdaEnvironmentBytes({ NODE_OPTIONS: '--enable-source-maps', ...environment });
    check(
      envBytes <= LAMBDA_ENVIRONMENT_LIMIT_BYTES,
      `the inference Lambda's environment would be ${envBytes} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte limit; shorten the dataset schema in devmlops.dataset`,
    );

    this.function = new DevFunction(this, 'Handler', {
      entry: props.entry ?? 'lambdas/handlers/predict.ts',
      description: `Inference API: validates, encodes and scores records with ${props.endpointName}`,
      memorySize: props.memorySize ?? 512,
      timeout,
      logRetention,
      environment,
      // Only API Gateway invokes it, synchronously: the caller sees every failure, nothing is left to retry.
      deadLetterQueue: false,
    });
    this.handler = this.function.function;
    this.grantHandlerAccess(dataLake, endpointArn);

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: `${props.project}-inference`,
      description: `${props.project} inference API: POST ${PREDICT_PATH} (IAM authorization)`,
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      disableExecuteApiEndpoint: false,
      // The account-level role is managed below, with explicit statements and its own removal policy.
      cloudWatchRole: false,
      deploy: true,
      deployOptions: {
        stageName,
        throttlingRateLimit: rateLimit,
        throttlingBurstLimit: burstLimit,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigw.AccessLogFormat.custom(accessLogFormat()),
        tracingEnabled: true,
        metricsEnabled: true,
        loggingLevel,
        // Request and response bodies are customer records: never into the execution log.
        dataTraceEnabled: false,
      },
    });
    this.stage = this.api.deploymentStage;
    this.url = this.api.url;
    // RestApi adds an `Endpoint` output of the same URL; the stack outputs it once, under a documented key.
    this.api.node.tryRemoveChild('Endpoint');

    if (props.cloudWatchRole ?? true) {
      this.cloudWatchRole = this.accountLoggingRole();
      const account = new apigw.CfnAccount(this, 'Account', {
        cloudWatchRoleArn: this.cloudWatchRole.roleArn,
      });
      account.node.addDependency(this.cloudWatchRole);
      account.applyRemovalPolicy(RemovalPolicy.RETAIN);
      // Logging settings on a stage fail while the account has no role.
      this.stage.node.addDependency(account);
    }

    this.requestModel = this.api.addModel('PredictRequest', {
      contentType: 'application/json',
      description: `POST ${PREDICT_PATH} body: 1 to ${maxBatchSize} records of ${props.dataset.name} fields`,
      schema: predictRequestSchema(props.dataset, maxBatchSize),
    });
    // The method declares no parameters, so checking them costs nothing; it keeps the validator complete if one is
    // ever added.
    const validator = this.api.addRequestValidator('RequestValidator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const resource = this.api.root.resourceForPath(PREDICT_PATH);
    this.predictMethod = resource.addMethod(
      'POST',
      new apigw.LambdaIntegration(this.handler, {
        proxy: true,
        // The console's test invocation bypasses IAM authorization: not allowed to invoke the function.
        allowTestInvoke: false,
      }),
      {
        authorizationType: apigw.AuthorizationType.IAM,
        requestValidator: validator,
        requestModels: { 'application/json': this.requestModel },
      },
    );
    this.addGatewayResponses(props.dataset, maxBatchSize);

    this.invokePolicy = new iam.ManagedPolicy(this, 'InvokePolicy', {
      description: `Invoke the ${props.project} inference API: POST ${PREDICT_PATH} on stage ${stageName}`,
      statements: [
        new iam.PolicyStatement({
          sid: 'InvokePredict',
          actions: ['execute-api:Invoke'],
          resources: [this.api.arnForExecuteApi('POST', PREDICT_PATH, stageName)],
        }),
      ],
    });

    this.project = props.project;
    this.stageName = stageName;
    this.alarmNames = inferenceAlarmNames(props.project);
    const fiveMinutes = Duration.minutes(5);
    this.api5xxAlarm = new cloudwatch.Alarm(this, 'Api5xxAlarm', {
      alarmName: this.alarmNames.api5xx,
      alarmDescription: `More than ${max5xxRate * 100}% of the ${props.project} inference API's requests answered 5XX (model errors, no model, timeouts) for 10 minutes`,
      // 5XXError is 1 for a 5XX answer and 0 otherwise: its average is the 5XX rate.
      metric: this.metricApi('5XXError', { statistic: cloudwatch.Stats.AVERAGE, period: fiveMinutes }),
      threshold: max5xxRate,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      // No requests, no 5XX.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (this.deliveryStream) {
      this.captureFailuresAlarm = new cloudwatch.Alarm(this, 'CaptureFailuresAlarm', {
        alarmName: this.alarmNames.captureFailures,
        alarmDescription: `The ${props.project} inference Lambda could not put capture records to Firehose: drift monitoring misses that traffic`,
        metric: this.metricInference('CaptureFailures', { period: fiveMinutes }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      this.captureDeliveryAlarm = new cloudwatch.Alarm(this, 'CaptureDeliveryAlarm', {
        alarmName: this.alarmNames.captureDelivery,
        alarmDescription: `Firehose failed to deliver ${props.project} capture records to S3 (after its retries they are written under ${CAPTURE_ERRORS_PREFIX})`,
        // The share of delivery attempts that succeeded: below 1, at least one failed.
        metric: this.metricCapture('DeliveryToS3.Success', {
          statistic: cloudwatch.Stats.AVERAGE,
          period: Duration.minutes(15),
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    if (props.alarmTopic) {
      const notify = new actions.SnsAction(props.alarmTopic);
      for (const alarm of this.alarms) alarm.addAlarmAction(notify);
    }

    this.acknowledgeFindings(dataLake, props.endpointName, variant);
  }

  /** Every alarm of the API. */
  get alarms(): cloudwatch.Alarm[] {
    return [this.api5xxAlarm, this.captureFailuresAlarm, this.captureDeliveryAlarm].filter(
      (a): a is cloudwatch.Alarm => a !== undefined,
    );
  }

  /** An AWS/ApiGateway metric of the stage (Count, 4XXError, 5XXError, Latency, IntegrationLatency). */
  metricApi(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/ApiGateway',
      metricName,
      dimensionsMap: { ApiName: this.api.restApiName, Stage: this.stageName },
      statistic: cloudwatch.Stats.SUM,
      ...props,
    });
  }

  /**
   * A metric of the inference Lambda (PredictionRecords, InvalidRequests, ThrottledRequests, ModelErrors,
   * CaptureFailures), summed by default.
   */
  metricInference(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { Project: this.project },
      statistic: cloudwatch.Stats.SUM,
      ...props,
    });
  }

  /** Serverless endpoints only: an AWS/Firehose metric of the capture stream (IncomingRecords, DeliveryToS3.*). */
  metricCapture(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    if (!this.deliveryStream) throw new Error('InferenceApi: a realtime endpoint has no capture stream');
    return new cloudwatch.Metric({
      namespace: 'AWS/Firehose',
      metricName,
      dimensionsMap: { DeliveryStreamName: this.deliveryStream.ref },
      statistic: cloudwatch.Stats.SUM,
      ...props,
    });
  }

  /** Exactly the calls of lambdas/handlers/predict.ts (api-shared.md). */
  private grantHandlerAccess(dataLake: DataLakeResources, endpointArn: string): void {
    const add = (statement: iam.PolicyStatementProps) =>
      this.function.role.addToPrincipalPolicy(new iam.PolicyStatement(statement));
    add({
      sid: 'ReadPointerAndFeatureSpecs',
      actions: ['s3:GetObject'],
      resources: [
        dataLake.artifacts.arnForObjects(ARTIFACT_PREFIXES.currentPointer),
        dataLake.artifacts.arnForObjects(`${ARTIFACT_PREFIXES.training}*/${FEATURE_SPEC_FILE}`),
      ],
    });
    // Before the first promotion current.json does not exist: with ListBucket S3 answers 404 (the API's
    // 503 no-model), without it 403. Limited to the pointer's own key.
    add({
      sid: 'ListPointer',
      actions: ['s3:ListBucket'],
      resources: [dataLake.artifacts.bucketArn],
      conditions: { StringEquals: { 's3:prefix': ARTIFACT_PREFIXES.currentPointer } },
    });
    add({ sid: 'DecryptArtifacts', actions: ['kms:Decrypt'], resources: [dataLake.key.keyArn] });
    add({ sid: 'InvokeEndpoint', actions: ['sagemaker:InvokeEndpoint'], resources: [endpointArn] });
    if (this.deliveryStream)
      add({
        sid: 'PutCaptureRecords',
        actions: ['firehose:PutRecord', 'firehose:PutRecordBatch'],
        resources: [this.deliveryStream.attrArn],
      });
  }

  /**
   * API Gateway's CloudWatch Logs role for this account and region, with what the AWS managed policy
   * AmazonAPIGatewayPushToCloudWatchLogs grants, as explicit statements limited to this account's and region's log
   * groups. Retained on delete: every REST API of the region logs through the account setting, which would otherwise
   * point at a deleted role. An IAM role costs nothing.
   */
  private accountLoggingRole(): iam.Role {
    const role = new iam.Role(this, 'CloudWatchRole', {
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      description:
        'API Gateway account-level role: writes REST API access and execution logs to CloudWatch Logs',
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PushApiGatewayLogs',
        actions: [...API_GATEWAY_LOGGING_ACTIONS],
        resources: [this.logGroupsArn()],
      }),
    );
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    (role.node.findChild('DefaultPolicy') as iam.Policy).applyRemovalPolicy(RemovalPolicy.RETAIN);
    return role;
  }

  private logGroupsArn(): string {
    return Stack.of(this).formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: '*',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /**
   * The Data Capture stream of a serverless endpoint: DirectPut, delivered uncompressed as `.jsonl` objects under
   * the hour partitions SageMaker uses (UTC), encrypted with the data lake key; failed records go to
   * `capture-errors/`, delivery errors to CloudWatch Logs.
   */
  private captureStream(
    props: InferenceApiProps,
    variant: string,
    bufferSeconds: number,
    bufferMb: number,
    logRetention: logs.RetentionDays,
  ): { stream: firehose.CfnDeliveryStream; role: iam.Role; logGroup: logs.LogGroup } {
    const { dataLake, endpointName } = props;
    const stack = Stack.of(this);
    const { capture: capturePrefix, errors: errorPrefix } = capturePrefixes(endpointName, variant);

    const logGroup = new logs.LogGroup(this, 'CaptureDeliveryLogs', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const logStream = new logs.LogStream(this, 'CaptureDeliveryLogStream', {
      logGroup,
      logStreamName: 'S3Delivery',
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const role = new iam.Role(this, 'CaptureDeliveryRole', {
      // Firehose passes the account as the external ID; the condition keeps the role from other accounts' streams.
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com').withConditions({
        StringEquals: { 'sts:ExternalId': Aws.ACCOUNT_ID },
      }),
      description: `Firehose: delivers ${endpointName}'s capture records to the artifacts bucket`,
    });
    const add = (statement: iam.PolicyStatementProps) =>
      role.addToPrincipalPolicy(new iam.PolicyStatement(statement));
    add({
      sid: 'WriteCaptureObjects',
      actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
      resources: [
        dataLake.artifacts.arnForObjects(`${capturePrefix}*`),
        dataLake.artifacts.arnForObjects(`${errorPrefix}*`),
      ],
    });
    // What Firehose's S3 destination documents at the bucket level (it checks the bucket and lists open uploads).
    add({
      sid: 'CheckBucket',
      actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
      resources: [dataLake.artifacts.bucketArn],
    });
    // Only through S3, only for this bucket: the context is the bucket ARN when S3 Bucket Keys are on (as in the
    // data lake), the object ARN when they are not.
    add({
      sid: 'EncryptCaptureObjects',
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: [dataLake.key.keyArn],
      conditions: {
        StringEquals: { 'kms:ViaService': `s3.${Aws.REGION}.${Aws.URL_SUFFIX}` },
        StringLike: {
          'kms:EncryptionContext:aws:s3:arn': [
            dataLake.artifacts.bucketArn,
            dataLake.artifacts.arnForObjects(`${capturePrefix}*`),
            dataLake.artifacts.arnForObjects(`${errorPrefix}*`),
          ],
        },
      },
    });
    add({
      sid: 'LogDeliveryErrors',
      actions: ['logs:PutLogEvents'],
      resources: [
        stack.formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: `${logGroup.logGroupName}:log-stream:${logStream.logStreamName}`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
    });

    const stream = new firehose.CfnDeliveryStream(this, 'CaptureStream', {
      deliveryStreamType: 'DirectPut',
      // The records at rest inside Firehose; no key to manage for a buffer of at most 15 minutes.
      deliveryStreamEncryptionConfigurationInput: { keyType: 'AWS_OWNED_CMK' },
      extendedS3DestinationConfiguration: {
        bucketArn: dataLake.artifacts.bucketArn,
        roleArn: role.roleArn,
        prefix: `${capturePrefix}!{timestamp:yyyy/MM/dd/HH}/`,
        errorOutputPrefix: `${errorPrefix}!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/`,
        // The drift check reads hour partitions in UTC, as SageMaker writes them.
        customTimeZone: 'UTC',
        fileExtension: '.jsonl',
        compressionFormat: 'UNCOMPRESSED',
        bufferingHints: { intervalInSeconds: bufferSeconds, sizeInMBs: bufferMb },
        encryptionConfiguration: { kmsEncryptionConfig: { awskmsKeyArn: dataLake.key.keyArn } },
        cloudWatchLoggingOptions: {
          enabled: true,
          logGroupName: logGroup.logGroupName,
          logStreamName: logStream.logStreamName,
        },
      },
    });
    // Firehose checks its access to the bucket on creation: the role's policy must exist first.
    stream.node.addDependency(role);
    return { stream, role, logGroup };
  }

  /**
   * Errors that API Gateway answers itself, in the API's error shape (`{"code", "message"}`), so clients handle one
   * format. Templates are not VTL: only `$context` substitution, and `messageString` arrives quoted.
   */
  private addGatewayResponses(dataset: DatasetSchema, maxBatchSize: number): void {
    const json = (body: string) => ({ 'application/json': body });
    const badBody = JSON.stringify({
      code: 'invalid-request',
      message: `The body must be {"records": [...]} with 1 to ${maxBatchSize} records, each an object of ${dataset.name} fields with string, number, boolean or null values`,
    });
    this.api.addGatewayResponse('BadRequestBody', {
      type: apigw.ResponseType.BAD_REQUEST_BODY,
      statusCode: '400',
      templates: json(badBody),
    });
    this.api.addGatewayResponse('Throttled', {
      type: apigw.ResponseType.THROTTLED,
      statusCode: '429',
      templates: json('{"code":"throttled","message":$context.error.messageString}'),
    });
    this.api.addGatewayResponse('Default4xx', {
      type: apigw.ResponseType.DEFAULT_4XX,
      templates: json(
        '{"code":"request-rejected","type":"$context.error.responseType","message":$context.error.messageString}',
      ),
    });
    this.api.addGatewayResponse('Default5xx', {
      type: apigw.ResponseType.DEFAULT_5XX,
      templates: json(
        '{"code":"gateway-error","type":"$context.error.responseType","message":$context.error.messageString}',
      ),
    });
  }

  private acknowledgeFindings(dataLake: DataLakeResources, endpointName: string, variant: string): void {
    const policy = this.function.role.node.findChild('DefaultPolicy');
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support resource-level permissions (CDK adds them for Tracing.ACTIVE).',
    });
    acknowledgeWildcards(policy, [
      [
        dataLake.artifacts.arnForObjects(`${ARTIFACT_PREFIXES.training}*/${FEATURE_SPEC_FILE}`),
        "Read only, and only feature-spec.json files: the deployed model's spec lives under its training run's prefix, named by baselines/current.json and not known until the model is promoted.",
      ],
    ]);
    Validations.of(this.handler).acknowledge({ id: 'AwsSolutions-L1', reason: PINNED_RUNTIME_REASON });
    Validations.of(this.stage).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'Every request must be SigV4-signed by an IAM principal granted the invoke policy; unsigned requests are rejected before the integration, and stage throttling bounds load. A WAF web ACL (billed per ACL and rule) can be associated with the stage by accounts that need IP or rate rules.',
    });
    Validations.of(this.predictMethod).acknowledge({
      id: 'AwsSolutions-COG4',
      reason:
        'The API is for applications with AWS credentials, authorized by IAM (SigV4, execute-api:Invoke through the invoke policy), not for end users of a Cognito user pool.',
    });
    if (this.cloudWatchRole)
      acknowledgeWildcards(this.cloudWatchRole.node.findChild('DefaultPolicy'), [
        [
          this.logGroupsArn(),
          "API Gateway's account-level logging role serves every REST API of the account and region, each logging to its own API-Gateway-Execution-Logs_<api>/<stage> group and access log group: limited to log groups of this account and region (AWS's managed policy uses *).",
        ],
      ]);
    if (this.deliveryRole) {
      const { capture, errors } = capturePrefixes(endpointName, variant);
      const grants: WildcardGrant[] = [
        [
          dataLake.artifacts.arnForObjects(`${capture}*`),
          'Write only, this endpoint and variant only: Firehose names each object itself (<stream>-<version>-<time>-<uuid>.jsonl) under hour partitions yyyy/MM/dd/HH.',
        ],
        [
          dataLake.artifacts.arnForObjects(`${errors}*`),
          'Write only, this endpoint only: Firehose writes records it could not deliver under <error type>/yyyy/MM/dd/HH/ with generated names.',
        ],
      ];
      acknowledgeWildcards(this.deliveryRole.node.findChild('DefaultPolicy'), grants);
    }
  }
}

/**
 * The request model (JSON Schema draft 4): `{"records": [...]}` with 1..maxBatchSize objects whose keys are the
 * dataset's fields (the target may be sent, and is ignored) and whose values are scalars. Types per field and
 * constraints are the Lambda's job: it reports them per record and field, which API Gateway cannot.
 */
export function predictRequestSchema(dataset: DatasetSchema, maxBatchSize: number): apigw.JsonSchema {
  const scalar: apigw.JsonSchema = {
    type: [
      apigw.JsonSchemaType.STRING,
      apigw.JsonSchemaType.NUMBER,
      apigw.JsonSchemaType.BOOLEAN,
      apigw.JsonSchemaType.NULL,
    ],
  };
  return {
    schema: apigw.JsonSchemaVersion.DRAFT4,
    title: 'PredictRequest',
    type: apigw.JsonSchemaType.OBJECT,
    required: ['records'],
    additionalProperties: false,
    properties: {
      records: {
        type: apigw.JsonSchemaType.ARRAY,
        minItems: 1,
        maxItems: maxBatchSize,
        items: {
          type: apigw.JsonSchemaType.OBJECT,
          additionalProperties: false,
          properties: Object.fromEntries(dataset.fields.map((f) => [f.name, scalar])),
        },
      },
    },
  };
}
