import { Duration, Tags, Token, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { defaultMaxFileBytes } from '../../lambdas/core/report';
import type { DatasetSchema } from '../../lambdas/core/schema';
import { RAW_READ_ONLY_TAG, type DataLakeResources } from './data-lake';
import { DevFunction } from './lambda-function';
import { acknowledgeWildcards, PINNED_RUNTIME_REASON, type WildcardGrant } from './nag-acks';

/** Lambda rejects an environment whose JSON serialisation (`{"KEY":"value",...}`) is over 4 KB. */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;
/** A bucket name is at most 63 characters: the size assumed for a name not known until deploy time. */
const UNRESOLVED_VALUE_BYTES = 63;
/** SQS's maximum visibility timeout (12 hours). */
const MAX_VISIBILITY_TIMEOUT_SECONDS = 12 * 60 * 60;
/** The validation reports' prefix in the artifacts bucket (DESIGN.md section 5). */
export const VALIDATION_REPORTS_PREFIX = 'reports/validation/';

/**
 * Bytes of the environment as Lambda measures it. Unresolved tokens (bucket names) count as 63 bytes, their
 * largest possible size, so a template that passes here also passes at deploy time.
 */
export function lambdaEnvironmentBytes(env: Readonly<Record<string, string>>): number {
  const measurable: Record<string, string> = {};
  for (const [k, v] of Object.entries(env))
    measurable[k] = Token.isUnresolved(v) ? 'x'.repeat(UNRESOLVED_VALUE_BYTES) : v;
  return Buffer.byteLength(JSON.stringify(measurable), 'utf8');
}

export interface DataValidationProps {
  /** The data lake the function reads (raw) and writes (curated, quarantine, artifacts). Required. */
  readonly dataLake: DataLakeResources;
  /** The datasets the function knows: a raw key's first segment names its dataset. At least one. Required. */
  readonly datasets: readonly DatasetSchema[];
  /** The `Project` metric dimension. Required. */
  readonly project: string;
  /**
   * The handler file, relative to the repository root.
   * @default 'lambdas/handlers/validate.ts'
   */
  readonly entry?: string;
  /**
   * Above this fraction of invalid rows, a file is quarantined whole.
   * @default 0.05
   */
  readonly maxInvalidRowFraction?: number;
  /**
   * A record longer than this many bytes is rejected with `line-too-long`.
   * @default 1048576
   */
  readonly maxLineBytes?: number;
  /** @default 1024 */
  readonly memorySize?: number;
  /** @default Duration.minutes(15) */
  readonly timeout?: Duration;
  /**
   * Objects larger than this many bytes (or gzip objects that decompress past it) are quarantined whole with code
   * `too-large`, without being read, rather than cut off by the timeout.
   * @default - half the timeout at a conservative 20 MB/s per vCPU, scaled by the vCPU share of memorySize
   * (defaultMaxFileBytes): 5,209,723,007 bytes for 15 minutes and 1024 MB
   */
  readonly maxFileBytes?: number;
  /**
   * Deliveries of one event to the function before it moves to the dead-letter queue.
   * @default 3
   */
  readonly maxReceiveCount?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Validation of every object created in raw (DESIGN.md sections 3 and 5):
 * EventBridge `Object Created` on raw -> SQS queue (redrive to a DLQ) -> the validation Lambda, one message at a
 * time with partial batch responses. The queue buffers bursts and retries a failed object alone; events that
 * EventBridge cannot deliver, and messages that keep failing, end up in the one dead-letter queue.
 */
export class DataValidation extends Construct {
  readonly rule: events.Rule;
  readonly queue: sqs.Queue;
  /** Messages that failed `maxReceiveCount` times, and events EventBridge could not deliver to the queue. */
  readonly deadLetterQueue: sqs.Queue;
  readonly handler: lambda.Function;
  /** The wrapper holding the handler's role and log group. */
  readonly function: DevFunction;

  constructor(scope: Construct, id: string, props: DataValidationProps) {
    super(scope, id);
    const maxInvalidRowFraction = props.maxInvalidRowFraction ?? 0.05;
    const maxLineBytes = props.maxLineBytes ?? 1024 * 1024;
    const memorySize = props.memorySize ?? 1024;
    const timeout = props.timeout ?? Duration.minutes(15);
    const maxReceiveCount = props.maxReceiveCount ?? 3;
    const maxFileBytes = props.maxFileBytes ?? defaultMaxFileBytes(timeout.toSeconds(), memorySize);
    if (props.datasets.length === 0)
      throw new Error('DataValidation: datasets must name at least one dataset');
    const names = props.datasets.map((d) => d.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup !== undefined) throw new Error(`DataValidation: dataset "${dup}" appears twice in datasets`);
    if (!(maxInvalidRowFraction >= 0 && maxInvalidRowFraction <= 1))
      throw new Error(
        `DataValidation: maxInvalidRowFraction must be in [0, 1], got ${maxInvalidRowFraction}`,
      );
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1024)
      throw new Error(`DataValidation: maxLineBytes must be an integer >= 1024, got ${maxLineBytes}`);
    if (!Number.isSafeInteger(maxFileBytes) || maxFileBytes < 1)
      throw new Error(`DataValidation: maxFileBytes must be a positive integer, got ${maxFileBytes}`);
    if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000)
      throw new Error(
        `DataValidation: maxReceiveCount must be an integer in [1, 1000], got ${maxReceiveCount}`,
      );
    // AWS's advice for an SQS event source: at least six times the function timeout, so that a message is not
    // handed out again while the throttled or retried invocation that holds it is still running.
    const visibilityTimeout = Duration.seconds(timeout.toSeconds() * 6);
    if (visibilityTimeout.toSeconds() > MAX_VISIBILITY_TIMEOUT_SECONDS)
      throw new Error(
        `DataValidation: timeout ${timeout.toSeconds()} s needs a queue visibility timeout of 6x, over the SQS maximum of ${MAX_VISIBILITY_TIMEOUT_SECONDS} s`,
      );

    const { dataLake } = props;
    const environment: Record<string, string> = {
      PROJECT: props.project,
      RAW_BUCKET: dataLake.raw.bucketName,
      CURATED_BUCKET: dataLake.curated.bucketName,
      QUARANTINE_BUCKET: dataLake.quarantine.bucketName,
      ARTIFACTS_BUCKET: dataLake.artifacts.bucketName,
      DATASET_SCHEMAS: JSON.stringify(props.datasets),
      MAX_INVALID_ROW_FRACTION: String(maxInvalidRowFraction),
      MAX_LINE_BYTES: String(maxLineBytes),
      MAX_FILE_BYTES: String(maxFileBytes),
      POWERTOOLS_SERVICE_NAME: 'validation',
      POWERTOOLS_METRICS_NAMESPACE: 'DevMLOps',
    };
    // NODE_OPTIONS is added by DevFunction and counts too.
    const envBytes = lambdaEnvironmentBytes({ NODE_OPTIONS: '--enable-source-maps', ...environment });
    if (envBytes > LAMBDA_ENVIRONMENT_LIMIT_BYTES)
      throw new Error(
        `DataValidation: the validation Lambda's environment would be ${envBytes} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte limit; ` +
          `DATASET_SCHEMAS alone is ${Buffer.byteLength(environment.DATASET_SCHEMAS, 'utf8')} bytes. Shorten the dataset schemas (descriptions, enums) in devmlops.dataset.`,
      );

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout,
      // The maximum: if the function is disabled or throttled for days, objects still get validated afterwards.
      retentionPeriod: Duration.days(14),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });

    this.function = new DevFunction(this, 'Handler', {
      entry: props.entry ?? 'lambdas/handlers/validate.ts',
      description: 'Validates each object created in the raw bucket against its dataset schema',
      memorySize,
      timeout,
      logRetention: props.logRetention,
      environment,
      // Only the SQS event source invokes it, synchronously: failures go to the queue's DLQ.
      deadLetterQueue: false,
    });
    this.handler = this.function.function;
    this.handler.addEventSource(
      new SqsEventSource(this.queue, { batchSize: 1, reportBatchItemFailures: true }),
    );

    this.rule = new events.Rule(this, 'ObjectCreated', {
      description: 'Object Created in the raw bucket: queue it for validation',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [dataLake.raw.bucketName] } },
      },
    });
    this.rule.addTarget(
      new targets.SqsQueue(this.queue, {
        deadLetterQueue: this.deadLetterQueue,
        // EventBridge's maxima: a queue that is briefly unavailable must not lose an object's only event.
        retryAttempts: 185,
        maxEventAge: Duration.hours(24),
      }),
    );

    this.grantHandlerAccess(dataLake);
    Tags.of(this.function.role).add(RAW_READ_ONLY_TAG.key, RAW_READ_ONLY_TAG.value);
    this.acknowledgeFindings(dataLake);
  }

  /** Exactly what lambdas/handlers/validate-object.ts does, and nothing more. */
  private grantHandlerAccess(dataLake: DataLakeResources): void {
    const role = this.function.role;
    const add = (statement: iam.PolicyStatementProps) =>
      role.addToPrincipalPolicy(new iam.PolicyStatement(statement));
    // GetObject also covers HeadObject and being the source of CopyObject (a quarantined file is copied whole);
    // GetObjectVersion is needed as soon as the request names the version, as it does on a versioned bucket.
    add({
      sid: 'ReadRawObjects',
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resources: [dataLake.raw.arnForObjects('*')],
    });
    // Outputs are streamed as multipart uploads (Create/UploadPart/Complete are s3:PutObject); an upload that fails
    // midway is aborted.
    add({
      sid: 'WriteCuratedAndQuarantine',
      actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
      resources: [dataLake.curated.arnForObjects('*'), dataLake.quarantine.arnForObjects('*')],
    });
    // The report is the commit marker of an object: read to skip an object already done, written last.
    add({
      sid: 'ReadWriteValidationReports',
      actions: ['s3:PutObject', 's3:GetObject'],
      resources: [dataLake.artifacts.arnForObjects(`${VALIDATION_REPORTS_PREFIX}*`)],
    });
    // Without s3:ListBucket, HeadObject on a report that does not exist yet answers 403 instead of 404.
    add({
      sid: 'ListValidationReports',
      actions: ['s3:ListBucket'],
      resources: [dataLake.artifacts.bucketArn],
      conditions: { StringLike: { 's3:prefix': `${VALIDATION_REPORTS_PREFIX}*` } },
    });
    // Reading SSE-KMS objects needs Decrypt; writing them (and each multipart part) needs GenerateDataKey.
    add({
      sid: 'UseDataKey',
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: [dataLake.key.keyArn],
    });
  }

  private acknowledgeFindings(dataLake: DataLakeResources): void {
    const policy = this.function.role.node.findChild('DefaultPolicy');
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support resource-level permissions (CDK adds them for Tracing.ACTIVE).',
    });
    const wildcardGrants: WildcardGrant[] = [
      [
        dataLake.raw.arnForObjects('*'),
        'The function reads whichever raw object its event names; keys are chosen by the data owners, so the object ARN needs a key wildcard. Read only: raw is never written.',
      ],
      [
        dataLake.curated.arnForObjects('*'),
        'Curated output keys are derived from each source object (<dataset>/ingest_date=<date>/<id>.csv), so the object ARN needs a key wildcard; the bucket holds only these outputs.',
      ],
      [
        dataLake.quarantine.arnForObjects('*'),
        'Quarantine output keys are derived from each source object (<dataset>/ingest_date=<date>/<id>.csv), so the object ARN needs a key wildcard; the bucket holds only these outputs.',
      ],
      [
        dataLake.artifacts.arnForObjects(`${VALIDATION_REPORTS_PREFIX}*`),
        'Limited to the reports/validation/ prefix of the artifacts bucket: one report per validated object, keyed by dataset and a derived id.',
      ],
    ];
    acknowledgeWildcards(policy, wildcardGrants);
    Validations.of(this.handler).acknowledge({ id: 'AwsSolutions-L1', reason: PINNED_RUNTIME_REASON });
  }
}
