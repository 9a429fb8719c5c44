import fc from 'fast-check';
import {
  InvokeEndpointCommand,
  ModelError,
  SageMakerRuntimeClient,
  ValidationError,
  type InvokeEndpointCommandInput,
} from '@aws-sdk/client-sagemaker-runtime';
import { HttpRequest } from '@smithy/protocol-http';
import { parseCapture } from '../../lambdas/core/capture';
import { createS3Client } from '../../lambdas/shared/clients';
import { featureSpec } from '../../lambdas/core/encoding';
import { parseDatasetSchema } from '../../lambdas/core/schema';
import { CaptureWriter, type CaptureConfig } from '../../lib/local/capture';
import { LocalClock } from '../../lib/local/clock';
import {
  formatPredictions,
  parseCsvPayload,
  startEndpointServer,
  type EndpointServer,
  type InvocationMetric,
  type ServingEndpointLike,
  type ServingModel,
  type ServingVariantLike,
} from '../../lib/local/endpoint-server';
import { getText, listKeys, startTestS3, type TestS3 } from '../helpers/local-s3';

/**
 * The local SageMaker runtime against the real @aws-sdk/client-sagemaker-runtime (issue 5): predictions, the
 * runtime's error shapes (ModelError wrapping the XGBoost container's answer, ValidationError), a model switch
 * under traffic, and Data Capture files in their hour partitions, read back with the drift check's reader.
 */

const ACCOUNT = '123456789012';
const BUCKET = 'test-artifacts';

/** A model as LocalModel looks to the server: a fixed function of the row. */
function model(
  numFeatures: number,
  f: (row: number[]) => number[],
  objective = 'binary:logistic',
): ServingModel {
  return { numFeatures, objective, predict: (rows) => rows.map(f) };
}

/** p = sum of the present cells / 10: easy to check by hand; NaN cells count as missing. */
const scoreA = model(3, (r) => [r.reduce((s, v) => s + (Number.isNaN(v) ? 0 : v), 0) / 10]);
const scoreB = model(3, () => [0.5]);

function variant(variantName: string, m: ServingModel, capture?: CaptureConfig): ServingVariantLike {
  return { variantName, modelName: `model-${variantName}`, model: m, capture };
}

/** An endpoint whose serving variants the test sets; pick() takes them in turn. */
class FakeEndpoint implements ServingEndpointLike {
  status = 'InService';
  endpointConfigName = 'config-1';
  private turn = 0;
  constructor(
    readonly endpointName: string,
    public variants: ServingVariantLike[],
  ) {}
  pick(): ServingVariantLike {
    return this.variants[this.turn++ % this.variants.length]!;
  }
  variant(name: string): ServingVariantLike | undefined {
    return this.variants.find((v) => v.variantName === name);
  }
}

const capture = (overrides: Partial<CaptureConfig> = {}): CaptureConfig => ({
  destinationS3Uri: `s3://${BUCKET}/capture`,
  samplingPercentage: 100,
  input: true,
  output: true,
  csvContentTypes: ['text/csv'],
  ...overrides,
});

const endpoints = new Map<string, FakeEndpoint>();
const metrics: InvocationMetric[] = [];
const clock = new LocalClock({ start: new Date('2026-01-01T11:30:00.000Z') });
let s3: TestS3;
let writer: CaptureWriter;
let server: EndpointServer;
let runtime: SageMakerRuntimeClient;

beforeAll(async () => {
  s3 = await startTestS3([BUCKET]);
  writer = new CaptureWriter({ s3: s3.s3, clock, flushMilliseconds: 0 });
  server = await startEndpointServer({
    resolve: (name) => endpoints.get(name),
    capture: writer,
    clock,
    accountId: ACCOUNT,
    region: 'us-east-1',
    onInvocation: (m) => metrics.push(m),
  });
  runtime = new SageMakerRuntimeClient({
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  runtime.destroy();
  await server.close();
  await writer.close();
  await s3.stop();
});

beforeEach(() => {
  endpoints.clear();
  metrics.length = 0;
});

const invoke = (input: Partial<InvokeEndpointCommandInput> & { EndpointName: string; Body: string }) =>
  runtime.send(new InvokeEndpointCommand({ ContentType: 'text/csv', ...input }));

const text = (body: Uint8Array | undefined) => Buffer.from(body ?? new Uint8Array()).toString('utf8');

/** The rejection of a promise (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await p;
  } catch (e) {
    return e as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

describe('InvokeEndpoint', () => {
  it('answers text/csv rows with one line per row and names the variant', async () => {
    endpoints.set('churn', new FakeEndpoint('churn', [variant('AllTraffic', scoreA)]));
    const out = await invoke({ EndpointName: 'churn', Body: '1,2,3\n4,,6\n' });
    expect(text(out.Body)).toBe('0.6\n1');
    expect(out.ContentType).toBe('text/csv; charset=utf-8');
    expect(out.InvokedProductionVariant).toBe('AllTraffic');
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(metrics).toEqual([
      { endpointName: 'churn', variantName: 'AllTraffic', latencyMicros: expect.any(Number), rows: 2 },
    ]);
  });

  it('passes empty cells to the model as missing (NaN) and multiclass probabilities comma-joined', async () => {
    const seen: number[][] = [];
    const softprob = model(
      2,
      (r) => {
        seen.push(r);
        return [0.2, 0.3, 0.5];
      },
      'multi:softprob',
    );
    endpoints.set('multi', new FakeEndpoint('multi', [variant('AllTraffic', softprob)]));
    const out = await invoke({ EndpointName: 'multi', Body: ',1.5\r\n2e1, -3 ' });
    expect(seen).toEqual([
      [Number.NaN, 1.5],
      [20, -3],
    ]);
    expect(text(out.Body)).toBe('0.2,0.3,0.5\n0.2,0.3,0.5');
  });

  it('routes X-Amzn-SageMaker-Target-Variant to that variant; an unknown one is a ValidationError', async () => {
    endpoints.set('ab', new FakeEndpoint('ab', [variant('A', scoreA), variant('B', scoreB)]));
    for (let i = 0; i < 3; i++) {
      const out = await invoke({ EndpointName: 'ab', Body: '1,1,1', TargetVariant: 'B' });
      expect(out.InvokedProductionVariant).toBe('B');
      expect(text(out.Body)).toBe('0.5');
    }
    const e = await rejection(invoke({ EndpointName: 'ab', Body: '1,1,1', TargetVariant: 'C' }));
    expect(e).toBeInstanceOf(ValidationError);
  });

  it('GET /ping answers 200', async () => {
    const res = await fetch(`${server.endpoint}/ping`);
    expect(res.status).toBe(200);
  });
});

describe('errors as the runtime returns them', () => {
  beforeEach(() => {
    endpoints.set('churn', new FakeEndpoint('churn', [variant('AllTraffic', scoreA)]));
  });

  const logLink =
    'See https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1' +
    `#logEventViewer:group=/aws/sagemaker/Endpoints/churn in account ${ACCOUNT} for more information.`;

  it('malformed CSV: 424 ModelError wrapping the container 415', async () => {
    const e = await rejection(invoke({ EndpointName: 'churn', Body: '1,abc,3' }));
    expect(e).toBeInstanceOf(ModelError);
    expect(e.name).toBe('ModelError');
    expect((e.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(424);
    expect(e.$fault).toBe('client');
    const original =
      "Loading csv data failed with Exception, please ensure data is in csv format:\n <class 'ValueError'>\n" +
      " could not convert string to float: 'abc'";
    expect(e.OriginalStatusCode).toBe(415);
    expect(e.OriginalMessage).toBe(original);
    // The SDK moves the body's Message to the error's message.
    expect(e.message).toBe(`Received client error (415) from primary with message "${original}". ${logLink}`);
    expect(e.LogStreamArn).toBe(`arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/sagemaker/Endpoints/churn`);
    expect(metrics).toEqual([
      { endpointName: 'churn', variantName: 'AllTraffic', latencyMicros: 0, rows: 0, error: '4xx' },
    ]);
  });

  it('ragged rows are malformed (415); rows of the wrong width are the 400 feature-size error', async () => {
    const ragged = await rejection(invoke({ EndpointName: 'churn', Body: '1,2,3\n1,2' }));
    expect(ragged).toBeInstanceOf(ModelError);
    expect(ragged.OriginalStatusCode).toBe(415);
    expect(String(ragged.OriginalMessage)).toContain('inhomogeneous shape');

    const narrow = await rejection(invoke({ EndpointName: 'churn', Body: '1,2\n3,4' }));
    expect(narrow).toBeInstanceOf(ModelError);
    expect(narrow.OriginalStatusCode).toBe(400);
    expect(narrow.OriginalMessage).toBe(
      'Unable to evaluate payload provided: Feature size of csv inference data 2 is not consistent with ' +
        'feature size of trained model 3.',
    );
    expect(narrow.message).toMatch(/^Received client error \(400\) from primary with message "/);
  });

  it('a content type the container does not take (415)', async () => {
    const e = await rejection(
      invoke({ EndpointName: 'churn', Body: '[[1,2,3]]', ContentType: 'application/json' }),
    );
    expect(e).toBeInstanceOf(ModelError);
    expect(e.OriginalStatusCode).toBe(415);
    expect(String(e.OriginalMessage)).toMatch(/^Content-type application\/json not supported/);
  });

  it('a model that fails: 424 ModelError from a 500, counted as 5xx', async () => {
    // One prediction short: the container cannot answer.
    const wrong: ServingModel = { numFeatures: 3, predict: () => [] };
    endpoints.set('broken', new FakeEndpoint('broken', [variant('AllTraffic', wrong)]));
    const e = await rejection(invoke({ EndpointName: 'broken', Body: '1,2,3' }));
    expect(e).toBeInstanceOf(ModelError);
    expect(e.OriginalStatusCode).toBe(500);
    expect(e.message).toMatch(/^Received server error \(500\) from primary/);
    expect(metrics.map((m) => m.error)).toEqual(['5xx']);
  });

  it('an unknown endpoint: 400 ValidationError "Endpoint <name> of account <acct> not found."', async () => {
    const e = await rejection(invoke({ EndpointName: 'nope', Body: '1,2,3' }));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.name).toBe('ValidationError');
    expect(e.message).toBe(`Endpoint nope of account ${ACCOUNT} not found.`);
    expect((e.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(400);
    expect(metrics).toEqual([]);
  });

  it('an endpoint that is not serving (Creating, Failed) is not found; Updating still serves', async () => {
    const ep = endpoints.get('churn')!;
    for (const status of ['Creating', 'Failed', 'Deleting', 'OutOfService']) {
      ep.status = status;
      const e = await rejection(invoke({ EndpointName: 'churn', Body: '1,2,3' }));
      expect(e).toBeInstanceOf(ValidationError);
    }
    for (const status of ['Updating', 'RollingBack', 'SystemUpdating']) {
      ep.status = status;
      expect(text((await invoke({ EndpointName: 'churn', Body: '1,2,3' })).Body)).toBe('0.6');
    }
  });

  it('a target model header on a single-model endpoint is a ValidationError', async () => {
    const e = await rejection(invoke({ EndpointName: 'churn', Body: '1,2,3', TargetModel: 'm.tar.gz' }));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.message).toBe(
      'Endpoint churn is not a multi-model endpoint and does not support target model header.',
    );
  });
});

describe('an update under traffic', () => {
  it('swapping the serving variant between requests drops none', async () => {
    const old = variant('AllTraffic', scoreA);
    const next = variant('AllTraffic', scoreB);
    const ep = new FakeEndpoint('live', [old]);
    endpoints.set('live', ep);
    const total = 300;
    let issued = 0;
    let done = 0;
    const answers: string[] = [];
    // 20 clients in parallel; after a third of the requests a canary phase mixes both models, after two thirds
    // only the new one serves.
    const client = async () => {
      while (issued < total) {
        issued++;
        const out = await invoke({ EndpointName: 'live', Body: '1,2,3' });
        answers.push(text(out.Body));
        done++;
        if (done === 100) ep.variants = [old, next];
        if (done === 200) ep.variants = [next];
      }
    };
    await Promise.all(Array.from({ length: 20 }, client));
    expect(answers).toHaveLength(total);
    expect(answers.every((a) => a === '0.6' || a === '0.5')).toBe(true);
    expect(answers.filter((a) => a === '0.5').length).toBeGreaterThan(90);
    expect(answers.filter((a) => a === '0.6').length).toBeGreaterThan(90);
    expect(metrics.filter((m) => m.error)).toEqual([]);
  });
});

describe('Data Capture', () => {
  const spec = featureSpec(
    parseDatasetSchema({
      name: 'cap',
      target: 'y',
      fields: [
        { name: 'a', type: 'number' },
        { name: 'b', type: 'number' },
        { name: 'c', type: 'number' },
        { name: 'y', type: 'boolean' },
      ],
    }),
  );

  it('writes SageMaker capture records into hour partitions that the drift reader parses', async () => {
    endpoints.set('cap', new FakeEndpoint('cap', [variant('AllTraffic', scoreA, capture())]));
    await invoke({ EndpointName: 'cap', Body: '1,2,3\n', InferenceId: 'req-1' });
    await invoke({ EndpointName: 'cap', Body: '4,,6' });
    clock.advance(60 * 60 * 1000); // the next hour: 12:30
    await invoke({ EndpointName: 'cap', Body: '1,1,1\n2,2,2' });
    // A failed invocation is not captured.
    await rejection(invoke({ EndpointName: 'cap', Body: 'x,y,z' }));
    await writer.flush();

    const keys = await listKeys(s3.s3, BUCKET, 'capture/cap/');
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(
      /^capture\/cap\/AllTraffic\/2026\/01\/01\/11\/30-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl$/,
    );
    expect(keys[1]).toMatch(
      /^capture\/cap\/AllTraffic\/2026\/01\/01\/12\/30-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl$/,
    );

    const first = await getText(s3.s3, BUCKET, keys[0]!);
    const lines = first.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(record)).toEqual(['captureData', 'eventMetadata', 'eventVersion']);
    expect(record).toEqual({
      captureData: {
        endpointInput: { observedContentType: 'text/csv', mode: 'INPUT', data: '1,2,3\n', encoding: 'CSV' },
        endpointOutput: {
          observedContentType: 'text/csv; charset=utf-8',
          mode: 'OUTPUT',
          data: '0.6',
          encoding: 'CSV',
        },
      },
      eventMetadata: {
        eventId: expect.stringMatching(
          /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        ),
        inferenceId: 'req-1',
        inferenceTime: expect.stringMatching(/^2026-01-01T11:30:\d{2}Z$/),
      },
      eventVersion: '0',
    });
    expect((JSON.parse(lines[1]!) as { eventMetadata: object }).eventMetadata).not.toHaveProperty(
      'inferenceId',
    );

    const parsed = parseCapture(spec, [first]);
    expect(parsed.stats).toMatchObject({
      records: 2,
      rows: 2,
      predictions: 2,
      malformedLines: 0,
      wrongColumnRows: 0,
    });
    expect(parsed.rows).toEqual([
      [1, 2, 3],
      [4, Number.NaN, 6],
    ]);
    expect(parsed.predictions).toEqual([0.6, 1]);

    const second = parseCapture(spec, [await getText(s3.s3, BUCKET, keys[1]!)]);
    expect(second.rows).toEqual([
      [1, 1, 1],
      [2, 2, 2],
    ]);
    expect(second.predictions).toEqual([0.3, 0.6]);
    expect(writer.stats()).toMatchObject({ records: 3, files: 2, pending: 0 });
  });

  it('honours the sampling percentage and the capture modes', async () => {
    const base = writer.stats();
    endpoints.set(
      'none',
      new FakeEndpoint('none', [variant('AllTraffic', scoreA, capture({ samplingPercentage: 0 }))]),
    );
    endpoints.set(
      'half',
      new FakeEndpoint('half', [variant('AllTraffic', scoreA, capture({ samplingPercentage: 50 }))]),
    );
    endpoints.set('out', new FakeEndpoint('out', [variant('AllTraffic', scoreA, capture({ input: false }))]));
    endpoints.set('off', new FakeEndpoint('off', [variant('AllTraffic', scoreA)]));
    for (let i = 0; i < 10; i++) {
      for (const name of ['none', 'half', 'off']) await invoke({ EndpointName: name, Body: '1,2,3' });
    }
    await invoke({ EndpointName: 'out', Body: '1,2,3' });
    await writer.flush();

    expect(await listKeys(s3.s3, BUCKET, 'capture/none/')).toEqual([]);
    expect(await listKeys(s3.s3, BUCKET, 'capture/off/')).toEqual([]);
    const half = await listKeys(s3.s3, BUCKET, 'capture/half/');
    expect(half).toHaveLength(1);
    expect((await getText(s3.s3, BUCKET, half[0]!)).trimEnd().split('\n')).toHaveLength(5);
    const [outKey] = await listKeys(s3.s3, BUCKET, 'capture/out/');
    const outRecord = JSON.parse(await getText(s3.s3, BUCKET, outKey!)) as { captureData: object };
    expect(Object.keys(outRecord.captureData)).toEqual(['endpointOutput']);
    expect(writer.stats().records - base.records).toBe(6);
    expect(writer.stats().sampledOut - base.sampledOut).toBe(15);
  });

  it('base64-encodes content types outside CsvContentTypes, as SageMaker does', async () => {
    endpoints.set(
      'b64',
      new FakeEndpoint('b64', [variant('AllTraffic', scoreA, capture({ csvContentTypes: [] }))]),
    );
    await invoke({ EndpointName: 'b64', Body: '1,2,3\n' });
    await writer.flush();
    const [key] = await listKeys(s3.s3, BUCKET, 'capture/b64/');
    const line = await getText(s3.s3, BUCKET, key!);
    const record = JSON.parse(line) as {
      captureData: { endpointInput: { data: string; encoding: string } };
    };
    expect(record.captureData.endpointInput).toMatchObject({ encoding: 'BASE64', data: 'MSwyLDMK' });
    expect(parseCapture(spec, [line]).rows).toEqual([[1, 2, 3]]);
  });

  it('flushes by itself once flushRecords records are buffered', async () => {
    const small = new CaptureWriter({ s3: s3.s3, clock, flushRecords: 3, flushMilliseconds: 0 });
    // With a KMS key (SSE-KMS on the PutObject), as the project's endpoint config has.
    const cfg = capture({
      destinationS3Uri: `s3://${BUCKET}/auto/`,
      kmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/k',
    });
    for (let i = 0; i < 7; i++)
      small.record(
        'e',
        'v',
        cfg,
        { contentType: 'text/csv', data: `${i},0,0` },
        { contentType: 'text/csv', data: '1' },
      );
    await small.flush();
    expect(small.stats()).toMatchObject({ records: 7, files: 3, pending: 0 });
    const keys = await listKeys(s3.s3, BUCKET, 'auto/e/v/');
    expect(keys).toHaveLength(3);
    await small.close();
  });

  it('grows a file past its first buffer, reuses buffers without leftovers, and keeps a failed file for the next flush', async () => {
    const client = createS3Client({ ...process.env, AWS_ENDPOINT_URL_S3: s3.local.endpoint });
    let failNext = false;
    client.middlewareStack.add(
      (next) => async (args) => {
        if (failNext) {
          failNext = false;
          // Later than the next build of recorded invocations (a 0 ms timer).
          await new Promise((r) => setTimeout(r, 20));
          throw new Error('injected PutObject failure');
        }
        return next(args);
      },
      { step: 'initialize', name: 'failOnce' },
    );
    const own = new CaptureWriter({ s3: client, clock, flushRecords: 100_000, flushMilliseconds: 0 });
    const cfg = (dir: string) => capture({ destinationS3Uri: `s3://${BUCKET}/${dir}/` });
    const send = (dir: string, from: number, n: number, width: number) => {
      for (let i = from; i < from + n; i++)
        own.record(
          'e',
          'v',
          cfg(dir),
          { contentType: 'text/csv', data: `${i},${'9'.repeat(width)}` },
          { contentType: 'text/csv', data: 'é' },
        );
    };
    const ids = async (dir: string) => {
      const keys = await listKeys(s3.s3, BUCKET, `${dir}/e/v/`);
      const lines = (await Promise.all(keys.map((k) => getText(s3.s3, BUCKET, k)))).flatMap((t) =>
        t.trimEnd().split('\n'),
      );
      return lines.map((l) => {
        const r = JSON.parse(l) as {
          captureData: { endpointInput: { data: string }; endpointOutput: { data: string } };
        };
        expect(r.captureData.endpointOutput.data).toBe('é');
        return Number(r.captureData.endpointInput.data.split(',')[0]);
      });
    };
    // About 1.5 MB: several times the first buffer.
    send('big', 0, 300, 5000);
    await own.flush();
    expect(await ids('big')).toEqual(Array.from({ length: 300 }, (_, i) => i));
    // A small file next, in a reused (larger, dirty) buffer: exactly its own lines.
    send('small', 0, 3, 10);
    await own.flush();
    expect(await ids('small')).toEqual([0, 1, 2]);
    // A failed write: its records stay, ahead of those recorded (and built into a new file) while it was under way.
    send('retry', 0, 5, 10);
    failNext = true;
    const failing = own.flush();
    send('retry', 5, 4, 10);
    await new Promise((r) => setTimeout(r, 5));
    await expect(failing).rejects.toThrow('injected PutObject failure');
    expect(own.stats()).toMatchObject({ pending: 9 });
    await own.close();
    client.destroy();
    expect(await ids('retry')).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await listKeys(s3.s3, BUCKET, 'retry/e/v/')).toHaveLength(1);
  });

  it('a steady stream of files of one size allocates no file buffer after the first file', async () => {
    const own = new CaptureWriter({ s3: s3.s3, clock, flushRecords: 100_000, flushMilliseconds: 0 });
    const cfg = capture({ destinationS3Uri: `s3://${BUCKET}/steady/` });
    // Buffers of a file's size: the writer starts at 256 KB and doubles, to 4 MB for these 3 MB files.
    const allocations: number[] = [];
    const allocUnsafe = Buffer.allocUnsafe.bind(Buffer);
    const spy = jest.spyOn(Buffer, 'allocUnsafe').mockImplementation((size: number) => {
      if (size >= 256 * 1024) allocations.push(size);
      return allocUnsafe(size);
    });
    try {
      const perFile: number[] = [];
      for (let file = 0; file < 4; file++) {
        const before = allocations.length;
        for (let i = 0; i < 300; i++)
          own.record(
            'e',
            'v',
            cfg,
            { contentType: 'text/csv', data: `${i},${'9'.repeat(10_000)}` },
            { contentType: 'text/csv', data: '0.5' },
          );
        await own.flush();
        perFile.push(allocations.length - before);
      }
      expect(perFile[0]).toBeGreaterThanOrEqual(5);
      expect(perFile.slice(1)).toEqual([0, 0, 0]);
    } finally {
      spy.mockRestore();
      await own.close();
    }
    expect(await listKeys(s3.s3, BUCKET, 'steady/e/v/')).toHaveLength(4);
  });

  it('writes each file as bytes with an unsigned payload, so that the SDK does not hash it on the serving thread', async () => {
    const client = createS3Client({ ...process.env, AWS_ENDPOINT_URL_S3: s3.local.endpoint });
    const sent: Array<{ hash: string | undefined; body: unknown }> = [];
    // After signing: what went over the wire.
    client.middlewareStack.add(
      (next) => (args) => {
        if (HttpRequest.isInstance(args.request))
          sent.push({ hash: args.request.headers['x-amz-content-sha256'], body: args.request.body });
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'recordSent' },
    );
    const own = new CaptureWriter({ s3: client, clock, flushMilliseconds: 0 });
    const cfg = capture({ destinationS3Uri: `s3://${BUCKET}/unsigned/` });
    own.record(
      'e',
      'v',
      cfg,
      { contentType: 'text/csv', data: 'é,1' },
      { contentType: 'text/csv', data: '0.5' },
    );
    await own.close();
    client.destroy();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.hash).toBe('UNSIGNED-PAYLOAD');
    expect(Buffer.isBuffer(sent[0]!.body)).toBe(true);
    const [key] = await listKeys(s3.s3, BUCKET, 'unsigned/e/v/');
    const text = await getText(s3.s3, BUCKET, key!);
    expect(Buffer.from(text, 'utf8').equals(sent[0]!.body as Buffer)).toBe(true);
    expect(JSON.parse(text).captureData.endpointInput.data).toBe('é,1');
  });
});

describe('CSV handling', () => {
  it('parses as the XGBoost container does', () => {
    expect(parseCsvPayload('\n 1, 2.5 ,\n-inf,nan,1e-3\n\n')).toEqual([
      [1, 2.5, Number.NaN],
      [Number.NEGATIVE_INFINITY, Number.NaN, 0.001],
    ]);
    expect(() => parseCsvPayload('1,,0x10')).toThrow("could not convert string to float: '0x10'");
    expect(() => parseCsvPayload('1,2\n\n3,4')).toThrow('inhomogeneous');
    expect(formatPredictions([[0.25], [1, 0]])).toBe('0.25\n1,0');
  });

  it('writes each prediction as String does (Python spelling for NaN and infinities)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.double(), { minLength: 1, maxLength: 4 }), { maxLength: 5 }),
        (rows) => {
          const spelt = (v: number) =>
            Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : String(v);
          expect(formatPredictions(rows)).toBe(rows.map((r) => r.map(spelt).join(',')).join('\n'));
        },
      ),
      { numRuns: 2000 },
    );
    expect(formatPredictions([[-0, 1e-7, 1e21, 0.1 + 0.2]])).toBe('0,1e-7,1e+21,0.30000000000000004');
  });
});
