import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { apiUrlFromStack } from '../../lib/cli/predict';
import { s3ClientConfig } from '../../lambdas/shared/clients';
import { listKeys } from '../../lambdas/shared/s3';
import type { PlatformInfo } from '../../lib/local/platform-info';
import { sampleCsv } from '../../lib/local/sample-data';
import { BIN, runCli } from '../helpers/cli';

/**
 * `devmlops local up` as a user runs it (a long-running child process), with `train --local` and
 * `predict --local` from other processes against it, and Ctrl-C stopping it cleanly.
 */

jest.setTimeout(180_000);

const cli = (args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) => runCli(args, { cwd, env });

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
  // The file is written before the usage lines are printed, and stderr arrives through a pipe: wait for them.
  await until('the usage lines on stderr', () =>
    upStderr.includes(`curl --aws-sigv4 aws:amz:${info.names.region}:execute-api`) ? true : undefined,
  );
  expect(upStderr).toContain('AWS_ENDPOINT_URL_S3=');
  expect(upStderr).toContain(`/endpoints/${info.names.endpointName}/invocations`);
  // The inference API, served locally, with a usage line.
  expect(info.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/prod\/$/);
  expect(upStderr).toContain(`${info.apiUrl}v1/predict`);
  expect(upStderr).toContain(`curl --aws-sigv4 aws:amz:${info.names.region}:execute-api`);

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
    customer_id: 'c-1',
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
  // The API's answer: the model version and, for this binary model, a probability and a label.
  const out = JSON.parse(predicted.stdout) as {
    modelVersion: string;
    modelPackageArn: string;
    predictions: Array<{ probability: number; label: string }>;
  };
  expect(out.modelVersion).toBe('1');
  expect(out.modelPackageArn).toMatch(/:model-package\/[^/]+\/1$/);
  expect(out.predictions).toHaveLength(1);
  expect(out.predictions[0].probability).toBeGreaterThan(0);
  expect(out.predictions[0].probability).toBeLessThan(1);
  expect(['true', 'false']).toContain(out.predictions[0].label);

  // A file of records, scored in one request, printed as a table.
  const file = path.join(cwd, 'records.jsonl');
  fs.writeFileSync(file, `${JSON.stringify(record)}\n${JSON.stringify({ ...record, tenure_months: 40 })}\n`);
  const table = await cli(['predict', '--local', '--file', 'records.jsonl'], cwd);
  expect({ code: table.code, stderr: table.code === 0 ? '' : table.stderr }).toEqual({ code: 0, stderr: '' });
  const lines = table.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^record\s+label\s+probability$/);
  expect(lines.slice(1)).toEqual([
    expect.stringMatching(/^records\.jsonl:1\s+(true|false)\s+0\.\d{4}$/),
    expect.stringMatching(/^records\.jsonl:2\s+(true|false)\s+0\.\d{4}$/),
  ]);
  expect(table.stderr).toMatch(
    /2 prediction\(s\) from http:\/\/127\.0\.0\.1:\d+\/prod\/v1\/predict \(local\), model version 1/,
  );

  // Without --local: the API URL as the stack output gives it, credentials from the default chain (here the
  // environment), as an application's machine would call the deployed API.
  const remote = await cli(
    [
      'predict',
      '--api-url',
      info.apiUrl!,
      '--region',
      info.names.region,
      '--json',
      '--record',
      JSON.stringify(record),
    ],
    cwd,
    {
      ...process.env,
      AWS_ACCESS_KEY_ID: info.credentials!.accessKeyId,
      AWS_SECRET_ACCESS_KEY: info.credentials!.secretAccessKey,
    },
  );
  expect({ code: remote.code, stderr: remote.code === 0 ? '' : remote.stderr }).toEqual({
    code: 0,
    stderr: '',
  });
  expect((JSON.parse(remote.stdout) as typeof out).predictions).toEqual(out.predictions);
  // Signed with keys the platform did not hand out: API Gateway's 403, reported with its type.
  const stranger = await cli(
    ['predict', '--api-url', info.apiUrl!, '--region', info.names.region, '--record', '{}'],
    cwd,
    {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'AKIDSTRANGER',
      AWS_SECRET_ACCESS_KEY: 'nope',
    },
  );
  expect(stranger.code).toBe(2);
  expect(stranger.stderr).toMatch(/failed: 403 .*security token included in the request is invalid/);

  // A record the data lake would reject: nothing is scored, each field error names the record and the field.
  fs.writeFileSync(
    file,
    `${JSON.stringify(record)}\n${JSON.stringify({ ...record, plan: 'gold', tenure_months: -1 })}\n`,
  );
  const invalid = await cli(['predict', '--local', '--file', 'records.jsonl'], cwd);
  expect(invalid.code).toBe(1);
  expect(invalid.stdout).toBe('');
  expect(invalid.stderr).toMatch(/records\.jsonl:2, field plan: enum: /);
  expect(invalid.stderr).toMatch(/records\.jsonl:2, field tenure_months: minimum: /);
  expect(invalid.stderr).not.toMatch(/records\.jsonl:1/);

  up.kill('SIGINT');
  expect(await upExit).toBe(0);
  expect(upStderr).toContain('Stopped.');
  expect(fs.existsSync(infoFile)).toBe(false);
});

it('finds the API URL in the pipeline stack outputs', async () => {
  const cfn = mockClient(CloudFormationClient);
  try {
    const url = 'https://abc123defg.execute-api.eu-west-1.amazonaws.com/prod/';
    cfn.on(DescribeStacksCommand, { StackName: 'devmlops-pipeline' }).resolves({
      Stacks: [
        {
          StackName: 'devmlops-pipeline',
          CreationTime: new Date(),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: [
            {
              OutputKey: 'TrainingStateMachineArn',
              OutputValue: 'arn:aws:states:eu-west-1:1:stateMachine:x',
            },
            { OutputKey: 'InferenceApiUrl', OutputValue: url },
          ],
        },
      ],
    });
    cfn.on(DescribeStacksCommand, { StackName: 'old-pipeline' }).resolves({
      Stacks: [
        { StackName: 'old-pipeline', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [] },
      ],
    });
    const missing = Object.assign(new Error('Stack with id nope does not exist'), {
      name: 'ValidationError',
    });
    cfn.on(DescribeStacksCommand, { StackName: 'nope' }).rejects(missing);
    const client = new CloudFormationClient({ region: 'eu-west-1' });
    expect(await apiUrlFromStack(client, 'devmlops-pipeline')).toBe(url);
    await expect(apiUrlFromStack(client, 'old-pipeline')).rejects.toThrow(/has no InferenceApiUrl output/);
    await expect(apiUrlFromStack(client, 'nope')).rejects.toThrow(
      /cannot describe the stack nope: ValidationError: Stack with id nope does not exist/,
    );
  } finally {
    cfn.restore();
  }
});
