import { RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';

/** What happens to stateful resources when their stack is deleted. */
export type RemovalMode = 'retain' | 'destroy';

/** The removal settings of one stateful resource for a removal mode. */
export interface RemovalSettings {
  readonly removalPolicy: RemovalPolicy;
  /** Only meaningful for buckets: empty them first, or CloudFormation cannot delete them. */
  readonly autoDeleteObjects: boolean;
}

/**
 * `retain` keeps the data (and the key that decrypts it) when the stack goes; `destroy` is for dev accounts,
 * where `cdk destroy` must leave nothing billable behind.
 */
export function removalSettings(mode: RemovalMode): RemovalSettings {
  if (mode !== 'retain' && mode !== 'destroy')
    throw new Error(`removal mode must be "retain" or "destroy", got ${JSON.stringify(mode)}`);
  return mode === 'destroy'
    ? { removalPolicy: RemovalPolicy.DESTROY, autoDeleteObjects: true }
    : { removalPolicy: RemovalPolicy.RETAIN, autoDeleteObjects: false };
}

/** Inputs of {@link secureBucketProps}. */
export interface SecureBucketOptions {
  /**
   * SSE-KMS with this key (and an S3 Bucket Key, which cuts KMS requests and their cost by orders of magnitude).
   * @default - SSE-S3 (S3-managed keys): only for buckets that a service writes without KMS support
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Where server access logs go, and under which prefix.
   * @default - no server access logs (only for the access-log bucket itself)
   */
  readonly accessLogs?: { readonly bucket: s3.IBucket; readonly prefix: string };
  /** @default 'retain' */
  readonly removal?: RemovalMode;
}

/**
 * The secure bucket settings of this project, defined once. Anything in `overrides` wins, so a bucket can opt
 * out of one default deliberately and visibly, e.g. `{ versioned: true }` or `{ lifecycleRules: [...] }`.
 */
export function secureBucketProps(
  options: SecureBucketOptions,
  overrides: s3.BucketProps = {},
): s3.BucketProps {
  const removal = removalSettings(options.removal ?? 'retain');
  const encryption: s3.BucketProps = options.encryptionKey
    ? { encryption: s3.BucketEncryption.KMS, encryptionKey: options.encryptionKey, bucketKeyEnabled: true }
    : { encryption: s3.BucketEncryption.S3_MANAGED };
  const logging: s3.BucketProps = options.accessLogs
    ? {
        serverAccessLogsBucket: options.accessLogs.bucket,
        serverAccessLogsPrefix: options.accessLogs.prefix,
      }
    : {};
  return {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    // ACLs off: access is decided by IAM and bucket policies only, and every object belongs to the bucket owner.
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    versioned: false,
    removalPolicy: removal.removalPolicy,
    autoDeleteObjects: removal.autoDeleteObjects,
    ...encryption,
    ...logging,
    ...overrides,
  };
}

/** Every rule set includes this: parts of abandoned multipart uploads are billed but invisible in listings. */
export const ABORT_INCOMPLETE_UPLOADS_DAYS = 7;
