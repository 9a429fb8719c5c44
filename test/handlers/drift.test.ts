// Sets PROJECT and the bucket names before the handler modules load.
import '../helpers/validation-env';
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import type { Baseline } from '../../lambdas/core/baseline';
import { encodeFeatures, type FeatureSpec } from '../../lambdas/core/encoding';
import { DatasetPreparer, toJsonBytes } from '../../lambdas/core/prepare';
import {
  driftWindow,
  htmlReportKey,
  readDriftEnv,
  reportKey,
  runDriftCheck,
  type StoredDriftReport,
} from '../../lambdas/handlers/drift-check';
import { handler } from '../../lambdas/handlers/drift';
import { sampleCsv } from '../../lib/local/sample-data';
import { schema } from '../helpers/csv';
import { BUCKETS, getText, listKeys, startTestS3, type TestS3 } from '../helpers/local-s3';

const ENDPOINT = 'testproj-endpoint';
const TRAINING = 'training/testproj-20260304050607-a1b2c3';
const cw = mockClient(CloudWatchClient);
const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:us-east-1:000000000000:testproj-pipeline-Topic-ABC';
let t: TestS3;
let spec: FeatureSpec;
let baseline: Baseline;

const pointer = {
  modelPackageArn: 'arn:aws:sagemaker:us-east-1:000000000000:model-package/testproj-models/2',
  jobName: 'testproj-20260304050607-a1b2c3',
  endpointName: ENDPOINT,
  endpointConfigName: 'testproj-20260304050607-a1b2c3',
  baselineUri: `s3://${BUCKETS.artifacts}/${TRAINING}/baseline.json`,
  featureSpecUri: `s3://${BUCKETS.artifacts}/${TRAINING}/feature-spec.json`,
  metricName: 'validation:auc',
  metric: 0.8,
  execution: 'arn:aws:states:us-east-1:000000000000:execution:testproj-training:run-1',
  deployedAt: '2026-03-04T05:06:07.000Z',
  cooldownUntil: '2026-03-04T11:06:07.000Z',
};

function put(key: string, body: string): Promise<unknown> {
  return t.s3.send(new PutObjectCommand({ Bucket: BUCKETS.artifacts, Key: key, Body: body }));
}

/** Encoded model-input rows of generated data (the CSV the endpoint receives). */
function modelRows(rows: number, seed: number, drift: number): string[] {
  const lines = sampleCsv({ rows, seed, drift }).trimEnd().split('\n');
  const header = lines[0].split(',');
  const cols = spec.features.map((f) => header.indexOf(f.name));
  return lines.slice(1).map((l) => {
    const cells = l.split(',');
    return encodeFeatures(
      spec,
      cols.map((c) => cells[c]),
    );
  });
}

/** SageMaker Data Capture JSONL (DESIGN.md section 7), `perRecord` CSV rows in each record. */
function captureJsonl(rows: string[], perRecord: number, time: string): string {
  let out = '';
  for (let i = 0; i < rows.length; i += perRecord) {
    const group = rows.slice(i, i + perRecord);
    out +=
      JSON.stringify({
        captureData: {
          endpointInput: {
            observedContentType: 'text/csv',
            mode: 'INPUT',
            data: group.join('\n') + '\n',
            encoding: 'CSV',
          },
          endpointOutput: {
            observedContentType: 'text/csv; charset=utf-8',
            mode: 'OUTPUT',
            data: group.map((_, j) => ((i + j) % 7) / 7).join('\n'),
            encoding: 'CSV',
          },
        },
        eventMetadata: { eventId: `e-${i}`, inferenceTime: time },
        eventVersion: '0',
      }) + '\n';
  }
  return out;
}

function metricsSent(): MetricDatum[] {
  return cw.commandCalls(PutMetricDataCommand).flatMap((c) => {
    expect(c.args[0].input.Namespace).toBe('DevMLOps');
    return c.args[0].input.MetricData ?? [];
  });
}

async function storedReport(key: string): Promise<StoredDriftReport> {
  return JSON.parse(await getText(t.s3, BUCKETS.artifacts, key)) as StoredDriftReport;
}

/** The HTML report next to a JSON report: its text, after checking it is stored as HTML. */
async function storedHtml(jsonKey: string): Promise<string> {
  const key = jsonKey.replace(/\.json$/, '.html');
  const head = await t.s3.send(new HeadObjectCommand({ Bucket: BUCKETS.artifacts, Key: key }));
  expect(head.ContentType).toBe('text/html; charset=utf-8');
  return getText(t.s3, BUCKETS.artifacts, key);
}

/** The bins the HTML draws for one feature, as [baseline count, current count]. */
function drawnCounts(html: string, feature: string): number[][] {
  const start = html.indexOf(`data-feature="${feature}" data-status`);
  expect(start).toBeGreaterThan(0);
  const section = html.slice(start, html.indexOf('</section>', start));
  return [...section.matchAll(/data-baseline-count="(\d+)" data-current-count="(\d+)"/g)].map((m) => [
    Number(m[1]),
    Number(m[2]),
  ]);
}

beforeAll(async () => {
  t = await startTestS3();
  process.env.ENDPOINT_NAME = ENDPOINT;
  process.env.WINDOW_HOURS = '2';
  process.env.MIN_SAMPLES = '500';
  process.env.DRIFT_THRESHOLD = '0.2';
  process.env.FEATURE_THRESHOLDS = JSON.stringify({ region: 0.5 });
  process.env.TOPIC_ARN = TOPIC;
  const noop = (): void => undefined;
  const preparer = new DatasetPreparer(schema, { validationFraction: 0 }, { train: noop, validation: noop });
  preparer.beginFile('train.csv');
  preparer.push(Buffer.from(sampleCsv({ rows: 5000, seed: 1 })));
  preparer.endFile();
  const r = preparer.finish();
  spec = r.featureSpec;
  baseline = r.baseline;
});

afterAll(async () => {
  cw.restore();
  sns.restore();
  await t?.stop();
});

beforeEach(() => {
  cw.reset();
  cw.on(PutMetricDataCommand).resolves({});
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'message-1' });
});

test('before the first model: exits cleanly, writes and sends nothing', async () => {
  const out = await handler({ time: '2026-03-05T12:10:00Z' });
  expect(out).toEqual({ status: 'no-model', samples: 0, drifted: false, driftedFeatures: [], maxDrift: 0 });
  expect(await listKeys(t.s3, BUCKETS.artifacts, 'reports/')).toEqual([]);
  expect(cw.commandCalls(PutMetricDataCommand)).toHaveLength(0);
});

describe('with a deployed model', () => {
  beforeAll(async () => {
    await put('baselines/current.json', JSON.stringify(pointer));
    await put(`${TRAINING}/baseline.json`, toJsonBytes(baseline));
    await put(`${TRAINING}/feature-spec.json`, toJsonBytes(spec));
    // Window of 2026-03-05 10:00-12:00 (the no-drift one): two hours, two variants, several rows per record.
    const fresh = modelRows(1200, 21, 0);
    const v = `capture/${ENDPOINT}`;
    await put(
      `${v}/AllTraffic/2026/03/05/10/a.jsonl`,
      captureJsonl(fresh.slice(0, 400), 1, '2026-03-05T10:01:00Z'),
    );
    await put(
      `${v}/AllTraffic/2026/03/05/11/b.jsonl`,
      captureJsonl(fresh.slice(400, 900), 5, '2026-03-05T11:00:00Z'),
    );
    await put(`${v}/Canary/2026/03/05/11/c.jsonl`, captureJsonl(fresh.slice(900), 3, '2026-03-05T11:30:00Z'));
    // Outside that window on both sides: must not be read.
    const drifted = modelRows(3000, 22, 1);
    await put(
      `${v}/AllTraffic/2026/03/05/09/z.jsonl`,
      captureJsonl(drifted.slice(0, 1000), 1, '2026-03-05T09:00:00Z'),
    );
    await put(
      `${v}/AllTraffic/2026/03/05/12/z.jsonl`,
      captureJsonl(drifted.slice(1000, 1500), 1, '2026-03-05T12:00:00Z'),
    );
    // The drifted window: 2026-03-06 04:00-06:00, crossing no day boundary but with a malformed line.
    await put(
      `${v}/AllTraffic/2026/03/06/04/d.jsonl`,
      captureJsonl(drifted.slice(1500, 2300), 4, '2026-03-06T04:00:00Z') + '{"captureData": truncated\n',
    );
    await put(
      `${v}/AllTraffic/2026/03/06/05/e.jsonl`,
      captureJsonl(drifted.slice(2300), 2, '2026-03-06T05:00:00Z'),
    );
    // An insufficient window: 2026-03-07 00:00-02:00 holds 120 rows.
    await put(
      `${v}/AllTraffic/2026/03/07/01/f.jsonl`,
      captureJsonl(modelRows(120, 23, 0), 3, '2026-03-07T01:00:00Z'),
    );
  });

  test('no drift: report at the last hour of the window, metrics at the window end', async () => {
    const out = await handler({ time: '2026-03-05T12:59:59Z' });
    const key = `reports/drift/${ENDPOINT}/2026/03/05/11.json`;
    expect(out).toMatchObject({
      status: 'ok',
      samples: 1200,
      drifted: false,
      driftedFeatures: [],
      reportKey: key,
    });
    const r = await storedReport(key);
    expect(r).toMatchObject({
      project: 'testproj',
      endpointName: ENDPOINT,
      window: { start: '2026-03-05T10:00:00.000Z', end: '2026-03-05T12:00:00.000Z' },
      model: { jobName: pointer.jobName },
      samples: 1200,
      sufficient: true,
      drifted: false,
      threshold: 0.2,
    });
    expect(r.capture).toMatchObject({ objects: 3, rows: 1200, malformedLines: 0, wrongColumnRows: 0 });
    expect(r.features.map((f) => f.name)).toEqual(spec.features.map((f) => f.name));
    expect(r.features.find((f) => f.name === 'region')!.threshold).toBe(0.5);
    expect(r.maxDrift).toBe(out.maxDrift);
    expect(r.maxDrift).toBeLessThan(0.1);

    const sent = metricsSent();
    const end = new Date('2026-03-05T12:00:00Z');
    for (const d of sent) expect(d.Timestamp).toEqual(end);
    const project = [{ Name: 'Project', Value: 'testproj' }];
    expect(sent.find((d) => d.MetricName === 'CapturedRecords')).toMatchObject({
      Value: 1200,
      Dimensions: project,
    });
    expect(sent.find((d) => d.MetricName === 'MaxFeatureDrift')).toMatchObject({
      Value: r.maxDrift,
      Dimensions: project,
    });
    expect(sent.find((d) => d.MetricName === 'DriftedFeatures')).toMatchObject({
      Value: 0,
      Dimensions: project,
    });
    const perFeature = sent.filter((d) => d.MetricName === 'FeatureDrift');
    expect(perFeature.map((d) => [d.Dimensions, d.Value])).toEqual(
      r.features.map((f) => [[...project, { Name: 'Feature', Value: f.name }], f.psi]),
    );
    expect(sent).toHaveLength(r.features.length + 3);

    // The HTML beside it says the same, and nothing is announced.
    expect(out.htmlReportKey).toBe(`reports/drift/${ENDPOINT}/2026/03/05/11.html`);
    const html = await storedHtml(key);
    expect(html).toContain('data-verdict="no-drift"');
    expect(html).toContain('<dt>Captured rows</dt><dd>1,200</dd>');
    expect(html).toContain('<dt>Window start</dt><dd>2026-03-05T10:00:00.000Z</dd>');
    expect(html).toContain(`<dt>Model package</dt><dd>${pointer.modelPackageArn}</dd>`);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
    expect(out.notificationId).toBeUndefined();
  });

  test('drifted window: the shifted features drift and the metrics say so', async () => {
    const out = await handler({ time: '2026-03-06T06:00:00Z' });
    const key = `reports/drift/${ENDPOINT}/2026/03/06/05.json`;
    expect(out).toMatchObject({ status: 'ok', samples: 1500, drifted: true, reportKey: key });
    const r = await storedReport(key);
    expect(r.capture).toMatchObject({ objects: 2, rows: 1500, malformedLines: 1 });
    expect(r.driftedFeatures).toEqual(expect.arrayContaining(['tenure_months', 'monthly_charges', 'plan']));
    expect(out.driftedFeatures).toEqual(r.driftedFeatures);
    expect(r.maxDrift).toBeGreaterThan(0.2);

    const sent = metricsSent();
    for (const d of sent) expect(d.Timestamp).toEqual(new Date('2026-03-06T06:00:00Z'));
    expect(sent.find((d) => d.MetricName === 'DriftedFeatures')!.Value).toBe(r.driftedFeatures.length);
    expect(sent.find((d) => d.MetricName === 'MaxFeatureDrift')!.Value).toBe(r.maxDrift);
    const tenure = sent.find(
      (d) => d.MetricName === 'FeatureDrift' && d.Dimensions?.[1]?.Value === 'tenure_months',
    );
    expect(tenure!.Value).toBe(r.features.find((f) => f.name === 'tenure_months')!.psi);
    expect(tenure!.Value).toBeGreaterThan(0.2);

    // The HTML: drifted features first and flagged, the bins drawn with the JSON report's counts.
    const html = await storedHtml(key);
    expect(html).toContain('data-verdict="drift"');
    const cards = [...html.matchAll(/data-feature="([^"]+)" data-status="([^"]+)"/g)].map((m) => [
      m[1],
      m[2],
    ]);
    const drifted = cards.filter(([, status]) => status === 'drifted').map(([name]) => name);
    expect(drifted.sort()).toEqual([...r.driftedFeatures].sort());
    expect(cards.slice(0, drifted.length).every(([, status]) => status === 'drifted')).toBe(true);
    for (const f of r.features) {
      const d = f.distribution;
      const expected =
        d.kind === 'numeric'
          ? d.baseline.map((b, i) => [b, d.current[i]])
          : d.baseline
              .map((b, i) => [b, d.current[i]])
              .concat(d.baselineUnseen + d.currentUnseen > 0 ? [[d.baselineUnseen, d.currentUnseen]] : []);
      expect(drawnCounts(html, f.name)).toEqual(expected);
    }
    expect(
      r.features.find((f) => f.name === 'tenure_months')!.distribution.current.reduce((a, b) => a + b),
    ).toBe(1500);

    // One notification, naming both reports.
    expect(out.notificationId).toBe('message-1');
    const calls = sns.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    const msg = calls[0].args[0].input;
    expect(msg.TopicArn).toBe(TOPIC);
    expect(msg.Subject).toBe(`[testproj] Drift detected on ${ENDPOINT}`);
    expect(msg.MessageAttributes).toEqual({ status: { DataType: 'String', StringValue: 'Drift' } });
    const htmlUri = `s3://${BUCKETS.artifacts}/reports/drift/${ENDPOINT}/2026/03/06/05.html`;
    expect(msg.Message).toContain(htmlUri);
    expect(msg.Message).toContain(`s3://${BUCKETS.artifacts}/${key}`);
    expect(msg.Message).toContain(
      `https://s3.console.aws.amazon.com/s3/object/${BUCKETS.artifacts}?region=us-east-1&prefix=${encodeURIComponent(key)}`,
    );
    for (const name of r.driftedFeatures) expect(msg.Message).toContain(`  - ${name}: PSI `);
  });

  test('a failed publish fails the check, so that the schedule retries it; the reports are in place', async () => {
    sns.on(PublishCommand).rejects(Object.assign(new Error('throttled'), { name: 'Throttling' }));
    const env = readDriftEnv(process.env);
    await expect(
      runDriftCheck(
        { s3: t.s3, cloudWatch: new CloudWatchClient({}), sns: new SNSClient({}) },
        env,
        '2026-03-06T06:00:00Z',
      ),
    ).rejects.toThrow('throttled');
    const key = `reports/drift/${ENDPOINT}/2026/03/06/05.json`;
    expect((await storedReport(key)).drifted).toBe(true);
    expect(await storedHtml(key)).toContain('data-verdict="drift"');
    // Without a topic, drift is reported and measured but not announced.
    sns.reset();
    const quiet = await runDriftCheck(
      { s3: t.s3, cloudWatch: new CloudWatchClient({}) },
      { ...env, topicArn: undefined },
      '2026-03-06T06:00:00Z',
    );
    expect(quiet).toMatchObject({ drifted: true });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
  });

  test('insufficient data: report written, CapturedRecords only', async () => {
    const out = await handler({ time: '2026-03-07T02:30:00Z' });
    expect(out).toMatchObject({ status: 'insufficient-data', samples: 120, drifted: false });
    const r = await storedReport(`reports/drift/${ENDPOINT}/2026/03/07/01.json`);
    expect(r).toMatchObject({ sufficient: false, drifted: false, samples: 120, minSamples: 500 });
    const sent = metricsSent();
    expect(sent.map((d) => [d.MetricName, d.Value])).toEqual([['CapturedRecords', 120]]);
    expect(sent[0].Timestamp).toEqual(new Date('2026-03-07T02:00:00Z'));
    const html = await storedHtml(`reports/drift/${ENDPOINT}/2026/03/07/01.json`);
    expect(html).toContain('data-verdict="insufficient-data"');
    expect(html).toContain('120 captured rows, 500 needed for a decision');
    expect(html).not.toContain('data-status="drifted"');
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
  });

  test('an empty window is insufficient data with zero records', async () => {
    const env = readDriftEnv({ ...process.env, WINDOW_HOURS: '1' });
    const out = await runDriftCheck(
      { s3: t.s3, cloudWatch: new CloudWatchClient({}) },
      env,
      '2026-04-01T00:00:00Z',
    );
    expect(out).toMatchObject({ status: 'insufficient-data', samples: 0 });
    expect(metricsSent().map((d) => [d.MetricName, d.Value])).toEqual([['CapturedRecords', 0]]);
  });

  test('a baseline that does not match the spec fails loudly', async () => {
    await put(`${TRAINING}/bad-spec.json`, toJsonBytes({ ...spec, features: spec.features.slice(1) }));
    const env = readDriftEnv(process.env);
    await put(
      'baselines/current.json',
      JSON.stringify({ ...pointer, featureSpecUri: `s3://${BUCKETS.artifacts}/${TRAINING}/bad-spec.json` }),
    );
    await expect(
      runDriftCheck({ s3: t.s3, cloudWatch: new CloudWatchClient({}) }, env, '2026-03-05T12:00:00Z'),
    ).rejects.toThrow(/do not match the feature spec/);
    await put('baselines/current.json', JSON.stringify(pointer));
  });
});

test('window: whole UTC hours ending at the hour of the event', () => {
  const w = driftWindow('2026-03-01T00:20:00Z', 3);
  expect(w.hours.map((h) => h.toISOString())).toEqual([
    '2026-02-28T21:00:00.000Z',
    '2026-02-28T22:00:00.000Z',
    '2026-02-28T23:00:00.000Z',
  ]);
  expect(w.end.toISOString()).toBe('2026-03-01T00:00:00.000Z');
  expect(reportKey('ep', w)).toBe('reports/drift/ep/2026/02/28/23.json');
  expect(htmlReportKey(reportKey('ep', w))).toBe('reports/drift/ep/2026/02/28/23.html');
});

test('readDriftEnv: defaults and checks', () => {
  const base = { PROJECT: 'p', ARTIFACTS_BUCKET: 'b', ENDPOINT_NAME: 'e' };
  expect(readDriftEnv(base)).toEqual({
    project: 'p',
    artifactsBucket: 'b',
    endpointName: 'e',
    windowHours: 1,
    minSamples: 500,
    threshold: 0.2,
    featureThresholds: {},
    namespace: 'DevMLOps',
  });
  expect(() => readDriftEnv({ ...base, FEATURE_THRESHOLDS: '[1]' })).toThrow(/must be a JSON object/);
  expect(() => readDriftEnv({ ...base, FEATURE_THRESHOLDS: '{"plan":-1}' })).toThrow(
    /FEATURE_THRESHOLDS.plan/,
  );
  expect(() => readDriftEnv({ ...base, WINDOW_HOURS: '0' })).toThrow(/WINDOW_HOURS/);
  expect(() => readDriftEnv({ PROJECT: 'p', ARTIFACTS_BUCKET: 'b' })).toThrow(/ENDPOINT_NAME is required/);
  expect(readDriftEnv({ ...base, TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:t-1' }).topicArn).toBe(
    'arn:aws:sns:eu-west-1:123456789012:t-1',
  );
  expect(readDriftEnv({ ...base, TOPIC_ARN: '' }).topicArn).toBeUndefined();
  expect(() => readDriftEnv({ ...base, TOPIC_ARN: 'my-topic' })).toThrow(
    /TOPIC_ARN must be an SNS topic ARN/,
  );
});
