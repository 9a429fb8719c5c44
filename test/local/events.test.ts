import {
  AlarmEvaluator,
  alarmsFromTemplates,
  alarmStateChangeEvent,
  MetricStore,
} from '../../lib/local/cloudwatch';
import { LocalClock } from '../../lib/local/clock';
import {
  LocalEventBus,
  matchesPattern,
  nextFire,
  parseSchedule,
  rulesFromTemplates,
  targetInput,
  type EventBridgeEvent,
  type LocalRule,
  type RuleTarget,
} from '../../lib/local/events';
import { synthesizeApp } from '../../lib/local/synthesize';
import { LocalTemplates } from '../../lib/local/template';

/**
 * Local EventBridge. Pattern cases are the examples of the EventBridge user guide ("Content filtering",
 * "Arrays", "Matching null values and empty strings") and of aws/event-ruler's README (the engine EventBridge
 * runs); input transformer cases are the table of "Transforming target input"; schedules are the examples of
 * "Creating a rule that runs on a schedule". Then the rules of the synthesized app, matched and delivered.
 */

const LOCAL = new LocalTemplates(synthesizeApp().templates);
const RULES = rulesFromTemplates(LOCAL);
const { region, accountId } = LOCAL.pseudo;

/** The example event of event-ruler's README and the user guide. */
const EC2_EVENT = {
  version: '0',
  id: 'ddddd4-aaaa-7777-4444-345dd43cc333',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '012345679012',
  time: '2017-10-02T16:24:49Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
  detail: {
    'c-count': 5,
    'd-count': 3,
    'x-limit': 301.8,
    'source-ip': '10.0.0.33',
    'instance-id': 'i-000000aaaaaa00000',
    state: 'running',
  },
};

const withDetail = (detail: Record<string, unknown>) => ({
  ...EC2_EVENT,
  detail: { ...EC2_EVENT.detail, ...detail },
});

describe('event patterns', () => {
  it.each<[string, unknown, boolean]>([
    [
      'simple matching, event array intersects pattern array',
      {
        'detail-type': ['EC2 Instance State-change Notification'],
        resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
        detail: { state: ['initializing', 'running'] },
      },
      true,
    ],
    ['a value not listed', { detail: { state: ['initializing', 'stopped'] } }, false],
    ['a field the event lacks', { detail: { nope: ['running'] } }, false],
    ['prefix', { time: [{ prefix: '2017-10-02' }] }, true],
    ['prefix, no match', { time: [{ prefix: '2017-10-03' }] }, false],
    ['prefix ignoring case', { source: [{ prefix: { 'equals-ignore-case': 'AWS.E' } }] }, true],
    ['suffix', { source: [{ suffix: 'ec2' }] }, true],
    ['suffix ignoring case', { source: [{ suffix: { 'equals-ignore-case': 'EC2' } }] }, true],
    ['suffix, no match', { source: [{ suffix: 'ec' }] }, false],
    ['equals-ignore-case', { source: [{ 'equals-ignore-case': 'AWS.EC2' }] }, true],
    ['wildcard', { 'detail-type': [{ wildcard: 'EC2*State-change*' }] }, true],
    ['wildcard, no match', { 'detail-type': [{ wildcard: 'EC2*Launch*' }] }, false],
    ['prefix does not apply to numbers', { detail: { 'c-count': [{ prefix: '5' }] } }, false],
    ['anything-but string', { detail: { state: [{ 'anything-but': 'initializing' }] } }, true],
    ['anything-but string, excluded', { detail: { state: [{ 'anything-but': 'running' }] } }, false],
    ['anything-but number', { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, true],
    [
      'anything-but list of strings',
      { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } },
      true,
    ],
    [
      'anything-but list, excluded',
      { detail: { state: [{ 'anything-but': ['stopped', 'running'] }] } },
      false,
    ],
    ['anything-but list of numbers', { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } }, true],
    ['anything-but prefix', { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, true],
    ['anything-but prefix, excluded', { detail: { state: [{ 'anything-but': { prefix: 'run' } }] } }, false],
    ['anything-but suffix', { detail: { state: [{ 'anything-but': { suffix: 'ing' } }] } }, false],
    [
      'anything-but equals-ignore-case',
      { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['STOPPED', 'RUNNING'] } }] } },
      false,
    ],
    ['anything-but wildcard', { detail: { state: [{ 'anything-but': { wildcard: '*nn*' } }] } }, false],
    ['anything-but does not match a missing field', { detail: { nope: [{ 'anything-but': 'x' }] } }, false],
    [
      'numeric',
      {
        detail: {
          'c-count': [{ numeric: ['>', 0, '<=', 5] }],
          'd-count': [{ numeric: ['<', 10] }],
          'x-limit': [{ numeric: ['=', 3.018e2] }],
        },
      },
      true,
    ],
    ['numeric, out of range', { detail: { 'c-count': [{ numeric: ['>', 5] }] } }, false],
    ['numeric does not apply to strings', { detail: { state: [{ numeric: ['>', 0] }] } }, false],
    ['exact number', { detail: { 'x-limit': [301.8] } }, true],
    ['a number does not equal its string', { detail: { 'c-count': ['5'] } }, false],
    ['cidr', { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } }, true],
    ['cidr, outside', { detail: { 'source-ip': [{ cidr: '10.0.1.0/24' }] } }, false],
    ['exists true', { detail: { 'c-count': [{ exists: true }] } }, true],
    ['exists false on a present field', { detail: { 'c-count': [{ exists: false }] } }, false],
    ['exists false on a missing field', { detail: { 'e-count': [{ exists: false }] } }, true],
    ['exists false when the parent is missing', { other: { field: [{ exists: false }] } }, true],
    [
      'complex example',
      {
        time: [{ prefix: '2017-10-02' }],
        detail: {
          state: [{ 'anything-but': 'initializing' }],
          'c-count': [{ numeric: ['>', 0, '<=', 5] }],
          'd-count': [{ numeric: ['<', 10] }],
          'x-limit': [{ 'anything-but': [100, 200, 300] }],
          'source-ip': [{ cidr: '10.0.0.0/8' }],
        },
      },
      true,
    ],
    [
      '$or: one alternative matches',
      { source: ['aws.ec2'], $or: [{ detail: { state: ['stopped'] } }, { detail: { 'c-count': [5] } }] },
      true,
    ],
    [
      '$or: no alternative matches',
      { source: ['aws.ec2'], $or: [{ detail: { state: ['stopped'] } }, { detail: { 'c-count': [6] } }] },
      false,
    ],
    [
      'nested $or with an AND inside',
      {
        detail: {
          $or: [
            { state: ['stopped'] },
            { 'c-count': [5], 'd-count': [3], $or: [{ 'x-limit': [1] }, { state: ['running'] }] },
          ],
        },
      },
      true,
    ],
  ])('%s', (_name, pattern, expected) => {
    expect(matchesPattern(pattern, EC2_EVENT)).toBe(expected);
  });

  it('treats exists as a leaf test: an object value counts as absent', () => {
    const event = withDetail({ 'c-count': { c1: 100 } });
    expect(matchesPattern({ detail: { 'c-count': [{ exists: false }] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { 'c-count': [{ exists: true }] } }, event)).toBe(false);
  });

  it('tells null from the empty string', () => {
    const event = withDetail({ eventVersion: '', responseElements: null });
    expect(matchesPattern({ detail: { eventVersion: [''] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { responseElements: [null] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { eventVersion: [null] } }, event)).toBe(false);
    expect(matchesPattern({ detail: { responseElements: [''] } }, event)).toBe(false);
  });

  it('matches wildcards with escaped stars and backslashes', () => {
    const event = withDetail({ path: 'a*b\\c', file: 'dir/lib/x.png' });
    expect(matchesPattern({ detail: { path: [{ wildcard: 'a\\*b\\\\c' }] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { path: [{ wildcard: 'a\\*x*' }] } }, event)).toBe(false);
    expect(matchesPattern({ detail: { file: [{ 'anything-but': { wildcard: '*/lib/*' } }] } }, event)).toBe(
      false,
    );
    expect(matchesPattern({ detail: { file: [{ wildcard: '*.png' }] } }, event)).toBe(true);
  });

  it('matches IPv6 cidr blocks', () => {
    const event = withDetail({ 'source-ip': '2001:db8::1' });
    expect(matchesPattern({ detail: { 'source-ip': [{ cidr: '2001:db8::/32' }] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { 'source-ip': [{ cidr: '2001:db9::/32' }] } }, event)).toBe(false);
  });

  it('keeps fields of one array element together (event-ruler array consistency)', () => {
    const event = {
      employees: [
        { firstName: 'John', lastName: 'Doe' },
        { firstName: 'Anna', lastName: 'Smith' },
        { firstName: 'Peter', lastName: 'Jones' },
      ],
    };
    expect(matchesPattern({ employees: { firstName: ['Anna'] } }, event)).toBe(true);
    expect(matchesPattern({ employees: { firstName: ['Anna'], lastName: ['Smith'] } }, event)).toBe(true);
    expect(matchesPattern({ employees: { firstName: ['Anna'], lastName: ['Jones'] } }, event)).toBe(false);
    const nested = { employees: [[{ firstName: 'John' }, { firstName: 'Anna' }], [{ firstName: 'Peter' }]] };
    expect(matchesPattern({ employees: { firstName: ['Peter'] } }, nested)).toBe(true);
  });

  it.each<[string, unknown]>([
    ['not an object', ['source']],
    ['a scalar leaf', { source: 'aws.ec2' }],
    ['an empty array', { source: [] }],
    ['an unknown operator', { source: [{ contains: 'ec2' }] }],
    ['a bad numeric condition', { detail: { x: [{ numeric: ['>>', 1] }] } }],
    ['consecutive wildcards', { source: [{ wildcard: 'a**b' }] }],
    ['a bad escape in a wildcard', { source: [{ wildcard: 'a\\b' }] }],
    ['a mixed anything-but list', { source: [{ 'anything-but': ['a', 1] }] }],
    ['a bad cidr', { source: [{ cidr: '10.0.0.0/33' }] }],
  ])('rejects %s', (_name, pattern) => {
    expect(() => matchesPattern(pattern, EC2_EVENT)).toThrow(
      expect.objectContaining({ name: 'InvalidEventPatternException' }),
    );
  });
});

describe('target input', () => {
  // The example of "Transforming target input" in the EventBridge user guide.
  const event: EventBridgeEvent = {
    version: '0',
    id: '7bf73129-1428-4cd3-a780-95db273d1602',
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    account: '123456789012',
    time: '2015-11-11T21:29:54Z',
    region: 'us-east-1',
    resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111'],
    detail: { 'instance-id': 'i-0123456789', state: 'RUNNING' },
  };
  const transform = (InputTemplate: string, context = {}): string =>
    targetInput(
      {
        id: 't',
        arn: 'arn:aws:lambda:us-east-1:123456789012:function:f',
        inputTransformer: {
          InputPathsMap: { timestamp: '$.time', instance: '$.detail.instance-id', state: '$.detail.state' },
          InputTemplate,
        },
      },
      event,
      context,
    );

  it.each([
    ['a simple string', '"instance <instance> is in <state>"', '"instance i-0123456789 is in RUNNING"'],
    [
      'a string with escaped quotes',
      '"instance \\"<instance>\\" is in <state>"',
      '"instance \\"i-0123456789\\" is in RUNNING"',
    ],
    [
      'simple JSON',
      '{"instance" : <instance>, "state": <state>}',
      '{"instance" : "i-0123456789", "state": "RUNNING"}',
    ],
    [
      'JSON with strings and variables',
      '{"instance" : <instance>, "state": "<state>", "instanceStatus": "instance \\"<instance>\\" is in <state>"}',
      '{"instance" : "i-0123456789", "state": "RUNNING", "instanceStatus": "instance \\"i-0123456789\\" is in RUNNING"}',
    ],
    [
      'JSON with variables and static values',
      '{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}',
      '{"instance" : "i-0123456789", "state": [ 9, "RUNNING", true ], "Transformed" : "Yes"}',
    ],
  ])('fills %s as the user guide shows', (_name, template, expected) => {
    expect(transform(template)).toBe(expected);
  });

  it('fills the predefined variables', () => {
    const rule = { ruleName: 'example', ruleArn: 'arn:aws:events:us-east-2:123456789012:rule/example' };
    expect(transform('"<aws.events.rule-name> triggered"', rule)).toBe('"example triggered"');
    const out = JSON.parse(
      transform(
        '{"instance": <instance>, "ruleArn": <aws.events.rule-arn>, "ruleName": <aws.events.rule-name>, ' +
          '"original": <aws.events.event>, "full": <aws.events.event.json>, "at": <aws.events.event.ingestion-time>}',
        { ...rule, ingestionTime: new Date('2015-11-11T21:29:55.123Z') },
      ),
    );
    const envelope: Partial<EventBridgeEvent> = { ...event };
    delete envelope.detail;
    expect(out).toEqual({
      instance: 'i-0123456789',
      ...rule,
      original: envelope,
      full: event,
      at: '2015-11-11T21:29:55.123Z',
    });
  });

  it('leaves out a variable whose path is not in the event, and text that is not a variable', () => {
    const t: RuleTarget = {
      id: 't',
      arn: 'a',
      inputTransformer: { InputPathsMap: { gone: '$.detail.nope' }, InputTemplate: '"<b>x</b> [<gone>]"' },
    };
    expect(targetInput(t, event)).toBe('"<b>x</b> []"');
  });

  it('sends Input as is, the value at InputPath as JSON, or else the whole event', () => {
    expect(targetInput({ id: 't', arn: 'a', input: '{"fixed":true}' }, event)).toBe('{"fixed":true}');
    expect(targetInput({ id: 't', arn: 'a', inputPath: '$.detail' }, event)).toBe(
      JSON.stringify(event.detail),
    );
    expect(targetInput({ id: 't', arn: 'a', inputPath: '$.resources[0]' }, event)).toBe(
      JSON.stringify(event.resources[0]),
    );
    expect(JSON.parse(targetInput({ id: 't', arn: 'a' }, event))).toEqual(event);
  });
});

describe('schedules', () => {
  it('parses rate expressions with EventBridge singular/plural rule', () => {
    expect(parseSchedule('rate(1 minute)')).toEqual({ everyMilliseconds: 60_000 });
    expect(parseSchedule('rate(5 minutes)')).toEqual({ everyMilliseconds: 300_000 });
    expect(parseSchedule('rate(1 hour)')).toEqual({ everyMilliseconds: 3_600_000 });
    expect(parseSchedule('rate(2 days)')).toEqual({ everyMilliseconds: 172_800_000 });
    for (const bad of ['rate(1 hours)', 'rate(5 hour)', 'rate(0 minutes)', 'rate(1 week)', 'every hour']) {
      expect(() => parseSchedule(bad)).toThrow(bad);
    }
  });

  it.each([
    ['cron(0 10 * * ? *)', '2026-03-04T09:59:30Z', '2026-03-04T10:00:00Z'],
    ['cron(0 10 * * ? *)', '2026-03-04T10:00:00Z', '2026-03-05T10:00:00Z'],
    ['cron(15 12 * * ? *)', '2026-03-04T13:00:00Z', '2026-03-05T12:15:00Z'],
    // 2026-03-06 is a Friday: Monday through Friday skips the weekend
    ['cron(0 18 ? * MON-FRI *)', '2026-03-06T18:00:00Z', '2026-03-09T18:00:00Z'],
    ['cron(0 8 1 * ? *)', '2026-03-04T00:00:00Z', '2026-04-01T08:00:00Z'],
    ['cron(0/15 * * * ? *)', '2026-03-04T10:07:00Z', '2026-03-04T10:15:00Z'],
    ['cron(1/10 * * * ? *)', '2026-03-04T10:01:00Z', '2026-03-04T10:11:00Z'],
    // hours 20-2 wrap past midnight
    ['cron(0/30 20-2 ? * MON-FRI *)', '2026-03-04T02:30:00Z', '2026-03-04T20:00:00Z'],
    ['cron(0/30 20-2 ? * MON-FRI *)', '2026-03-04T23:30:00Z', '2026-03-05T00:00:00Z'],
    // last Friday of the month, 2019-2022 only
    ['cron(15 10 ? * 6L 2019-2022)', '2019-01-01T00:00:00Z', '2019-01-25T10:15:00Z'],
    ['cron(15 10 ? * 6L 2019-2022)', '2022-12-30T10:15:00Z', 'never'],
    // the second Tuesday
    ['cron(0 9 ? * 3#2 *)', '2026-03-01T00:00:00Z', '2026-03-10T09:00:00Z'],
    ['cron(0 0 L * ? *)', '2026-02-03T00:00:00Z', '2026-02-28T00:00:00Z'],
    // the 1st of August 2026 is a Saturday: the nearest weekday is Monday the 3rd
    ['cron(0 0 1W * ? *)', '2026-07-15T00:00:00Z', '2026-08-03T00:00:00Z'],
    ['cron(0 12 ? JAN,JUL SUN *)', '2026-02-01T00:00:00Z', '2026-07-05T12:00:00Z'],
  ])('%s after %s fires at %s', (expression, after, expected) => {
    if (expected === 'never') {
      expect(() => nextFire(expression, new Date(after))).toThrow('never fires');
    } else {
      expect(nextFire(expression, new Date(after)).toISOString()).toBe(new Date(expected).toISOString());
    }
  });

  it('runs a rate schedule every interval from its anchor', () => {
    const anchor = new Date('2026-03-04T10:17:00Z');
    expect(nextFire('rate(1 hour)', anchor, anchor).toISOString()).toBe('2026-03-04T11:17:00.000Z');
    expect(nextFire('rate(1 hour)', new Date('2026-03-04T13:17:00Z'), anchor).toISOString()).toBe(
      '2026-03-04T14:17:00.000Z',
    );
  });

  it.each([
    'cron(0 10 * * * *)',
    'cron(0 10 ? * ? *)',
    'cron(0 10 * * ?)',
    'cron(60 10 * * ? *)',
    'cron(0 10 ? * 8 *)',
  ])('rejects %s', (expression) => {
    expect(() => parseSchedule(expression)).toThrow();
  });
});

/** An `Object Created` event on the raw bucket, as lib/local/s3.ts (and S3) sends it. */
function objectCreated(bucket: string, key: string): EventBridgeEvent {
  return {
    version: '0',
    id: '17793124-05d4-b198-2fde-7ededc63b103',
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: accountId,
    time: '2026-11-27T04:10:00Z',
    region,
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: { key, size: 120, etag: 'b1946ac92492d2347c6235b4d2611184', sequencer: '00617F08299329D189' },
      'request-id': 'N4N7GDK58NMKJ12R',
      requester: accountId,
      'source-ip-address': '127.0.0.1',
      reason: 'PutObject',
    },
  };
}

describe('the rules of the synthesized app', () => {
  const rule = (logicalIdStart: string): LocalRule => {
    const found = RULES.find((r) => r.logicalId.startsWith(logicalIdStart));
    if (!found) throw new Error(`no rule ${logicalIdStart}: ${RULES.map((r) => r.logicalId).join(', ')}`);
    return found;
  };
  const raw = LOCAL.resourcesOfType('AWS::S3::Bucket').find((b) => b.logicalId.startsWith('RawBucket'));
  const rawBucket = LOCAL.resource(raw?.stackName ?? '', raw?.logicalId ?? '').ref;
  const matching = (event: EventBridgeEvent) =>
    RULES.filter((r) => r.eventPattern !== undefined && matchesPattern(r.eventPattern, event)).map(
      (r) => r.logicalId,
    );

  it('has the validation, retraining and drift schedule rules, resolved to local names', () => {
    expect(RULES.map((r) => r.logicalId).sort()).toEqual([
      expect.stringMatching(/^DriftSchedule/),
      expect.stringMatching(/^RetrainingOnDriftAlarm/),
      expect.stringMatching(/^ValidationObjectCreated/),
    ]);
    expect(rule('DriftSchedule')).toMatchObject({
      scheduleExpression: 'rate(1 hour)',
      state: 'ENABLED',
      eventBusName: 'default',
      targets: [
        { arn: expect.stringMatching(/^arn:aws:lambda:.*:function:devmlops-monitoring-DriftHandler/) },
      ],
    });
    expect(rule('RetrainingOnDriftAlarm').arn).toBe(
      `arn:aws:events:${region}:${accountId}:rule/${rule('RetrainingOnDriftAlarm').name}`,
    );
  });

  it('sends an Object Created event of the raw bucket to the validation rule only', () => {
    expect(matching(objectCreated(rawBucket, 'churn/2026/11/a.csv'))).toEqual([
      expect.stringMatching(/^ValidationObjectCreated/),
    ]);
    expect(matching(objectCreated('another-bucket', 'churn/a.csv'))).toEqual([]);
    const queue = rule('ValidationObjectCreated').targets[0];
    expect(queue.arn).toMatch(/^arn:aws:sqs:.*:devmlops-pipeline-ValidationQueue/);
    expect(queue.deadLetterArn).toMatch(/ValidationDeadLetterQueue/);
    // No transformer: the queue gets the whole event.
    const event = objectCreated(rawBucket, 'churn/a.csv');
    expect(JSON.parse(targetInput(queue, event))).toEqual(event);
  });

  it('starts retraining when the drift alarm goes to ALARM, with the drift input; not on OK', () => {
    const clock = new LocalClock({ start: new Date('2026-11-27T05:00:00Z'), speed: 1e-9 });
    const store = new MetricStore(clock);
    const alarms = new AlarmEvaluator({
      alarms: alarmsFromTemplates(LOCAL),
      store,
      clock,
      region,
      accountId,
    });
    const drift = {
      namespace: 'DevMLOps',
      metricName: 'MaxFeatureDrift',
      dimensions: { Project: 'devmlops' },
    };
    store.put({ ...drift, values: [0.6], timestamp: new Date('2026-11-27T03:30:00Z') });
    store.put({ ...drift, values: [0.45], timestamp: new Date('2026-11-27T04:30:00Z') });
    const change = alarms.evaluate().find((c) => c.alarmName === 'devmlops-drift');
    expect(change?.current.value).toBe('ALARM');
    const event = alarmStateChangeEvent(change!, { region, accountId });
    expect(matching(event)).toEqual([expect.stringMatching(/^RetrainingOnDriftAlarm/)]);
    const [target] = rule('RetrainingOnDriftAlarm').targets;
    expect(target.arn).toBe(`arn:aws:states:${region}:${accountId}:stateMachine:devmlops-training`);
    expect(JSON.parse(targetInput(target, event))).toEqual({
      trigger: 'drift',
      alarm: 'devmlops-drift',
      time: event.time,
      dataset: 'churn',
    });
    expect(event.time).toBe('2026-11-27T05:00:00Z');

    const ok = alarmStateChangeEvent(
      { ...change!, previous: change!.current, current: { ...change!.current, value: 'OK' } },
      { region, accountId },
    );
    expect(matching(ok)).toEqual([]);
    const other = alarmStateChangeEvent(
      {
        ...change!,
        alarmName: 'devmlops-dlq-depth',
        alarmArn: change!.alarmArn.replace('drift', 'dlq-depth'),
      },
      { region, accountId },
    );
    expect(matching(other)).toEqual([]);
  });
});

describe('the local bus', () => {
  const target = (id: string): RuleTarget => ({
    id,
    arn: `arn:aws:lambda:us-east-1:000000000000:function:${id}`,
  });
  const base = { stackName: 's', eventBusName: 'default', state: 'ENABLED' };
  const rules: LocalRule[] = [
    {
      ...base,
      logicalId: 'Hourly',
      name: 'hourly',
      arn: 'arn:aws:events:eu-west-1:111122223333:rule/hourly',
      scheduleExpression: 'rate(1 hour)',
      targets: [target('drift')],
    },
    {
      ...base,
      logicalId: 'Ec2',
      name: 'ec2',
      arn: 'arn:aws:events:eu-west-1:111122223333:rule/ec2',
      eventPattern: { source: ['aws.ec2'] },
      targets: [target('a'), target('fails')],
    },
    {
      ...base,
      logicalId: 'Off',
      name: 'off',
      arn: 'arn:aws:events:eu-west-1:111122223333:rule/off',
      state: 'DISABLED',
      eventPattern: { source: ['aws.ec2'] },
      targets: [target('never')],
    },
    {
      ...base,
      logicalId: 'Other',
      name: 'other-bus',
      arn: 'arn:aws:events:eu-west-1:111122223333:rule/custom/other-bus',
      eventBusName: 'custom',
      eventPattern: { source: ['aws.ec2'] },
      targets: [target('never')],
    },
  ];

  function bus() {
    const clock = new LocalClock({ start: new Date('2026-03-04T10:17:00Z'), speed: 1e-9 });
    const calls: Array<{ target: string; input: string; rule: string }> = [];
    const b = new LocalEventBus({
      rules,
      clock,
      invoke: async (t, input, rule) => {
        if (t.id === 'fails') throw new Error('target is down');
        calls.push({ target: t.id, input, rule: rule.name });
      },
    });
    return { clock, calls, b };
  }

  it('delivers a matching event to every target of enabled rules of its bus, and collects failures', async () => {
    const { b, calls } = bus();
    const event = EC2_EVENT as EventBridgeEvent;
    await expect(b.put(event)).resolves.toEqual({ matched: ['ec2'] });
    expect(calls).toEqual([{ target: 'a', input: JSON.stringify(event), rule: 'ec2' }]);
    expect(b.failures()).toEqual([
      expect.objectContaining({
        rule: 'ec2',
        target: 'fails',
        eventId: event.id,
        error: new Error('target is down'),
      }),
    ]);
    await expect(b.put({ ...event, source: 'aws.s3' })).resolves.toEqual({ matched: [] });
  });

  it('fires schedules on the clock: each due time once, as Scheduled Events', async () => {
    const { b, calls, clock } = bus();
    clock.advance(59 * 60_000);
    await expect(b.tick()).resolves.toEqual([]);
    clock.advance(60_000);
    await expect(b.tick()).resolves.toEqual([{ rule: 'hourly', time: new Date('2026-03-04T11:17:00Z') }]);
    expect(JSON.parse(calls[0].input)).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '111122223333',
      time: '2026-03-04T11:17:00Z',
      region: 'eu-west-1',
      resources: ['arn:aws:events:eu-west-1:111122223333:rule/hourly'],
      detail: {},
    });
    await expect(b.tick()).resolves.toEqual([]);
    clock.advance(3 * 3_600_000);
    const fired = await b.tick();
    expect(fired.map((f) => f.time.toISOString())).toEqual([
      '2026-03-04T12:17:00.000Z',
      '2026-03-04T13:17:00.000Z',
      '2026-03-04T14:17:00.000Z',
    ]);
    expect(b.schedule()).toEqual([{ rule: 'hourly', next: new Date('2026-03-04T15:17:00Z') }]);
  });
});
