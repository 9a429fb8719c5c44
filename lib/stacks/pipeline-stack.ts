import { CrossStackReferences, Duration, ReferenceStrength, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { DevMlopsConfig } from '../config';
import type { DataLakeResources } from '../constructs/data-lake';
import { DataValidation } from '../constructs/data-validation';

export interface PipelineStackProps extends StackProps {
  /** The parsed devmlops config. Required. */
  readonly config: DevMlopsConfig;
  /** The buckets and key of the DataLakeStack. Required. */
  readonly dataLake: DataLakeResources;
}

/** The processing stack (DESIGN.md section 3). For now: validation of every object landing in raw. */
export class PipelineStack extends Stack {
  readonly validation: DataValidation;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, {
      description: `devmlops pipeline (${props.config.project}): data validation`,
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
      logRetention: config.logRetentionDays,
    });
    Tags.of(this).add('Project', config.project);
  }
}
