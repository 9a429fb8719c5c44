import {
  BadEventError,
  decodeEventKey,
  ingestDate,
  outputId,
  parseObjectCreated,
  readValidationEnv,
} from '../../lambdas/handlers/validate-object';
import { encodeEventKey } from '../../lib/local/s3';
import { schema } from '../helpers/csv';

const baseEnv = {
  RAW_BUCKET: 'raw',
  CURATED_BUCKET: 'curated',
  QUARANTINE_BUCKET: 'quarantine',
  ARTIFACTS_BUCKET: 'artifacts',
  DATASET_SCHEMAS: JSON.stringify([schema]),
};

describe('readValidationEnv', () => {
  test('reads buckets, schemas by dataset name, and the policy numbers', () => {
    const env = readValidationEnv({ ...baseEnv, MAX_INVALID_ROW_FRACTION: '0.1', MAX_LINE_BYTES: '2048' });
    expect(env.rawBucket).toBe('raw');
    expect([...env.datasets.keys()]).toEqual(['churn']);
    expect(env.datasets.get('churn')?.target).toBe('churned');
    expect(env.options).toEqual({ maxInvalidRowFraction: 0.1, maxLineBytes: 2048 });
  });

  test('defaults the policy numbers to the config defaults', () => {
    expect(readValidationEnv(baseEnv).options).toEqual({
      maxInvalidRowFraction: 0.05,
      maxLineBytes: 1048576,
    });
  });

  test.each([
    [{ RAW_BUCKET: undefined }, /RAW_BUCKET is required/],
    [{ CURATED_BUCKET: 'raw' }, /CURATED_BUCKET must differ from RAW_BUCKET/],
    [{ ARTIFACTS_BUCKET: 'raw' }, /ARTIFACTS_BUCKET must differ/],
    [{ MAX_INVALID_ROW_FRACTION: '1.5' }, /MAX_INVALID_ROW_FRACTION must be a number in \[0, 1\]/],
    [{ MAX_LINE_BYTES: 'lots' }, /MAX_LINE_BYTES must be a number/],
    [{ DATASET_SCHEMAS: '{' }, /DATASET_SCHEMAS is not valid JSON/],
    [{ DATASET_SCHEMAS: JSON.stringify(schema) }, /must be a JSON array/],
    [{ DATASET_SCHEMAS: JSON.stringify([schema, schema]) }, /"churn" appears twice/],
    [{ DATASET_SCHEMAS: JSON.stringify([{ ...schema, target: 'nope' }]) }, /DATASET_SCHEMAS\[0\]\.target/],
  ])('rejects %j', (override, message) => {
    expect(() => readValidationEnv({ ...baseEnv, ...override })).toThrow(message);
  });
});

describe('event keys', () => {
  test.each([
    ['churn/plain.csv', 'churn/plain.csv'],
    ['churn/red+flower.csv', 'churn/red flower.csv'],
    ['churn/a%2Bb.csv', 'churn/a+b.csv'],
    ['churn/10%3A47.csv', 'churn/10:47.csv'],
    ['churn/bad%zz.csv', 'churn/bad%zz.csv'],
  ])('decodes %s as %s', (encoded, key) => {
    expect(decodeEventKey(encoded)).toBe(key);
  });

  test('the local adapter encodes as S3 does, and the handler decodes it back', () => {
    for (const key of ['churn/a b+c=d&e.csv', 'churn/dir with space/ü.csv.gz', 'churn/100%.csv']) {
      const encoded = encodeEventKey(key);
      expect(encoded).not.toContain(' ');
      expect(encoded.split('/')).toHaveLength(key.split('/').length);
      expect(decodeEventKey(encoded)).toBe(key);
    }
    expect(encodeEventKey('churn/a b+c.csv')).toBe('churn/a+b%2Bc.csv');
  });
});

describe('parseObjectCreated', () => {
  const event = {
    version: '0',
    'detail-type': 'Object Created',
    source: 'aws.s3',
    detail: {
      bucket: { name: 'raw' },
      object: { key: 'churn/my+file.csv', size: 5, etag: 'abc', 'version-id': 'v1' },
      reason: 'PutObject',
    },
  };

  test('extracts the object, decoding the key', () => {
    expect(parseObjectCreated(JSON.stringify(event))).toEqual({
      bucket: 'raw',
      key: 'churn/my file.csv',
      size: 5,
      etag: 'abc',
      versionId: 'v1',
      reason: 'PutObject',
    });
  });

  test.each([
    ['not json', 'not JSON'],
    [JSON.stringify({ ...event, source: 'aws.ec2' }), 'not an S3 "Object Created" event'],
    [JSON.stringify({ ...event, 'detail-type': 'Object Deleted' }), 'not an S3 "Object Created" event'],
    [
      JSON.stringify({ ...event, detail: { bucket: { name: 'raw' } } }),
      'no detail.bucket.name or detail.object.key',
    ],
  ])('rejects a malformed body (%s)', (body, message) => {
    expect(() => parseObjectCreated(body)).toThrow(BadEventError);
    expect(() => parseObjectCreated(body)).toThrow(message);
  });
});

describe('outputId and ingestDate', () => {
  test('id: readable basename plus a hash of key and version; stable; distinct per version and key', () => {
    const id = outputId('churn/2026/01/Customers Jan.csv.gz', 'v1');
    expect(id).toMatch(/^Customers_Jan-[0-9a-f]{12}$/);
    expect(outputId('churn/2026/01/Customers Jan.csv.gz', 'v1')).toBe(id);
    expect(outputId('churn/2026/01/Customers Jan.csv.gz', 'v2')).not.toBe(id);
    expect(outputId('churn/2026/02/Customers Jan.csv.gz', 'v1')).not.toBe(id);
    expect(outputId('churn/.csv', 'e')).toMatch(/^object-[0-9a-f]{12}$/);
  });

  test('ingest date is the UTC date of LastModified', () => {
    expect(ingestDate(new Date('2026-03-01T23:30:00-02:00'))).toBe('2026-03-02');
    expect(ingestDate(new Date('2026-03-01T00:00:00Z'))).toBe('2026-03-01');
  });
});
