import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  AlarmEvaluator,
  alarmsFromTemplates,
  alarmStateChangeEvent,
  cloudWatchOperations,
  MetricStore,
  type AlarmDefinition,
  type AlarmStateChange,
  type TreatMissingData,
} from '../../lib/local/cloudwatch';
import { LocalClock } from '../../lib/local/clock';
import { synthesizeApp } from '../../lib/local/synthesize';
import { LocalTemplates } from '../../lib/local/template';

/**
 * Local CloudWatch: the metric store behind PutMetricData, GetMetricData and EMF, and the alarms of the
 * synthesized templates evaluated as the CloudWatch user guide describes ("Evaluating an alarm", "How alarm
 * state is evaluated when data is missing", "Metric math syntax and functions").
 */

const LOCAL = new LocalTemplates(synthesizeApp().templates);
const ALARMS = alarmsFromTemplates(LOCAL);
const { region, accountId } = LOCAL.pseudo;
const HOUR = 3_600_000;
const MINUTE = 60_000;

/** A clock that stands still unless advanced. */
const frozen = (iso: string) => new LocalClock({ start: new Date(iso), speed: 1e-9 });

const project = { Project: 'devmlops' };

describe('the metric store', () => {
  const clock = frozen('2026-11-27T12:00:00Z');
  const t0 = new Date('2026-11-27T11:00:00Z');
  const t1 = new Date('2026-11-27T12:00:00Z');
  const store = new MetricStore(clock);
  const put = (values: number[], counts?: number[], minutes = 10) =>
    store.put({
      namespace: 'App',
      metricName: 'Latency',
      dimensions: { Api: 'predict' },
      values,
      counts,
      timestamp: new Date(t0.getTime() + minutes * MINUTE),
    });
  put([10, 20, 30]);
  put([40], [7]);
  put([1000], undefined, 70); // outside [t0, t1)

  it.each([
    ['Sum', 340],
    ['SampleCount', 10],
    ['Average', 34],
    ['Minimum', 10],
    ['Maximum', 40],
    ['p50', 40],
    ['p10', 10],
    ['p30', 30],
    ['p100', 40],
  ])('computes %s over raw values and counts', (stat, expected) => {
    expect(store.stat('App', 'Latency', { Api: 'predict' }, stat, t0, t1)).toBe(expected);
  });

  it('matches the full dimension set and the time range', () => {
    expect(store.stat('App', 'Latency', {}, 'Sum', t0, t1)).toBeUndefined();
    expect(store.stat('App', 'Latency', { Api: 'predict', Extra: 'x' }, 'Sum', t0, t1)).toBeUndefined();
    expect(store.stat('App', 'Latency', { Api: 'predict' }, 'Sum', t1, new Date(t1.getTime() + HOUR))).toBe(
      1000,
    );
    expect(() => store.stat('App', 'Latency', { Api: 'predict' }, 'tm99', t0, t1)).toThrow(
      'unsupported statistic',
    );
  });

  it('gives no percentile for statistic sets', () => {
    const s = new MetricStore(clock);
    s.put({
      namespace: 'App',
      metricName: 'M',
      statisticValues: { sampleCount: 4, sum: 10, minimum: 1, maximum: 4 },
      timestamp: t0,
    });
    expect(s.stat('App', 'M', {}, 'Average', t0, t1)).toBe(2.5);
    expect(s.stat('App', 'M', {}, 'p99', t0, t1)).toBeUndefined();
  });
  it('keeps each datum at its own millisecond, whatever order and units the datums of one second come in', () => {
    // The store keeps a series' datums per second in arrays: a range that cuts a second in two, datums put out
    // of order (a deferred one stamped earlier) and two units within one second must read as one datum each.
    const s = new MetricStore(clock);
    const at = (ms: number) => new Date(t0.getTime() + ms);
    const m = (value: number, ms: number, unit = 'Milliseconds') =>
      s.put({ namespace: 'App', metricName: 'L', values: [value], timestamp: at(ms), unit });
    m(1, 100);
    m(2, 900);
    m(4, 1_500);
    m(8, 400); // back into the first second
    m(16, 600, 'Seconds');
    m(32, 2_000);
    const sum = (from: number, to: number, unit?: string) =>
      s.stat('App', 'L', {}, 'Sum', at(from), at(to), unit);
    expect(sum(0, 1_000)).toBe(1 + 2 + 8 + 16);
    expect(sum(0, 1_000, 'Milliseconds')).toBe(1 + 2 + 8);
    expect(sum(0, 1_000, 'Seconds')).toBe(16);
    expect(sum(400, 901)).toBe(2 + 8 + 16);
    expect(sum(401, 900)).toBe(16);
    expect(sum(901, 2_000)).toBe(4);
    expect(sum(901, 2_001)).toBe(4 + 32);
    expect(s.stat('App', 'L', {}, 'SampleCount', at(0), at(3_000), 'Milliseconds')).toBe(5);
    expect(s.stat('App', 'L', {}, 'p50', at(0), at(3_000), 'Milliseconds')).toBe(4);
    expect(sum(2_001, 3_000)).toBeUndefined();
  });

  it('keeps every datum of a busy second, counts included, as a plain list of them gives', () => {
    // One second's arrays start small and grow, and keep counts only once a count is not 1: datums put before and
    // after that point, and ranges that cut the second, must read as the same datums kept in a plain list.
    const s = new MetricStore(clock);
    const kept: Array<{ ms: number; value: number; count: number }> = [];
    for (let i = 0; i < 700; i++) {
      const ms = (i * 7919) % 1000;
      const value = ((i * 104_729) % 997) / 10;
      const count = i < 300 ? 1 : 1 + (i % 4);
      kept.push({ ms, value, count });
      s.put({
        namespace: 'App',
        metricName: 'Busy',
        values: [value],
        counts: [count],
        timestamp: new Date(t0.getTime() + ms),
      });
    }
    for (const [from, to] of [
      [0, 1_000],
      [250, 750],
      [999, 1_000],
    ]) {
      const inside = kept.filter((k) => k.ms >= from && k.ms < to);
      const stat = (name: string) =>
        s.stat('App', 'Busy', {}, name, new Date(t0.getTime() + from), new Date(t0.getTime() + to));
      expect(stat('SampleCount')).toBe(inside.reduce((n, k) => n + k.count, 0));
      expect(stat('Sum')).toBeCloseTo(
        inside.reduce((n, k) => n + k.value * k.count, 0),
        6,
      );
      expect(stat('Maximum')).toBe(Math.max(...inside.map((k) => k.value)));
      const sorted = inside.flatMap((k) => Array<number>(k.count).fill(k.value)).sort((a, b) => a - b);
      expect(stat('p90')).toBe(sorted[Math.ceil(0.9 * sorted.length) - 1]);
    }
  });
});

describe('PutMetricData', () => {
  const clock = frozen('2026-11-27T12:00:00Z');

  it('stores what the SDK sends (awsJson timestamps are epoch seconds)', () => {
    const store = new MetricStore(clock);
    expect(
      store.putMetricData({
        Namespace: 'DevMLOps',
        MetricData: [
          {
            MetricName: 'FilesAccepted',
            Dimensions: [{ Name: 'Project', Value: 'devmlops' }],
            Value: 1,
            Unit: 'Count',
            Timestamp: Date.parse('2026-11-27T11:30:00Z') / 1000,
          },
          {
            MetricName: 'RowsValidated',
            Dimensions: [{ Name: 'Project', Value: 'devmlops' }],
            Values: [5, 7],
            Counts: [2, 1],
          },
        ],
      }),
    ).toEqual({});
    const hour = [new Date('2026-11-27T11:00:00Z'), new Date('2026-11-27T12:00:00Z')] as const;
    expect(store.stat('DevMLOps', 'FilesAccepted', project, 'Sum', ...hour)).toBe(1);
    // No Timestamp: the clock's now, which is in the next hour.
    expect(store.stat('DevMLOps', 'RowsValidated', project, 'Sum', ...hour)).toBeUndefined();
    expect(
      store.stat('DevMLOps', 'RowsValidated', project, 'Sum', hour[1], new Date('2026-11-27T13:00:00Z')),
    ).toBe(17);
  });

  it.each<[string, unknown, string, string]>([
    ['no namespace', { MetricData: [{ MetricName: 'm', Value: 1 }] }, 'MissingParameter', 'Namespace'],
    [
      'an AWS/ namespace',
      { Namespace: 'AWS/Lambda', MetricData: [{ MetricName: 'm', Value: 1 }] },
      'InvalidParameterValue',
      'AWS/Lambda',
    ],
    ['no data', { Namespace: 'N', MetricData: [] }, 'InvalidParameterValue', 'MetricData'],
    [
      'no metric name',
      { Namespace: 'N', MetricData: [{ Value: 1 }] },
      'MissingParameter',
      'MetricData.member.1.MetricName',
    ],
    [
      'no value',
      { Namespace: 'N', MetricData: [{ MetricName: 'm' }] },
      'MissingParameter',
      'MetricData.member.1.Value',
    ],
    [
      'Value and Values',
      { Namespace: 'N', MetricData: [{ MetricName: 'm', Value: 1, Values: [1] }] },
      'InvalidParameterCombination',
      'mutually exclusive',
    ],
    [
      'Counts of another length',
      { Namespace: 'N', MetricData: [{ MetricName: 'm', Values: [1, 2], Counts: [1] }] },
      'InvalidParameterValue',
      'same size',
    ],
    [
      'a bad unit',
      { Namespace: 'N', MetricData: [{ MetricName: 'm', Value: 1, Unit: 'Apples' }] },
      'InvalidParameterValue',
      'Unit',
    ],
    [
      'a NaN',
      { Namespace: 'N', MetricData: [{ MetricName: 'm', Value: NaN }] },
      'InvalidParameterValue',
      'Value',
    ],
    [
      'a dimension without a value',
      { Namespace: 'N', MetricData: [{ MetricName: 'm', Value: 1, Dimensions: [{ Name: 'd' }] }] },
      'MissingParameter',
      'Dimensions.member.1.Value',
    ],
  ])('rejects %s like CloudWatch', (_name, request, code, message) => {
    const store = new MetricStore(clock);
    expect(() => store.putMetricData(request)).toThrow(
      expect.objectContaining({ name: code, statusCode: 400 }),
    );
    expect(() => store.putMetricData(request)).toThrow(message);
    expect(store.list().Metrics).toEqual([]);
  });

  it('stores nothing when any datum is invalid', () => {
    const store = new MetricStore(clock);
    expect(() =>
      store.putMetricData({
        Namespace: 'N',
        MetricData: [
          { MetricName: 'ok', Value: 1 },
          { MetricName: 'bad', Value: 'x' },
        ],
      }),
    ).toThrow('MetricData.member.2.Value');
    expect(store.list().Metrics).toEqual([]);
  });
});

describe('Embedded Metric Format', () => {
  const clock = frozen('2026-11-27T12:30:00Z');
  const window = [new Date('2026-11-27T12:00:00Z'), new Date('2026-11-27T13:00:00Z')] as const;

  it('stores the metrics of a Powertools line at the clock time, with exactly its dimensions', () => {
    const metrics = new Metrics({ namespace: 'DevMLOps', serviceName: 'devmlops' });
    metrics.clearDefaultDimensions();
    metrics.setDefaultDimensions({ Project: 'devmlops' });
    metrics.addMetric('FilesAccepted', MetricUnit.Count, 1);
    metrics.addMetric('RowsValidated', MetricUnit.Count, 120);
    const line = JSON.stringify(metrics.serializeMetrics());
    const store = new MetricStore(clock);
    expect(store.putEmf(line)).toBe(2);
    expect(store.stat('DevMLOps', 'FilesAccepted', project, 'Sum', ...window)).toBe(1);
    expect(store.stat('DevMLOps', 'RowsValidated', project, 'Sum', ...window)).toBe(120);
    expect(store.list({ Namespace: 'DevMLOps' }).Metrics).toEqual([
      {
        Namespace: 'DevMLOps',
        MetricName: 'FilesAccepted',
        Dimensions: [{ Name: 'Project', Value: 'devmlops' }],
      },
      {
        Namespace: 'DevMLOps',
        MetricName: 'RowsValidated',
        Dimensions: [{ Name: 'Project', Value: 'devmlops' }],
      },
    ]);
  });

  it('follows the specification: dimension sets, value arrays, a Lambda prefix', () => {
    const store = new MetricStore(clock);
    const doc = {
      _aws: {
        Timestamp: 1574109732004,
        CloudWatchMetrics: [
          {
            Namespace: 'lambda-function-metrics',
            Dimensions: [['functionVersion'], []],
            Metrics: [{ Name: 'time', Unit: 'Milliseconds' }],
          },
        ],
      },
      functionVersion: '$LATEST',
      time: [100, 300],
      requestId: '989ffbf8-9ace-4817-a57c-e4dd734019ee',
    };
    expect(store.putEmf(`2026-11-27T12:30:00.000Z\tabc-123\tINFO\t${JSON.stringify(doc)}`)).toBe(2);
    expect(
      store.stat('lambda-function-metrics', 'time', { functionVersion: '$LATEST' }, 'Average', ...window),
    ).toBe(200);
    expect(store.stat('lambda-function-metrics', 'time', {}, 'SampleCount', ...window)).toBe(2);
  });

  it('ignores lines that are not EMF and rejects EMF that breaks the specification', () => {
    const store = new MetricStore(clock);
    expect(store.putEmf('START RequestId: 1 Version: $LATEST')).toBe(0);
    expect(store.putEmf('{"level":"INFO","message":"hello"}')).toBe(0);
    expect(store.putEmf('{not json')).toBe(0);
    const emf = (extra: Record<string, unknown>, metric = { Name: 'm' }) =>
      JSON.stringify({
        _aws: { CloudWatchMetrics: [{ Namespace: 'N', Dimensions: [['d']], Metrics: [metric] }] },
        ...extra,
      });
    expect(() => store.putEmf(emf({ d: 'x', m: 'high' }))).toThrow('metric m must be a number');
    expect(() => store.putEmf(emf({ m: 1 }))).toThrow('dimension d must be a string');
    expect(() => store.putEmf(emf({ d: 'x', m: 1 }, { Name: 'm', Unit: 'Apples' } as never))).toThrow(
      'not a CloudWatch unit',
    );
    expect(store.list().Metrics).toEqual([]);
  });

  it('stores deferred datums and lines at their publication time: before any read, or on the next turn', async () => {
    const later = frozen('2026-11-27T12:30:00Z');
    const store = new MetricStore(later);
    const emf = (m: unknown) =>
      JSON.stringify({
        _aws: { CloudWatchMetrics: [{ Namespace: 'N', Dimensions: [['d']], Metrics: [{ Name: 'm' }] }] },
        d: 'x',
        m,
      });
    store.putLater({ namespace: 'N', metricName: 'm', dimensions: { d: 'x' }, values: [1] });
    store.putEmfLater(emf(5));
    // Read an hour later: both are there, at 12:30, not at the time of the read.
    later.advance(3_600_000);
    expect(store.stat('N', 'm', { d: 'x' }, 'Sum', ...window)).toBe(6);
    expect(store.stat('N', 'm', { d: 'x' }, 'SampleCount', ...window)).toBe(2);
    // With no read, the next turn of the event loop stores them; a broken document is a warning, not a throw.
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      store.putEmfLater(emf('high'));
      store.putEmfLater(emf(7));
      expect(warn).not.toHaveBeenCalled();
      // The store flushes on a 0 ms timer; one set after it fires after it (an immediate may run first).
      await new Promise((r) => setTimeout(r, 0));
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toContain('metric m must be a number');
    } finally {
      warn.mockRestore();
    }
    expect(
      store.stat(
        'N',
        'm',
        { d: 'x' },
        'Sum',
        new Date('2026-11-27T13:00:00Z'),
        new Date('2026-11-27T14:00:00Z'),
      ),
    ).toBe(7);
  });
});

describe('GetMetricData and metric math', () => {
  const clock = frozen('2026-11-27T12:00:00Z');
  const store = new MetricStore(clock);
  const at = (iso: string) => new Date(iso);
  for (const [name, iso, v] of [
    ['FilesAccepted', '2026-11-27T09:10:00Z', 3],
    ['FilesQuarantined', '2026-11-27T09:20:00Z', 1],
    ['FilesQuarantined', '2026-11-27T10:20:00Z', 2],
  ] as const) {
    store.put({
      namespace: 'DevMLOps',
      metricName: name,
      dimensions: project,
      values: [v],
      timestamp: at(iso),
    });
  }
  const stat = (id: string, name: string) => ({
    Id: id,
    MetricStat: {
      Metric: {
        Namespace: 'DevMLOps',
        MetricName: name,
        Dimensions: [{ Name: 'Project', Value: 'devmlops' }],
      },
      Period: 3600,
      Stat: 'Sum',
    },
    ReturnData: false,
  });
  const query = (Expression: string, ScanBy?: string) =>
    store.getMetricData({
      StartTime: Date.parse('2026-11-27T08:00:00Z') / 1000,
      EndTime: Date.parse('2026-11-27T12:00:00Z') / 1000,
      ScanBy,
      MetricDataQueries: [
        stat('accepted', 'FilesAccepted'),
        stat('quarantined', 'FilesQuarantined'),
        { Id: 'e1', Expression },
      ],
    }).MetricDataResults[0];
  const points = (r: { Timestamps: Date[]; Values: number[] }) =>
    Object.fromEntries(r.Timestamps.map((t, i) => [t.toISOString().slice(11, 16), r.Values[i]]));

  it('returns MetricStat datapoints per period, newest first by default', () => {
    const r = store.getMetricData({
      StartTime: at('2026-11-27T08:00:00Z'),
      EndTime: at('2026-11-27T12:00:00Z'),
      MetricDataQueries: [{ ...stat('q', 'FilesQuarantined'), ReturnData: true }],
    }).MetricDataResults;
    expect(r).toEqual([
      {
        Id: 'q',
        Label: 'FilesQuarantined',
        Timestamps: [at('2026-11-27T10:00:00Z'), at('2026-11-27T09:00:00Z')],
        Values: [2, 1],
        StatusCode: 'Complete',
      },
    ]);
  });

  it('gives each MetricStat its own period', () => {
    const r = store.getMetricData({
      StartTime: at('2026-11-27T09:00:00Z'),
      EndTime: at('2026-11-27T09:30:00Z'),
      ScanBy: 'TimestampAscending',
      MetricDataQueries: [
        { ...stat('h', 'FilesAccepted'), ReturnData: true },
        {
          ...stat('m', 'FilesAccepted'),
          ReturnData: true,
          MetricStat: { ...stat('m', 'FilesAccepted').MetricStat, Period: 300 },
        },
      ],
    }).MetricDataResults;
    expect(r.map((x) => [x.Id, x.Timestamps.map((t) => t.toISOString().slice(11, 16)), x.Values])).toEqual([
      ['h', ['09:00'], [3]],
      ['m', ['09:10'], [3]],
    ]);
  });

  it('treats a missing value as 0 in arithmetic and drops divisions by zero', () => {
    expect(points(query('quarantined - accepted', 'TimestampAscending'))).toEqual({
      '09:00': -2,
      '10:00': 2,
    });
    expect(points(query('accepted / quarantined'))).toEqual({ '09:00': 3, '10:00': 0 });
    expect(points(query('quarantined / accepted'))).toEqual({ '09:00': 1 / 3 });
  });

  it('fills every period with FILL, so the quarantine rate exists where files arrived', () => {
    expect(points(query('FILL(quarantined, 0) / (FILL(accepted, 0) + FILL(quarantined, 0))'))).toEqual({
      '09:00': 0.25,
      '10:00': 1,
    });
    expect(points(query('FILL(accepted, 0)'))).toEqual({ '08:00': 0, '09:00': 3, '10:00': 0, '11:00': 0 });
    expect(points(query('FILL(quarantined, REPEAT)'))).toEqual({ '09:00': 1, '10:00': 2, '11:00': 2 });
  });

  it('computes SUM, AVG, MIN, MAX over arrays per timestamp, and scalars over one series', () => {
    expect(points(query('SUM([accepted, quarantined])'))).toEqual({ '09:00': 4, '10:00': 2 });
    expect(points(query('AVG([accepted, quarantined])'))).toEqual({ '09:00': 2, '10:00': 1 });
    expect(points(query('MAX(METRICS())'))).toEqual({ '09:00': 3, '10:00': 2 });
    expect(points(query('quarantined - MIN(quarantined) + 2 ^ 2 * -1'))).toEqual({
      '09:00': -4,
      '10:00': -3,
    });
    expect(points(query('TIME_SERIES(SUM(quarantined))'))).toEqual({
      '08:00': 3,
      '09:00': 3,
      '10:00': 3,
      '11:00': 3,
    });
  });

  it('rejects what it cannot evaluate', () => {
    expect(() => query('ANOMALY_DETECTION_BAND(accepted)')).toThrow(
      expect.objectContaining({
        name: 'ValidationError',
        message: expect.stringContaining('unsupported function ANOMALY_DETECTION_BAND'),
      }),
    );
    expect(() => query('nope + 1')).toThrow('unknown id nope');
    expect(() => query('SUM(accepted)')).toThrow('must be a single time series');
    expect(() => query('accepted > 1')).toThrow('unsupported operator');
  });
});

/** An alarm on a one-minute metric, for the tables of the user guide. */
function minuteAlarm(m: number, n: number, treat: TreatMissingData): AlarmDefinition {
  return {
    name: `test-${m}-of-${n}-${treat}`,
    arn: `arn:aws:cloudwatch:${region}:${accountId}:alarm:test`,
    metric: { metric: { namespace: 'Test', metricName: 'M', dimensions: {} }, period: 60, stat: 'Maximum' },
    period: 60,
    evaluationPeriods: n,
    datapointsToAlarm: m,
    threshold: 5,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: treat,
    actionsEnabled: true,
    alarmActions: [],
    okActions: [],
    insufficientDataActions: [],
  };
}

describe('alarm evaluation with missing data (the tables of the CloudWatch user guide)', () => {
  const RETAIN = 'retain';
  // Data points oldest first over the 5 most recent periods: 0 not breaching, X breaching, - missing.
  // Columns: MISSING, IGNORE, BREACHING, NOT BREACHING.
  const rows: Array<[number, number, string, string[]]> = [
    [3, 3, '0 - X - X', ['OK', 'OK', 'OK', 'OK']],
    [3, 3, '0 - - - -', ['OK', 'OK', 'OK', 'OK']],
    [3, 3, '- - - - -', ['INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK']],
    [3, 3, '0 X X - X', ['ALARM', 'ALARM', 'ALARM', 'ALARM']],
    [3, 3, '- - - - X', ['INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK']],
    // The guide shows ALARM under MISSING for this row; this evaluator reports INSUFFICIENT_DATA (see report).
    [3, 3, 'X - - - -', ['INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK']],
    [2, 3, '0 - X - X', ['ALARM', 'ALARM', 'ALARM', 'ALARM']],
    [2, 3, '0 0 X 0 X', ['ALARM', 'ALARM', 'ALARM', 'ALARM']],
    [2, 3, '0 - X - -', ['OK', 'OK', 'ALARM', 'OK']],
    [2, 3, '- - - - 0', ['OK', 'OK', 'ALARM', 'OK']],
    [2, 3, '- - - - X', ['INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK']],
  ];
  const treatments: TreatMissingData[] = ['missing', 'ignore', 'breaching', 'notBreaching'];
  const cases = rows.flatMap(([m, n, points, expected]) =>
    treatments.map((treat, i) => [`${m} of ${n}`, points, treat, expected[i]] as const),
  );

  it.each(cases)('%s: %s with %s -> %s', (_mn, points, treat, expected) => {
    const [m, n] = _mn.split(' of ').map(Number);
    const clock = frozen('2026-11-27T12:00:00Z');
    const store = new MetricStore(clock);
    const now = clock.now().getTime();
    points.split(' ').forEach((p, k) => {
      if (p === '-') return;
      const timestamp = new Date(now - (5 - k) * MINUTE + 1000);
      store.put({ namespace: 'Test', metricName: 'M', values: [p === 'X' ? 10 : 0], timestamp });
    });
    const def = minuteAlarm(m, n, treat);
    const evaluator = new AlarmEvaluator({ alarms: [def], store, clock, region, accountId });
    // "Retain current state" is checked from a state that no other outcome would keep.
    evaluator.setAlarmState({ AlarmName: def.name, StateValue: 'ALARM', StateReason: 'test' });
    evaluator.evaluate();
    expect(evaluator.state(def.name)).toBe(expected === RETAIN ? 'ALARM' : expected);
  });
});

describe('the alarms of the synthesized templates', () => {
  const alarm = (name: string) => {
    const a = ALARMS.find((x) => x.name === name);
    if (!a) throw new Error(`no alarm ${name}: ${ALARMS.map((x) => x.name).join(', ')}`);
    return a;
  };
  const drift = { namespace: 'DevMLOps', metricName: 'MaxFeatureDrift', dimensions: project };

  function platform(start = '2026-11-27T00:00:00Z') {
    const clock = frozen(start);
    const store = new MetricStore(clock);
    const evaluator = new AlarmEvaluator({ alarms: ALARMS, store, clock, region, accountId });
    const changes: AlarmStateChange[] = [];
    evaluator.onChange((c) => changes.push(c));
    /** Moves the clock to `iso` and evaluates, as CloudWatch does every minute. */
    const evaluateAt = (iso: string) => {
      clock.advance(Date.parse(iso) - clock.now().getTime());
      return evaluator.evaluate();
    };
    return { clock, store, evaluator, changes, evaluateAt };
  }

  it('reads every alarm with local names', () => {
    expect(ALARMS.map((a) => a.name).sort()).toEqual([
      'devmlops-api-5xx',
      'devmlops-dlq-depth',
      'devmlops-drift',
      'devmlops-endpoint-5xx',
      'devmlops-endpoint-latency',
      'devmlops-lambda-errors',
      'devmlops-pipeline-failures',
      'devmlops-quarantine-rate',
    ]);
    expect(alarm('devmlops-drift')).toMatchObject({
      arn: `arn:aws:cloudwatch:${region}:${accountId}:alarm:devmlops-drift`,
      metric: { metric: drift, period: 3600, stat: 'Maximum' },
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      threshold: 0.2,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      alarmActions: [expect.stringMatching(/^arn:aws:sns:.*:devmlops-pipeline-TrainingTopic/)],
    });
    expect(alarm('devmlops-pipeline-failures').metrics?.[1].metricStat?.metric.dimensions).toEqual({
      StateMachineArn: `arn:aws:states:${region}:${accountId}:stateMachine:devmlops-training`,
    });
    expect(alarm('devmlops-dlq-depth').metric?.metric.dimensions).toEqual({
      QueueName: 'devmlops-pipeline-ValidationDeadLetterQueueE1FE5573',
    });
  });

  it('starts every alarm in INSUFFICIENT_DATA; with no data and notBreaching they go to OK', () => {
    const { evaluator, evaluateAt } = platform();
    expect(evaluator.describeAll().map((a) => a.state)).toEqual(Array(8).fill('INSUFFICIENT_DATA'));
    const changes = evaluateAt('2026-11-27T00:01:00Z');
    expect(changes).toHaveLength(8);
    expect(changes.find((c) => c.alarmName === 'devmlops-drift')).toMatchObject({
      previous: { value: 'INSUFFICIENT_DATA', reason: 'Unchecked: Initial alarm creation' },
      current: {
        value: 'OK',
        reason:
          'Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as [NonBreaching].',
      },
    });
    expect(evaluateAt('2026-11-27T05:00:00Z')).toEqual([]);
  });

  it('drift: 2 of 3 hourly datapoints above the threshold -> ALARM; one -> stays OK', () => {
    const { store, evaluator, evaluateAt, changes } = platform();
    evaluateAt('2026-11-27T00:00:00Z');
    store.put({ ...drift, values: [0.05], timestamp: new Date('2026-11-27T00:10:00Z') });
    store.put({ ...drift, values: [0.31], timestamp: new Date('2026-11-27T01:10:00Z') });
    store.put({ ...drift, values: [0.1], timestamp: new Date('2026-11-27T02:10:00Z') });
    for (const iso of ['2026-11-27T01:00:00Z', '2026-11-27T02:00:00Z', '2026-11-27T03:00:00Z']) {
      evaluateAt(iso);
      expect(evaluator.state('devmlops-drift')).toBe('OK');
    }
    store.put({ ...drift, values: [0.12, 0.44], timestamp: new Date('2026-11-27T03:10:00Z') });
    // The periods end at the clock's now, inclusive: the datapoint counts as soon as it is stored.
    expect(evaluateAt('2026-11-27T03:09:59Z')).toEqual([]);
    const [change] = evaluateAt('2026-11-27T03:10:00Z');
    expect(change).toMatchObject({
      alarmName: 'devmlops-drift',
      previous: { value: 'OK' },
      current: {
        value: 'ALARM',
        reason:
          'Threshold Crossed: 2 out of the last 3 datapoints [0.44 (27/11/26 02:10:00), 0.31 (27/11/26 00:10:00)] were ' +
          'greater than the threshold (0.2) (minimum 2 datapoints for OK -> ALARM transition).',
      },
    });
    expect(JSON.parse(change.current.reasonData ?? '')).toMatchObject({
      version: '1.0',
      queryDate: '2026-11-27T03:10:00.000+0000',
      startDate: '2026-11-27T00:10:00.000+0000',
      statistic: 'Maximum',
      period: 3600,
      recentDatapoints: [0.31, 0.1, 0.44],
      threshold: 0.2,
    });
    expect(changes.filter((c) => c.alarmName === 'devmlops-drift').map((c) => c.current.value)).toEqual([
      'OK',
      'ALARM',
    ]);
    // A datapoint below the threshold makes it 1 of the last 3: back to OK.
    store.put({ ...drift, values: [0.05], timestamp: new Date('2026-11-27T03:30:00Z') });
    store.put({ ...drift, values: [0.08], timestamp: new Date('2026-11-27T04:30:00Z') });
    evaluateAt('2026-11-27T05:11:00Z');
    expect(evaluator.state('devmlops-drift')).toBe('OK');
  });

  it('api 5xx: the 5XXError average (the 5XX rate) above 5% in two 5-minute periods in a row -> ALARM', () => {
    const { store, evaluator, evaluateAt } = platform('2026-11-27T10:00:00Z');
    const api = { namespace: 'AWS/ApiGateway', dimensions: { ApiName: 'devmlops-inference', Stage: 'prod' } };
    // As the local gateway publishes them: per request Count 1 and 5XXError 1 or 0. A period ends at its minute,
    // inclusive, so each batch starts a second after one.
    const requests = (from: string, n: number, failed: number) => {
      const t0 = Date.parse(from);
      for (let i = 0; i < n; i++) {
        const timestamp = new Date(t0 + i * 1000);
        store.put({ ...api, metricName: 'Count', values: [1], timestamp });
        store.put({ ...api, metricName: '5XXError', values: [i < failed ? 1 : 0], timestamp });
      }
    };
    requests('2026-11-27T10:00:01Z', 100, 4);
    requests('2026-11-27T10:05:01Z', 100, 10);
    evaluateAt('2026-11-27T10:10:00Z');
    // 4% then 10%: one period above 5%.
    expect(evaluator.state('devmlops-api-5xx')).toBe('OK');
    requests('2026-11-27T10:10:01Z', 100, 6);
    const [change] = evaluateAt('2026-11-27T10:15:00Z').filter((c) => c.alarmName === 'devmlops-api-5xx');
    expect(change.current.value).toBe('ALARM');
    expect(JSON.parse(change.current.reasonData ?? '')).toMatchObject({
      statistic: 'Average',
      period: 300,
      recentDatapoints: [0.1, 0.06],
      threshold: 0.05,
    });
    expect(alarm('devmlops-api-5xx').alarmActions).toEqual([
      expect.stringMatching(/^arn:aws:sns:.*:devmlops-pipeline-TrainingTopic/),
    ]);
  });

  it('sends the state change to EventBridge in the documented event shape', () => {
    const { store, evaluateAt } = platform('2026-11-27T03:00:00Z');
    store.put({ ...drift, values: [0.5], timestamp: new Date('2026-11-27T01:30:00Z') });
    store.put({ ...drift, values: [0.6], timestamp: new Date('2026-11-27T02:30:00Z') });
    const change = evaluateAt('2026-11-27T03:00:30Z').find((c) => c.alarmName === 'devmlops-drift');
    const event = alarmStateChangeEvent(change!, { region, accountId });
    expect(event).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'detail-type': 'CloudWatch Alarm State Change',
      source: 'aws.cloudwatch',
      account: accountId,
      time: '2026-11-27T03:00:30Z',
      region,
      resources: [`arn:aws:cloudwatch:${region}:${accountId}:alarm:devmlops-drift`],
      detail: {
        alarmName: 'devmlops-drift',
        state: {
          value: 'ALARM',
          reason: expect.stringMatching(/^Threshold Crossed: 2 out of the last 3 datapoints/),
          reasonData: expect.any(String),
          timestamp: '2026-11-27T03:00:30.000+0000',
        },
        previousState: {
          value: 'INSUFFICIENT_DATA',
          reason: 'Unchecked: Initial alarm creation',
          timestamp: '2026-11-27T03:00:00.000+0000',
        },
        configuration: {
          description: alarm('devmlops-drift').description,
          metrics: [
            {
              id: expect.stringMatching(/^[0-9a-f-]{36}$/),
              metricStat: {
                metric: { dimensions: project, name: 'MaxFeatureDrift', namespace: 'DevMLOps' },
                period: 3600,
                stat: 'Maximum',
              },
              returnData: true,
            },
          ],
        },
      },
    });
  });

  it('quarantine rate: quarantined / (accepted + quarantined) per hour above 0.5', () => {
    const { store, evaluator, evaluateAt } = platform();
    const files = (name: string, iso: string) =>
      store.put({
        namespace: 'DevMLOps',
        metricName: name,
        dimensions: project,
        values: [1],
        timestamp: new Date(iso),
      });
    files('FilesAccepted', '2026-11-27T00:05:00Z');
    files('FilesQuarantined', '2026-11-27T00:06:00Z');
    evaluateAt('2026-11-27T01:00:00Z');
    expect(evaluator.state('devmlops-quarantine-rate')).toBe('OK'); // 0.5 is not above 0.5
    files('FilesQuarantined', '2026-11-27T01:10:00Z');
    files('FilesQuarantined', '2026-11-27T01:20:00Z');
    files('FilesAccepted', '2026-11-27T01:30:00Z');
    evaluateAt('2026-11-27T02:00:00Z');
    expect(evaluator.state('devmlops-quarantine-rate')).toBe('ALARM'); // 2 of 3
    expect(evaluator.current('devmlops-quarantine-rate').reason).toContain(
      '[0.6666666666666666 (27/11/26 01:00:00)]',
    );
    // Hours without files: 0 / 0 is dropped. As the guide documents, CloudWatch keeps evaluating the most recent
    // real datapoint while it is in the evaluation range (here 3 periods), then treats the missing ones as not
    // breaching.
    evaluateAt('2026-11-27T04:00:00Z');
    expect(evaluator.state('devmlops-quarantine-rate')).toBe('ALARM');
    evaluateAt('2026-11-27T05:00:00Z');
    expect(evaluator.state('devmlops-quarantine-rate')).toBe('OK');
  });

  it('pipeline failures: the SUM of failed, timed out and aborted executions', () => {
    const { store, evaluator, evaluateAt } = platform();
    const arn = `arn:aws:states:${region}:${accountId}:stateMachine:devmlops-training`;
    evaluateAt('2026-11-27T00:05:00Z');
    expect(evaluator.state('devmlops-pipeline-failures')).toBe('OK');
    store.put({
      namespace: 'AWS/States',
      metricName: 'ExecutionsAborted',
      dimensions: { StateMachineArn: arn },
      values: [1],
      timestamp: new Date('2026-11-27T00:06:00Z'),
    });
    evaluateAt('2026-11-27T00:10:00Z');
    expect(evaluator.state('devmlops-pipeline-failures')).toBe('ALARM');
    // Period 300 s: the datapoint stays in the evaluation range (3 periods) for 15 minutes.
    evaluateAt('2026-11-27T00:20:59Z');
    expect(evaluator.state('devmlops-pipeline-failures')).toBe('ALARM');
    evaluateAt('2026-11-27T00:21:00Z');
    expect(evaluator.state('devmlops-pipeline-failures')).toBe('OK');
  });

  it('lambda errors: any project function reporting Errors >= 1', () => {
    const { store, evaluator, evaluateAt } = platform();
    const fn = alarm('devmlops-lambda-errors').metrics?.find((m) => m.id === 'errors6')?.metricStat?.metric;
    expect(fn?.dimensions.FunctionName).toBe('devmlops-monitoring-DriftHandlerFunction9EBE9B34');
    const errors = (v: number, iso: string) =>
      store.put({
        namespace: 'AWS/Lambda',
        metricName: 'Errors',
        dimensions: fn!.dimensions,
        values: [v],
        timestamp: new Date(iso),
      });
    errors(0, '2026-11-27T00:01:00Z');
    evaluateAt('2026-11-27T00:05:00Z');
    expect(evaluator.state('devmlops-lambda-errors')).toBe('OK');
    errors(1, '2026-11-27T00:06:00Z');
    evaluateAt('2026-11-27T00:10:00Z');
    expect(evaluator.state('devmlops-lambda-errors')).toBe('ALARM');
  });

  it('endpoint latency: p99 of ModelLatency above 1 s in 2 of 2 minutes', () => {
    const { store, evaluator, evaluateAt } = platform();
    const dimensions = { EndpointName: 'devmlops-endpoint', VariantName: 'AllTraffic' };
    const latency = (micros: number[], iso: string) =>
      store.put({
        namespace: 'AWS/SageMaker',
        metricName: 'ModelLatency',
        dimensions,
        values: micros,
        timestamp: new Date(iso),
      });
    latency([...Array(99).fill(2_000), 5_000_000], '2026-11-27T00:00:10Z');
    latency([...Array(98).fill(2_000), 5_000_000, 5_000_000], '2026-11-27T00:01:10Z');
    evaluateAt('2026-11-27T00:02:00Z');
    expect(evaluator.state('devmlops-endpoint-latency')).toBe('OK'); // p99 of the first minute is 2 ms
    latency(Array(10).fill(3_000_000), '2026-11-27T00:02:10Z');
    evaluateAt('2026-11-27T00:03:00Z');
    expect(evaluator.state('devmlops-endpoint-latency')).toBe('ALARM');
  });

  it('refuses an alarm it cannot evaluate, naming the alarm and the expression', () => {
    const quarantine = alarm('devmlops-quarantine-rate');
    const bad: AlarmDefinition = {
      ...quarantine,
      metrics: quarantine.metrics?.map((m) => (m.expression ? { ...m, expression: 'RATE(quarantined)' } : m)),
    };
    const clock = frozen('2026-11-27T00:00:00Z');
    expect(
      () => new AlarmEvaluator({ alarms: [bad], store: new MetricStore(clock), clock, region, accountId }),
    ).toThrow(
      'alarm devmlops-quarantine-rate: expression expr_1 "RATE(quarantined)": unsupported function RATE',
    );
  });

  it('refuses an expression whose result is not a time series, and names the alarm ARN by default', () => {
    const clock = frozen('2026-11-27T00:00:00Z');
    const base = minuteAlarm(1, 1, 'missing');
    const scalar: AlarmDefinition = {
      ...base,
      arn: undefined,
      metric: undefined,
      metrics: [
        { id: 'm1', metricStat: base.metric, returnData: false },
        { id: 'e1', expression: 'SUM(m1)' },
      ],
    };
    const store = new MetricStore(clock);
    expect(() => new AlarmEvaluator({ alarms: [scalar], store, clock, region, accountId })).toThrow(
      `alarm ${base.name}: expression "SUM(m1)": the result of e1 must be a single time series`,
    );
    const fine = { ...scalar, metrics: [{ id: 'm1', metricStat: base.metric }] };
    const evaluator = new AlarmEvaluator({
      alarms: [fine],
      store,
      clock,
      region: 'eu-west-1',
      accountId: '111122223333',
    });
    expect(evaluator.describeAll()[0].arn).toBe(
      `arn:aws:cloudwatch:eu-west-1:111122223333:alarm:${base.name}`,
    );
  });

  it('serves DescribeAlarms and SetAlarmState', () => {
    const { evaluator, store, changes } = platform();
    const ops = cloudWatchOperations(store, evaluator);
    expect(Object.keys(ops).sort()).toEqual([
      'DescribeAlarms',
      'GetMetricData',
      'GetMetricStatistics',
      'ListMetrics',
      'PutMetricData',
      'SetAlarmState',
    ]);
    ops.SetAlarmState({
      AlarmName: 'devmlops-endpoint-5xx',
      StateValue: 'ALARM',
      StateReason: 'testing rollback',
    });
    expect(changes.map((c) => [c.alarmName, c.current.value, c.current.reason])).toEqual([
      ['devmlops-endpoint-5xx', 'ALARM', 'testing rollback'],
    ]);
    const described = ops.DescribeAlarms({ StateValue: 'ALARM' }) as {
      MetricAlarms: Array<Record<string, unknown>>;
    };
    expect(described.MetricAlarms).toEqual([
      expect.objectContaining({
        AlarmName: 'devmlops-endpoint-5xx',
        AlarmArn: `arn:aws:cloudwatch:${region}:${accountId}:alarm:devmlops-endpoint-5xx`,
        StateValue: 'ALARM',
        StateReason: 'testing rollback',
        StateUpdatedTimestamp: expect.any(Date),
        MetricName: 'Invocation5XXErrors',
        Namespace: 'AWS/SageMaker',
        Statistic: 'Sum',
        Dimensions: [
          { Name: 'EndpointName', Value: 'devmlops-endpoint' },
          { Name: 'VariantName', Value: 'AllTraffic' },
        ],
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      }),
    ]);
    const latency = ops.DescribeAlarms({ AlarmNames: ['devmlops-endpoint-latency'] }) as {
      MetricAlarms: Array<Record<string, unknown>>;
    };
    expect(latency.MetricAlarms[0]).toMatchObject({
      ExtendedStatistic: 'p99',
      StateValue: 'INSUFFICIENT_DATA',
    });
    expect(latency.MetricAlarms[0]).not.toHaveProperty('Statistic');
    const prefixed = ops.DescribeAlarms({ AlarmNamePrefix: 'devmlops-endpoint' }) as {
      MetricAlarms: Array<{ AlarmName: string }>;
    };
    expect(prefixed.MetricAlarms.map((a) => a.AlarmName)).toEqual([
      'devmlops-endpoint-5xx',
      'devmlops-endpoint-latency',
    ]);
    const math = ops.DescribeAlarms({ AlarmNames: ['devmlops-quarantine-rate'] }) as {
      MetricAlarms: Array<Record<string, unknown>>;
    };
    expect(math.MetricAlarms[0].Metrics).toContainEqual({
      Id: 'expr_1',
      Expression: 'FILL(quarantined, 0) / (FILL(accepted, 0) + FILL(quarantined, 0))',
      Label: 'Quarantine rate',
      ReturnData: true,
    });
    expect(() => ops.DescribeAlarms({ AlarmNames: ['a'], AlarmNamePrefix: 'b' })).toThrow(
      expect.objectContaining({ name: 'InvalidParameterCombination' }),
    );
    expect(() => ops.SetAlarmState({ AlarmName: 'nope', StateValue: 'OK', StateReason: 'x' })).toThrow(
      expect.objectContaining({ name: 'ResourceNotFound', statusCode: 404 }),
    );
    expect(() =>
      ops.SetAlarmState({ AlarmName: 'devmlops-drift', StateValue: 'BAD', StateReason: 'x' }),
    ).toThrow(expect.objectContaining({ name: 'InvalidParameterValue' }));
  });

  it('serves GetMetricStatistics', () => {
    const { store } = platform();
    store.put({ ...drift, values: [0.1, 0.3], timestamp: new Date('2026-11-27T00:10:00Z') });
    expect(
      store.getMetricStatistics({
        Namespace: 'DevMLOps',
        MetricName: 'MaxFeatureDrift',
        Dimensions: [{ Name: 'Project', Value: 'devmlops' }],
        StartTime: new Date('2026-11-27T00:00:00Z'),
        EndTime: new Date('2026-11-27T02:00:00Z'),
        Period: 3600,
        Statistics: ['Maximum', 'SampleCount'],
        ExtendedStatistics: ['p50'],
      }),
    ).toEqual({
      Label: 'MaxFeatureDrift',
      Datapoints: [
        {
          Timestamp: new Date('2026-11-27T00:00:00Z'),
          Unit: 'None',
          Maximum: 0.3,
          SampleCount: 2,
          ExtendedStatistics: { p50: 0.1 },
        },
      ],
    });
  });
});
