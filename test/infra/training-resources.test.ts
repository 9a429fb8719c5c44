import { App, CfnOutput, CfnWaitConditionHandle, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { XGBOOST_1_7_1_REGISTRIES, XgboostImage } from '../../lib/constructs/xgboost-image';
import { build, logicalId, props, resourcesOf, type Json } from './helpers';
import { buildWith } from './training-helpers';

describe('training pipeline resources (default config)', () => {
  const built = build();
  const t = built.pipelineTemplate;
  const tr = built.pipeline.training;
  const resource = (c: Parameters<typeof logicalId>[0]) =>
    (t.toJSON().Resources as Record<string, Json>)[logicalId(c)];

  it('defines the two rollback alarms with deterministic names on the AllTraffic variant', () => {
    const dims = [
      { Name: 'EndpointName', Value: 'devmlops-endpoint' },
      { Name: 'VariantName', Value: 'AllTraffic' },
    ];
    const notifyTopic = [{ Ref: logicalId(tr.topic) }];
    expect(props(resource(tr.alarm5xx))).toEqual({
      AlarmName: 'devmlops-endpoint-5xx',
      AlarmActions: notifyTopic,
      AlarmDescription: expect.any(String),
      Namespace: 'AWS/SageMaker',
      MetricName: 'Invocation5XXErrors',
      Dimensions: dims,
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      Tags: [{ Key: 'Project', Value: 'devmlops' }],
    });
    expect(props(resource(tr.alarmLatency))).toEqual({
      AlarmName: 'devmlops-endpoint-latency',
      AlarmActions: notifyTopic,
      AlarmDescription: expect.any(String),
      Namespace: 'AWS/SageMaker',
      MetricName: 'ModelLatency',
      Dimensions: dims,
      ExtendedStatistic: 'p99',
      Period: 60,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      // 1 s in microseconds, ModelLatency's unit.
      Threshold: 1_000_000,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      Tags: [{ Key: 'Project', Value: 'devmlops' }],
    });
    // Besides these two, the stack holds only the inference API's alarm (test/infra/inference-api.test.ts).
    expect(
      Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm'))
        .map((a) => props(a).AlarmName)
        .sort(),
    ).toEqual(['devmlops-api-5xx', 'devmlops-endpoint-5xx', 'devmlops-endpoint-latency']);
  });

  it('creates the model package group, deleted with the stack (the cleanup empties it first)', () => {
    const group = resource(tr.modelPackageGroup);
    expect(props(group).ModelPackageGroupName).toBe('devmlops-models');
    expect(group.DeletionPolicy).toBe('Delete');
    expect(group.UpdateReplacePolicy).toBe('Delete');
  });

  it('encrypts the topic with the pipeline key, TLS only, no subscription by default', () => {
    expect(props(resource(tr.topic)).KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [logicalId(tr.key), 'Arn'] });
    const policy = Object.values(resourcesOf(t, 'AWS::SNS::TopicPolicy')).map(props);
    expect(policy).toHaveLength(1);
    expect((policy[0].PolicyDocument as Json).Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 'sns:Publish',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    t.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('rotates the pipeline key and lets CloudWatch Logs use it for the state machine log group only', () => {
    const key = props(resource(tr.key));
    expect(key.EnableKeyRotation).toBe(true);
    const logs = ((key.KeyPolicy as Json).Statement as Json[]).filter((s) =>
      JSON.stringify(s.Principal).includes('logs.'),
    );
    expect(logs).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Condition: {
          ArnEquals: {
            'kms:EncryptionContext:aws:logs:arn': {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':logs:',
                  { Ref: 'AWS::Region' },
                  ':',
                  { Ref: 'AWS::AccountId' },
                  ':log-group:/aws/vendedlogs/states/devmlops-training',
                ],
              ],
            },
          },
        },
      }),
    ]);
  });

  it('runs Prepare, Evaluate and Promote on DevFunction defaults with the contract environment', () => {
    const env = (f: { function: unknown }) =>
      (props(resource(f.function as never)).Environment as Json).Variables as Record<string, unknown>;
    const common = [
      'ARTIFACTS_BUCKET',
      'CURATED_BUCKET',
      'DATASET_SCHEMAS',
      'NODE_OPTIONS',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_SERVICE_NAME',
      'PROJECT',
    ];
    expect(Object.keys(env(tr.prepare)).sort()).toEqual(
      [...common, 'MIN_TRAINING_ROWS', 'VALIDATION_FRACTION'].sort(),
    );
    expect(Object.keys(env(tr.evaluate)).sort()).toEqual([...common].sort());
    expect(Object.keys(env(tr.promote)).sort()).toEqual([...common, 'DRIFT_COOLDOWN_MINUTES'].sort());
    expect(env(tr.prepare)).toMatchObject({
      PROJECT: 'devmlops',
      POWERTOOLS_SERVICE_NAME: 'prepare',
      POWERTOOLS_METRICS_NAMESPACE: 'DevMLOps',
      MIN_TRAINING_ROWS: '1000',
      VALIDATION_FRACTION: '0.2',
      DATASET_SCHEMAS: JSON.stringify([built.config.dataset]),
    });
    expect(env(tr.promote).DRIFT_COOLDOWN_MINUTES).toBe('360');
    const p = props(resource(tr.prepare.function as never));
    expect(p).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      MemorySize: 1024,
      Timeout: 900,
    });
    expect(p.TracingConfig).toEqual({ Mode: 'Active' });
    expect(p.DeadLetterConfig).toBeUndefined();
    expect(props(resource(tr.evaluate.function as never))).toMatchObject({ MemorySize: 256, Timeout: 30 });
  });

  it('subscribes the notification email when configured', () => {
    const b = buildWith((c) => (c.notificationEmail = 'ops@example.com'));
    b.pipelineTemplate.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: logicalId(b.pipeline.training.topic) },
    });
  });

  it('maps the XGBoost registry account for every region in the template', () => {
    const mappings = t.toJSON().Mappings as Record<string, Record<string, { account: string }>>;
    expect(Object.keys(mappings)).toEqual([logicalId(tr.image.mapping)]);
    const mapping = mappings[logicalId(tr.image.mapping)];
    expect(Object.keys(mapping).sort()).toEqual(Object.keys(XGBOOST_1_7_1_REGISTRIES).sort());
    for (const [region, account] of Object.entries(XGBOOST_1_7_1_REGISTRIES)) {
      expect(mapping[region]).toEqual({ account });
      expect(account).toMatch(/^\d{12}$/);
    }
    // Spot checks against sagemaker-python-sdk image_uri_config/xgboost.json (1.7-1).
    expect(mapping['us-east-1'].account).toBe('683313688378');
    expect(mapping['eu-west-1'].account).toBe('141502667606');
    expect(mapping['cn-north-1'].account).toBe('450853457545');
    expect(Object.keys(mapping)).toHaveLength(37);
    expect(tr.image.imageUri).not.toMatch(/:(latest|1)$/);
  });

  it('refuses a stack pinned to a region without the image, and builds the partition host name', () => {
    const inRegion = (region: string) => {
      const stack = new Stack(new App(), 'S', { env: { region, account: '111111111111' } });
      const image = new XgboostImage(stack, 'Image');
      // A template needs a resource, and the mapping a use.
      new CfnWaitConditionHandle(stack, 'Handle');
      new CfnOutput(stack, 'ImageUri', { value: image.imageUri });
      return { stack, image };
    };
    expect(() => inRegion('xx-nowhere-1')).toThrow('sagemaker-xgboost:1.7-1 is not hosted in xx-nowhere-1');
    const { stack, image } = inRegion('cn-north-1');
    // The same template for every region: the mapping stays in it, and the domain is AWS::URLSuffix
    // (amazonaws.com.cn in China).
    expect(stack.resolve(image.imageUri)).toEqual({
      'Fn::Join': [
        '',
        [
          { 'Fn::FindInMap': [logicalId(image.mapping), { Ref: 'AWS::Region' }, 'account'] },
          '.dkr.ecr.',
          { Ref: 'AWS::Region' },
          '.',
          { Ref: 'AWS::URLSuffix' },
          '/sagemaker-xgboost:1.7-1',
        ],
      ],
    });
    expect(Object.keys(Template.fromStack(stack).toJSON().Mappings as Json)).toHaveLength(1);
  });
});
