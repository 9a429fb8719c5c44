import { build, logicalId, permissions, props, resourcesOf, type Json } from './helpers';
import { buildWith } from './training-helpers';

const SM = (type: string, name: string) =>
  `arn:AWS::Partition:sagemaker:AWS::Region:AWS::AccountId:${type}/${name}`;

describe('training pipeline IAM (default config)', () => {
  const built = build();
  const t = built.pipelineTemplate;
  const tr = built.pipeline.training;
  const policies = Object.values(resourcesOf(t, 'AWS::IAM::Policy')).map(props);
  /** Every permission of the one policy attached to `role`. */
  const granted = (role: Parameters<typeof logicalId>[0]) => {
    const mine = policies.filter(
      (p) => JSON.stringify(p.Roles) === JSON.stringify([{ Ref: logicalId(role) }]),
    );
    expect(mine).toHaveLength(1);
    return permissions(mine[0].PolicyDocument as Json, built.dataLakeTemplate);
  };
  const roleProps = (role: Parameters<typeof logicalId>[0]) =>
    props(resourcesOf(t, 'AWS::IAM::Role')[logicalId(role)]);
  const fnLog = (f: { wrapper: { logGroup: Parameters<typeof logicalId>[0] } }) =>
    logicalId(f.wrapper.logGroup);
  const fnArn = (f: { function: unknown }) => `${logicalId(f.function as never)}.Arn`;
  const xray = ['Allow xray:PutTelemetryRecords *', 'Allow xray:PutTraceSegments *'];

  it('grants no wildcard action and no managed policy anywhere in the stack', () => {
    for (const p of policies)
      for (const g of permissions(p.PolicyDocument as Json)) expect(g.split(' ')[1]).not.toContain('*');
    for (const r of Object.values(resourcesOf(t, 'AWS::IAM::Role'))) {
      expect(props(r).ManagedPolicyArns).toBeUndefined();
      expect(props(r).Policies).toBeUndefined();
    }
  });

  it('lets the state machine pass only the SageMaker role, only to SageMaker', () => {
    const passes = policies.flatMap((p) =>
      permissions(p.PolicyDocument as Json).filter((g) => g.includes(' iam:PassRole ')),
    );
    expect(passes).toEqual([
      `Allow iam:PassRole ${logicalId(tr.sagemakerRole)}.Arn if {"StringEquals":{"iam:PassedToService":"sagemaker.amazonaws.com"}}`,
    ]);
  });

  it('grants the state machine role exactly its calls, on project-prefixed resources', () => {
    const endpoint = SM('endpoint', 'devmlops-endpoint');
    const configs = SM('endpoint-config', 'devmlops-*');
    const packages = SM('model-package', 'devmlops-models/*');
    const jobs = SM('training-job', 'devmlops-*');
    const rule =
      'arn:AWS::Partition:events:AWS::Region:AWS::AccountId:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule';
    expect(granted(tr.stateMachine.role)).toEqual(
      [
        `Allow states:ListExecutions arn:AWS::Partition:states:AWS::Region:AWS::AccountId:stateMachine:devmlops-training`,
        'Allow s3:GetObject ArtifactsBucket.Arn/baselines/current.json',
        'Allow s3:ListBucket ArtifactsBucket.Arn if {"StringEquals":{"s3:prefix":"baselines/current.json"}}',
        ...[tr.prepare, tr.evaluate, tr.promote].flatMap((f) => [
          `Allow lambda:InvokeFunction ${fnArn(f)}`,
          `Allow lambda:InvokeFunction ${fnArn(f)}:*`,
        ]),
        ...['CreateTrainingJob', 'DescribeTrainingJob', 'StopTrainingJob', 'AddTags'].map(
          (a) => `Allow sagemaker:${a} ${jobs}`,
        ),
        ...['PutRule', 'PutTargets', 'DescribeRule'].map((a) => `Allow events:${a} ${rule}`),
        'Allow sagemaker:ListModelPackages *',
        `Allow sagemaker:DescribeModelPackage ${packages}`,
        `Allow sagemaker:CreateModelPackage ${SM('model-package-group', 'devmlops-models')}`,
        `Allow sagemaker:CreateModelPackage ${packages}`,
        `Allow sagemaker:AddTags ${packages}`,
        `Allow sagemaker:UpdateModelPackage ${packages}`,
        `Allow sagemaker:CreateModel ${SM('model', 'devmlops-*')}`,
        `Allow sagemaker:AddTags ${SM('model', 'devmlops-*')}`,
        `Allow sagemaker:CreateEndpointConfig ${configs}`,
        `Allow sagemaker:AddTags ${configs}`,
        `Allow sagemaker:DescribeEndpoint ${endpoint}`,
        `Allow sagemaker:CreateEndpoint ${endpoint}`,
        `Allow sagemaker:CreateEndpoint ${configs}`,
        `Allow sagemaker:UpdateEndpoint ${endpoint}`,
        `Allow sagemaker:UpdateEndpoint ${configs}`,
        `Allow sagemaker:AddTags ${endpoint}`,
        `Allow iam:PassRole ${logicalId(tr.sagemakerRole)}.Arn if {"StringEquals":{"iam:PassedToService":"sagemaker.amazonaws.com"}}`,
        'Allow kms:Decrypt DataKey.Arn',
        'Allow kms:DescribeKey DataKey.Arn',
        'Allow kms:CreateGrant DataKey.Arn if {"Bool":{"kms:GrantIsForAWSResource":"true"}}',
        `Allow kms:GenerateDataKey ${logicalId(tr.key)}.Arn`,
        `Allow kms:Decrypt ${logicalId(tr.key)}.Arn`,
        `Allow sns:Publish ${logicalId(tr.topic)}`,
        'Allow cloudwatch:PutMetricData * if {"StringEquals":{"cloudwatch:namespace":"DevMLOps"}}',
        // Logging to CloudWatch Logs and X-Ray (CDK): no resource-level permissions.
        ...[
          'CreateLogDelivery',
          'GetLogDelivery',
          'UpdateLogDelivery',
          'DeleteLogDelivery',
          'ListLogDeliveries',
          'PutResourcePolicy',
          'DescribeResourcePolicies',
          'DescribeLogGroups',
        ].map((a) => `Allow logs:${a} *`),
        ...xray,
        'Allow xray:GetSamplingRules *',
        'Allow xray:GetSamplingTargets *',
      ].sort(),
    );
  });

  it('lets the state machine put metrics only in the DevMLOps namespace (RecordSkipped)', () => {
    // No resource-level permissions: the condition is the whole limit, so no unconditioned grant may sit beside it.
    expect(granted(tr.stateMachine.role).filter((g) => g.includes('cloudwatch:'))).toEqual([
      'Allow cloudwatch:PutMetricData * if {"StringEquals":{"cloudwatch:namespace":"DevMLOps"}}',
    ]);
  });

  it('trusts only Step Functions of this account for the state machine role', () => {
    const trust = roleProps(tr.stateMachine.role).AssumeRolePolicyDocument as Json;
    expect(trust.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'states.amazonaws.com' },
        Condition: expect.objectContaining({
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        }),
      }),
    ]);
  });

  it('lets SageMaker read only the training sets and models, write only models and capture', () => {
    expect((roleProps(tr.sagemakerRole).AssumeRolePolicyDocument as Json).Statement).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'sagemaker.amazonaws.com' } },
    ]);
    const g = granted(tr.sagemakerRole);
    const mappedAccount = JSON.stringify({
      'Fn::FindInMap': [logicalId(tr.image.mapping), { Ref: 'AWS::Region' }, 'account'],
    });
    const repo = `arn:AWS::Partition:ecr:AWS::Region:${mappedAccount}:repository/sagemaker-xgboost`;
    const sagemakerLogs = 'arn:AWS::Partition:logs:AWS::Region:AWS::AccountId:log-group:/aws/sagemaker/*';
    expect(g).toEqual(
      [
        'Allow s3:GetObject ArtifactsBucket.Arn/training/*',
        'Allow s3:GetObject ArtifactsBucket.Arn/models/*',
        'Allow s3:ListBucket ArtifactsBucket.Arn if {"StringLike":{"s3:prefix":"training/*"}}',
        'Allow s3:PutObject ArtifactsBucket.Arn/models/*',
        'Allow s3:PutObject ArtifactsBucket.Arn/capture/*',
        'Allow s3:AbortMultipartUpload ArtifactsBucket.Arn/models/*',
        'Allow s3:AbortMultipartUpload ArtifactsBucket.Arn/capture/*',
        ...['Decrypt', 'Encrypt', 'GenerateDataKey', 'DescribeKey'].map((a) => `Allow kms:${a} DataKey.Arn`),
        'Allow kms:CreateGrant DataKey.Arn if {"Bool":{"kms:GrantIsForAWSResource":"true"}}',
        ...['BatchGetImage', 'GetDownloadUrlForLayer', 'BatchCheckLayerAvailability'].map(
          (a) => `Allow ecr:${a} ${repo}`,
        ),
        'Allow ecr:GetAuthorizationToken *',
        ...['CreateLogGroup', 'CreateLogStream', 'PutLogEvents', 'DescribeLogStreams'].map(
          (a) => `Allow logs:${a} ${sagemakerLogs}`,
        ),
        'Allow cloudwatch:PutMetricData * if {"StringLike":{"cloudwatch:namespace":"/aws/sagemaker/*"}}',
      ].sort(),
    );
    // The property that matters most: writes go only to models/ and capture/.
    expect(g.filter((x) => / s3:Put/.test(x) && !/\/(models|capture)\/\*$/.test(x))).toEqual([]);
  });

  it('lets Prepare read only its dataset in curated and write only training sets', () => {
    expect(granted(tr.prepare.wrapper.role)).toEqual(
      [
        `Allow logs:CreateLogStream ${fnLog(tr.prepare)}.Arn`,
        `Allow logs:PutLogEvents ${fnLog(tr.prepare)}.Arn`,
        ...xray,
        'Allow s3:ListBucket CuratedBucket.Arn if {"StringLike":{"s3:prefix":"churn/*"}}',
        'Allow s3:GetObject CuratedBucket.Arn/churn/*',
        'Allow s3:PutObject ArtifactsBucket.Arn/training/*',
        'Allow s3:AbortMultipartUpload ArtifactsBucket.Arn/training/*',
        'Allow kms:Decrypt DataKey.Arn',
        'Allow kms:GenerateDataKey DataKey.Arn',
      ].sort(),
    );
  });

  it('lets Promote write only the current pointer, and Evaluate nothing', () => {
    expect(granted(tr.promote.wrapper.role)).toEqual(
      [
        `Allow logs:CreateLogStream ${fnLog(tr.promote)}.Arn`,
        `Allow logs:PutLogEvents ${fnLog(tr.promote)}.Arn`,
        ...xray,
        'Allow s3:PutObject ArtifactsBucket.Arn/baselines/current.json',
        'Allow kms:GenerateDataKey DataKey.Arn',
      ].sort(),
    );
    expect(granted(tr.evaluate.wrapper.role)).toEqual(
      [
        `Allow logs:CreateLogStream ${fnLog(tr.evaluate)}.Arn`,
        `Allow logs:PutLogEvents ${fnLog(tr.evaluate)}.Arn`,
        ...xray,
      ].sort(),
    );
  });

  it('lets the cleanup delete only project-prefixed endpoints, configs and models, and the group packages', () => {
    const c = built.pipeline.cleanup;
    for (const fn of [c.function, c.isCompleteFunction])
      expect(granted(fn.role)).toEqual(
        [
          `Allow logs:CreateLogStream ${logicalId(fn.logGroup)}.Arn`,
          `Allow logs:PutLogEvents ${logicalId(fn.logGroup)}.Arn`,
          ...xray,
          ...['ListEndpoints', 'ListEndpointConfigs', 'ListModels', 'ListModelPackages', 'ListTags'].map(
            (a) => `Allow sagemaker:${a} *`,
          ),
          `Allow sagemaker:DeleteEndpoint ${SM('endpoint', 'devmlops-*')}`,
          `Allow sagemaker:DeleteEndpointConfig ${SM('endpoint-config', 'devmlops-*')}`,
          `Allow sagemaker:DeleteModel ${SM('model', 'devmlops-*')}`,
          `Allow sagemaker:DeleteModelPackage ${SM('model-package', 'devmlops-models/*')}`,
        ].sort(),
      );
  });

  it('tags every role of the pipeline as read-only on raw', () => {
    for (const role of [
      tr.stateMachine.role,
      tr.sagemakerRole,
      tr.prepare.wrapper.role,
      tr.evaluate.wrapper.role,
      tr.promote.wrapper.role,
      built.pipeline.cleanup.function.role,
      built.pipeline.cleanup.isCompleteFunction.role,
    ])
      expect(roleProps(role).Tags).toContainEqual({ Key: 'devmlops:raw-access', Value: 'read-only' });
  });

  it('scopes names and the dataset prefix by the config', () => {
    const b = buildWith((c) => {
      c.project = 'acme';
      (c.dataset as Json).name = 'orders';
    });
    const pol = Object.values(resourcesOf(b.pipelineTemplate, 'AWS::IAM::Policy')).map(props);
    const all = pol.flatMap((p) => permissions(p.PolicyDocument as Json, b.dataLakeTemplate));
    expect(all).toContain(`Allow sagemaker:CreateTrainingJob ${SM('training-job', 'acme-*')}`);
    expect(all).toContain('Allow s3:GetObject CuratedBucket.Arn/orders/*');
    expect(all.filter((g) => g.includes('devmlops'))).toEqual([]);
  });
});
