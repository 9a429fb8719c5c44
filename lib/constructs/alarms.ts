import { ArnFormat, Aws, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from './drift-monitor';

/** The deterministic alarm names of the monitoring stack (issue 4 contract). */
export interface MonitoringAlarmNames {
  readonly drift: string;
  readonly quarantineRate: string;
  readonly pipelineFailures: string;
  readonly lambdaErrors: string;
  readonly dlqDepth: string;
}

export function monitoringAlarmNames(project: string): MonitoringAlarmNames {
  return {
    drift: `${project}-drift`,
    quarantineRate: `${project}-quarantine-rate`,
    pipelineFailures: `${project}-pipeline-failures`,
    lambdaErrors: `${project}-lambda-errors`,
    dlqDepth: `${project}-dlq-depth`,
  };
}

/** Metric math takes at most this many metrics in one expression's usingMetrics (CloudWatch's limit). */
const MAX_MATH_METRICS = 10;

export interface MonitoringAlarmsProps {
  /** Alarm names start with it; the `Project` dimension of the custom metrics. Required. */
  readonly project: string;
  /** Every alarm notifies it. Required. */
  readonly topic: sns.ITopic;
  /**
   * The topic's KMS key: CloudWatch must be allowed to encrypt with it, or an encrypted topic drops the alarm's
   * notifications.
   * @default - the topic is not encrypted with a customer managed key
   */
  readonly topicKey?: kms.IKey;
  /** The training state machine (AWS/States failures). Required. */
  readonly stateMachine: sfn.IStateMachine;
  /** Every Lambda of the project, summed in the Lambda errors alarm. At least one, at most 10. Required. */
  readonly functions: readonly lambda.IFunction[];
  /** The validation dead-letter queue. Required. */
  readonly deadLetterQueue: sqs.IQueue;
  /**
   * The drift alarm fires when MaxFeatureDrift is above this.
   * @default 0.2
   */
  readonly driftThreshold?: number;
  /**
   * Hourly periods the drift alarm looks at.
   * @default 3
   */
  readonly evaluationPeriods?: number;
  /**
   * Of evaluationPeriods, how many must breach.
   * @default 2
   */
  readonly datapointsToAlarm?: number;
  /**
   * The quarantine-rate alarm fires when quarantined / received files in an hour is above this.
   * @default 0.5
   */
  readonly maxQuarantineRate?: number;
}

/** The operational alarms (DESIGN.md section 8), each with the SNS topic as its action. */
export class MonitoringAlarms extends Construct {
  readonly names: MonitoringAlarmNames;
  /** Its state change to ALARM starts retraining. */
  readonly drift: cloudwatch.Alarm;
  readonly quarantineRate: cloudwatch.Alarm;
  readonly pipelineFailures: cloudwatch.Alarm;
  readonly lambdaErrors: cloudwatch.Alarm;
  readonly dlqDepth: cloudwatch.Alarm;
  readonly all: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: MonitoringAlarmsProps) {
    super(scope, id);
    const driftThreshold = props.driftThreshold ?? 0.2;
    const evaluationPeriods = props.evaluationPeriods ?? 3;
    const datapointsToAlarm = props.datapointsToAlarm ?? 2;
    const maxQuarantineRate = props.maxQuarantineRate ?? 0.5;
    if (!props.project) throw new Error('MonitoringAlarms: project is required');
    if (!(driftThreshold > 0))
      throw new Error(`MonitoringAlarms: driftThreshold must be > 0, got ${driftThreshold}`);
    if (!Number.isInteger(evaluationPeriods) || evaluationPeriods < 1 || evaluationPeriods > 24)
      throw new Error(
        `MonitoringAlarms: evaluationPeriods must be an integer in [1, 24], got ${evaluationPeriods}`,
      );
    if (
      !Number.isInteger(datapointsToAlarm) ||
      datapointsToAlarm < 1 ||
      datapointsToAlarm > evaluationPeriods
    )
      throw new Error(
        `MonitoringAlarms: datapointsToAlarm must be an integer in [1, evaluationPeriods=${evaluationPeriods}], got ${datapointsToAlarm}`,
      );
    if (!(maxQuarantineRate >= 0 && maxQuarantineRate <= 1))
      throw new Error(`MonitoringAlarms: maxQuarantineRate must be in [0, 1], got ${maxQuarantineRate}`);
    if (props.functions.length === 0 || props.functions.length > MAX_MATH_METRICS)
      throw new Error(
        `MonitoringAlarms: functions must hold 1 to ${MAX_MATH_METRICS} Lambdas, got ${props.functions.length}`,
      );

    this.names = monitoringAlarmNames(props.project);
    const project = { Project: props.project };
    const hour = Duration.hours(1);
    const fiveMinutes = Duration.minutes(5);

    this.drift = new cloudwatch.Alarm(this, 'Drift', {
      alarmName: this.names.drift,
      alarmDescription: `Feature drift of ${props.project}: MaxFeatureDrift (PSI) above ${driftThreshold} in ${datapointsToAlarm} of ${evaluationPeriods} hours. ALARM starts retraining.`,
      metric: new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: 'MaxFeatureDrift',
        dimensionsMap: project,
        statistic: cloudwatch.Stats.MAXIMUM,
        period: hour,
      }),
      threshold: driftThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods,
      datapointsToAlarm,
      // Insufficient data sends no drift metric: not knowing is not drift.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const validation = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: project,
        statistic: cloudwatch.Stats.SUM,
        period: hour,
      });
    this.quarantineRate = new cloudwatch.Alarm(this, 'QuarantineRate', {
      alarmName: this.names.quarantineRate,
      alarmDescription: `More than ${maxQuarantineRate * 100}% of the files received in an hour were quarantined whole`,
      // FILL: an hour with only quarantined (or only accepted) files has no datapoint for the other metric.
      metric: new cloudwatch.MathExpression({
        expression: 'FILL(quarantined, 0) / (FILL(accepted, 0) + FILL(quarantined, 0))',
        usingMetrics: { accepted: validation('FilesAccepted'), quarantined: validation('FilesQuarantined') },
        label: 'Quarantine rate',
        period: hour,
      }),
      threshold: maxQuarantineRate,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const states = (metricName: string) =>
      props.stateMachine.metric(metricName, { statistic: cloudwatch.Stats.SUM, period: fiveMinutes });
    this.pipelineFailures = new cloudwatch.Alarm(this, 'PipelineFailures', {
      alarmName: this.names.pipelineFailures,
      alarmDescription: `A ${props.project} training execution failed, timed out or was aborted`,
      metric: new cloudwatch.MathExpression({
        expression: 'SUM([failed, timedOut, aborted])',
        usingMetrics: {
          failed: states('ExecutionsFailed'),
          timedOut: states('ExecutionsTimedOut'),
          aborted: states('ExecutionsAborted'),
        },
        label: 'Failed, timed out or aborted executions',
        period: fiveMinutes,
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const errors: Record<string, cloudwatch.IMetric> = {};
    props.functions.forEach((f, i) => {
      errors[`errors${i}`] = f.metricErrors({ statistic: cloudwatch.Stats.SUM, period: fiveMinutes });
    });
    this.lambdaErrors = new cloudwatch.Alarm(this, 'LambdaErrors', {
      alarmName: this.names.lambdaErrors,
      alarmDescription: `A ${props.project} Lambda function reported an error`,
      metric: new cloudwatch.MathExpression({
        expression: `SUM([${Object.keys(errors).join(', ')}])`,
        usingMetrics: errors,
        label: 'Lambda errors',
        period: fiveMinutes,
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.dlqDepth = new cloudwatch.Alarm(this, 'DlqDepth', {
      alarmName: this.names.dlqDepth,
      alarmDescription: `Raw objects of ${props.project} that could not be validated wait in the validation dead-letter queue`,
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        statistic: cloudwatch.Stats.MAXIMUM,
        period: fiveMinutes,
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.all = [this.drift, this.quarantineRate, this.pipelineFailures, this.lambdaErrors, this.dlqDepth];
    const notify = new actions.SnsAction(props.topic);
    for (const alarm of this.all) alarm.addAlarmAction(notify);

    if (props.topicKey !== undefined) {
      const stack = Stack.of(this);
      props.topicKey.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'CloudWatchAlarmsOfTheProject',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: {
            StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
            ArnLike: {
              'aws:SourceArn': stack.formatArn({
                service: 'cloudwatch',
                resource: 'alarm',
                resourceName: `${props.project}-*`,
                arnFormat: ArnFormat.COLON_RESOURCE_NAME,
              }),
            },
          },
        }),
      );
    }
  }
}
