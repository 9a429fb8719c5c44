import { Validations, type Stack } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { build } from './helpers';
import { buildWith } from './training-helpers';

function violations(stack: Stack): string[] {
  return new AwsSolutionsChecks()
    .validateScope(stack)
    .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath ?? '?'}`));
}

/** Acknowledgements under `scope`, as `rule at path` (each acknowledged on the construct that has the finding). */
function acknowledgements(scope: IConstruct): { id: string; path: string; reason: string }[] {
  const out: { id: string; path: string; reason: string }[] = [];
  const visit = (c: IConstruct) => {
    for (const m of c.node.metadata)
      if (m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        for (const [id, reason] of Object.entries(m.data as Record<string, string>))
          out.push({ id: id.replace(/^annotation::/i, ''), path: c.node.path, reason });
    c.node.children.forEach(visit);
  };
  visit(scope);
  return out;
}

describe('cdk-nag AwsSolutions on the training pipeline', () => {
  it.each([
    ['the default config', () => build()],
    [
      'manual approval, serverless endpoint, spot, schedule, new-data trigger and email',
      () =>
        buildWith((c) => {
          c.training = { approval: 'manual', useSpot: true, schedule: 'rate(1 day)', trainOnNewData: true };
          c.endpoint = { type: 'serverless' };
          c.notificationEmail = 'ops@example.com';
        }),
    ],
    ['destroy mode', () => build({ context: { 'devmlops:destroy': 'true' } })],
  ])('leaves no unacknowledged finding with %s', (_name, make) => {
    const b = make();
    expect(violations(b.pipeline)).toEqual([]);
    expect(violations(b.dataLake)).toEqual([]);
  });

  it('acknowledges each training finding on the narrowest construct, with a reason', () => {
    const b = build();
    const acks = acknowledgements(b.pipeline.training)
      .concat(acknowledgements(b.pipeline.cleanup))
      .map((a) => ({ ...a, path: a.path.replace(/^devmlops-pipeline\//, '') }));
    for (const a of acks) expect(a.reason.length).toBeGreaterThan(40);
    const at = (path: string) =>
      acks
        .filter((a) => a.path === path)
        .map((a) => a.id.replace(/^AwsSolutions-IAM5\[Resource::(.*)\]$/, '$1'))
        // Logical IDs and export names end in a hash: `#` here.
        .map((id) => id.replace(/([A-Za-z])[0-9A-F]{8}(?=[.:/>])/g, '$1#'))
        .sort();
    const sm = (type: string, name: string) =>
      `arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:${type}/${name}`;
    const artifacts = 'devmlops-data-lake:ExportsOutputFnGetAttArtifactsBucketArn#';
    // The runtime pin, on each function.
    for (const f of ['Prepare', 'Evaluate', 'Promote'])
      expect(at(`Training/${f}/Function`)).toEqual(['AwsSolutions-L1']);
    for (const f of ['Handler', 'IsComplete'])
      expect(at(`Cleanup/${f}/Function`)).toEqual(['AwsSolutions-L1']);
    // Wildcards, each on the one policy that grants it.
    expect(at('Training/StateMachine/Role/DefaultPolicy')).toEqual(
      [
        '*',
        sm('training-job', 'devmlops-*'),
        sm('model', 'devmlops-*'),
        sm('endpoint-config', 'devmlops-*'),
        sm('model-package', 'devmlops-models/*'),
        ...['Prepare', 'Evaluate', 'Promote'].map((f) => `<Training${f}Function#.Arn>:*`),
      ].sort(),
    );
    expect(at('Training/SageMakerRole/DefaultPolicy')).toEqual(
      [
        '*',
        `${artifacts}/capture/*`,
        `${artifacts}/models/*`,
        `${artifacts}/training/*`,
        'arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/*',
      ].sort(),
    );
    expect(at('Training/Prepare/Role/DefaultPolicy')).toEqual(
      [
        '*',
        'devmlops-data-lake:ExportsOutputFnGetAttCuratedBucketArn#/churn/*',
        `${artifacts}/training/*`,
      ].sort(),
    );
    expect(at('Training/Evaluate/Role/DefaultPolicy')).toEqual(['*']);
    expect(at('Training/Promote/Role/DefaultPolicy')).toEqual(['*']);
    for (const f of ['Handler', 'IsComplete'])
      expect(at(`Cleanup/${f}/Role/DefaultPolicy`)).toEqual(
        [
          '*',
          sm('endpoint', 'devmlops-*'),
          sm('endpoint-config', 'devmlops-*'),
          sm('model', 'devmlops-*'),
          sm('model-package', 'devmlops-models/*'),
        ].sort(),
      );
    const handlers = ['<CleanupHandlerFunction#.Arn>:*', '<CleanupIsCompleteFunction#.Arn>:*'];
    expect(at('Cleanup/ProviderRole/DefaultPolicy')).toEqual(handlers);
    expect(at('Cleanup/ProviderCompleteRole/DefaultPolicy')).toEqual(handlers);
    expect(at('Cleanup/Provider/waiter-state-machine/Role/DefaultPolicy')).toEqual(
      [
        '*',
        '<CleanupProviderframeworkisComplete#.Arn>:*',
        '<CleanupProviderframeworkonTimeout#.Arn>:*',
      ].sort(),
    );
    expect(at('Cleanup/Provider/waiter-state-machine')).toEqual(['AwsSolutions-SF2']);
  });
});
