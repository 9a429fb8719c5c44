import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { hourPath } from '../../lambdas/handlers/drift-check';
import { readProjectConfig } from '../../lib/config';
import { DataLake } from '../../lib/constructs/data-lake';
import {
  ACCESS_LOG_FIELDS,
  accessLogFormat,
  InferenceApi,
  type InferenceApiProps,
} from '../../lib/constructs/inference-api';
import { PIPELINE_OUTPUTS } from '../../lib/stacks/outputs';
import {
  build,
  logicalId,
  permissions,
  projectContext,
  props,
  render,
  resourcesOf,
  type Built,
  type Json,
} from './helpers';
import { buildWith } from './training-helpers';

/** Logical IDs end in an 8-hex hash; tests compare names without it. */
const unhash = (s: string) => s.replace(/([A-Za-z])[0-9A-F]{8}(?=$|[.:/ "])/g, '$1');

function only(template: Template, type: string): [string, Json] {
  const all = Object.entries(resourcesOf(template, type));
  expect(all).toHaveLength(1);
  return all[0];
}

/** The one AWS::IAM::Policy attached to a role, as sorted `effect action resource [if condition]` lines. */
function rolePermissions(b: Built, role: IConstruct): string[] {
  const roleId = logicalId(role);
  const policies = Object.values(resourcesOf(b.pipelineTemplate, 'AWS::IAM::Policy'))
    .map(props)
    .filter((p) => (p.Roles as Json[]).some((r) => r.Ref === roleId));
  expect(policies).toHaveLength(1);
  return permissions(policies[0].PolicyDocument as Json, b.dataLakeTemplate)
    .map(unhash)
    .sort();
}

function violations(stack: Stack): string[] {
  return new AwsSolutionsChecks()
    .validateScope(stack)
    .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath ?? '?'}`));
}

/** Acknowledgements under `scope` as `path: id`, each with its reason. */
function acknowledgements(scope: IConstruct): { at: string; id: string; reason: string }[] {
  const out: { at: string; id: string; reason: string }[] = [];
  const visit = (c: IConstruct) => {
    for (const m of c.node.metadata)
      if (m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        for (const [id, reason] of Object.entries(m.data as Record<string, string>))
          out.push({ at: c.node.path.replace(/^devmlops-pipeline\/Inference\//, ''), id, reason });
    c.node.children.forEach(visit);
  };
  visit(scope);
  return out;
}

/** Firehose's `!{timestamp:...}` namespace with the patterns this project uses (Java DateTimeFormatter, UTC). */
function firehosePrefix(prefix: string, at: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return prefix.replace(/!\{timestamp:([^}]+)\}/g, (_, fmt: string) =>
    fmt
      .replace('yyyy', String(at.getUTCFullYear()))
      .replace('MM', p(at.getUTCMonth() + 1))
      .replace('dd', p(at.getUTCDate()))
      .replace('HH', p(at.getUTCHours())),
  );
}

const defaultDataset = readProjectConfig().dataset;
const artifacts = 'ArtifactsBucket.Arn';
const endpointArn = 'arn:AWS::Partition:sagemaker:AWS::Region:AWS::AccountId:endpoint/devmlops-endpoint';

describe('InferenceApi in the pipeline stack (default config: realtime endpoint)', () => {
  const b = build();
  const t = b.pipelineTemplate;
  const inf = b.pipeline.inference;
  const apiId = logicalId(inf.api);

  it('serves POST /v1/predict only, with IAM authorization, a request model and a Lambda proxy', () => {
    const methods = Object.values(resourcesOf(t, 'AWS::ApiGateway::Method')).map(props);
    expect(methods).toHaveLength(1);
    const m = methods[0];
    expect(m.HttpMethod).toBe('POST');
    expect(m.AuthorizationType).toBe('AWS_IAM');
    expect(m.RestApiId).toEqual({ Ref: apiId });
    expect(m.RequestValidatorId).toEqual({ Ref: logicalId(inf.api.node.findChild('RequestValidator')) });
    expect(m.RequestModels).toEqual({ 'application/json': { Ref: logicalId(inf.requestModel) } });
    const integration = m.Integration as Json;
    expect(integration.Type).toBe('AWS_PROXY');
    expect(integration.IntegrationHttpMethod).toBe('POST');
    expect(render(integration.Uri)).toBe(
      `arn:AWS::Partition:apigateway:AWS::Region:lambda:path/2015-03-31/functions/${logicalId(inf.handler)}.Arn/invocations`,
    );
    // The path: root -> v1 -> predict.
    const resources = resourcesOf(t, 'AWS::ApiGateway::Resource');
    const predict = props(resources[(m.ResourceId as Json).Ref as string]);
    expect(predict.PathPart).toBe('predict');
    const v1 = props(resources[(predict.ParentId as Json).Ref as string]);
    expect(v1.PathPart).toBe('v1');
    expect(v1.ParentId).toEqual({ 'Fn::GetAtt': [apiId, 'RootResourceId'] });
    expect(Object.keys(resources)).toHaveLength(2);
    t.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      RestApiId: { Ref: apiId },
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
  });

  it('is a regional API whose execute-api endpoint stays on', () => {
    const [, api] = only(t, 'AWS::ApiGateway::RestApi');
    expect(props(api)).toEqual({
      Name: 'devmlops-inference',
      Description: 'devmlops inference API: POST /v1/predict (IAM authorization)',
      EndpointConfiguration: { Types: ['REGIONAL'] },
      DisableExecuteApiEndpoint: false,
      Tags: [{ Key: 'Project', Value: 'devmlops' }],
    });
  });

  it('validates the body against the schema: 1..maxBatchSize records of known fields with scalar values', () => {
    const [, model] = only(t, 'AWS::ApiGateway::Model');
    const scalar = { type: ['string', 'number', 'boolean', 'null'] };
    expect(props(model).ContentType).toBe('application/json');
    expect(props(model).Schema).toEqual({
      $schema: 'http://json-schema.org/draft-04/schema#',
      title: 'PredictRequest',
      type: 'object',
      required: ['records'],
      additionalProperties: false,
      properties: {
        records: {
          type: 'array',
          minItems: 1,
          maxItems: 100,
          items: {
            type: 'object',
            additionalProperties: false,
            properties: Object.fromEntries(b.config.dataset.fields.map((f) => [f.name, scalar])),
          },
        },
      },
    });
  });

  it('stage prod: throttling, execution logging without bodies, metrics and tracing on every method', () => {
    const [stageId, stage] = only(t, 'AWS::ApiGateway::Stage');
    expect(stageId).toBe(logicalId(inf.stage));
    const p = props(stage);
    expect(p.StageName).toBe('prod');
    expect(p.TracingEnabled).toBe(true);
    expect(p.MethodSettings).toEqual([
      {
        HttpMethod: '*',
        ResourcePath: '/*',
        ThrottlingRateLimit: 100,
        ThrottlingBurstLimit: 200,
        LoggingLevel: 'ERROR',
        MetricsEnabled: true,
        DataTraceEnabled: false,
      },
    ]);
  });

  it('writes JSON access logs to its own log group, deleted with the stack', () => {
    const [, stage] = only(t, 'AWS::ApiGateway::Stage');
    const setting = props(stage).AccessLogSetting as Json;
    const groupId = logicalId(inf.accessLogGroup);
    expect(setting.DestinationArn).toEqual({ 'Fn::GetAtt': [groupId, 'Arn'] });
    const format = setting.Format as string;
    expect(format).toBe(accessLogFormat());
    expect(ACCESS_LOG_FIELDS).toMatchObject({
      requestId: '$context.requestId',
      status: '$context.status',
      userArn: '$context.identity.userArn',
      integrationLatency: '$context.integration.latency',
      errorMessage: '$context.error.messageString',
    });
    // Every value quoted but the error message, which API Gateway substitutes as a quoted JSON string: a line
    // stays valid JSON whatever is substituted (`-` when unavailable; a validator message full of quotes).
    expect(format).toContain('"errorMessage":$context.error.messageString,');
    const message = '[object has missing required properties (["records"])]';
    const line = format
      .replace('$context.error.messageString', JSON.stringify(message))
      .replace(/\$context\.[A-Za-z.]+/g, '-');
    const parsed = JSON.parse(line) as Json;
    expect(Object.keys(parsed)).toEqual(Object.keys(ACCESS_LOG_FIELDS));
    expect(parsed.errorMessage).toBe(message);
    expect(parsed.status).toBe('-');
    const group = resourcesOf(t, 'AWS::Logs::LogGroup')[groupId];
    expect(props(group).RetentionInDays).toBe(30);
    expect(group.DeletionPolicy).toBe('Delete');
  });

  it("answers API Gateway's own errors in the API's error shape", () => {
    const responses = Object.values(resourcesOf(t, 'AWS::ApiGateway::GatewayResponse')).map(props);
    const byType = Object.fromEntries(responses.map((r) => [r.ResponseType as string, r]));
    expect(Object.keys(byType).sort()).toEqual([
      'BAD_REQUEST_BODY',
      'DEFAULT_4XX',
      'DEFAULT_5XX',
      'THROTTLED',
    ]);
    for (const r of responses) expect(r.RestApiId).toEqual({ Ref: apiId });
    // Templates are plain substitution: messageString arrives as a quoted JSON string.
    const body = (type: string) =>
      JSON.parse(
        ((byType[type].ResponseTemplates as Json)['application/json'] as string)
          .replace('$context.error.messageString', '"Too Many Requests"')
          .replace('$context.error.responseType', 'THROTTLED'),
      ) as Json;
    expect(byType.BAD_REQUEST_BODY.StatusCode).toBe('400');
    expect(body('BAD_REQUEST_BODY')).toEqual({
      code: 'invalid-request',
      message:
        'The body must be {"records": [...]} with 1 to 100 records, each an object of churn fields with string, number, boolean or null values',
    });
    expect(byType.THROTTLED.StatusCode).toBe('429');
    expect(body('THROTTLED')).toEqual({ code: 'throttled', message: 'Too Many Requests' });
    expect(byType.DEFAULT_4XX.StatusCode).toBeUndefined();
    expect(body('DEFAULT_4XX')).toEqual({
      code: 'request-rejected',
      type: 'THROTTLED',
      message: 'Too Many Requests',
    });
    expect(body('DEFAULT_5XX').code).toBe('gateway-error');
  });

  it("sets the account's CloudWatch Logs role for API Gateway, retained, before the stage", () => {
    const [accountId, account] = only(t, 'AWS::ApiGateway::Account');
    const roleId = logicalId(inf.cloudWatchRole!);
    expect(props(account)).toEqual({ CloudWatchRoleArn: { 'Fn::GetAtt': [roleId, 'Arn'] } });
    expect(account.DeletionPolicy).toBe('Retain');
    expect(account.DependsOn).toEqual(expect.arrayContaining([roleId]));
    const [, stage] = only(t, 'AWS::ApiGateway::Stage');
    expect(stage.DependsOn).toEqual([accountId]);
    const role = resourcesOf(t, 'AWS::IAM::Role')[roleId];
    expect(role.DeletionPolicy).toBe('Retain');
    expect(props(role).ManagedPolicyArns).toBeUndefined();
    expect((props(role).AssumeRolePolicyDocument as Json).Statement).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'apigateway.amazonaws.com' } },
    ]);
    const logGroups = 'arn:AWS::Partition:logs:AWS::Region:AWS::AccountId:log-group:*';
    expect(rolePermissions(b, inf.cloudWatchRole!)).toEqual(
      [
        'logs:CreateLogGroup',
        'logs:CreateLogStream',
        'logs:DescribeLogGroups',
        'logs:DescribeLogStreams',
        'logs:FilterLogEvents',
        'logs:GetLogEvents',
        'logs:PutLogEvents',
      ].map((a) => `Allow ${a} ${logGroups}`),
    );
    const policyId = logicalId(inf.cloudWatchRole!.node.findChild('DefaultPolicy') as IConstruct);
    expect(resourcesOf(t, 'AWS::IAM::Policy')[policyId].DeletionPolicy).toBe('Retain');
  });

  it('runs the handler synchronously only, with the contract environment (no capture stream for realtime)', () => {
    const fn = props(resourcesOf(t, 'AWS::Lambda::Function')[logicalId(inf.handler)]);
    expect(fn.MemorySize).toBe(512);
    expect(fn.Timeout).toBe(10);
    expect(fn.Runtime).toBe('nodejs22.x');
    expect(fn.Architectures).toEqual(['arm64']);
    expect(fn.TracingConfig).toEqual({ Mode: 'Active' });
    expect(fn.DeadLetterConfig).toBeUndefined();
    expect(inf.function.deadLetterQueue).toBeUndefined();
    expect(inf.function.entry).toMatch(/lambdas\/handlers\/predict\.ts$/);
    const env = (fn.Environment as Json).Variables as Json;
    expect(env).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      PROJECT: 'devmlops',
      ARTIFACTS_BUCKET: { 'Fn::ImportValue': expect.stringMatching(/ArtifactsBucket/) },
      ENDPOINT_NAME: 'devmlops-endpoint',
      DATASET_SCHEMAS: JSON.stringify([b.config.dataset]),
      MAX_BATCH_SIZE: '100',
      THRESHOLD: '0.5',
      SPEC_REFRESH_SECONDS: '10',
      POWERTOOLS_SERVICE_NAME: 'inference',
      POWERTOOLS_METRICS_NAMESPACE: 'DevMLOps',
    });
  });

  it('lets only this stage and method invoke the handler (no console test invoke)', () => {
    const perms = Object.values(resourcesOf(t, 'AWS::Lambda::Permission'))
      .map(props)
      .filter((p) => JSON.stringify(p.FunctionName).includes(logicalId(inf.handler)));
    expect(perms).toHaveLength(1);
    expect(perms[0].Principal).toBe('apigateway.amazonaws.com');
    expect(perms[0].Action).toBe('lambda:InvokeFunction');
    expect(render(perms[0].SourceArn)).toBe(
      `arn:AWS::Partition:execute-api:AWS::Region:AWS::AccountId:${apiId}/${logicalId(inf.stage)}/POST/v1/predict`,
    );
  });

  it('grants the handler exactly the pointer, feature specs, key and endpoint', () => {
    const log = unhash(logicalId(inf.function.logGroup));
    expect(rolePermissions(b, inf.function.role)).toEqual(
      [
        `Allow logs:CreateLogStream ${log}.Arn`,
        `Allow logs:PutLogEvents ${log}.Arn`,
        'Allow xray:PutTelemetryRecords *',
        'Allow xray:PutTraceSegments *',
        `Allow s3:GetObject ${artifacts}/baselines/current.json`,
        `Allow s3:GetObject ${artifacts}/training/*/feature-spec.json`,
        `Allow s3:ListBucket ${artifacts} if ${JSON.stringify({ StringEquals: { 's3:prefix': 'baselines/current.json' } })}`,
        'Allow kms:Decrypt DataKey.Arn',
        `Allow sagemaker:InvokeEndpoint ${endpointArn}`,
      ].sort(),
    );
    expect(
      props(resourcesOf(t, 'AWS::IAM::Role')[logicalId(inf.function.role)]).ManagedPolicyArns,
    ).toBeUndefined();
  });

  it('has no capture stream: SageMaker captures realtime endpoints itself', () => {
    t.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 0);
    expect(inf.deliveryStream).toBeUndefined();
    expect(inf.deliveryRole).toBeUndefined();
    const roles = Object.values(resourcesOf(t, 'AWS::IAM::Role')).map((r) => JSON.stringify(props(r)));
    expect(roles.filter((r) => r.includes('firehose.amazonaws.com'))).toEqual([]);
  });

  it('gives callers a managed policy for exactly POST /v1/predict on prod', () => {
    const policy = props(resourcesOf(t, 'AWS::IAM::ManagedPolicy')[logicalId(inf.invokePolicy)]);
    expect((policy.PolicyDocument as Json).Statement).toEqual([
      expect.objectContaining({ Sid: 'InvokePredict', Effect: 'Allow', Action: 'execute-api:Invoke' }),
    ]);
    expect(permissions(policy.PolicyDocument as Json)).toEqual([
      `Allow execute-api:Invoke arn:AWS::Partition:execute-api:AWS::Region:AWS::AccountId:${apiId}/prod/POST/v1/predict`,
    ]);
    expect(policy.Roles).toBeUndefined();
    expect(policy.Users).toBeUndefined();
  });

  it('outputs the stage URL and the invoke policy ARN under the documented keys', () => {
    const outputs = t.toJSON().Outputs as Record<string, Json>;
    expect(PIPELINE_OUTPUTS.inferenceApiUrl).toBe('InferenceApiUrl');
    expect(PIPELINE_OUTPUTS.inferenceInvokePolicyArn).toBe('InferenceInvokePolicyArn');
    expect(render(outputs.InferenceApiUrl.Value)).toBe(
      `https://${apiId}.execute-api.AWS::Region.AWS::URLSuffix/${logicalId(inf.stage)}/`,
    );
    expect(outputs.InferenceInvokePolicyArn.Value).toEqual({ Ref: logicalId(inf.invokePolicy) });
    // RestApi's own `Endpoint` output is removed: one URL output, under the documented key.
    expect(Object.keys(outputs).filter((k) => k.startsWith('InferenceApi'))).toEqual(['InferenceApiUrl']);
  });

  it('alarms when more than 5% of the requests answer 5XX for 10 minutes, notifying the pipeline topic', () => {
    const alarms = Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm'))
      .map(props)
      .filter(
        (a) =>
          String(a.AlarmName).startsWith('devmlops-api') ||
          String(a.AlarmName).startsWith('devmlops-capture'),
      );
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({
      AlarmName: 'devmlops-api-5xx',
      Namespace: 'AWS/ApiGateway',
      MetricName: '5XXError',
      Dimensions: [
        { Name: 'ApiName', Value: 'devmlops-inference' },
        { Name: 'Stage', Value: 'prod' },
      ],
      Statistic: 'Average',
      Period: 300,
      Threshold: 0.05,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: logicalId(b.pipeline.training.topic) }],
    });
    expect(inf.alarms).toEqual([inf.api5xxAlarm]);
    expect(() => inf.metricCapture('IncomingRecords')).toThrow('a realtime endpoint has no capture stream');
  });

  it('has no unacknowledged cdk-nag finding; each acknowledgement sits on the construct it is about', () => {
    expect(violations(b.pipeline)).toEqual([]);
    const acks = acknowledgements(inf);
    for (const a of acks) expect(a.reason.length).toBeGreaterThan(40);
    expect(acks.map((a) => `${a.at}: ${unhash(a.id.replace(/^annotation::/i, ''))}`).sort()).toEqual(
      [
        'Api/DeploymentStage.prod: AwsSolutions-APIG3',
        'Api/Default/v1/predict/POST: AwsSolutions-COG4',
        'Handler/Function: AwsSolutions-L1',
        'Handler/Role/DefaultPolicy: AwsSolutions-IAM5[Resource::*]',
        'Handler/Role/DefaultPolicy: AwsSolutions-IAM5[Resource::devmlops-data-lake:ExportsOutputFnGetAttArtifactsBucketArn/training/*/feature-spec.json]',
        'CloudWatchRole/DefaultPolicy: AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:*]',
      ].sort(),
    );
  });
});

describe('InferenceApi for a serverless endpoint, with inference settings from config', () => {
  const b = buildWith((c) => {
    c.endpoint = { type: 'serverless' };
    c.inference = {
      maxBatchSize: 250,
      threshold: 0.35,
      throttlingRateLimit: 25,
      throttlingBurstLimit: 50,
      memorySize: 1024,
      timeoutSeconds: 20,
      specRefreshSeconds: 60,
      captureBufferSeconds: 60,
      captureBufferMb: 16,
    };
    c.logRetentionDays = 90;
  });
  const t = b.pipelineTemplate;
  const inf = b.pipeline.inference;
  const streamId = logicalId(inf.deliveryStream!);

  it('applies the config: batch size in the model and the environment, throttling, memory, timeout', () => {
    const [, model] = only(t, 'AWS::ApiGateway::Model');
    expect(((props(model).Schema as Json).properties as Json).records).toMatchObject({
      minItems: 1,
      maxItems: 250,
    });
    const [, stage] = only(t, 'AWS::ApiGateway::Stage');
    expect(props(stage).MethodSettings).toEqual([
      expect.objectContaining({ ThrottlingRateLimit: 25, ThrottlingBurstLimit: 50 }),
    ]);
    const fn = props(resourcesOf(t, 'AWS::Lambda::Function')[logicalId(inf.handler)]);
    expect(fn).toMatchObject({ MemorySize: 1024, Timeout: 20 });
    expect((fn.Environment as Json).Variables).toMatchObject({
      MAX_BATCH_SIZE: '250',
      THRESHOLD: '0.35',
      SPEC_REFRESH_SECONDS: '60',
      CAPTURE_STREAM_NAME: { Ref: streamId },
    });
    // The variant is in the stream's S3 prefix; the Lambda does not need it.
    expect((fn.Environment as Json).Variables).not.toHaveProperty('CAPTURE_VARIANT');
    expect(props(resourcesOf(t, 'AWS::Logs::LogGroup')[logicalId(inf.accessLogGroup)]).RetentionInDays).toBe(
      90,
    );
  });

  it('delivers capture with Firehose exactly where and how the drift check reads it', () => {
    const stream = resourcesOf(t, 'AWS::KinesisFirehose::DeliveryStream')[streamId];
    const logGroupId = logicalId(inf.deliveryLogGroup!);
    const logStreamId = Object.keys(resourcesOf(t, 'AWS::Logs::LogStream'))[0];
    expect(props(stream)).toEqual({
      DeliveryStreamType: 'DirectPut',
      DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' },
      ExtendedS3DestinationConfiguration: {
        BucketARN: { 'Fn::ImportValue': expect.stringMatching(/ArtifactsBucketArn/) },
        RoleARN: { 'Fn::GetAtt': [logicalId(inf.deliveryRole!), 'Arn'] },
        Prefix: 'capture/devmlops-endpoint/AllTraffic/!{timestamp:yyyy/MM/dd/HH}/',
        ErrorOutputPrefix:
          'capture-errors/devmlops-endpoint/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/',
        CustomTimeZone: 'UTC',
        FileExtension: '.jsonl',
        CompressionFormat: 'UNCOMPRESSED',
        BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 16 },
        EncryptionConfiguration: {
          KMSEncryptionConfig: { AWSKMSKeyARN: { 'Fn::ImportValue': expect.stringMatching(/DataKeyArn/) } },
        },
        CloudWatchLoggingOptions: {
          Enabled: true,
          LogGroupName: { Ref: logGroupId },
          LogStreamName: { Ref: logStreamId },
        },
      },
      Tags: [{ Key: 'Project', Value: 'devmlops' }],
    });
    const cfg = props(stream).ExtendedS3DestinationConfiguration as Json;
    expect(render(cfg.BucketARN, b.dataLakeTemplate)).toBe('ArtifactsBucket.Arn');
    expect(
      render(
        ((cfg.EncryptionConfiguration as Json).KMSEncryptionConfig as Json).AWSKMSKeyARN,
        b.dataLakeTemplate,
      ),
    ).toBe('DataKey.Arn');
    // The object key prefix of any hour is the partition the drift check lists (lambdas/handlers/drift-check.ts).
    for (const at of [new Date('2026-01-02T03:59:59Z'), new Date('2026-12-31T23:00:00Z')])
      expect(firehosePrefix(cfg.Prefix as string, at)).toBe(
        `capture/devmlops-endpoint/AllTraffic/${hourPath(at)}/`,
      );
    // Failed records stay out of capture/<endpoint>/, where the drift check would take them for a variant.
    expect((cfg.ErrorOutputPrefix as string).startsWith('capture/')).toBe(false);
    // The role's policy exists before Firehose checks its access to the bucket.
    expect(stream.DependsOn).toEqual(
      expect.arrayContaining([logicalId(inf.deliveryRole!.node.findChild('DefaultPolicy') as IConstruct)]),
    );
    const group = resourcesOf(t, 'AWS::Logs::LogGroup')[logGroupId];
    expect(props(group).RetentionInDays).toBe(90);
    expect(group.DeletionPolicy).toBe('Delete');
    expect(props(resourcesOf(t, 'AWS::Logs::LogStream')[logStreamId])).toEqual({
      LogGroupName: { Ref: logGroupId },
      LogStreamName: 'S3Delivery',
    });
  });

  it('lets the Firehose role write only its capture prefixes, with the key only through S3 for this bucket', () => {
    const roleId = logicalId(inf.deliveryRole!);
    const role = props(resourcesOf(t, 'AWS::IAM::Role')[roleId]);
    expect(role.ManagedPolicyArns).toBeUndefined();
    expect((role.AssumeRolePolicyDocument as Json).Statement).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'firehose.amazonaws.com' },
        Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'AWS::AccountId' } } },
      },
    ]);
    const granted = rolePermissions(b, inf.deliveryRole!);
    const kms = granted.filter((g) => g.includes(' kms:'));
    expect(granted.filter((g) => !g.includes(' kms:'))).toEqual(
      [
        `Allow s3:PutObject ${artifacts}/capture/devmlops-endpoint/AllTraffic/*`,
        `Allow s3:AbortMultipartUpload ${artifacts}/capture/devmlops-endpoint/AllTraffic/*`,
        `Allow s3:PutObject ${artifacts}/capture-errors/devmlops-endpoint/*`,
        `Allow s3:AbortMultipartUpload ${artifacts}/capture-errors/devmlops-endpoint/*`,
        `Allow s3:GetBucketLocation ${artifacts}`,
        `Allow s3:ListBucket ${artifacts}`,
        `Allow s3:ListBucketMultipartUploads ${artifacts}`,
        `Allow logs:PutLogEvents arn:AWS::Partition:logs:AWS::Region:AWS::AccountId:log-group:${unhash(logicalId(inf.deliveryLogGroup!))}:log-stream:${unhash(Object.keys(resourcesOf(t, 'AWS::Logs::LogStream'))[0])}`,
      ].sort(),
    );
    expect(kms.map((g) => g.split(' if ')[0])).toEqual([
      'Allow kms:Decrypt DataKey.Arn',
      'Allow kms:GenerateDataKey DataKey.Arn',
    ]);
    const policy = Object.values(resourcesOf(t, 'AWS::IAM::Policy'))
      .map(props)
      .find((p) => (p.Roles as Json[]).some((r) => r.Ref === roleId))!;
    const kmsStatement = ((policy.PolicyDocument as Json).Statement as Json[]).find((s) =>
      JSON.stringify(s.Action).includes('kms:'),
    )!;
    const cond = kmsStatement.Condition as { StringEquals: Json; StringLike: Json };
    expect(render(cond.StringEquals['kms:ViaService'])).toBe('s3.AWS::Region.AWS::URLSuffix');
    expect(
      (cond.StringLike['kms:EncryptionContext:aws:s3:arn'] as unknown[]).map((v) =>
        unhash(render(v, b.dataLakeTemplate)),
      ),
    ).toEqual([
      artifacts,
      `${artifacts}/capture/devmlops-endpoint/AllTraffic/*`,
      `${artifacts}/capture-errors/devmlops-endpoint/*`,
    ]);
  });

  it('lets the handler put records into its stream only', () => {
    const granted = rolePermissions(b, inf.function.role);
    const stream = `${unhash(streamId)}.Arn`;
    expect(granted.filter((g) => g.includes('firehose:'))).toEqual([
      `Allow firehose:PutRecord ${stream}`,
      `Allow firehose:PutRecordBatch ${stream}`,
    ]);
    expect(granted.filter((g) => !/ (logs|xray|firehose):/.test(g))).toEqual(
      [
        `Allow s3:GetObject ${artifacts}/baselines/current.json`,
        `Allow s3:GetObject ${artifacts}/training/*/feature-spec.json`,
        `Allow s3:ListBucket ${artifacts} if ${JSON.stringify({ StringEquals: { 's3:prefix': 'baselines/current.json' } })}`,
        'Allow kms:Decrypt DataKey.Arn',
        `Allow sagemaker:InvokeEndpoint ${endpointArn}`,
      ].sort(),
    );
  });

  it('alarms on capture records the Lambda could not put and on failed Firehose deliveries', () => {
    const alarm = (name: string) =>
      Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm'))
        .map(props)
        .find((a) => a.AlarmName === name);
    const topic = [{ Ref: logicalId(b.pipeline.training.topic) }];
    expect(alarm('devmlops-capture-failures')).toMatchObject({
      Namespace: 'DevMLOps',
      MetricName: 'CaptureFailures',
      Dimensions: [{ Name: 'Project', Value: 'devmlops' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: topic,
    });
    expect(alarm('devmlops-capture-delivery')).toMatchObject({
      Namespace: 'AWS/Firehose',
      MetricName: 'DeliveryToS3.Success',
      Dimensions: [{ Name: 'DeliveryStreamName', Value: { Ref: streamId } }],
      Statistic: 'Average',
      Period: 900,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: topic,
    });
    expect(alarm('devmlops-api-5xx')).toBeDefined();
    expect(inf.alarms).toHaveLength(3);
  });

  it('has no unacknowledged cdk-nag finding, the Firehose wildcards acknowledged on its role policy', () => {
    expect(violations(b.pipeline)).toEqual([]);
    expect(violations(b.dataLake)).toEqual([]);
    const acks = acknowledgements(inf)
      .filter((a) => a.at === 'CaptureDeliveryRole/DefaultPolicy')
      .map((a) => unhash(a.id.replace(/^annotation::/i, '')));
    expect(acks.sort()).toEqual([
      'AwsSolutions-IAM5[Resource::devmlops-data-lake:ExportsOutputFnGetAttArtifactsBucketArn/capture-errors/devmlops-endpoint/*]',
      'AwsSolutions-IAM5[Resource::devmlops-data-lake:ExportsOutputFnGetAttArtifactsBucketArn/capture/devmlops-endpoint/AllTraffic/*]',
    ]);
  });
});

describe('InferenceApi when the account already has an API Gateway logging role', () => {
  it('sets no account role, and the stage depends on nothing extra', () => {
    const b = buildWith((c) => {
      c.inference = { apiGatewayCloudWatchRole: false };
    });
    const t = b.pipelineTemplate;
    t.resourceCountIs('AWS::ApiGateway::Account', 0);
    expect(b.pipeline.inference.cloudWatchRole).toBeUndefined();
    const roles = Object.values(resourcesOf(t, 'AWS::IAM::Role')).map((r) => JSON.stringify(props(r)));
    expect(roles.filter((r) => r.includes('apigateway.amazonaws.com'))).toEqual([]);
    const [, stage] = only(t, 'AWS::ApiGateway::Stage');
    expect(stage.DependsOn).toBeUndefined();
    t.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [Match.objectLike({ LoggingLevel: 'ERROR' })],
    });
    expect(violations(b.pipeline)).toEqual([]);
  });
});

describe('InferenceApi props validation', () => {
  // One small stack per case: the data lake and the API only, bundling skipped.
  const make = (override: Partial<InferenceApiProps>) => {
    const app = new App({ context: { ...projectContext(), 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'S');
    const lake = new DataLake(stack, 'Lake');
    return new InferenceApi(stack, 'Inference', {
      dataLake: lake,
      dataset: defaultDataset,
      project: 'demo',
      endpointName: 'demo-endpoint',
      ...override,
    });
  };

  it('builds with only the required props, using the documented defaults', () => {
    const api = make({});
    const t = Template.fromStack(Stack.of(api));
    t.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      MethodSettings: [
        Match.objectLike({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200, LoggingLevel: 'ERROR' }),
      ],
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 512,
      Timeout: 10,
      Environment: {
        Variables: Match.objectLike({ MAX_BATCH_SIZE: '100', THRESHOLD: '0.5', SPEC_REFRESH_SECONDS: '10' }),
      },
    });
    t.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 0);
    t.resourceCountIs('AWS::ApiGateway::Account', 1);
    // Without a topic the alarm changes state with no action.
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'demo-api-5xx',
      Threshold: 0.05,
      AlarmActions: Match.absent(),
    });
    expect(api.url).toBeDefined();
  });

  it('names the endpoint in lower case in the InvokeEndpoint ARN, as SageMaker ARNs are', () => {
    const api = make({ endpointName: 'Demo-Endpoint' });
    const t = Template.fromStack(Stack.of(api));
    const policy = Object.values(resourcesOf(t, 'AWS::IAM::Policy'))
      .map(props)
      .find((p) => JSON.stringify(p).includes('sagemaker:InvokeEndpoint'))!;
    expect(permissions(policy.PolicyDocument as Json).filter((g) => g.includes('sagemaker'))).toEqual([
      'Allow sagemaker:InvokeEndpoint arn:AWS::Partition:sagemaker:AWS::Region:AWS::AccountId:endpoint/demo-endpoint',
    ]);
  });

  it.each<[string, Partial<InferenceApiProps>, string]>([
    ['project', { project: '' }, 'InferenceApi: project is required'],
    [
      'endpointName',
      { endpointName: 'bad_name' },
      'InferenceApi: endpointName must be a SageMaker endpoint name',
    ],
    [
      'endpointType',
      { endpointType: 'batch' as never },
      'InferenceApi: endpointType must be "realtime" or "serverless", got "batch"',
    ],
    [
      'maxBatchSize',
      { maxBatchSize: 0 },
      'InferenceApi: maxBatchSize must be an integer in [1, 1000], got 0',
    ],
    ['maxBatchSize', { maxBatchSize: 1.5 }, 'maxBatchSize must be an integer in [1, 1000], got 1.5'],
    ['threshold', { threshold: 1.2 }, 'InferenceApi: threshold must be in [0, 1], got 1.2'],
    ['throttlingRateLimit', { throttlingRateLimit: 0 }, 'throttlingRateLimit must be > 0, got 0'],
    [
      'throttlingBurstLimit',
      { throttlingBurstLimit: 0 },
      'throttlingBurstLimit must be an integer >= 1, got 0',
    ],
    [
      'timeout',
      { timeout: Duration.seconds(30) },
      "timeout must be between 1 and 29 seconds (API Gateway's integration limit), got 30",
    ],
    [
      'specRefresh',
      { specRefresh: Duration.hours(2) },
      'specRefresh must be a whole number of seconds in [0, 3600], got 7200',
    ],
    ['stageName', { stageName: 'pro d' }, 'stageName must be letters, digits or _, got "pro d"'],
    ['max5xxRate', { max5xxRate: 1 }, 'max5xxRate must be in (0, 1), got 1'],
    ['captureVariant', { captureVariant: 'a/b' }, 'captureVariant must be a SageMaker variant name'],
    [
      'captureBufferInterval',
      { captureBufferInterval: Duration.minutes(20) },
      'captureBufferInterval must be a whole number of seconds in [0, 900]',
    ],
    [
      'captureBufferSizeMb',
      { captureBufferSizeMb: 129 },
      'captureBufferSizeMb must be an integer in [1, 128]',
    ],
    [
      'memorySize',
      { memorySize: 64 },
      'DevFunction: memorySize must be an integer in [128, 10240] MB, got 64',
    ],
  ])('rejects a bad %s with a clear error', (_name, override, message) => {
    expect(() => make(override)).toThrow(message);
  });

  it('rejects a dataset schema too large for the Lambda environment', () => {
    const big = {
      ...defaultDataset,
      fields: [
        ...defaultDataset.fields,
        ...Array.from({ length: 120 }, (_, i) => ({
          name: `extra_feature_number_${i}`,
          type: 'number' as const,
        })),
      ],
    };
    expect(() => make({ dataset: big as typeof defaultDataset })).toThrow(
      /InferenceApi: the inference Lambda's environment would be \d+ bytes, over Lambda's 4096-byte limit/,
    );
  });
});
