import { listKeys } from '../../lambdas/shared/s3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { StoredValidationReport } from '../../lambdas/handlers/validate-object';
import { createS3Client } from '../../lambdas/shared/clients';
import { readProjectConfig } from '../config';
import { sampleChunks } from '../local/sample-data';
import { startLocalS3, toSqsEvent, type ObjectCreatedEvent } from '../local/s3';
import { parseCommand } from './args';
import { CliError, EXIT_OK } from './errors';
import type { Progress } from './progress';

/** The stages of the loop and whether the demo runs them yet; it says plainly what it cannot show. */
export const STAGES: readonly { name: string; built: boolean; issue?: number }[] = [
  { name: 'data lake + streaming validation', built: true, issue: 2 },
  {
    name: 'training, evaluation, registration and canary deployment (built for AWS, run in tests)',
    built: false,
    issue: 3,
  },
  {
    name: 'drift detection over captured traffic, alarms and retraining (built for AWS)',
    built: false,
    issue: 4,
  },
  { name: 'local SageMaker engine, endpoint and alarms (the whole loop locally)', built: false, issue: 5 },
];

const BUCKETS = {
  raw: 'devmlops-raw',
  curated: 'devmlops-curated',
  quarantine: 'devmlops-quarantine',
  artifacts: 'devmlops-artifacts',
} as const;

interface DemoFile {
  key: string;
  what: string;
  rows: number;
  seed: number;
  invalidFraction: number;
  gzip: boolean;
}

async function readBody(s3: S3Client, bucket: string, key: string): Promise<string> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return r.Body!.transformToString('utf8');
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export async function demoCommand(argv: string[], progress: Progress): Promise<number> {
  parseCommand('demo', argv, {}, false);
  const config = readProjectConfig();
  const dataset = config.dataset.name;
  const root = path.resolve('.devmlops', 'demo');
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(path.join(root, 's3'), { recursive: true });

  // The handler and its S3 client read these once, when first loaded: set them before importing it.
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'S3RVER';
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  // The local CloudWatch store is not built yet; EMF lines on stdout would only clutter the demo output.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

  const local = await progress.step(
    'start local S3',
    () => startLocalS3({ directory: path.join(root, 's3'), buckets: Object.values(BUCKETS) }),
    (s) => `${s.endpoint}, data under ${path.relative(process.cwd(), root)}/s3`,
  );
  let s3: S3Client | undefined;
  try {
    process.env.AWS_ENDPOINT_URL_S3 = local.endpoint;
    process.env.RAW_BUCKET = BUCKETS.raw;
    process.env.CURATED_BUCKET = BUCKETS.curated;
    process.env.QUARANTINE_BUCKET = BUCKETS.quarantine;
    process.env.ARTIFACTS_BUCKET = BUCKETS.artifacts;
    process.env.DATASET_SCHEMAS = JSON.stringify([config.dataset]);
    process.env.MAX_INVALID_ROW_FRACTION = String(config.validation.maxInvalidRowFraction);
    process.env.MAX_LINE_BYTES = String(config.validation.maxLineBytes);
    // Loaded only now: the handler reads its environment when the module loads, as a Lambda does at cold start.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { handler } = require('../../lambdas/handlers/validate') as {
      handler: (event: SQSEvent) => Promise<SQSBatchResponse>;
    };
    s3 = createS3Client(process.env);
    const client = s3;

    // Deliver each event as EventBridge -> SQS would, to the real handler.
    const failures: string[] = [];
    local.onObjectCreated(async (event: ObjectCreatedEvent) => {
      if (event.detail.bucket.name !== BUCKETS.raw) return;
      const result = await handler(toSqsEvent([event]));
      if (result.batchItemFailures.length > 0) failures.push(event.detail.object.key);
    });

    const files: DemoFile[] = [
      {
        key: `${dataset}/good.csv.gz`,
        what: 'clean, gzipped',
        rows: 20000,
        seed: 1,
        invalidFraction: 0,
        gzip: true,
      },
      {
        key: `${dataset}/mixed.csv`,
        what: '2% invalid rows',
        rows: 20000,
        seed: 2,
        invalidFraction: 0.02,
        gzip: false,
      },
      {
        key: `${dataset}/bad.csv`,
        what: '30% invalid rows',
        rows: 5000,
        seed: 3,
        invalidFraction: 0.3,
        gzip: false,
      },
    ];
    for (const f of files) {
      await progress.step(
        `generate and upload s3://${BUCKETS.raw}/${f.key} (${f.what})`,
        async () => {
          let body = Buffer.concat([
            ...sampleChunks({ rows: f.rows, seed: f.seed, invalidFraction: f.invalidFraction }),
          ]);
          if (f.gzip) body = gzipSync(body);
          await client.send(new PutObjectCommand({ Bucket: BUCKETS.raw, Key: f.key, Body: body }));
          return body.length;
        },
        (bytes) => `${(bytes / 1024).toFixed(0)} KiB`,
      );
    }
    await progress.step('validate (the Lambda handler, one event per upload)', () => local.idle());
    if (failures.length > 0) throw new CliError(`the handler failed on ${failures.join(', ')}`);

    const reports = await progress.step('read the validation reports back', async () => {
      const keys = (await listKeys(client, BUCKETS.artifacts, `reports/validation/${dataset}/`)).sort();
      return Promise.all(
        keys.map(
          async (k) => JSON.parse(await readBody(client, BUCKETS.artifacts, k)) as StoredValidationReport,
        ),
      );
    });

    const rows: string[][] = [['file', 'status', 'rows', 'valid', 'invalid']];
    const outputs: string[][] = [];
    for (const f of files) {
      const r = reports.find((x) => x.source.key === f.key);
      if (!r) {
        rows.push([f.key, 'NO REPORT', '', '', '']);
        continue;
      }
      rows.push([f.key, r.status, String(r.rows.total), String(r.rows.valid), String(r.rows.invalid)]);
      const o: string[] = [];
      if (r.outputs.curated)
        o.push(
          `s3://${r.outputs.curated.bucket}/${r.outputs.curated.key} (${r.outputs.curated.rows} valid rows)`,
        );
      const q = r.outputs.quarantine;
      if (q)
        o.push(
          `s3://${q.bucket}/${q.key} ` +
            (q.content === 'file'
              ? `(the whole file: ${r.reason ?? 'quarantined'})`
              : `(${q.rows} invalid rows, with _errors)`),
        );
      o.forEach((line, i) => outputs.push([i === 0 ? f.key : '', '->', line]));
    }
    process.stdout.write(`\n${table(rows)}\n\n${table(outputs)}\n\n`);
    process.stdout.write(
      `Reports: s3://${BUCKETS.artifacts}/reports/validation/${dataset}/; the local S3 data stays under ${path.relative(process.cwd(), root)}/s3 until the next run.\n\n`,
    );
    process.stdout.write('Stages of the loop:\n');
    for (const s of STAGES)
      process.stdout.write(`  ${s.built ? '[done]   ' : '[not yet]'} ${s.name} (issue ${s.issue})\n`);
    process.stdout.write(
      '\nTraining, deployment, drift detection and retraining are built for AWS, but running them here needs the local runtime (local SageMaker engine, endpoint, alarms), which is not built yet (issue 5): the demo stops after validation.\n',
    );
    return EXIT_OK;
  } finally {
    s3?.destroy();
    await local.close();
  }
}
