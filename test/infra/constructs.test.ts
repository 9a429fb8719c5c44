import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DevFunction } from '../../lib/constructs/lambda-function';
import { removalSettings, secureBucketProps } from '../../lib/constructs/secure-defaults';
import { logicalId, permissions, props, resourcesOf, type Json } from './helpers';

const ENTRY = 'lambdas/handlers/validate.ts';
const newStack = () => new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');

describe('DevFunction', () => {
  it('holds the Lambda defaults, with an encrypted TLS-only async DLQ', () => {
    const stack = newStack();
    const f = new DevFunction(stack, 'F', { entry: ENTRY, environment: { GREETING: 'hello' } });
    const t = Template.fromStack(stack);
    const fn = props(resourcesOf(t, 'AWS::Lambda::Function')[logicalId(f.function)]);
    expect(fn.Runtime).toBe('nodejs22.x');
    expect(fn.Architectures).toEqual(['arm64']);
    expect(fn.TracingConfig).toEqual({ Mode: 'Active' });
    expect(fn.MemorySize).toBe(256);
    expect(fn.Timeout).toBe(30);
    expect((fn.Environment as Json).Variables).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      GREETING: 'hello',
    });
    expect(fn.DeadLetterConfig).toEqual({
      TargetArn: { 'Fn::GetAtt': [logicalId(f.deadLetterQueue!), 'Arn'] },
    });
    const dlq = props(resourcesOf(t, 'AWS::SQS::Queue')[logicalId(f.deadLetterQueue!)]);
    expect(dlq.SqsManagedSseEnabled).toBe(true);
    expect(dlq.MessageRetentionPeriod).toBe(1209600);
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: [
          {
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Resource: { 'Fn::GetAtt': [logicalId(f.deadLetterQueue!), 'Arn'] },
          },
        ],
      },
    });
    // Its own log group, with retention, and the only one: no CDK-managed or auto-created second group.
    t.resourceCountIs('AWS::Logs::LogGroup', 1);
    expect(props(resourcesOf(t, 'AWS::Logs::LogGroup')[logicalId(f.logGroup)]).RetentionInDays).toBe(30);
    // No managed policy; logs narrowed to its own group.
    expect(props(resourcesOf(t, 'AWS::IAM::Role')[logicalId(f.role)]).ManagedPolicyArns).toBeUndefined();
    const policy = props(Object.values(resourcesOf(t, 'AWS::IAM::Policy'))[0]).PolicyDocument as Json;
    expect(permissions(policy)).toEqual(
      [
        `Allow logs:CreateLogStream ${logicalId(f.logGroup)}.Arn`,
        `Allow logs:PutLogEvents ${logicalId(f.logGroup)}.Arn`,
        `Allow sqs:SendMessage ${logicalId(f.deadLetterQueue!)}.Arn`,
        'Allow xray:PutTelemetryRecords *',
        'Allow xray:PutTraceSegments *',
      ].sort(),
    );
    // The DLQ counts as a DLQ for cdk-nag (SQS3), and the queue is otherwise compliant.
    const found = new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName);
    expect(found.filter((id) => id.startsWith('AwsSolutions-SQS'))).toEqual([]);
  });

  it('uses a given DLQ, or none', () => {
    const stack = newStack();
    const given = new sqs.Queue(stack, 'Given');
    const a = new DevFunction(stack, 'A', { entry: ENTRY, deadLetterQueue: given });
    const b = new DevFunction(stack, 'B', { entry: ENTRY, deadLetterQueue: false });
    expect(a.deadLetterQueue).toBe(given);
    expect(b.deadLetterQueue).toBeUndefined();
    const fns = resourcesOf(Template.fromStack(stack), 'AWS::Lambda::Function');
    expect(props(fns[logicalId(a.function)]).DeadLetterConfig).toEqual({
      TargetArn: { 'Fn::GetAtt': [logicalId(given), 'Arn'] },
    });
    expect(props(fns[logicalId(b.function)]).DeadLetterConfig).toBeUndefined();
  });

  it.each([
    ['an empty entry', { entry: '' }, 'entry is required'],
    ['64 MB', { memorySize: 64 }, 'memorySize'],
    ['a 16 minute timeout', { timeout: Duration.minutes(16) }, 'timeout'],
    ['an AWS_ variable', { environment: { AWS_REGION: 'x' } }, 'must not set AWS_REGION'],
    ['its own NODE_OPTIONS', { environment: { NODE_OPTIONS: '' } }, 'must not set NODE_OPTIONS'],
    ['a Python runtime', { runtime: lambda.Runtime.PYTHON_3_12 }, 'Node.js runtime'],
  ])('rejects %s', (_what, bad, message) => {
    expect(() => new DevFunction(newStack(), 'F', { entry: ENTRY, ...bad })).toThrow(message);
  });
});

describe('secure bucket defaults', () => {
  it('are secure without options and let overrides win', () => {
    const base = secureBucketProps({});
    expect(base).toMatchObject({
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: false,
      encryption: s3.BucketEncryption.S3_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
      autoDeleteObjects: false,
    });
    expect(base.serverAccessLogsBucket).toBeUndefined();
    expect(secureBucketProps({}, { versioned: true }).versioned).toBe(true);
  });

  it('maps removal modes, and refuses others', () => {
    expect(removalSettings('destroy')).toEqual({
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    expect(removalSettings('retain')).toEqual({
      removalPolicy: RemovalPolicy.RETAIN,
      autoDeleteObjects: false,
    });
    expect(() => removalSettings('delete' as 'retain')).toThrow('"retain" or "destroy"');
  });
});
