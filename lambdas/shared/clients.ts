import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

/**
 * The S3 client settings for this process. Region and credentials come from the Lambda environment.
 * With `AWS_ENDPOINT_URL_S3` set (the local runtime and tests, against s3rver), path-style addressing
 * is needed, and checksums only when required: with the SDK's default, streamed PutObject bodies are
 * sent with aws-chunked framing, which s3rver stores verbatim inside the object.
 */
export function s3ClientConfig(env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const config: S3ClientConfig = {
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    retryMode: 'standard',
    maxAttempts: 3,
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
