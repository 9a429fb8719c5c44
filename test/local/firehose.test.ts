import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  DescribeDeliveryStreamCommand,
  FirehoseClient,
  PutRecordBatchCommand,
  PutRecordCommand,
} from '@aws-sdk/client-firehose';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { startAwsApiServer, type AwsApiServer } from '../../lib/local/aws-api-server';
import { LocalClock } from '../../lib/local/clock';
import {
  deliveryStreamsFromTemplates,
  evaluatePrefix,
  FIREHOSE_TARGET_PREFIX,
  formatJavaTime,
  LocalFirehose,
  parsePrefix,
  timeParts,
  type DeliveryStreamConfig,
  type FirehoseMetric,
} from '../../lib/local/firehose';
import { LocalTemplates, type CfnTemplate } from '../../lib/local/template';
import { driftWindow, reportKey, type StoredDriftReport } from '../../lambdas/handlers/drift-check';
import { DevMlopsClient } from '../../lib/client';
import { readProjectConfig } from '../../lib/config';
import { demoConfig, trafficRecords } from '../../lib/local/loop';
import { LocalPlatform } from '../../lib/local/platform';
import { sampleCsv } from '../../lib/local/sample-data';
import { getBytes, getText, listKeys, startTestS3, type TestS3 } from '../helpers/local-s3';

/**
 * The local Firehose (issue 6: serverless capture): delivery streams read from a synthesized template, the real
 * @aws-sdk/client-firehose against the platform's AWS JSON endpoint, records concatenated into objects under the
 * evaluated hour prefix, buffering by size and by interval on the platform clock, Firehose's object names.
 */

const BUCKET = 'test-artifacts';
const HOUR = 3_600_000;

/** A small stack of this test's own, shaped as the inference API's capture stream is. */
function synthesizeStream(options: {
  name: string;
  extra?: Partial<firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty>;
  sizeMb?: number;
  seconds?: number;
}): CfnTemplate {
  const app = new App();
  const stack = new Stack(app, 'FirehoseTest', { stackName: 'firehose-test' });
  const bucket = new s3.Bucket(stack, 'Artifacts', { bucketName: BUCKET });
  const key = new kms.Key(stack, 'Key');
  const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com') });
  new firehose.CfnDeliveryStream(stack, options.name, {
    deliveryStreamType: 'DirectPut',
    deliveryStreamEncryptionConfigurationInput: { keyType: 'AWS_OWNED_CMK' },
    extendedS3DestinationConfiguration: {
      bucketArn: bucket.bucketArn,
      roleArn: role.roleArn,
      prefix: 'capture/churn-endpoint/AllTraffic/!{timestamp:yyyy/MM/dd/HH}/',
      errorOutputPrefix:
        'capture-errors/churn-endpoint/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/',
      bufferingHints: { intervalInSeconds: options.seconds ?? 300, sizeInMBs: options.sizeMb ?? 5 },
      compressionFormat: 'UNCOMPRESSED',
      fileExtension: '.jsonl',
      customTimeZone: 'UTC',
      encryptionConfiguration: { kmsEncryptionConfig: { awskmsKeyArn: key.keyArn } },
      ...options.extra,
    },
  });
  return app.synth().getStackByName('firehose-test').template as CfnTemplate;
}

function streamsOf(template: CfnTemplate): DeliveryStreamConfig[] {
  const stacks = [{ stackName: 'firehose-test', template }];
  const local = new LocalTemplates(stacks);
  return deliveryStreamsFromTemplates(local);
}

let testS3: TestS3;
let server: AwsApiServer;
let client: FirehoseClient;
let clock: LocalClock;
let service: LocalFirehose | undefined;
const metrics: FirehoseMetric[] = [];
let template: CfnTemplate;
let sizeTemplate: CfnTemplate;

beforeAll(async () => {
  template = synthesizeStream({ name: 'CaptureStream' });
  sizeTemplate = synthesizeStream({ name: 'SmallStream', sizeMb: 1, seconds: 900 });
  testS3 = await startTestS3([BUCKET]);
  server = await startAwsApiServer();
  client = new FirehoseClient({
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client.destroy();
  await service?.close();
  await server.close();
  await testS3.stop();
});

/** A fresh service on the shared API server (registering again replaces the operations). */
function serve(streams: DeliveryStreamConfig[], start = new Date('2026-03-04T10:20:30.000Z')): LocalFirehose {
  clock = new LocalClock({ start, speed: 1e-9 });
  metrics.length = 0;
  service = new LocalFirehose({
    streams,
    s3: testS3.s3,
    clock,
    accountId: '000000000000',
    checkMilliseconds: 20,
    onMetric: (m) => metrics.push(m),
  });
  server.register(FIREHOSE_TARGET_PREFIX, service.operations());
  return service;
}

async function keysUnder(prefix: string): Promise<string[]> {
  return listKeys(testS3.s3, BUCKET, prefix);
}

async function until<T>(f: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('reading the template', () => {
  it('takes the S3 destination of the synthesized stream', () => {
    const [s] = streamsOf(template);
    expect(s).toMatchObject({
      name: 'firehose-test-CaptureStream',
      arn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/firehose-test-CaptureStream',
      bucket: BUCKET,
      prefix: 'capture/churn-endpoint/AllTraffic/!{timestamp:yyyy/MM/dd/HH}/',
      bufferIntervalSeconds: 300,
      bufferSizeBytes: 5 * 1024 * 1024,
      compression: 'UNCOMPRESSED',
      fileExtension: '.jsonl',
      timeZone: 'UTC',
      streamEncrypted: true,
    });
    expect(s.kmsKeyArn).toMatch(/^arn:aws:kms:us-east-1:000000000000:key\//);
  });

  it('refuses what it cannot do, naming the stream', () => {
    expect(() =>
      streamsOf(
        synthesizeStream({
          name: 'Dynamic',
          extra: { prefix: 'x/!{partitionKeyFromQuery:customer}/', errorOutputPrefix: 'e/' },
        }),
      ),
    ).toThrow(/firehose-test\/Dynamic.*dynamic partitioning/);
    expect(() =>
      streamsOf(synthesizeStream({ name: 'NoErrorPrefix', extra: { errorOutputPrefix: undefined } })),
    ).toThrow(/NoErrorPrefix: a Prefix with expressions needs an ErrorOutputPrefix/);
    expect(() =>
      streamsOf(synthesizeStream({ name: 'BadZone', extra: { customTimeZone: 'Mars/Olympus' } })),
    ).toThrow(/CustomTimeZone "Mars\/Olympus"/);
  });
});

describe('prefixes and names', () => {
  const t = new Date('2026-01-02T03:04:05.678Z');

  it('formats Java DateTimeFormatter patterns, quoted text included', () => {
    expect(formatJavaTime("yyyy/MM/dd/HH/'h'mm-ss.SSS ''yy", timeParts(t))).toBe(
      "2026/01/02/03/h04-05.678 '26",
    );
    expect(() => formatJavaTime('yyyy-EEE', timeParts(t))).toThrow(/letter "E"/);
  });

  it('evaluates prefixes in the stream time zone, and the default hour prefix', () => {
    expect(evaluatePrefix('a/!{timestamp:yyyy/MM/dd/HH}/', t)).toBe('a/2026/01/02/03/');
    expect(evaluatePrefix('a/!{timestamp:yyyy/MM/dd/HH}/', t, { timeZone: 'Asia/Tokyo' })).toBe(
      'a/2026/01/02/12/',
    );
    expect(evaluatePrefix(undefined, t)).toBe('2026/01/02/03/');
    expect(evaluatePrefix('static/', t)).toBe('static/2026/01/02/03/');
    expect(evaluatePrefix('r/!{firehose:random-string}/', t)).toMatch(/^r\/[a-z0-9]{11}\/$/);
    expect(
      evaluatePrefix('e/!{firehose:error-output-type}/!{timestamp:HH}/', t, {
        errorOutputType: 'processing-failed',
      }),
    ).toBe('e/processing-failed/03/');
    expect(() => parsePrefix('p/!{firehose:error-output-type}/', false)).toThrow(
      /only allowed in ErrorOutputPrefix/,
    );
    expect(() => parsePrefix('p/!{nope:x}/', false)).toThrow(/unknown prefix expression/);
  });
});

describe('delivery through the SDK', () => {
  it('concatenates records into one object per hour partition, named as Firehose names them', async () => {
    const [stream] = streamsOf(template);
    const firehoseService = serve([stream]);
    const line = (i: number) => `{"n":${i}}\n`;
    const one = await client.send(
      new PutRecordCommand({
        DeliveryStreamName: stream.name,
        Record: { Data: Buffer.from(line(0)) },
      }),
    );
    expect(one.RecordId).toEqual(expect.any(String));
    expect(one.Encrypted).toBe(true);
    const batch = await client.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: stream.name,
        Records: [1, 2, 3].map((i) => ({ Data: Buffer.from(line(i)) })),
      }),
    );
    expect(batch.FailedPutCount).toBe(0);
    expect(batch.RequestResponses).toHaveLength(3);
    // Buffered: nothing in S3 until the interval passes on the clock.
    await new Promise((r) => setTimeout(r, 100));
    expect(await keysUnder('capture/')).toEqual([]);

    // The next hour's record arrives after the interval: the first buffer is delivered before it joins one.
    clock.advance(HOUR);
    await client.send(
      new PutRecordCommand({ DeliveryStreamName: stream.name, Record: { Data: Buffer.from(line(4)) } }),
    );
    await firehoseService.flush();
    const keys = await keysUnder('capture/');
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(
      /^capture\/churn-endpoint\/AllTraffic\/2026\/03\/04\/10\/firehose-test-CaptureStream-1-2026-03-04-10-20-30-[0-9a-f-]{36}\.jsonl$/,
    );
    expect(keys[1]).toMatch(
      /^capture\/churn-endpoint\/AllTraffic\/2026\/03\/04\/11\/firehose-test-CaptureStream-1-2026-03-04-11-20-30-[0-9a-f-]{36}\.jsonl$/,
    );
    expect(await getText(testS3.s3, BUCKET, keys[0])).toBe(line(0) + line(1) + line(2) + line(3));
    expect(await getText(testS3.s3, BUCKET, keys[1])).toBe(line(4));
    expect(firehoseService.stats()).toEqual({ records: 5, objects: 2, bytes: 5 * 8, pendingRecords: 0 });
    const sum = (name: string) =>
      metrics.filter((m) => m.metricName === name).reduce((n, m) => n + m.value, 0);
    expect(sum('IncomingRecords')).toBe(5);
    expect(sum('DeliveryToS3.Records')).toBe(5);
    expect(sum('DeliveryToS3.Success')).toBe(2);
    await firehoseService.close();
    service = undefined;
  });

  it('delivers on the interval with no further put (the timer reads the platform clock)', async () => {
    const [stream] = streamsOf(template);
    const firehoseService = serve([stream], new Date('2026-03-05T08:00:00.000Z'));
    await client.send(
      new PutRecordCommand({ DeliveryStreamName: stream.name, Record: { Data: Buffer.from('a\n') } }),
    );
    clock.advance(299_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(await keysUnder('capture/churn-endpoint/AllTraffic/2026/03/05/')).toEqual([]);
    clock.advance(1_000);
    const keys = await until(async () => {
      const k = await keysUnder('capture/churn-endpoint/AllTraffic/2026/03/05/');
      return k.length > 0 ? k : undefined;
    });
    expect(keys).toEqual([
      expect.stringMatching(/\/2026\/03\/05\/08\/firehose-test-CaptureStream-1-2026-03-05-08-00-00-/),
    ]);
    await firehoseService.close();
    service = undefined;
  });

  it('delivers when the buffer reaches SizeInMBs', async () => {
    const [stream] = streamsOf(sizeTemplate);
    expect(stream.bufferSizeBytes).toBe(1024 * 1024);
    const firehoseService = serve([stream], new Date('2026-03-06T01:00:00.000Z'));
    const record = Buffer.alloc(300 * 1024, 'x');
    await client.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: stream.name,
        Records: [1, 2, 3].map(() => ({ Data: record })),
      }),
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(await keysUnder('capture/churn-endpoint/AllTraffic/2026/03/06/')).toEqual([]);
    await client.send(new PutRecordCommand({ DeliveryStreamName: stream.name, Record: { Data: record } }));
    const keys = await until(async () => {
      const k = await keysUnder('capture/churn-endpoint/AllTraffic/2026/03/06/');
      return k.length > 0 ? k : undefined;
    });
    expect(keys).toHaveLength(1);
    expect((await getBytes(testS3.s3, BUCKET, keys[0])).length).toBe(4 * 300 * 1024);
    expect(firehoseService.stats().pendingRecords).toBe(0);
    await firehoseService.close();
    service = undefined;
  });

  it('gzips when CompressionFormat is GZIP', async () => {
    const [stream] = streamsOf(
      synthesizeStream({
        name: 'Gzipped',
        extra: { compressionFormat: 'GZIP', fileExtension: undefined, prefix: 'gz/!{timestamp:yyyy}/' },
      }),
    );
    const firehoseService = serve([stream]);
    await client.send(
      new PutRecordCommand({ DeliveryStreamName: stream.name, Record: { Data: Buffer.from('zipped\n') } }),
    );
    await firehoseService.flush();
    const [key] = await keysUnder('gz/');
    expect(key).toMatch(/^gz\/2026\/firehose-test-Gzipped-1-2026-03-04-10-20-30-[0-9a-f-]{36}\.gz$/);
    expect(gunzipSync(await getBytes(testS3.s3, BUCKET, key)).toString()).toBe('zipped\n');
    await firehoseService.close();
    service = undefined;
  });

  it('answers as Firehose for an unknown stream and for bad batches', async () => {
    const [stream] = streamsOf(template);
    const firehoseService = serve([stream]);
    await expect(
      client.send(new PutRecordCommand({ DeliveryStreamName: 'nope', Record: { Data: Buffer.from('x') } })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: 'Firehose nope under account 000000000000 not found.',
      $metadata: { httpStatusCode: 400 },
    });
    await expect(
      client.send(
        new PutRecordBatchCommand({
          DeliveryStreamName: stream.name,
          Records: Array.from({ length: 501 }, () => ({ Data: Buffer.from('x') })),
        }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(
      client.send(
        new PutRecordCommand({
          DeliveryStreamName: stream.name,
          Record: { Data: Buffer.alloc(1000 * 1024 + 1) },
        }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    const described = await client.send(
      new DescribeDeliveryStreamCommand({ DeliveryStreamName: stream.name }),
    );
    expect(described.DeliveryStreamDescription).toMatchObject({
      DeliveryStreamName: stream.name,
      DeliveryStreamStatus: 'ACTIVE',
      DeliveryStreamType: 'DirectPut',
    });
    expect(firehoseService.stats()).toEqual({ records: 0, objects: 0, bytes: 0, pendingRecords: 0 });
    await firehoseService.close();
    service = undefined;
  });

  it('keeps records whose delivery failed and delivers them on the next flush', async () => {
    const [stream] = streamsOf(template);
    // A bucket that does not exist yet: delivery fails until it is created.
    const late = { ...stream, bucket: 'test-late-bucket' };
    const firehoseService = serve([late], new Date('2026-03-07T02:00:00.000Z'));
    await client.send(
      new PutRecordCommand({ DeliveryStreamName: stream.name, Record: { Data: Buffer.from('kept\n') } }),
    );
    await expect(firehoseService.flush()).rejects.toMatchObject({ name: 'NoSuchBucket' });
    expect(firehoseService.stats().pendingRecords).toBe(1);
    expect(metrics.filter((m) => m.metricName === 'DeliveryToS3.Success').map((m) => m.value)).toEqual([0]);
    await testS3.s3.send(new CreateBucketCommand({ Bucket: late.bucket }));
    await firehoseService.flush();
    const keys = await listKeys(testS3.s3, late.bucket, 'capture/churn-endpoint/AllTraffic/2026/03/07/02/');
    expect(keys).toHaveLength(1);
    expect(await getText(testS3.s3, late.bucket, keys[0])).toBe('kept\n');
    await firehoseService.close();
    service = undefined;
  });
});

describe('a serverless endpoint in the local platform', () => {
  // One platform per process: this file starts it once, last.
  let platform: LocalPlatform;
  let dir: string;

  afterAll(async () => {
    await platform?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('captures through the API and Firehose (not SageMaker), and the drift check reads it', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmlops-serverless-'));
    const base = demoConfig(readProjectConfig() as unknown as Record<string, unknown>);
    const config = {
      ...base,
      endpoint: { ...(base.endpoint as object), type: 'serverless' },
      inference: { ...(base.inference as object), captureBufferSeconds: 60 },
    };
    // Half past an hour, so the traffic and its drift window share one hour partition.
    const clock = new LocalClock({ start: new Date(Math.floor(Date.now() / HOUR) * HOUR + HOUR / 2) });
    platform = await LocalPlatform.start({ directory: dir, fresh: true, config, clock });
    const { names } = platform;
    const artifacts = names.buckets.artifacts;
    await platform.s3.send(
      new PutObjectCommand({
        Bucket: names.buckets.raw,
        Key: `${names.dataset}/first.csv`,
        Body: sampleCsv({ rows: 3000, seed: 5 }),
      }),
    );
    await platform.idle();
    const execution = platform.startExecution({ trigger: 'manual', dataset: names.dataset });
    await execution.done;
    await platform.idle();
    expect(execution.status).toBe('SUCCEEDED');
    // SageMaker has no data capture for serverless variants: the endpoint config has none.
    const configName = (
      (await platform.sagemaker.call('DescribeEndpoint', { EndpointName: names.endpointName })) as {
        EndpointConfigName: string;
      }
    ).EndpointConfigName;
    const endpointConfig = (await platform.sagemaker.call('DescribeEndpointConfig', {
      EndpointConfigName: configName,
    })) as { ProductionVariants: Array<{ ServerlessConfig?: unknown }>; DataCaptureConfig?: unknown };
    expect(endpointConfig.ProductionVariants[0].ServerlessConfig).toBeDefined();
    expect(endpointConfig.DataCaptureConfig).toBeUndefined();

    const client = new DevMlopsClient({
      apiUrl: platform.apiUrl!,
      region: names.region,
      credentials: platform.credentials,
    });
    const records = trafficRecords(platform.config.dataset, 600, 21);
    for (let i = 0; i < records.length; i += 100) {
      const r = await client.predict(records.slice(i, i + 100));
      expect(r.predictions).toHaveLength(100);
    }
    // Buffered in Firehose (60 s on the platform clock have not passed): nothing in S3 yet.
    const prefix = `capture/${names.endpointName}/`;
    expect(await listKeys(platform.s3, artifacts, prefix)).toEqual([]);
    await platform.flushCapture();
    const keys = await listKeys(platform.s3, artifacts, prefix);
    // One object, named by Firehose (stream name, version 1, time, uuid), in the hour partition.
    const hour = clock.now().toISOString().slice(0, 13).replace(/[-T]/g, '/');
    const stream = platform.templates.resourcesOfType('AWS::KinesisFirehose::DeliveryStream')[0];
    const streamName = platform.templates.resource(stream.stackName, stream.logicalId).ref;
    expect(keys).toEqual([
      expect.stringMatching(
        new RegExp(`^${prefix}AllTraffic/${hour}/${streamName}-1-\\d{4}(-\\d{2}){5}-[0-9a-f-]{36}\\.jsonl$`),
      ),
    ]);
    const lines = (await getText(platform.s3, artifacts, keys[0])).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(6);
    for (const line of lines) {
      const r = JSON.parse(line) as {
        captureData: { endpointInput: { data: string; encoding: string; observedContentType: string } };
        eventVersion: string;
      };
      expect(r.eventVersion).toBe('0');
      expect(r.captureData.endpointInput).toMatchObject({ observedContentType: 'text/csv', encoding: 'CSV' });
      expect(r.captureData.endpointInput.data.split('\n').filter(Boolean)).toHaveLength(100);
    }

    // The hourly drift check, on the next hour, reads Firehose's objects as it reads SageMaker's.
    const window = driftWindow(new Date(clock.now().getTime() + HOUR), 1);
    clock.advance(HOUR);
    await platform.tick();
    await platform.idle();
    const report = JSON.parse(
      await getText(platform.s3, artifacts, reportKey(names.endpointName, window)),
    ) as StoredDriftReport;
    expect(report).toMatchObject({ samples: 600, sufficient: true, drifted: false });
    expect(report.capture.objects).toBe(1);
  });
});
