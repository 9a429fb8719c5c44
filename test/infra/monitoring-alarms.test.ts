import { Template } from 'aws-cdk-lib/assertions';
import { targetInput, type EventBridgeEvent } from '../../lib/local/events';
import { logicalId, permissions, props, resourcesOf, type Json } from './helpers';
import { alarmNamed, buildMonitoring } from './monitoring-helpers';

const b = buildMonitoring();
const t = b.monitoringTemplate;
const topic = {
  'Fn::ImportValue': expect.stringMatching(/^devmlops-pipeline:ExportsOutputRefTrainingTopic/),
};
const stateMachineArn = {
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':states:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      ':stateMachine:devmlops-training',
    ],
  ],
};

describe('the monitoring alarms', () => {
  it('has exactly the five alarms, each notifying the pipeline topic and nothing else', () => {
    const alarms = Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm')).map(props);
    expect(alarms.map((a) => a.AlarmName).sort()).toEqual(
      [
        'devmlops-dlq-depth',
        'devmlops-drift',
        'devmlops-lambda-errors',
        'devmlops-pipeline-failures',
        'devmlops-quarantine-rate',
      ].sort(),
    );
    for (const a of alarms) {
      expect(a.AlarmActions).toEqual([topic]);
      expect(a.TreatMissingData).toBe('notBreaching');
    }
  });

  it('drift: MaxFeatureDrift maximum per hour above the threshold in 2 of 3 periods', () => {
    expect(alarmNamed(t, 'devmlops-drift')).toMatchObject({
      Namespace: 'DevMLOps',
      MetricName: 'MaxFeatureDrift',
      Dimensions: [{ Name: 'Project', Value: 'devmlops' }],
      Statistic: 'Maximum',
      Period: 3600,
      Threshold: 0.2,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
    });
  });

  it('drift: follows the monitoring config', () => {
    const custom = buildMonitoring((c) => {
      c.monitoring = { driftThreshold: 0.35, evaluationPeriods: 6, datapointsToAlarm: 4 };
    });
    expect(alarmNamed(custom.monitoringTemplate, 'devmlops-drift')).toMatchObject({
      Threshold: 0.35,
      EvaluationPeriods: 6,
      DatapointsToAlarm: 4,
    });
  });

  it('refuses datapointsToAlarm above evaluationPeriods', () => {
    expect(() =>
      buildMonitoring((c) => {
        c.monitoring = { evaluationPeriods: 2, datapointsToAlarm: 3 };
      }),
    ).toThrow('datapointsToAlarm must be an integer in [1, evaluationPeriods=2], got 3');
  });

  it('quarantine rate: quarantined / (accepted + quarantined) per hour above maxQuarantineRate', () => {
    const a = alarmNamed(t, 'devmlops-quarantine-rate');
    expect(a).toMatchObject({
      Threshold: 0.5,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
    });
    const metrics = a.Metrics as Json[];
    const expr = metrics.find((m) => m.Expression !== undefined) as Json;
    expect(expr.Expression).toBe('FILL(quarantined, 0) / (FILL(accepted, 0) + FILL(quarantined, 0))');
    expect(expr.ReturnData).toBe(true);
    const stat = (id: string) => (metrics.find((m) => m.Id === id) as Json).MetricStat;
    for (const [id, name] of [
      ['accepted', 'FilesAccepted'],
      ['quarantined', 'FilesQuarantined'],
    ])
      expect(stat(id)).toEqual({
        Metric: {
          Namespace: 'DevMLOps',
          MetricName: name,
          Dimensions: [{ Name: 'Project', Value: 'devmlops' }],
        },
        Period: 3600,
        Stat: 'Sum',
      });
    const custom = buildMonitoring((c) => {
      c.monitoring = { maxQuarantineRate: 0.1 };
    });
    expect(alarmNamed(custom.monitoringTemplate, 'devmlops-quarantine-rate').Threshold).toBe(0.1);
  });

  it('pipeline failures: failed + timed out + aborted executions of devmlops-training >= 1', () => {
    const a = alarmNamed(t, 'devmlops-pipeline-failures');
    expect(a).toMatchObject({
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
    });
    const metrics = a.Metrics as Json[];
    expect(metrics.find((m) => m.ReturnData === true)?.Expression).toBe('SUM([failed, timedOut, aborted])');
    const names = metrics
      .filter((m) => m.MetricStat)
      .map((m) => {
        const ms = m.MetricStat as Json;
        const metric = ms.Metric as Json;
        expect(metric.Namespace).toBe('AWS/States');
        expect(metric.Dimensions).toEqual([{ Name: 'StateMachineArn', Value: stateMachineArn }]);
        expect(ms.Stat).toBe('Sum');
        return metric.MetricName;
      });
    expect(names.sort()).toEqual(['ExecutionsAborted', 'ExecutionsFailed', 'ExecutionsTimedOut']);
  });

  it('lambda errors: the sum of Errors of every project Lambda (the inference Lambda too) >= 1', () => {
    const a = alarmNamed(t, 'devmlops-lambda-errors');
    expect(a).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    const metrics = a.Metrics as Json[];
    const stats = metrics.filter((m) => m.MetricStat);
    expect(metrics.find((m) => m.ReturnData === true)?.Expression).toBe(
      `SUM([${stats.map((m) => m.Id as string).join(', ')}])`,
    );
    const functionOf = (m: Json) => {
      const metric = (m.MetricStat as Json).Metric as Json;
      expect(metric.MetricName).toBe('Errors');
      expect(metric.Namespace).toBe('AWS/Lambda');
      const [dim] = metric.Dimensions as Json[];
      expect(dim.Name).toBe('FunctionName');
      return dim.Value;
    };
    const importOf = (id: string) => ({
      'Fn::ImportValue': expect.stringMatching(new RegExp(`^devmlops-pipeline:ExportsOutputRef${id}`)),
    });
    expect(stats.map(functionOf)).toEqual([
      importOf('ValidationHandlerFunction'),
      importOf('TrainingPrepareFunction'),
      importOf('TrainingEvaluateFunction'),
      importOf('TrainingPromoteFunction'),
      importOf('CleanupHandlerFunction'),
      importOf('CleanupIsCompleteFunction'),
      { Ref: logicalId(b.monitoring.drift.handler) },
      importOf('InferenceHandlerFunction'),
    ]);
  });

  it('dlq depth: visible messages of the validation dead-letter queue >= 1', () => {
    expect(alarmNamed(t, 'devmlops-dlq-depth')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: {
            'Fn::ImportValue': expect.stringMatching(
              /^devmlops-pipeline:ExportsOutputFnGetAttValidationDeadLetterQueue.*QueueName/,
            ),
          },
        },
      ],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('lets CloudWatch alarms of the project use the topic key, and nothing else gains from it', () => {
    const keys = Object.values(resourcesOf(b.pipelineTemplate, 'AWS::KMS::Key')).map(props);
    const statements = keys.flatMap((k) => (k.KeyPolicy as Json).Statement as Json[]);
    const cw = statements.filter((s) => s.Sid === 'CloudWatchAlarmsOfTheProject');
    expect(cw).toHaveLength(1);
    expect(cw[0]).toMatchObject({
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Condition: {
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: {
          'aws:SourceArn': {
            'Fn::Join': ['', expect.arrayContaining([':alarm:devmlops-*'])],
          },
        },
      },
    });
  });
});

describe('the retraining rule', () => {
  it('starts the training state machine on the drift alarm going to ALARM, with a drift input', () => {
    const rules = Object.values(resourcesOf(t, 'AWS::Events::Rule'))
      .map(props)
      .filter((r) => r.EventPattern !== undefined);
    expect(rules).toHaveLength(1);
    const [rule] = rules;
    expect(rule.EventPattern).toEqual({
      source: ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
      resources: [{ 'Fn::GetAtt': [logicalId(b.monitoring.alarms.drift), 'Arn'] }],
      detail: { state: { value: ['ALARM'] } },
    });
    const targets = rule.Targets as Json[];
    expect(targets).toHaveLength(1);
    const [target] = targets;
    expect(target.Arn).toEqual(stateMachineArn);
    const transformer = target.InputTransformer as {
      InputPathsMap: Record<string, string>;
      InputTemplate: string;
    };
    expect(Object.values(transformer.InputPathsMap).sort()).toEqual(['$.detail.alarmName', '$.time']);
    // What EventBridge sends for an alarm state change event, through the transformer as EventBridge applies it.
    const event: EventBridgeEvent = {
      version: '0',
      id: 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92',
      'detail-type': 'CloudWatch Alarm State Change',
      source: 'aws.cloudwatch',
      account: '123456789012',
      time: '2026-11-27T05:00:00Z',
      region: 'us-east-1',
      resources: ['arn:aws:cloudwatch:us-east-1:123456789012:alarm:devmlops-drift'],
      detail: { alarmName: 'devmlops-drift', state: { value: 'ALARM' } },
    };
    const input = targetInput({ id: 'Target0', arn: 'arn', inputTransformer: transformer }, event);
    expect(JSON.parse(input)).toEqual({
      trigger: 'drift',
      alarm: 'devmlops-drift',
      time: '2026-11-27T05:00:00Z',
      dataset: 'churn',
    });
    // The events role may start that state machine and nothing else.
    const roleId = (target.RoleArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
    const policies = Object.values(resourcesOf(t, 'AWS::IAM::Policy'))
      .map(props)
      .filter((p) => (p.Roles as Json[]).some((r) => r.Ref === roleId));
    expect(policies.flatMap((p) => permissions(p.PolicyDocument as Json))).toEqual([
      'Allow states:StartExecution arn:AWS::Partition:states:AWS::Region:AWS::AccountId:stateMachine:devmlops-training',
    ]);
    expect(Template.fromStack(b.monitoring).findResources('AWS::Lambda::Function')).toEqual({
      [logicalId(b.monitoring.drift.handler)]: expect.anything(),
    });
  });
});
