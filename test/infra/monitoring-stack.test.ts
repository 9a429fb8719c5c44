import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { DriftMonitor } from '../../lib/constructs/drift-monitor';
import { featureFields } from '../../lambdas/core/schema';
import { logicalId, permissions, props, render, resourcesOf, type Json } from './helpers';
import { buildMonitoring, dashboardBody } from './monitoring-helpers';

const b = buildMonitoring();
const t = b.monitoringTemplate;

type Widget = Json & { type: string; properties: Json };
/** Each graph line as [namespace, metric, ...dimension pairs sorted by name], without its options object. */
function lines(w: Widget): unknown[][] {
  return ((w.properties.metrics as unknown[][]) ?? []).map((m) => {
    const [ns, name, ...dims] = m.filter((x) => typeof x !== 'object' || x === null);
    const pairs: [unknown, unknown][] = [];
    for (let i = 0; i < dims.length; i += 2) pairs.push([dims[i], dims[i + 1]]);
    pairs.sort((a, c) => String(a[0]).localeCompare(String(c[0])));
    return [ns, name, ...pairs.flat()];
  });
}
function widget(widgets: Widget[], title: string): Widget {
  const found = widgets.filter((w) => w.properties.title === title);
  expect(found).toHaveLength(1);
  return found[0];
}

describe('the dashboard', () => {
  const widgets = dashboardBody(b).widgets as Widget[];
  const project = ['Project', 'devmlops'];
  const endpoint = ['EndpointName', 'devmlops-endpoint', 'VariantName', 'AllTraffic'];
  const smArn = 'arn:AWS::Partition:states:AWS::Region:AWS::AccountId:stateMachine:devmlops-training';

  it('draws FeatureDrift of every feature of the schema, with the threshold annotation', () => {
    const w = widget(widgets, 'FeatureDrift per feature');
    const features = featureFields(b.config.dataset).map((f) => f.name);
    expect(features.length).toBeGreaterThan(5);
    expect(lines(w)).toEqual(features.map((f) => ['DevMLOps', 'FeatureDrift', 'Feature', f, ...project]));
    expect((w.properties.annotations as Json).horizontal).toEqual([
      expect.objectContaining({ value: 0.2, label: 'threshold 0.2' }),
    ]);
  });

  it('annotates per-feature threshold overrides too, and refuses one naming no feature', () => {
    const custom = buildMonitoring((c) => {
      c.monitoring = { driftThreshold: 0.25, featureThresholds: { tenure_months: 0.4 } };
    });
    const w = widget(dashboardBody(custom).widgets as Widget[], 'FeatureDrift per feature');
    expect((w.properties.annotations as Json).horizontal).toEqual([
      expect.objectContaining({ value: 0.25 }),
      expect.objectContaining({ value: 0.4, label: 'tenure_months threshold 0.4' }),
    ]);
    expect(() =>
      buildMonitoring((c) => {
        c.monitoring = { featureThresholds: { nope: 0.4 } };
      }),
    ).toThrow('featureThresholds name features not in dataset churn: nope');
  });

  it('draws the drift summary, the validation metrics, the training metric', () => {
    const drift = widget(widgets, 'MaxFeatureDrift and drifted features');
    expect(lines(drift)).toEqual([
      ['DevMLOps', 'MaxFeatureDrift', ...project],
      ['DevMLOps', 'DriftedFeatures', ...project],
    ]);
    expect((drift.properties.annotations as Json).horizontal).toEqual([
      expect.objectContaining({ value: 0.2 }),
    ]);
    expect(lines(widget(widgets, 'CapturedRecords per check'))).toEqual([
      ['DevMLOps', 'CapturedRecords', ...project],
    ]);
    expect(lines(widget(widgets, 'Files accepted / quarantined'))).toEqual([
      ['DevMLOps', 'FilesAccepted', ...project],
      ['DevMLOps', 'FilesQuarantined', ...project],
    ]);
    expect(lines(widget(widgets, 'Rows validated / rejected'))).toEqual([
      ['DevMLOps', 'RowsValidated', ...project],
      ['DevMLOps', 'RowsRejected', ...project],
    ]);
    expect(lines(widget(widgets, 'Training metric of deployed models'))).toEqual([
      ['DevMLOps', 'TrainingMetric', ...project],
    ]);
  });

  it('draws the endpoint (invocations, errors, latency p50/p99, instance utilization)', () => {
    const inv = widget(widgets, 'Invocations and errors');
    expect(lines(inv)).toEqual([
      ['AWS/SageMaker', 'Invocations', ...endpoint],
      ['AWS/SageMaker', 'Invocation4XXErrors', ...endpoint],
      ['AWS/SageMaker', 'Invocation5XXErrors', ...endpoint],
    ]);
    const latency = widget(widgets, 'ModelLatency (microseconds)');
    expect(lines(latency)).toEqual([
      ['AWS/SageMaker', 'ModelLatency', ...endpoint],
      ['AWS/SageMaker', 'ModelLatency', ...endpoint],
    ]);
    expect((latency.properties.metrics as unknown[][]).map((m) => (m.at(-1) as Json).stat)).toEqual([
      'p50',
      'p99',
    ]);
    expect(lines(widget(widgets, 'Instances (%)'))).toEqual([
      ['/aws/sagemaker/Endpoints', 'CPUUtilization', ...endpoint],
      ['/aws/sagemaker/Endpoints', 'MemoryUtilization', ...endpoint],
    ]);
    const serverless = buildMonitoring((c) => {
      c.endpoint = { type: 'serverless' };
    });
    const titles = (dashboardBody(serverless).widgets as Widget[]).map((w) => w.properties.title);
    expect(titles).toContain('Invocations and errors');
    expect(titles).not.toContain('Instances (%)');
  });

  it('draws the training state machine executions, skips and duration', () => {
    const executions = widget(
      widgets,
      'Executions started / succeeded / failed / skipped (a skip also counts as succeeded)',
    );
    expect(lines(executions)).toEqual([
      ...[
        'ExecutionsStarted',
        'ExecutionsSucceeded',
        'ExecutionsFailed',
        'ExecutionsTimedOut',
        'ExecutionsAborted',
      ].map((m) => ['AWS/States', m, 'StateMachineArn', smArn]),
      // AWS/States has no skipped count: RecordSkipped puts this one.
      ['DevMLOps', 'PipelineSkipped', ...project],
    ]);
    expect((executions.properties.metrics as unknown[][]).at(-1)?.at(-1)).toMatchObject({ stat: 'Sum' });
    expect(lines(widget(widgets, 'Execution duration'))).toEqual([
      ['AWS/States', 'ExecutionTime', 'StateMachineArn', smArn],
      ['AWS/States', 'ExecutionTime', 'StateMachineArn', smArn],
    ]);
  });

  it('draws every Lambda, the DLQ depth and the status of every alarm', () => {
    for (const title of ['Lambda errors', 'Lambda duration (p99)', 'Lambda throttles']) {
      const l = lines(widget(widgets, title));
      expect(l).toHaveLength(8);
      for (const line of l)
        expect(line.slice(0, 3)).toEqual(['AWS/Lambda', expect.any(String), 'FunctionName']);
    }
    expect(lines(widget(widgets, 'Validation DLQ depth'))[0].slice(0, 3)).toEqual([
      'AWS/SQS',
      'ApproximateNumberOfMessagesVisible',
      'QueueName',
    ]);
    const status = widget(widgets, 'Alarm status');
    expect(status.type).toBe('alarm');
    const arns = status.properties.alarms as string[];
    expect(arns).toHaveLength(8);
    for (const a of b.monitoring.alarms.all) expect(arns).toContain(`${logicalId(a)}.Arn`);
    for (const name of ['devmlops-endpoint-5xx', 'devmlops-endpoint-latency', 'devmlops-api-5xx'])
      expect(arns).toContain(`arn:AWS::Partition:cloudwatch:AWS::Region:AWS::AccountId:alarm:${name}`);
    // A serverless endpoint's API also alarms on lost capture.
    const serverless = buildMonitoring((c) => {
      c.endpoint = { type: 'serverless' };
    });
    const all = widget(dashboardBody(serverless).widgets as Widget[], 'Alarm status').properties
      .alarms as string[];
    expect(all).toHaveLength(10);
    for (const name of ['devmlops-capture-failures', 'devmlops-capture-delivery'])
      expect(all).toContain(`arn:AWS::Partition:cloudwatch:AWS::Region:AWS::AccountId:alarm:${name}`);
  });

  it('draws the inference API: requests and errors, latency, predictions and refusals; the capture stream when serverless', () => {
    const api = ['ApiName', 'devmlops-inference', 'Stage', 'prod'];
    expect(lines(widget(widgets, 'Requests and errors'))).toEqual([
      ['AWS/ApiGateway', 'Count', ...api],
      ['AWS/ApiGateway', '4XXError', ...api],
      ['AWS/ApiGateway', '5XXError', ...api],
    ]);
    const latency = widget(widgets, 'Latency (ms)');
    expect(lines(latency)).toEqual([
      ['AWS/ApiGateway', 'Latency', ...api],
      ['AWS/ApiGateway', 'Latency', ...api],
      ['AWS/ApiGateway', 'IntegrationLatency', ...api],
    ]);
    expect((latency.properties.metrics as unknown[][]).map((m) => (m.at(-1) as Json).stat)).toEqual([
      'p50',
      'p99',
      'p99',
    ]);
    const predictions = widget(widgets, 'Predicted records and refused requests');
    expect(lines(predictions)).toEqual(
      ['PredictionRecords', 'InvalidRequests', 'ThrottledRequests', 'ModelErrors'].map((m) => [
        'DevMLOps',
        m,
        ...project,
      ]),
    );
    const titles = widgets.map((w) => w.properties.title);
    expect(titles).not.toContain('Capture stream (Firehose)');

    const serverless = dashboardBody(
      buildMonitoring((c) => {
        c.endpoint = { type: 'serverless' };
      }),
    ).widgets as Widget[];
    expect(lines(widget(serverless, 'Predicted records and refused requests')).map((l) => l[1])).toContain(
      'CaptureFailures',
    );
    const stream = lines(widget(serverless, 'Capture stream (Firehose)'));
    expect(stream.map((l) => l.slice(0, 3))).toEqual([
      ['AWS/Firehose', 'IncomingRecords', 'DeliveryStreamName'],
      ['AWS/Firehose', 'DeliveryToS3.Records', 'DeliveryStreamName'],
      ['AWS/Firehose', 'DeliveryToS3.Success', 'DeliveryStreamName'],
    ]);
  });
});

describe('the drift function', () => {
  const fnId = logicalId(b.monitoring.drift.handler);
  const fn = props(resourcesOf(t, 'AWS::Lambda::Function')[fnId]);

  it('has the drift environment from the config', () => {
    const custom = buildMonitoring((c) => {
      c.monitoring = {
        windowHours: 3,
        minSamples: 800,
        driftThreshold: 0.3,
        featureThresholds: { plan: 0.5 },
      };
    });
    const customFn = props(
      resourcesOf(custom.monitoringTemplate, 'AWS::Lambda::Function')[
        logicalId(custom.monitoring.drift.handler)
      ],
    );
    expect((customFn.Environment as Json).Variables).toMatchObject({
      PROJECT: 'devmlops',
      ENDPOINT_NAME: 'devmlops-endpoint',
      WINDOW_HOURS: '3',
      MIN_SAMPLES: '800',
      DRIFT_THRESHOLD: '0.3',
      FEATURE_THRESHOLDS: '{"plan":0.5}',
      POWERTOOLS_METRICS_NAMESPACE: 'DevMLOps',
      ARTIFACTS_BUCKET: { 'Fn::ImportValue': expect.stringMatching(/ArtifactsBucket/) },
    });
    expect((fn.Environment as Json).Variables).toMatchObject({ WINDOW_HOURS: '1', FEATURE_THRESHOLDS: '{}' });
    // Drift is announced on the pipeline's topic, imported from the pipeline stack.
    const topicArn = ((fn.Environment as Json).Variables as Json).TOPIC_ARN;
    expect(render(topicArn, b.pipelineTemplate)).toBe(logicalId(b.pipeline.training.topic));
  });

  it('runs on the configured schedule', () => {
    const rules = Object.values(resourcesOf(t, 'AWS::Events::Rule'))
      .map(props)
      .filter((r) => r.ScheduleExpression !== undefined);
    expect(rules).toHaveLength(1);
    expect(rules[0].ScheduleExpression).toBe('rate(1 hour)');
    expect(rules[0].Targets).toEqual([expect.objectContaining({ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] } })]);
    const custom = buildMonitoring((c) => {
      c.monitoring = { schedule: 'cron(5 * * * ? *)' };
    });
    const customRules = Object.values(resourcesOf(custom.monitoringTemplate, 'AWS::Events::Rule')).map(props);
    expect(customRules.map((r) => r.ScheduleExpression)).toContain('cron(5 * * * ? *)');
  });

  it('may read the pointer, training artifacts and its endpoint capture, write its drift reports, put DevMLOps metrics and publish to the pipeline topic, nothing else', () => {
    const roleId = logicalId(b.monitoring.drift.function.role);
    const policies = Object.values(resourcesOf(t, 'AWS::IAM::Policy'))
      .map(props)
      .filter((p) => (p.Roles as Json[]).some((r) => r.Ref === roleId));
    expect(policies).toHaveLength(1);
    const artifacts = 'ArtifactsBucket.Arn';
    const list = JSON.stringify({
      StringLike: { 's3:prefix': ['capture/devmlops-endpoint/*', 'baselines/current.json'] },
    });
    const logGroup = logicalId(b.monitoring.drift.function.logGroup);
    const dlq = logicalId(
      b.monitoring.drift.function.deadLetterQueue as unknown as import('constructs').IConstruct,
    );
    // Imports from both stacks it uses: the data lake (bucket, data key) and the pipeline (topic and its key).
    const exporters = Template.fromJSON({
      Outputs: { ...b.dataLakeTemplate.toJSON().Outputs, ...b.pipelineTemplate.toJSON().Outputs },
    });
    const topic = logicalId(b.pipeline.training.topic);
    const topicKey = logicalId(b.pipeline.training.key);
    expect(
      permissions(policies[0].PolicyDocument as Json, exporters).map((p) =>
        p.replace(/ArtifactsBucket[0-9A-F]{8}/g, 'ArtifactsBucket').replace(/DataKey[0-9A-F]{8}/g, 'DataKey'),
      ),
    ).toEqual(
      [
        `Allow s3:GetObject ${artifacts}/baselines/current.json`,
        `Allow s3:GetObject ${artifacts}/training/*`,
        `Allow s3:GetObject ${artifacts}/capture/devmlops-endpoint/*`,
        `Allow s3:ListBucket ${artifacts} if ${list}`,
        `Allow s3:PutObject ${artifacts}/reports/drift/devmlops-endpoint/*`,
        'Allow kms:Decrypt DataKey.Arn',
        'Allow kms:GenerateDataKey DataKey.Arn',
        `Allow cloudwatch:PutMetricData * if ${JSON.stringify({ StringEquals: { 'cloudwatch:namespace': 'DevMLOps' } })}`,
        `Allow sns:Publish ${topic}`,
        `Allow kms:Decrypt ${topicKey}.Arn`,
        `Allow kms:GenerateDataKey ${topicKey}.Arn`,
        `Allow logs:CreateLogStream ${logGroup}.Arn`,
        `Allow logs:PutLogEvents ${logGroup}.Arn`,
        `Allow sqs:SendMessage ${dlq}.Arn`,
        'Allow xray:PutTelemetryRecords *',
        'Allow xray:PutTraceSegments *',
      ].sort(),
    );
    const roles = resourcesOf(t, 'AWS::IAM::Role');
    expect(props(roles[roleId]).ManagedPolicyArns).toBeUndefined();
  });
});

describe('DriftMonitor topic props', () => {
  const make = (withTopic: boolean, withKey: boolean) => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:111111111111:key/abc');
    const monitor = new DriftMonitor(stack, 'D', {
      dataLake: {
        key,
        raw: s3.Bucket.fromBucketName(stack, 'Raw', 'raw'),
        curated: s3.Bucket.fromBucketName(stack, 'Curated', 'curated'),
        quarantine: s3.Bucket.fromBucketName(stack, 'Quarantine', 'quarantine'),
        artifacts: s3.Bucket.fromBucketName(stack, 'Artifacts', 'artifacts'),
      },
      project: 'p',
      endpointName: 'p-endpoint',
      topic: withTopic
        ? sns.Topic.fromTopicArn(stack, 'T', 'arn:aws:sns:us-east-1:111111111111:alerts')
        : undefined,
      topicKey: withKey
        ? kms.Key.fromKeyArn(stack, 'TopicKey', 'arn:aws:kms:us-east-1:111111111111:key/topic')
        : undefined,
    });
    return { monitor, template: Template.fromStack(stack) };
  };
  const statements = (template: Template): string[] =>
    Object.values(resourcesOf(template, 'AWS::IAM::Policy')).flatMap((p) =>
      permissions(props(p).PolicyDocument as Json),
    );

  it('without a topic: no TOPIC_ARN and no sns:Publish', () => {
    const { monitor, template } = make(false, false);
    expect(monitor.topic).toBeUndefined();
    const fn = Object.values(resourcesOf(template, 'AWS::Lambda::Function')).map(props)[0];
    expect(((fn.Environment as Json).Variables as Json).TOPIC_ARN).toBeUndefined();
    expect(statements(template).filter((s) => s.includes('sns:'))).toEqual([]);
  });

  it('with a topic and its key: publishes to that topic only, with that key', () => {
    const { monitor, template } = make(true, true);
    expect(monitor.topic?.topicArn).toBe('arn:aws:sns:us-east-1:111111111111:alerts');
    const fn = Object.values(resourcesOf(template, 'AWS::Lambda::Function')).map(props)[0];
    expect(((fn.Environment as Json).Variables as Json).TOPIC_ARN).toBe(
      'arn:aws:sns:us-east-1:111111111111:alerts',
    );
    const all = statements(template);
    expect(all.filter((s) => s.includes('sns:'))).toEqual([
      'Allow sns:Publish arn:aws:sns:us-east-1:111111111111:alerts',
    ]);
    expect(all.filter((s) => s.includes('key/topic'))).toEqual([
      'Allow kms:Decrypt arn:aws:kms:us-east-1:111111111111:key/topic',
      'Allow kms:GenerateDataKey arn:aws:kms:us-east-1:111111111111:key/topic',
    ]);
  });

  it('refuses a topic key without its topic', () => {
    expect(() => make(false, true)).toThrow(
      'DriftMonitor: topicKey is the key of `topic`; give the topic too',
    );
  });
});
