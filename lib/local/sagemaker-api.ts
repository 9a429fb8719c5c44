import { ProductionVariantInstanceType, TrainingInstanceType } from '@aws-sdk/client-sagemaker';

/**
 * The request checks of the SageMaker APIs the training state machine calls: required fields, types, lengths,
 * patterns, enumerations and the cross-field rules the API reference states, so that a malformed request fails
 * locally as it would on AWS (issue 5). Field names are PascalCase, as the Step Functions SDK integrations pass
 * them. Unknown fields are problems too: the integrations reject parameters the API does not have.
 */

export const SAGEMAKER_APIS = [
  'CreateTrainingJob',
  'CreateModel',
  'CreateEndpointConfig',
  'CreateEndpoint',
  'UpdateEndpoint',
  'DescribeEndpoint',
  'ListModelPackages',
  'DescribeModelPackage',
  'CreateModelPackage',
  'UpdateModelPackage',
] as const;
export type SageMakerApi = (typeof SAGEMAKER_APIS)[number];

/** `describeEndpoint` (as in a Task Resource) -> `DescribeEndpoint`, if it is one of the checked APIs. */
export function sageMakerApiOf(action: string): SageMakerApi | undefined {
  const name = action.charAt(0).toUpperCase() + action.slice(1);
  return (SAGEMAKER_APIS as readonly string[]).includes(name) ? (name as SageMakerApi) : undefined;
}

type Check = (value: unknown, at: string, problems: string[]) => void;

interface Field {
  readonly required: boolean;
  readonly check: Check;
}

const opt = (check: Check): Field => ({ required: false, check });
const req = (check: Check): Field => ({ required: true, check });

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function str(
  options: { min?: number; max?: number; pattern?: RegExp; oneOf?: readonly string[]; what?: string } = {},
): Check {
  return (v, at, problems) => {
    if (typeof v !== 'string') {
      problems.push(`${at}: must be a string, got ${typeName(v)}`);
      return;
    }
    if (options.min !== undefined && v.length < options.min) {
      problems.push(`${at}: must have at least ${options.min} characters`);
    }
    if (options.max !== undefined && v.length > options.max) {
      problems.push(`${at}: must have at most ${options.max} characters (has ${v.length})`);
    }
    if (options.pattern && !options.pattern.test(v)) {
      problems.push(
        `${at}: ${JSON.stringify(v)} is not ${options.what ?? `matching ${options.pattern.source}`}`,
      );
    }
    if (options.oneOf && !options.oneOf.includes(v)) {
      problems.push(`${at}: ${JSON.stringify(v)} is not one of ${options.oneOf.join(', ')}`);
    }
  };
}

function int(options: { min?: number; max?: number } = {}): Check {
  return (v, at, problems) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      problems.push(`${at}: must be an integer, got ${JSON.stringify(v)}`);
      return;
    }
    if (options.min !== undefined && v < options.min)
      problems.push(`${at}: must be >= ${options.min} (is ${v})`);
    if (options.max !== undefined && v > options.max)
      problems.push(`${at}: must be <= ${options.max} (is ${v})`);
  };
}

function num(options: { min?: number; max?: number } = {}): Check {
  return (v, at, problems) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      problems.push(`${at}: must be a number, got ${JSON.stringify(v)}`);
      return;
    }
    if (options.min !== undefined && v < options.min)
      problems.push(`${at}: must be >= ${options.min} (is ${v})`);
    if (options.max !== undefined && v > options.max)
      problems.push(`${at}: must be <= ${options.max} (is ${v})`);
  };
}

const bool: Check = (v, at, problems) => {
  if (typeof v !== 'boolean') problems.push(`${at}: must be a boolean, got ${JSON.stringify(v)}`);
};

/** A field this module does not check in depth (only that it is present with some value). */
const any: Check = () => undefined;

function arr(item: Check, options: { min?: number; max?: number } = {}): Check {
  return (v, at, problems) => {
    if (!Array.isArray(v)) {
      problems.push(`${at}: must be a list, got ${typeName(v)}`);
      return;
    }
    if (options.min !== undefined && v.length < options.min) {
      problems.push(`${at}: must have at least ${options.min} item(s)`);
    }
    if (options.max !== undefined && v.length > options.max) {
      problems.push(`${at}: must have at most ${options.max} items (has ${v.length})`);
    }
    v.forEach((x, i) => item(x, `${at}[${i}]`, problems));
  };
}

function map(key: Check, value: Check, options: { min?: number; max?: number } = {}): Check {
  return (v, at, problems) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      problems.push(`${at}: must be a map, got ${typeName(v)}`);
      return;
    }
    const entries = Object.entries(v);
    if (options.min !== undefined && entries.length < options.min) {
      problems.push(`${at}: must have at least ${options.min} entries`);
    }
    if (options.max !== undefined && entries.length > options.max) {
      problems.push(`${at}: must have at most ${options.max} entries (has ${entries.length})`);
    }
    for (const [k, x] of entries) {
      key(k, `${at} key ${JSON.stringify(k)}`, problems);
      value(x, `${at}.${k}`, problems);
    }
  };
}

type Rule = (v: Record<string, unknown>, at: string, problems: string[]) => void;

function obj(fields: Record<string, Field>, ...rules: Rule[]): Check {
  return (v, at, problems) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      problems.push(`${at === '' ? 'request' : at}: must be an object, got ${typeName(v)}`);
      return;
    }
    const o = v as Record<string, unknown>;
    const prefix = at === '' ? '' : `${at}.`;
    for (const [name, field] of Object.entries(fields)) {
      if (o[name] === undefined || o[name] === null) {
        if (field.required) problems.push(`${prefix}${name}: required`);
      } else {
        field.check(o[name], `${prefix}${name}`, problems);
      }
    }
    for (const name of Object.keys(o)) {
      if (!(name in fields)) problems.push(`${prefix}${name}: not a field of this request`);
    }
    for (const rule of rules) rule(o, at === '' ? 'request' : at, problems);
  };
}

const has = (o: Record<string, unknown>, k: string): boolean => o[k] !== undefined && o[k] !== null;

function exactlyOne(...names: string[]): Rule {
  return (o, at, problems) => {
    const present = names.filter((n) => has(o, n));
    if (present.length !== 1) {
      problems.push(
        `${at}: exactly one of ${names.join(', ')} is required (has ${present.length > 0 ? present.join(', ') : 'none'})`,
      );
    }
  };
}

// Patterns from the SageMaker API reference.
const ENTITY_NAME = str({
  max: 63,
  pattern: /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/,
  what: 'a valid name (1-63 of a-z, A-Z, 0-9 and -, not starting or ending with -)',
});
const ROLE_ARN = str({
  min: 20,
  max: 2048,
  pattern: /^arn:aws[a-z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/,
  what: 'an IAM role ARN',
});
const S3_URI = str({ max: 1024, pattern: /^(https|s3):\/\/([^/]+)\/?(.*)$/, what: 'an S3 URI' });
const IMAGE = str({ max: 255, pattern: /^[\S]+$/, what: 'an image URI' });
const KMS_KEY = str({ max: 2048, pattern: /^[a-zA-Z0-9:/_-]*$/, what: 'a KMS key id or ARN' });
const TAG_TEXT = /^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$/u;
const TAGS = arr(
  obj({
    Key: req(str({ min: 1, max: 128, pattern: TAG_TEXT, what: 'a valid tag key' })),
    Value: req(str({ max: 256, pattern: TAG_TEXT, what: 'a valid tag value' })),
  }),
  { max: 50 },
);
const MODEL_PACKAGE_ARN = str({
  min: 1,
  max: 2048,
  pattern: /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]{9,16}:[0-9]{12}:model-package\/[\S]{1,2048}$/,
  what: 'a model package ARN',
});
const GROUP_ARN_OR_NAME = str({
  min: 1,
  max: 170,
  pattern:
    /^(arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:[a-z-]*\/)?([a-zA-Z0-9]([a-zA-Z0-9-]){0,62})(?<!-)$/,
  what: 'a model package group name or ARN',
});
const APPROVAL = str({ oneOf: ['Approved', 'Rejected', 'PendingManualApproval'] });
const INPUT_MODE = str({ oneOf: ['Pipe', 'File', 'FastFile'] });
const CONTENT_TYPE = str({ max: 256, pattern: /^[\S]*$/, what: 'a content type' });
const CSV_TYPE = str({
  min: 1,
  max: 256,
  pattern: /^[a-zA-Z0-9](-*[a-zA-Z0-9])*\/[a-zA-Z0-9](-*[a-zA-Z0-9.])*$/,
  what: 'a CSV content type',
});
const ENV = map(
  str({ max: 1024, pattern: /^[a-zA-Z_][a-zA-Z0-9_]*$/, what: 'an environment variable name' }),
  str({ max: 1024 }),
  { max: 100 },
);
const VPC = obj({
  SecurityGroupIds: req(arr(str({ max: 32 }), { min: 1, max: 5 })),
  Subnets: req(arr(str({ max: 32 }), { min: 1, max: 16 })),
});

const TRAINING_INSTANCE_TYPES = Object.values(TrainingInstanceType) as string[];
const VARIANT_INSTANCE_TYPES = Object.values(ProductionVariantInstanceType) as string[];

const S3_DATA_SOURCE = obj({
  S3DataType: req(str({ oneOf: ['ManifestFile', 'S3Prefix', 'AugmentedManifestFile', 'Converse'] })),
  S3Uri: req(S3_URI),
  S3DataDistributionType: opt(str({ oneOf: ['FullyReplicated', 'ShardedByS3Key'] })),
  AttributeNames: opt(arr(str({ min: 1, max: 256 }), { max: 16 })),
  InstanceGroupNames: opt(arr(str({ min: 1, max: 64 }), { max: 5 })),
  ModelAccessConfig: opt(any),
  HubAccessConfig: opt(any),
});

const CHANNEL = obj({
  ChannelName: req(str({ min: 1, max: 64, pattern: /^[A-Za-z0-9.\-_]+$/, what: 'a valid channel name' })),
  DataSource: req(
    obj(
      { S3DataSource: opt(S3_DATA_SOURCE), FileSystemDataSource: opt(any), DatasetSource: opt(any) },
      exactlyOne('S3DataSource', 'FileSystemDataSource', 'DatasetSource'),
    ),
  ),
  ContentType: opt(CONTENT_TYPE),
  CompressionType: opt(str({ oneOf: ['None', 'Gzip'] })),
  RecordWrapperType: opt(str({ oneOf: ['None', 'RecordIO'] })),
  InputMode: opt(INPUT_MODE),
  ShuffleConfig: opt(obj({ Seed: req(int()) })),
});

const uniqueChannels: Check = (v, at, problems) => {
  if (!Array.isArray(v)) return;
  const names = v.map((c) => (c as { ChannelName?: unknown }).ChannelName);
  const dup = names.filter((n, i) => names.indexOf(n) !== i);
  if (dup.length > 0) problems.push(`${at}: duplicate channel names ${dup.join(', ')}`);
};

const both =
  (...checks: Check[]): Check =>
  (v, at, problems) => {
    for (const c of checks) c(v, at, problems);
  };

const CREATE_TRAINING_JOB = obj(
  {
    TrainingJobName: req(ENTITY_NAME),
    HyperParameters: opt(map(str({ max: 256 }), str({ max: 2500 }), { max: 100 })),
    // The current API makes these optional only for serverless and instance-group jobs; a classic job needs them.
    AlgorithmSpecification: req(
      obj(
        {
          TrainingImage: opt(IMAGE),
          AlgorithmName: opt(str({ min: 1, max: 170 })),
          TrainingInputMode: req(INPUT_MODE),
          MetricDefinitions: opt(
            arr(obj({ Name: req(str({ min: 1, max: 255 })), Regex: req(str({ min: 1, max: 500 })) }), {
              max: 40,
            }),
          ),
          EnableSageMakerMetricsTimeSeries: opt(bool),
          ContainerEntrypoint: opt(arr(str({ min: 1, max: 256 }), { min: 1, max: 100 })),
          ContainerArguments: opt(arr(str({ min: 1, max: 256 }), { min: 1, max: 100 })),
          TrainingImageConfig: opt(any),
        },
        exactlyOne('TrainingImage', 'AlgorithmName'),
      ),
    ),
    RoleArn: req(ROLE_ARN),
    InputDataConfig: opt(both(arr(CHANNEL, { min: 1, max: 20 }), uniqueChannels)),
    OutputDataConfig: req(
      obj({
        KmsKeyId: opt(KMS_KEY),
        S3OutputPath: req(S3_URI),
        CompressionType: opt(str({ oneOf: ['GZIP', 'NONE'] })),
      }),
    ),
    ResourceConfig: req(
      obj({
        InstanceType: req(str({ oneOf: TRAINING_INSTANCE_TYPES })),
        InstanceCount: req(int({ min: 1 })),
        VolumeSizeInGB: req(int({ min: 1 })),
        VolumeKmsKeyId: opt(KMS_KEY),
        KeepAlivePeriodInSeconds: opt(int({ min: 0, max: 3600 })),
        InstanceGroups: opt(any),
        TrainingPlanArn: opt(any),
        InstancePlacementConfig: opt(any),
        InstancePreferences: opt(any),
      }),
    ),
    VpcConfig: opt(VPC),
    StoppingCondition: req(
      obj({
        MaxRuntimeInSeconds: opt(int({ min: 1 })),
        MaxWaitTimeInSeconds: opt(int({ min: 1 })),
        MaxPendingTimeInSeconds: opt(int({ min: 7200, max: 2419200 })),
      }),
    ),
    Tags: opt(TAGS),
    EnableNetworkIsolation: opt(bool),
    EnableInterContainerTrafficEncryption: opt(bool),
    EnableManagedSpotTraining: opt(bool),
    CheckpointConfig: opt(obj({ S3Uri: req(S3_URI), LocalPath: opt(str({ max: 4096 })) })),
    DebugHookConfig: opt(any),
    DebugRuleConfigurations: opt(any),
    TensorBoardOutputConfig: opt(any),
    ExperimentConfig: opt(any),
    ProfilerConfig: opt(any),
    ProfilerRuleConfigurations: opt(any),
    Environment: opt(ENV),
    RetryStrategy: opt(obj({ MaximumRetryAttempts: req(int({ min: 1, max: 30 })) })),
    RemoteDebugConfig: opt(any),
    InfraCheckConfig: opt(any),
    SessionChainingConfig: opt(any),
  },
  (o, _at, problems) => {
    // Managed spot: MaxWaitTimeInSeconds is required and must be at least MaxRuntimeInSeconds.
    if (o.EnableManagedSpotTraining !== true) return;
    const sc = (o.StoppingCondition ?? {}) as {
      MaxWaitTimeInSeconds?: unknown;
      MaxRuntimeInSeconds?: unknown;
    };
    if (typeof sc.MaxWaitTimeInSeconds !== 'number') {
      problems.push('StoppingCondition.MaxWaitTimeInSeconds: required with EnableManagedSpotTraining');
    } else if (
      typeof sc.MaxRuntimeInSeconds === 'number' &&
      sc.MaxWaitTimeInSeconds < sc.MaxRuntimeInSeconds
    ) {
      problems.push('StoppingCondition.MaxWaitTimeInSeconds: must be >= MaxRuntimeInSeconds');
    }
  },
);

const CONTAINER = obj(
  {
    ContainerHostname: opt(str({ max: 63 })),
    Image: opt(IMAGE),
    ImageConfig: opt(any),
    Mode: opt(str({ oneOf: ['SingleModel', 'MultiModel'] })),
    ModelDataUrl: opt(S3_URI),
    ModelDataSource: opt(any),
    AdditionalModelDataSources: opt(any),
    Environment: opt(ENV),
    ModelPackageName: opt(str({ min: 1, max: 176 })),
    InferenceSpecificationName: opt(str({ min: 1, max: 63 })),
    MultiModelConfig: opt(any),
    ContainerMetricsConfig: opt(any),
  },
  (o, at, problems) => {
    if (!has(o, 'Image') && !has(o, 'ModelPackageName'))
      problems.push(`${at}: Image or ModelPackageName is required`);
  },
);

const CREATE_MODEL = obj(
  {
    ModelName: req(ENTITY_NAME),
    PrimaryContainer: opt(CONTAINER),
    Containers: opt(arr(CONTAINER, { max: 15 })),
    InferenceExecutionConfig: opt(any),
    ExecutionRoleArn: opt(ROLE_ARN),
    Tags: opt(TAGS),
    VpcConfig: opt(VPC),
    EnableNetworkIsolation: opt(bool),
  },
  exactlyOne('PrimaryContainer', 'Containers'),
);

const VARIANT = obj(
  {
    VariantName: req(ENTITY_NAME),
    ModelName: opt(ENTITY_NAME),
    InitialInstanceCount: opt(int({ min: 1 })),
    InstanceType: opt(str({ oneOf: VARIANT_INSTANCE_TYPES })),
    InstancePools: opt(any),
    VariantInstanceProvisionTimeoutInSeconds: opt(any),
    InitialVariantWeight: opt(num({ min: 0 })),
    AcceleratorType: opt(any),
    CoreDumpConfig: opt(any),
    ServerlessConfig: opt(
      obj(
        {
          MemorySizeInMB: req(int({ min: 1024, max: 6144 })),
          MaxConcurrency: req(int({ min: 1, max: 200 })),
          ProvisionedConcurrency: opt(int({ min: 1, max: 200 })),
        },
        (o, at, problems) => {
          if (typeof o.MemorySizeInMB === 'number' && o.MemorySizeInMB % 1024 !== 0) {
            problems.push(`${at}.MemorySizeInMB: must be 1024, 2048, 3072, 4096, 5120 or 6144`);
          }
        },
      ),
    ),
    VolumeSizeInGB: opt(int({ min: 1, max: 512 })),
    ModelDataDownloadTimeoutInSeconds: opt(int({ min: 60, max: 3600 })),
    ContainerStartupHealthCheckTimeoutInSeconds: opt(int({ min: 60, max: 3600 })),
    EnableSSMAccess: opt(bool),
    ManagedInstanceScaling: opt(any),
    RoutingConfig: opt(any),
    InferenceAmiVersion: opt(any),
    CapacityReservationConfig: opt(any),
  },
  (o, at, problems) => {
    if (has(o, 'ServerlessConfig')) {
      for (const k of ['InstanceType', 'InitialInstanceCount']) {
        if (has(o, k)) problems.push(`${at}.${k}: not allowed with ServerlessConfig`);
      }
    } else {
      for (const k of ['InstanceType', 'InitialInstanceCount']) {
        if (!has(o, k))
          problems.push(`${at}.${k}: required for an instance-based variant (no ServerlessConfig)`);
      }
    }
  },
);

const DATA_CAPTURE = obj({
  EnableCapture: opt(bool),
  InitialSamplingPercentage: req(int({ min: 0, max: 100 })),
  DestinationS3Uri: req(S3_URI),
  KmsKeyId: opt(KMS_KEY),
  CaptureOptions: req(
    arr(obj({ CaptureMode: req(str({ oneOf: ['Input', 'Output', 'InputAndOutput'] })) }), { min: 1, max: 2 }),
  ),
  CaptureContentTypeHeader: opt(
    obj({
      CsvContentTypes: opt(arr(CSV_TYPE, { min: 1, max: 10 })),
      JsonContentTypes: opt(arr(CONTENT_TYPE, { min: 1, max: 10 })),
    }),
  ),
});

const CREATE_ENDPOINT_CONFIG = obj(
  {
    EndpointConfigName: req(ENTITY_NAME),
    ProductionVariants: req(arr(VARIANT, { min: 1, max: 10 })),
    DataCaptureConfig: opt(DATA_CAPTURE),
    Tags: opt(TAGS),
    KmsKeyId: opt(KMS_KEY),
    AsyncInferenceConfig: opt(any),
    ExplainerConfig: opt(any),
    ShadowProductionVariants: opt(arr(VARIANT, { min: 1, max: 10 })),
    ExecutionRoleArn: opt(ROLE_ARN),
    VpcConfig: opt(VPC),
    EnableNetworkIsolation: opt(bool),
    MetricsConfig: opt(any),
  },
  (o, _at, problems) => {
    const variants = Array.isArray(o.ProductionVariants)
      ? (o.ProductionVariants as Array<Record<string, unknown>>)
      : [];
    if (!variants.some((v) => v && has(v, 'ServerlessConfig'))) return;
    // Serverless endpoints have no ML storage volume to encrypt and no SageMaker data capture.
    if (has(o, 'KmsKeyId')) problems.push('KmsKeyId: not supported with a serverless variant');
    if (has(o, 'DataCaptureConfig'))
      problems.push('DataCaptureConfig: not supported with a serverless variant');
  },
);

const CAPACITY = obj(
  { Type: req(str({ oneOf: ['INSTANCE_COUNT', 'CAPACITY_PERCENT'] })), Value: req(int({ min: 1 })) },
  (o, at, problems) => {
    if (o.Type === 'CAPACITY_PERCENT' && typeof o.Value === 'number' && o.Value > 100) {
      problems.push(`${at}.Value: a percentage must be <= 100`);
    }
  },
);

const DEPLOYMENT_CONFIG = obj(
  {
    BlueGreenUpdatePolicy: opt(
      obj(
        {
          TrafficRoutingConfiguration: req(
            obj(
              {
                Type: req(str({ oneOf: ['ALL_AT_ONCE', 'CANARY', 'LINEAR'] })),
                WaitIntervalInSeconds: req(int({ min: 0, max: 3600 })),
                CanarySize: opt(CAPACITY),
                LinearStepSize: opt(CAPACITY),
              },
              (o, at, problems) => {
                if (o.Type === 'CANARY' && !has(o, 'CanarySize'))
                  problems.push(`${at}.CanarySize: required for CANARY`);
                if (o.Type === 'LINEAR' && !has(o, 'LinearStepSize')) {
                  problems.push(`${at}.LinearStepSize: required for LINEAR`);
                }
              },
            ),
          ),
          TerminationWaitInSeconds: opt(int({ min: 0, max: 3600 })),
          MaximumExecutionTimeoutInSeconds: opt(int({ min: 600, max: 28800 })),
        },
        (o, at, problems) => {
          // "should be larger than the total waiting time specified in TerminationWaitInSeconds and WaitIntervalInSeconds"
          const max = o.MaximumExecutionTimeoutInSeconds;
          const wait = (o.TrafficRoutingConfiguration as { WaitIntervalInSeconds?: unknown } | undefined)
            ?.WaitIntervalInSeconds;
          const term = o.TerminationWaitInSeconds ?? 0;
          if (
            typeof max === 'number' &&
            typeof wait === 'number' &&
            typeof term === 'number' &&
            max <= wait + term
          ) {
            problems.push(
              `${at}.MaximumExecutionTimeoutInSeconds: must be larger than WaitIntervalInSeconds + TerminationWaitInSeconds (${wait + term})`,
            );
          }
        },
      ),
    ),
    RollingUpdatePolicy: opt(any),
    AutoRollbackConfiguration: opt(
      obj({
        Alarms: opt(
          arr(obj({ AlarmName: req(str({ min: 1, max: 255, pattern: /^(?!\s*$).+$/ })) }), {
            min: 1,
            max: 10,
          }),
        ),
      }),
    ),
  },
  (o, at, problems) => {
    if (has(o, 'BlueGreenUpdatePolicy') && has(o, 'RollingUpdatePolicy')) {
      problems.push(`${at}: only one of BlueGreenUpdatePolicy and RollingUpdatePolicy`);
    }
  },
);

const CREATE_ENDPOINT = obj({
  EndpointName: req(ENTITY_NAME),
  EndpointConfigName: req(ENTITY_NAME),
  DeploymentConfig: opt(DEPLOYMENT_CONFIG),
  Tags: opt(TAGS),
});

const UPDATE_ENDPOINT = obj({
  EndpointName: req(ENTITY_NAME),
  EndpointConfigName: req(ENTITY_NAME),
  RetainAllVariantProperties: opt(bool),
  ExcludeRetainedVariantProperties: opt(any),
  DeploymentConfig: opt(DEPLOYMENT_CONFIG),
  RetainDeploymentConfig: opt(bool),
});

const DESCRIBE_ENDPOINT = obj({ EndpointName: req(ENTITY_NAME) });

const LIST_MODEL_PACKAGES = obj({
  CreationTimeAfter: opt(any),
  CreationTimeBefore: opt(any),
  MaxResults: opt(int({ min: 1, max: 100 })),
  NameContains: opt(str({ max: 63 })),
  ModelApprovalStatus: opt(APPROVAL),
  ModelPackageGroupName: opt(GROUP_ARN_OR_NAME),
  ModelPackageType: opt(str({ oneOf: ['Versioned', 'Unversioned', 'Both'] })),
  NextToken: opt(str({ max: 8192 })),
  SortBy: opt(str({ oneOf: ['Name', 'CreationTime'] })),
  SortOrder: opt(str({ oneOf: ['Ascending', 'Descending'] })),
});

const DESCRIBE_MODEL_PACKAGE = obj({
  ModelPackageName: req(str({ min: 1, max: 2048 })),
  IncludedData: opt(any),
});

const METADATA_TEXT = /^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$/u;
const CUSTOMER_METADATA = map(
  str({ min: 1, max: 128, pattern: METADATA_TEXT, what: 'a valid metadata key' }),
  str({
    min: 1,
    max: 256,
    pattern: METADATA_TEXT,
    what: 'a valid metadata value (letters, digits, spaces, _.:/=+-@)',
  }),
  { min: 1, max: 50 },
);

const INFERENCE_SPECIFICATION = obj({
  Containers: req(
    arr(
      obj({
        ContainerHostname: opt(str({ max: 63 })),
        Image: req(IMAGE),
        ImageDigest: opt(str({ max: 72 })),
        ModelDataUrl: opt(S3_URI),
        ModelDataSource: opt(any),
        ProductId: opt(str({ max: 256 })),
        Environment: opt(ENV),
        ModelInput: opt(any),
        Framework: opt(str()),
        FrameworkVersion: opt(str({ min: 3, max: 10 })),
        NearestModelName: opt(str()),
        AdditionalModelDataSources: opt(any),
        AdditionalS3DataSource: opt(any),
        ModelDataETag: opt(str()),
        IsCheckpoint: opt(bool),
        BaseModel: opt(any),
      }),
      { min: 1, max: 15 },
    ),
  ),
  SupportedTransformInstanceTypes: opt(arr(str(), { min: 1 })),
  SupportedRealtimeInferenceInstanceTypes: opt(arr(str())),
  SupportedContentTypes: opt(arr(CONTENT_TYPE)),
  SupportedResponseMIMETypes: opt(arr(str({ max: 1024, pattern: /^[-\w]+\/.+$/, what: 'a MIME type' }))),
});

const CREATE_MODEL_PACKAGE = obj(
  {
    ModelPackageName: opt(ENTITY_NAME),
    ModelPackageGroupName: opt(GROUP_ARN_OR_NAME),
    ModelPackageDescription: opt(
      str({ max: 1024, pattern: /^[\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}]*$/u, what: 'a valid description' }),
    ),
    ModelPackageRegistrationType: opt(str({ oneOf: ['Logged', 'Registered'] })),
    InferenceSpecification: opt(INFERENCE_SPECIFICATION),
    ValidationSpecification: opt(any),
    SourceAlgorithmSpecification: opt(any),
    CertifyForMarketplace: opt(bool),
    Tags: opt(TAGS),
    ModelApprovalStatus: opt(APPROVAL),
    MetadataProperties: opt(any),
    ModelMetrics: opt(any),
    ClientToken: opt(str({ min: 1, max: 36 })),
    Domain: opt(str()),
    Task: opt(str()),
    SamplePayloadUrl: opt(S3_URI),
    CustomerMetadataProperties: opt(CUSTOMER_METADATA),
    DriftCheckBaselines: opt(any),
    AdditionalInferenceSpecifications: opt(any),
    SkipModelValidation: opt(str({ oneOf: ['All', 'None'] })),
    SourceUri: opt(str()),
    SecurityConfig: opt(any),
    ModelCard: opt(any),
    ModelLifeCycle: opt(any),
  },
  // A versioned package names its group; an unversioned one its name; never both.
  exactlyOne('ModelPackageName', 'ModelPackageGroupName'),
);

const UPDATE_MODEL_PACKAGE = obj({
  ModelPackageArn: req(MODEL_PACKAGE_ARN),
  ModelApprovalStatus: opt(APPROVAL),
  ModelPackageRegistrationType: opt(any),
  ApprovalDescription: opt(str({ max: 1024 })),
  CustomerMetadataProperties: opt(CUSTOMER_METADATA),
  CustomerMetadataPropertiesToRemove: opt(arr(str({ min: 1, max: 128 }))),
  AdditionalInferenceSpecificationsToAdd: opt(any),
  InferenceSpecification: opt(INFERENCE_SPECIFICATION),
  SourceUri: opt(str()),
  ModelCard: opt(any),
  ModelLifeCycle: opt(any),
  ClientToken: opt(str({ min: 1, max: 36 })),
});

const REQUESTS: Record<SageMakerApi, Check> = {
  CreateTrainingJob: CREATE_TRAINING_JOB,
  CreateModel: CREATE_MODEL,
  CreateEndpointConfig: CREATE_ENDPOINT_CONFIG,
  CreateEndpoint: CREATE_ENDPOINT,
  UpdateEndpoint: UPDATE_ENDPOINT,
  DescribeEndpoint: DESCRIBE_ENDPOINT,
  ListModelPackages: LIST_MODEL_PACKAGES,
  DescribeModelPackage: DESCRIBE_MODEL_PACKAGE,
  CreateModelPackage: CREATE_MODEL_PACKAGE,
  UpdateModelPackage: UPDATE_MODEL_PACKAGE,
};

/** The problems of a request (empty when SageMaker would accept its shape), each as "Path: what is wrong". */
export function checkRequest(api: SageMakerApi, params: unknown): string[] {
  const check = REQUESTS[api];
  if (!check) throw new Error(`no request checks for SageMaker ${String(api)}`);
  const problems: string[] = [];
  check(params, '', problems);
  return problems;
}

/**
 * The error name Step Functions reports for a SageMaker ValidationException: the AWS SDK integrations
 * (`aws-sdk:sagemaker:*`) name unmodeled service errors `SageMaker.SageMakerException`; the optimized
 * integrations (`sagemaker:createTrainingJob.sync`, ...) `SageMaker.AmazonSageMakerException`.
 */
export function validationErrorName(integration: 'aws-sdk' | 'optimized'): string {
  return integration === 'aws-sdk' ? 'SageMaker.SageMakerException' : 'SageMaker.AmazonSageMakerException';
}

/** Throws a ValidationException-like error, named as Step Functions names it, if the request has problems. */
export function assertValidRequest(
  api: SageMakerApi,
  params: unknown,
  integration: 'aws-sdk' | 'optimized' = 'aws-sdk',
): void {
  const problems = checkRequest(api, params);
  if (problems.length > 0) {
    const error = new Error(
      `${problems.length} validation error(s) detected: ${problems.join('; ')} (Service: SageMaker, Status Code: 400, Error Code: ValidationException)`,
    );
    error.name = validationErrorName(integration);
    throw error;
  }
}
