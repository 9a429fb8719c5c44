import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { datasetSchemaZ, parseWith } from '../../lambdas/core/schema';

/** The context key that holds the whole config object (cdk.json `context.devmlops`). */
export const CONFIG_CONTEXT_KEY = 'devmlops';
/** `-c devmlops:configFile=path.json` replaces the whole config object with the file's content. */
export const CONFIG_FILE_CONTEXT_KEY = 'devmlops:configFile';
/** `-c devmlops:destroy=true` opts a dev account in to DESTROY (with autoDeleteObjects) for the stateful stack. */
export const DESTROY_CONTEXT_KEY = 'devmlops:destroy';

const positiveInt = z.number().int().positive();

export const configZ = z
  .object({
    /** Prefix of deterministic names (endpoint, alarms) and the `Project` metric dimension. */
    project: z
      .string()
      .regex(/^[a-z][a-z0-9-]{1,30}$/, 'must be 2-31 lower-case letters, digits or -, starting with a letter')
      .default('devmlops'),
    /** The dataset schema (DESIGN.md section 4). */
    dataset: datasetSchemaZ,
    dataLake: z
      .object({
        /** RETAIN keeps data when the stack is deleted; DESTROY (dev accounts) empties and deletes the buckets. */
        removalPolicy: z.enum(['retain', 'destroy']).default('retain'),
        /** Days after which raw objects move to S3 Standard-IA. */
        rawInfrequentAccessDays: z.number().int().min(30).default(30),
        /** Days after which noncurrent object versions expire. */
        noncurrentVersionExpirationDays: positiveInt.default(90),
        /** Days after which server access logs expire. */
        accessLogExpirationDays: positiveInt.default(365),
      })
      .strict()
      .prefault({}),
    validation: z
      .object({
        /** Above this fraction of invalid rows the whole file is quarantined. */
        maxInvalidRowFraction: z.number().min(0).max(1).default(0.05),
        /** A record longer than this many bytes is rejected with `line-too-long`. */
        maxLineBytes: z
          .number()
          .int()
          .min(1024)
          .max(64 * 1024 * 1024)
          .default(1024 * 1024),
        /** Memory of the validation Lambda, MB. */
        memorySize: z.number().int().min(256).max(10240).default(1024),
        /** Timeout of the validation Lambda, seconds. */
        timeoutSeconds: z.number().int().min(30).max(900).default(900),
        /** Deliveries of one event before it goes to the dead-letter queue. */
        maxReceiveCount: z.number().int().min(1).max(20).default(3),
        /**
         * Larger objects are quarantined whole with code `too-large`, unread: they could not be validated within the
         * timeout. Default: derived from timeoutSeconds and memorySize (lambdas/core/report.ts defaultMaxFileBytes),
         * 5,209,723,007 bytes for 900 s and 1024 MB.
         */
        maxFileBytes: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
      })
      .strict()
      .prefault({}),
    training: z
      .object({
        /** Fewer curated rows than this fails Prepare with a clear error. */
        minTrainingRows: z.number().int().min(10).default(1000),
        /** Fraction of rows (by a stable hash of each row) that goes to the validation channel. */
        validationFraction: z.number().gt(0).lt(1).default(0.2),
        instanceType: z
          .string()
          .regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, 'must be a SageMaker instance type like ml.m5.large')
          .default('ml.m5.large'),
        instanceCount: z.number().int().min(1).max(20).default(1),
        volumeSizeGb: z.number().int().min(1).max(1024).default(10),
        maxRuntimeSeconds: z
          .number()
          .int()
          .min(60)
          .max(28 * 24 * 3600)
          .default(3600),
        /** Managed spot training; MaxWaitTime is then maxWaitSeconds (at least maxRuntimeSeconds). */
        useSpot: z.boolean().default(false),
        maxWaitSeconds: z
          .number()
          .int()
          .min(60)
          .max(28 * 24 * 3600)
          .optional(),
        /** XGBoost hyperparameters (SageMaker's names); objective, num_class and eval_metric come from the problem type. */
        hyperparameters: z
          .record(z.string().regex(/^[a-z_]+$/), z.union([z.string(), z.number()]))
          .default({ num_round: 100, max_depth: 5, eta: 0.2, subsample: 0.8, min_child_weight: 1 }),
        /** The metric gate: `name` as in FinalMetricDataList; the challenger must meet `minimum` and be no worse than the champion by more than `tolerance`. */
        metric: z
          .object({
            name: z
              .string()
              .regex(/^(train|validation):[a-z0-9@_-]+$/, 'must look like validation:auc')
              .optional(),
            minimum: z.number().optional(),
            tolerance: z.number().min(0).default(0.01),
          })
          .strict()
          .prefault({}),
        /** auto registers the model Approved; manual waits for a person to approve it. */
        approval: z.enum(['auto', 'manual']).default('auto'),
        approvalTimeoutMinutes: z
          .number()
          .int()
          .min(1)
          .max(7 * 24 * 60)
          .default(24 * 60),
        /** An EventBridge schedule expression (e.g. "rate(7 days)"); absent means no scheduled training. */
        schedule: z
          .string()
          .regex(/^(rate|cron)\(.+\)$/, 'must be an EventBridge schedule expression like rate(7 days)')
          .optional(),
        /** Start training after a file is accepted into curated. */
        trainOnNewData: z.boolean().default(false),
        /** A drift alarm within this many minutes after a deploy does not retrain. */
        driftCooldownMinutes: z.number().int().min(0).default(360),
      })
      .strict()
      .prefault({}),
    endpoint: z
      .object({
        type: z.enum(['realtime', 'serverless']).default('realtime'),
        instanceType: z
          .string()
          .regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/)
          .default('ml.m5.large'),
        instanceCount: z.number().int().min(1).max(10).default(1),
        serverlessMemoryMb: z
          .union([
            z.literal(1024),
            z.literal(2048),
            z.literal(3072),
            z.literal(4096),
            z.literal(5120),
            z.literal(6144),
          ])
          .default(2048),
        serverlessMaxConcurrency: z.number().int().min(1).max(200).default(5),
        /** Blue/green canary for updates: the share of capacity that gets traffic first, and for how long. */
        canarySizePercent: z.number().int().min(1).max(50).default(10),
        canaryWaitSeconds: z.number().int().min(0).max(3600).default(300),
        terminationWaitSeconds: z.number().int().min(0).max(3600).default(300),
        /** Polling DescribeEndpoint until InService. */
        pollIntervalSeconds: z.number().int().min(1).max(3600).default(60),
        maxPolls: z.number().int().min(1).max(1000).default(90),
        /** Data capture sampling for realtime endpoints. */
        captureSamplingPercent: z.number().int().min(1).max(100).default(100),
      })
      .strict()
      .prefault({}),
    inference: z
      .object({
        /** Records per POST /v1/predict request; a larger batch is rejected with 400 before anything is sent. */
        maxBatchSize: z.number().int().min(1).max(1000).default(100),
        /** Binary problems: the probability at or above which the label is the positive class. */
        threshold: z.number().min(0).max(1).default(0.5),
        /** API Gateway stage throttling: steady-state requests per second and burst. */
        throttlingRateLimit: z.number().min(1).max(10000).default(100),
        throttlingBurstLimit: z.number().int().min(1).max(5000).default(200),
        /** Memory of the inference Lambda, MB. */
        memorySize: z.number().int().min(128).max(10240).default(512),
        /** Timeout of the inference Lambda, seconds (API Gateway's own limit is 29 s). */
        timeoutSeconds: z.number().int().min(1).max(29).default(10),
        /** How often (seconds) the Lambda checks whether current.json changed, so a new model's feature spec is picked up. */
        specRefreshSeconds: z.number().int().min(0).max(3600).default(10),
        /** Serverless endpoints: Firehose buffering before a capture file is written (whichever comes first). */
        captureBufferSeconds: z.number().int().min(0).max(900).default(300),
        captureBufferMb: z.number().int().min(1).max(128).default(5),
        /**
         * Set API Gateway's CloudWatch Logs role for the account and region, which the stage's access and execution
         * logs need. There is one per account and region, shared by every REST API: false when the account already
         * has one (set by a landing zone or another stack).
         */
        apiGatewayCloudWatchRole: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    monitoring: z
      .object({
        /** When the drift check runs (an EventBridge schedule expression). */
        schedule: z
          .string()
          .regex(/^(rate|cron)\(.+\)$/, 'must be an EventBridge schedule expression like rate(1 hour)')
          .default('rate(1 hour)'),
        /** Hours of captured traffic each drift check looks at (whole hour partitions ending at the last full hour). */
        windowHours: z.number().int().min(1).max(168).default(1),
        /** Fewer captured rows than this is "insufficient data": no drift metric is sent. */
        minSamples: z.number().int().min(1).default(500),
        /** A feature drifts when its PSI is above this. */
        driftThreshold: z.number().gt(0).default(0.2),
        /** Per-feature PSI thresholds that override driftThreshold. */
        featureThresholds: z.record(z.string(), z.number().gt(0)).default({}),
        /** The drift alarm: MaxFeatureDrift above the threshold in datapointsToAlarm of evaluationPeriods periods. */
        evaluationPeriods: z.number().int().min(1).max(24).default(3),
        datapointsToAlarm: z.number().int().min(1).max(24).default(2),
        /** The validation quarantine-rate alarm: files quarantined / files received above this, per hour. */
        maxQuarantineRate: z.number().min(0).max(1).default(0.5),
      })
      .strict()
      .prefault({}),
    /** Email address subscribed to the SNS topic (failures, rejections, deploys); absent means no subscription. */
    notificationEmail: z.string().email().optional(),
    /** Retention of every Lambda's log group, days. */
    logRetentionDays: z
      .union([
        z.literal(1),
        z.literal(3),
        z.literal(5),
        z.literal(7),
        z.literal(14),
        z.literal(30),
        z.literal(60),
        z.literal(90),
        z.literal(120),
        z.literal(150),
        z.literal(180),
        z.literal(365),
        z.literal(400),
        z.literal(545),
        z.literal(731),
        z.literal(1827),
        z.literal(3653),
      ])
      .default(30),
  })
  .strict();

export type DevMlopsConfigInput = z.input<typeof configZ>;
export type DevMlopsConfig = z.infer<typeof configZ>;

/** Parses a raw config object. Throws a SchemaError whose message names each bad key, e.g. `devmlops.validation.maxInvalidRowFraction`. */
export function parseConfig(raw: unknown, source = CONFIG_CONTEXT_KEY): DevMlopsConfig {
  return parseWith(configZ, raw, `devmlops config (from ${source})`, CONFIG_CONTEXT_KEY);
}

/** Reads context values as the CDK node does: a CLI `-c` value arrives as a string. */
export interface ContextReader {
  tryGetContext(key: string): unknown;
}

/**
 * Loads the config from the `devmlops` context, or from the file named by `devmlops:configFile`,
 * and applies the `devmlops:destroy` flag.
 */
export function loadConfig(node: ContextReader, cwd = process.cwd()): DevMlopsConfig {
  const file = node.tryGetContext(CONFIG_FILE_CONTEXT_KEY);
  let raw: unknown;
  let source = `context key "${CONFIG_CONTEXT_KEY}"`;
  if (file !== undefined) {
    if (typeof file !== 'string' || file === '')
      throw new Error(`${CONFIG_FILE_CONTEXT_KEY} must be a file path`);
    const p = path.resolve(cwd, file);
    try {
      raw = JSON.parse(fs.readFileSync(p, 'utf8'));
    } catch (e) {
      throw new Error(`${CONFIG_FILE_CONTEXT_KEY}: cannot read JSON from ${p}: ${(e as Error).message}`);
    }
    source = p;
  } else {
    raw = node.tryGetContext(CONFIG_CONTEXT_KEY);
    if (raw === undefined)
      throw new Error(`No devmlops config: set context key "${CONFIG_CONTEXT_KEY}" in cdk.json`);
  }
  const config = parseConfig(raw, source);
  const destroy = node.tryGetContext(DESTROY_CONTEXT_KEY);
  if (destroy === true || destroy === 'true') config.dataLake.removalPolicy = 'destroy';
  return config;
}

/** The config in this project's cdk.json, for the CLI and tests (the CDK app reads it from context). */
export function readProjectConfig(root = path.resolve(__dirname, '..', '..')): DevMlopsConfig {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(root, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const ctx = cdkJson.context ?? {};
  return loadConfig({ tryGetContext: (k) => ctx[k] }, root);
}
