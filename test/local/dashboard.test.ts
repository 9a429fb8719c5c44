import { execFile } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { AlarmEvaluator, alarmsFromTemplates, MetricStore } from '../../lib/local/cloudwatch';
import { LocalClock } from '../../lib/local/clock';
import {
  alarmWidgetData,
  dashboardsFromTemplates,
  isServableReportKey,
  latestReports,
  metricWidgetData,
  startDashboardServer,
  withAlarmMetrics,
  type DashboardServer,
} from '../../lib/local/dashboard';
import {
  expandMetrics,
  parseDashboardBody,
  parseDuration,
  renderMarkdown,
  resolveTimeRange,
  type AlarmWidget,
  type DataResponse,
  type LayoutResponse,
  type MetricWidget,
} from '../../lib/local/dashboard-body';
import { synthesizeApp } from '../../lib/local/synthesize';
import { LocalTemplates } from '../../lib/local/template';
import { startTestS3, type TestS3 } from '../helpers/local-s3';

/**
 * The local dashboard's data side (issue 7): the dashboard body read from the synthesized template (widgets,
 * the metrics shorthand, annotations, alarms, text), widget data evaluated by the metric store, alarm states,
 * the report links, and the server's routes and guards. The page itself is tested in test/browser.
 */

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '..', '..');
const HOUR = 3_600_000;
const frozen = (iso: string) => new LocalClock({ start: new Date(iso), speed: 1e-9 });

// One synth: the app as the user writes it, plus widgets added through CDK as a user would add them.
const ADDED_TITLE = 'Added in CDK by a test';
const built = synthesizeApp({
  customize: (stacks) => {
    const metric = new cloudwatch.Metric({
      namespace: 'Test',
      metricName: 'Extra',
      dimensionsMap: { Project: 'devmlops' },
      statistic: 'Sum',
      period: Duration.hours(1),
    });
    const drift = stacks.monitoring.node
      .findAll()
      .find((c): c is cloudwatch.Alarm => c instanceof cloudwatch.Alarm && c.node.id === 'Drift');
    stacks.monitoring.dashboard.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: ADDED_TITLE,
        left: [metric],
        leftAnnotations: [{ value: 5, label: 'five' }],
        width: 12,
      }),
      new cloudwatch.SingleValueWidget({ title: 'Added single value', metrics: [metric], width: 6 }),
      new cloudwatch.AlarmWidget({ title: 'Added alarm graph', alarm: drift!, width: 6 }),
    );
  },
});
const LOCAL = new LocalTemplates(built.templates);
const LAYOUT = dashboardsFromTemplates(LOCAL);
const ALARMS = alarmsFromTemplates(LOCAL);

/** The dashboard body as the template holds it, resolved and parsed without the code under test. */
function templateBody(): {
  widgets: Array<Record<string, unknown> & { properties: Record<string, unknown> }>;
} {
  const [d] = LOCAL.resourcesOfType('AWS::CloudWatch::Dashboard');
  return JSON.parse(LOCAL.resolve(d.stackName, d.resource.Properties!.DashboardBody) as string);
}

describe('the dashboard from the synthesized template', () => {
  const body = templateBody();
  const [dashboard] = LAYOUT.dashboards;

  it('reads the one dashboard, named as in CDK, with no error', () => {
    expect(LAYOUT.errors).toEqual([]);
    expect(LAYOUT.dashboards).toHaveLength(1);
    expect(dashboard.name).toBe('devmlops');
    expect(dashboard.start).toBe('-P1D');
  });

  it('has every widget of the body, in place, with its title', () => {
    expect(dashboard.widgets).toHaveLength(body.widgets.length);
    body.widgets.forEach((w, i) => {
      expect(dashboard.widgets[i]).toMatchObject({
        type: w.type,
        x: w.x,
        y: w.y,
        width: w.width,
        height: w.height,
        ...(w.properties.title === undefined ? {} : { title: w.properties.title }),
      });
    });
  });

  it('includes the widgets added through CDK', () => {
    const added = dashboard.widgets.find((w) => w.title === ADDED_TITLE) as MetricWidget;
    expect(added).toMatchObject({ kind: 'metric', view: 'timeSeries', width: 12 });
    expect(added.metrics).toEqual([
      expect.objectContaining({
        namespace: 'Test',
        metricName: 'Extra',
        dimensions: { Project: 'devmlops' },
        stat: 'Sum',
        period: 3600,
        label: 'Extra',
      }),
    ]);
    expect(added.horizontalAnnotations).toEqual([
      expect.objectContaining({ value: 5, label: 'five', yAxis: 'left' }),
    ]);
    const single = dashboard.widgets.find((w) => w.title === 'Added single value') as MetricWidget;
    expect(single).toMatchObject({ kind: 'metric', view: 'singleValue' });
    // An AlarmWidget carries no metrics of its own: the alarm's metric and threshold come from its definition.
    const graph = dashboard.widgets.find((w) => w.title === 'Added alarm graph') as MetricWidget;
    expect(graph.metrics).toEqual([]);
    expect(graph.alarmArns).toEqual([expect.stringMatching(/:alarm:devmlops-drift$/)]);
    const expanded = withAlarmMetrics(graph, ALARMS);
    expect(expanded.metrics).toEqual([
      expect.objectContaining({ namespace: 'DevMLOps', metricName: 'MaxFeatureDrift', stat: 'Maximum' }),
    ]);
    expect(expanded.horizontalAnnotations).toEqual([
      expect.objectContaining({ value: 0.2, label: 'devmlops-drift threshold' }),
    ]);
  });

  it('expands the metric widgets: one FeatureDrift line per feature, the threshold annotation, the right axis', () => {
    const drift = dashboard.widgets.find((w) => w.title === 'FeatureDrift per feature') as MetricWidget;
    const features = built.stacks.config.dataset.fields
      .map((f) => f.name)
      .filter((n) => n !== built.stacks.config.dataset.target && drift.metrics.some((m) => m.label === n));
    expect(drift.metrics.map((m) => m.label)).toEqual(features);
    expect(drift.metrics.every((m) => m.metricName === 'FeatureDrift' && m.stat === 'Maximum')).toBe(true);
    expect(drift.horizontalAnnotations).toEqual([
      { value: 0.2, label: 'threshold 0.2', color: '#d62728', yAxis: 'left' },
    ]);
    const invocations = dashboard.widgets.find((w) => w.title === 'Invocations and errors') as MetricWidget;
    expect(invocations.metrics.map((m) => [m.metricName, m.yAxis, m.period])).toEqual([
      ['Invocations', 'left', 300],
      ['Invocation4XXErrors', 'right', 300],
      ['Invocation5XXErrors', 'right', 300],
    ]);
    // Two ExecutionTime lines without labels are told apart by their statistic.
    const duration = dashboard.widgets.find((w) => w.title === 'Execution duration') as MetricWidget;
    expect(duration.metrics.map((m) => m.label)).toEqual(['ExecutionTime Average', 'ExecutionTime Maximum']);
    expect(duration.metrics[0].dimensions?.StateMachineArn).toMatch(/:stateMachine:/);
  });

  it('lists every alarm of the templates in the alarm widget, by local ARN', () => {
    const status = dashboard.widgets.find((w) => w.kind === 'alarm') as AlarmWidget;
    expect([...status.alarmArns].sort()).toEqual(ALARMS.map((a) => a.arn).sort());
  });

  it('renders the text widgets as headings', () => {
    const texts = dashboard.widgets.filter((w) => w.kind === 'text');
    expect(texts.length).toBeGreaterThan(3);
    expect(texts[0]).toMatchObject({ html: '<h2>Alarms</h2>', transparent: true });
  });
});

describe('the metrics array', () => {
  it('expands "." and "..." from the metric before, and keeps explicit ids, expressions and hidden metrics', () => {
    const metrics = expandMetrics(
      [
        ['AWS/EC2', 'CPUUtilization', 'InstanceId', 'i-1', { id: 'm1' }],
        ['.', 'NetworkIn', '.', '.', { stat: 'Sum', yAxis: 'right' }],
        ['...', 'i-2', { visible: false }],
        ['...', { stat: 'Maximum', label: 'max', period: 60 }],
        [{ expression: 'm1 * 2', label: 'double', id: 'e1' }],
        ['Other', 'Metric'],
      ],
      { stat: 'Average', period: 300 },
      'w',
    );
    expect(metrics.map((m) => [m.id, m.namespace, m.metricName, m.dimensions, m.stat, m.period])).toEqual([
      ['m1', 'AWS/EC2', 'CPUUtilization', { InstanceId: 'i-1' }, 'Average', 300],
      ['m2', 'AWS/EC2', 'NetworkIn', { InstanceId: 'i-1' }, 'Sum', 300],
      ['m3', 'AWS/EC2', 'NetworkIn', { InstanceId: 'i-2' }, 'Average', 300],
      ['m4', 'AWS/EC2', 'NetworkIn', { InstanceId: 'i-2' }, 'Maximum', 60],
      ['e1', undefined, undefined, undefined, 'Average', 300],
      ['m5', 'Other', 'Metric', {}, 'Average', 300],
    ]);
    expect(metrics[1].yAxis).toBe('right');
    expect(metrics[2].visible).toBe(false);
    expect(metrics[4]).toMatchObject({ expression: 'm1 * 2', label: 'double' });
    // Same name: the stat and the dimension value that differ make the label.
    expect(metrics.map((m) => m.label)).toEqual([
      'CPUUtilization',
      'NetworkIn Sum i-1',
      'NetworkIn Average i-2',
      'max',
      'double',
      'Metric',
    ]);
  });

  it('rejects what CloudWatch rejects, naming the entry', () => {
    const bad = (metrics: unknown) => () => expandMetrics(metrics, {}, 'widget w3');
    expect(bad([['.', 'X']])).toThrow('widget w3.metrics[0] uses "." or "..." but no metric comes before it');
    expect(bad([['NS']])).toThrow(/metrics\[0\] must be \[namespace, metricName/);
    expect(bad([['NS', 'A', 'Dim']])).toThrow(/metrics\[0\] must be/);
    expect(bad([[{ label: 'no metric' }]])).toThrow('needs a namespace and metric name, or an expression');
    expect(bad([['NS', 'A', { id: 'Upper' }]])).toThrow('must start with a lowercase letter');
    expect(
      bad([
        ['NS', 'A', { id: 'a' }],
        ['NS', 'B', { id: 'a' }],
      ]),
    ).toThrow('id "a" is used twice');
    expect(bad([['NS', 'A', { yAxis: 'up' }]])).toThrow('yAxis must be "left" or "right"');
    expect(bad('nope')).toThrow('widget w3.metrics must be an array');
  });
});

describe('the dashboard body', () => {
  it('places widgets without x and y left to right, wrapping at 24 columns, below the placed ones', () => {
    const d = parseDashboardBody(
      JSON.stringify({
        widgets: [
          { type: 'text', x: 0, y: 0, width: 24, height: 2, properties: { markdown: 'top' } },
          { type: 'text', width: 12, height: 3, properties: { markdown: 'a' } },
          { type: 'text', width: 12, height: 1, properties: { markdown: 'b' } },
          { type: 'text', properties: { markdown: 'c' } },
        ],
      }),
      'd',
    );
    expect(d.widgets.map((w) => [w.x, w.y, w.width, w.height])).toEqual([
      [0, 0, 24, 2],
      [0, 2, 12, 3],
      [12, 2, 12, 1],
      [0, 5, 6, 6],
    ]);
    expect(d.start).toBe('-PT3H');
  });

  it('keeps widget types it cannot draw as titled placeholders', () => {
    const d = parseDashboardBody(
      {
        widgets: [
          { type: 'log', x: 0, y: 0, width: 6, height: 6, properties: { title: 'Logs', query: 'x' } },
        ],
      },
      'd',
    );
    expect(d.widgets[0]).toMatchObject({ kind: 'unsupported', title: 'Logs' });
    expect((d.widgets[0] as { reason: string }).reason).toContain('log widget');
  });

  it('reads annotations: lines, bands, fills, vertical marks, hidden ones left out', () => {
    const d = parseDashboardBody(
      {
        widgets: [
          {
            type: 'metric',
            properties: {
              metrics: [['NS', 'M']],
              annotations: {
                horizontal: [
                  { value: 1, label: 'line', fill: 'above' },
                  [{ value: 2, label: 'band', color: '#00ff00' }, { value: 3 }],
                  { value: 9, visible: false },
                  { value: 4, yAxis: 'right' },
                ],
                vertical: [{ value: '2026-01-01T00:00:00Z', label: 'deploy' }],
              },
              yAxis: { left: { min: 0, max: 10, label: 'psi' } },
              legend: { position: 'hidden' },
              view: 'singleValue',
              setPeriodToTimeRange: true,
            },
          },
        ],
      },
      'd',
    );
    const w = d.widgets[0] as MetricWidget;
    expect(w.horizontalAnnotations).toEqual([
      { value: 1, label: 'line', fill: 'above', yAxis: 'left' },
      { value: 2, toValue: 3, label: 'band', color: '#00ff00', yAxis: 'left' },
      { value: 4, yAxis: 'right' },
    ]);
    expect(w.verticalAnnotations).toEqual([{ value: '2026-01-01T00:00:00Z', label: 'deploy' }]);
    expect(w).toMatchObject({
      yAxis: { left: { min: 0, max: 10, label: 'psi' } },
      legend: 'hidden',
      view: 'singleValue',
      setPeriodToTimeRange: true,
    });
  });

  it('fails with the dashboard and widget named', () => {
    expect(() => parseDashboardBody('{', 'd')).toThrow('dashboard d: the body is not JSON');
    expect(() => parseDashboardBody({}, 'd')).toThrow('dashboard d: the body needs a widgets array');
    expect(() => parseDashboardBody({ widgets: [{ type: 'text', x: 20, y: 0, width: 6 }] }, 'd')).toThrow(
      'dashboard d widgets[0] does not fit the 24 columns (x 20 + width 6)',
    );
    expect(() => parseDashboardBody({ widgets: [{ type: 'metric', properties: {} }] }, 'd')).toThrow(
      'dashboard d widgets[0].properties has neither metrics nor alarm annotations',
    );
    expect(() => parseDashboardBody({ start: '-P1M', widgets: [] }, 'd')).toThrow(
      'the start "-P1M" is neither an ISO 8601 duration',
    );
    // An absolute range is fine, whenever it is.
    expect(
      parseDashboardBody({ start: '2030-01-01T00:00:00Z', end: '2030-01-02T00:00:00Z', widgets: [] }, 'd'),
    ).toMatchObject({ start: '2030-01-01T00:00:00Z', end: '2030-01-02T00:00:00Z' });
  });
});

describe('time ranges', () => {
  it('parses ISO 8601 durations in weeks, days, hours, minutes and seconds', () => {
    expect(parseDuration('-P1D')).toBe(-86_400_000);
    expect(parseDuration('PT3H')).toBe(3 * HOUR);
    expect(parseDuration('-P1W')).toBe(-7 * 86_400_000);
    expect(parseDuration('-PT1H30M')).toBe(-1.5 * HOUR);
    expect(parseDuration('PT90S')).toBe(90_000);
    for (const bad of ['P', '-P', 'PT', 'P1Y', 'P1M', '1D', 'P1DT'])
      expect(parseDuration(bad)).toBeUndefined();
  });

  it('resolves a range relative to the platform clock, or absolute times', () => {
    const now = new Date('2026-11-27T12:00:00Z');
    expect(resolveTimeRange({ start: '-PT3H' }, now)).toEqual({
      start: new Date('2026-11-27T09:00:00Z'),
      end: now,
    });
    expect(resolveTimeRange({ start: '2026-11-27T00:00:00Z', end: '-PT1H' }, now)).toEqual({
      start: new Date('2026-11-27T00:00:00Z'),
      end: new Date('2026-11-27T11:00:00Z'),
    });
    expect(() => resolveTimeRange({ start: '-PT1H', end: '-PT2H' }, now)).toThrow('ends');
  });
});

describe('text widget markdown', () => {
  it('renders headings, lists, emphasis, code and web links', () => {
    expect(
      renderMarkdown(
        '# Title\nSome **bold** and *it* with `a<b`\n\n- one\n- [docs](https://example.com/a?b=1&c=2)\n\n1. first',
      ),
    ).toBe(
      [
        '<h1>Title</h1>',
        '<p>Some <strong>bold</strong> and <em>it</em> with <code>a&lt;b</code></p>',
        '<ul><li>one</li><li><a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">docs</a></li></ul>',
        '<ol><li>first</li></ol>',
      ].join('\n'),
    );
  });

  it('escapes HTML and drops scriptable links', () => {
    const html = renderMarkdown(
      '<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) [y](data:text/html,hi) [z](https://ok" onclick="x)',
    );
    expect(html).not.toMatch(/<script|<img|href="javascript|href="data|onclick="/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&quot; onclick=&quot;x');
  });
});

describe('widget data from the metric store', () => {
  const clock = frozen('2026-11-27T12:30:00Z');
  const store = new MetricStore(clock);
  const at = (iso: string) => new Date(iso);
  const put = (metricName: string, value: number, iso: string) =>
    store.put({ namespace: 'App', metricName, dimensions: { P: 'x' }, values: [value], timestamp: at(iso) });
  put('Requests', 3, '2026-11-27T10:10:00Z');
  put('Requests', 4, '2026-11-27T10:50:00Z');
  put('Requests', 5, '2026-11-27T12:29:00Z');
  put('Errors', 1, '2026-11-27T12:05:00Z');
  const widget = parseDashboardBody(
    {
      widgets: [
        {
          type: 'metric',
          properties: {
            stat: 'Sum',
            period: 3600,
            metrics: [
              ['App', 'Requests', 'P', 'x', { id: 'r' }],
              ['.', 'Errors', '.', '.', { id: 'e', visible: false }],
              [{ expression: 'e / r * 100', label: 'error %', id: 'pct' }],
              ['App', 'Requests', 'P', 'x', { stat: 'Maximum', period: 300, color: '#123456' }],
            ],
          },
        },
      ],
    },
    'd',
  ).widgets[0] as MetricWidget;
  const range = { start: at('2026-11-27T09:45:00Z'), end: clock.now() };

  it('evaluates each series over periods aligned to the longest, with math, hidden series left out', () => {
    const data = metricWidgetData(widget, store, range);
    if (data.kind !== 'metric') throw new Error('not metric data');
    expect(data.error).toBeUndefined();
    const t = (iso: string) => Date.parse(iso) / 1000;
    expect(data.x).toEqual([
      t('2026-11-27T10:00:00Z'),
      t('2026-11-27T10:10:00Z'),
      t('2026-11-27T10:50:00Z'),
      t('2026-11-27T12:00:00Z'),
      t('2026-11-27T12:25:00Z'),
    ]);
    expect(data.series.map((s) => [s.id, s.label, s.color, s.values])).toEqual([
      ['r', 'Requests Sum', '#1f77b4', [7, null, null, 5, null]],
      // Metric math counts a missing value as 0 (the store's rule): no errors in the 10:00 hour is 0 %.
      ['pct', 'error %', '#ff7f0e', [0, null, null, 20, null]],
      ['m1', 'Requests Maximum', '#123456', [null, 3, 4, null, 5]],
    ]);
  });

  it('puts the whole range in one period for a single value with setPeriodToTimeRange', () => {
    const single: MetricWidget = { ...widget, view: 'singleValue', setPeriodToTimeRange: true };
    const data = metricWidgetData(single, store, range);
    if (data.kind !== 'metric') throw new Error('not metric data');
    expect(data.x).toHaveLength(1);
    expect(data.series[0].values).toEqual([12]);
  });

  it('reports a query the store cannot evaluate as the widget error', () => {
    const broken: MetricWidget = {
      ...widget,
      metrics: [...widget.metrics, { ...widget.metrics[2], id: 'bad', expression: 'SEARCH(x)' }],
    };
    const data = metricWidgetData(broken, store, range);
    expect(data).toMatchObject({ kind: 'metric', error: expect.stringContaining('SEARCH') });
  });
});

describe('alarm widget data', () => {
  const clock = frozen('2026-11-27T12:00:00Z');
  const evaluator = new AlarmEvaluator({
    alarms: ALARMS,
    store: new MetricStore(clock),
    clock,
    region: LOCAL.pseudo.region,
    accountId: LOCAL.pseudo.accountId,
  });
  const status = LAYOUT.dashboards[0].widgets.find((w) => w.kind === 'alarm') as AlarmWidget;
  evaluator.setAlarmState({ AlarmName: 'devmlops-drift', StateValue: 'ALARM', StateReason: 'test' });
  evaluator.setAlarmState({ AlarmName: 'devmlops-dlq-depth', StateValue: 'OK', StateReason: 'test' });

  it('shows each alarm with its current state and reason, by name by default', () => {
    const data = alarmWidgetData(status, evaluator);
    if (data.kind !== 'alarm') throw new Error('not alarm data');
    expect(data.alarms.map((a) => a.name)).toEqual(ALARMS.map((a) => a.name).sort());
    expect(data.alarms.find((a) => a.name === 'devmlops-drift')).toMatchObject({
      state: 'ALARM',
      reason: 'test',
    });
    expect(data.alarms.find((a) => a.name === 'devmlops-lambda-errors')?.state).toBe('INSUFFICIENT_DATA');
  });

  it('sorts by state then time, filters by state, and marks alarms the templates do not have', () => {
    const data = alarmWidgetData(
      {
        ...status,
        sortBy: 'stateUpdatedTimestamp',
        alarmArns: [...status.alarmArns, 'arn:aws:cloudwatch:us-east-1:000000000000:alarm:elsewhere'],
      },
      evaluator,
    );
    if (data.kind !== 'alarm') throw new Error('not alarm data');
    expect(data.alarms[0]).toMatchObject({ name: 'devmlops-drift', state: 'ALARM' });
    expect(data.alarms.at(-2)).toMatchObject({ name: 'devmlops-dlq-depth', state: 'OK' });
    expect(data.alarms.at(-1)).toMatchObject({ name: 'elsewhere', state: 'UNKNOWN' });
    const onlyAlarm = alarmWidgetData({ ...status, states: ['ALARM'] }, evaluator);
    expect(onlyAlarm.kind === 'alarm' && onlyAlarm.alarms.map((a) => a.name)).toEqual(['devmlops-drift']);
  });
});

describe('report keys', () => {
  it('serves only .html and .json under the drift and validation report prefixes', () => {
    for (const ok of [
      'reports/drift/devmlops-endpoint/2026/11/27/12.html',
      'reports/validation/churn/abc-123.json',
    ])
      expect(isServableReportKey(ok)).toBe(true);
    for (const bad of [
      'reports/drift/../../curated/churn/x.html',
      'reports/drift/./x.html',
      'reports/drift//x.html',
      'reports/validation/churn/x.csv',
      'capture/devmlops-endpoint/x.json',
      'baselines/current.json',
      'reports/drift/x.html/../../y.html',
      'reports/other/x.html',
      '/reports/drift/x.html',
      'reports/drift/x y.html',
    ])
      expect(isServableReportKey(bad)).toBe(false);
  });
});

describe('the dashboard server', () => {
  let s3: TestS3;
  let server: DashboardServer;
  const bucket = 'dash-artifacts';
  const clock = frozen('2026-11-27T12:30:00Z');
  const store = new MetricStore(clock);
  const get = (p: string, init?: RequestInit) => fetch(new URL(p, server.url), init);

  beforeAll(async () => {
    s3 = await startTestS3([bucket, 'dash-other']);
    const put = (Bucket: string, Key: string, Body: string) =>
      s3.s3.send(new PutObjectCommand({ Bucket, Key, Body }));
    await put(bucket, 'reports/drift/devmlops-endpoint/2026/11/27/10.html', '<h1>drift 10</h1>');
    await put(bucket, 'reports/drift/devmlops-endpoint/2026/11/27/10.json', '{"hour":10}');
    await put(bucket, 'reports/drift/devmlops-endpoint/2026/11/27/11.json', '{"hour":11}');
    await put(bucket, 'reports/validation/churn/abc.html', '<h1>validation</h1>');
    await put(bucket, 'curated/churn/secret.csv', 'not for the dashboard');
    await put(bucket, 'reports/drift/devmlops-endpoint/2026/11/27/notes.txt', 'not a report');
    store.put({
      namespace: 'DevMLOps',
      metricName: 'MaxFeatureDrift',
      dimensions: { Project: 'devmlops' },
      values: [0.5],
      timestamp: new Date('2026-11-27T11:30:00Z'),
    });
    server = await startDashboardServer({
      source: {
        templates: LOCAL,
        metrics: store,
        alarms: new AlarmEvaluator({ alarms: ALARMS, store, clock, region: 'us-east-1', accountId: '0' }),
        clock,
        s3: s3.s3,
        artifactsBucket: bucket,
      },
    });
  });

  afterAll(async () => {
    await server?.close();
    await s3?.stop();
  });

  it('serves one self-contained page: uPlot and the page script inline, nothing loaded from elsewhere', async () => {
    const r = await get('/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await r.text();
    expect(html).toContain('uPlot');
    expect(html).not.toMatch(
      /<script[^>]+src=|<link[^>]+stylesheet|(src|href)\s*=\s*["']?https?:|url\(\s*["']?https?:|@import/,
    );
    // Everything the page runs is inline: a script per file, no closing tag inside a script.
    expect(html.match(/<script>/g)).toHaveLength(2);
  });

  it('serves the layout and the data of every widget at the platform clock', async () => {
    const layout = (await (await get('/api/layout')).json()) as LayoutResponse;
    expect(layout.dashboards[0].widgets).toHaveLength(LAYOUT.dashboards[0].widgets.length);
    const data = (await (await get('/api/data?range=PT6H')).json()) as DataResponse;
    expect(data).toMatchObject({
      dashboard: 'devmlops',
      now: '2026-11-27T12:30:00.000Z',
      start: '2026-11-27T06:30:00.000Z',
    });
    const widgets = layout.dashboards[0].widgets;
    const maxDrift = widgets.find((w) => w.title === 'MaxFeatureDrift and drifted features')!;
    const d = data.widgets[maxDrift.id];
    expect(d.kind === 'metric' && d.series[0]).toMatchObject({ label: 'MaxFeatureDrift', values: [0.5] });
    // Every metric and alarm widget has an entry; text widgets need none.
    for (const w of widgets)
      expect(data.widgets[w.id] !== undefined).toBe(w.kind === 'metric' || w.kind === 'alarm');
    const bad = await get('/api/data?range=yesterday');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain('range "yesterday"');
    expect((await get('/api/data?dashboard=nope')).status).toBe(400);
  });

  it('links the latest reports, newest first, HTML and JSON together', async () => {
    const data = (await (await get('/api/data')).json()) as DataResponse;
    expect(data.reports.map((r) => [r.kind, r.name, r.htmlUrl ?? null, r.jsonUrl ?? null])).toEqual([
      [
        'drift',
        'reports/drift/devmlops-endpoint/2026/11/27/11',
        null,
        '/reports/drift/devmlops-endpoint/2026/11/27/11.json',
      ],
      [
        'drift',
        'reports/drift/devmlops-endpoint/2026/11/27/10',
        '/reports/drift/devmlops-endpoint/2026/11/27/10.html',
        '/reports/drift/devmlops-endpoint/2026/11/27/10.json',
      ],
      ['validation', 'reports/validation/churn/abc', '/reports/validation/churn/abc.html', null],
    ]);
    expect((await latestReports(s3.s3, bucket, 1)).map((r) => r.name)).toEqual([
      'reports/drift/devmlops-endpoint/2026/11/27/11',
      'reports/validation/churn/abc',
    ]);
  });

  it('serves a report from the artifacts bucket, and nothing else of it', async () => {
    const r = await get('/reports/drift/devmlops-endpoint/2026/11/27/10.html');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(r.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await r.text()).toBe('<h1>drift 10</h1>');
    for (const p of [
      '/reports/drift/../../curated/churn/secret.csv',
      '/reports/drift/%2e%2e/%2e%2e/curated/churn/secret.csv',
      '/reports/drift%2F..%2F..%2Fcurated%2Fchurn%2Fsecret.csv',
      '/reports/curated/churn/secret.csv',
      '/reports/drift/devmlops-endpoint/2026/11/27/notes.txt',
      '/curated/churn/secret.csv',
    ]) {
      const res = await fetch(`${server.url.replace(/\/$/, '')}${p}`);
      expect([p, res.status]).toEqual([p, 404]);
      expect(await res.text()).not.toContain('not for the dashboard');
    }
    expect((await get('/reports/drift/devmlops-endpoint/2026/11/27/09.html')).status).toBe(404);
    expect((await get('/reports/drift/%E0%A4%A.html')).status).toBe(400);
  });

  it('answers only GET for loopback host names', async () => {
    expect((await get('/api/layout', { method: 'POST' })).status).toBe(405);
    const rebound = await new Promise<number>((resolve, reject) => {
      // fetch sets Host from the URL; a raw request can claim another one, as a rebound DNS name would.
      const u = new URL(server.url);
      http
        .get(
          { host: u.hostname, port: u.port, path: '/api/layout', headers: { host: 'evil.example:80' } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
        .on('error', reject);
    });
    expect(rebound).toBe(403);
    expect((await get('/favicon.ico')).status).toBe(204);
    expect((await get('/nothing')).status).toBe(404);
  });
});

it('the browser page typechecks with DOM types (the repository tsconfig does not cover it)', async () => {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const out = await new Promise<{ code: number; text: string }>((resolve) =>
    execFile(
      process.execPath,
      [tsc, '-p', path.join(ROOT, 'lib', 'local', 'dashboard-page', 'tsconfig.json')],
      { cwd: ROOT },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, text: stdout + stderr }),
    ),
  );
  expect(out).toEqual({ code: 0, text: '' });
});
