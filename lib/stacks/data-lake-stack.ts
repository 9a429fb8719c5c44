import { Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { DevMlopsConfig } from '../config';
import { DataLake } from '../constructs/data-lake';

export interface DataLakeStackProps extends StackProps {
  /** The parsed devmlops config. Required. */
  readonly config: DevMlopsConfig;
}

/** The stateful stack: the KMS key and the buckets (DESIGN.md section 3). RETAIN unless the config says destroy. */
export class DataLakeStack extends Stack {
  readonly dataLake: DataLake;

  constructor(scope: Construct, id: string, props: DataLakeStackProps) {
    super(scope, id, {
      description: `devmlops data lake (${props.config.project}): KMS key and S3 buckets`,
      ...props,
    });
    const { config } = props;
    this.dataLake = new DataLake(this, 'DataLake', {
      removalPolicy: config.dataLake.removalPolicy,
      rawInfrequentAccessDays: config.dataLake.rawInfrequentAccessDays,
      noncurrentVersionExpirationDays: config.dataLake.noncurrentVersionExpirationDays,
      accessLogExpirationDays: config.dataLake.accessLogExpirationDays,
      curatedEventBridge: config.training.trainOnNewData,
    });
    Tags.of(this).add('Project', config.project);
  }
}
