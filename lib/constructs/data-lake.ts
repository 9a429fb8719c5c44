import { CfnResource, Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  ABORT_INCOMPLETE_UPLOADS_DAYS,
  removalSettings,
  secureBucketProps,
  type RemovalMode,
} from './secure-defaults';

/**
 * A principal carrying this tag may read `raw` but never write, overwrite or delete anything in it: the raw bucket's
 * policy denies it. Tag every pipeline role with it. Data owners' roles do not carry it, so their uploads go on.
 */
export const RAW_READ_ONLY_TAG = { key: 'devmlops:raw-access', value: 'read-only' } as const;

/** What consumers of the data lake (the pipeline) need from it. */
export interface DataLakeResources {
  /** The key of every data bucket (all but the access-log bucket). */
  readonly key: kms.IKey;
  readonly raw: s3.IBucket;
  readonly curated: s3.IBucket;
  readonly quarantine: s3.IBucket;
  readonly artifacts: s3.IBucket;
}

export interface DataLakeProps {
  /**
   * `retain` keeps the buckets and the key when the stack is deleted. `destroy` (dev accounts only) deletes them
   * and empties the buckets first.
   * @default 'retain'
   */
  readonly removalPolicy?: RemovalMode;
  /**
   * Days after which raw objects move to S3 Standard-IA. S3 requires at least 30.
   * @default 30
   */
  readonly rawInfrequentAccessDays?: number;
  /**
   * Days after which noncurrent object versions expire, in the versioned buckets (raw and curated).
   * @default 90
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * Days after which server access logs expire.
   * @default 365
   */
  readonly accessLogExpirationDays?: number;
  /**
   * Curated also publishes its events to EventBridge (for training on new data).
   * @default false
   */
  readonly curatedEventBridge?: boolean;
}

const MAX_DAYS = 36500;

function checkDays(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min || value > MAX_DAYS)
    throw new Error(
      `DataLake: ${name} must be an integer number of days in [${min}, ${MAX_DAYS}], got ${value}`,
    );
}

/**
 * The S3 data lake (DESIGN.md section 3): one KMS key with rotation, and the buckets raw (landing, versioned,
 * immutable for pipeline roles), curated, quarantine, artifacts and access-logs. Every bucket blocks public access,
 * requires TLS 1.2+, and has lifecycle rules; all but access-logs use SSE-KMS with the key and log to access-logs.
 * Raw publishes its events to EventBridge.
 *
 * The key and the buckets keep fixed logical IDs (DataKey, RawBucket, ...), so refactoring the construct tree never
 * replaces them. Hence one DataLake per stack.
 */
export class DataLake extends Construct implements DataLakeResources {
  /** The logical IDs of the stateful resources: changing one replaces the resource and loses its data. */
  static readonly LOGICAL_IDS = {
    key: 'DataKey',
    raw: 'RawBucket',
    curated: 'CuratedBucket',
    quarantine: 'QuarantineBucket',
    artifacts: 'ArtifactsBucket',
    accessLogs: 'AccessLogsBucket',
  } as const;

  readonly key: kms.Key;
  readonly raw: s3.Bucket;
  readonly curated: s3.Bucket;
  readonly quarantine: s3.Bucket;
  readonly artifacts: s3.Bucket;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: DataLakeProps = {}) {
    super(scope, id);
    const mode = props.removalPolicy ?? 'retain';
    const removal = removalSettings(mode);
    const iaDays = props.rawInfrequentAccessDays ?? 30;
    const noncurrentDays = props.noncurrentVersionExpirationDays ?? 90;
    const logDays = props.accessLogExpirationDays ?? 365;
    checkDays('rawInfrequentAccessDays', iaDays, 30);
    checkDays('noncurrentVersionExpirationDays', noncurrentDays, 1);
    checkDays('accessLogExpirationDays', logDays, 1);

    this.key = new kms.Key(this, 'Key', {
      description: 'Encrypts the devmlops data lake buckets (raw, curated, quarantine, artifacts)',
      enableKeyRotation: true,
      removalPolicy: removal.removalPolicy,
      // Only reached in destroy mode (a retained key is never scheduled for deletion): the shortest window.
      pendingWindow: Duration.days(7),
    });

    const abortUploads: s3.LifecycleRule = {
      id: 'abort-incomplete-multipart-uploads',
      abortIncompleteMultipartUploadAfter: Duration.days(ABORT_INCOMPLETE_UPLOADS_DAYS),
    };
    const expireNoncurrent: s3.LifecycleRule = {
      id: 'expire-noncurrent-versions',
      noncurrentVersionExpiration: Duration.days(noncurrentDays),
    };

    // SSE-S3, not SSE-KMS: S3 server access logging cannot deliver logs to a bucket whose default encryption is
    // SSE-KMS, so the log bucket is the one bucket without the data key. It has no access logs of its own: logging
    // it into itself would log each log delivery, without end.
    this.accessLogs = new s3.Bucket(
      this,
      'AccessLogs',
      secureBucketProps(
        { removal: mode },
        {
          lifecycleRules: [abortUploads, { id: 'expire-access-logs', expiration: Duration.days(logDays) }],
        },
      ),
    );
    const dataBucket = (id: string, prefix: string, overrides: s3.BucketProps) =>
      new s3.Bucket(
        this,
        id,
        secureBucketProps(
          {
            encryptionKey: this.key,
            accessLogs: { bucket: this.accessLogs, prefix: `${prefix}/` },
            removal: mode,
          },
          overrides,
        ),
      );

    this.raw = dataBucket('Raw', 'raw', {
      versioned: true,
      lifecycleRules: [
        abortUploads,
        expireNoncurrent,
        {
          id: 'raw-to-infrequent-access',
          transitions: [
            { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(iaDays) },
          ],
        },
      ],
    });
    this.curated = dataBucket('Curated', 'curated', {
      versioned: true,
      lifecycleRules: [abortUploads, expireNoncurrent],
    });
    this.quarantine = dataBucket('Quarantine', 'quarantine', { lifecycleRules: [abortUploads] });
    this.artifacts = dataBucket('Artifacts', 'artifacts', { lifecycleRules: [abortUploads] });

    // EventBridge delivery set directly on the bucket resource. The L2 `eventBridgeEnabled` goes through the
    // BucketNotificationsHandler custom resource, a Lambda with s3:PutBucketNotification on `*`.
    (this.raw.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };
    if (props.curatedEventBridge === true)
      (this.curated.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
        eventBridgeConfiguration: { eventBridgeEnabled: true },
      };

    // Raw is the record of what data owners sent: pipeline roles (tagged) may read it, never change it. A deny on a
    // principal tag, not on named roles, keeps this stack free of references to the pipeline stack, and cannot lock
    // out the data owners, whose roles do not carry the tag.
    this.raw.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyRawWritesByReadOnlyPrincipals',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: [
          's3:PutObject',
          's3:DeleteObject',
          's3:DeleteObjectVersion',
          's3:PutObjectTagging',
          's3:PutObjectVersionTagging',
          's3:DeleteObjectTagging',
          's3:DeleteObjectVersionTagging',
          's3:PutObjectRetention',
          's3:PutObjectLegalHold',
        ],
        resources: [this.raw.arnForObjects('*')],
        conditions: {
          StringEquals: { [`aws:PrincipalTag/${RAW_READ_ONLY_TAG.key}`]: RAW_READ_ONLY_TAG.value },
        },
      }),
    );

    const ids = DataLake.LOGICAL_IDS;
    (this.key.node.defaultChild as CfnResource).overrideLogicalId(ids.key);
    for (const [bucket, logicalId] of [
      [this.raw, ids.raw],
      [this.curated, ids.curated],
      [this.quarantine, ids.quarantine],
      [this.artifacts, ids.artifacts],
      [this.accessLogs, ids.accessLogs],
    ] as const) {
      (bucket.node.defaultChild as CfnResource).overrideLogicalId(logicalId);
    }
  }
}
