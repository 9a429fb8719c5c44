import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface TrainingTriggersProps {
  /** The training state machine. Required. */
  readonly stateMachine: sfn.IStateMachine;
  /** The dataset every start names in its input. Required. */
  readonly dataset: string;
  /**
   * An EventBridge schedule expression, e.g. `rate(7 days)` or `cron(0 3 ? * MON *)`.
   * @default - no scheduled training
   */
  readonly schedule?: string;
  /**
   * Start training when an object is created under `<dataset>/` in this bucket (curated). The bucket must send its
   * events to EventBridge (DataLake `curatedEventBridge`).
   * @default - no training on new data
   */
  readonly newDataBucket?: s3.IBucket;
}

/**
 * The automatic starts of the training pipeline. Each passes `{trigger, dataset, ...}` as the execution input;
 * the state machine's guard skips a start while another execution runs.
 */
export class TrainingTriggers extends Construct {
  /** Undefined without a schedule. */
  readonly scheduleRule?: events.Rule;
  /** Undefined unless training on new data. */
  readonly newDataRule?: events.Rule;

  constructor(scope: Construct, id: string, props: TrainingTriggersProps) {
    super(scope, id);
    if (!props.dataset) throw new Error('TrainingTriggers: dataset is required');
    if (props.schedule !== undefined && !/^(rate|cron)\(.+\)$/.test(props.schedule))
      throw new Error(
        `TrainingTriggers: schedule must be an EventBridge schedule expression like rate(7 days), got "${props.schedule}"`,
      );

    if (props.schedule !== undefined) {
      this.scheduleRule = new events.Rule(this, 'Schedule', {
        description: `Scheduled training on ${props.dataset}`,
        schedule: events.Schedule.expression(props.schedule),
      });
      this.scheduleRule.addTarget(
        new targets.SfnStateMachine(props.stateMachine, {
          input: events.RuleTargetInput.fromObject({ trigger: 'schedule', dataset: props.dataset }),
        }),
      );
    }

    if (props.newDataBucket !== undefined) {
      this.newDataRule = new events.Rule(this, 'NewData', {
        description: `Training when a file of ${props.dataset} is accepted into curated`,
        eventPattern: {
          source: ['aws.s3'],
          detailType: ['Object Created'],
          detail: {
            bucket: { name: [props.newDataBucket.bucketName] },
            object: { key: [{ prefix: `${props.dataset}/` }] },
          },
        },
      });
      this.newDataRule.addTarget(
        new targets.SfnStateMachine(props.stateMachine, {
          input: events.RuleTargetInput.fromObject({
            trigger: 'new-data',
            dataset: props.dataset,
            key: events.EventField.fromPath('$.detail.object.key'),
          }),
        }),
      );
    }
  }
}
