import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** The repository root: entries, package-lock.json and esbuild are resolved from here. */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

export interface DevFunctionProps {
  /** The TypeScript file of the handler, absolute or relative to the repository root. Required. */
  readonly entry: string;
  /**
   * The exported function name.
   * @default 'handler'
   */
  readonly handler?: string;
  /** @default - no description */
  readonly description?: string;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /**
   * Variables added to the function's environment (after NODE_OPTIONS).
   * @default - only NODE_OPTIONS
   */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default lambda.Runtime.NODEJS_22_X */
  readonly runtime?: lambda.Runtime;
  /**
   * Retention of the function's own log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Encrypts the log group (the key policy must allow the CloudWatch Logs service principal).
   * @default - CloudWatch Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
  /**
   * Logs are operational data, not the project's data: by default they go with the stack, so that `cdk destroy`
   * leaves nothing billable behind.
   * @default RemovalPolicy.DESTROY
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Dead-letter queue of asynchronous invocations. `false` for a function that is only ever invoked synchronously
   * (e.g. by an SQS event source, whose failures go to the source queue's own DLQ): an async DLQ would never
   * receive anything and would only widen the role.
   * @default - a new SQS queue (SSE-SQS, TLS only, 14 days retention)
   */
  readonly deadLetterQueue?: sqs.IQueue | false;
}

/**
 * The one place that holds this project's Lambda defaults: Node.js on ARM64, bundled locally by esbuild (no Docker)
 * with the AWS SDK inside the bundle (the version the tests ran against, not the runtime's), source maps, X-Ray
 * tracing, its own log group with a retention, and a role that may write to that log group and nothing else
 * until the caller grants more.
 */
export class DevFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  /** The handler's source file (absolute): the local runtime runs the handler from it, in-process. */
  readonly entry: string;
  /** The exported function name in `entry`. */
  readonly handlerName: string;
  /** The execution role. No managed policies: every permission is an explicit statement. */
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  /** Undefined when `deadLetterQueue: false`. */
  readonly deadLetterQueue?: sqs.IQueue;

  constructor(scope: Construct, id: string, props: DevFunctionProps) {
    super(scope, id);
    if (!props.entry) throw new Error('DevFunction: entry is required');
    const memorySize = props.memorySize ?? 256;
    if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240)
      throw new Error(`DevFunction: memorySize must be an integer in [128, 10240] MB, got ${memorySize}`);
    const timeout = props.timeout ?? Duration.seconds(30);
    const timeoutSeconds = timeout.toSeconds();
    if (timeoutSeconds < 1 || timeoutSeconds > 900)
      throw new Error(`DevFunction: timeout must be between 1 and 900 seconds, got ${timeoutSeconds}`);
    const reserved = Object.keys(props.environment ?? {}).filter(
      (k) => k.startsWith('AWS_') || k === 'NODE_OPTIONS',
    );
    if (reserved.length > 0) throw new Error(`DevFunction: environment must not set ${reserved.join(', ')}`);

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    // What AWSLambdaBasicExecutionRole would give, narrowed to this function's log group.
    this.logGroup.grantWrite(this.role);

    if (props.deadLetterQueue !== false) {
      this.deadLetterQueue =
        props.deadLetterQueue ??
        new sqs.Queue(this, 'DeadLetterQueue', {
          encryption: sqs.QueueEncryption.SQS_MANAGED,
          enforceSSL: true,
          retentionPeriod: Duration.days(14),
        });
    }

    const runtime = props.runtime ?? lambda.Runtime.NODEJS_22_X;
    const nodeMajor = /^nodejs(\d+)\./.exec(runtime.name)?.[1];
    if (nodeMajor === undefined)
      throw new Error(`DevFunction: runtime must be a Node.js runtime, got ${runtime.name}`);

    this.entry = path.resolve(PROJECT_ROOT, props.entry);
    this.handlerName = props.handler ?? 'handler';
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: this.entry,
      handler: this.handlerName,
      description: props.description,
      runtime,
      architecture: lambda.Architecture.ARM_64,
      memorySize,
      timeout,
      tracing: lambda.Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      deadLetterQueue: this.deadLetterQueue,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      bundling: {
        sourceMap: true,
        minify: true,
        target: `node${nodeMajor}`,
        // Nothing external: the pinned SDK and Powertools go into the bundle.
        externalModules: [],
        forceDockerBundling: false,
      },
    });
  }
}
