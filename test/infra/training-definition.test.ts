import { build, logicalId, props, resourcesOf, type Json } from './helpers';
import { buildWith, choiceTargets, definitionOf, idOf, path, type Asl, type State } from './training-helpers';

const IMAGE = '${XgboostAccount}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/sagemaker-xgboost:1.7-1';
const TAGS = [
  { Key: 'devmlops:project', Value: 'devmlops' },
  { Key: 'devmlops:managed-by', Value: 'pipeline' },
];
const CATCH_ALL = { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'NotifyFailure' };
const sdk = (service: string, action: string) =>
  `arn:\${AWS::Partition}:states:::aws-sdk:${service}:${action}`;
const params = (s: State) => s.Parameters as Json;

describe('training state machine (default config: binary churn, auto approval, realtime endpoint)', () => {
  const built = build();
  const asl = definitionOf(built);
  const st = (name: string): State => {
    expect(asl.States[name]).toBeDefined();
    return asl.States[name];
  };
  const fnArn = (f: { function: unknown }) => `\${${logicalId(f.function as never)}.Arn}`;
  const training = built.pipeline.training;

  it('has exactly the contract states, starting with the defaults, then the guard', () => {
    expect(asl.StartAt).toBe('ApplyDefaults');
    expect(Object.keys(asl.States).sort()).toEqual(
      [
        'ApplyDefaults',
        'MergeDefaults',
        'CheckRunning',
        'AlreadyRunning?',
        'SkipRunning',
        'RecordSkipped',
        'Skipped',
        'IsDriftTrigger?',
        'ReadCurrentPointer',
        'InCooldown?',
        'SkipCooldown',
        'Prepare',
        'Train',
        'GetChampion',
        'HasChampion?',
        'DescribeChampion',
        'Evaluate',
        'Passed?',
        'NotifyRejected',
        'ModelRejected',
        'Rejected',
        'Register',
        'CreateModel',
        'CreateEndpointConfig',
        'DescribeEndpoint',
        'CreateEndpoint',
        'UpdateEndpoint',
        'WaitForEndpoint',
        'PollEndpoint',
        'EndpointStatus?',
        'CountEndpointPoll',
        'RejectPackage',
        'NotifyRolledBack',
        'DeploymentFailed',
        'NotifyDeploymentTimeout',
        'DeploymentTimeout',
        'Promote',
        'NotifyDeployed',
        'Succeeded',
        'NotifyFailure',
        'PipelineFailed',
      ].sort(),
    );
  });

  it('gives every Task a TimeoutSeconds and a catch-all to NotifyFailure, last', () => {
    const taskNames = Object.entries(asl.States)
      .filter(([, s]) => s.Type === 'Task')
      .map(([n]) => n);
    expect(taskNames).toHaveLength(22);
    for (const name of taskNames) {
      const s = st(name);
      expect([name, typeof s.TimeoutSeconds]).toEqual([name, 'number']);
      expect(s.TimeoutSeconds as number).toBeGreaterThan(0);
      const catches = s.Catch as Json[];
      if (name === 'NotifyFailure') {
        expect(catches).toEqual([
          { ErrorEquals: ['States.ALL'], ResultPath: '$.notificationError', Next: 'PipelineFailed' },
        ]);
        expect(s.Next).toBe('PipelineFailed');
      } else expect([name, catches[catches.length - 1]]).toEqual([name, CATCH_ALL]);
    }
    expect(st('PipelineFailed')).toEqual({
      Type: 'Fail',
      Comment: expect.any(String),
      ErrorPath: '$.error.Error',
      CausePath: '$.error.Cause',
    });
    expect(params(st('NotifyFailure'))['Message.$']).toBe(
      "States.Format('Training pipeline execution {} failed with {}: {}', $$.Execution.Name, $.error.Error, $.error.Cause)",
    );
  });

  it('uses JSONPath only (no JSONata, no Arguments/Output/Assign)', () => {
    expect(asl).not.toHaveProperty('QueryLanguage');
    for (const [name, s] of Object.entries(asl.States))
      for (const field of ['QueryLanguage', 'Arguments', 'Output', 'Assign'])
        expect([name, field in s]).toEqual([name, false]);
    expect(JSON.stringify(asl)).not.toContain('{%');
  });

  it('fills in the trigger and the configured dataset when the input lacks them, the input winning', () => {
    expect(st('ApplyDefaults')).toEqual({
      Type: 'Pass',
      Comment: expect.any(String),
      Parameters: { defaults: { trigger: 'manual', dataset: 'churn' }, 'input.$': '$' },
      Next: 'MergeDefaults',
    });
    expect(st('MergeDefaults')).toEqual({
      Type: 'Pass',
      Comment: expect.any(String),
      Parameters: { 'input.$': 'States.JsonMerge($.defaults, $.input, false)' },
      OutputPath: '$.input',
      Next: 'CheckRunning',
    });
  });

  it('skips when another execution is running', () => {
    const check = st('CheckRunning');
    expect(check.Resource).toBe(sdk('sfn', 'listExecutions'));
    expect(check.Parameters).toEqual({
      StateMachineArn:
        'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:devmlops-training',
      StatusFilter: 'RUNNING',
      MaxResults: 2,
    });
    expect(check.ResultSelector).toEqual({ 'running.$': 'States.ArrayLength($.Executions)' });
    expect(check.ResultPath).toBe('$.guard');
    expect(st('AlreadyRunning?').Choices).toEqual([
      { Variable: '$.guard.running', NumericGreaterThan: 1, Next: 'SkipRunning' },
    ]);
    expect(st('AlreadyRunning?').Default).toBe('IsDriftTrigger?');
    expect(st('SkipRunning')).toEqual({
      Type: 'Pass',
      Parameters: { status: 'Skipped', reason: 'Another execution of the training pipeline is running' },
      Next: 'RecordSkipped',
    });
    expect(st('Skipped').Type).toBe('Succeed');
  });

  it('counts every guard skip as DevMLOps/PipelineSkipped before ending as Skipped', () => {
    const record = st('RecordSkipped');
    expect(record.Resource).toBe(sdk('cloudwatch', 'putMetricData'));
    expect(record.Parameters).toEqual({
      Namespace: 'DevMLOps',
      MetricData: [
        {
          MetricName: 'PipelineSkipped',
          Dimensions: [{ Name: 'Project', Value: 'devmlops' }],
          Value: 1,
          Unit: 'Count',
        },
      ],
    });
    // The skip reason stays the output of the execution.
    expect(record.ResultPath).toBeNull();
    expect(record.TimeoutSeconds).toBe(60);
    expect(record.Catch).toEqual([CATCH_ALL]);
    expect(record.Next).toBe('Skipped');
    const into = Object.entries(asl.States)
      .filter(([, s]) => s.Next === 'RecordSkipped')
      .map(([n]) => n);
    expect(into.sort()).toEqual(['SkipCooldown', 'SkipRunning']);
  });

  it('skips a drift retrain within the cooldown, and reads no pointer for other triggers', () => {
    expect(st('IsDriftTrigger?').Choices).toEqual([
      {
        And: [
          { Variable: '$.trigger', IsPresent: true },
          { Variable: '$.trigger', StringEquals: 'drift' },
        ],
        Next: 'ReadCurrentPointer',
      },
    ]);
    expect(st('IsDriftTrigger?').Default).toBe('Prepare');
    const read = st('ReadCurrentPointer');
    expect(read.Resource).toBe(sdk('s3', 'getObject'));
    expect(read.Parameters).toEqual({ Bucket: '${ArtifactsBucket}', Key: 'baselines/current.json' });
    expect(read.ResultSelector).toEqual({ 'pointer.$': 'States.StringToJson($.Body)' });
    expect(read.ResultPath).toBe('$.current');
    // No pointer yet (before the first deploy): train.
    expect(read.Catch).toEqual([
      { ErrorEquals: ['S3.NoSuchKeyException'], ResultPath: '$.pointerError', Next: 'Prepare' },
      CATCH_ALL,
    ]);
    expect(st('InCooldown?').Choices).toEqual([
      {
        And: [
          { Variable: '$.current.pointer.cooldownUntil', IsPresent: true },
          { Variable: '$.current.pointer.cooldownUntil', IsTimestamp: true },
          { Variable: '$.current.pointer.cooldownUntil', TimestampGreaterThanPath: '$$.Execution.StartTime' },
        ],
        Next: 'SkipCooldown',
      },
    ]);
    expect(st('InCooldown?').Default).toBe('Prepare');
    expect(st('SkipCooldown').Parameters).toEqual({
      status: 'Skipped',
      'reason.$':
        "States.Format('Drift retraining is in cooldown until {} after the last deploy', $.current.pointer.cooldownUntil)",
    });
    expect(st('SkipCooldown').Next).toBe('RecordSkipped');
  });

  it('invokes Prepare with the execution name, start time, dataset and trigger, the Payload only', () => {
    const prepare = st('Prepare');
    expect(prepare.Resource).toBe(fnArn(training.prepare));
    expect(prepare.Parameters).toEqual({
      'executionName.$': '$$.Execution.Name',
      'executionStartTime.$': '$$.Execution.StartTime',
      'dataset.$': '$.dataset',
      'trigger.$': '$.trigger',
    });
    expect(prepare.ResultPath).toBe('$.prepare');
    // The function's 900 s plus a minute.
    expect(prepare.TimeoutSeconds).toBe(960);
    expect(prepare.Retry).toEqual([
      expect.objectContaining({
        ErrorEquals: [
          'Lambda.ClientExecutionTimeoutException',
          'Lambda.ServiceException',
          'Lambda.AWSLambdaException',
          'Lambda.SdkClientException',
        ],
      }),
    ]);
    expect(prepare.Next).toBe('Train');
  });

  it('trains the built-in XGBoost 1.7-1 image from the region mapping, on demand, encrypted', () => {
    const train = st('Train');
    expect(train.Resource).toBe('arn:${AWS::Partition}:states:::sagemaker:createTrainingJob.sync');
    expect(train.ResultPath).toBe('$.training');
    expect(train.TimeoutSeconds).toBe(3600 + 1800);
    const channel = (name: string, uri: string) => ({
      ChannelName: name,
      ContentType: 'text/csv',
      CompressionType: 'None',
      DataSource: {
        S3DataSource: { S3DataType: 'S3Prefix', 'S3Uri.$': uri, S3DataDistributionType: 'FullyReplicated' },
      },
    });
    expect(train.Parameters).toEqual({
      'TrainingJobName.$': '$.prepare.jobName',
      RoleArn: `\${${logicalId(training.sagemakerRole)}.Arn}`,
      AlgorithmSpecification: { TrainingImage: IMAGE, TrainingInputMode: 'File' },
      EnableNetworkIsolation: true,
      HyperParameters: {
        num_round: '100',
        max_depth: '5',
        eta: '0.2',
        subsample: '0.8',
        min_child_weight: '1',
        objective: 'binary:logistic',
        eval_metric: 'auc',
      },
      InputDataConfig: [
        channel('train', '$.prepare.trainUri'),
        channel('validation', '$.prepare.validationUri'),
      ],
      OutputDataConfig: { S3OutputPath: 's3://${ArtifactsBucket}/models/', KmsKeyId: '${DataKey.Arn}' },
      ResourceConfig: {
        InstanceCount: 1,
        InstanceType: 'ml.m5.large',
        VolumeSizeInGB: 10,
        VolumeKmsKeyId: '${DataKey.Arn}',
      },
      StoppingCondition: { MaxRuntimeInSeconds: 3600 },
      Tags: TAGS,
    });
    expect(train.Next).toBe('GetChampion');
  });

  it('finds the champion (latest Approved package) and evaluates against it by metric name', () => {
    const get = st('GetChampion');
    expect(get.Resource).toBe(sdk('sagemaker', 'listModelPackages'));
    expect(get.Parameters).toEqual({
      ModelPackageGroupName: 'devmlops-models',
      ModelApprovalStatus: 'Approved',
      SortBy: 'CreationTime',
      SortOrder: 'Descending',
      MaxResults: 1,
    });
    expect(get.ResultSelector).toEqual({
      'packages.$': '$.ModelPackageSummaryList',
      'current.$': "States.StringToJson('null')",
    });
    expect(get.ResultPath).toBe('$.champion');
    expect(choiceTargets(st('HasChampion?'))).toEqual(['DescribeChampion', 'Evaluate']);
    expect((st('HasChampion?').Choices as Json[])[0]).toMatchObject({
      Variable: '$.champion.packages[0]',
      IsPresent: true,
    });
    const describe = st('DescribeChampion');
    expect(describe.Resource).toBe(sdk('sagemaker', 'describeModelPackage'));
    expect(describe.Parameters).toEqual({ 'ModelPackageName.$': '$.champion.packages[0].ModelPackageArn' });
    expect(describe.ResultSelector).toEqual({
      current: {
        'modelPackageArn.$': '$.ModelPackageArn',
        'metric.$': '$.CustomerMetadataProperties.metric',
      },
    });
    expect(describe.ResultPath).toBe('$.champion');
    const evaluate = st('Evaluate');
    expect(evaluate.Resource).toBe(fnArn(training.evaluate));
    expect(evaluate.Parameters).toEqual({
      metricName: 'validation:auc',
      'minimum.$': "States.StringToJson('null')",
      tolerance: 0.01,
      'finalMetrics.$': '$.training.FinalMetricDataList',
      'champion.$': '$.champion.current',
    });
    expect(evaluate.ResultPath).toBe('$.evaluation');
  });

  it('ends a rejected challenger as a notified ModelRejected success, not a failure', () => {
    expect(st('Passed?').Choices).toEqual([
      { Variable: '$.evaluation.passed', BooleanEquals: true, Next: 'Register' },
    ]);
    expect(path(asl, 'Passed?')).toEqual(['Passed?', 'NotifyRejected', 'ModelRejected', 'Rejected']);
    const notify = st('NotifyRejected');
    expect(notify.Resource).toBe('arn:${AWS::Partition}:states:::sns:publish');
    expect(notify.Parameters).toMatchObject({
      TopicArn: `\${${logicalId(training.topic)}}`,
      Subject: '[devmlops] Model rejected',
      MessageAttributes: { status: { DataType: 'String', StringValue: 'ModelRejected' } },
    });
    expect(notify.ResultPath).toBeNull();
    expect(st('ModelRejected').Parameters).toEqual({
      status: 'ModelRejected',
      'reason.$': '$.evaluation.reason',
      'metric.$': '$.evaluation.metric',
      'championMetric.$': '$.evaluation.championMetric',
    });
    expect(st('Rejected').Type).toBe('Succeed');
  });

  it('registers the model package with its metric, baseline and feature spec, approved', () => {
    const register = st('Register');
    expect(register.Resource).toBe(sdk('sagemaker', 'createModelPackage'));
    expect(register.Parameters).toEqual({
      ModelPackageGroupName: 'devmlops-models',
      'ModelPackageDescription.$':
        "States.Format('Training job {} of execution {} on dataset {}', $.prepare.jobName, $$.Execution.Name, $.prepare.dataset)",
      InferenceSpecification: {
        Containers: [{ Image: IMAGE, 'ModelDataUrl.$': '$.training.ModelArtifacts.S3ModelArtifacts' }],
        SupportedContentTypes: ['text/csv'],
        SupportedResponseMIMETypes: ['text/csv'],
      },
      ModelApprovalStatus: 'Approved',
      CustomerMetadataProperties: {
        metricName: 'validation:auc',
        'metric.$': 'States.JsonToString($.evaluation.metric)',
        'baselineUri.$': '$.prepare.baselineUri',
        'featureSpecUri.$': '$.prepare.featureSpecUri',
        'execution.$': '$$.Execution.Name',
        'jobName.$': '$.prepare.jobName',
      },
      Tags: TAGS,
    });
    expect(register.ResultSelector).toEqual({ 'ModelPackageArn.$': '$.ModelPackageArn', polls: 1 });
    expect(register.ResultPath).toBe('$.registration');
    expect(register.Next).toBe('CreateModel');
  });

  it('creates the model with the SageMaker role and the endpoint config with data capture', () => {
    expect(st('CreateModel').Parameters).toEqual({
      'ModelName.$': '$.prepare.jobName',
      ExecutionRoleArn: `\${${logicalId(training.sagemakerRole)}.Arn}`,
      PrimaryContainer: { Image: IMAGE, 'ModelDataUrl.$': '$.training.ModelArtifacts.S3ModelArtifacts' },
      EnableNetworkIsolation: true,
      Tags: TAGS,
    });
    expect(st('CreateEndpointConfig').Resource).toBe(sdk('sagemaker', 'createEndpointConfig'));
    expect(st('CreateEndpointConfig').Parameters).toEqual({
      'EndpointConfigName.$': '$.prepare.jobName',
      ProductionVariants: [
        {
          VariantName: 'AllTraffic',
          'ModelName.$': '$.prepare.jobName',
          InitialInstanceCount: 1,
          InstanceType: 'ml.m5.large',
          InitialVariantWeight: 1,
        },
      ],
      KmsKeyId: '${DataKey.Arn}',
      DataCaptureConfig: {
        EnableCapture: true,
        InitialSamplingPercentage: 100,
        DestinationS3Uri: 's3://${ArtifactsBucket}/capture',
        KmsKeyId: '${DataKey.Arn}',
        CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
        CaptureContentTypeHeader: { CsvContentTypes: ['text/csv'] },
      },
      Tags: TAGS,
    });
    expect(path(asl, 'CreateModel').slice(0, 3)).toEqual([
      'CreateModel',
      'CreateEndpointConfig',
      'DescribeEndpoint',
    ]);
  });

  it('creates the endpoint when DescribeEndpoint does not find it, else updates it with a canary', () => {
    const describe = st('DescribeEndpoint');
    expect(describe.Resource).toBe(sdk('sagemaker', 'describeEndpoint'));
    expect(describe.Parameters).toEqual({ EndpointName: 'devmlops-endpoint' });
    expect(describe.Catch).toEqual([
      {
        ErrorEquals: ['SageMaker.SageMakerException', 'SageMaker.ResourceNotFoundException'],
        ResultPath: '$.endpointLookupError',
        Next: 'CreateEndpoint',
      },
      CATCH_ALL,
    ]);
    expect(describe.Next).toBe('UpdateEndpoint');
    expect(st('CreateEndpoint').Parameters).toEqual({
      EndpointName: 'devmlops-endpoint',
      'EndpointConfigName.$': '$.prepare.jobName',
      Tags: TAGS,
    });
    const update = st('UpdateEndpoint');
    expect(update.Resource).toBe(sdk('sagemaker', 'updateEndpoint'));
    expect(update.Parameters).toEqual({
      EndpointName: 'devmlops-endpoint',
      'EndpointConfigName.$': '$.prepare.jobName',
      DeploymentConfig: {
        BlueGreenUpdatePolicy: {
          TrafficRoutingConfiguration: {
            Type: 'CANARY',
            CanarySize: { Type: 'CAPACITY_PERCENT', Value: 10 },
            WaitIntervalInSeconds: 300,
          },
          TerminationWaitInSeconds: 300,
          // 90 polls x 60 s.
          MaximumExecutionTimeoutInSeconds: 5400,
        },
        AutoRollbackConfiguration: {
          Alarms: [{ AlarmName: 'devmlops-endpoint-5xx' }, { AlarmName: 'devmlops-endpoint-latency' }],
        },
      },
    });
    for (const name of ['CreateEndpoint', 'UpdateEndpoint']) {
      expect(st(name).ResultSelector).toEqual({ 'EndpointArn.$': '$.EndpointArn', polls: 1 });
      expect(st(name).ResultPath).toBe('$.deployment');
      expect(st(name).Next).toBe('WaitForEndpoint');
    }
  });

  it('polls the endpoint until InService on the new config, a rollback, a failure or the last poll', () => {
    expect(st('WaitForEndpoint')).toEqual({ Type: 'Wait', Seconds: 60, Next: 'PollEndpoint' });
    expect(st('PollEndpoint').Parameters).toEqual({ EndpointName: 'devmlops-endpoint' });
    expect(st('PollEndpoint').ResultSelector).toEqual({
      'status.$': '$.EndpointStatus',
      'configName.$': '$.EndpointConfigName',
    });
    const inProgress = {
      Or: ['Creating', 'Updating', 'SystemUpdating', 'RollingBack'].map((s) => ({
        Variable: '$.endpoint.status',
        StringEquals: s,
      })),
    };
    const choice = st('EndpointStatus?');
    expect(choice.Choices).toEqual([
      {
        And: [
          { Variable: '$.endpoint.status', StringEquals: 'InService' },
          { Variable: '$.endpoint.configName', StringEqualsPath: '$.prepare.jobName' },
        ],
        Next: 'Promote',
      },
      {
        And: [inProgress, { Variable: '$.deployment.polls', NumericLessThan: 90 }],
        Next: 'CountEndpointPoll',
      },
      { ...inProgress, Next: 'NotifyDeploymentTimeout' },
    ]);
    expect(choice.Default).toBe('RejectPackage');
    expect(st('CountEndpointPoll')).toEqual({
      Type: 'Pass',
      Parameters: {
        'EndpointArn.$': '$.deployment.EndpointArn',
        'polls.$': 'States.MathAdd($.deployment.polls, 1)',
      },
      ResultPath: '$.deployment',
      Next: 'WaitForEndpoint',
    });
    expect(st('RejectPackage').Parameters).toEqual({
      'ModelPackageArn.$': '$.registration.ModelPackageArn',
      ModelApprovalStatus: 'Rejected',
      'ApprovalDescription.$':
        "States.Format('Deployment to {} ended {} with endpoint config {}', 'devmlops-endpoint', $.endpoint.status, $.endpoint.configName)",
    });
    expect(path(asl, 'RejectPackage')).toEqual(['RejectPackage', 'NotifyRolledBack', 'DeploymentFailed']);
    expect(st('DeploymentFailed')).toMatchObject({ Type: 'Fail', Error: 'DeploymentFailed' });
    expect(path(asl, 'NotifyDeploymentTimeout')).toEqual(['NotifyDeploymentTimeout', 'DeploymentTimeout']);
    expect(st('DeploymentTimeout')).toMatchObject({ Type: 'Fail', Error: 'DeploymentTimeout' });
  });

  it('promotes with the pointer fields, then notifies and succeeds', () => {
    const promote = st('Promote');
    expect(promote.Resource).toBe(fnArn(training.promote));
    expect(promote.Parameters).toEqual({
      'modelPackageArn.$': '$.registration.ModelPackageArn',
      'jobName.$': '$.prepare.jobName',
      endpointName: 'devmlops-endpoint',
      'endpointConfigName.$': '$.prepare.jobName',
      'baselineUri.$': '$.prepare.baselineUri',
      'featureSpecUri.$': '$.prepare.featureSpecUri',
      'metricName.$': '$.evaluation.metricName',
      'metric.$': '$.evaluation.metric',
      'execution.$': '$$.Execution.Name',
      'executionStartTime.$': '$$.Execution.StartTime',
    });
    expect(promote.ResultPath).toBe('$.promotion');
    expect(path(asl, 'Promote')).toEqual(['Promote', 'NotifyDeployed', 'Succeeded']);
  });

  it('takes the happy path of a first deploy through every step in order', () => {
    expect(
      path(asl, asl.StartAt, {
        'HasChampion?': 'DescribeChampion',
        'Passed?': 'Register',
        'EndpointStatus?': 'Promote',
      }),
    ).toEqual([
      'ApplyDefaults',
      'MergeDefaults',
      'CheckRunning',
      'AlreadyRunning?',
      'IsDriftTrigger?',
      'Prepare',
      'Train',
      'GetChampion',
      'HasChampion?',
      'DescribeChampion',
      'Evaluate',
      'Passed?',
      'Register',
      'CreateModel',
      'CreateEndpointConfig',
      'DescribeEndpoint',
      'UpdateEndpoint',
      'WaitForEndpoint',
      'PollEndpoint',
      'EndpointStatus?',
      'Promote',
      'NotifyDeployed',
      'Succeeded',
    ]);
  });

  it('is a standard state machine with a fixed name, ALL logging to an encrypted log group and X-Ray', () => {
    const t = built.pipelineTemplate;
    const logGroupId = logicalId(training.logGroup);
    t.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'devmlops-training',
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logGroupId, 'Arn'] } } }],
      },
    });
    const logGroup = resourcesOf(t, 'AWS::Logs::LogGroup')[logGroupId];
    expect(props(logGroup)).toMatchObject({
      LogGroupName: '/aws/vendedlogs/states/devmlops-training',
      KmsKeyId: { 'Fn::GetAtt': [logicalId(training.key), 'Arn'] },
      RetentionInDays: 30,
    });
    t.hasOutput('TrainingStateMachineArn', {
      Value: { Ref: idOf(t, 'AWS::StepFunctions::StateMachine', 'Training') },
    });
  });
});

describe('training state machine variants', () => {
  const trainOf = (asl: Asl) => asl.States.Train.Parameters as Json;

  it.each([
    [
      'multiclass (enum target)',
      { target: 'plan', problem: 'multiclass' },
      { objective: 'multi:softprob', eval_metric: 'mlogloss', num_class: '3' },
      'validation:mlogloss',
    ],
    [
      'regression (number target)',
      { target: 'monthly_charges', problem: 'regression' },
      { objective: 'reg:squarederror', eval_metric: 'rmse' },
      'validation:rmse',
    ],
    [
      'binary (inferred from a boolean target)',
      { problem: undefined },
      { objective: 'binary:logistic', eval_metric: 'auc' },
      'validation:auc',
    ],
  ])('derives objective and eval_metric for %s', (_name, datasetEdit, expected, metricName) => {
    const b = buildWith((c) => {
      const dataset = c.dataset as Json;
      Object.assign(dataset, datasetEdit);
      if (datasetEdit.problem === undefined) delete dataset.problem;
    });
    const asl = definitionOf(b);
    const hp = trainOf(asl).HyperParameters as Json;
    expect(hp).toMatchObject(expected);
    if (!('num_class' in expected)) expect(hp.num_class).toBeUndefined();
    expect((asl.States.Evaluate.Parameters as Json).metricName).toBe(metricName);
    expect((asl.States.Register.Parameters as Json).CustomerMetadataProperties).toMatchObject({ metricName });
  });

  it('follows a configured gate metric and minimum', () => {
    const b = buildWith((c) => {
      c.training = { metric: { name: 'validation:logloss', minimum: 0.5, tolerance: 0.02 } };
    });
    const asl = definitionOf(b);
    expect((trainOf(asl).HyperParameters as Json).eval_metric).toBe('logloss');
    expect(asl.States.Evaluate.Parameters).toMatchObject({
      metricName: 'validation:logloss',
      minimum: 0.5,
      tolerance: 0.02,
    });
  });

  it('uses managed spot with MaxWaitTime when asked', () => {
    const spot = definitionOf(
      buildWith((c) => {
        c.training = {
          useSpot: true,
          maxRuntimeSeconds: 1800,
          maxWaitSeconds: 7200,
          instanceType: 'ml.m5.xlarge',
        };
      }),
    );
    expect(trainOf(spot)).toMatchObject({
      EnableManagedSpotTraining: true,
      StoppingCondition: { MaxRuntimeInSeconds: 1800, MaxWaitTimeInSeconds: 7200 },
      ResourceConfig: { InstanceType: 'ml.m5.xlarge' },
    });
    // Waiting for spot capacity counts: the state's timeout covers MaxWaitTime.
    expect(spot.States.Train.TimeoutSeconds).toBe(7200 + 1800);
    const defaultWait = definitionOf(
      buildWith((c) => (c.training = { useSpot: true, maxRuntimeSeconds: 1800 })),
    );
    expect((trainOf(defaultWait).StoppingCondition as Json).MaxWaitTimeInSeconds).toBe(3600);
    expect(() =>
      buildWith((c) => (c.training = { useSpot: true, maxRuntimeSeconds: 1800, maxWaitSeconds: 600 })),
    ).toThrow('maxWaitSeconds (600) must be at least maxRuntimeSeconds (1800)');
  });

  it('waits for a manual approval with a bounded number of polls', () => {
    const asl = definitionOf(
      buildWith((c) => {
        c.training = { approval: 'manual', approvalTimeoutMinutes: 60 };
      }),
    );
    expect((asl.States.Register.Parameters as Json).ModelApprovalStatus).toBe('PendingManualApproval');
    expect(asl.States.Register.Next).toBe('WaitForApproval');
    expect(asl.States.WaitForApproval).toEqual({ Type: 'Wait', Seconds: 300, Next: 'DescribePackage' });
    expect(asl.States.DescribePackage).toMatchObject({
      Parameters: { 'ModelPackageName.$': '$.registration.ModelPackageArn' },
      ResultSelector: { 'status.$': '$.ModelApprovalStatus' },
      ResultPath: '$.approval',
      Next: 'Approved?',
      Catch: [CATCH_ALL],
    });
    const approved = asl.States['Approved?'];
    expect(approved.Choices).toEqual([
      { Variable: '$.approval.status', StringEquals: 'Approved', Next: 'CreateModel' },
      { Variable: '$.approval.status', StringEquals: 'Rejected', Next: 'NotifyNotApproved' },
      // 60 minutes / 5 minutes.
      { Variable: '$.registration.polls', NumericLessThan: 12, Next: 'CountApprovalPoll' },
    ]);
    expect(approved.Default).toBe('NotifyApprovalTimeout');
    expect(path(asl, 'CountApprovalPoll')).toEqual([
      'CountApprovalPoll',
      'WaitForApproval',
      'DescribePackage',
      'Approved?',
      'NotifyApprovalTimeout',
      'ApprovalTimeout',
    ]);
    expect(path(asl, 'NotifyNotApproved')).toEqual(['NotifyNotApproved', 'ModelNotApproved']);
    expect(asl.States.ModelNotApproved).toMatchObject({ Type: 'Fail', Error: 'ModelNotApproved' });
    expect(asl.States.ApprovalTimeout).toMatchObject({ Type: 'Fail', Error: 'ApprovalTimeout' });
  });

  it('deploys a serverless variant without data capture or KMS key, updated all at once under the alarms', () => {
    const asl = definitionOf(
      buildWith((c) => {
        c.endpoint = {
          type: 'serverless',
          serverlessMemoryMb: 3072,
          serverlessMaxConcurrency: 7,
          canaryWaitSeconds: 120,
        };
      }),
    );
    expect(asl.States.CreateEndpointConfig.Parameters).toEqual({
      'EndpointConfigName.$': '$.prepare.jobName',
      ProductionVariants: [
        {
          VariantName: 'AllTraffic',
          'ModelName.$': '$.prepare.jobName',
          ServerlessConfig: { MemorySizeInMB: 3072, MaxConcurrency: 7 },
        },
      ],
      Tags: TAGS,
    });
    expect((asl.States.UpdateEndpoint.Parameters as Json).DeploymentConfig).toEqual({
      BlueGreenUpdatePolicy: {
        TrafficRoutingConfiguration: { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 120 },
        TerminationWaitInSeconds: 300,
        MaximumExecutionTimeoutInSeconds: 5400,
      },
      AutoRollbackConfiguration: {
        Alarms: [{ AlarmName: 'devmlops-endpoint-5xx' }, { AlarmName: 'devmlops-endpoint-latency' }],
      },
    });
  });

  it('takes canary, polling and project names from the config', () => {
    const b = buildWith((c) => {
      c.project = 'churnml';
      c.endpoint = {
        canarySizePercent: 25,
        canaryWaitSeconds: 600,
        terminationWaitSeconds: 120,
        pollIntervalSeconds: 30,
        maxPolls: 10,
        instanceCount: 2,
        instanceType: 'ml.c5.large',
        captureSamplingPercent: 20,
      };
    });
    const asl = definitionOf(b);
    const update = asl.States.UpdateEndpoint.Parameters as Json;
    expect(update.EndpointName).toBe('churnml-endpoint');
    expect(update.DeploymentConfig).toEqual({
      BlueGreenUpdatePolicy: {
        TrafficRoutingConfiguration: {
          Type: 'CANARY',
          CanarySize: { Type: 'CAPACITY_PERCENT', Value: 25 },
          WaitIntervalInSeconds: 600,
        },
        TerminationWaitInSeconds: 120,
        // 10 x 30 s is under SageMaker's minimum of 600.
        MaximumExecutionTimeoutInSeconds: 600,
      },
      AutoRollbackConfiguration: {
        Alarms: [{ AlarmName: 'churnml-endpoint-5xx' }, { AlarmName: 'churnml-endpoint-latency' }],
      },
    });
    expect(asl.States.CreateEndpointConfig.Parameters).toMatchObject({
      ProductionVariants: [expect.objectContaining({ InitialInstanceCount: 2, InstanceType: 'ml.c5.large' })],
      DataCaptureConfig: expect.objectContaining({ InitialSamplingPercentage: 20 }),
    });
    expect(asl.States.WaitForEndpoint.Seconds).toBe(30);
    expect((asl.States['EndpointStatus?'].Choices as Json[])[1]).toMatchObject({
      And: [expect.anything(), { Variable: '$.deployment.polls', NumericLessThan: 10 }],
    });
    expect((asl.States.CheckRunning.Parameters as Json).StateMachineArn).toMatch(
      /:stateMachine:churnml-training$/,
    );
    expect((asl.States.Train.Parameters as Json).Tags).toContainEqual({
      Key: 'devmlops:project',
      Value: 'churnml',
    });
    expect((asl.States.GetChampion.Parameters as Json).ModelPackageGroupName).toBe('churnml-models');
  });

  it('refuses hyperparameters the problem type decides, and an eval_metric the gate would not see', () => {
    expect(() =>
      buildWith((c) => (c.training = { hyperparameters: { objective: 'reg:squarederror' } })),
    ).toThrow('devmlops.training.hyperparameters.objective: set from the problem type (binary)');
    expect(() => buildWith((c) => (c.training = { hyperparameters: { eval_metric: 'error' } }))).toThrow(
      'eval_metric is "error" but the gate metric is "validation:auc"',
    );
  });
});
