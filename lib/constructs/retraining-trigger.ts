import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface RetrainingTriggerProps {
  /** The drift alarm: its state change to ALARM starts retraining. Required. */
  readonly alarm: cloudwatch.IAlarm;
  /** The training state machine. Required. */
  readonly stateMachine: sfn.IStateMachine;
  /** The dataset the execution trains on. Required. */
  readonly dataset: string;
  /**
   * EventBridge's retries of a failed StartExecution.
   * @default 185 (EventBridge's maximum)
   */
  readonly retryAttempts?: number;
}

/**
 * Drift alarm -> training state machine, with no Lambda in between: the execution input is
 * `{"trigger":"drift","alarm":<alarm name>,"time":<event time>,"dataset":<dataset>}`. Only the transition into
 * ALARM matches, so one drift episode sends one start; the state machine's guard (running execution, cooldown
 * after a deploy) absorbs the rest.
 */
export class RetrainingTrigger extends Construct {
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: RetrainingTriggerProps) {
    super(scope, id);
    const retryAttempts = props.retryAttempts ?? 185;
    if (!props.dataset) throw new Error('RetrainingTrigger: dataset is required');
    if (!Number.isInteger(retryAttempts) || retryAttempts < 0 || retryAttempts > 185)
      throw new Error(
        `RetrainingTrigger: retryAttempts must be an integer in [0, 185], got ${retryAttempts}`,
      );

    this.rule = new events.Rule(this, 'OnDriftAlarm', {
      description: `Retrain ${props.dataset} when the drift alarm goes to ALARM`,
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        resources: [props.alarm.alarmArn],
        detail: { state: { value: ['ALARM'] } },
      },
    });
    this.rule.addTarget(
      new targets.SfnStateMachine(props.stateMachine, {
        input: events.RuleTargetInput.fromObject({
          trigger: 'drift',
          alarm: events.EventField.fromPath('$.detail.alarmName'),
          time: events.EventField.time,
          dataset: props.dataset,
        }),
        retryAttempts,
        maxEventAge: Duration.hours(24),
      }),
    );
  }
}
