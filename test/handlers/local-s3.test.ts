import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { toSqsEvent, type ObjectCreatedEvent } from '../../lib/local/s3';
import { getBytes, startTestS3, type TestS3 } from '../helpers/local-s3';

const md5 = (s: string | Buffer) => createHash('md5').update(s).digest('hex');

let t: TestS3;
beforeAll(async () => {
  t = await startTestS3(['a', 'b']);
});
afterAll(async () => {
  await t?.stop();
});

test('PutObject becomes an EventBridge "Object Created" event shaped as S3 sends it', async () => {
  const body = 'x,y\n1,2\n';
  await t.s3.send(new PutObjectCommand({ Bucket: 'a', Key: 'ds/put.csv', Body: body }));
  const [e] = await t.eventsFor('a', 'ds/put.csv');
  expect(e).toEqual({
    version: '0',
    id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '000000000000',
    time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    region: process.env.AWS_REGION,
    resources: ['arn:aws:s3:::a'],
    detail: {
      version: '0',
      bucket: { name: 'a' },
      object: {
        key: 'ds/put.csv',
        size: body.length,
        etag: md5(body),
        sequencer: expect.stringMatching(/^[0-9A-F]{18}$/),
      },
      'request-id': expect.any(String),
      requester: '000000000000',
      'source-ip-address': '127.0.0.1',
      reason: 'PutObject',
    },
  });
});

test('keys are URL-encoded form style; sequencers grow', async () => {
  await t.s3.send(new PutObjectCommand({ Bucket: 'a', Key: 'ds/one two+three.csv', Body: '1' }));
  await t.s3.send(new PutObjectCommand({ Bucket: 'a', Key: 'ds/one two+three.csv', Body: '2' }));
  const events = await t.eventsFor('a', 'ds/one two+three.csv');
  expect(events.map((e) => e.detail.object.key)).toEqual([
    'ds/one+two%2Bthree.csv',
    'ds/one+two%2Bthree.csv',
  ]);
  expect(events[1].detail.object.sequencer > events[0].detail.object.sequencer).toBe(true);
  expect(events.map((e) => e.detail.object.etag)).toEqual([md5('1'), md5('2')]);
});

test('CopyObject: reason CopyObject, with the ETag and size s3rver leaves out', async () => {
  const body = 'copied bytes\n';
  await t.s3.send(new PutObjectCommand({ Bucket: 'a', Key: 'ds/src.csv', Body: body }));
  await t.s3.send(new CopyObjectCommand({ Bucket: 'b', Key: 'ds/dst.csv', CopySource: 'a/ds/src.csv' }));
  const [e] = await t.eventsFor('b', 'ds/dst.csv');
  expect(e.detail).toMatchObject({
    bucket: { name: 'b' },
    object: { key: 'ds/dst.csv', size: body.length, etag: md5(body) },
    reason: 'CopyObject',
  });
});

test('streamed bodies are stored as sent: no aws-chunked framing (the checksum settings of clients.ts)', async () => {
  // With the SDK's default checksum settings s3rver stores "8\r\na,b\n1,2\n\r\n0\r\nx-amz-checksum-crc32:..." here.
  await t.s3.send(
    new PutObjectCommand({
      Bucket: 'a',
      Key: 'ds/put-stream.csv',
      Body: Readable.from([Buffer.from('a,b\n'), Buffer.from('1,2\n')]),
      ContentLength: 8,
    }),
  );
  expect((await getBytes(t.s3, 'a', 'ds/put-stream.csv')).toString()).toBe('a,b\n1,2\n');

  const stream = new PassThrough();
  const done = new Upload({
    client: t.s3,
    params: { Bucket: 'a', Key: 'ds/streamed.csv', Body: stream },
  }).done();
  stream.write('a,b\n');
  stream.end('1,2\n');
  await done;
  expect((await getBytes(t.s3, 'a', 'ds/streamed.csv')).toString()).toBe('a,b\n1,2\n');
  const [e] = await t.eventsFor('a', 'ds/streamed.csv');
  expect(e.detail.object).toMatchObject({ size: 8, etag: md5('a,b\n1,2\n') });
});

test('deletions give no event; an unsubscribed or failing listener does not stop delivery', async () => {
  const seen: string[] = [];
  const off = t.local.onObjectCreated(() => {
    throw new Error('listener bug');
  });
  const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    await t.s3.send(new PutObjectCommand({ Bucket: 'a', Key: 'ds/del.csv', Body: 'x' }));
    const unsubscribe = t.local.onObjectCreated((e) => {
      seen.push(e.detail.object.key);
    });
    await t.s3.send(new DeleteObjectCommand({ Bucket: 'a', Key: 'ds/del.csv' }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'a', Key: 'ds/after.csv', Body: 'y' }));
    await t.local.idle();
    unsubscribe();
    await t.s3.send(new PutObjectCommand({ Bucket: 'a', Key: 'ds/unheard.csv', Body: 'z' }));
    await t.local.idle();
  } finally {
    off();
    warn.mockRestore();
  }
  expect(seen).toEqual(['ds/after.csv']);
  expect((await t.eventsFor('a', 'ds/after.csv')).length).toBe(1);
});

test('toSqsEvent wraps events as an EventBridge rule with an SQS target delivers them', async () => {
  const [e] = await t.eventsFor('a', 'ds/put.csv');
  const sqs = toSqsEvent([e, e], 'arn:aws:sqs:eu-west-1:000000000000:q');
  expect(sqs.Records).toHaveLength(2);
  const [r1, r2] = sqs.Records;
  expect(r1.messageId).not.toBe(r2.messageId);
  expect(JSON.parse(r1.body) as ObjectCreatedEvent).toEqual(e);
  expect(r1).toMatchObject({
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:000000000000:q',
    awsRegion: 'eu-west-1',
  });
  expect(r1.md5OfBody).toBe(md5(r1.body));
});
