import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { isRetryable } from '../../lambdas/shared/retry';
import { FAULT_KINDS, totalFaults, type FaultProxy, type FaultRates } from '../helpers/fault-proxy';
import { getBytes } from '../helpers/local-s3';

/** Shared by the reliability tests: byte-exact snapshots of buckets, and the figures file for the README. */

/** `bucket/key` -> sha256 of the object's bytes, for every object under the buckets. */
export async function contentSnapshot(
  s3: S3Client,
  buckets: readonly string[],
  prefix?: string,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const bucket of buckets) {
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? [])
        out.set(
          `${bucket}/${o.Key}`,
          createHash('sha256')
            .update(await getBytes(s3, bucket, o.Key!))
            .digest('hex'),
        );
      token = page.NextContinuationToken;
    } while (token);
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Deletes every object under the buckets (and prefix). */
export async function clearBuckets(s3: S3Client, buckets: readonly string[], prefix?: string): Promise<void> {
  for (const bucket of buckets) {
    for (;;) {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length === 0) break;
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    }
  }
}

/**
 * What a failed run may leave: objects that are byte-identical to the fault-free run's at the same key (a whole
 * output whose commit marker was not written yet), never a partial, different or extra object. Returns the
 * keys that differ or should not exist (empty when the invariant holds).
 */
export function foreignObjects(now: Map<string, string>, reference: Map<string, string>): string[] {
  return [...now].filter(([k, h]) => reference.get(k) !== h).map(([k]) => k);
}

/** Keys of the reference that are missing or different now: objects lost. */
export function lostObjects(now: Map<string, string>, reference: Map<string, string>): string[] {
  return [...reference].filter(([k, h]) => now.get(k) !== h).map(([k]) => k);
}

const FIGURES_DIR = path.resolve(__dirname, '..', '..', 'test-artifacts', 'reliability');

/** Writes the figures of one test file to test-artifacts/reliability/<name>.json and prints them in one line. */
export function writeFigures(name: string, figures: Record<string, unknown>): void {
  fs.mkdirSync(FIGURES_DIR, { recursive: true });
  fs.writeFileSync(path.join(FIGURES_DIR, `${name}.json`), `${JSON.stringify(figures, null, 2)}\n`);
  process.stdout.write(`reliability figures (${name}): ${JSON.stringify(figures)}\n`);
}

/** One handler invocation under test: what it writes (bucket and prefix), its commit marker, and how to call it. */
export interface FaultTarget {
  readonly name: string;
  readonly bucket: string;
  readonly prefix: string;
  /** `bucket/key` of the object whose presence says the rest is complete. */
  readonly marker: string;
  invoke(): Promise<unknown>;
}

export interface Reference {
  readonly objects: Map<string, string>;
  readonly result: unknown;
}

export interface InvocationFigures {
  handler: string;
  seed: number;
  rates: FaultRates;
  invocations: number;
  failedInvocations: number;
  requests: number;
  faults: Record<string, number>;
  faultsInjected: number;
  resumedReads: number;
  objectsCompared: number;
  objectsLost: number;
  uploadsWithLostCreateResponse: number;
}

/**
 * Invokes the target under the proxy's faults until it succeeds, as the Lambda, SQS or Step Functions retries
 * would. After every failure: the error is transient, and only whole objects identical to the reference are
 * there (and all of them once the marker is). At the end: the result and every object equal the reference, and
 * no multipart upload whose id the client knew is left open.
 */
export async function invokeUntilSuccess(options: {
  s3: S3Client;
  proxy: FaultProxy;
  target: FaultTarget;
  reference: Reference;
  seed: number;
  rates: FaultRates;
  /** Redeliver with the faults off after the first failure. */
  retryWithoutFaults: boolean;
  /** @default 12 */
  maxInvocations?: number;
}): Promise<InvocationFigures> {
  const { s3, proxy, target, reference } = options;
  await clearBuckets(s3, [target.bucket], target.prefix);
  proxy.resetStats();
  proxy.configure({ seed: options.seed, rates: options.rates, enabled: true });
  const before = new Set(proxy.uploads.keys());
  let invocations = 0;
  let failed = 0;
  let result: unknown;
  for (;;) {
    invocations++;
    try {
      result = await target.invoke();
      break;
    } catch (err) {
      failed++;
      expect(isRetryable(err)).toBe(true);
      expect(invocations).toBeLessThan(options.maxInvocations ?? 12);
      proxy.configure({ enabled: false });
      const now = await contentSnapshot(s3, [target.bucket], target.prefix);
      proxy.configure({ enabled: !options.retryWithoutFaults });
      expect(foreignObjects(now, reference.objects)).toEqual([]);
      if (now.has(target.marker)) expect(lostObjects(now, reference.objects)).toEqual([]);
    }
  }
  proxy.configure({ enabled: false });
  expect(result).toEqual(reference.result);
  const final = await contentSnapshot(s3, [target.bucket], target.prefix);
  expect(final).toEqual(reference.objects);
  const mine = [...proxy.uploads.values()].filter((u) => !before.has(u.uploadId));
  expect(mine.filter((u) => u.state === 'open' && u.createDelivered)).toEqual([]);
  return {
    handler: target.name,
    seed: options.seed,
    rates: options.rates,
    invocations,
    failedInvocations: failed,
    requests: proxy.stats.requests,
    faults: { ...proxy.stats.faults },
    faultsInjected: totalFaults(proxy.stats),
    resumedReads: proxy.stats.rangedGets,
    objectsCompared: final.size,
    objectsLost: lostObjects(final, reference.objects).length,
    uploadsWithLostCreateResponse: mine.filter((u) => u.state === 'open').length,
  };
}

/** Each fault kind at rate p, plus a delay on one request in ten. */
export const eachFault = (p: number): FaultRates => ({
  ...Object.fromEntries(FAULT_KINDS.map((k) => [k, p])),
  latency: 0.1,
});

/** Three quarters of the requests fail (500s and resets, no throttling): more than the SDK's five attempts absorb. */
export const OUTAGE: FaultRates = { internalError: 0.25, resetRequest: 0.25, resetResponse: 0.25 };

/** The figures of several runs of one handler, summed. */
export function summarise(runs: readonly InvocationFigures[]): Record<string, number> {
  const sum = (k: keyof InvocationFigures): number => runs.reduce((n, f) => n + (f[k] as number), 0);
  return {
    runs: runs.length,
    invocations: sum('invocations'),
    failedInvocations: sum('failedInvocations'),
    requests: sum('requests'),
    faultsInjected: sum('faultsInjected'),
    resumedReads: sum('resumedReads'),
    objectsCompared: sum('objectsCompared'),
    objectsLost: sum('objectsLost'),
    uploadsWithLostCreateResponse: sum('uploadsWithLostCreateResponse'),
  };
}
