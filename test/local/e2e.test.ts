import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { listKeys } from '../../lambdas/shared/s3';
import { readProjectConfig } from '../../lib/config';
import { demoConfig, runLoop, type LoopResult } from '../../lib/local/loop';
import type { LocalPlatform } from '../../lib/local/platform';

/**
 * The demo's loop end to end, with less data (issue 5 "Tests that must exist"): every stage's outcome is read
 * from the platform's stores (S3 objects, execution histories, the SageMaker engine, capture files, the metric
 * store, alarm states), not from what the loop printed.
 */

jest.setTimeout(180_000);

let dir: string;
let result: LoopResult;
let platform: LocalPlatform;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmlops-e2e-'));
  const run = await runLoop({
    directory: dir,
    config: demoConfig(readProjectConfig() as unknown as Record<string, unknown>),
    keep: true,
    sizes: { goodRows: 3000, badRows: 400, newRows: 3000, trafficPerHour: 600, batch: 100 },
  });
  result = run.result;
  platform = run.platform!;
});

afterAll(async () => {
  await platform?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function text(bucket: string, key: string): Promise<string> {
  const r = await platform.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return r.Body!.transformToString('utf8');
}

it('reports no problem', () => {
  expect(result.problems).toEqual([]);
});

it('validated the uploads: good rows in curated, the bad file quarantined whole', async () => {
  const { buckets, dataset } = platform.names;
  const curated = await listKeys(platform.s3, buckets.curated, `${dataset}/`);
  // good, mixed and the shifted file each give one curated object.
  expect(curated).toHaveLength(3);
  const quarantined = await listKeys(platform.s3, buckets.quarantine, `${dataset}/`);
  const whole = [];
  for (const k of quarantined) {
    const body = await text(buckets.quarantine, k);
    if (!body.split('\n')[0].includes('_errors')) whole.push(k);
  }
  // The bad file is kept whole; the mixed file's invalid rows go with an _errors column.
  expect(whole).toHaveLength(1);
  expect(quarantined.length).toBe(2);
});

it('ran two executions from the synthesized definition: create, then a drift-triggered update', () => {
  const runs = platform.executions;
  expect(runs.map((e) => (e.input as { trigger: string }).trigger)).toEqual(['manual', 'drift']);
  expect(runs.map((e) => e.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  const [v1, v2] = runs.map((e) => e.record!);
  expect(v1.path).toEqual(
    expect.arrayContaining(['Prepare', 'Train', 'Evaluate', 'Register', 'CreateEndpoint', 'Promote']),
  );
  expect(v1.path).not.toContain('UpdateEndpoint');
  expect(v2.path).toEqual(
    expect.arrayContaining(['ReadCurrentPointer', 'DescribeChampion', 'UpdateEndpoint', 'Promote']),
  );
  expect(v2.path).not.toContain('CreateEndpoint');
  // The drift execution's input is the retraining rule's input transformer applied to the alarm's event.
  expect(runs[1].input).toEqual({
    trigger: 'drift',
    alarm: `${platform.names.project}-drift`,
    time: expect.any(String),
    dataset: platform.names.dataset,
  });
  const update = v2.calls.find((c) => c.state === 'UpdateEndpoint')!.request as Record<string, unknown>;
  expect(update.DeploymentConfig).toBeDefined();
});

it('serves version 2 on the endpoint, as SageMaker reports it', async () => {
  const v2 = platform.executions[1].record!;
  const config = (
    v2.calls.find((c) => c.state === 'CreateEndpointConfig')!.request as { EndpointConfigName: string }
  ).EndpointConfigName;
  const described = (await platform.sagemaker.call('DescribeEndpoint', {
    EndpointName: platform.names.endpointName,
  })) as { EndpointStatus: string; EndpointConfigName: string };
  expect(described).toMatchObject({ EndpointStatus: 'InService', EndpointConfigName: config });
  const packages = (await platform.sagemaker.call('ListModelPackages', {
    ModelPackageGroupName: `${platform.names.project}-models`,
  })) as { ModelPackageSummaryList: Array<{ ModelApprovalStatus: string }> };
  expect(packages.ModelPackageSummaryList.map((p) => p.ModelApprovalStatus)).toEqual([
    'Approved',
    'Approved',
  ]);
});

it('answered every request and captured them in hour partitions', async () => {
  // 600 normal + 600 per shifted hour (two or three) + 600 to version 2.
  expect(result.predictions.sent).toBeGreaterThanOrEqual(600 * 4);
  const { artifacts } = platform.names.buckets;
  const keys = await listKeys(platform.s3, artifacts, `capture/${platform.names.endpointName}/`);
  expect(keys.length).toBeGreaterThan(0);
  for (const k of keys)
    expect(k).toMatch(/^capture\/[^/]+\/AllTraffic\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/[^/]+\.jsonl$/);
  const hours = new Set(keys.map((k) => k.split('/').slice(3, 7).join('/')));
  expect(hours.size).toBeGreaterThanOrEqual(3);
  let records = 0;
  for (const k of keys) {
    for (const line of (await text(artifacts, k)).split('\n').filter(Boolean)) {
      const r = JSON.parse(line) as {
        captureData: { endpointInput: { data: string }; endpointOutput: { data: string } };
      };
      records += r.captureData.endpointInput.data.split('\n').filter(Boolean).length;
    }
  }
  expect(records).toBe(result.predictions.sent);
});

it('sent the traffic through the inference API: signed, counted by model version', () => {
  const { byModelVersion, sent } = result.predictions;
  // Version 2 answers only the traffic after its deploy.
  expect(byModelVersion.v2).toBe(600);
  expect(byModelVersion.v1 + byModelVersion.v2).toBe(sent);
  const start = new Date(0);
  const end = new Date(platform.clock.now().getTime() + 3_600_000);
  const api = { ApiName: `${platform.names.project}-inference`, Stage: 'prod' };
  // 100 records a request, each one through API Gateway and the inference Lambda, none refused.
  expect(platform.metrics.stat('AWS/ApiGateway', 'Count', api, 'Sum', start, end)).toBe(sent / 100);
  expect(platform.metrics.stat('AWS/ApiGateway', '4XXError', api, 'Sum', start, end)).toBe(0);
  expect(platform.metrics.stat('AWS/ApiGateway', '5XXError', api, 'Sum', start, end)).toBe(0);
  expect(
    platform.metrics.stat(
      'DevMLOps',
      'PredictionRecords',
      { Project: platform.names.project },
      'Sum',
      start,
      end,
    ),
  ).toBe(sent);
  const log = platform.apiAccessLog.map(
    (l) => JSON.parse(l) as { status: string; caller: string; resourcePath: string },
  );
  expect(log).toHaveLength(sent / 100);
  expect(new Set(log.map((l) => `${l.status} ${l.resourcePath} ${l.caller}`))).toEqual(
    new Set([`200 /v1/predict ${platform.credentials.accessKeyId}`]),
  );
});

it('measured no drift on normal traffic and drift on shifted traffic, and alarmed', () => {
  const [quiet, ...shifted] = result.drift;
  expect(quiet).toMatchObject({ traffic: 'normal', status: 'OK', drifted: [] });
  expect(shifted.length).toBeGreaterThanOrEqual(2);
  for (const d of shifted) expect(d).toMatchObject({ traffic: 'shifted', status: 'DRIFT' });
  // The metrics the handlers sent (PutMetricData from the drift Lambda, EMF from validation) are in the store.
  const project = { Project: platform.names.project };
  const start = new Date(0);
  const end = new Date(platform.clock.now().getTime() + 3_600_000);
  expect(
    platform.metrics.stat('DevMLOps', 'MaxFeatureDrift', project, 'Maximum', start, end),
  ).toBeGreaterThan(0.2);
  expect(platform.metrics.stat('DevMLOps', 'CapturedRecords', project, 'Sum', start, end)).toBe(
    600 * result.drift.length,
  );
  expect(platform.metrics.stat('DevMLOps', 'FilesQuarantined', project, 'Sum', start, end)).toBe(1);
  expect(result.alarmChanges).toContainEqual(
    expect.objectContaining({ name: `${platform.names.project}-drift`, to: 'ALARM' }),
  );
});

it('notified the deploys', () => {
  expect(platform.notifications.filter((n) => n.status === 'Deployed')).toHaveLength(2);
});

it('announced each drifted window through SNS, naming its HTML and JSON reports, which exist', async () => {
  const drifted = platform.notifications.filter((n) => n.status === 'Drift');
  expect(drifted).toHaveLength(result.drift.filter((d) => d.status === 'DRIFT').length);
  expect(drifted.length).toBeGreaterThanOrEqual(2);
  const { artifacts } = platform.names.buckets;
  for (const n of drifted) {
    expect(n.subject).toBe(`[${platform.names.project}] Drift detected on ${platform.names.endpointName}`);
    const html = new RegExp(`s3://${artifacts}/(reports/drift/[^\\s]+\\.html)`).exec(n.message)![1];
    expect(n.message).toContain(`s3://${artifacts}/${html.replace(/\.html$/, '.json')}`);
    expect(await text(artifacts, html)).toContain('data-verdict="drift"');
  }
});
