import { spawn, type ChildProcessByStdio } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { defaultMaxFileBytes } from '../lambdas/core/report';
import { outputId } from '../lambdas/handlers/validate-object';
import { createS3Client } from '../lambdas/shared/clients';
import { readProjectConfig } from '../lib/config';
import { startLocalS3, toSqsEvent, type ObjectCreatedEvent } from '../lib/local/s3';
import { startFaultProxy, totalFaults, type FaultRates, type FaultStats } from '../test/helpers/fault-proxy';
import { ensureBenchFile } from './validation';

/**
 * The validation Lambda's handler end to end: an SQS event in, the raw object streamed from S3, validated, the
 * curated rows uploaded (multipart), the report written. Local S3 (s3rver) and the fault proxy run in a child
 * process, as S3 is remote to a Lambda, so that this process's CPU is the handler's alone. This is the figure the
 * too-large limit (lambdas/core/report.ts defaultMaxFileBytes) is checked against: the limit assumes 20 MB/s per
 * vCPU, which must stay well below what the handler does here. Then the same file under injected faults.
 * `BENCH_MB` sets the file size (default 100). `npx tsx bench/reliability.ts`, or `npm run bench -- reliability`.
 */

const MB = 1e6;
const BUCKETS = {
  raw: 'bench-raw',
  curated: 'bench-curated',
  quarantine: 'bench-quarantine',
  artifacts: 'bench-artifacts',
};

export interface HandlerRun {
  readonly label: string;
  readonly seconds: number;
  readonly mbPerSecond: number;
  /** CPU seconds of this process (the handler) per wall second: below 1, the handler waited for S3. */
  readonly handlerCpuShare: number;
  readonly deliveries: number;
  readonly faultsInjected: number;
  readonly resumedReads: number;
}

export interface ReliabilityBenchResult {
  readonly fileBytes: number;
  readonly rows: number;
  readonly runs: HandlerRun[];
  readonly assumedMbPerVcpuSecond: number;
  readonly defaultLimitBytes: number;
}

/** The child: s3rver and the fault proxy, driven by one JSON command per stdin line, answered on stdout. */
async function serveS3(dir: string): Promise<void> {
  const local = await startLocalS3({ directory: dir, buckets: Object.values(BUCKETS) });
  const proxy = await startFaultProxy({ upstream: local.endpoint, s3rverDirectory: dir });
  const events: ObjectCreatedEvent[] = [];
  local.onObjectCreated((e) => {
    events.push(e);
  });
  const say = (o: unknown): boolean => process.stdout.write(`${JSON.stringify(o)}\n`);
  say({ s3: local.endpoint, proxy: proxy.endpoint });
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line) as {
      configure?: { seed: number; rates: FaultRates };
      stats?: true;
      event?: string;
    };
    if (cmd.configure) {
      proxy.resetStats();
      proxy.configure(cmd.configure);
      say({ ok: true });
    } else if (cmd.stats) say(proxy.stats);
    else if (cmd.event !== undefined) {
      await local.idle();
      say(events.filter((e) => e.detail.object.key === cmd.event).at(-1));
    }
  }
  await proxy.close();
  await local.close();
}

class S3Child {
  private readonly lines: AsyncIterator<string>;
  constructor(private readonly child: ChildProcessByStdio<Writable, Readable, null>) {
    this.lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }
  async read<T>(): Promise<T> {
    const r = await this.lines.next();
    if (r.done) throw new Error('the S3 child process ended');
    return JSON.parse(r.value) as T;
  }
  async ask<T>(cmd: unknown): Promise<T> {
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
    return this.read<T>();
  }
  close(): Promise<unknown> {
    this.child.stdin.end();
    return new Promise((resolve) => this.child.on('close', resolve));
  }
}

export async function reliabilityBench(): Promise<ReliabilityBenchResult> {
  const targetMb = Number(process.env.BENCH_MB ?? 100);
  const { file, bytes } = await ensureBenchFile(targetMb);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmlops-reliability-'));
  const credentials = {
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'S3RVER',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'S3RVER',
  };
  const s3 = new S3Child(
    spawn(
      process.execPath,
      ['--import', pathToFileURL(require.resolve('tsx')).href, __filename, '--serve-s3', dir],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
        env: { ...process.env, ...credentials, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      },
    ),
  );
  const endpoints = await s3.read<{ s3: string; proxy: string }>();
  Object.assign(process.env, credentials, {
    AWS_ENDPOINT_URL_S3: endpoints.proxy,
    PROJECT: 'bench',
    RAW_BUCKET: BUCKETS.raw,
    CURATED_BUCKET: BUCKETS.curated,
    QUARANTINE_BUCKET: BUCKETS.quarantine,
    ARTIFACTS_BUCKET: BUCKETS.artifacts,
    DATASET_SCHEMAS: JSON.stringify([readProjectConfig().dataset]),
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  // After the environment: the handler reads it once, at import, as at a cold start.
  const { handler } = await import('../lambdas/handlers/validate');
  const direct = createS3Client({ ...process.env, AWS_ENDPOINT_URL_S3: endpoints.s3 });
  const runs: HandlerRun[] = [];
  let rows = 0;
  try {
    const plan: [string, FaultRates][] = [
      ['no faults', {}],
      [
        '2% of each fault, 10% delayed',
        { slowDown: 0.02, internalError: 0.02, resetRequest: 0.02, resetResponse: 0.02, latency: 0.1 },
      ],
    ];
    for (const [i, [label, rates]] of plan.entries()) {
      // A new key per run: the report of the previous one would make it a duplicate.
      const key = `churn/bench/run-${i}.csv`;
      await direct.send(
        new PutObjectCommand({
          Bucket: BUCKETS.raw,
          Key: key,
          Body: fs.createReadStream(file),
          ContentLength: bytes,
        }),
      );
      const event = await s3.ask<ObjectCreatedEvent>({ event: key });
      await s3.ask({ configure: { seed: 100 + i, rates } });
      const t0 = process.hrtime.bigint();
      const cpu0 = process.cpuUsage();
      let deliveries = 0;
      for (;;) {
        deliveries++;
        const r = await handler(toSqsEvent([event]));
        if (r.batchItemFailures.length === 0) break;
        if (deliveries >= 10) throw new Error(`${label}: still failing after 10 deliveries`);
      }
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(cpu0);
      const stats = await s3.ask<FaultStats>({ stats: true });
      const reportKey = `reports/validation/churn/${outputId(key, event.detail.object.etag)}.json`;
      const stored = await direct.send(new GetObjectCommand({ Bucket: BUCKETS.artifacts, Key: reportKey }));
      rows = (JSON.parse(await stored.Body!.transformToString()) as { rows: { total: number } }).rows.total;
      runs.push({
        label,
        seconds,
        mbPerSecond: bytes / MB / seconds,
        handlerCpuShare: (cpu.user + cpu.system) / 1e6 / seconds,
        deliveries,
        faultsInjected: totalFaults(stats),
        resumedReads: stats.rangedGets,
      });
    }
  } finally {
    direct.destroy();
    await s3.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return {
    fileBytes: bytes,
    rows,
    runs,
    assumedMbPerVcpuSecond: 20,
    defaultLimitBytes: defaultMaxFileBytes(900, 1024),
  };
}

export function printReliabilityBench(r: ReliabilityBenchResult): void {
  const lines = [
    '',
    `Validation handler end to end, S3 in another process (${(r.fileBytes / MB).toFixed(1)} MB, ${r.rows.toLocaleString('en-US')} rows)`,
    '| run | seconds | MB/s | handler CPU | deliveries | faults injected | resumed reads |',
    '| --- | ------- | ---- | ----------- | ---------- | --------------- | ------------- |',
    ...r.runs.map(
      (x) =>
        `| ${x.label} | ${x.seconds.toFixed(2)} | ${x.mbPerSecond.toFixed(1)} | ${(x.handlerCpuShare * 100).toFixed(0)}% | ${x.deliveries} | ${x.faultsInjected} | ${x.resumedReads} |`,
    ),
    `The too-large limit assumes ${r.assumedMbPerVcpuSecond} MB/s per vCPU, ` +
      `${(r.runs[0].mbPerSecond / r.assumedMbPerVcpuSecond).toFixed(1)}x below the fault-free run; ` +
      `default limit ${r.defaultLimitBytes.toLocaleString('en-US')} bytes (900 s, 1024 MB).`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (require.main === module) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const serve = process.argv.indexOf('--serve-s3');
  (serve >= 0 ? serveS3(process.argv[serve + 1]) : reliabilityBench().then(printReliabilityBench)).catch(
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
