import { Duration, Stack } from 'aws-cdk-lib';
import { PipelineCleanup } from '../../lib/constructs/pipeline-cleanup';
import { build, logicalId, permissions, props, resourcesOf, type Json } from './helpers';
import { buildWith, idOf } from './training-helpers';

/** The EventBridge rules of the pipeline stack other than the validation rule. */
function trainingRules(b: ReturnType<typeof build>): Json[] {
  const validationRule = logicalId(b.pipeline.validation.rule);
  return Object.entries(resourcesOf(b.pipelineTemplate, 'AWS::Events::Rule'))
    .filter(([id]) => id !== validationRule)
    .map(([, r]) => props(r));
}

describe('training triggers', () => {
  it('has no schedule and no new-data rule by default, and curated sends no events', () => {
    const b = build();
    expect(trainingRules(b)).toEqual([]);
    expect(b.pipeline.triggers.scheduleRule).toBeUndefined();
    expect(b.pipeline.triggers.newDataRule).toBeUndefined();
    expect(
      props(resourcesOf(b.dataLakeTemplate, 'AWS::S3::Bucket').CuratedBucket).NotificationConfiguration,
    ).toBeUndefined();
  });

  it('starts the state machine on the configured schedule with {trigger: schedule, dataset}', () => {
    const b = buildWith((c) => (c.training = { schedule: 'rate(7 days)' }));
    const rules = trainingRules(b);
    expect(rules).toHaveLength(1);
    const sm = idOf(b.pipelineTemplate, 'AWS::StepFunctions::StateMachine', 'Training');
    expect(rules[0]).toMatchObject({ ScheduleExpression: 'rate(7 days)', State: 'ENABLED' });
    const targets = rules[0].Targets as Json[];
    expect(targets).toHaveLength(1);
    expect(targets[0].Arn).toEqual({ Ref: sm });
    expect(JSON.parse(targets[0].Input as string)).toEqual({ trigger: 'schedule', dataset: 'churn' });
    // The events role may start this state machine and nothing else.
    const roleId = (targets[0].RoleArn as Json)['Fn::GetAtt'] as string[];
    const policies = Object.values(resourcesOf(b.pipelineTemplate, 'AWS::IAM::Policy'))
      .map(props)
      .filter((p) => JSON.stringify(p.Roles) === JSON.stringify([{ Ref: roleId[0] }]));
    expect(policies.flatMap((p) => permissions(p.PolicyDocument as Json))).toEqual([
      `Allow states:StartExecution ${sm}`,
    ]);
  });

  it('starts the state machine when a file of the dataset lands in curated, with its key', () => {
    const b = buildWith((c) => (c.training = { trainOnNewData: true }));
    // Curated now publishes to EventBridge, keeping its logical ID.
    expect(
      props(resourcesOf(b.dataLakeTemplate, 'AWS::S3::Bucket').CuratedBucket).NotificationConfiguration,
    ).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
    const rules = trainingRules(b);
    expect(rules).toHaveLength(1);
    const pattern = rules[0].EventPattern as Json;
    expect(pattern.source).toEqual(['aws.s3']);
    expect(pattern['detail-type']).toEqual(['Object Created']);
    const detail = pattern.detail as Json;
    expect(((detail.bucket as Json).name as Json[]).length).toBe(1);
    expect(JSON.stringify((detail.bucket as Json).name)).toContain('CuratedBucket');
    expect(detail.object).toEqual({ key: [{ prefix: 'churn/' }] });
    const target = (rules[0].Targets as Json[])[0];
    expect(target.Arn).toEqual({
      Ref: idOf(b.pipelineTemplate, 'AWS::StepFunctions::StateMachine', 'Training'),
    });
    expect(target.InputTransformer).toEqual({
      InputPathsMap: { 'detail-object-key': '$.detail.object.key' },
      InputTemplate: '{"trigger":"new-data","dataset":"churn","key":<detail-object-key>}',
    });
  });

  it('rejects a schedule that is not an EventBridge expression', () => {
    expect(() => buildWith((c) => (c.training = { schedule: 'weekly' }))).toThrow(/schedule/);
  });
});

describe('pipeline cleanup custom resource', () => {
  const b = build();
  const t = b.pipelineTemplate;
  const c = b.pipeline.cleanup;
  const res = (t.toJSON().Resources as Record<string, Json>)[logicalId(c.resource)];

  it('is a custom resource for the project, served by the cleanup handler through the provider', () => {
    expect(res.Type).toBe('Custom::DevMlopsPipelineCleanup');
    expect(props(res)).toEqual({
      ServiceToken: { 'Fn::GetAtt': [expect.stringMatching(/^CleanupProviderframeworkonEvent/), 'Arn'] },
      Project: 'devmlops',
      ModelPackageGroup: 'devmlops-models',
    });
    const handler = props((t.toJSON().Resources as Record<string, Json>)[logicalId(c.function.function)]);
    expect(handler).toMatchObject({ Runtime: 'nodejs22.x', Timeout: 300, Handler: 'index.handler' });
    expect((handler.Environment as Json).Variables).toMatchObject({ PROJECT: 'devmlops' });
  });

  it('is deleted before the SageMaker role and the rollback alarms the endpoint uses', () => {
    expect(res.DependsOn).toEqual(
      expect.arrayContaining([
        logicalId(b.pipeline.training.sagemakerRole),
        logicalId(b.pipeline.training.alarm5xx),
        logicalId(b.pipeline.training.alarmLatency),
      ]),
    );
  });

  it('depends on the model package group, so CloudFormation empties it (cleanup) before deleting it', () => {
    expect(res.DependsOn).toContain(logicalId(b.pipeline.training.modelPackageGroup));
    const group = (t.toJSON().Resources as Record<string, Json>)[
      logicalId(b.pipeline.training.modelPackageGroup)
    ];
    expect(group.DeletionPolicy).toBe('Delete');
  });

  it('waits for busy endpoints through the provider isComplete handler, every 30 s for at most 1 h', () => {
    const resources = t.toJSON().Resources as Record<string, Json>;
    const isComplete = props(resources[logicalId(c.isCompleteFunction.function)]);
    expect(isComplete).toMatchObject({ Handler: 'index.isComplete', Timeout: 300 });
    const frameworkIsComplete = Object.entries(resourcesOf(t, 'AWS::Lambda::Function')).find(([id]) =>
      id.startsWith('CleanupProviderframeworkisComplete'),
    )!;
    expect((props(frameworkIsComplete[1]).Environment as Json).Variables).toMatchObject({
      USER_IS_COMPLETE_FUNCTION_ARN: { 'Fn::GetAtt': [logicalId(c.isCompleteFunction.function), 'Arn'] },
    });
    const waiter = Object.entries(resourcesOf(t, 'AWS::StepFunctions::StateMachine')).find(([id]) =>
      id.startsWith('CleanupProviderwaiterstatemachine'),
    )!;
    const definition = JSON.stringify(props(waiter[1]).DefinitionString);
    // 3600 s / 30 s = 120 attempts.
    expect(definition).toContain('\\"IntervalSeconds\\":30,\\"MaxAttempts\\":120');
    expect(props(waiter[1]).LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    const framework = Object.entries(resourcesOf(t, 'AWS::Lambda::Function')).find(([id]) =>
      id.startsWith('CleanupProviderframeworkonEvent'),
    )!;
    expect((props(framework[1]).Environment as Json).Variables).toMatchObject({
      USER_ON_EVENT_FUNCTION_ARN: { 'Fn::GetAtt': [logicalId(c.function.function), 'Arn'] },
      WAITER_STATE_MACHINE_ARN: { Ref: waiter[0] },
    });
  });

  it('rejects a totalTimeout shorter than the queryInterval', () => {
    expect(
      () =>
        new PipelineCleanup(new Stack(), 'C', {
          project: 'p',
          queryInterval: Duration.minutes(5),
          totalTimeout: Duration.minutes(1),
        }),
    ).toThrow(/queryInterval/);
  });

  it('gives the provider framework its own narrow role and log group (no managed policy, no LogRetention Lambda)', () => {
    const functions = Object.values(resourcesOf(t, 'AWS::Lambda::Function')).map(props);
    // validation, prepare, evaluate, promote, cleanup onEvent and isComplete, provider framework onEvent,
    // isComplete and onTimeout, inference.
    expect(functions).toHaveLength(10);
    expect(Object.keys(resourcesOf(t, 'Custom::LogRetention'))).toEqual([]);
    const framework = Object.entries(resourcesOf(t, 'AWS::Lambda::Function')).find(([id]) =>
      id.startsWith('CleanupProviderframeworkonEvent'),
    )!;
    expect(props(framework[1]).Role).toEqual({ 'Fn::GetAtt': [logicalId(c.providerRole), 'Arn'] });
  });
});
