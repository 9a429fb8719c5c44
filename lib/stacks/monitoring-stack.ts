import {
  ArnFormat,
  CrossStackReferences,
  ReferenceStrength,
  Stack,
  Tags,
  type StackProps,
} from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { DevMlopsConfig } from '../config';
import { MonitoringAlarms } from '../constructs/alarms';
import { MonitoringDashboard } from '../constructs/dashboard';
import { inferenceAlarmNames } from '../constructs/inference-api';
import type { DataLakeResources } from '../constructs/data-lake';
import { DriftMonitor } from '../constructs/drift-monitor';
import { RetrainingTrigger } from '../constructs/retraining-trigger';
import { trainingNames, VARIANT_NAME } from '../constructs/training-names';
import type { PipelineStack } from './pipeline-stack';

export interface MonitoringStackProps extends StackProps {
  /** The parsed devmlops config. Required. */
  readonly config: DevMlopsConfig;
  /** The buckets and key of the DataLakeStack. Required. */
  readonly dataLake: DataLakeResources;
  /** The pipeline: its state machine, topic, validation DLQ and Lambdas are monitored. Required. */
  readonly pipeline: PipelineStack;
}

/**
 * Closes the loop (DESIGN.md sections 3 and 8): the scheduled drift check, the alarms, the rule that retrains on
 * the drift alarm, and the project's dashboard.
 */
export class MonitoringStack extends Stack {
  readonly drift: DriftMonitor;
  readonly alarms: MonitoringAlarms;
  readonly retraining: RetrainingTrigger;
  readonly dashboard: MonitoringDashboard;

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id, {
      description: `devmlops monitoring (${props.config.project}): drift checks, alarms, retraining and dashboard`,
      ...props,
    });
    CrossStackReferences.of(this).consume(ReferenceStrength.STRONG);
    const { config, pipeline } = props;
    const names = trainingNames(config.project);
    const m = config.monitoring;
    // By its fixed name, as the training names contract asks: no export from the pipeline stack for it.
    const stateMachine = sfn.StateMachine.fromStateMachineName(
      this,
      'TrainingStateMachine',
      names.stateMachine,
    );

    this.drift = new DriftMonitor(this, 'Drift', {
      dataLake: props.dataLake,
      project: config.project,
      endpointName: names.endpoint,
      schedule: m.schedule,
      windowHours: m.windowHours,
      minSamples: m.minSamples,
      driftThreshold: m.driftThreshold,
      featureThresholds: m.featureThresholds,
      logRetention: config.logRetentionDays,
      topic: pipeline.training.topic,
      topicKey: pipeline.training.key,
    });

    const functions: Record<string, lambda.IFunction> = {
      validate: pipeline.validation.handler,
      prepare: pipeline.training.prepare.function,
      evaluate: pipeline.training.evaluate.function,
      promote: pipeline.training.promote.function,
      cleanup: pipeline.cleanup.function.function,
      'cleanup-is-complete': pipeline.cleanup.isCompleteFunction.function,
      drift: this.drift.handler,
      predict: pipeline.inference.handler,
    };
    this.alarms = new MonitoringAlarms(this, 'Alarms', {
      project: config.project,
      topic: pipeline.training.topic,
      topicKey: pipeline.training.key,
      stateMachine,
      functions: Object.values(functions),
      deadLetterQueue: pipeline.validation.deadLetterQueue,
      driftThreshold: m.driftThreshold,
      evaluationPeriods: m.evaluationPeriods,
      datapointsToAlarm: m.datapointsToAlarm,
      maxQuarantineRate: m.maxQuarantineRate,
    });

    this.retraining = new RetrainingTrigger(this, 'Retraining', {
      alarm: this.alarms.drift,
      stateMachine,
      dataset: config.dataset.name,
    });

    // The endpoint's and the inference API's alarms live with them (PipelineStack); shown here by name, no reference.
    const api = inferenceAlarmNames(config.project);
    const endpointAlarms = [
      names.alarm5xx,
      names.alarmLatency,
      api.api5xx,
      ...(config.endpoint.type === 'serverless' ? [api.captureFailures, api.captureDelivery] : []),
    ].map((name) =>
      cloudwatch.Alarm.fromAlarmArn(
        this,
        `Alarm-${name}`,
        this.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: name,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ),
    );
    this.dashboard = new MonitoringDashboard(this, 'Dashboard', {
      project: config.project,
      dataset: config.dataset,
      stateMachine,
      endpointName: names.endpoint,
      variantName: VARIANT_NAME,
      endpointType: config.endpoint.type,
      functions,
      deadLetterQueue: pipeline.validation.deadLetterQueue,
      alarms: [...this.alarms.all, ...endpointAlarms],
      driftThreshold: m.driftThreshold,
      featureThresholds: m.featureThresholds,
      trainingMetricName: pipeline.training.metricName,
      inference: pipeline.inference,
    });
    Tags.of(this).add('Project', config.project);
  }
}
