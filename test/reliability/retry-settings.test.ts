import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { defaultMaxFileBytes } from '../../lambdas/core/report';
import { parseConfig } from '../../lib/config';
import type { DataLakeResources } from '../../lib/constructs/data-lake';
import { DataValidation, type DataValidationProps } from '../../lib/constructs/data-validation';
import { schema } from '../helpers/csv';
import { S3_RETRY } from '../../lambdas/shared/clients';
import { buildMonitoring, type BuiltMonitoring } from '../infra/monitoring-helpers';
import { defaultConfigInput, logicalId, props, resourcesOf, type Json } from '../infra/helpers';
import { definitionOf } from '../infra/training-helpers';

/**
 * The retry and dead-letter settings the reliability tests assume, read from the synthesized templates: the fault
 * tests end every failure with "the event is retried", which is only true if the queue, the event source, the
 * schedule and the state machine retry as asserted here.
 */
let b: BuiltMonitoring;
let pipeline: Json;
let monitoring: Json;

beforeAll(() => {
  b = buildMonitoring();
  pipeline = b.pipelineTemplate.toJSON().Resources as Json;
  monitoring = b.monitoringTemplate.toJSON().Resources as Json;
});

const resource = (resources: Json, id: string): Json => props(resources[id] as Json);

describe('validation: EventBridge -> SQS -> Lambda', () => {
  test('a failed message is redelivered maxReceiveCount (3) times, then kept 14 days in the dead-letter queue', () => {
    const v = b.pipeline.validation;
    const queue = resource(pipeline, logicalId(v.queue));
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(v.deadLetterQueue), 'Arn'] },
      maxReceiveCount: b.config.validation.maxReceiveCount,
    });
    expect(b.config.validation.maxReceiveCount).toBe(3);
    expect(resource(pipeline, logicalId(v.deadLetterQueue)).MessageRetentionPeriod).toBe(14 * 24 * 3600);
  });

  test('the visibility timeout is at least 6x the function timeout (AWS guidance for SQS event sources)', () => {
    const v = b.pipeline.validation;
    const fn = resource(pipeline, logicalId(v.handler));
    const queue = resource(pipeline, logicalId(v.queue));
    expect(fn.Timeout).toBe(b.config.validation.timeoutSeconds);
    expect(queue.VisibilityTimeout as number).toBeGreaterThanOrEqual(6 * (fn.Timeout as number));
  });

  test('one message per invocation with partial batch responses: a failure retries only its own object', () => {
    const esm = Object.values(resourcesOf(b.pipelineTemplate, 'AWS::Lambda::EventSourceMapping')).map(props);
    const mine = esm.filter(
      (e) =>
        JSON.stringify(e.EventSourceArn) ===
        JSON.stringify({ 'Fn::GetAtt': [logicalId(b.pipeline.validation.queue), 'Arn'] }),
    );
    expect(mine).toHaveLength(1);
    expect(mine[0].BatchSize).toBe(1);
    expect(mine[0].FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
  });

  test('an event EventBridge cannot deliver is retried for 24 h, then goes to the same dead-letter queue', () => {
    const rule = resource(pipeline, logicalId(b.pipeline.validation.rule));
    const targets = rule.Targets as Json[];
    expect(targets).toHaveLength(1);
    expect(targets[0].RetryPolicy).toEqual({ MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 });
    expect(targets[0].DeadLetterConfig).toEqual({
      Arn: { 'Fn::GetAtt': [logicalId(b.pipeline.validation.deadLetterQueue), 'Arn'] },
    });
  });

  test('MAX_FILE_BYTES is the limit derived from the timeout and memory; a stalled S3 call cannot outlast the timeout', () => {
    const fn = resource(pipeline, logicalId(b.pipeline.validation.handler));
    const vars = (fn.Environment as { Variables: Record<string, string> }).Variables;
    expect(Number(vars.MAX_FILE_BYTES)).toBe(
      defaultMaxFileBytes(fn.Timeout as number, fn.MemorySize as number),
    );
    expect(Number(vars.MAX_FILE_BYTES)).toBe(5_209_723_007);
    // Five attempts, each abandoned after 60 s of silence, plus the backoff (at most 20 s each): within the timeout.
    const worst = S3_RETRY.maxAttempts * (S3_RETRY.requestHandler.socketTimeout / 1000 + 20);
    expect(worst).toBeLessThan(fn.Timeout as number);
    expect(S3_RETRY.retryMode).toBe('standard');
  });
});

describe('drift: EventBridge schedule -> Lambda (asynchronous)', () => {
  test('EventBridge retries a failed delivery twice; Lambda retries a failed check and keeps it in a DLQ', () => {
    const fnId = logicalId(b.monitoring.drift.handler);
    const rule = resource(monitoring, logicalId(b.monitoring.drift.rule));
    expect((rule.Targets as Json[]).map((t) => t.RetryPolicy)).toEqual([{ MaximumRetryAttempts: 2 }]);
    const fn = resource(monitoring, fnId);
    const dlq = (fn.DeadLetterConfig as { TargetArn: { 'Fn::GetAtt': [string, string] } }).TargetArn[
      'Fn::GetAtt'
    ][0];
    const queue = resource(monitoring, dlq);
    expect(queue.SqsManagedSseEnabled).toBe(true);
    expect(queue.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    // No EventInvokeConfig: Lambda's defaults, two retries of a failed asynchronous invocation within six hours.
    const invokeConfigs = Object.values(resourcesOf(b.monitoringTemplate, 'AWS::Lambda::EventInvokeConfig'))
      .map(props)
      .filter((c) => JSON.stringify(c.FunctionName) === JSON.stringify({ Ref: fnId }));
    for (const c of invokeConfigs) expect(c.MaximumRetryAttempts as number).toBeGreaterThanOrEqual(1);
    // A retried check must finish before the next scheduled one starts.
    expect(fn.Timeout as number).toBeLessThan(3600);
  });
});

describe('training state machine: Lambda tasks', () => {
  interface State {
    Type: string;
    Resource?: string;
    TimeoutSeconds?: number;
    Retry?: { ErrorEquals: string[]; MaxAttempts?: number; IntervalSeconds?: number; BackoffRate?: number }[];
    Catch?: { ErrorEquals: string[] }[];
    Parameters?: Json;
  }
  let states: Record<string, State>;

  /**
   * The Lambda function a task invokes: with payloadResponseOnly the task's Resource is the function ARN itself
   * (`${<id>.Arn}` once rendered), otherwise `states:::lambda:invoke` with Parameters.FunctionName.
   */
  function functionOf(s: State): Json | undefined {
    const ref = s.Resource?.endsWith(':states:::lambda:invoke')
      ? String(s.Parameters?.FunctionName)
      : s.Resource;
    const fns = resourcesOf(b.pipelineTemplate, 'AWS::Lambda::Function');
    const id = Object.keys(fns).find((k) => ref === `\${${k}.Arn}`);
    return id === undefined ? undefined : props(fns[id]);
  }

  beforeAll(() => {
    // Nested states (Parallel, Map) are not used by the training machine: the top level is all of it.
    states = definitionOf(b).States as unknown as Record<string, State>;
  });

  test('every Lambda task retries Lambda service errors with backoff and catches everything else', () => {
    const lambdaTasks = Object.entries(states).filter(
      ([, s]) => s.Type === 'Task' && functionOf(s) !== undefined,
    );
    expect(lambdaTasks.map(([name]) => name).sort()).toEqual(
      expect.arrayContaining(['Evaluate', 'Prepare', 'Promote']),
    );
    for (const [, s] of lambdaTasks) {
      const retry = (s.Retry ?? []).find((r) => r.ErrorEquals.includes('Lambda.ServiceException'));
      expect(retry?.ErrorEquals).toEqual(
        expect.arrayContaining([
          'Lambda.ServiceException',
          'Lambda.AWSLambdaException',
          'Lambda.SdkClientException',
        ]),
      );
      expect(retry!.MaxAttempts).toBeGreaterThanOrEqual(2);
      expect(retry!.BackoffRate).toBeGreaterThanOrEqual(1);
      expect(s.Catch?.some((c) => c.ErrorEquals.includes('States.ALL'))).toBe(true);
    }
  });

  test('Prepare: the task waits longer than the function may run, so a Lambda timeout is reported as such', () => {
    const prepareFn = functionOf(states.Prepare);
    expect(prepareFn?.Timeout).toBe(900);
    expect(states.Prepare.TimeoutSeconds as number).toBeGreaterThan(prepareFn!.Timeout as number);
  });
});

describe('DataValidation maxFileBytes', () => {
  const make = (extra: Partial<DataValidationProps>): DataValidation => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');
    const key = new kms.Key(stack, 'Key');
    const bucket = (id: string) => s3.Bucket.fromBucketName(stack, id, id.toLowerCase());
    const dataLake: DataLakeResources = {
      key,
      raw: bucket('Raw'),
      curated: bucket('Curated'),
      quarantine: bucket('Quarantine'),
      artifacts: bucket('Artifacts'),
    };
    return new DataValidation(stack, 'V', { dataLake, datasets: [schema], project: 'p', ...extra });
  };
  const maxFileBytes = (v: DataValidation): number => {
    const fn = Template.fromStack(Stack.of(v)).toJSON().Resources[logicalId(v.handler)] as Json;
    return Number((props(fn).Environment as { Variables: Record<string, string> }).Variables.MAX_FILE_BYTES);
  };

  test('derived from the timeout and memory by default, or as given', () => {
    expect(maxFileBytes(make({}))).toBe(defaultMaxFileBytes(900, 1024));
    expect(maxFileBytes(make({ timeout: Duration.minutes(5), memorySize: 2048 }))).toBe(
      defaultMaxFileBytes(300, 2048),
    );
    expect(maxFileBytes(make({ maxFileBytes: 123_456 }))).toBe(123_456);
  });

  test.each([0, -1, 1.5, Number.MAX_SAFE_INTEGER + 2])('rejects %p', (bad) => {
    expect(() => make({ maxFileBytes: bad })).toThrow(
      /DataValidation: maxFileBytes must be a positive integer/,
    );
  });

  test('the config key: optional, a positive whole number, named in the error', () => {
    const base = defaultConfigInput();
    expect(parseConfig(base).validation.maxFileBytes).toBeUndefined();
    expect(parseConfig({ ...base, validation: { maxFileBytes: 1e9 } }).validation.maxFileBytes).toBe(1e9);
    expect(() => parseConfig({ ...base, validation: { maxFileBytes: 0 } })).toThrow(
      'devmlops.validation.maxFileBytes',
    );
  });
});
