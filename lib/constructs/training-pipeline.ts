import { ArnFormat, Aws, Duration, RemovalPolicy, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { DatasetSchema } from '../../lambdas/core/schema';
import { configZ } from '../config';
import { RAW_READ_ONLY_TAG, type DataLakeResources } from './data-lake';
import { LAMBDA_ENVIRONMENT_LIMIT_BYTES, lambdaEnvironmentBytes } from './data-validation';
import { DevFunction } from './lambda-function';
import { acknowledgeWildcards, PINNED_RUNTIME_REASON, type WildcardGrant } from './nag-acks';
import { xgboostSettings } from './training-algorithm';
import { TrainingDefinition, type EndpointSettings, type TrainingSettings } from './training-definition';
import { ARTIFACT_PREFIXES, trainingNames, VARIANT_NAME, type TrainingNames } from './training-names';
import { XgboostImage } from './xgboost-image';

export interface TrainingPipelineProps {
  /** The data lake: Prepare reads curated, everything else reads and writes artifacts. Required. */
  readonly dataLake: DataLakeResources;
  /** The dataset the pipeline trains on (its schema decides the problem type and the hyperparameters). Required. */
  readonly dataset: DatasetSchema;
  /** Prefix of every deterministic name, and the `Project` metric dimension. Required. */
  readonly project: string;
  /** @default - the config defaults of `devmlops.training` */
  readonly training?: TrainingSettings;
  /** @default - the config defaults of `devmlops.endpoint` */
  readonly endpoint?: EndpointSettings;
  /** @default - no email subscription */
  readonly notificationEmail?: string;
  /** Retention of the Lambdas' and the state machine's log groups. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default 1024 */
  readonly prepareMemorySize?: number;
  /** @default Duration.minutes(15) */
  readonly prepareTimeout?: Duration;
  /** Manual approval: how often the package's status is read. @default Duration.minutes(5) */
  readonly approvalPollInterval?: Duration;
  /**
   * The 5XX rollback alarm fires at this many Invocation5XXErrors in one minute.
   * @default 1
   */
  readonly rollback5xxThreshold?: number;
  /**
   * The latency rollback alarm fires when ModelLatency p99 is above this for two consecutive minutes.
   * @default Duration.seconds(1)
   */
  readonly rollbackLatencyP99?: Duration;
  /** @default 'lambdas/handlers/prepare.ts' */
  readonly prepareEntry?: string;
  /** @default 'lambdas/handlers/evaluate.ts' */
  readonly evaluateEntry?: string;
  /** @default 'lambdas/handlers/promote.ts' */
  readonly promoteEntry?: string;
}

/** A Lambda of the pipeline: the wrapper (role, log group) and the function. */
export interface PipelineFunction {
  readonly wrapper: DevFunction;
  readonly function: lambda.IFunction;
}

/**
 * The training pipeline (DESIGN.md section 6, issue 3): the state machine and its Lambdas, the SageMaker
 * execution role, the model package group, the SNS topic, the endpoint's rollback alarms and the XGBoost image
 * mapping. Triggers and the cleanup custom resource are separate constructs.
 */
export class TrainingPipeline extends Construct {
  readonly names: TrainingNames;
  readonly stateMachine: sfn.StateMachine;
  readonly definition: TrainingDefinition;
  /** Encrypts the topic and the state machine's log group (the data lake key stays with the data lake stack). */
  readonly key: kms.Key;
  readonly topic: sns.Topic;
  readonly logGroup: logs.LogGroup;
  /** Assumed by SageMaker for training jobs and endpoints. */
  readonly sagemakerRole: iam.Role;
  readonly modelPackageGroup: sagemaker.CfnModelPackageGroup;
  readonly image: XgboostImage;
  readonly alarm5xx: cloudwatch.Alarm;
  readonly alarmLatency: cloudwatch.Alarm;
  readonly prepare: PipelineFunction;
  readonly evaluate: PipelineFunction;
  readonly promote: PipelineFunction;
  /** The hyperparameters of every training job, as sent to SageMaker. */
  readonly hyperparameters: Readonly<Record<string, string>>;
  /** The gate metric, e.g. `validation:auc`. */
  readonly metricName: string;

  constructor(scope: Construct, id: string, props: TrainingPipelineProps) {
    super(scope, id);
    const defaults = configZ.parse({ dataset: props.dataset });
    const training = props.training ?? defaults.training;
    const endpoint = props.endpoint ?? defaults.endpoint;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const prepareTimeout = props.prepareTimeout ?? Duration.minutes(15);
    const approvalPollInterval = props.approvalPollInterval ?? Duration.minutes(5);
    const threshold5xx = props.rollback5xxThreshold ?? 1;
    const latencyP99 = props.rollbackLatencyP99 ?? Duration.seconds(1);
    if (!/^[a-z][a-z0-9-]{1,30}$/.test(props.project))
      throw new Error(
        `TrainingPipeline: project must be 2-31 lower-case letters, digits or -, got "${props.project}"`,
      );
    if (!(Number.isInteger(threshold5xx) && threshold5xx >= 1))
      throw new Error(`TrainingPipeline: rollback5xxThreshold must be an integer >= 1, got ${threshold5xx}`);
    if (latencyP99.toMilliseconds() < 1)
      throw new Error('TrainingPipeline: rollbackLatencyP99 must be at least 1 ms');
    const pollSeconds = approvalPollInterval.toSeconds();
    if (pollSeconds < 1 || pollSeconds > training.approvalTimeoutMinutes * 60)
      throw new Error(
        `TrainingPipeline: approvalPollInterval must be between 1 s and the approval timeout (${training.approvalTimeoutMinutes} min), got ${pollSeconds} s`,
      );

    const stack = Stack.of(this);
    const { dataLake } = props;
    this.names = trainingNames(props.project);
    const settings = xgboostSettings(props.dataset, {
      hyperparameters: training.hyperparameters,
      metricName: training.metric.name,
    });
    this.hyperparameters = settings.hyperparameters;
    this.metricName = settings.metricName;
    this.image = new XgboostImage(this, 'XgboostImage');

    this.key = new kms.Key(this, 'Key', {
      description: `Encrypts the ${props.project} pipeline's notifications and state machine logs`,
      enableKeyRotation: true,
      // Holds no data that outlives the stack: the topic and the log group go with it.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    const logGroupArn = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: this.names.logGroup,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    // CloudWatch Logs encrypts with the key as itself, for this one log group only.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogsForTheStateMachineLogGroup',
        principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.${Aws.URL_SUFFIX}`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: { ArnEquals: { 'kms:EncryptionContext:aws:logs:arn': logGroupArn } },
      }),
    );
    this.logGroup = new logs.LogGroup(this, 'StateMachineLogs', {
      logGroupName: this.names.logGroup,
      encryptionKey: this.key,
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.logGroup.node.addDependency(this.key);

    this.topic = new sns.Topic(this, 'Topic', {
      displayName: `${props.project} training pipeline`,
      masterKey: this.key,
      enforceSSL: true,
    });
    if (props.notificationEmail !== undefined)
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.notificationEmail));

    this.modelPackageGroup = new sagemaker.CfnModelPackageGroup(this, 'ModelPackageGroup', {
      modelPackageGroupName: this.names.modelPackageGroup,
      modelPackageGroupDescription: `Models of the ${props.project} training pipeline; the latest Approved one is the champion`,
    });
    // Deleted with the stack, so that a redeploy can create it again. SageMaker refuses to delete a group that
    // holds packages: the pipeline cleanup custom resource (which must depend on this group, so it runs first)
    // deletes every package of it.
    this.modelPackageGroup.applyRemovalPolicy(RemovalPolicy.DESTROY);

    const alarmDimensions = { EndpointName: this.names.endpoint, VariantName: VARIANT_NAME };
    this.alarm5xx = new cloudwatch.Alarm(this, 'Endpoint5xxAlarm', {
      alarmName: this.names.alarm5xx,
      alarmDescription: `Rolls back a blue/green update of ${this.names.endpoint}: model errors`,
      metric: new cloudwatch.Metric({
        namespace: 'AWS/SageMaker',
        metricName: 'Invocation5XXErrors',
        dimensionsMap: alarmDimensions,
        statistic: cloudwatch.Stats.SUM,
        period: Duration.minutes(1),
      }),
      threshold: threshold5xx,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // No traffic is not a failure; with no endpoint at all the alarm simply stays OK.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarmLatency = new cloudwatch.Alarm(this, 'EndpointLatencyAlarm', {
      alarmName: this.names.alarmLatency,
      alarmDescription: `Rolls back a blue/green update of ${this.names.endpoint}: ModelLatency p99 above ${latencyP99.toMilliseconds()} ms`,
      metric: new cloudwatch.Metric({
        namespace: 'AWS/SageMaker',
        metricName: 'ModelLatency',
        dimensionsMap: alarmDimensions,
        statistic: cloudwatch.Stats.p(99),
        period: Duration.minutes(1),
      }),
      // ModelLatency is in microseconds.
      threshold: latencyP99.toMilliseconds() * 1000,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // Operators hear of a bad canary too, not only the rollback's rejection notice.
    const notify = new cloudwatchActions.SnsAction(this.topic);
    for (const alarm of [this.alarm5xx, this.alarmLatency]) alarm.addAlarmAction(notify);

    this.sagemakerRole = this.createSageMakerRole(dataLake);

    // ---- Lambdas.
    const common: Record<string, string> = {
      PROJECT: props.project,
      ARTIFACTS_BUCKET: dataLake.artifacts.bucketName,
      CURATED_BUCKET: dataLake.curated.bucketName,
      DATASET_SCHEMAS: JSON.stringify([props.dataset]),
      POWERTOOLS_METRICS_NAMESPACE: 'DevMLOps',
    };
    const fn = (
      id: string,
      service: string,
      options: { entry: string; description: string; memorySize?: number; timeout?: Duration },
      extra: Record<string, string> = {},
    ): PipelineFunction => {
      const environment = { ...common, POWERTOOLS_SERVICE_NAME: service, ...extra };
      const bytes = lambdaEnvironmentBytes({ NODE_OPTIONS: '--enable-source-maps', ...environment });
      if (bytes > LAMBDA_ENVIRONMENT_LIMIT_BYTES)
        throw new Error(
          `TrainingPipeline: the ${service} Lambda's environment would be ${bytes} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte limit; shorten the dataset schema`,
        );
      const wrapper = new DevFunction(this, id, {
        ...options,
        logRetention,
        environment,
        // Only Step Functions invokes it, synchronously: its failures are the state machine's to handle.
        deadLetterQueue: false,
      });
      Tags.of(wrapper.role).add(RAW_READ_ONLY_TAG.key, RAW_READ_ONLY_TAG.value);
      Validations.of(wrapper.function).acknowledge({ id: 'AwsSolutions-L1', reason: PINNED_RUNTIME_REASON });
      Validations.of(wrapper.role.node.findChild('DefaultPolicy')).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support resource-level permissions (CDK adds them for Tracing.ACTIVE).',
      });
      return { wrapper, function: wrapper.function };
    };
    this.prepare = fn(
      'Prepare',
      'prepare',
      {
        entry: props.prepareEntry ?? 'lambdas/handlers/prepare.ts',
        description:
          'Encodes and splits the curated rows of a dataset into the training set, baseline and feature spec',
        memorySize: props.prepareMemorySize ?? 1024,
        timeout: prepareTimeout,
      },
      {
        MIN_TRAINING_ROWS: String(training.minTrainingRows),
        VALIDATION_FRACTION: String(training.validationFraction),
      },
    );
    this.evaluate = fn('Evaluate', 'evaluate', {
      entry: props.evaluateEntry ?? 'lambdas/handlers/evaluate.ts',
      description: 'Compares the trained model metric with the minimum and the champion',
    });
    this.promote = fn(
      'Promote',
      'promote',
      {
        entry: props.promoteEntry ?? 'lambdas/handlers/promote.ts',
        description: 'Writes baselines/current.json for the deployed model and publishes its training metric',
      },
      { DRIFT_COOLDOWN_MINUTES: String(training.driftCooldownMinutes) },
    );
    this.grantPrepare(dataLake, props.dataset);
    this.promote.wrapper.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteCurrentPointer',
        actions: ['s3:PutObject'],
        resources: [dataLake.artifacts.arnForObjects(ARTIFACT_PREFIXES.currentPointer)],
      }),
    );
    this.promote.wrapper.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'EncryptWithDataKey',
        actions: ['kms:GenerateDataKey'],
        resources: [dataLake.key.keyArn],
      }),
    );

    // ---- the state machine.
    const stateMachineArn = stack.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: this.names.stateMachine,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.definition = new TrainingDefinition(this, 'Definition', {
      project: props.project,
      dataset: props.dataset.name,
      names: this.names,
      stateMachineArn,
      artifacts: dataLake.artifacts,
      dataKey: dataLake.key,
      topic: this.topic,
      prepare: this.prepare.function,
      evaluate: this.evaluate.function,
      promote: this.promote.function,
      prepareTimeout,
      lambdaTimeout: Duration.seconds(30),
      sagemakerRole: this.sagemakerRole,
      imageUri: this.image.imageUri,
      hyperparameters: this.hyperparameters,
      metricName: this.metricName,
      training,
      endpoint,
      approvalPollInterval,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.names.stateMachine,
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: `${props.project}: curated data to a deployed, canaried SageMaker endpoint`,
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition.startState),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    for (const statement of this.definition.roleStatements) this.stateMachine.addToRolePolicy(statement);
    // SNS encrypts each message with the topic key on the publisher's behalf.
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'PublishToEncryptedTopic',
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [this.key.keyArn],
      }),
    );
    Tags.of(this.stateMachine.role).add(RAW_READ_ONLY_TAG.key, RAW_READ_ONLY_TAG.value);
    this.acknowledgeFindings(dataLake, props.dataset);
  }

  /** The role SageMaker assumes for training jobs and the endpoint's model (CreateTrainingJob/CreateModel docs). */
  private createSageMakerRole(dataLake: DataLakeResources): iam.Role {
    const role = new iam.Role(this, 'SageMakerRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: 'Assumed by SageMaker for the pipeline training jobs and endpoint models',
    });
    Tags.of(role).add(RAW_READ_ONLY_TAG.key, RAW_READ_ONLY_TAG.value);
    const add = (statement: iam.PolicyStatementProps) =>
      role.addToPrincipalPolicy(new iam.PolicyStatement(statement));
    const stack = Stack.of(this);
    // Training reads its channels; the endpoint reads the model the training job wrote.
    add({
      sid: 'ReadTrainingSetsAndModels',
      actions: ['s3:GetObject'],
      resources: [
        dataLake.artifacts.arnForObjects(`${ARTIFACT_PREFIXES.training}*`),
        dataLake.artifacts.arnForObjects(`${ARTIFACT_PREFIXES.models}*`),
      ],
    });
    // S3Prefix channels are listed; nothing else in the bucket is.
    add({
      sid: 'ListTrainingSets',
      actions: ['s3:ListBucket'],
      resources: [dataLake.artifacts.bucketArn],
      conditions: { StringLike: { 's3:prefix': `${ARTIFACT_PREFIXES.training}*` } },
    });
    add({
      sid: 'WriteModelsAndCapture',
      actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
      resources: [
        dataLake.artifacts.arnForObjects(`${ARTIFACT_PREFIXES.models}*`),
        dataLake.artifacts.arnForObjects(`${ARTIFACT_PREFIXES.capture}*`),
      ],
    });
    add({
      sid: 'UseDataKey',
      actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
      resources: [dataLake.key.keyArn],
    });
    // Training volume encryption: SageMaker creates a grant on the key for the instance's volume.
    add({
      sid: 'GrantDataKeyToVolumes',
      actions: ['kms:CreateGrant'],
      resources: [dataLake.key.keyArn],
      conditions: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    });
    add({
      sid: 'PullXgboostImage',
      actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
      resources: [this.image.repositoryArn],
    });
    add({ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] });
    add({
      sid: 'SageMakerLogs',
      actions: [
        'logs:CreateLogGroup',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'logs:DescribeLogStreams',
      ],
      resources: [
        stack.formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: '/aws/sagemaker/*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
    });
    add({
      sid: 'SageMakerMetrics',
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringLike: { 'cloudwatch:namespace': '/aws/sagemaker/*' } },
    });
    return role;
  }

  private grantPrepare(dataLake: DataLakeResources, dataset: DatasetSchema): void {
    const role = this.prepare.wrapper.role;
    const add = (statement: iam.PolicyStatementProps) =>
      role.addToPrincipalPolicy(new iam.PolicyStatement(statement));
    add({
      sid: 'ListCuratedDataset',
      actions: ['s3:ListBucket'],
      resources: [dataLake.curated.bucketArn],
      conditions: { StringLike: { 's3:prefix': `${dataset.name}/*` } },
    });
    add({
      sid: 'ReadCuratedDataset',
      actions: ['s3:GetObject'],
      resources: [dataLake.curated.arnForObjects(`${dataset.name}/*`)],
    });
    // Training sets are streamed as multipart uploads; one that fails midway is aborted.
    add({
      sid: 'WriteTrainingSets',
      actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
      resources: [dataLake.artifacts.arnForObjects(`${ARTIFACT_PREFIXES.training}*`)],
    });
    add({
      sid: 'UseDataKey',
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: [dataLake.key.keyArn],
    });
  }

  private acknowledgeFindings(dataLake: DataLakeResources, dataset: DatasetSchema): void {
    const names = this.names;
    const stack = Stack.of(this);
    const sagemakerArn = (resource: string, name: string) =>
      stack.formatArn({ service: 'sagemaker', resource, resourceName: name });
    const lambdaVersions = (f: PipelineFunction) => `${f.function.functionArn}:*`;

    acknowledgeWildcards(this.prepare.wrapper.role.node.findChild('DefaultPolicy'), [
      [
        dataLake.curated.arnForObjects(`${dataset.name}/*`),
        `Prepare reads every curated partition of the dataset (${dataset.name}/ingest_date=<date>/<id>.csv): the keys are only known at run time, and the grant is limited to this dataset's prefix.`,
      ],
      [
        dataLake.artifacts.arnForObjects(`${ARTIFACT_PREFIXES.training}*`),
        'Prepare writes the training set of each execution under training/<execution>/: limited to the training/ prefix of the artifacts bucket.',
      ],
    ]);

    const sagemakerPolicy = this.sagemakerRole.node.findChild('DefaultPolicy');
    acknowledgeWildcards(sagemakerPolicy, [
      [
        dataLake.artifacts.arnForObjects(`${ARTIFACT_PREFIXES.training}*`),
        'Training jobs read the channels Prepare wrote under training/<execution>/: limited to the training/ prefix.',
      ],
      [
        dataLake.artifacts.arnForObjects(`${ARTIFACT_PREFIXES.models}*`),
        'Training jobs write, and endpoints read, models/<training-job>/output/model.tar.gz: limited to the models/ prefix.',
      ],
      [
        dataLake.artifacts.arnForObjects(`${ARTIFACT_PREFIXES.capture}*`),
        'Data capture writes capture/<endpoint>/<variant>/<yyyy/mm/dd/hh>/<file>.jsonl: limited to the capture/ prefix.',
      ],
      [
        stack.formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: '/aws/sagemaker/*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
        'SageMaker names the log groups and streams of jobs and endpoints itself (/aws/sagemaker/TrainingJobs, /aws/sagemaker/Endpoints/<name>): limited to the /aws/sagemaker/ prefix, as its documentation requires.',
      ],
    ]);
    Validations.of(sagemakerPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ecr:GetAuthorizationToken has no resource-level permissions; cloudwatch:PutMetricData has none either and is limited by condition to the /aws/sagemaker/* namespaces.',
    });

    const smPolicy = this.stateMachine.role.node.findChild('DefaultPolicy');
    acknowledgeWildcards(smPolicy, [
      [
        sagemakerArn('training-job', `${names.resourcePrefix}*`),
        'Training job names are made per execution by Prepare (<project>-<timestamp>-<hash>): limited to the project prefix.',
      ],
      [
        sagemakerArn('model', `${names.resourcePrefix}*`),
        'Model names are the per-execution training job names: limited to the project prefix.',
      ],
      [
        sagemakerArn('endpoint-config', `${names.resourcePrefix}*`),
        'Endpoint config names are the per-execution training job names: limited to the project prefix.',
      ],
      [
        sagemakerArn('model-package', `${names.modelPackageGroup}/*`),
        'Model package versions are numbered by SageMaker within the group: limited to the versions of this project group.',
      ],
      ...[this.prepare, this.evaluate, this.promote].map((f): WildcardGrant => [
        lambdaVersions(f),
        'Added by the Step Functions Lambda task so that a version or alias of this one function may be invoked.',
      ]),
    ]);
    Validations.of(smPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'sagemaker:ListModelPackages (finding the champion), cloudwatch:PutMetricData (counting skips; limited by condition to the DevMLOps namespace), X-Ray tracing and CloudWatch Logs delivery (logs:CreateLogDelivery and friends, added by CDK for state machine logging) have no resource-level permissions.',
    });
  }
}
