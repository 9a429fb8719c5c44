import {
  CfnOutput,
  CrossStackReferences,
  Duration,
  ReferenceStrength,
  Stack,
  Tags,
  type StackProps,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { DevMlopsConfig } from '../config';
import type { DataLakeResources } from '../constructs/data-lake';
import { DataValidation } from '../constructs/data-validation';
import { InferenceApi } from '../constructs/inference-api';
import { PipelineCleanup } from '../constructs/pipeline-cleanup';
import { TrainingPipeline } from '../constructs/training-pipeline';
import { TrainingTriggers } from '../constructs/training-triggers';
import { PIPELINE_OUTPUTS } from './outputs';

export interface PipelineStackProps extends StackProps {
  /** The parsed devmlops config. Required. */
  readonly config: DevMlopsConfig;
  /** The buckets and key of the DataLakeStack. Required. */
  readonly dataLake: DataLakeResources;
}

/**
 * The processing stack (DESIGN.md section 3): validation of every object landing in raw, and the training
 * pipeline (state machine, its Lambdas, SageMaker role, model package group, topic, rollback alarms), its
 * triggers, the cleanup of what it deploys, and the inference API in front of the endpoint.
 */
export class PipelineStack extends Stack {
  readonly validation: DataValidation;
  readonly training: TrainingPipeline;
  readonly triggers: TrainingTriggers;
  readonly cleanup: PipelineCleanup;
  readonly inference: InferenceApi;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, {
      description: `devmlops pipeline (${props.config.project}): data validation, training and inference`,
      ...props,
    });
    // Exports/imports: CloudFormation then refuses to delete or replace a data lake bucket or the key while this
    // stack still uses it, which is what a stateful dependency should do.
    CrossStackReferences.of(this).consume(ReferenceStrength.STRONG);
    const { config } = props;
    this.validation = new DataValidation(this, 'Validation', {
      dataLake: props.dataLake,
      datasets: [config.dataset],
      project: config.project,
      maxInvalidRowFraction: config.validation.maxInvalidRowFraction,
      maxLineBytes: config.validation.maxLineBytes,
      memorySize: config.validation.memorySize,
      timeout: Duration.seconds(config.validation.timeoutSeconds),
      maxReceiveCount: config.validation.maxReceiveCount,
      maxFileBytes: config.validation.maxFileBytes,
      logRetention: config.logRetentionDays,
    });
    this.training = new TrainingPipeline(this, 'Training', {
      dataLake: props.dataLake,
      dataset: config.dataset,
      project: config.project,
      training: config.training,
      endpoint: config.endpoint,
      notificationEmail: config.notificationEmail,
      logRetention: config.logRetentionDays,
    });
    this.triggers = new TrainingTriggers(this, 'TrainingTriggers', {
      stateMachine: this.training.stateMachine,
      dataset: config.dataset.name,
      schedule: config.training.schedule,
      newDataBucket: config.training.trainOnNewData ? props.dataLake.curated : undefined,
    });
    this.cleanup = new PipelineCleanup(this, 'Cleanup', {
      project: config.project,
      // Deleted first on stack delete, so the endpoint goes while the role and alarms it uses still exist.
      deleteBefore: [this.training.sagemakerRole, this.training.alarm5xx, this.training.alarmLatency],
      // Emptied by the cleanup before CloudFormation deletes it.
      modelPackageGroup: this.training.modelPackageGroup,
      logRetention: config.logRetentionDays,
    });
    this.inference = new InferenceApi(this, 'Inference', {
      dataLake: props.dataLake,
      dataset: config.dataset,
      project: config.project,
      endpointName: this.training.names.endpoint,
      endpointType: config.endpoint.type,
      maxBatchSize: config.inference.maxBatchSize,
      threshold: config.inference.threshold,
      throttlingRateLimit: config.inference.throttlingRateLimit,
      throttlingBurstLimit: config.inference.throttlingBurstLimit,
      memorySize: config.inference.memorySize,
      timeout: Duration.seconds(config.inference.timeoutSeconds),
      specRefresh: Duration.seconds(config.inference.specRefreshSeconds),
      captureBufferInterval: Duration.seconds(config.inference.captureBufferSeconds),
      captureBufferSizeMb: config.inference.captureBufferMb,
      cloudWatchRole: config.inference.apiGatewayCloudWatchRole,
      logRetention: config.logRetentionDays,
      alarmTopic: this.training.topic,
    });
    new CfnOutput(this, PIPELINE_OUTPUTS.stateMachineArn, {
      description: 'The training state machine (devmlops train starts it)',
      value: this.training.stateMachine.stateMachineArn,
    });
    new CfnOutput(this, PIPELINE_OUTPUTS.topicArn, {
      description: 'The pipeline notifications (failures, rejections, deploys)',
      value: this.training.topic.topicArn,
    });
    new CfnOutput(this, PIPELINE_OUTPUTS.inferenceApiUrl, {
      description: 'The inference API (IAM auth): POST <url>v1/predict with {"records": [...]}',
      value: this.inference.url,
    });
    new CfnOutput(this, PIPELINE_OUTPUTS.inferenceInvokePolicyArn, {
      description: 'Attach to the roles of applications that call the inference API',
      value: this.inference.invokePolicy.managedPolicyArn,
    });
    Tags.of(this).add('Project', config.project);
  }
}
