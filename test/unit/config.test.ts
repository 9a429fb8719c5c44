import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CONFIG_FILE_CONTEXT_KEY,
  DESTROY_CONTEXT_KEY,
  loadConfig,
  parseConfig,
  readProjectConfig,
} from '../../lib/config';
import { featureFields, parseDatasetSchema, problemType, SchemaError } from '../../lambdas/core/schema';

const project = readProjectConfig();
const ctx = (values: Record<string, unknown>) => ({ tryGetContext: (k: string) => values[k] });
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

describe('config', () => {
  it('reads the default config from cdk.json and fills defaults', () => {
    expect(project.project).toBe('devmlops');
    expect(project.dataset.name).toBe('churn');
    expect(project.dataLake.removalPolicy).toBe('retain');
    expect(project.validation.maxInvalidRowFraction).toBe(0.05);
    const minimal = parseConfig({ dataset: project.dataset });
    expect(minimal.validation).toEqual({
      maxInvalidRowFraction: 0.05,
      maxLineBytes: 1048576,
      memorySize: 1024,
      timeoutSeconds: 900,
      maxReceiveCount: 3,
    });
    expect(minimal.logRetentionDays).toBe(30);
    expect(minimal.inference).toEqual({
      maxBatchSize: 100,
      threshold: 0.5,
      throttlingRateLimit: 100,
      throttlingBurstLimit: 200,
      memorySize: 512,
      timeoutSeconds: 10,
      specRefreshSeconds: 10,
      captureBufferSeconds: 300,
      captureBufferMb: 5,
      apiGatewayCloudWatchRole: true,
    });
  });

  it.each([
    [{ validation: { maxInvalidRowFraction: 2 } }, 'devmlops.validation.maxInvalidRowFraction'],
    [{ dataLake: { removalPolicy: 'keep' } }, 'devmlops.dataLake.removalPolicy'],
    [{ project: 'Bad Name' }, 'devmlops.project'],
    [{ logRetentionDays: 10 }, 'devmlops.logRetentionDays'],
    [{ validation: { maxLineBytes: 1.5 } }, 'devmlops.validation.maxLineBytes'],
    [{ unknownKey: 1 }, 'devmlops'],
    [{ inference: { maxBatchSize: 0 } }, 'devmlops.inference.maxBatchSize'],
    [{ inference: { maxBatchSize: 1001 } }, 'devmlops.inference.maxBatchSize'],
    [{ inference: { maxBatchSize: 2.5 } }, 'devmlops.inference.maxBatchSize'],
    [{ inference: { threshold: 1.5 } }, 'devmlops.inference.threshold'],
    [{ inference: { throttlingRateLimit: 0 } }, 'devmlops.inference.throttlingRateLimit'],
    [{ inference: { throttlingBurstLimit: 0 } }, 'devmlops.inference.throttlingBurstLimit'],
    [{ inference: { timeoutSeconds: 30 } }, 'devmlops.inference.timeoutSeconds'],
    [{ inference: { specRefreshSeconds: -1 } }, 'devmlops.inference.specRefreshSeconds'],
    [{ inference: { captureBufferSeconds: 901 } }, 'devmlops.inference.captureBufferSeconds'],
    [{ inference: { captureBufferMb: 129 } }, 'devmlops.inference.captureBufferMb'],
    [{ inference: { apiGatewayCloudWatchRole: 'yes' } }, 'devmlops.inference.apiGatewayCloudWatchRole'],
    [{ inference: { batchSize: 10 } }, 'devmlops.inference'],
  ])('rejects %j with a message naming %s', (override, key) => {
    const raw = { ...clone(project), ...override } as Record<string, unknown>;
    expect(() => parseConfig(raw)).toThrow(SchemaError);
    expect(() => parseConfig(raw)).toThrow(key);
  });

  it('names the dataset key of a bad field type', () => {
    const raw = clone(project) as unknown as { dataset: { fields: { type: string }[] } };
    raw.dataset.fields[1].type = 'float';
    expect(() => parseConfig(raw)).toThrow('devmlops.dataset.fields[1].type');
  });

  it('loads the whole config from devmlops:configFile and applies the destroy flag', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmlops-config-'));
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ ...project, project: 'fromfile' }));
    const cfg = loadConfig(ctx({ [CONFIG_FILE_CONTEXT_KEY]: file, [DESTROY_CONTEXT_KEY]: 'true' }));
    expect(cfg.project).toBe('fromfile');
    expect(cfg.dataLake.removalPolicy).toBe('destroy');
    expect(() => loadConfig(ctx({ [CONFIG_FILE_CONTEXT_KEY]: path.join(dir, 'missing.json') }))).toThrow(
      /devmlops:configFile: cannot read JSON from .*missing\.json/,
    );
    expect(() => loadConfig(ctx({}))).toThrow('No devmlops config');
  });
});

describe('dataset schema', () => {
  const base = () =>
    clone(project.dataset) as unknown as Record<string, unknown> & { fields: Record<string, unknown>[] };

  it('finds features and the problem type', () => {
    expect(featureFields(project.dataset).map((f) => f.name)).toEqual([
      'tenure_months',
      'plan',
      'monthly_charges',
      'total_charges',
      'support_calls',
      'region',
      'has_partner',
      'avg_session_minutes',
    ]);
    expect(problemType(project.dataset)).toBe('binary');
    const regression = base();
    delete regression.problem;
    regression.target = 'monthly_charges';
    expect(problemType(parseDatasetSchema(regression))).toBe('regression');
  });

  it.each([
    ['target not a field', (s: ReturnType<typeof base>) => (s.target = 'nope'), 'target'],
    [
      'duplicate field',
      (s: ReturnType<typeof base>) => (s.fields[2].name = 'tenure_months'),
      'fields[2].name',
    ],
    [
      'minimum above maximum',
      (s: ReturnType<typeof base>) => (s.fields[1].constraints = { minimum: 5, maximum: 1 }),
      'fields[1].constraints.minimum',
    ],
    [
      'enum on a number',
      (s: ReturnType<typeof base>) => (s.fields[3].constraints = { enum: ['a'] }),
      'fields[3].constraints.enum',
    ],
    ['bad dataset name', (s: ReturnType<typeof base>) => (s.name = 'Churn Data'), 'name'],
  ])('rejects a schema with %s', (_what, mutate, key) => {
    const s = base();
    mutate(s);
    expect(() => parseDatasetSchema(s)).toThrow(`${key}:`);
  });
});
