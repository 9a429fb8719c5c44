import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp, stackNames } from '../../lib/app';
import { CONFIG_CONTEXT_KEY, CONFIG_FILE_CONTEXT_KEY } from '../../lib/config';
import { build, defaultConfigInput, projectContext } from './helpers';

const appWith = (context: Record<string, unknown>) =>
  new App({ context: { ...projectContext(), 'aws:cdk:bundling-stacks': [], ...context } });

describe('buildApp and the config', () => {
  it('names the stacks after the project', () => {
    const built = build();
    expect(built.dataLake.stackName).toBe('devmlops-data-lake');
    expect(built.pipeline.stackName).toBe('devmlops-pipeline');
    expect(stackNames('acme')).toEqual({
      dataLake: 'acme-data-lake',
      pipeline: 'acme-pipeline',
      monitoring: 'acme-monitoring',
    });
    // The pipeline depends on the data lake (its buckets and key), never the other way round.
    expect(built.pipeline.dependencies).toEqual([built.dataLake]);
    expect(built.dataLake.dependencies).toEqual([]);
  });

  it('fails to build with a message naming a bad key', () => {
    const config = defaultConfigInput();
    config.validation = { ...config.validation, maxInvalidRowFraction: 2 };
    expect(() => buildApp(appWith({ [CONFIG_CONTEXT_KEY]: config }))).toThrow(
      'devmlops.validation.maxInvalidRowFraction',
    );
  });

  it('fails to build on a dataset field of an unknown type, naming the field', () => {
    const config = defaultConfigInput() as unknown as { dataset: { fields: { type: string }[] } };
    config.dataset.fields[1].type = 'float';
    expect(() => buildApp(appWith({ [CONFIG_CONTEXT_KEY]: config }))).toThrow(
      'devmlops.dataset.fields[1].type',
    );
  });

  it('loads the whole config from -c devmlops:configFile', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmlops-infra-'));
    try {
      const file = path.join(dir, 'config.json');
      const config = defaultConfigInput();
      fs.writeFileSync(file, JSON.stringify({ ...config, project: 'fromfile', logRetentionDays: 14 }));
      // The file replaces the context object entirely: the bad context value is never read.
      const stacks = buildApp(
        appWith({ [CONFIG_FILE_CONTEXT_KEY]: file, [CONFIG_CONTEXT_KEY]: { project: 'Bad Name' } }),
      );
      expect(stacks.config.project).toBe('fromfile');
      expect(stacks.dataLake.stackName).toBe('fromfile-data-lake');
      expect(stacks.pipeline.stackName).toBe('fromfile-pipeline');
      expect(stacks.pipeline.validation.function.logGroup.node.defaultChild).toMatchObject({
        retentionInDays: 14,
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
