import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * What a running local platform publishes about itself, kept light (no CDK, no SDK) so that `train --local` and
 * `predict --local` can find the platform without loading it.
 */

/** Local names of the resources the CLI and the demo need. */
export interface PlatformNames {
  readonly project: string;
  readonly dataset: string;
  readonly buckets: {
    readonly raw: string;
    readonly curated: string;
    readonly quarantine: string;
    readonly artifacts: string;
  };
  readonly trainingStateMachineArn: string;
  readonly endpointName: string;
  readonly region: string;
  readonly accountId: string;
}

/** What `devmlops local up` writes so that `train --local` and `predict --local` find a running platform. */
export interface PlatformInfo {
  readonly pid: number;
  readonly startedAt: string;
  readonly s3Endpoint: string;
  readonly awsEndpoint: string;
  readonly runtimeEndpoint: string;
  /** The local dashboard page (the synthesized CloudWatch dashboard drawn from the local metrics). */
  readonly dashboardUrl?: string;
  /** The inference API's stage URL: POST `<apiUrl>v1/predict`, SigV4-signed (service execute-api) with `credentials`. */
  readonly apiUrl?: string;
  /** The credentials the platform accepts (the inference API checks SigV4 signatures made with them). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly names: PlatformNames;
}

export const PLATFORM_INFO_FILE = 'platform.json';

/** Reads the info file a running `devmlops local up` wrote. */
export function readPlatformInfo(directory: string): PlatformInfo | undefined {
  const file = path.join(directory, PLATFORM_INFO_FILE);
  if (!fs.existsSync(file)) return undefined;
  const info = JSON.parse(fs.readFileSync(file, 'utf8')) as PlatformInfo;
  try {
    // Signal 0 only checks that the process exists: a stale file from a killed platform is not trusted.
    process.kill(info.pid, 0);
  } catch {
    return undefined;
  }
  return info;
}
