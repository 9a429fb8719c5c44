import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DevMlopsConfig } from '../config';
import type { PlatformNames } from './platform-info';
import type { LocalTemplates, StackTemplate } from './template';

/**
 * What the local platform needs of the synthesized app, as plain JSON: the templates, the parsed config, and the
 * few things only the constructs know (which resource is which bucket, where each function's source is). It is
 * made where aws-cdk-lib is loaded (lib/local/synthesize.ts), by default in a child process, so that the serving
 * process never holds aws-cdk-lib: loaded, it is about 30 MB of the JavaScript heap, and a full collection of a
 * process that has it takes 36 to 40 ms against about 5 ms without it (measured with `gc()`). This module loads
 * neither aws-cdk-lib nor constructs.
 */

/** A resource by its stack and logical ID. */
export interface ResourceAddress {
  readonly stackName: string;
  readonly logicalId: string;
}

/** A DevFunction of the app: its resource, and the handler's TypeScript source and export. */
export interface FunctionSource extends ResourceAddress {
  readonly entry: string;
  readonly handlerName: string;
}

export interface AppDescription {
  readonly config: DevMlopsConfig;
  readonly templates: readonly StackTemplate[];
  /** Every DevFunction of the data lake, pipeline and monitoring stacks. */
  readonly functions: readonly FunctionSource[];
  readonly resources: {
    readonly rawBucket: ResourceAddress;
    readonly curatedBucket: ResourceAddress;
    readonly quarantineBucket: ResourceAddress;
    readonly artifactsBucket: ResourceAddress;
    readonly trainingStateMachine: ResourceAddress;
  };
  readonly endpointName: string;
}

/** What the synthesis child is given (the JSON it reads on stdin). */
export interface DescribeOptions {
  /** The devmlops config input (cdk.json's `devmlops` context shape). @default cdk.json's */
  readonly config?: unknown;
  /** Extra context (after cdk.json's). */
  readonly context?: Record<string, unknown>;
}

const SYNTHESIZE_MODULE = path.join(__dirname, 'synthesize.ts');

/**
 * Synthesizes the app in a child process (tsx running lib/local/synthesize.ts) and returns its description. A
 * config the app rejects, or any other failure, rejects with the child's own message.
 */
export function describeAppInChild(options: DescribeOptions = {}): Promise<AppDescription> {
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsx, SYNTHESIZE_MODULE], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) {
        const message = Buffer.concat(err).toString('utf8').trim();
        reject(new Error(`synthesizing the app failed (${signal ?? `exit code ${code}`}): ${message}`));
        return;
      }
      try {
        resolve(JSON.parse(Buffer.concat(out).toString('utf8')) as AppDescription);
      } catch (e) {
        reject(new Error(`the synthesis child wrote no description: ${(e as Error).message}`));
      }
    });
    child.stdin.end(JSON.stringify(options));
  });
}

/** The local names of the resources the CLI and the demo need. */
export function platformNames(app: AppDescription, local: LocalTemplates): PlatformNames {
  const resource = (a: ResourceAddress) => local.resource(a.stackName, a.logicalId);
  const { resources } = app;
  return {
    project: app.config.project,
    dataset: app.config.dataset.name,
    buckets: {
      raw: resource(resources.rawBucket).ref,
      curated: resource(resources.curatedBucket).ref,
      quarantine: resource(resources.quarantineBucket).ref,
      artifacts: resource(resources.artifactsBucket).ref,
    },
    trainingStateMachineArn: resource(resources.trainingStateMachine).attributes.Arn,
    endpointName: app.endpointName,
    region: local.pseudo.region,
    accountId: local.pseudo.accountId,
  };
}
