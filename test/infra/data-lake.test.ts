import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { DataLake, RAW_READ_ONLY_TAG } from '../../lib/constructs/data-lake';
import { build, defaultConfigInput, permissions, props, resourcesOf, type Json } from './helpers';

const DATA_BUCKETS = {
  RawBucket: 'raw/',
  CuratedBucket: 'curated/',
  QuarantineBucket: 'quarantine/',
  ArtifactsBucket: 'artifacts/',
} as const;
const ALL_BUCKETS = [...Object.keys(DATA_BUCKETS), 'AccessLogsBucket'];

const abortUploads = {
  Id: 'abort-incomplete-multipart-uploads',
  Status: 'Enabled',
  AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
};
const expireNoncurrent = (days: number) => ({
  Id: 'expire-noncurrent-versions',
  Status: 'Enabled',
  NoncurrentVersionExpiration: { NoncurrentDays: days },
});

describe('DataLakeStack (default config)', () => {
  const built = build();
  const t = built.dataLakeTemplate;
  const buckets = resourcesOf(t, 'AWS::S3::Bucket');
  const policies = Object.values(resourcesOf(t, 'AWS::S3::BucketPolicy')).map(props);
  const policyOf = (bucketId: string) => {
    const found = policies.filter((p) => JSON.stringify(p.Bucket) === JSON.stringify({ Ref: bucketId }));
    expect(found).toHaveLength(1);
    return found[0].PolicyDocument as Json;
  };

  it('keeps the key and the five buckets under fixed logical IDs', () => {
    expect(Object.keys(resourcesOf(t, 'AWS::KMS::Key'))).toEqual(['DataKey']);
    expect(Object.keys(buckets).sort()).toEqual([...ALL_BUCKETS].sort());
    expect(DataLake.LOGICAL_IDS).toEqual({
      key: 'DataKey',
      raw: 'RawBucket',
      curated: 'CuratedBucket',
      quarantine: 'QuarantineBucket',
      artifacts: 'ArtifactsBucket',
      accessLogs: 'AccessLogsBucket',
    });
  });

  it('rotates the key and retains it', () => {
    t.hasResource('AWS::KMS::Key', {
      Properties: Match.objectLike({ EnableKeyRotation: true }),
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('retains every bucket and never empties one', () => {
    for (const id of ALL_BUCKETS) {
      expect(buckets[id].DeletionPolicy).toBe('Retain');
      expect(buckets[id].UpdateReplacePolicy).toBe('Retain');
    }
    t.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  it('blocks public access and disables ACLs on every bucket', () => {
    for (const id of ALL_BUCKETS) {
      expect(props(buckets[id]).PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(props(buckets[id]).OwnershipControls).toEqual({
        Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }],
      });
    }
  });

  it('encrypts the data buckets with the data key and an S3 Bucket Key', () => {
    for (const id of Object.keys(DATA_BUCKETS)) {
      expect(props(buckets[id]).BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: { 'Fn::GetAtt': ['DataKey', 'Arn'] },
            },
          },
        ],
      });
    }
  });

  it('encrypts the access-log bucket with S3-managed keys (log delivery cannot use SSE-KMS)', () => {
    expect(props(buckets.AccessLogsBucket).BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
  });

  it('sends server access logs of every data bucket to the access-log bucket, one prefix each', () => {
    for (const [id, prefix] of Object.entries(DATA_BUCKETS)) {
      expect(props(buckets[id]).LoggingConfiguration).toEqual({
        DestinationBucketName: { Ref: 'AccessLogsBucket' },
        LogFilePrefix: prefix,
      });
    }
    expect(props(buckets.AccessLogsBucket).LoggingConfiguration).toBeUndefined();
    // Log delivery is allowed by the bucket policy, per source bucket and prefix only.
    const grants = permissions(policyOf('AccessLogsBucket')).filter((p) =>
      p.startsWith('Allow s3:PutObject'),
    );
    expect(grants).toEqual(
      Object.entries(DATA_BUCKETS)
        .map(
          ([id, prefix]) =>
            `Allow s3:PutObject AccessLogsBucket.Arn/${prefix}* if ${JSON.stringify({
              ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [id, 'Arn'] } },
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            })}`,
        )
        .sort(),
    );
  });

  it('versions raw and curated only', () => {
    for (const id of ['RawBucket', 'CuratedBucket'])
      expect(props(buckets[id]).VersioningConfiguration).toEqual({ Status: 'Enabled' });
    for (const id of ['QuarantineBucket', 'ArtifactsBucket', 'AccessLogsBucket'])
      expect(props(buckets[id]).VersioningConfiguration).toBeUndefined();
  });

  it('has the lifecycle rules of each bucket', () => {
    const rules = (id: string) => (props(buckets[id]).LifecycleConfiguration as Json).Rules;
    expect(rules('RawBucket')).toEqual([
      abortUploads,
      expireNoncurrent(90),
      {
        Id: 'raw-to-infrequent-access',
        Status: 'Enabled',
        Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }],
      },
    ]);
    expect(rules('CuratedBucket')).toEqual([abortUploads, expireNoncurrent(90)]);
    expect(rules('QuarantineBucket')).toEqual([abortUploads]);
    expect(rules('ArtifactsBucket')).toEqual([abortUploads]);
    expect(rules('AccessLogsBucket')).toEqual([
      abortUploads,
      { Id: 'expire-access-logs', Status: 'Enabled', ExpirationInDays: 365 },
    ]);
  });

  it('denies non-TLS and pre-TLS-1.2 requests on every bucket', () => {
    for (const id of ALL_BUCKETS) {
      const both = [
        { 'Fn::GetAtt': [id, 'Arn'] },
        { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id, 'Arn'] }, '/*']] },
      ];
      const statements = (policyOf(id).Statement as Json[]).filter(
        (s) => s.Effect === 'Deny' && s.Action === 's3:*',
      );
      expect(statements).toEqual([
        {
          Action: 's3:*',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          Resource: both,
        },
        {
          Action: 's3:*',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          Resource: both,
        },
      ]);
    }
  });

  it('publishes raw events to EventBridge on the bucket itself, without the notifications custom resource', () => {
    expect(props(buckets.RawBucket).NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
    for (const id of ALL_BUCKETS.filter((b) => b !== 'RawBucket'))
      expect(props(buckets[id]).NotificationConfiguration).toBeUndefined();
    t.resourceCountIs('Custom::S3BucketNotifications', 0);
    t.resourceCountIs('AWS::Lambda::Function', 0);
  });

  it('makes raw read-only for principals tagged read-only, and only for them', () => {
    const denies = (policyOf('RawBucket').Statement as Json[]).filter(
      (s) => s.Sid === 'DenyRawWritesByReadOnlyPrincipals',
    );
    expect(denies).toEqual([
      {
        Sid: 'DenyRawWritesByReadOnlyPrincipals',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: [
          's3:DeleteObject',
          's3:DeleteObjectTagging',
          's3:DeleteObjectVersion',
          's3:DeleteObjectVersionTagging',
          's3:PutObject',
          's3:PutObjectLegalHold',
          's3:PutObjectRetention',
          's3:PutObjectTagging',
          's3:PutObjectVersionTagging',
        ],
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['RawBucket', 'Arn'] }, '/*']] },
        // The condition is what keeps data owners (untagged) able to upload.
        Condition: {
          StringEquals: { [`aws:PrincipalTag/${RAW_READ_ONLY_TAG.key}`]: RAW_READ_ONLY_TAG.value },
        },
      },
    ]);
    // Nothing else in any bucket policy denies without a condition.
    for (const p of policies)
      for (const s of (p.PolicyDocument as Json).Statement as Json[])
        if (s.Effect === 'Deny') expect(s.Condition).toBeDefined();
  });

  it('tags every resource that takes tags with Project', () => {
    for (const id of ALL_BUCKETS)
      expect(props(buckets[id]).Tags).toEqual(
        expect.arrayContaining([{ Key: 'Project', Value: 'devmlops' }]),
      );
    t.hasResourceProperties('AWS::KMS::Key', { Tags: [{ Key: 'Project', Value: 'devmlops' }] });
  });
});

describe('DataLakeStack removal and config', () => {
  const expectDestroyed = (t: Template) => {
    const buckets = resourcesOf(t, 'AWS::S3::Bucket');
    for (const id of ALL_BUCKETS) expect(buckets[id].DeletionPolicy).toBe('Delete');
    t.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ PendingWindowInDays: 7 }),
    });
    const autoDeleted = Object.values(resourcesOf(t, 'Custom::S3AutoDeleteObjects')).map(
      (r) => props(r).BucketName as Json,
    );
    expect(autoDeleted.map((b) => b.Ref).sort()).toEqual([...ALL_BUCKETS].sort());
  };

  it('destroys and empties everything with -c devmlops:destroy=true', () => {
    expectDestroyed(build({ context: { 'devmlops:destroy': 'true' } }).dataLakeTemplate);
  });

  it('destroys with dataLake.removalPolicy "destroy" in the config', () => {
    const config = defaultConfigInput();
    config.dataLake = { ...config.dataLake, removalPolicy: 'destroy' };
    expectDestroyed(build({ config }).dataLakeTemplate);
  });

  it('keeps logical IDs when destroy mode is on', () => {
    const t = build({ context: { 'devmlops:destroy': 'true' } }).dataLakeTemplate;
    expect(Object.keys(resourcesOf(t, 'AWS::S3::Bucket')).sort()).toEqual([...ALL_BUCKETS].sort());
    expect(Object.keys(resourcesOf(t, 'AWS::KMS::Key'))).toEqual(['DataKey']);
  });

  it('takes lifecycle days from the config', () => {
    const config = defaultConfigInput();
    config.dataLake = {
      rawInfrequentAccessDays: 45,
      noncurrentVersionExpirationDays: 10,
      accessLogExpirationDays: 20,
    };
    const buckets = resourcesOf(build({ config }).dataLakeTemplate, 'AWS::S3::Bucket');
    const rules = (id: string) => (props(buckets[id]).LifecycleConfiguration as Json).Rules as Json[];
    expect(rules('RawBucket')).toContainEqual({
      Id: 'raw-to-infrequent-access',
      Status: 'Enabled',
      Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 45 }],
    });
    expect(rules('RawBucket')).toContainEqual(expireNoncurrent(10));
    expect(rules('CuratedBucket')).toContainEqual(expireNoncurrent(10));
    expect(rules('AccessLogsBucket')).toContainEqual({
      Id: 'expire-access-logs',
      Status: 'Enabled',
      ExpirationInDays: 20,
    });
  });

  it.each([
    [{ rawInfrequentAccessDays: 29 }, 'rawInfrequentAccessDays'],
    [{ noncurrentVersionExpirationDays: 0 }, 'noncurrentVersionExpirationDays'],
    [{ accessLogExpirationDays: 1.5 }, 'accessLogExpirationDays'],
    [{ removalPolicy: 'keep' as 'retain' }, 'removal mode'],
  ])('rejects DataLake props %j naming %s', (bad, name) => {
    const stack = new Stack(new App(), 'S');
    expect(() => new DataLake(stack, 'Lake', bad)).toThrow(name);
  });
});
