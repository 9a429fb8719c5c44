import {
  DeleteObjectCommand,
  PutObjectCommand,
  type GetObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { FirehoseClient, PutRecordCommand } from '@aws-sdk/client-firehose';
import { mockClient } from 'aws-sdk-client-mock';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { parseCapture } from '../../lambdas/core/capture';
import { POINTER_KEY } from '../../lambdas/core/pointer';
import {
  createPredictHandler,
  handler,
  readPredictEnv,
  type PredictEnv,
} from '../../lambdas/handlers/predict';
import { metrics } from '../../lambdas/shared/powertools';
import {
  BUCKET,
  CAPTURED,
  ENDPOINT,
  expectedRows,
  goodRecords as good,
  GROUP_ARN,
  predictEvent as event,
  schema,
  spec1,
  spec2,
  startInferenceFixture,
  type InferenceFixture,
} from '../helpers/inference';
import { getText, listKeys } from '../helpers/local-s3';

/**
 * The inference Lambda against the real local endpoint server serving real XGBoost models and local S3
 * holding current.json and the feature specs (test/helpers/inference.ts). A proxy in front of the endpoint
 * counts the requests that reach it, so "nothing was sent" is checked, not assumed.
 */

type Body = Record<string, unknown> & {
  code?: string;
  message?: string;
  errors?: { record: number; field: string | null; code: string; message: string }[];
  modelVersion?: string;
  predictions?: { label: string; probability: number }[];
};

function parse(r: APIGatewayProxyResult): Body {
  expect(r.headers?.['Content-Type']).toBe('application/json');
  return JSON.parse(r.body) as Body;
}

const baseEnv = (): PredictEnv => ({
  artifactsBucket: BUCKET,
  endpointName: ENDPOINT,
  schema,
  maxBatchSize: 5,
  threshold: 0.5,
  specRefreshSeconds: 10,
});

let f: InferenceFixture;

beforeAll(async () => {
  f = await startInferenceFixture();
  Object.assign(process.env, {
    ARTIFACTS_BUCKET: BUCKET,
    ENDPOINT_NAME: ENDPOINT,
    DATASET_SCHEMAS: JSON.stringify([schema]),
    MAX_BATCH_SIZE: '5',
    THRESHOLD: '0.5',
    SPEC_REFRESH_SECONDS: '0',
    AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: f.runtimeUrl,
  });
}, 60_000);

afterAll(async () => {
  await f?.stop();
});

beforeEach(() => {
  f.mode = 'pass';
});

describe('the Lambda entry point (settings from the environment)', () => {
  it('503 no-model before anything is deployed, without calling the endpoint', async () => {
    const before = f.invocations;
    const r = await handler(event({ records: good }));
    expect(r.statusCode).toBe(503);
    expect(parse(r)).toEqual({ code: 'no-model', message: expect.stringContaining('no model is deployed') });
    expect(f.invocations).toBe(before);
  });

  it('valid batch: one InvokeEndpoint; the predictions are the model scored directly', async () => {
    await f.deploy(1);
    const before = f.invocations;
    const r = await handler(event({ records: good }));
    expect(r.statusCode).toBe(200);
    const body = parse(r);
    expect(f.invocations).toBe(before + 1);
    expect(body.modelVersion).toBe('1');
    expect(body.modelPackageArn).toBe(`${GROUP_ARN}/1`);
    const direct = f.model1.predict(expectedRows(spec1, good));
    expect(body.predictions).toHaveLength(good.length);
    body.predictions!.forEach((p, i) => {
      expect(Object.keys(p).sort()).toEqual(['label', 'probability']);
      // The endpoint prints the score with JavaScript's shortest round-trip form, so it comes back exact.
      expect(p.probability).toBe(direct[i][0]);
      expect(p.label).toBe(direct[i][0] >= 0.5 ? 'true' : 'false');
    });
  });

  it('invalid records: 400 listing every field error, and nothing reaches the endpoint', async () => {
    await f.deploy(1);
    const before = f.invocations;
    const records = [
      good[0],
      { ...good[0], plan: 'gold' },
      { ...good[0], tenure_months: undefined, monthly_charges: -1 },
      { ...good[0], tenure_months: 'twelve', has_partner: 'maybe' },
      { ...good[0], tenure_months: 601 },
    ];
    const r = await handler(event({ records }));
    expect(r.statusCode).toBe(400);
    const body = parse(r);
    expect(body.code).toBe('invalid-records');
    expect(body.message).toBe('4 of 5 records are invalid; nothing was sent to the model');
    expect(body.errors!.map(({ record, field, code }) => ({ record, field, code }))).toEqual([
      { record: 1, field: 'plan', code: 'enum' },
      { record: 2, field: 'tenure_months', code: 'required' },
      { record: 2, field: 'monthly_charges', code: 'minimum' },
      { record: 3, field: 'tenure_months', code: 'type' },
      { record: 3, field: 'has_partner', code: 'type' },
      { record: 4, field: 'tenure_months', code: 'maximum' },
    ]);
    expect(body.errors![0].message).toBe('"gold" is not one of basic, plus, pro');
    expect(f.invocations).toBe(before);
  });

  it('an unknown category is an enum error; a missing required field a required error', async () => {
    await f.deploy(1);
    const enumError = parse(await handler(event({ records: [{ ...good[0], region: 'central' }] })));
    expect(enumError.errors).toEqual([
      {
        record: 0,
        field: 'region',
        code: 'enum',
        message: '"central" is not one of north, south, east, west',
      },
    ]);
    const noPlan: Record<string, unknown> = { ...good[0] };
    delete noPlan.plan;
    const required = parse(await handler(event({ records: [noPlan] })));
    expect(required.code).toBe('invalid-records');
    expect(required.errors).toEqual([
      { record: 0, field: 'plan', code: 'required', message: expect.stringContaining('required') },
    ]);
    // null is a missing value too.
    const nulls = parse(await handler(event({ records: [{ ...good[0], customer_id: null }] })));
    expect(nulls.errors?.map((e) => [e.field, e.code])).toEqual([['customer_id', 'required']]);
  });

  it('a wrong target value is checked, a missing target is fine', async () => {
    await f.deploy(1);
    const r = parse(await handler(event({ records: [{ ...good[0], churned: 'perhaps' }] })));
    expect(r.errors?.map((e) => [e.field, e.code])).toEqual([['churned', 'type']]);
  });

  it('values that need CSV quoting are validated as values, not as cells', async () => {
    await f.deploy(1);
    const r = await handler(event({ records: [{ ...good[0], customer_id: 'a "quoted", multi\nline id' }] }));
    expect(r.statusCode).toBe(200);
    const bad = parse(await handler(event({ records: [{ ...good[0], plan: 'basic,pro' }] })));
    expect(bad.errors?.map((e) => [e.record, e.field, e.code])).toEqual([[0, 'plan', 'enum']]);
    // The shared validator is still in step after those records.
    expect((await handler(event({ records: good }))).statusCode).toBe(200);
  });

  it.each([
    ['not JSON', '{"records": [', 'invalid-request', 'the body is not JSON'],
    ['no body', '', 'invalid-request', 'no body'],
    ['no records array', { rows: [] }, 'invalid-request', '"records" must be an array'],
    ['no records', { records: [] }, 'invalid-request', '"records" is empty'],
    ['a record not an object', { records: [1] }, 'invalid-request', 'records[0] must be an object'],
    [
      'a nested value',
      { records: [{ ...good[0], plan: ['basic'] }] },
      'invalid-request',
      'records[0].plan must be a string',
    ],
    [
      'an unknown field',
      { records: [{ ...good[0], colour: 'red' }] },
      'invalid-request',
      'unknown field "colour"',
    ],
    [
      '6 records',
      { records: Array(6).fill(good[0]) },
      'batch-too-large',
      '6 records in one request; at most 5',
    ],
  ])('400 for %s', async (_name, body, code, message) => {
    await f.deploy(1);
    const before = f.invocations;
    const r = await handler(event(body));
    expect(r.statusCode).toBe(400);
    const parsed = parse(r);
    expect(parsed.code).toBe(code);
    expect(parsed.message).toContain(message);
    expect(parsed.errors).toBeUndefined();
    expect(f.invocations).toBe(before);
  });

  it('a base64-encoded body (binary media types) is decoded', async () => {
    await f.deploy(1);
    const e = event('');
    e.body = Buffer.from(JSON.stringify({ records: [good[0]] })).toString('base64');
    e.isBase64Encoded = true;
    expect((await handler(e)).statusCode).toBe(200);
  });

  it('429 throttled when SageMaker throttles (after one retry)', async () => {
    await f.deploy(1);
    f.mode = 'throttle';
    const before = f.invocations;
    const r = await handler(event({ records: good }));
    expect(r.statusCode).toBe(429);
    expect(parse(r)).toEqual({ code: 'throttled', message: expect.stringContaining('throttling') });
    // The Lambda's invoker retries once (maxAttempts 2).
    expect(f.invocations).toBe(before + 2);
  });

  it('502 model-error: the endpoint is gone, the container refuses the rows, or the output is unreadable', async () => {
    await f.deploy(1);
    f.serving[ENDPOINT] = undefined;
    try {
      const gone = parse(await handler(event({ records: good })));
      expect(gone.code).toBe('model-error');
      expect(gone.message).toMatch(/ValidationError: Endpoint devmlops-endpoint of account \d+ not found/);
    } finally {
      f.serving[ENDPOINT] = f.model1;
    }
    // A model of another width: the XGBoost container's 400, wrapped by the runtime as ModelError 424.
    f.serving[ENDPOINT] = { numFeatures: 3, predict: (rows) => rows.map(() => [0.5]) };
    try {
      const r = await handler(event({ records: good }));
      expect(r.statusCode).toBe(502);
      expect(parse(r).message).toContain('ModelError: Unable to evaluate payload provided: Feature size');
    } finally {
      f.serving[ENDPOINT] = f.model1;
    }
    f.mode = 'garbage';
    const garbage = await handler(event({ records: good }));
    expect(garbage.statusCode).toBe(502);
    expect(parse(garbage).message).toContain('the model answered 1 predictions for 3 records');
  });
});

describe('model switch', () => {
  it('a new current.json is picked up by a background check after SPEC_REFRESH_SECONDS, with its feature spec and version', async () => {
    await f.deploy(1);
    let now = 1_000_000;
    const gets: string[] = [];
    // Records every S3 call the handler makes.
    const counting = {
      send: (command: GetObjectCommand) => {
        gets.push(`${command.input.Key}${command.input.IfNoneMatch ? ' if-none-match' : ''}`);
        return f.s3.s3.send(command);
      },
    } as unknown as S3Client;
    try {
      const predict = createPredictHandler(baseEnv(), { s3: counting, runtime: f.runtime, now: () => now });
      const enterprise = { ...good[0], plan: 'enterprise' };

      const v1 = parse(await predict(event({ records: [enterprise] })));
      expect(v1.code).toBe('invalid-records');
      expect(v1.errors?.[0].message).toBe('"enterprise" is not one of basic, plus, pro');
      expect(gets).toEqual([POINTER_KEY, 'training/exec-1/feature-spec.json']);

      // Model 2 is deployed: the endpoint serves it and current.json names its feature spec.
      f.serving[ENDPOINT] = f.model2;
      await f.deploy(2);
      now += 9_999;
      const stale = parse(await predict(event({ records: [good[0]] })));
      expect(stale.modelVersion).toBe('1');
      expect(gets).toHaveLength(2);

      // Due: this request is served with the cached model while the check runs in the background...
      now += 1;
      const due = parse(await predict(event({ records: [good[0]] })));
      expect(due.modelVersion).toBe('1');
      expect(gets).toEqual([
        POINTER_KEY,
        'training/exec-1/feature-spec.json',
        `${POINTER_KEY} if-none-match`,
      ]);
      // ...and the requests after it ends get model 2. Requests while it runs start no other check.
      let served = due;
      for (let i = 0; i < 200 && served.modelVersion === '1'; i++) {
        await new Promise((r) => setTimeout(r, 5));
        served = parse(await predict(event({ records: [good[0]] })));
      }
      expect(served.modelVersion).toBe('2');
      const r = await predict(event({ records: [enterprise, ...good] }));
      expect(r.statusCode).toBe(200);
      const body = parse(r);
      expect(body.modelVersion).toBe('2');
      expect(body.modelPackageArn).toBe(`${GROUP_ARN}/2`);
      const direct = f.model2.predict(expectedRows(spec2, [enterprise, ...good]));
      expect(expectedRows(spec2, [enterprise])[0]).toContain(3);
      expect(body.predictions!.map((p) => p.probability)).toEqual(direct.map((d) => d[0]));
      expect(gets).toEqual([
        POINTER_KEY,
        'training/exec-1/feature-spec.json',
        `${POINTER_KEY} if-none-match`,
        'training/exec-2/feature-spec.json',
      ]);

      // Unchanged pointer: one conditional GET per period, answered 304, and no feature spec read.
      now += 10_000;
      expect(parse(await predict(event({ records: [good[0]] }))).modelVersion).toBe('2');
      expect(gets.slice(4)).toEqual([`${POINTER_KEY} if-none-match`]);
    } finally {
      f.serving[ENDPOINT] = f.model1;
      await f.deploy(1);
    }
  });
});

describe('the first deploy', () => {
  it('until a model is known every request looks for current.json, so the first model serves at once', async () => {
    await f.s3.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: POINTER_KEY }));
    try {
      // The clock stands still: only "no model yet" can explain a second look within the refresh period.
      const predict = createPredictHandler(baseEnv(), { s3: f.s3.s3, runtime: f.runtime, now: () => 0 });
      expect((await predict(event({ records: good }))).statusCode).toBe(503);
      await f.deploy(1);
      const r = await predict(event({ records: good }));
      expect(r.statusCode).toBe(200);
      expect(parse(r).modelVersion).toBe('1');
    } finally {
      await f.deploy(1);
    }
  });
});

describe('when current.json cannot be read', () => {
  /** An S3 client that fails every call while `down` is set. */
  function flaky() {
    const state = { down: false };
    const s3 = {
      send: (command: GetObjectCommand) =>
        state.down
          ? Promise.reject(
              Object.assign(new Error('We encountered an internal error'), { name: 'InternalError' }),
            )
          : f.s3.s3.send(command),
    } as unknown as S3Client;
    return { state, s3 };
  }

  it('keeps serving the cached model while S3 fails, and 500 internal when it never had one', async () => {
    await f.deploy(1);
    let now = 0;
    const { state, s3 } = flaky();
    const predict = createPredictHandler(baseEnv(), { s3, runtime: f.runtime, now: () => now });
    expect((await predict(event({ records: good }))).statusCode).toBe(200);
    state.down = true;
    now += 60_000;
    const r = await predict(event({ records: good }));
    expect(r.statusCode).toBe(200);
    expect(parse(r).modelVersion).toBe('1');

    const cold = createPredictHandler(baseEnv(), { s3, runtime: f.runtime });
    const failed = await cold(event({ records: good }));
    expect(failed.statusCode).toBe(500);
    expect(parse(failed)).toEqual({
      code: 'internal',
      message: 'internal error; the request id is in the logs',
    });
  });

  it('a corrupt current.json is an internal error, not a crash', async () => {
    await f.s3.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: POINTER_KEY, Body: '{"modelPackageArn": 3}' }),
    );
    try {
      const predict = createPredictHandler(baseEnv(), { s3: f.s3.s3, runtime: f.runtime });
      expect((await predict(event({ records: good }))).statusCode).toBe(500);
    } finally {
      await f.deploy(1);
    }
  });
});

describe('serverless capture through Firehose', () => {
  const firehose = mockClient(FirehoseClient);
  afterEach(() => firehose.reset());

  const capturedEnv = (): PredictEnv => ({
    ...baseEnv(),
    endpointName: CAPTURED,
    captureStreamName: 'devmlops-capture',
  });

  it('one record per request, identical to what the endpoint itself captures for the same request', async () => {
    await f.deploy(1);
    firehose.on(PutRecordCommand).resolves({ RecordId: 'r-1', Encrypted: false });
    const predict = createPredictHandler(capturedEnv(), {
      s3: f.s3.s3,
      runtime: f.runtime,
      firehose: new FirehoseClient({ region: 'us-east-1' }),
    });
    const requestId = '6f1c1a52-7d2b-4c55-a1c4-9d3c8e0f2a11';
    const r = await predict(event({ records: good }, requestId));
    expect(r.statusCode).toBe(200);

    const calls = firehose.commandCalls(PutRecordCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0].args[0].input;
    expect(input.DeliveryStreamName).toBe('devmlops-capture');
    const data = Buffer.from(input.Record!.Data!).toString('utf8');
    expect(data.endsWith('}\n')).toBe(true);
    expect(data.indexOf('\n')).toBe(data.length - 1);

    await f.writer.flush();
    const keys = await listKeys(f.s3.s3, BUCKET, `capture/${CAPTURED}/AllTraffic/`);
    expect(keys).toHaveLength(1);
    const local = (await getText(f.s3.s3, BUCKET, keys[0])).trimEnd();
    expect(local.split('\n')).toHaveLength(1);

    // Byte for byte up to the event metadata; then the same metadata fields, only the id and time differ.
    const cut = (line: string) => line.slice(0, line.indexOf(',"eventMetadata":'));
    expect(cut(data)).toBe(cut(local));
    const ours = JSON.parse(data) as Record<string, Record<string, unknown>>;
    const theirs = JSON.parse(local) as Record<string, Record<string, unknown>>;
    expect(Object.keys(ours)).toEqual(['captureData', 'eventMetadata', 'eventVersion']);
    expect(Object.keys(ours)).toEqual(Object.keys(theirs));
    expect(Object.keys(ours.eventMetadata)).toEqual(Object.keys(theirs.eventMetadata));
    expect(ours.eventMetadata.inferenceId).toBe(requestId);
    expect(theirs.eventMetadata.inferenceId).toBe(requestId);
    expect(ours.eventMetadata.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ours.eventMetadata.inferenceTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(ours.eventVersion).toBe('0');

    // DESIGN.md section 7, field by field.
    expect(ours.captureData).toEqual({
      endpointInput: {
        observedContentType: 'text/csv',
        mode: 'INPUT',
        data: expect.any(String),
        encoding: 'CSV',
      },
      endpointOutput: {
        observedContentType: 'text/csv; charset=utf-8',
        mode: 'OUTPUT',
        data: expect.any(String),
        encoding: 'CSV',
      },
    });
    // The drift check's reader gets the rows and scores back.
    const parsed = parseCapture(spec1, [data]);
    expect(parsed.stats.rows).toBe(good.length);
    expect(parsed.rows).toEqual(expectedRows(spec1, good));
    expect(parsed.predictions).toEqual(parse(r).predictions!.map((p) => p.probability));
  });

  it('a Firehose failure is counted and logged; the prediction still succeeds', async () => {
    await f.deploy(1);
    firehose
      .on(PutRecordCommand)
      .rejects(Object.assign(new Error('stream not active'), { name: 'ResourceInUseException' }));
    const added = jest.spyOn(metrics, 'addMetric');
    try {
      const predict = createPredictHandler(capturedEnv(), {
        s3: f.s3.s3,
        runtime: f.runtime,
        firehose: new FirehoseClient({ region: 'us-east-1', maxAttempts: 1 }),
      });
      const r = await predict(event({ records: good }));
      expect(r.statusCode).toBe(200);
      expect(parse(r).predictions).toHaveLength(good.length);
      expect(added).toHaveBeenCalledWith('CaptureFailures', 'Count', 1);
      expect(added).toHaveBeenCalledWith('PredictionRecords', 'Count', good.length);
    } finally {
      added.mockRestore();
    }
  });

  it('a realtime endpoint (no stream) sends nothing to Firehose', async () => {
    await f.deploy(1);
    const predict = createPredictHandler(baseEnv(), { s3: f.s3.s3, runtime: f.runtime });
    expect((await predict(event({ records: good }))).statusCode).toBe(200);
    expect(firehose.commandCalls(PutRecordCommand)).toHaveLength(0);
  });
});

describe('readPredictEnv', () => {
  const env = {
    ARTIFACTS_BUCKET: BUCKET,
    ENDPOINT_NAME: ENDPOINT,
    DATASET_SCHEMAS: JSON.stringify([schema]),
  };

  it('defaults: batch 100, threshold 0.5, refresh 10 s, realtime (no capture stream)', () => {
    expect(readPredictEnv(env)).toEqual({
      artifactsBucket: BUCKET,
      endpointName: ENDPOINT,
      schema,
      maxBatchSize: 100,
      threshold: 0.5,
      specRefreshSeconds: 10,
    });
    expect(readPredictEnv({ ...env, CAPTURE_STREAM_NAME: 's' })).toMatchObject({ captureStreamName: 's' });
  });

  it.each([
    [{ ENDPOINT_NAME: '' }, 'Environment variable ENDPOINT_NAME is required'],
    [{ THRESHOLD: '1.5' }, 'THRESHOLD must be a number in [0, 1]'],
    [{ MAX_BATCH_SIZE: '2.5' }, 'MAX_BATCH_SIZE must be a whole number'],
    [{ DATASET_SCHEMAS: '[]' }, 'exactly one dataset schema'],
  ])('%j fails with a message naming the variable', (override, message) => {
    expect(() => readPredictEnv({ ...env, ...override })).toThrow(message);
  });
});
