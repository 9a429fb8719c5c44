import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { InvokeEndpointCommand, type SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { FeatureSpec } from '../../lambdas/core/encoding';
import {
  decodePredictions as decodeCore,
  encodeRecords,
  predictionScore,
  type InputRecord,
} from '../../lambdas/core/inference';
import { parsePointer, parseS3Uri, POINTER_KEY, type CurrentPointer } from '../../lambdas/core/pointer';

/**
 * Calling the deployed model with records, as an application would without the inference API (issue 6): read
 * what is deployed (baselines/current.json and its feature-spec.json), encode records client-side with the
 * same core Prepare used, send CSV to InvokeEndpoint and decode the scores. Encoding and decoding are the
 * inference core's (lambdas/core/inference.ts), the same the inference API and lib/client use.
 */

export { encodeRecords, type InputRecord };
export type RecordValue = string | number | boolean | null | undefined;

export interface Deployed {
  readonly pointer: CurrentPointer;
  readonly spec: FeatureSpec;
}

async function readJson(s3: S3Client, bucket: string, key: string): Promise<unknown> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await r.Body!.transformToString('utf8'));
}

/** What is deployed now, or undefined before the first deploy. */
export async function readDeployed(s3: S3Client, artifactsBucket: string): Promise<Deployed | undefined> {
  let pointer: CurrentPointer;
  try {
    pointer = parsePointer(await readJson(s3, artifactsBucket, POINTER_KEY));
  } catch (e) {
    if ((e as Error).name === 'NoSuchKey') return undefined;
    throw e;
  }
  const { bucket, key } = parseS3Uri(pointer.featureSpecUri);
  return { pointer, spec: (await readJson(s3, bucket, key)) as FeatureSpec };
}

export interface Prediction {
  /** Binary: the probability of the positive class; regression: the value; multiclass: the top class's probability. */
  readonly score: number;
  /** Classification: the predicted class name (binary at `threshold`). */
  readonly label?: string;
  /** Multiclass: probability by class. */
  readonly probabilities?: Readonly<Record<string, number>>;
}

/** Decodes the endpoint's text/csv response (one line per input row). */
export function decodePredictions(spec: FeatureSpec, body: string, threshold = 0.5): Prediction[] {
  return decodeCore(spec, body, threshold).map((p): Prediction => {
    if ('value' in p) return { score: p.value };
    if ('probability' in p) return { score: p.probability, label: p.label };
    return { score: predictionScore(p), label: p.label, probabilities: p.probabilities };
  });
}

/** Encodes, invokes and decodes one batch. */
export async function predict(
  runtime: SageMakerRuntimeClient,
  endpointName: string,
  spec: FeatureSpec,
  records: readonly InputRecord[],
): Promise<{ predictions: Prediction[]; variant?: string }> {
  const r = await runtime.send(
    new InvokeEndpointCommand({
      EndpointName: endpointName,
      ContentType: 'text/csv',
      Accept: 'text/csv',
      Body: Buffer.from(encodeRecords(spec, records)),
    }),
  );
  const body = Buffer.from(r.Body ?? new Uint8Array()).toString('utf8');
  return { predictions: decodePredictions(spec, body), variant: r.InvokedProductionVariant };
}

/** Records from CSV lines with a header (the sample generator's format; no quoted cells). */
export function recordsFromCsv(lines: readonly string[]): Record<string, string>[] {
  const header = lines[0].trimEnd().split(',');
  return lines.slice(1).map((line) => {
    const cells = line.trimEnd().split(',');
    return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
  });
}
