import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { featureFields, type DatasetSchema } from '../../lambdas/core/schema';
import { METRICS_NAMESPACE } from './drift-monitor';
import type { InferenceApi } from './inference-api';
import { SKIPPED_METRIC } from './training-definition';

export interface MonitoringDashboardProps {
  /** The dashboard's name and the `Project` dimension. Required. */
  readonly project: string;
  /** The dataset: one FeatureDrift line per feature of its schema. Required. */
  readonly dataset: DatasetSchema;
  /** The training state machine. Required. */
  readonly stateMachine: sfn.IStateMachine;
  /** The endpoint's name. Required. */
  readonly endpointName: string;
  /** @default 'AllTraffic' */
  readonly variantName?: string;
  /**
   * Realtime endpoints also get CPU and memory utilization (a serverless endpoint has no instances).
   * @default 'realtime'
   */
  readonly endpointType?: 'realtime' | 'serverless';
  /** Every Lambda of the project (errors, duration, throttles), by a display label. Required. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** The validation dead-letter queue. Required. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The alarms of the status widget. Required. */
  readonly alarms: readonly cloudwatch.IAlarm[];
  /**
   * The drift threshold, drawn as an annotation on the drift graphs.
   * @default 0.2
   */
  readonly driftThreshold?: number;
  /**
   * Per-feature thresholds: a feature with its own gets its own annotation.
   * @default {}
   */
  readonly featureThresholds?: Readonly<Record<string, number>>;
  /**
   * The name of the training metric (the label of TrainingMetric).
   * @default 'training metric'
   */
  readonly trainingMetricName?: string;
  /**
   * The inference API: its requests, errors and latency, the Lambda's predictions and refusals, and for a
   * serverless endpoint the capture stream.
   * @default - no inference API row
   */
  readonly inference?: Pick<
    InferenceApi,
    'metricApi' | 'metricInference' | 'metricCapture' | 'deliveryStream'
  >;
}

const WIDTH = 24;
const HALF = 12;
const THIRD = 8;
const HEIGHT = 6;

/** The project's one CloudWatch dashboard: data, pipeline, endpoint, drift, health and alarm status rows. */
export class MonitoringDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringDashboardProps) {
    super(scope, id);
    const threshold = props.driftThreshold ?? 0.2;
    const featureThresholds = props.featureThresholds ?? {};
    const variantName = props.variantName ?? 'AllTraffic';
    const features = featureFields(props.dataset).map((f) => f.name);
    if (!props.project) throw new Error('MonitoringDashboard: project is required');
    if (!(threshold > 0))
      throw new Error(`MonitoringDashboard: driftThreshold must be > 0, got ${threshold}`);
    const unknown = Object.keys(featureThresholds).filter((f) => !features.includes(f));
    if (unknown.length > 0)
      throw new Error(
        `MonitoringDashboard: featureThresholds name features not in dataset ${props.dataset.name}: ${unknown.join(', ')}`,
      );
    if (Object.keys(props.functions).length === 0)
      throw new Error('MonitoringDashboard: functions must hold at least one Lambda');

    const hour = Duration.hours(1);
    const five = Duration.minutes(5);
    const custom = (
      metricName: string,
      statistic: string,
      dims: Record<string, string> = {},
      label?: string,
    ) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { Project: props.project, ...dims },
        statistic,
        period: hour,
        label,
      });
    const sum = cloudwatch.Stats.SUM;
    const max = cloudwatch.Stats.MAXIMUM;
    const graph = (
      title: string,
      left: cloudwatch.IMetric[],
      extra: Partial<cloudwatch.GraphWidgetProps> = {},
    ) => new cloudwatch.GraphWidget({ title, left, width: HALF, height: HEIGHT, ...extra });
    const header = (text: string) =>
      new cloudwatch.TextWidget({ markdown: `## ${text}`, width: WIDTH, height: 1 });
    const annotation = (value: number, label: string): cloudwatch.HorizontalAnnotation => ({
      value,
      label,
      color: cloudwatch.Color.RED,
    });

    // ---- data
    const data = [
      header('Data'),
      graph('Files accepted / quarantined', [custom('FilesAccepted', sum), custom('FilesQuarantined', sum)]),
      graph('Rows validated / rejected', [custom('RowsValidated', sum), custom('RowsRejected', sum)]),
    ];

    // ---- pipeline
    const sm = props.stateMachine;
    const states = (metricName: string) => sm.metric(metricName, { statistic: sum, period: hour });
    const pipeline = [
      header('Training pipeline'),
      new cloudwatch.GraphWidget({
        // A guard skip ends as Succeeded in AWS/States; RecordSkipped counts it apart, so skips show beside it.
        title: 'Executions started / succeeded / failed / skipped (a skip also counts as succeeded)',
        left: [
          ...[
            'ExecutionsStarted',
            'ExecutionsSucceeded',
            'ExecutionsFailed',
            'ExecutionsTimedOut',
            'ExecutionsAborted',
          ].map(states),
          custom(SKIPPED_METRIC.metricName, sum),
        ],
        width: THIRD,
        height: HEIGHT,
      }),
      new cloudwatch.GraphWidget({
        title: 'Execution duration',
        left: [
          sm.metric('ExecutionTime', { statistic: cloudwatch.Stats.AVERAGE, period: hour }),
          sm.metric('ExecutionTime', { statistic: max, period: hour }),
        ],
        width: THIRD,
        height: HEIGHT,
      }),
      new cloudwatch.GraphWidget({
        title: 'Training metric of deployed models',
        left: [custom('TrainingMetric', max, {}, props.trainingMetricName ?? 'training metric')],
        width: THIRD,
        height: HEIGHT,
      }),
    ];

    // ---- endpoint
    const endpointDims = { EndpointName: props.endpointName, VariantName: variantName };
    const sagemaker = (metricName: string, statistic: string, label?: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/SageMaker',
        metricName,
        dimensionsMap: endpointDims,
        statistic,
        period: five,
        label,
      });
    const endpoint: cloudwatch.IWidget[] = [
      header(`Endpoint ${props.endpointName}`),
      new cloudwatch.GraphWidget({
        title: 'Invocations and errors',
        left: [sagemaker('Invocations', sum)],
        right: [sagemaker('Invocation4XXErrors', sum), sagemaker('Invocation5XXErrors', sum)],
        width: THIRD,
        height: HEIGHT,
      }),
      new cloudwatch.GraphWidget({
        title: 'ModelLatency (microseconds)',
        left: [
          sagemaker('ModelLatency', cloudwatch.Stats.p(50), 'p50'),
          sagemaker('ModelLatency', cloudwatch.Stats.p(99), 'p99'),
        ],
        width: THIRD,
        height: HEIGHT,
      }),
    ];
    if ((props.endpointType ?? 'realtime') === 'realtime') {
      const instance = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: '/aws/sagemaker/Endpoints',
          metricName,
          dimensionsMap: endpointDims,
          statistic: cloudwatch.Stats.AVERAGE,
          period: five,
        });
      endpoint.push(
        new cloudwatch.GraphWidget({
          title: 'Instances (%)',
          left: [instance('CPUUtilization'), instance('MemoryUtilization')],
          width: THIRD,
          height: HEIGHT,
        }),
      );
    }

    // ---- inference API
    const inference: cloudwatch.IWidget[] = [];
    const api = props.inference;
    if (api) {
      const p = (n: number) => cloudwatch.Stats.p(n);
      inference.push(
        header('Inference API'),
        new cloudwatch.GraphWidget({
          title: 'Requests and errors',
          left: [api.metricApi('Count', { period: five, label: 'requests' })],
          right: [
            api.metricApi('4XXError', { period: five, label: '4XX' }),
            api.metricApi('5XXError', { period: five, label: '5XX' }),
          ],
          width: THIRD,
          height: HEIGHT,
        }),
        new cloudwatch.GraphWidget({
          title: 'Latency (ms)',
          left: [
            api.metricApi('Latency', { statistic: p(50), period: five, label: 'p50' }),
            api.metricApi('Latency', { statistic: p(99), period: five, label: 'p99' }),
            api.metricApi('IntegrationLatency', { statistic: p(99), period: five, label: 'integration p99' }),
          ],
          width: THIRD,
          height: HEIGHT,
        }),
        new cloudwatch.GraphWidget({
          title: 'Predicted records and refused requests',
          left: [api.metricInference('PredictionRecords', { period: five })],
          right: [
            'InvalidRequests',
            'ThrottledRequests',
            'ModelErrors',
            // Only the serverless path puts capture records itself.
            ...(api.deliveryStream ? ['CaptureFailures'] : []),
          ].map((m) => api.metricInference(m, { period: five })),
          width: THIRD,
          height: HEIGHT,
        }),
      );
      if (api.deliveryStream)
        inference.push(
          new cloudwatch.GraphWidget({
            title: 'Capture stream (Firehose)',
            left: [
              api.metricCapture('IncomingRecords', { period: five }),
              api.metricCapture('DeliveryToS3.Records', { period: five }),
            ],
            right: [
              api.metricCapture('DeliveryToS3.Success', {
                statistic: cloudwatch.Stats.AVERAGE,
                period: five,
              }),
            ],
            width: HALF,
            height: HEIGHT,
          }),
        );
    }

    // ---- drift
    const overrides = Object.entries(featureThresholds);
    const drift = [
      header('Drift (PSI against the training baseline)'),
      new cloudwatch.GraphWidget({
        title: 'FeatureDrift per feature',
        left: features.map((f) => custom('FeatureDrift', max, { Feature: f }, f)),
        leftAnnotations: [
          annotation(threshold, `threshold ${threshold}`),
          ...overrides.map(([f, t]) => annotation(t, `${f} threshold ${t}`)),
        ],
        width: WIDTH,
        height: HEIGHT,
      }),
      graph('MaxFeatureDrift and drifted features', [custom('MaxFeatureDrift', max)], {
        right: [custom('DriftedFeatures', max)],
        leftAnnotations: [annotation(threshold, `threshold ${threshold}`)],
      }),
      graph('CapturedRecords per check', [custom('CapturedRecords', sum)]),
    ];

    // ---- health
    const fns = Object.entries(props.functions);
    const perFunction = (title: string, m: (f: lambda.IFunction, label: string) => cloudwatch.IMetric) =>
      new cloudwatch.GraphWidget({
        title,
        left: fns.map(([label, f]) => m(f, label)),
        width: THIRD,
        height: HEIGHT,
      });
    const health = [
      header('Health'),
      perFunction('Lambda errors', (f, label) => f.metricErrors({ statistic: sum, period: five, label })),
      perFunction('Lambda duration (p99)', (f, label) =>
        f.metricDuration({ statistic: cloudwatch.Stats.p(99), period: five, label }),
      ),
      perFunction('Lambda throttles', (f, label) =>
        f.metricThrottles({ statistic: sum, period: five, label }),
      ),
      graph('Validation DLQ depth', [
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: max, period: five }),
      ]),
    ];

    const status = [
      header('Alarms'),
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarm status',
        alarms: [...props.alarms],
        width: WIDTH,
        height: 4,
      }),
    ];

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.project,
      defaultInterval: Duration.days(1),
      widgets: [status, data, pipeline, endpoint, inference, drift, health],
    });
  }
}
