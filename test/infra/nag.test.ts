import { App, Validations, type Stack } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { buildApp } from '../../lib/app';
import { CONFIG_CONTEXT_KEY } from '../../lib/config';
import { build, defaultConfigInput, projectContext } from './helpers';

/** Rule IDs of the unacknowledged findings, with the construct paths they are on. */
function violations(stack: Stack): string[] {
  return new AwsSolutionsChecks()
    .validateScope(stack)
    .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath ?? '?'}`));
}

/** Every finding, acknowledged or not: the pack with its acknowledgement lookup switched off. */
function allFindings(stack: Stack): Set<string> {
  const checks = new AwsSolutionsChecks();
  // cdk-nag's private lookup (nag-pack.js `isAcknowledged`); if it is ever renamed, this test fails loudly below.
  (checks as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
  return new Set(checks.validateScope(stack).violations.map((v) => v.ruleName));
}

/** Every acknowledgement under `scope`: rule ID -> reason. */
function acknowledgements(scope: IConstruct): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (c: IConstruct) => {
    for (const m of c.node.metadata)
      if (m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        for (const [id, reason] of Object.entries(m.data as Record<string, string>))
          out.set(id.replace(/^annotation::/i, ''), reason);
    c.node.children.forEach(visit);
  };
  visit(scope);
  return out;
}

describe('cdk-nag AwsSolutions', () => {
  describe.each([
    ['retain (default)', {}],
    ['destroy', { 'devmlops:destroy': 'true' }],
  ])('%s', (_mode, context) => {
    const built = build({ context });

    it.each([
      ['data lake', built.dataLake],
      ['pipeline', built.pipeline],
    ])('%s stack has no unacknowledged finding', (_name, stack) => {
      expect(violations(stack)).toEqual([]);
    });

    it.each([
      ['data lake', built.dataLake],
      ['pipeline', built.pipeline],
    ])('%s stack acknowledges exactly its findings, each with a reason', (_name, stack) => {
      const acks = acknowledgements(stack);
      expect([...acks.keys()].sort()).toEqual([...allFindings(stack)].sort());
      for (const reason of acks.values()) expect(reason.length).toBeGreaterThan(40);
    });
  });

  it('lists the acknowledgements this project relies on', () => {
    const built = build();
    expect([...acknowledgements(built.dataLake).keys()]).toEqual([]);
    const pipeline = [...acknowledgements(built.pipeline).keys()].sort();
    expect(
      pipeline.filter((id) => !id.startsWith('AwsSolutions-IAM5[Resource::') || id.endsWith('::*]')),
    ).toEqual([
      'AwsSolutions-APIG3',
      'AwsSolutions-COG4',
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-L1',
      'AwsSolutions-SF2',
    ]);
    // The validation Lambda's object-ARN wildcard grants: raw, curated, quarantine, artifacts reports. (The training
    // pipeline's are listed in training-nag.test.ts.)
    expect(
      pipeline.filter((id) =>
        /^AwsSolutions-IAM5\[Resource::.+(RawBucket|CuratedBucket|QuarantineBucket)Arn\w*\/\*\]$|\/reports\/validation\/\*\]$/.test(
          id,
        ),
      ),
    ).toHaveLength(4);
  });

  it('reports a non-compliant resource (the check is not silently passing)', () => {
    const built = build();
    new sqs.Queue(built.pipeline, 'PlainQueue', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    const found = violations(built.pipeline);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^AwsSolutions-SQS3 at .*\/PlainQueue\/Resource$/),
        expect.stringMatching(/^AwsSolutions-SQS4 at .*\/PlainQueue\/Resource$/),
      ]),
    );
  });

  describe('as the policy-validation plugin of the app (what bin/app.ts does)', () => {
    const app = () => {
      const a = new App({
        context: {
          ...projectContext(),
          'aws:cdk:bundling-stacks': [],
          [CONFIG_CONTEXT_KEY]: defaultConfigInput(),
        },
      });
      const stacks = buildApp(a);
      Validations.of(a).addPlugins(new AwsSolutionsChecks(a));
      return { app: a, stacks };
    };

    it('lets the project synthesize', () => {
      expect(() => app().app.synth()).not.toThrow();
    });

    it('fails synthesis on a finding', () => {
      const { app: a, stacks } = app();
      new sqs.Queue(stacks.pipeline, 'PlainQueue', { enforceSSL: false });
      expect(() => a.synth()).toThrow(/AwsSolutions-SQS4/);
    });
  });
});
