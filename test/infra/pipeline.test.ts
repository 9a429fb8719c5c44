import { App, Duration, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { RAW_READ_ONLY_TAG, type DataLakeResources } from '../../lib/constructs/data-lake';
import { DataValidation, lambdaEnvironmentBytes } from '../../lib/constructs/data-validation';
import {
  build,
  defaultConfigInput,
  logicalId,
  permissions,
  props,
  render,
  resourcesOf,
  type Json,
} from './helpers';

describe('PipelineStack: validation trigger and function', () => {
  const built = build();
  const t = built.pipelineTemplate;
  const lake = built.dataLakeTemplate;
  const v = built.pipeline.validation;
  const ids = {
    rule: logicalId(v.rule),
    queue: logicalId(v.queue),
    dlq: logicalId(v.deadLetterQueue),
    fn: logicalId(v.handler),
    role: logicalId(v.function.role),
    logGroup: logicalId(v.function.logGroup),
  };
  const resource = (id: string) => (t.toJSON().Resources as Record<string, Json>)[id];
  const fnProps = props(resource(ids.fn));

  it('routes Object Created events of the raw bucket, and only those, to the queue', () => {
    const rule = props(resource(ids.rule));
    expect(rule.State).toBe('ENABLED');
    const pattern = rule.EventPattern as Json;
    expect(Object.keys(pattern).sort()).toEqual(['detail', 'detail-type', 'source']);
    expect(pattern.source).toEqual(['aws.s3']);
    expect(pattern['detail-type']).toEqual(['Object Created']);
    const names = ((pattern.detail as Json).bucket as Json).name as unknown[];
    expect(names.map((n) => render(n, lake))).toEqual(['RawBucket']);
    expect(rule.Targets).toEqual([
      {
        Id: 'Target0',
        Arn: { 'Fn::GetAtt': [ids.queue, 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [ids.dlq, 'Arn'] } },
        RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
      },
    ]);
  });

  it('buffers in an encrypted queue that redrives to the DLQ', () => {
    const queue = props(resource(ids.queue));
    expect(queue.SqsManagedSseEnabled).toBe(true);
    // 6x the function timeout (900 s by default).
    expect(queue.VisibilityTimeout).toBe(5400);
    expect(queue.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [ids.dlq, 'Arn'] },
      maxReceiveCount: 3,
    });
    const dlq = props(resource(ids.dlq));
    expect(dlq.SqsManagedSseEnabled).toBe(true);
    expect(dlq.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    expect(dlq.RedrivePolicy).toBeUndefined();
    t.resourceCountIs('AWS::SQS::Queue', 2);
  });

  it('lets only this rule send to the queues, over TLS only', () => {
    const policies = Object.values(resourcesOf(t, 'AWS::SQS::QueuePolicy')).map(props);
    for (const [q, actions] of [
      [ids.queue, ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage']],
      [ids.dlq, 'sqs:SendMessage'],
    ] as const) {
      const mine = policies.filter((p) => JSON.stringify(p.Queues) === JSON.stringify([{ Ref: q }]));
      expect(mine).toHaveLength(1);
      const statements = (mine[0].PolicyDocument as Json).Statement as Json[];
      expect(statements).toContainEqual({
        Action: 'sqs:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Resource: { 'Fn::GetAtt': [q, 'Arn'] },
      });
      const allows = statements.filter((s) => s.Effect === 'Allow');
      expect(allows).toEqual([
        expect.objectContaining({
          Action: actions,
          Principal: { Service: 'events.amazonaws.com' },
          Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ids.rule, 'Arn'] } } },
          Resource: { 'Fn::GetAtt': [q, 'Arn'] },
        }),
      ]);
    }
  });

  it('feeds the function one message at a time with partial batch failures', () => {
    t.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    const esm = Object.values(resourcesOf(t, 'AWS::Lambda::EventSourceMapping')).map(props)[0];
    expect(esm.EventSourceArn).toEqual({ 'Fn::GetAtt': [ids.queue, 'Arn'] });
    expect(esm.FunctionName).toEqual({ Ref: ids.fn });
    expect(esm.BatchSize).toBe(1);
    expect(esm.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
  });

  it('runs the validation handler on Node.js 22, ARM64, with X-Ray and its own log group', () => {
    expect(fnProps.Runtime).toBe('nodejs22.x');
    expect(fnProps.Architectures).toEqual(['arm64']);
    expect(fnProps.TracingConfig).toEqual({ Mode: 'Active' });
    expect(fnProps.Handler).toBe('index.handler');
    expect(fnProps.MemorySize).toBe(1024);
    expect(fnProps.Timeout).toBe(900);
    expect(fnProps.Role).toEqual({ 'Fn::GetAtt': [ids.role, 'Arn'] });
    expect(fnProps.LoggingConfig).toEqual({ LogGroup: { Ref: ids.logGroup } });
    // Only SQS invokes it: no async DLQ (and so no sqs:SendMessage on the role).
    expect(fnProps.DeadLetterConfig).toBeUndefined();
    expect(props(resource(ids.logGroup)).RetentionInDays).toBe(30);
    expect(resource(ids.logGroup).DeletionPolicy).toBe('Delete');
  });

  it('passes the handler exactly its environment contract', () => {
    const env = (fnProps.Environment as Json).Variables as Record<string, unknown>;
    expect(Object.keys(env).sort()).toEqual(
      [
        'ARTIFACTS_BUCKET',
        'CURATED_BUCKET',
        'DATASET_SCHEMAS',
        'MAX_FILE_BYTES',
        'MAX_INVALID_ROW_FRACTION',
        'MAX_LINE_BYTES',
        'NODE_OPTIONS',
        'POWERTOOLS_METRICS_NAMESPACE',
        'POWERTOOLS_SERVICE_NAME',
        'PROJECT',
        'QUARANTINE_BUCKET',
        'RAW_BUCKET',
      ].sort(),
    );
    expect(render(env.RAW_BUCKET, lake)).toBe('RawBucket');
    expect(render(env.CURATED_BUCKET, lake)).toBe('CuratedBucket');
    expect(render(env.QUARANTINE_BUCKET, lake)).toBe('QuarantineBucket');
    expect(render(env.ARTIFACTS_BUCKET, lake)).toBe('ArtifactsBucket');
    expect(env.PROJECT).toBe('devmlops');
    expect(env.NODE_OPTIONS).toBe('--enable-source-maps');
    expect(env.POWERTOOLS_SERVICE_NAME).toBe('validation');
    expect(env.POWERTOOLS_METRICS_NAMESPACE).toBe('DevMLOps');
    expect(env.MAX_INVALID_ROW_FRACTION).toBe('0.05');
    expect(env.MAX_LINE_BYTES).toBe('1048576');
    expect(JSON.parse(env.DATASET_SCHEMAS as string)).toEqual([built.config.dataset]);
    // Compact JSON: no whitespace between tokens.
    expect(env.DATASET_SCHEMAS).toBe(JSON.stringify([built.config.dataset]));
  });

  it('grants the handler role exactly what the handler needs', () => {
    const role = resource(ids.role);
    expect(props(role).ManagedPolicyArns).toBeUndefined();
    expect(props(role).Policies).toBeUndefined();
    expect(props(role).Tags).toContainEqual({ Key: RAW_READ_ONLY_TAG.key, Value: RAW_READ_ONLY_TAG.value });
    // The training pipeline's policies are asserted in training-iam.test.ts.
    const policies = Object.values(resourcesOf(t, 'AWS::IAM::Policy'))
      .map(props)
      .filter((p) => JSON.stringify(p.Roles).includes(`"${ids.role}"`));
    expect(policies).toHaveLength(1);
    expect(policies[0].Roles).toEqual([{ Ref: ids.role }]);
    const granted = permissions(policies[0].PolicyDocument as Json, lake);
    const listCondition = JSON.stringify({ StringLike: { 's3:prefix': 'reports/validation/*' } });
    expect(granted).toEqual(
      [
        `Allow logs:CreateLogStream ${ids.logGroup}.Arn`,
        `Allow logs:PutLogEvents ${ids.logGroup}.Arn`,
        'Allow xray:PutTelemetryRecords *',
        'Allow xray:PutTraceSegments *',
        `Allow sqs:ChangeMessageVisibility ${ids.queue}.Arn`,
        `Allow sqs:DeleteMessage ${ids.queue}.Arn`,
        `Allow sqs:GetQueueAttributes ${ids.queue}.Arn`,
        `Allow sqs:GetQueueUrl ${ids.queue}.Arn`,
        `Allow sqs:ReceiveMessage ${ids.queue}.Arn`,
        'Allow s3:GetObject RawBucket.Arn/*',
        'Allow s3:GetObjectVersion RawBucket.Arn/*',
        'Allow s3:PutObject CuratedBucket.Arn/*',
        'Allow s3:AbortMultipartUpload CuratedBucket.Arn/*',
        'Allow s3:PutObject QuarantineBucket.Arn/*',
        'Allow s3:AbortMultipartUpload QuarantineBucket.Arn/*',
        'Allow s3:PutObject ArtifactsBucket.Arn/reports/validation/*',
        'Allow s3:GetObject ArtifactsBucket.Arn/reports/validation/*',
        `Allow s3:ListBucket ArtifactsBucket.Arn if ${listCondition}`,
        'Allow kms:Decrypt DataKey.Arn',
        'Allow kms:GenerateDataKey DataKey.Arn',
      ].sort(),
    );
    // The same, as the two properties that matter most.
    expect(
      granted.filter((g) => g.includes('RawBucket') && !/ s3:Get(Object|ObjectVersion) /.test(g)),
    ).toEqual([]);
    expect(granted.filter((g) => g.split(' ')[1].includes('*'))).toEqual([]);
  });

  it('takes memory, timeout, retries and log retention from the config', () => {
    const config = defaultConfigInput();
    config.validation = { ...config.validation, memorySize: 2048, timeoutSeconds: 120, maxReceiveCount: 5 };
    config.logRetentionDays = 7;
    const b = build({ config });
    const tt = b.pipelineTemplate;
    const val = b.pipeline.validation;
    const res = tt.toJSON().Resources as Record<string, Json>;
    expect(props(res[logicalId(val.handler)]).MemorySize).toBe(2048);
    expect(props(res[logicalId(val.handler)]).Timeout).toBe(120);
    expect(props(res[logicalId(val.queue)]).VisibilityTimeout).toBe(720);
    expect((props(res[logicalId(val.queue)]).RedrivePolicy as Json).maxReceiveCount).toBe(5);
    expect(props(res[logicalId(val.function.logGroup)]).RetentionInDays).toBe(7);
  });

  it('tags its resources with Project', () => {
    for (const id of [ids.fn, ids.queue, ids.dlq, ids.role, ids.logGroup, ids.rule])
      expect(props(resource(id)).Tags).toContainEqual({ Key: 'Project', Value: 'devmlops' });
  });
});

describe('DataValidation props', () => {
  const dataset = build().config.dataset;
  const lakeIn = (stack: Stack): DataLakeResources => ({
    key: kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:111111111111:key/abc'),
    raw: s3.Bucket.fromBucketName(stack, 'Raw', 'raw'),
    curated: s3.Bucket.fromBucketName(stack, 'Curated', 'curated'),
    quarantine: s3.Bucket.fromBucketName(stack, 'Quarantine', 'quarantine'),
    artifacts: s3.Bucket.fromBucketName(stack, 'Artifacts', 'artifacts'),
  });
  const make = (extra: Partial<ConstructorParameters<typeof DataValidation>[2]>) => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');
    return new DataValidation(stack, 'V', {
      dataLake: lakeIn(stack),
      datasets: [dataset],
      project: 'p',
      ...extra,
    });
  };

  it('builds with defaults', () => {
    expect(make({}).handler.runtime.name).toBe('nodejs22.x');
  });

  it.each([
    ['no dataset', { datasets: [] }, 'at least one dataset'],
    ['a dataset twice', { datasets: [dataset, dataset] }, `dataset "${dataset.name}" appears twice`],
    ['maxInvalidRowFraction 1.5', { maxInvalidRowFraction: 1.5 }, 'maxInvalidRowFraction'],
    ['maxLineBytes 10', { maxLineBytes: 10 }, 'maxLineBytes'],
    ['maxReceiveCount 0', { maxReceiveCount: 0 }, 'maxReceiveCount'],
    ['a 3 hour timeout (over 12 h of visibility)', { timeout: Duration.hours(3) }, 'visibility timeout'],
  ])('rejects %s', (_what, bad, message) => {
    expect(() => make(bad)).toThrow(message);
  });

  it('refuses an environment over the 4 KB Lambda limit, saying why', () => {
    const big = {
      ...dataset,
      fields: dataset.fields.map((f) => ({ ...f, description: 'd'.repeat(400) })),
    };
    expect(() => make({ datasets: [big] })).toThrow(
      /environment would be \d+ bytes, over Lambda's 4096-byte limit/,
    );
  });

  it('measures the environment as Lambda does, with unresolved names at their maximum', () => {
    expect(lambdaEnvironmentBytes({ A: 'bc' })).toBe('{"A":"bc"}'.length);
    const stack = new Stack();
    const bucket = new s3.Bucket(stack, 'B');
    expect(lambdaEnvironmentBytes({ A: bucket.bucketName })).toBe(`{"A":"${'x'.repeat(63)}"}`.length);
  });
});
