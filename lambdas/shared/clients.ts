import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

/**
 * How the handlers' S3 requests survive S3's transient failures. The SDK's standard mode retries throttling
 * (503 SlowDown, with a longer base delay), 500/502/503/504, timeouts and reset connections, with full-jitter
 * exponential backoff and a per-client retry quota. Five attempts, rather than the default three, keep a
 * throttled burst (S3 answers SlowDown while it scales a prefix) from failing a whole file, at a worst-case
 * wait of some 15 s per request. The socket timeout turns a stalled connection, including a GetObject body
 * that stops arriving, into a retryable TimeoutError instead of a hang until the Lambda timeout; S3 keeps
 * slow responses (CompleteMultipartUpload, copies) alive with whitespace, so 60 s idle is never normal.
 * A body that breaks after the response headers is not the SDK's to retry: see object-reader.ts.
 */
export const S3_RETRY = {
  retryMode: 'standard',
  maxAttempts: 5,
  requestHandler: { connectionTimeout: 5_000, socketTimeout: 60_000 },
} as const satisfies Partial<S3ClientConfig>;

/**
 * The S3 client settings for this process. Region and credentials come from the Lambda environment.
 * With `AWS_ENDPOINT_URL_S3` set (the local runtime and tests, against s3rver), path-style addressing
 * is needed, and checksums only when required: with the SDK's default, streamed PutObject bodies are
 * sent with aws-chunked framing, which s3rver stores verbatim inside the object.
 */
export function s3ClientConfig(env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const config: S3ClientConfig = {
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...S3_RETRY,
  };
  const endpoint = env.AWS_ENDPOINT_URL_S3;
  if (endpoint) {
    config.endpoint = endpoint;
    config.forcePathStyle = true;
    config.requestChecksumCalculation = 'WHEN_REQUIRED';
    config.responseChecksumValidation = 'WHEN_REQUIRED';
  }
  return config;
}

export function createS3Client(env: NodeJS.ProcessEnv = process.env): S3Client {
  return new S3Client(s3ClientConfig(env));
}

let shared: S3Client | undefined;

/** The process-wide client, created on first use so that tests can set the endpoint first. */
export function s3Client(): S3Client {
  shared ??= createS3Client();
  return shared;
}
