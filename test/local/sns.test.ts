import { NotFoundException, PublishCommand, SNSClient, InvalidParameterException } from '@aws-sdk/client-sns';
import { startLocalSns, type LocalSns, type PublishedMessage } from '../../lib/local/sns';

const TOPIC = 'arn:aws:sns:us-east-1:000000000000:devmlops-pipeline-Topic-ABC';
let sns: LocalSns;
let client: SNSClient;
const published: PublishedMessage[] = [];

beforeAll(async () => {
  sns = await startLocalSns({ topicArns: [TOPIC], onPublish: (m) => published.push(m) });
  client = new SNSClient({
    endpoint: sns.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client?.destroy();
  await sns?.close();
});

beforeEach(() => {
  published.length = 0;
});

test('the real SNS client publishes through it (AWS Query in, XML out): message, subject, attributes', async () => {
  const message = 'Drift detected on devmlops-endpoint\n\nReport: s3://b/reports/drift/x.html & more <ok>';
  const out = await client.send(
    new PublishCommand({
      TopicArn: TOPIC,
      Subject: '[devmlops] Drift detected on devmlops-endpoint',
      Message: message,
      MessageAttributes: { status: { DataType: 'String', StringValue: 'Drift' } },
    }),
  );
  expect(out.MessageId).toMatch(/^[0-9a-f-]{36}$/);
  expect(published).toEqual([
    {
      topicArn: TOPIC,
      subject: '[devmlops] Drift detected on devmlops-endpoint',
      message,
      attributes: { status: 'Drift' },
      messageId: out.MessageId,
    },
  ]);
});

test('answers as SNS does: unknown topic NotFound, bad subject or empty message InvalidParameter', async () => {
  const send = (input: ConstructorParameters<typeof PublishCommand>[0]) =>
    client.send(new PublishCommand(input)).then(
      () => undefined,
      (e: Error) => e,
    );
  const unknown = await send({ TopicArn: `${TOPIC}-nope`, Message: 'x' });
  expect(unknown).toBeInstanceOf(NotFoundException);
  expect(unknown?.message).toBe('Topic does not exist');
  expect((unknown as NotFoundException).$metadata.httpStatusCode).toBe(404);
  for (const bad of [
    { TopicArn: TOPIC, Message: 'x', Subject: 'two\nlines' },
    { TopicArn: TOPIC, Message: 'x', Subject: 's'.repeat(100) },
    { TopicArn: TOPIC, Message: '' },
    { TopicArn: TOPIC, Message: 'm'.repeat(256 * 1024 + 1) },
  ])
    expect(await send(bad)).toBeInstanceOf(InvalidParameterException);
  expect(published).toEqual([]);
});
