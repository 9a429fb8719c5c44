import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { DataLakeResources } from './data-lake';
import { LAMBDA_ENVIRONMENT_LIMIT_BYTES, lambdaEnvironmentBytes } from './data-validation';
import { DevFunction } from './lambda-function';
import { acknowledgeWildcards, PINNED_RUNTIME_REASON, type WildcardGrant } from './nag-acks';
import { ARTIFACT_PREFIXES } from './training-names';

/** The namespace of every custom metric of the project (DESIGN.md section 8). */
export const METRICS_NAMESPACE = 'DevMLOps';
/** The drift reports' prefix in the artifacts bucket (DESIGN.md section 5). */
export const DRIFT_REPORTS_PREFIX = 'reports/drift/';

export interface DriftMonitorProps {
  /** The data lake: the drift check reads and writes the artifacts bucket, encrypted with its key. Required. */
  readonly dataLake: DataLakeResources;
  /** The `Project` metric dimension. Required. */
  readonly project: string;
  /** The endpoint whose captured traffic is checked (`capture/<endpointName>/...`). Required. */
  readonly endpointName: string;
  /**
   * When the check runs, an EventBridge schedule expression.
   * @default 'rate(1 hour)'
   */
  readonly schedule?: string;
  /**
   * Whole hours of captured traffic each check reads.
   * @default 1
   */
  readonly windowHours?: number;
  /**
   * Fewer captured rows than this is "insufficient data".
   * @default 500
   */
  readonly minSamples?: number;
  /**
   * A feature drifts when its PSI is above this.
   * @default 0.2
   */
  readonly driftThreshold?: number;
  /**
   * Per-feature PSI thresholds overriding driftThreshold.
   * @default {}
   */
  readonly featureThresholds?: Readonly<Record<string, number>>;
  /**
   * The handler file, relative to the repository root.
   * @default 'lambdas/handlers/drift.ts'
   */
  readonly entry?: string;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default Duration.minutes(10) */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Where a drifted window is announced: the drifted features and where both reports are (s3:// URIs and S3
   * console links). The Lambda may publish to this topic only.
   * @default - no notification from the check (the drift alarm's own actions still apply)
   */
  readonly topic?: sns.ITopic;
  /**
   * The topic's customer managed KMS key: publishing to an encrypted topic needs kms:GenerateDataKey and
   * kms:Decrypt on it. Only with `topic`.
   * @default - the topic is not encrypted with a customer managed key
   */
  readonly topicKey?: kms.IKey;
}

/**
 * The scheduled drift check (DESIGN.md section 8): an EventBridge schedule invokes the drift Lambda, which compares
 * the window's captured traffic with the deployed model's baseline, writes a report (JSON and HTML) and publishes the
 * drift metrics; a drifted window is also announced on the topic, when one is given.
 */
export class DriftMonitor extends Construct {
  readonly function: DevFunction;
  readonly handler: lambda.Function;
  readonly rule: events.Rule;
  /** Where drifted windows are announced; undefined when no topic was given. */
  readonly topic?: sns.ITopic;

  constructor(scope: Construct, id: string, props: DriftMonitorProps) {
    super(scope, id);
    const schedule = props.schedule ?? 'rate(1 hour)';
    const windowHours = props.windowHours ?? 1;
    const minSamples = props.minSamples ?? 500;
    const driftThreshold = props.driftThreshold ?? 0.2;
    const featureThresholds = props.featureThresholds ?? {};
    if (!props.project) throw new Error('DriftMonitor: project is required');
    if (!props.endpointName) throw new Error('DriftMonitor: endpointName is required');
    if (!/^(rate|cron)\(.+\)$/.test(schedule))
      throw new Error(
        `DriftMonitor: schedule must be an EventBridge schedule expression like rate(1 hour), got "${schedule}"`,
      );
    if (!Number.isInteger(windowHours) || windowHours < 1 || windowHours > 168)
      throw new Error(`DriftMonitor: windowHours must be an integer in [1, 168], got ${windowHours}`);
    if (!Number.isInteger(minSamples) || minSamples < 1)
      throw new Error(`DriftMonitor: minSamples must be an integer >= 1, got ${minSamples}`);
    if (!(driftThreshold > 0))
      throw new Error(`DriftMonitor: driftThreshold must be > 0, got ${driftThreshold}`);
    for (const [name, t] of Object.entries(featureThresholds))
      if (!(t > 0)) throw new Error(`DriftMonitor: featureThresholds.${name} must be > 0, got ${t}`);
    if (props.topicKey !== undefined && props.topic === undefined)
      throw new Error('DriftMonitor: topicKey is the key of `topic`; give the topic too');
    this.topic = props.topic;

    const { dataLake } = props;
    const environment: Record<string, string> = {
      PROJECT: props.project,
      ARTIFACTS_BUCKET: dataLake.artifacts.bucketName,
      ENDPOINT_NAME: props.endpointName,
      WINDOW_HOURS: String(windowHours),
      MIN_SAMPLES: String(minSamples),
      DRIFT_THRESHOLD: String(driftThreshold),
      FEATURE_THRESHOLDS: JSON.stringify(featureThresholds),
      POWERTOOLS_SERVICE_NAME: 'drift',
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      ...(props.topic !== undefined ? { TOPIC_ARN: props.topic.topicArn } : {}),
    };
    const envBytes = lambdaEnvironmentBytes({ NODE_OPTIONS: '--enable-source-maps', ...environment });
    if (envBytes > LAMBDA_ENVIRONMENT_LIMIT_BYTES)
      throw new Error(
        `DriftMonitor: the drift Lambda's environment would be ${envBytes} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte limit; shorten featureThresholds`,
      );

    // Invoked asynchronously by EventBridge: the default async DLQ keeps events of checks that kept failing.
    this.function = new DevFunction(this, 'Handler', {
      entry: props.entry ?? 'lambdas/handlers/drift.ts',
      description: `Hourly drift check of ${props.endpointName}'s captured traffic against the model baseline`,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.minutes(10),
      logRetention: props.logRetention,
      environment,
    });
    this.handler = this.function.function;

    this.rule = new events.Rule(this, 'Schedule', {
      description: `Drift check of ${props.endpointName}`,
      schedule: events.Schedule.expression(schedule),
    });
    this.rule.addTarget(new targets.LambdaFunction(this.handler, { retryAttempts: 2 }));

    this.grantHandlerAccess(dataLake, props.endpointName, props.topic, props.topicKey);
    this.acknowledgeFindings(dataLake, props.endpointName);
  }

  /** Exactly what lambdas/handlers/drift.ts does. */
  private grantHandlerAccess(
    dataLake: DataLakeResources,
    endpointName: string,
    topic: sns.ITopic | undefined,
    topicKey: kms.IKey | undefined,
  ): void {
    const add = (statement: iam.PolicyStatementProps) =>
      this.function.role.addToPrincipalPolicy(new iam.PolicyStatement(statement));
    add({
      sid: 'ReadPointerBaselineAndCapture',
      actions: ['s3:GetObject'],
      resources: [
        dataLake.artifacts.arnForObjects(ARTIFACT_PREFIXES.currentPointer),
        // baseline.json and feature-spec.json are written by Prepare under training/.
        dataLake.artifacts.arnForObjects(`${ARTIFACT_PREFIXES.training}*`),
        dataLake.artifacts.arnForObjects(`${ARTIFACT_PREFIXES.capture}${endpointName}/*`),
      ],
    });
    // Listing the hour partitions and the variants; without it a missing current.json answers 403, not 404.
    add({
      sid: 'ListCaptureAndPointer',
      actions: ['s3:ListBucket'],
      resources: [dataLake.artifacts.bucketArn],
      conditions: {
        StringLike: {
          's3:prefix': [`${ARTIFACT_PREFIXES.capture}${endpointName}/*`, ARTIFACT_PREFIXES.currentPointer],
        },
      },
    });
    add({
      sid: 'WriteDriftReports',
      actions: ['s3:PutObject'],
      resources: [dataLake.artifacts.arnForObjects(`${DRIFT_REPORTS_PREFIX}${endpointName}/*`)],
    });
    add({
      sid: 'UseDataKey',
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: [dataLake.key.keyArn],
    });
    add({
      sid: 'PutDriftMetrics',
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': METRICS_NAMESPACE } },
    });
    if (topic !== undefined)
      add({ sid: 'AnnounceDrift', actions: ['sns:Publish'], resources: [topic.topicArn] });
    // SNS encrypts each message with the topic key on the publisher's behalf.
    if (topicKey !== undefined)
      add({
        sid: 'PublishToEncryptedTopic',
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [topicKey.keyArn],
      });
  }

  private acknowledgeFindings(dataLake: DataLakeResources, endpointName: string): void {
    const policy = this.function.role.node.findChild('DefaultPolicy');
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudwatch:PutMetricData has no resource-level permissions (limited to the DevMLOps namespace by condition); X-Ray PutTraceSegments/PutTelemetryRecords neither (CDK adds them for Tracing.ACTIVE).',
    });
    const wildcardGrants: WildcardGrant[] = [
      [
        dataLake.artifacts.arnForObjects(`${ARTIFACT_PREFIXES.training}*`),
        'Read only: the baseline.json and feature-spec.json named by baselines/current.json live under a per-run training/ prefix not known until the model is promoted.',
      ],
      [
        dataLake.artifacts.arnForObjects(`${ARTIFACT_PREFIXES.capture}${endpointName}/*`),
        "Read only: SageMaker Data Capture writes this endpoint's traffic under variant/yyyy/mm/dd/hh/ partitions with generated file names.",
      ],
      [
        dataLake.artifacts.arnForObjects(`${DRIFT_REPORTS_PREFIX}${endpointName}/*`),
        "Write only, limited to this endpoint's drift reports: two objects per checked hour, keyed yyyy/mm/dd/hh.json and yyyy/mm/dd/hh.html.",
      ],
    ];
    acknowledgeWildcards(policy, wildcardGrants);
    Validations.of(this.handler).acknowledge({ id: 'AwsSolutions-L1', reason: PINNED_RUNTIME_REASON });
  }
}
