import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, readRequestBody } from './aws-api-server';

/**
 * Amazon SNS Publish on loopback, for the handlers that publish with @aws-sdk/client-sns (the drift check). SNS
 * speaks the AWS Query protocol, not the JSON one the platform's AWS API server serves: a form-encoded
 * `POST /` with `Action=Publish&TopicArn=...`, answered in XML. The SDK reads `PublishResult/MessageId` back, and
 * from an error response `Error/Code`, which it maps to the modeled error by its awsQueryError code (`NotFound` is
 * NotFoundException, `InvalidParameter` InvalidParameterException).
 *
 * Checks follow the Publish reference: the topic must exist (the app's AWS::SNS::Topic resources), a message is
 * required and at most 256 KiB, a subject is under 100 characters with no line breaks or control characters.
 */

export interface PublishedMessage {
  readonly topicArn: string;
  readonly subject?: string;
  readonly message: string;
  /** String message attributes by name. */
  readonly attributes: Readonly<Record<string, string>>;
  readonly messageId: string;
}

export interface LocalSnsOptions {
  /** The topics that exist; Publish to any other answers NotFound. */
  readonly topicArns: readonly string[];
  readonly onPublish: (message: PublishedMessage) => void;
  /** @default 0 (a free port) */
  readonly port?: number;
}

export interface LocalSns {
  /** e.g. http://127.0.0.1:41234: what AWS_ENDPOINT_URL_SNS points at. */
  readonly endpoint: string;
  close(): Promise<void>;
}

const XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';
const MAX_MESSAGE_BYTES = 256 * 1024;
const MAX_BODY_BYTES = 1024 * 1024;

class SnsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const body = await readRequestBody(
    req,
    MAX_BODY_BYTES,
    () => new SnsError('InvalidParameter', 'Request body too large', 400),
  );
  return new URLSearchParams(body.toString('utf8'));
}

/** `MessageAttributes.entry.N.{Name,Value.DataType,Value.StringValue}` as name -> string value. */
function messageAttributes(form: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 1; form.has(`MessageAttributes.entry.${i}.Name`); i++) {
    const name = form.get(`MessageAttributes.entry.${i}.Name`)!;
    const type = form.get(`MessageAttributes.entry.${i}.Value.DataType`);
    const value = form.get(`MessageAttributes.entry.${i}.Value.StringValue`);
    if (type === null || value === null)
      throw new SnsError(
        'ParameterValueInvalid',
        `The message attribute '${name}' must contain non-empty message attribute value and type.`,
        400,
      );
    out[name] = value;
  }
  return out;
}

function publish(form: URLSearchParams, topics: ReadonlySet<string>): Omit<PublishedMessage, 'messageId'> {
  const topicArn = form.get('TopicArn') ?? form.get('TargetArn');
  if (topicArn === null || topicArn === '')
    throw new SnsError(
      'InvalidParameter',
      'Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter',
      400,
    );
  if (!topics.has(topicArn)) throw new SnsError('NotFound', 'Topic does not exist', 404);
  const message = form.get('Message');
  if (message === null || message === '')
    throw new SnsError('InvalidParameter', 'Invalid parameter: Empty message', 400);
  if (Buffer.byteLength(message) > MAX_MESSAGE_BYTES)
    throw new SnsError('InvalidParameter', 'Invalid parameter: Message too long', 400);
  const subject = form.get('Subject') ?? undefined;
  if (subject !== undefined && (subject === '' || subject.length >= 100 || /[\x00-\x1f\x7f]/.test(subject)))
    throw new SnsError('InvalidParameter', 'Invalid parameter: Subject', 400);
  return { topicArn, subject, message, attributes: messageAttributes(form) };
}

export async function startLocalSns(options: LocalSnsOptions): Promise<LocalSns> {
  const topics = new Set(options.topicArns);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    try {
      if (req.method !== 'POST') {
        req.resume();
        throw new SnsError('InvalidAction', 'Only POST is supported', 400);
      }
      const form = await readForm(req);
      const action = form.get('Action');
      if (action !== 'Publish')
        throw new SnsError(
          'InvalidAction',
          `The action ${action ?? '(none)'} is not valid for this endpoint.`,
          400,
        );
      const published = { ...publish(form, topics), messageId: randomUUID() };
      options.onPublish(published);
      res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      res.end(
        `<PublishResponse xmlns="${XMLNS}"><PublishResult><MessageId>${published.messageId}</MessageId></PublishResult>` +
          `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PublishResponse>`,
      );
    } catch (e) {
      const err =
        e instanceof SnsError ? e : new SnsError('InternalError', String((e as Error).message), 500);
      res.writeHead(err.statusCode, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      res.end(
        `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${err.statusCode >= 500 ? 'Receiver' : 'Sender'}</Type>` +
          `<Code>${xmlEscape(err.code)}</Code><Message>${xmlEscape(err.message)}</Message></Error>` +
          `<RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
    }
  };
  const server = createServer((req, res) => void handle(req, res));
  const port = await listenOnLoopback(server, options.port ?? 0);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
