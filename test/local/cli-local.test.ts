import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { s3ClientConfig } from '../../lambdas/shared/clients';
import { listKeys } from '../../lambdas/shared/s3';
import type { PlatformInfo } from '../../lib/local/platform-info';
import { sampleCsv } from '../../lib/local/sample-data';

/**
 * `devmlops local up` as a user runs it (a long-running child process), with `train --local` and
 * `predict --local` from other processes against it, and Ctrl-C stopping it cleanly.
 */

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'devmlops.js');

function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { cwd }, (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      if (typeof code !== 'number') return reject(err);
      resolve({ code, stdout, stderr });
    });
  });
}

async function until<T>(
  what: string,
  f: () => Promise<T | undefined> | T | undefined,
  ms = 90_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

let cwd: string;
let up: ChildProcess;
let upStderr = '';
let upExit: Promise<number | null>;

beforeAll(() => {
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'devmlops-local-up-'));
  up = spawn(process.execPath, [BIN, 'local', 'up'], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  up.stderr!.on('data', (d: Buffer) => (upStderr += d.toString()));
  upExit = new Promise((r) => up.on('exit', (code) => r(code)));
});

afterAll(async () => {
  if (up.exitCode === null) up.kill('SIGKILL');
  fs.rmSync(cwd, { recursive: true, force: true });
});

it('serves the platform, trains and predicts from other processes, and stops on Ctrl-C', async () => {
  const infoFile = path.join(cwd, '.devmlops', 'local', 'platform.json');
  const info = await until('platform.json', () =>
    fs.existsSync(infoFile) ? (JSON.parse(fs.readFileSync(infoFile, 'utf8')) as PlatformInfo) : undefined,
  );
  expect(upStderr).toContain('AWS_ENDPOINT_URL_S3=');
  expect(upStderr).toContain(`/endpoints/${info.names.endpointName}/invocations`);

  // A data owner drops a file into raw with the AWS SDK, as on AWS; the platform validates it.
  const s3 = new S3Client({
    ...s3ClientConfig({ AWS_REGION: info.names.region, AWS_ENDPOINT_URL_S3: info.s3Endpoint }),
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: info.names.buckets.raw,
        Key: `${info.names.dataset}/first.csv`,
        Body: sampleCsv({ rows: 3000, seed: 7 }),
      }),
    );
    await until('the curated object', async () => {
      const keys = await listKeys(s3, info.names.buckets.curated, `${info.names.dataset}/`);
      return keys.length > 0 ? keys : undefined;
    });
  } finally {
    s3.destroy();
  }

  const predictBefore = await cli(['predict', '--local', '--record', '{"tenure_months": 3}'], cwd);
  expect(predictBefore.code).toBe(2);
  expect(predictBefore.stderr).toMatch(/nothing is deployed yet/);

  const train = await cli(['train', '--local', '--wait', '--json'], cwd);
  expect({ code: train.code, stderr: train.code === 0 ? '' : train.stderr }).toEqual({ code: 0, stderr: '' });
  const execution = JSON.parse(train.stdout) as {
    status: string;
    executionArn: string;
    output: { training: { TrainingJobStatus: string }; promotion: { currentUri: string } };
  };
  expect(execution.status).toBe('SUCCEEDED');
  expect(execution.executionArn).toContain(':execution:devmlops-training:');
  // The execution's final state: trained by the local engine, then promoted to baselines/current.json.
  expect(execution.output.training.TrainingJobStatus).toBe('Completed');
  expect(execution.output.promotion.currentUri).toMatch(/baselines\/current\.json$/);

  const record = {
    tenure_months: 3,
    plan: 'basic',
    monthly_charges: 80.5,
    total_charges: 241.5,
    support_calls: 4,
    region: 'north',
    has_partner: false,
    avg_session_minutes: 12,
  };
  const predicted = await cli(['predict', '--local', '--json', '--record', JSON.stringify(record)], cwd);
  expect({ code: predicted.code, stderr: predicted.code === 0 ? '' : predicted.stderr }).toEqual({
    code: 0,
    stderr: '',
  });
  const out = JSON.parse(predicted.stdout) as { predictions: Array<{ score: number; label: string }> };
  expect(out.predictions).toHaveLength(1);
  expect(out.predictions[0].score).toBeGreaterThan(0);
  expect(out.predictions[0].score).toBeLessThan(1);
  expect(['true', 'false']).toContain(out.predictions[0].label);

  up.kill('SIGINT');
  expect(await upExit).toBe(0);
  expect(upStderr).toContain('Stopped.');
  expect(fs.existsSync(infoFile)).toBe(false);
});
