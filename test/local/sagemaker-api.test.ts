import {
  SAGEMAKER_APIS,
  assertValidRequest,
  checkRequest,
  sageMakerApiOf,
  type SageMakerApi,
} from '../../lib/local/sagemaker-api';

const ROLE = 'arn:aws:iam::123456789012:role/devmlops-sagemaker';
const TAGS = [
  { Key: 'devmlops:project', Value: 'devmlops' },
  { Key: 'devmlops:managed-by', Value: 'pipeline' },
];
const JOB = 'devmlops-20250101120000-a1b2c3';

/** A request each API accepts, shaped as the training state machine sends it. */
const valid: Record<SageMakerApi, Record<string, unknown>> = {
  CreateTrainingJob: {
    TrainingJobName: JOB,
    RoleArn: ROLE,
    AlgorithmSpecification: {
      TrainingImage: '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1',
      TrainingInputMode: 'File',
    },
    HyperParameters: { objective: 'binary:logistic', eval_metric: 'auc', num_round: '100' },
    InputDataConfig: [
      {
        ChannelName: 'train',
        ContentType: 'text/csv',
        DataSource: {
          S3DataSource: {
            S3DataType: 'S3Prefix',
            S3Uri: 's3://artifacts/training/x/train.csv',
            S3DataDistributionType: 'FullyReplicated',
          },
        },
      },
      {
        ChannelName: 'validation',
        ContentType: 'text/csv',
        DataSource: {
          S3DataSource: { S3DataType: 'S3Prefix', S3Uri: 's3://artifacts/training/x/validation.csv' },
        },
      },
    ],
    OutputDataConfig: {
      S3OutputPath: 's3://artifacts/models/',
      KmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/abc',
    },
    ResourceConfig: {
      InstanceType: 'ml.m5.xlarge',
      InstanceCount: 1,
      VolumeSizeInGB: 10,
      VolumeKmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/abc',
    },
    StoppingCondition: { MaxRuntimeInSeconds: 3600 },
    Tags: TAGS,
  },
  CreateModel: {
    ModelName: JOB,
    ExecutionRoleArn: ROLE,
    PrimaryContainer: { Image: 'img:1.7-1', ModelDataUrl: 's3://artifacts/models/x/output/model.tar.gz' },
    Tags: TAGS,
  },
  CreateEndpointConfig: {
    EndpointConfigName: JOB,
    ProductionVariants: [
      {
        VariantName: 'AllTraffic',
        ModelName: JOB,
        InitialInstanceCount: 1,
        InstanceType: 'ml.m5.large',
        InitialVariantWeight: 1,
      },
    ],
    DataCaptureConfig: {
      EnableCapture: true,
      InitialSamplingPercentage: 100,
      DestinationS3Uri: 's3://artifacts/capture',
      KmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/abc',
      CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
      CaptureContentTypeHeader: { CsvContentTypes: ['text/csv'] },
    },
    KmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/abc',
    Tags: TAGS,
  },
  CreateEndpoint: { EndpointName: 'devmlops-endpoint', EndpointConfigName: JOB, Tags: TAGS },
  UpdateEndpoint: {
    EndpointName: 'devmlops-endpoint',
    EndpointConfigName: JOB,
    DeploymentConfig: {
      BlueGreenUpdatePolicy: {
        TrafficRoutingConfiguration: {
          Type: 'CANARY',
          CanarySize: { Type: 'CAPACITY_PERCENT', Value: 10 },
          WaitIntervalInSeconds: 300,
        },
        TerminationWaitInSeconds: 120,
        MaximumExecutionTimeoutInSeconds: 1800,
      },
      AutoRollbackConfiguration: {
        Alarms: [{ AlarmName: 'devmlops-endpoint-5xx' }, { AlarmName: 'devmlops-endpoint-latency' }],
      },
    },
  },
  DescribeEndpoint: { EndpointName: 'devmlops-endpoint' },
  ListModelPackages: {
    ModelPackageGroupName: 'devmlops-models',
    ModelApprovalStatus: 'Approved',
    SortBy: 'CreationTime',
    SortOrder: 'Descending',
    MaxResults: 1,
  },
  DescribeModelPackage: {
    ModelPackageName: 'arn:aws:sagemaker:us-east-1:123456789012:model-package/devmlops-models/1',
  },
  CreateModelPackage: {
    ModelPackageGroupName: 'devmlops-models',
    ModelPackageDescription: `devmlops ${JOB}`,
    InferenceSpecification: {
      Containers: [{ Image: 'img:1.7-1', ModelDataUrl: 's3://artifacts/models/x/output/model.tar.gz' }],
      SupportedContentTypes: ['text/csv'],
      SupportedResponseMIMETypes: ['text/csv'],
    },
    ModelApprovalStatus: 'Approved',
    CustomerMetadataProperties: {
      metricName: 'validation:auc',
      metric: '0.91',
      baselineUri: 's3://artifacts/training/x/baseline.json',
      execution: 'arn:aws:states:us-east-1:123456789012:execution:devmlops-training:abc',
    },
    Tags: TAGS,
  },
  UpdateModelPackage: {
    ModelPackageArn: 'arn:aws:sagemaker:us-east-1:123456789012:model-package/devmlops-models/3',
    ModelApprovalStatus: 'Rejected',
  },
};

// Mutations reach into nested request fields by name; typing every request shape here would add nothing.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

function withChange(api: SageMakerApi, change: (r: Loose) => void): Record<string, unknown> {
  const r = structuredClone(valid[api]);
  change(r);
  return r;
}

describe('checkRequest', () => {
  it.each(SAGEMAKER_APIS)('accepts a well-formed %s request', (api) => {
    expect(checkRequest(api, valid[api])).toEqual([]);
  });

  const broken: Array<[string, SageMakerApi, (r: Loose) => void, RegExp]> = [
    [
      'a missing TrainingJobName',
      'CreateTrainingJob',
      (r) => delete r.TrainingJobName,
      /^TrainingJobName: required$/,
    ],
    [
      'a job name over 63 characters',
      'CreateTrainingJob',
      (r) => (r.TrainingJobName = 'x'.repeat(64)),
      /TrainingJobName: must have at most 63/,
    ],
    [
      'an underscore in the job name',
      'CreateTrainingJob',
      (r) => (r.TrainingJobName = 'a_b'),
      /TrainingJobName: "a_b" is not a valid name/,
    ],
    [
      'no TrainingInputMode',
      'CreateTrainingJob',
      (r) => delete r.AlgorithmSpecification.TrainingInputMode,
      /AlgorithmSpecification\.TrainingInputMode: required/,
    ],
    [
      'both image and algorithm',
      'CreateTrainingJob',
      (r) => (r.AlgorithmSpecification.AlgorithmName = 'xgboost'),
      /exactly one of TrainingImage, AlgorithmName/,
    ],
    [
      'no S3OutputPath',
      'CreateTrainingJob',
      (r) => delete r.OutputDataConfig.S3OutputPath,
      /OutputDataConfig\.S3OutputPath: required/,
    ],
    [
      'no VolumeSizeInGB',
      'CreateTrainingJob',
      (r) => delete r.ResourceConfig.VolumeSizeInGB,
      /ResourceConfig\.VolumeSizeInGB: required/,
    ],
    [
      'InstanceCount as a string',
      'CreateTrainingJob',
      (r) => (r.ResourceConfig.InstanceCount = '1'),
      /ResourceConfig\.InstanceCount: must be an integer/,
    ],
    [
      'an unknown instance type',
      'CreateTrainingJob',
      (r) => (r.ResourceConfig.InstanceType = 'ml.m5.huge'),
      /InstanceType: "ml\.m5\.huge" is not one of/,
    ],
    ['no RoleArn', 'CreateTrainingJob', (r) => delete r.RoleArn, /^RoleArn: required$/],
    [
      'no StoppingCondition',
      'CreateTrainingJob',
      (r) => delete r.StoppingCondition,
      /^StoppingCondition: required$/,
    ],
    [
      'a numeric hyperparameter',
      'CreateTrainingJob',
      (r) => (r.HyperParameters.num_round = 100),
      /HyperParameters\.num_round: must be a string/,
    ],
    [
      'spot without MaxWaitTimeInSeconds',
      'CreateTrainingJob',
      (r) => (r.EnableManagedSpotTraining = true),
      /MaxWaitTimeInSeconds: required with EnableManagedSpotTraining/,
    ],
    [
      'spot wait below runtime',
      'CreateTrainingJob',
      (r) => {
        r.EnableManagedSpotTraining = true;
        r.StoppingCondition.MaxWaitTimeInSeconds = 60;
      },
      /must be >= MaxRuntimeInSeconds/,
    ],
    [
      'duplicate channels',
      'CreateTrainingJob',
      (r) => (r.InputDataConfig[1].ChannelName = 'train'),
      /duplicate channel names train/,
    ],
    [
      'a misspelt field',
      'CreateTrainingJob',
      (r) => (r.ResourceConfig.VolumeSizeInGb = 10),
      /ResourceConfig\.VolumeSizeInGb: not a field/,
    ],
    [
      'a camelCase request',
      'DescribeEndpoint',
      (r) => {
        r.endpointName = r.EndpointName;
        delete r.EndpointName;
      },
      /EndpointName: required/,
    ],
    [
      'a model without container',
      'CreateModel',
      (r) => delete r.PrimaryContainer,
      /exactly one of PrimaryContainer, Containers/,
    ],
    [
      'a variant without instance type',
      'CreateEndpointConfig',
      (r) => delete r.ProductionVariants[0].InstanceType,
      /ProductionVariants\[0\]\.InstanceType: required for an instance-based variant/,
    ],
    [
      'capture without options',
      'CreateEndpointConfig',
      (r) => delete r.DataCaptureConfig.CaptureOptions,
      /DataCaptureConfig\.CaptureOptions: required/,
    ],
    [
      'serverless with KmsKeyId',
      'CreateEndpointConfig',
      (r) => {
        r.ProductionVariants = [
          {
            VariantName: 'AllTraffic',
            ModelName: JOB,
            ServerlessConfig: { MemorySizeInMB: 2048, MaxConcurrency: 5 },
          },
        ];
        delete r.DataCaptureConfig;
      },
      /KmsKeyId: not supported with a serverless variant/,
    ],
    [
      'serverless memory not a multiple of 1 GB',
      'CreateEndpointConfig',
      (r) => {
        r.ProductionVariants = [
          {
            VariantName: 'AllTraffic',
            ModelName: JOB,
            ServerlessConfig: { MemorySizeInMB: 1500, MaxConcurrency: 5 },
          },
        ];
      },
      /MemorySizeInMB: must be 1024, 2048/,
    ],
    [
      'canary without size',
      'UpdateEndpoint',
      (r) => delete r.DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.CanarySize,
      /CanarySize: required for CANARY/,
    ],
    [
      'execution timeout below the waits',
      'UpdateEndpoint',
      (r) => (r.DeploymentConfig.BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds = 600 - 180),
      /MaximumExecutionTimeoutInSeconds: must be >= 600/,
    ],
    [
      'execution timeout not above the waits',
      'UpdateEndpoint',
      (r) => (r.DeploymentConfig.BlueGreenUpdatePolicy.TerminationWaitInSeconds = 1500),
      /must be larger than WaitIntervalInSeconds \+ TerminationWaitInSeconds \(1800\)/,
    ],
    [
      'an empty alarm list',
      'UpdateEndpoint',
      (r) => (r.DeploymentConfig.AutoRollbackConfiguration.Alarms = []),
      /Alarms: must have at least 1/,
    ],
    [
      'no endpoint config',
      'CreateEndpoint',
      (r) => delete r.EndpointConfigName,
      /^EndpointConfigName: required$/,
    ],
    ['MaxResults 0', 'ListModelPackages', (r) => (r.MaxResults = 0), /MaxResults: must be >= 1/],
    [
      'a lower-case sort order',
      'ListModelPackages',
      (r) => (r.SortOrder = 'descending'),
      /SortOrder: "descending" is not one of/,
    ],
    [
      'a numeric metadata value',
      'CreateModelPackage',
      (r) => (r.CustomerMetadataProperties.metric = 0.91),
      /CustomerMetadataProperties\.metric: must be a string/,
    ],
    [
      'a JSON metadata value',
      'CreateModelPackage',
      (r) => (r.CustomerMetadataProperties.rows = '{"total":3}'),
      /not a valid metadata value/,
    ],
    [
      'both package name and group',
      'CreateModelPackage',
      (r) => (r.ModelPackageName = 'x'),
      /exactly one of ModelPackageName, ModelPackageGroupName/,
    ],
    [
      'a container without image',
      'CreateModelPackage',
      (r) => delete r.InferenceSpecification.Containers[0].Image,
      /Containers\[0\]\.Image: required/,
    ],
    [
      'an unknown approval status',
      'UpdateModelPackage',
      (r) => (r.ModelApprovalStatus = 'Denied'),
      /ModelApprovalStatus: "Denied" is not one of/,
    ],
    [
      'a package name for an ARN',
      'UpdateModelPackage',
      (r) => (r.ModelPackageArn = 'devmlops-models/3'),
      /is not a model package ARN/,
    ],
  ];
  it.each(broken)('reports %s', (_name, api, change, problem) => {
    const problems = checkRequest(api, withChange(api, change));
    expect(problems.some((p) => problem.test(p))).toBe(true);
  });

  it('reports a non-object request', () => {
    expect(checkRequest('DescribeEndpoint', 'devmlops-endpoint')).toEqual([
      'request: must be an object, got string',
    ]);
  });
});

describe('sageMakerApiOf and assertValidRequest', () => {
  it('maps Resource actions to API names', () => {
    expect(sageMakerApiOf('describeEndpoint')).toBe('DescribeEndpoint');
    expect(sageMakerApiOf('createTrainingJob')).toBe('CreateTrainingJob');
    expect(sageMakerApiOf('deleteEndpoint')).toBeUndefined();
  });

  it('throws with the error name Step Functions reports, per integration', () => {
    expect(() => assertValidRequest('DescribeEndpoint', {})).toThrow(
      expect.objectContaining({
        name: 'SageMaker.SageMakerException',
        message: expect.stringMatching(/EndpointName: required/),
      }),
    );
    expect(() => assertValidRequest('CreateTrainingJob', {}, 'optimized')).toThrow(
      expect.objectContaining({ name: 'SageMaker.AmazonSageMakerException' }),
    );
    expect(() => assertValidRequest('DescribeEndpoint', valid.DescribeEndpoint)).not.toThrow();
  });
});
