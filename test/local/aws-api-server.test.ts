import { CloudWatchClient, DescribeAlarmsCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeEndpointCommand, ListEndpointsCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { startAwsApiServer, toAwsJson, type AwsApiServer } from '../../lib/local/aws-api-server';
import { AwsApiError } from '../../lib/local/errors';

/**
 * The local AWS JSON endpoint against the real SDK clients (issue 5): requests arrive parsed, responses and
 * errors parse on the client side, error names equal the codes thrown, timestamps come back as Dates.
 */

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
let server: AwsApiServer;
const received: Array<{ api: string; request: unknown }> = [];
let clients: { cloudWatch: CloudWatchClient; sfn: SFNClient; sageMaker: SageMakerClient };

const CREATED = new Date('2026-01-02T03:04:05.678Z');

beforeAll(async () => {
  server = await startAwsApiServer();
  // One attempt: a 500 would otherwise be retried with backoff.
  const config = { endpoint: server.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 };
  clients = {
    cloudWatch: new CloudWatchClient(config),
    sfn: new SFNClient(config),
    sageMaker: new SageMakerClient(config),
  };
  server.register('GraniteServiceVersion20100801', {
    PutMetricData: (r: unknown) => {
      received.push({ api: 'PutMetricData', request: r });
      const { Namespace } = r as { Namespace?: string };
      if (Namespace === 'bad')
        throw new AwsApiError('InvalidParameterValueException', 'The namespace is bad');
      if (Namespace === 'missing') throw new AwsApiError('ResourceNotFound', 'No such thing', 404);
      if (Namespace === 'crash') throw new TypeError('cannot read properties of undefined');
      return {};
    },
  });
  server.register('AWSStepFunctions', {
    StartExecution: (r: { name?: string }) => {
      received.push({ api: 'StartExecution', request: r });
      return {
        executionArn: `arn:aws:states:us-east-1:123456789012:execution:m:${r.name}`,
        startDate: CREATED,
      };
    },
    DescribeExecution: (r: { executionArn: string }) => {
      throw new AwsApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${r.executionArn}'`);
    },
  });
  server.register('SageMaker', {
    DescribeEndpoint: async (r: { EndpointName: string }) => {
      received.push({ api: 'DescribeEndpoint', request: r });
      if (r.EndpointName !== 'churn')
        throw new AwsApiError(
          'ValidationException',
          `Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/${r.EndpointName.toLowerCase()}".`,
        );
      return {
        EndpointName: 'churn',
        EndpointArn: 'arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn',
        EndpointConfigName: 'churn-1',
        EndpointStatus: 'InService',
        CreationTime: CREATED,
        LastModifiedTime: new Date(CREATED.getTime() + 1000),
        ProductionVariants: [{ VariantName: 'AllTraffic', CurrentWeight: 1 }],
        FailureReason: undefined,
      };
    },
  });
});

afterAll(async () => {
  for (const c of Object.values(clients)) c.destroy();
  await server.close();
});

beforeEach(() => {
  received.length = 0;
});

describe('requests arrive parsed', () => {
  it('CloudWatch PutMetricData (awsJson1_0): the body, timestamps as epoch seconds', async () => {
    const at = new Date('2026-03-01T10:00:00.250Z');
    await clients.cloudWatch.send(
      new PutMetricDataCommand({
        Namespace: 'DevMLOps',
        MetricData: [
          {
            MetricName: 'MaxFeatureDrift',
            Dimensions: [{ Name: 'Project', Value: 'devmlops' }],
            Value: 0.31,
            Timestamp: at,
            Unit: 'None',
          },
        ],
      }),
    );
    expect(received).toEqual([
      {
        api: 'PutMetricData',
        request: {
          Namespace: 'DevMLOps',
          MetricData: [
            {
              MetricName: 'MaxFeatureDrift',
              Dimensions: [{ Name: 'Project', Value: 'devmlops' }],
              Value: 0.31,
              Timestamp: at.getTime() / 1000,
              Unit: 'None',
            },
          ],
        },
      },
    ]);
  });

  it('a large PutMetricData that the SDK gzips (requestCompression) arrives decompressed', async () => {
    const MetricData = Array.from({ length: 400 }, (_, i) => ({
      MetricName: `FeatureDrift`,
      Dimensions: [
        { Name: 'Project', Value: 'devmlops' },
        { Name: 'Feature', Value: `feature_${i}` },
      ],
      Value: i / 1000,
    }));
    const encodings: Array<string | undefined> = [];
    const command = new PutMetricDataCommand({ Namespace: 'DevMLOps', MetricData });
    command.middlewareStack.add(
      (next) => async (args) => {
        const headers = (args.request as { headers: Record<string, string> }).headers;
        encodings.push(headers['content-encoding']);
        return next(args);
      },
      { step: 'finalizeRequest' },
    );
    await clients.cloudWatch.send(command);
    expect(encodings).toEqual(['gzip']);
    expect(received).toHaveLength(1);
    const request = received[0]!.request as { MetricData: unknown[] };
    expect(request.MetricData).toHaveLength(400);
    expect(request.MetricData[399]).toEqual(MetricData[399]);
  });

  it('SageMaker DescribeEndpoint (awsJson1_1): response Dates come back as Dates', async () => {
    const out = await clients.sageMaker.send(new DescribeEndpointCommand({ EndpointName: 'churn' }));
    expect(received).toEqual([{ api: 'DescribeEndpoint', request: { EndpointName: 'churn' } }]);
    expect(out.EndpointStatus).toBe('InService');
    expect(out.CreationTime).toEqual(CREATED);
    expect(out.LastModifiedTime).toEqual(new Date(CREATED.getTime() + 1000));
    expect(out.ProductionVariants).toEqual([{ VariantName: 'AllTraffic', CurrentWeight: 1 }]);
    expect(out.FailureReason).toBeUndefined();
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('Step Functions StartExecution (awsJson1_0)', async () => {
    const out = await clients.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:m',
        name: 'x1',
        input: '{}',
      }),
    );
    expect(received[0]!.request).toEqual({
      stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:m',
      name: 'x1',
      input: '{}',
    });
    expect(out.executionArn).toBe('arn:aws:states:us-east-1:123456789012:execution:m:x1');
    expect(out.startDate).toEqual(CREATED);
  });
});

describe('errors parse on the client with the name thrown', () => {
  /** The rejection of a promise (fails when it resolves). */
  async function rejection(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
    try {
      await p;
    } catch (e) {
      return e as Error & Record<string, unknown>;
    }
    throw new Error('expected a rejection');
  }

  it('SageMaker ValidationException', async () => {
    const e = await rejection(clients.sageMaker.send(new DescribeEndpointCommand({ EndpointName: 'Nope' })));
    expect(e.name).toBe('ValidationException');
    expect(e.message).toBe(
      'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/nope".',
    );
    expect((e.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(400);
    expect(e.$fault).toBe('client');
  });

  it('Step Functions ExecutionDoesNotExist (a modeled error)', async () => {
    const e = await rejection(clients.sfn.send(new DescribeExecutionCommand({ executionArn: 'arn:x' })));
    expect(e.name).toBe('ExecutionDoesNotExist');
    expect(e.message).toBe("Execution Does Not Exist: 'arn:x'");
  });

  it('CloudWatch (awsQueryCompatible): the modeled error, with the query code in Code', async () => {
    const e = await rejection(
      clients.cloudWatch.send(new PutMetricDataCommand({ Namespace: 'bad', MetricData: [] })),
    );
    expect(e.name).toBe('InvalidParameterValueException');
    expect(e.message).toBe('The namespace is bad');
    expect(e.Code).toBe('InvalidParameterValue');
    expect(e.Type).toBe('Sender');
    expect((e.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(400);

    const notFound = await rejection(
      clients.cloudWatch.send(new PutMetricDataCommand({ Namespace: 'missing', MetricData: [] })),
    );
    expect(notFound.name).toBe('ResourceNotFound');
    expect((notFound.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(404);
  });

  it('an operation that throws a plain Error: 500 InternalFailure', async () => {
    const e = await rejection(
      clients.cloudWatch.send(new PutMetricDataCommand({ Namespace: 'crash', MetricData: [] })),
    );
    expect((e.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(500);
    expect(e.$fault).toBe('server');
    expect(e.message).toBe('cannot read properties of undefined');
  });

  it('an operation nobody registered: UnknownOperationException', async () => {
    const sm = await rejection(clients.sageMaker.send(new ListEndpointsCommand({})));
    expect(sm.name).toBe('UnknownOperationException');
    expect(sm.message).toBe('Unknown operation SageMaker.ListEndpoints');
    const cw = await rejection(clients.cloudWatch.send(new DescribeAlarmsCommand({})));
    expect(cw.name).toBe('UnknownOperationException');
  });
});

describe('the wire format', () => {
  const post = (target: string | undefined, body: string, contentType = 'application/x-amz-json-1.1') =>
    fetch(`${server.endpoint}/`, {
      method: 'POST',
      headers: { 'content-type': contentType, ...(target ? { 'x-amz-target': target } : {}) },
      body,
    });

  it('an error: status, x-amzn-ErrorType and {__type, message}', async () => {
    const res = await post('SageMaker.DescribeEndpoint', '{"EndpointName":"x"}');
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/x-amz-json-1.1');
    expect(res.headers.get('x-amzn-errortype')).toBe('ValidationException');
    expect(res.headers.get('x-amzn-query-error')).toBeNull();
    expect(await res.json()).toEqual({
      __type: 'ValidationException',
      message: 'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/x".',
    });
  });

  it('CloudWatch errors carry x-amzn-query-error <code>;Sender', async () => {
    const res = await post(
      'GraniteServiceVersion20100801.PutMetricData',
      '{"Namespace":"bad","MetricData":[]}',
      'application/x-amz-json-1.0',
    );
    expect(res.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(res.headers.get('x-amzn-query-error')).toBe('InvalidParameterValue;Sender');
    expect(await res.json()).toMatchObject({ __type: 'InvalidParameterValueException' });
  });

  it('no target, unknown prefix, bad JSON', async () => {
    const none = await post(undefined, '{}');
    expect(none.status).toBe(400);
    expect(none.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    const unknown = await post('DynamoDB_20120810.GetItem', '{}');
    expect((await unknown.json()) as unknown).toMatchObject({ __type: 'UnknownOperationException' });
    const bad = await post('SageMaker.DescribeEndpoint', '{"EndpointName":');
    expect(bad.status).toBe(400);
    expect((await bad.json()) as unknown).toMatchObject({ __type: 'SerializationException' });
  });

  it('an empty body is an empty request', async () => {
    const res = await post('AWSStepFunctions.StartExecution', '', 'application/x-amz-json-1.0');
    expect(res.status).toBe(200);
    expect(received[0]!.request).toEqual({});
  });
});

describe('toAwsJson', () => {
  it('turns Dates at any depth into epoch seconds and drops undefined members', () => {
    const json = toAwsJson({ a: new Date(1500), b: [{ c: new Date(0) }], d: undefined, e: 'x' });
    expect(JSON.parse(json)).toEqual({ a: 1.5, b: [{ c: 0 }], e: 'x' });
    expect(toAwsJson(undefined)).toBe('{}');
  });
});
