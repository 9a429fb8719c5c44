import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { describeAppInChild, platformNames, type AppDescription } from '../../lib/local/app-description';
import { LocalPlatform } from '../../lib/local/platform';
import { describeApp, synthesizeApp } from '../../lib/local/synthesize';
import { LocalTemplates } from '../../lib/local/template';

/**
 * The local platform synthesizes the app in a child process and keeps only its description, so that the serving
 * process never loads aws-cdk-lib (lib/local/app-description.ts).
 */

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '..', '..');

interface CdkJson {
  context: { devmlops: Record<string, unknown> & { endpoint?: Record<string, unknown> } };
}

/** The app described in this process, synthesized once for the tests that need one (about 4 s each time). */
let described: AppDescription | undefined;
const describedHere = (): AppDescription => (described ??= describeApp(synthesizeApp()));

describe('the app description', () => {
  it('is the same from the child process as from synthesis in this one', async () => {
    const [fromChild, inProcess] = await Promise.all([
      describeAppInChild(),
      Promise.resolve().then(describedHere),
    ]);
    // What crosses the process boundary is JSON: the same JSON.
    expect(fromChild).toEqual(JSON.parse(JSON.stringify(inProcess)));
    // Every DevFunction, with a source file that exists, and the resources the platform names.
    expect(fromChild.functions.map((f) => path.relative(ROOT, f.entry)).sort()).toEqual(
      expect.arrayContaining(['lambdas/handlers/predict.ts', 'lambdas/handlers/validate.ts']),
    );
    const names = platformNames(fromChild, new LocalTemplates(fromChild.templates));
    expect(names.endpointName).toBe(fromChild.endpointName);
    expect(names.trainingStateMachineArn).toMatch(/^arn:aws:states:[a-z0-9-]+:\d{12}:stateMachine:/);
    expect(Object.values(names.buckets).every((b) => typeof b === 'string' && b.length > 0)).toBe(true);
  });

  it("passes the config to the child, and fails with the app's own message for a bad one", async () => {
    const base = (JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as CdkJson).context
      .devmlops;
    const custom = await describeAppInChild({
      config: { ...base, project: 'other', endpoint: { ...base.endpoint, instanceCount: 2 } },
    });
    expect(custom.config.project).toBe('other');
    expect(custom.config.endpoint.instanceCount).toBe(2);
    expect(custom.templates.map((t) => t.stackName)).toEqual(expect.arrayContaining(['other-pipeline']));
    await expect(describeAppInChild({ config: { ...base, endpoint: { instanceCount: 0 } } })).rejects.toThrow(
      /synthesizing the app failed \(exit code 1\): .*instanceCount/s,
    );
  });

  it('is given to the platform either as config or as an app, not both', async () => {
    await expect(
      LocalPlatform.start({ directory: 'unused', app: describedHere(), config: {} }),
    ).rejects.toThrow('give LocalPlatform.start a config or an app, not both');
  });

  it('leaves aws-cdk-lib and constructs out of the local platform', async () => {
    for (const entry of ['lib/local/platform.ts']) {
      const { metafile } = await esbuild.build({
        entryPoints: [path.join(ROOT, entry)],
        bundle: true,
        write: false,
        metafile: true,
        platform: 'node',
        packages: 'external',
        logLevel: 'silent',
      });
      const cdk = Object.entries(metafile.inputs).flatMap(([file, input]) =>
        input.imports
          .filter((i) => /^(aws-cdk-lib|constructs)(\/|$)/.test(i.path))
          .map((i) => `${file} -> ${i.path}`),
      );
      expect({ entry, cdk }).toEqual({ entry, cdk: [] });
    }
  });
});
