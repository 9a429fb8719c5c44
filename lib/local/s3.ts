import { createHash, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PutObjectCommand } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import type { SQSEvent, SQSRecord } from 'aws-lambda';

/**
 * Local S3 for the embedded runtime and the handler tests: s3rver on loopback, plus an adapter that turns
 * its S3-notification events into the EventBridge `Object Created` events that AWS delivers, so the
 * Lambda handlers see the same input locally as they do in the cloud (DESIGN.md section 10).
 */

/** `detail` of an S3 `Object Created` event on EventBridge. */
export interface ObjectCreatedDetail {
  version: '0';
  bucket: { name: string };
  /** `key` is URL-encoded, form style (space as '+'), as S3 sends it. */
  object: { key: string; size: number; etag: string; 'version-id'?: string; sequencer: string };
  'request-id': string;
  requester: string;
  'source-ip-address': string;
  reason: 'PutObject' | 'CompleteMultipartUpload' | 'CopyObject' | 'PostObject';
}

/** The EventBridge envelope, field for field as S3 sends it (`aws.s3`, detail-type `Object Created`). */
export interface ObjectCreatedEvent {
  version: '0';
  id: string;
  'detail-type': 'Object Created';
  source: 'aws.s3';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: ObjectCreatedDetail;
}

export interface LocalS3Options {
  /** Where s3rver keeps buckets and objects (one directory per bucket). */
  readonly directory: string;
  /** Buckets created at start (kept if they exist already). */
  readonly buckets: readonly string[];
  /** @default 0 (a free port) */
  readonly port?: number;
  /**
   * Credentials the server accepts (s3rver rejects unknown access keys; it does not check SigV4 signatures).
   * @default AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment, else S3RVER / S3RVER
   */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  /** The account and region put into events. @default '000000000000', AWS_REGION or us-east-1 */
  readonly account?: string;
  readonly region?: string;
}

export interface LocalS3 {
  /** e.g. http://127.0.0.1:41234; use with forcePathStyle (see lambdas/shared/clients.ts). */
  readonly endpoint: string;
  readonly port: number;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** Subscribes to `Object Created` events of every bucket; returns an unsubscribe function. */
  onObjectCreated(listener: (event: ObjectCreatedEvent) => void | Promise<void>): () => void;
  /** Resolves once every event emitted so far has been delivered to the listeners (and their promises settled). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** What s3rver 3.7 emits ('event'): one S3 notification record per write. */
interface S3rverRecord {
  eventTime: string;
  eventName: string;
  requestParameters: { sourceIPAddress?: string };
  responseElements: { 'x-amz-request-id'?: string };
  s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string } };
}

interface S3rverInstance {
  on(event: 'event', listener: (e: { Records: S3rverRecord[] }) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
  store: { getMetadata(bucket: string, key: string): Promise<Record<string, string>> };
}
type S3rverCtor = new (options: Record<string, unknown>) => S3rverInstance;
interface S3rverAccount {
  DUMMY_ACCOUNT: { createKeyPair(accessKeyId: string, secretAccessKey: string): void };
}

/** S3's event encoding of a key: form-style URL encoding, '/' kept. */
export function encodeEventKey(key: string): string {
  return key
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/%20/g, '+'))
    .join('/');
}

const REASONS: Record<string, ObjectCreatedDetail['reason']> = {
  'ObjectCreated:Put': 'PutObject',
  'ObjectCreated:Copy': 'CopyObject',
  // s3rver 3.7 reports CompleteMultipartUpload as "ObjectCreated:Post" (its controller passes eventType
  // 'Post'). The SDK never uses browser POST uploads, so Post is taken to mean multipart here.
  'ObjectCreated:Post': 'CompleteMultipartUpload',
};

export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  // s3rver ships no type declarations; the shapes used are declared above.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3rver = require('s3rver') as S3rverCtor;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const accounts = require('s3rver/lib/models/account') as S3rverAccount;
  const credentials = options.credentials ?? {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'S3RVER',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'S3RVER',
  };
  accounts.DUMMY_ACCOUNT.createKeyPair(credentials.accessKeyId, credentials.secretAccessKey);
  const account = options.account ?? '000000000000';
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';

  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    directory: options.directory,
    silent: true,
    vhostBuckets: false,
    configureBuckets: options.buckets.map((name) => ({ name })),
  });

  const listeners = new Set<(event: ObjectCreatedEvent) => void | Promise<void>>();
  let chain: Promise<void> = Promise.resolve();
  let counter = 0;

  // s3rver's sequencer is Date.now() in hex, equal for writes in the same millisecond; S3's grows per key.
  const sequencer = (): string =>
    (BigInt(Date.now()) * 4096n + BigInt(counter++ % 4096)).toString(16).toUpperCase().padStart(18, '0');

  const toEvent = async (record: S3rverRecord): Promise<ObjectCreatedEvent | undefined> => {
    const reason = REASONS[record.eventName];
    if (!reason) return undefined; // deletions and anything else are not "Object Created"
    const { bucket, object } = record.s3;
    let etag = object.eTag;
    let size = object.size;
    if (etag === undefined || size === undefined) {
      // s3rver leaves the ETag out of Copy events; S3 always sends it. Its store has it (JSON-quoted).
      const meta = await server.store.getMetadata(bucket.name, object.key);
      etag ??= String(meta.etag);
      size ??= Number(meta['content-length']);
    }
    const ip = (record.requestParameters.sourceIPAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account,
      // EventBridge times have whole seconds
      time: new Date(record.eventTime).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region,
      resources: [`arn:aws:s3:::${bucket.name}`],
      detail: {
        version: '0',
        bucket: { name: bucket.name },
        object: {
          // s3rver's key is raw; S3 encodes it
          key: encodeEventKey(object.key),
          size,
          // S3 sends the ETag without quotes
          etag: etag.replace(/"/g, ''),
          sequencer: sequencer(),
        },
        'request-id': record.responseElements['x-amz-request-id'] ?? randomUUID(),
        requester: account,
        'source-ip-address': ip,
        reason,
      },
    };
  };

  server.on('event', (e) => {
    for (const record of e.Records) {
      chain = chain.then(async () => {
        const event = await toEvent(record).catch((err: unknown) => {
          process.emitWarning(`local S3: cannot build an event for ${record.s3.object.key}: ${String(err)}`);
          return undefined;
        });
        if (!event) return;
        for (const listener of [...listeners]) {
          // One failing listener must not keep the event from the others, nor stop later events.
          try {
            await listener(event);
          } catch (err) {
            process.emitWarning(`local S3 event listener failed: ${String(err)}`);
          }
        }
      });
    }
  });

  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  return {
    endpoint,
    port: address.port,
    credentials,
    onObjectCreated(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    idle: async () => {
      let seen: Promise<void>;
      do {
        seen = chain;
        await seen;
      } while (seen !== chain);
    },
    close: async () => {
      // SDK clients keep connections alive; without this, close() waits for them to time out.
      server.httpServer?.closeAllConnections();
      await server.close();
    },
  };
}

/**
 * Wraps events into an SQS batch the way an EventBridge rule with an SQS target delivers them:
 * each message body is the event JSON.
 */
export function toSqsEvent(
  events: readonly ObjectCreatedEvent[],
  queueArn = 'arn:aws:sqs:us-east-1:000000000000:devmlops-validation',
): SQSEvent {
  const region = queueArn.split(':')[3] ?? 'us-east-1';
  return {
    Records: events.map((event): SQSRecord => {
      const body = JSON.stringify(event);
      return {
        messageId: randomUUID(),
        receiptHandle: randomUUID(),
        body,
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: String(Date.parse(event.time)),
          SenderId: 'AIDAIEVENTBRIDGE',
          ApproximateFirstReceiveTimestamp: String(Date.now()),
        },
        messageAttributes: {},
        md5OfBody: createHash('md5').update(body).digest('hex'),
        eventSource: 'aws:sqs',
        eventSourceARN: queueArn,
        awsRegion: region,
      };
    }),
  };
}

/**
 * The command with its payload signed as UNSIGNED-PAYLOAD (SigV4's marker for a body outside the signature; the
 * signer keeps an x-amz-content-sha256 header it finds), so that the SDK does not hash the body. For the local
 * platform's own writes from its serving process (Data Capture files, Firehose objects): sent as a string with a
 * payload hash, a 1.1 MB object blocked the event loop for 5 to 6 ms, against about 2.8 ms as bytes, unsigned.
 */
export function unsignedPayload(command: PutObjectCommand): PutObjectCommand {
  command.middlewareStack.add(
    (next) => (args) => {
      if (HttpRequest.isInstance(args.request))
        args.request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'unsignedPayload' },
  );
  return command;
}
