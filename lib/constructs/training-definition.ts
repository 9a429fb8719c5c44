import { Aws, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { DevMlopsConfig } from '../config';
import { METRICS_NAMESPACE } from './drift-monitor';
import { ARTIFACT_PREFIXES, pipelineTags, VARIANT_NAME, type TrainingNames } from './training-names';

export type TrainingSettings = DevMlopsConfig['training'];
export type EndpointSettings = DevMlopsConfig['endpoint'];

/**
 * Error names Step Functions reports when DescribeEndpoint finds no endpoint. SageMaker answers a
 * ValidationException ("Could not find endpoint ..."), which its SDK does not model, so the AWS SDK integration
 * reports the service's base exception, `SageMaker.SageMakerException`. ResourceNotFound is the modelled
 * not-found error of other SageMaker Describe calls, caught too in case the service starts using it here.
 */
export const ENDPOINT_NOT_FOUND_ERRORS = [
  'SageMaker.SageMakerException',
  'SageMaker.ResourceNotFoundException',
];
/** The error S3's GetObject reports through the AWS SDK integration for a missing key. */
export const POINTER_NOT_FOUND_ERRORS = ['S3.NoSuchKeyException'];
/** Endpoint statuses in which a deployment is still moving: keep polling. */
export const ENDPOINT_IN_PROGRESS = ['Creating', 'Updating', 'SystemUpdating', 'RollingBack'];
/** The trigger of an execution started without one (e.g. from the console). */
export const DEFAULT_TRIGGER = 'manual';

/** The custom metric RecordSkipped puts once per guard skip (AWS/States counts a skip as Succeeded). */
export const SKIPPED_METRIC = {
  namespace: METRICS_NAMESPACE,
  metricName: 'PipelineSkipped',
  dimension: 'Project',
} as const;

/** A JSON null in Parameters/ResultSelector: CDK drops a literal null from rendered objects. */
const JSON_NULL = sfn.JsonPath.stringToJson('null');

/** Timeout of every SDK call and SNS publish: they answer in well under a second. */
const API_TIMEOUT = Duration.seconds(60);
/** Beyond the job's own limit: instance provisioning, image pull, data download and model upload. */
const TRAINING_OVERHEAD = Duration.minutes(30);
/** SageMaker's bounds of BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds. */
const MAX_EXECUTION_TIMEOUT_RANGE = [600, 14400] as const;

export interface TrainingDefinitionProps {
  readonly project: string;
  /** The configured dataset: the default of an execution input without `dataset`. */
  readonly dataset: string;
  readonly names: TrainingNames;
  readonly stateMachineArn: string;
  readonly artifacts: s3.IBucket;
  /** The data lake key: training volume and output, endpoint storage and data capture. */
  readonly dataKey: kms.IKey;
  readonly topic: sns.ITopic;
  readonly prepare: lambda.IFunction;
  readonly evaluate: lambda.IFunction;
  readonly promote: lambda.IFunction;
  readonly prepareTimeout: Duration;
  readonly lambdaTimeout: Duration;
  readonly sagemakerRole: iam.IRole;
  readonly imageUri: string;
  readonly hyperparameters: Readonly<Record<string, string>>;
  readonly metricName: string;
  readonly training: TrainingSettings;
  readonly endpoint: EndpointSettings;
  readonly approvalPollInterval: Duration;
}

/**
 * The training state machine's states (issue 3 contract; the state names are part of it), in JSONPath.
 * Every Task has a TimeoutSeconds and a Catch (States.ALL, ResultPath $.error) to NotifyFailure -> PipelineFailed.
 * Holds no business logic: Prepare, Evaluate and Promote are Lambdas, the rest are SageMaker, S3, SNS and
 * Step Functions API calls.
 */
export class TrainingDefinition extends Construct {
  readonly startState: sfn.IChainable;
  /** Every Task state, for assertions and for the role statements they need. */
  readonly tasks: sfn.State[] = [];
  /** Statements the state machine role needs beyond what the tasks declare (the Train state is a CustomState). */
  readonly roleStatements: iam.PolicyStatement[] = [];
  /** DescribePackage calls before the manual approval times out (0 with auto approval). */
  readonly maxApprovalPolls: number;

  private readonly notifyFailure: tasks.SnsPublish;

  constructor(scope: Construct, id: string, props: TrainingDefinitionProps) {
    super(scope, id);
    const { names, training, endpoint } = props;
    const stack = Stack.of(this);
    const tags = pipelineTags(props.project);
    const jobName = sfn.JsonPath.stringAt('$.prepare.jobName');
    const modelDataUrl = sfn.JsonPath.stringAt('$.training.ModelArtifacts.S3ModelArtifacts');
    const packageArn = sfn.JsonPath.stringAt('$.registration.ModelPackageArn');
    const arn = (resourceType: string, resourceName: string) =>
      stack.formatArn({ service: 'sagemaker', resource: resourceType, resourceName });
    const arns = {
      trainingJob: arn('training-job', `${names.resourcePrefix}*`),
      model: arn('model', `${names.resourcePrefix}*`),
      endpointConfig: arn('endpoint-config', `${names.resourcePrefix}*`),
      endpoint: arn('endpoint', names.endpoint),
      group: arn('model-package-group', names.modelPackageGroup),
      packages: arn('model-package', `${names.modelPackageGroup}/*`),
    };

    // ---- failure path, first: every task catches into it.
    const pipelineFailed = new sfn.Fail(this, 'PipelineFailed', {
      comment: 'The error and cause of the state that failed',
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    this.notifyFailure = this.publish('NotifyFailure', props.topic, {
      subject: `[${props.project}] Training pipeline failed`,
      status: 'Failed',
      message: sfn.JsonPath.format(
        'Training pipeline execution {} failed with {}: {}',
        sfn.JsonPath.executionName,
        sfn.JsonPath.stringAt('$.error.Error'),
        sfn.JsonPath.stringAt('$.error.Cause'),
      ),
      catchTo: false,
    });
    // The notification of a failure must not hide the failure: if it fails too, fail with the original error.
    this.notifyFailure.addCatch(pipelineFailed, {
      errors: [sfn.Errors.ALL],
      resultPath: '$.notificationError',
    });
    this.notifyFailure.next(pipelineFailed);

    const skipped = new sfn.Succeed(this, 'Skipped', { comment: 'Nothing to do: see reason' });
    // A skip ends as Succeeded in AWS/States, so the dashboard could not tell it from a run: count it here.
    const recordSkipped = this.task(
      new ConditionedCallAwsService(this, 'RecordSkipped', {
        comment: `Count the skip as ${SKIPPED_METRIC.namespace}/${SKIPPED_METRIC.metricName}`,
        service: 'cloudwatch',
        action: 'putMetricData',
        iamAction: 'cloudwatch:PutMetricData',
        // PutMetricData has no resource-level permissions; the condition limits it to this one namespace.
        iamResources: ['*'],
        iamConditions: { StringEquals: { 'cloudwatch:namespace': SKIPPED_METRIC.namespace } },
        parameters: {
          Namespace: SKIPPED_METRIC.namespace,
          MetricData: [
            {
              MetricName: SKIPPED_METRIC.metricName,
              Dimensions: [{ Name: SKIPPED_METRIC.dimension, Value: props.project }],
              Value: 1,
              Unit: 'Count',
            },
          ],
        },
        resultPath: sfn.JsonPath.DISCARD,
        taskTimeout: sfn.Timeout.duration(API_TIMEOUT),
      }),
    ).next(skipped);

    // ---- 0. defaults under the input: Prepare reads $.dataset and $.trigger, and a missing path there would
    // be a States.Runtime error, which no Catch sees, so nothing would be notified. The defaults are an object
    // literal in Parameters, merged by a second state: an intrinsic string literal holding JSON would need its
    // braces escaped (reserved characters), which aws-local-stepfunctions does not unescape.
    const applyDefaults = new sfn.Pass(this, 'ApplyDefaults', {
      comment: 'The input, with the defaults of the keys it lacks alongside',
      parameters: {
        defaults: { trigger: DEFAULT_TRIGGER, dataset: props.dataset },
        input: sfn.JsonPath.objectAt('$'),
      },
    });
    const mergeDefaults = new sfn.Pass(this, 'MergeDefaults', {
      comment: 'The input wins over the defaults (shallow merge)',
      parameters: {
        input: sfn.JsonPath.jsonMerge(sfn.JsonPath.objectAt('$.defaults'), sfn.JsonPath.objectAt('$.input')),
      },
      outputPath: '$.input',
    });

    // ---- 1. guard: another execution running.
    const checkRunning = this.task(
      new tasks.CallAwsService(this, 'CheckRunning', {
        comment: 'Running executions of this state machine, this one included',
        service: 'sfn',
        action: 'listExecutions',
        iamAction: 'states:ListExecutions',
        iamResources: [props.stateMachineArn],
        parameters: { StateMachineArn: props.stateMachineArn, StatusFilter: 'RUNNING', MaxResults: 2 },
        resultSelector: { running: sfn.JsonPath.arrayLength(sfn.JsonPath.listAt('$.Executions')) },
        resultPath: '$.guard',
        taskTimeout: sfn.Timeout.duration(API_TIMEOUT),
      }),
    );
    const skipRunning = new sfn.Pass(this, 'SkipRunning', {
      parameters: {
        status: 'Skipped',
        reason: 'Another execution of the training pipeline is running',
      },
    }).next(recordSkipped);

    // ---- 2. guard: drift trigger within the cooldown after the last deploy.
    const readCurrentPointer = this.task(
      new tasks.CallAwsService(this, 'ReadCurrentPointer', {
        comment: 'The pointer Promote wrote at the last deploy (absent before the first)',
        service: 's3',
        action: 'getObject',
        iamAction: 's3:GetObject',
        iamResources: [props.artifacts.arnForObjects(ARTIFACT_PREFIXES.currentPointer)],
        parameters: { Bucket: props.artifacts.bucketName, Key: ARTIFACT_PREFIXES.currentPointer },
        resultSelector: { pointer: sfn.JsonPath.stringToJson(sfn.JsonPath.stringAt('$.Body')) },
        resultPath: '$.current',
        taskTimeout: sfn.Timeout.duration(API_TIMEOUT),
      }),
      { preCatch: false },
    );
    const skipCooldown = new sfn.Pass(this, 'SkipCooldown', {
      parameters: {
        status: 'Skipped',
        reason: sfn.JsonPath.format(
          'Drift retraining is in cooldown until {} after the last deploy',
          sfn.JsonPath.stringAt('$.current.pointer.cooldownUntil'),
        ),
      },
    }).next(recordSkipped);

    // ---- 3. Prepare.
    const prepare = this.task(
      new tasks.LambdaInvoke(this, 'Prepare', {
        comment: 'Encode and split the curated rows; write train/validation CSVs, baseline and feature spec',
        lambdaFunction: props.prepare,
        payloadResponseOnly: true,
        payload: sfn.TaskInput.fromObject({
          executionName: sfn.JsonPath.executionName,
          executionStartTime: sfn.JsonPath.executionStartTime,
          dataset: sfn.JsonPath.stringAt('$.dataset'),
          trigger: sfn.JsonPath.stringAt('$.trigger'),
        }),
        resultPath: '$.prepare',
        taskTimeout: sfn.Timeout.duration(props.prepareTimeout.plus(API_TIMEOUT)),
      }),
    );
    readCurrentPointer.addCatch(prepare, { errors: POINTER_NOT_FOUND_ERRORS, resultPath: '$.pointerError' });
    this.catchAll(readCurrentPointer);

    // ---- 4. Train.
    const train = this.trainState(props, tags);

    // ---- 5. champion.
    const getChampion = this.task(
      new tasks.CallAwsService(this, 'GetChampion', {
        comment: 'The latest Approved package of the group, if any',
        service: 'sagemaker',
        action: 'listModelPackages',
        iamAction: 'sagemaker:ListModelPackages',
        // ListModelPackages has no resource-level permissions: SageMaker authorises it on `*` only.
        iamResources: ['*'],
        parameters: {
          ModelPackageGroupName: names.modelPackageGroup,
          ModelApprovalStatus: 'Approved',
          SortBy: 'CreationTime',
          SortOrder: 'Descending',
          MaxResults: 1,
        },
        // `current` stays null when there is no champion; DescribeChampion fills it in.
        resultSelector: { packages: sfn.JsonPath.listAt('$.ModelPackageSummaryList'), current: JSON_NULL },
        resultPath: '$.champion',
        taskTimeout: sfn.Timeout.duration(API_TIMEOUT),
      }),
    );
    const describeChampion = this.task(
      new tasks.CallAwsService(this, 'DescribeChampion', {
        comment: 'The champion metric, from the package metadata Register wrote',
        service: 'sagemaker',
        action: 'describeModelPackage',
        iamAction: 'sagemaker:DescribeModelPackage',
        iamResources: [arns.packages],
        parameters: {
          ModelPackageName: sfn.JsonPath.stringAt('$.champion.packages[0].ModelPackageArn'),
        },
        resultSelector: {
          current: {
            modelPackageArn: sfn.JsonPath.stringAt('$.ModelPackageArn'),
            metric: sfn.JsonPath.stringAt('$.CustomerMetadataProperties.metric'),
          },
        },
        resultPath: '$.champion',
        taskTimeout: sfn.Timeout.duration(API_TIMEOUT),
      }),
    );

    // ---- 6. Evaluate.
    const evaluate = this.task(
      new tasks.LambdaInvoke(this, 'Evaluate', {
        comment: 'Gate: the metric by name, against the minimum and the champion',
        lambdaFunction: props.evaluate,
        payloadResponseOnly: true,
        payload: sfn.TaskInput.fromObject({
          metricName: props.metricName,
          minimum: training.metric.minimum ?? JSON_NULL,
          tolerance: training.metric.tolerance,
          finalMetrics: sfn.JsonPath.listAt('$.training.FinalMetricDataList'),
          champion: sfn.JsonPath.objectAt('$.champion.current'),
        }),
        resultPath: '$.evaluation',
        taskTimeout: sfn.Timeout.duration(props.lambdaTimeout.plus(API_TIMEOUT)),
      }),
    );
    const notifyRejected = this.publish('NotifyRejected', props.topic, {
      subject: `[${props.project}] Model rejected`,
      status: 'ModelRejected',
      message: sfn.JsonPath.format(
        'Challenger {} was rejected: {}',
        jobName,
        sfn.JsonPath.stringAt('$.evaluation.reason'),
      ),
    });
    const modelRejected = new sfn.Pass(this, 'ModelRejected', {
      parameters: {
        status: 'ModelRejected',
        reason: sfn.JsonPath.stringAt('$.evaluation.reason'),
        metric: sfn.JsonPath.numberAt('$.evaluation.metric'),
        championMetric: sfn.JsonPath.numberAt('$.evaluation.championMetric'),
      },
    });
    const rejected = new sfn.Succeed(this, 'Rejected', {
      comment: 'An expected outcome: the challenger did not pass the gate',
    });

    // ---- 7. Register.
    const manual = training.approval === 'manual';
    const register = this.task(
      new tasks.CallAwsService(this, 'Register', {
        comment: 'A new version in the model package group',
        service: 'sagemaker',
        action: 'createModelPackage',
        iamAction: 'sagemaker:CreateModelPackage',
        iamResources: [arns.group, arns.packages],
        additionalIamStatements: [
          new iam.PolicyStatement({ actions: ['sagemaker:AddTags'], resources: [arns.packages] }),
        ],
        parameters: {
          ModelPackageGroupName: names.modelPackageGroup,
          ModelPackageDescription: sfn.JsonPath.format(
            'Training job {} of execution {} on dataset {}',
            jobName,
            sfn.JsonPath.executionName,
            sfn.JsonPath.stringAt('$.prepare.dataset'),
          ),
          InferenceSpecification: {
            Containers: [{ Image: props.imageUri, ModelDataUrl: modelDataUrl }],
            SupportedContentTypes: ['text/csv'],
            SupportedResponseMIMETypes: ['text/csv'],
          },
          ModelApprovalStatus: manual ? 'PendingManualApproval' : 'Approved',
          CustomerMetadataProperties: {
            metricName: props.metricName,
            metric: sfn.JsonPath.jsonToString(sfn.JsonPath.numberAt('$.evaluation.metric')),
            baselineUri: sfn.JsonPath.stringAt('$.prepare.baselineUri'),
            featureSpecUri: sfn.JsonPath.stringAt('$.prepare.featureSpecUri'),
            execution: sfn.JsonPath.executionName,
            jobName,
          },
          Tags: tags,
        },
        // `polls` counts DescribePackage calls of the manual approval loop.
        resultSelector: { ModelPackageArn: sfn.JsonPath.stringAt('$.ModelPackageArn'), polls: 1 },
        resultPath: '$.registration',
        taskTimeout: sfn.Timeout.duration(API_TIMEOUT),
      }),
    );

    // ---- 8. CreateModel, CreateEndpointConfig.
    const createModel = this.task(
      new tasks.CallAwsService(this, 'CreateModel', {
        service: 'sagemaker',
        action: 'createModel',
        iamAction: 'sagemaker:CreateModel',
        iamResources: [arns.model],
        additionalIamStatements: [
          new iam.PolicyStatement({ actions: ['sagemaker:AddTags'], resources: [arns.model] }),
        ],
        parameters: {
          ModelName: jobName,
          ExecutionRoleArn: props.sagemakerRole.roleArn,
          PrimaryContainer: { Image: props.imageUri, ModelDataUrl: modelDataUrl },
          // The container needs no network: SageMaker fetches the model from S3 for it.
          EnableNetworkIsolation: true,
          Tags: tags,
        },
        resultPath: sfn.JsonPath.DISCARD,
        taskTimeout: sfn.Timeout.duration(API_TIMEOUT),
      }),
    );
    const realtime = endpoint.type === 'realtime';
    const variant = realtime
      ? {
          VariantName: VARIANT_NAME,
          ModelName: jobName,
          InitialInstanceCount: endpoint.instanceCount,
          InstanceType: endpoint.instanceType,
          InitialVariantWeight: 1,
        }
      : {
          VariantName: VARIANT_NAME,
          ModelName: jobName,
          ServerlessConfig: {
            MemorySizeInMB: endpoint.serverlessMemoryMb,
            MaxConcurrency: endpoint.serverlessMaxConcurrency,
          },
        };
    const createEndpointConfig = this.task(
      new tasks.CallAwsService(this, 'CreateEndpointConfig', {
        service: 'sagemaker',
        action: 'createEndpointConfig',
        iamAction: 'sagemaker:CreateEndpointConfig',
        iamResources: [arns.endpointConfig],
        additionalIamStatements: [
          new iam.PolicyStatement({ actions: ['sagemaker:AddTags'], resources: [arns.endpointConfig] }),
        ],
        parameters: {
          EndpointConfigName: jobName,
          ProductionVariants: [variant],
          // Serverless: SageMaker rejects both a KMS key (no ML storage volume) and data capture.
          ...(realtime
            ? {
                KmsKeyId: props.dataKey.keyArn,
                DataCaptureConfig: {
                  EnableCapture: true,
                  InitialSamplingPercentage: endpoint.captureSamplingPercent,
                  DestinationS3Uri: props.artifacts.s3UrlForObject(ARTIFACT_PREFIXES.capture.slice(0, -1)),
                  KmsKeyId: props.dataKey.keyArn,
                  CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
                  CaptureContentTypeHeader: { CsvContentTypes: ['text/csv'] },
                },
              }
            : {}),
          Tags: tags,
        },
        resultPath: sfn.JsonPath.DISCARD,
        taskTimeout: sfn.Timeout.duration(API_TIMEOUT),
      }),
    );

    // ---- 9. create or update the endpoint.
    const endpointStatusSelector = {
      status: sfn.JsonPath.stringAt('$.EndpointStatus'),
      configName: sfn.JsonPath.stringAt('$.EndpointConfigName'),
    };
    const describeEndpoint = this.task(
      new tasks.CallAwsService(this, 'DescribeEndpoint', {
        comment: 'Does the endpoint exist? Not found: create it; found: update it',
        service: 'sagemaker',
        action: 'describeEndpoint',
        iamAction: 'sagemaker:DescribeEndpoint',
        iamResources: [arns.endpoint],
        parameters: { EndpointName: names.endpoint },
        resultSelector: endpointStatusSelector,
        resultPath: '$.endpoint',
        taskTimeout: sfn.Timeout.duration(API_TIMEOUT),
      }),
      { preCatch: false },
    );
    const deploymentSelector = { EndpointArn: sfn.JsonPath.stringAt('$.EndpointArn'), polls: 1 };
    const createEndpoint = this.task(
      new tasks.CallAwsService(this, 'CreateEndpoint', {
        service: 'sagemaker',
        action: 'createEndpoint',
        iamAction: 'sagemaker:CreateEndpoint',
        iamResources: [arns.endpoint, arns.endpointConfig],
        additionalIamStatements: [
          new iam.PolicyStatement({ actions: ['sagemaker:AddTags'], resources: [arns.endpoint] }),
        ],
        parameters: { EndpointName: names.endpoint, EndpointConfigName: jobName, Tags: tags },
        resultSelector: deploymentSelector,
        resultPath: '$.deployment',
        taskTimeout: sfn.Timeout.duration(API_TIMEOUT),
      }),
    );
    describeEndpoint.addCatch(createEndpoint, {
      errors: ENDPOINT_NOT_FOUND_ERRORS,
      resultPath: '$.endpointLookupError',
    });
    this.catchAll(describeEndpoint);
    const pollBudgetSeconds = endpoint.pollIntervalSeconds * endpoint.maxPolls;
    const updateEndpoint = this.task(
      new tasks.CallAwsService(this, 'UpdateEndpoint', {
        comment: 'Blue/green to the new config, rolled back by SageMaker on the endpoint alarms',
        service: 'sagemaker',
        action: 'updateEndpoint',
        iamAction: 'sagemaker:UpdateEndpoint',
        iamResources: [arns.endpoint, arns.endpointConfig],
        parameters: {
          EndpointName: names.endpoint,
          EndpointConfigName: jobName,
          DeploymentConfig: {
            BlueGreenUpdatePolicy: {
              // A canary's share of capacity has no meaning for a serverless variant (no instances): it is
              // updated all at once, still watched by the alarms for the wait interval, then rolled back or kept.
              TrafficRoutingConfiguration: realtime
                ? {
                    Type: 'CANARY',
                    CanarySize: { Type: 'CAPACITY_PERCENT', Value: endpoint.canarySizePercent },
                    WaitIntervalInSeconds: endpoint.canaryWaitSeconds,
                  }
                : { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: endpoint.canaryWaitSeconds },
              TerminationWaitInSeconds: endpoint.terminationWaitSeconds,
              // SageMaker gives up (and rolls back) no later than the pipeline stops polling.
              MaximumExecutionTimeoutInSeconds: Math.min(
                MAX_EXECUTION_TIMEOUT_RANGE[1],
                Math.max(MAX_EXECUTION_TIMEOUT_RANGE[0], pollBudgetSeconds),
              ),
            },
            AutoRollbackConfiguration: {
              Alarms: [{ AlarmName: names.alarm5xx }, { AlarmName: names.alarmLatency }],
            },
          },
        },
        resultSelector: deploymentSelector,
        resultPath: '$.deployment',
        taskTimeout: sfn.Timeout.duration(API_TIMEOUT),
      }),
    );

    // ---- 10. poll until InService, rolled back, failed or out of polls.
    const waitForEndpoint = new sfn.Wait(this, 'WaitForEndpoint', {
      time: sfn.WaitTime.duration(Duration.seconds(endpoint.pollIntervalSeconds)),
    });
    const pollEndpoint = this.task(
      new tasks.CallAwsService(this, 'PollEndpoint', {
        service: 'sagemaker',
        action: 'describeEndpoint',
        iamAction: 'sagemaker:DescribeEndpoint',
        iamResources: [arns.endpoint],
        parameters: { EndpointName: names.endpoint },
        resultSelector: endpointStatusSelector,
        resultPath: '$.endpoint',
        taskTimeout: sfn.Timeout.duration(API_TIMEOUT),
      }),
    );
    const countEndpointPoll = new sfn.Pass(this, 'CountEndpointPoll', {
      parameters: {
        EndpointArn: sfn.JsonPath.stringAt('$.deployment.EndpointArn'),
        polls: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt('$.deployment.polls'), 1),
      },
      resultPath: '$.deployment',
    });
    const rejectPackage = this.task(
      new tasks.CallAwsService(this, 'RejectPackage', {
        comment: 'The deployment failed or was rolled back: this package must not become the champion',
        service: 'sagemaker',
        action: 'updateModelPackage',
        iamAction: 'sagemaker:UpdateModelPackage',
        iamResources: [arns.packages],
        parameters: {
          ModelPackageArn: packageArn,
          ModelApprovalStatus: 'Rejected',
          ApprovalDescription: sfn.JsonPath.format(
            'Deployment to {} ended {} with endpoint config {}',
            names.endpoint,
            sfn.JsonPath.stringAt('$.endpoint.status'),
            sfn.JsonPath.stringAt('$.endpoint.configName'),
          ),
        },
        resultPath: sfn.JsonPath.DISCARD,
        taskTimeout: sfn.Timeout.duration(API_TIMEOUT),
      }),
    );
    const notifyRolledBack = this.publish('NotifyRolledBack', props.topic, {
      subject: `[${props.project}] Deployment failed or rolled back`,
      status: 'DeploymentFailed',
      message: sfn.JsonPath.format(
        'Deployment of {} to {} ended {} with endpoint config {}; the model package was rejected',
        jobName,
        names.endpoint,
        sfn.JsonPath.stringAt('$.endpoint.status'),
        sfn.JsonPath.stringAt('$.endpoint.configName'),
      ),
    });
    const deploymentFailed = new sfn.Fail(this, 'DeploymentFailed', {
      error: 'DeploymentFailed',
      cause: 'The endpoint update failed or was rolled back by its alarms',
    });
    const notifyDeploymentTimeout = this.publish('NotifyDeploymentTimeout', props.topic, {
      subject: `[${props.project}] Deployment timed out`,
      status: 'DeploymentTimeout',
      message: sfn.JsonPath.format(
        'Deployment of {} to {} is still {} after {} polls',
        jobName,
        names.endpoint,
        sfn.JsonPath.stringAt('$.endpoint.status'),
        // A number formats as itself: no need to nest States.JsonToString.
        sfn.JsonPath.stringAt('$.deployment.polls'),
      ),
    });
    const deploymentTimeout = new sfn.Fail(this, 'DeploymentTimeout', {
      error: 'DeploymentTimeout',
      cause: `The endpoint was not InService after ${endpoint.maxPolls} polls ${endpoint.pollIntervalSeconds} s apart`,
    });

    // ---- 11. Promote.
    const promote = this.task(
      new tasks.LambdaInvoke(this, 'Promote', {
        comment: 'Write baselines/current.json and publish the training metric',
        lambdaFunction: props.promote,
        payloadResponseOnly: true,
        payload: sfn.TaskInput.fromObject({
          modelPackageArn: packageArn,
          jobName,
          endpointName: names.endpoint,
          endpointConfigName: jobName,
          baselineUri: sfn.JsonPath.stringAt('$.prepare.baselineUri'),
          featureSpecUri: sfn.JsonPath.stringAt('$.prepare.featureSpecUri'),
          metricName: sfn.JsonPath.stringAt('$.evaluation.metricName'),
          metric: sfn.JsonPath.numberAt('$.evaluation.metric'),
          execution: sfn.JsonPath.executionName,
          // The pointer's deployedAt (and so the drift cooldown) counts from the deploying execution's start: a
          // retried Promote writes the same object, and the local engine has no $$.State.EnteredTime.
          executionStartTime: sfn.JsonPath.executionStartTime,
        }),
        resultPath: '$.promotion',
        taskTimeout: sfn.Timeout.duration(props.lambdaTimeout.plus(API_TIMEOUT)),
      }),
    );
    const notifyDeployed = this.publish('NotifyDeployed', props.topic, {
      subject: `[${props.project}] New model deployed`,
      status: 'Deployed',
      message: sfn.JsonPath.format(
        'Model package {} ({} = {}) is serving on {}',
        packageArn,
        sfn.JsonPath.stringAt('$.evaluation.metricName'),
        sfn.JsonPath.stringAt('$.evaluation.metric'),
        names.endpoint,
      ),
    });
    const succeeded = new sfn.Succeed(this, 'Succeeded');

    // ---- wiring.
    checkRunning.next(
      new sfn.Choice(this, 'AlreadyRunning?')
        .when(sfn.Condition.numberGreaterThan('$.guard.running', 1), skipRunning)
        .otherwise(
          new sfn.Choice(this, 'IsDriftTrigger?')
            .when(
              sfn.Condition.and(
                sfn.Condition.isPresent('$.trigger'),
                sfn.Condition.stringEquals('$.trigger', 'drift'),
              ),
              readCurrentPointer,
            )
            .otherwise(prepare),
        ),
    );
    readCurrentPointer.next(
      new sfn.Choice(this, 'InCooldown?')
        .when(
          sfn.Condition.and(
            sfn.Condition.isPresent('$.current.pointer.cooldownUntil'),
            sfn.Condition.isTimestamp('$.current.pointer.cooldownUntil'),
            sfn.Condition.timestampGreaterThanJsonPath(
              '$.current.pointer.cooldownUntil',
              sfn.JsonPath.executionStartTime,
            ),
          ),
          skipCooldown,
        )
        .otherwise(prepare),
    );
    prepare.next(train);
    train.next(getChampion);
    getChampion.next(
      new sfn.Choice(this, 'HasChampion?')
        .when(sfn.Condition.isPresent('$.champion.packages[0]'), describeChampion)
        .otherwise(evaluate),
    );
    describeChampion.next(evaluate);
    evaluate.next(
      new sfn.Choice(this, 'Passed?')
        .when(sfn.Condition.booleanEquals('$.evaluation.passed', true), register)
        .otherwise(notifyRejected),
    );
    notifyRejected.next(modelRejected);
    modelRejected.next(rejected);

    if (manual) {
      this.maxApprovalPolls = Math.max(
        1,
        Math.ceil((training.approvalTimeoutMinutes * 60) / props.approvalPollInterval.toSeconds()),
      );
      const waitForApproval = new sfn.Wait(this, 'WaitForApproval', {
        time: sfn.WaitTime.duration(props.approvalPollInterval),
      });
      const describePackage = this.task(
        new tasks.CallAwsService(this, 'DescribePackage', {
          service: 'sagemaker',
          action: 'describeModelPackage',
          iamAction: 'sagemaker:DescribeModelPackage',
          iamResources: [arns.packages],
          parameters: { ModelPackageName: packageArn },
          resultSelector: { status: sfn.JsonPath.stringAt('$.ModelApprovalStatus') },
          resultPath: '$.approval',
          taskTimeout: sfn.Timeout.duration(API_TIMEOUT),
        }),
      );
      const countApprovalPoll = new sfn.Pass(this, 'CountApprovalPoll', {
        parameters: {
          ModelPackageArn: packageArn,
          polls: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt('$.registration.polls'), 1),
        },
        resultPath: '$.registration',
      });
      const notifyNotApproved = this.publish('NotifyNotApproved', props.topic, {
        subject: `[${props.project}] Model not approved`,
        status: 'ModelNotApproved',
        message: sfn.JsonPath.format('Model package {} was rejected by a reviewer', packageArn),
      });
      const notifyApprovalTimeout = this.publish('NotifyApprovalTimeout', props.topic, {
        subject: `[${props.project}] Model approval timed out`,
        status: 'ApprovalTimeout',
        message: sfn.JsonPath.format(
          'Model package {} was neither approved nor rejected within {} minutes',
          packageArn,
          String(training.approvalTimeoutMinutes),
        ),
      });
      register.next(waitForApproval);
      waitForApproval.next(describePackage);
      describePackage.next(
        new sfn.Choice(this, 'Approved?')
          .when(sfn.Condition.stringEquals('$.approval.status', 'Approved'), createModel)
          .when(
            sfn.Condition.stringEquals('$.approval.status', 'Rejected'),
            notifyNotApproved.next(
              new sfn.Fail(this, 'ModelNotApproved', {
                error: 'ModelNotApproved',
                cause: 'A reviewer rejected the model package',
              }),
            ),
          )
          .when(
            sfn.Condition.numberLessThan('$.registration.polls', this.maxApprovalPolls),
            countApprovalPoll,
          )
          .otherwise(
            notifyApprovalTimeout.next(
              new sfn.Fail(this, 'ApprovalTimeout', {
                error: 'ApprovalTimeout',
                cause: `The model package was not approved within ${training.approvalTimeoutMinutes} minutes`,
              }),
            ),
          ),
      );
      countApprovalPoll.next(waitForApproval);
    } else {
      this.maxApprovalPolls = 0;
      register.next(createModel);
    }

    createModel.next(createEndpointConfig);
    createEndpointConfig.next(describeEndpoint);
    describeEndpoint.next(updateEndpoint);
    createEndpoint.next(waitForEndpoint);
    updateEndpoint.next(waitForEndpoint);
    waitForEndpoint.next(pollEndpoint);
    const inProgress = sfn.Condition.or(
      ...ENDPOINT_IN_PROGRESS.map((s) => sfn.Condition.stringEquals('$.endpoint.status', s)),
    );
    pollEndpoint.next(
      new sfn.Choice(this, 'EndpointStatus?')
        .when(
          sfn.Condition.and(
            sfn.Condition.stringEquals('$.endpoint.status', 'InService'),
            sfn.Condition.stringEqualsJsonPath('$.endpoint.configName', '$.prepare.jobName'),
          ),
          promote,
        )
        .when(
          sfn.Condition.and(
            inProgress,
            sfn.Condition.numberLessThan('$.deployment.polls', endpoint.maxPolls),
          ),
          countEndpointPoll,
        )
        .when(inProgress, notifyDeploymentTimeout)
        // InService on another config (rolled back), Failed, OutOfService, UpdateRollbackFailed...
        .otherwise(rejectPackage),
    );
    countEndpointPoll.next(waitForEndpoint);
    notifyDeploymentTimeout.next(deploymentTimeout);
    rejectPackage.next(notifyRolledBack);
    notifyRolledBack.next(deploymentFailed);
    promote.next(notifyDeployed);
    notifyDeployed.next(succeeded);

    applyDefaults.next(mergeDefaults);
    mergeDefaults.next(checkRunning);
    this.startState = applyDefaults;

    this.roleStatements.push(
      // CreateModel hands the SageMaker role to the model; CreateTrainingJob to the job.
      new iam.PolicyStatement({
        sid: 'PassSageMakerRole',
        actions: ['iam:PassRole'],
        resources: [props.sagemakerRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
      }),
      // Only for S3 to answer NoSuchKey (not AccessDenied) when there is no pointer yet.
      new iam.PolicyStatement({
        sid: 'ListCurrentPointer',
        actions: ['s3:ListBucket'],
        resources: [props.artifacts.bucketArn],
        conditions: { StringEquals: { 's3:prefix': ARTIFACT_PREFIXES.currentPointer } },
      }),
      new iam.PolicyStatement({
        sid: 'TrainingJobs',
        actions: [
          'sagemaker:CreateTrainingJob',
          'sagemaker:DescribeTrainingJob',
          'sagemaker:StopTrainingJob',
          'sagemaker:AddTags',
        ],
        resources: [arns.trainingJob],
      }),
      // The .sync integration waits for the job through this managed EventBridge rule.
      new iam.PolicyStatement({
        sid: 'TrainingJobSyncRule',
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [
          stack.formatArn({
            service: 'events',
            resource: 'rule',
            resourceName: 'StepFunctionsGetEventsForSageMakerTrainingJobsRule',
          }),
        ],
      }),
      // Reading the SSE-KMS pointer; SageMaker creates grants on the key for the endpoint's storage volume.
      new iam.PolicyStatement({
        sid: 'UseDataKey',
        actions: ['kms:Decrypt', 'kms:DescribeKey'],
        resources: [props.dataKey.keyArn],
      }),
      new iam.PolicyStatement({
        sid: 'GrantDataKeyToSageMaker',
        actions: ['kms:CreateGrant'],
        resources: [props.dataKey.keyArn],
        conditions: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      }),
    );
  }

  /** The Train state: `sagemaker:createTrainingJob.sync` (RUN_JOB) with managed spot, which the CDK task lacks. */
  private trainState(
    props: TrainingDefinitionProps,
    tags: { Key: string; Value: string }[],
  ): sfn.CustomState {
    const { training } = props;
    const maxWait = training.maxWaitSeconds ?? Math.min(2 * training.maxRuntimeSeconds, 28 * 24 * 3600);
    if (training.useSpot && maxWait < training.maxRuntimeSeconds)
      throw new Error(
        `devmlops.training.maxWaitSeconds (${maxWait}) must be at least maxRuntimeSeconds (${training.maxRuntimeSeconds}) with useSpot`,
      );
    const channel = (name: string, uriPath: string) => ({
      ChannelName: name,
      ContentType: 'text/csv',
      CompressionType: 'None',
      DataSource: {
        S3DataSource: {
          S3DataType: 'S3Prefix',
          'S3Uri.$': uriPath,
          S3DataDistributionType: 'FullyReplicated',
        },
      },
    });
    const jobSeconds = training.useSpot ? maxWait : training.maxRuntimeSeconds;
    const state = new sfn.CustomState(this, 'Train', {
      stateJson: {
        Type: 'Task',
        Comment: `Built-in XGBoost, ${training.useSpot ? 'managed spot' : 'on demand'}`,
        Resource: `arn:${Aws.PARTITION}:states:::sagemaker:createTrainingJob.sync`,
        Parameters: {
          'TrainingJobName.$': '$.prepare.jobName',
          RoleArn: props.sagemakerRole.roleArn,
          AlgorithmSpecification: { TrainingImage: props.imageUri, TrainingInputMode: 'File' },
          // Built-in algorithms need no network: SageMaker moves the data in and the model out.
          EnableNetworkIsolation: true,
          HyperParameters: props.hyperparameters,
          InputDataConfig: [
            channel('train', '$.prepare.trainUri'),
            channel('validation', '$.prepare.validationUri'),
          ],
          OutputDataConfig: {
            S3OutputPath: props.artifacts.s3UrlForObject(ARTIFACT_PREFIXES.models),
            KmsKeyId: props.dataKey.keyArn,
          },
          ResourceConfig: {
            InstanceCount: training.instanceCount,
            InstanceType: training.instanceType,
            VolumeSizeInGB: training.volumeSizeGb,
            VolumeKmsKeyId: props.dataKey.keyArn,
          },
          StoppingCondition: {
            MaxRuntimeInSeconds: training.maxRuntimeSeconds,
            ...(training.useSpot ? { MaxWaitTimeInSeconds: maxWait } : {}),
          },
          ...(training.useSpot ? { EnableManagedSpotTraining: true } : {}),
          Tags: tags,
        },
        ResultPath: '$.training',
        TimeoutSeconds: jobSeconds + TRAINING_OVERHEAD.toSeconds(),
      },
    });
    this.tasks.push(state);
    state.addCatch(this.notifyFailure, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    return state;
  }

  /** Registers a task; unless told otherwise, adds the catch-all (added last, after specific catches). */
  private task<T extends sfn.TaskStateBase>(task: T, options: { preCatch?: boolean } = {}): T {
    this.tasks.push(task);
    if (options.preCatch ?? true) this.catchAll(task);
    return task;
  }

  private catchAll(task: sfn.TaskStateBase): void {
    task.addCatch(this.notifyFailure, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
  }

  private publish(
    id: string,
    topic: sns.ITopic,
    options: { subject: string; status: string; message: string; catchTo?: false },
  ): tasks.SnsPublish {
    const task = new tasks.SnsPublish(this, id, {
      topic,
      subject: options.subject,
      message: sfn.TaskInput.fromText(options.message),
      messageAttributes: { status: { value: options.status } },
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(API_TIMEOUT),
    });
    this.tasks.push(task);
    if (options.catchTo !== false) this.catchAll(task);
    return task;
  }
}

/**
 * CallAwsService whose generated statement carries IAM conditions: CallAwsService takes none, and a second,
 * conditioned statement beside its unconditioned one would not narrow the grant.
 */
class ConditionedCallAwsService extends tasks.CallAwsService {
  constructor(
    scope: Construct,
    id: string,
    props: tasks.CallAwsServiceProps & { readonly iamConditions: Record<string, unknown> },
  ) {
    const { iamConditions, ...callProps } = props;
    super(scope, id, callProps);
    const generated = this.taskPolicies?.[0];
    if (generated === undefined) throw new Error(`${id}: CallAwsService generated no policy statement`);
    generated.addConditions(iamConditions);
  }
}
