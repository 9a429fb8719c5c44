import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  LocalTemplates,
  TemplateResolutionError,
  TemplateResolver,
  localPseudoParameters,
  readCloudAssembly,
  type CfnTemplate,
} from '../../lib/local/template';
import { synthesizeApp } from '../../lib/local/synthesize';

const pseudo = localPseudoParameters({ region: 'eu-west-1', accountId: '123456789012' });

const template: CfnTemplate = {
  Parameters: { Stage: { Type: 'String', Default: 'dev' }, NoDefault: { Type: 'String' } },
  Mappings: {
    Images: { 'eu-west-1': { account: '685385470294' }, 'us-east-1': { account: '683313688378' } },
  },
  Conditions: {
    IsDev: { 'Fn::Equals': [{ Ref: 'Stage' }, 'dev'] },
    NotDev: { 'Fn::Not': [{ Condition: 'IsDev' }] },
  },
  Resources: {
    Data: { Type: 'AWS::S3::Bucket' },
    Named: { Type: 'AWS::S3::Bucket', Properties: { BucketName: { 'Fn::Sub': 'named-${AWS::AccountId}' } } },
    Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'prepare' } },
    Topic: { Type: 'AWS::SNS::Topic' },
    Machine: { Type: 'AWS::StepFunctions::StateMachine', Properties: { StateMachineName: 'training' } },
    Key: { Type: 'AWS::KMS::Key' },
    Group: {
      Type: 'AWS::SageMaker::ModelPackageGroup',
      Properties: { ModelPackageGroupName: 'devmlops-models' },
    },
    Custom: { Type: 'Custom::Thing' },
    SelfNamed: { Type: 'AWS::S3::Bucket', Properties: { BucketName: { Ref: 'SelfNamed' } } },
  },
};

function resolver(names: Record<string, string | { ref: string; attributes?: Record<string, string> }> = {}) {
  return new TemplateResolver(template, { stackName: 'test-stack', pseudo, names });
}

describe('TemplateResolver', () => {
  it('resolves the pseudo parameters', () => {
    const r = resolver();
    expect(
      r.resolve({
        'Fn::Join': [
          '|',
          [
            { Ref: 'AWS::Region' },
            { Ref: 'AWS::AccountId' },
            { Ref: 'AWS::Partition' },
            { Ref: 'AWS::URLSuffix' },
            { Ref: 'AWS::StackName' },
          ],
        ],
      }),
    ).toBe('eu-west-1|123456789012|aws|amazonaws.com|test-stack');
  });

  it('resolves Ref and Fn::GetAtt to local names, derived per resource type', () => {
    const r = resolver();
    expect(r.resolve({ Ref: 'Data' })).toBe('test-stack-data');
    expect(r.resolve({ 'Fn::GetAtt': ['Data', 'Arn'] })).toBe('arn:aws:s3:::test-stack-data');
    expect(r.resolve({ 'Fn::GetAtt': 'Fn.Arn' })).toBe(
      'arn:aws:lambda:eu-west-1:123456789012:function:prepare',
    );
    expect(r.resolve({ Ref: 'Topic' })).toBe('arn:aws:sns:eu-west-1:123456789012:test-stack-Topic');
    expect(r.resolve({ Ref: 'Machine' })).toBe('arn:aws:states:eu-west-1:123456789012:stateMachine:training');
    expect(r.resolve({ 'Fn::GetAtt': ['Machine', 'Name'] })).toBe('training');
    expect(r.resolve({ Ref: 'Group' })).toBe(
      'arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/devmlops-models',
    );
    expect(r.resolve({ 'Fn::GetAtt': ['Key', 'Arn'] })).toMatch(
      /^arn:aws:kms:eu-west-1:123456789012:key\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
  });

  it('takes a declared physical name (itself resolved) and lets the caller override any name', () => {
    expect(resolver().resolve({ Ref: 'Named' })).toBe('named-123456789012');
    const r = resolver({ Data: 'local-raw', Custom: { ref: 'thing-1', attributes: { Url: 'http://x' } } });
    expect(r.resolve({ 'Fn::GetAtt': ['Data', 'Arn'] })).toBe('arn:aws:s3:::local-raw');
    expect(r.resolve({ 'Fn::GetAtt': ['Custom', 'Url'] })).toBe('http://x');
    expect(r.resolve({ Ref: 'Custom' })).toBe('thing-1');
  });

  it('resolves parameters through their Default', () => {
    expect(resolver().resolve({ Ref: 'Stage' })).toBe('dev');
  });

  it('resolves Fn::FindInMap, including a mapping key that is itself an intrinsic', () => {
    expect(resolver().resolve({ 'Fn::FindInMap': ['Images', { Ref: 'AWS::Region' }, 'account'] })).toBe(
      '685385470294',
    );
  });

  it('resolves Fn::Select and Fn::Split', () => {
    const r = resolver();
    expect(r.resolve({ 'Fn::Select': [1, ['a', { Ref: 'AWS::Region' }, 'c']] })).toBe('eu-west-1');
    expect(r.resolve({ 'Fn::Split': [':', { 'Fn::GetAtt': ['Fn', 'Arn'] }] })).toEqual([
      'arn',
      'aws',
      'lambda',
      'eu-west-1',
      '123456789012',
      'function',
      'prepare',
    ]);
    expect(r.resolve({ 'Fn::Select': [6, { 'Fn::Split': [':', { 'Fn::GetAtt': ['Fn', 'Arn'] }] }] })).toBe(
      'prepare',
    );
  });

  it('resolves Fn::Sub: pseudo parameters, Ref, GetAtt, variables and ${!literal}', () => {
    const r = resolver();
    expect(
      r.resolve({
        'Fn::Sub': [
          'arn:${AWS::Partition}:s3:::${Data}/${Prefix}/* ${Fn.Arn} ${!Literal}',
          { Prefix: { 'Fn::Join': ['', ['cap', 'ture']] } },
        ],
      }),
    ).toBe(
      'arn:aws:s3:::test-stack-data/capture/* arn:aws:lambda:eu-west-1:123456789012:function:prepare ${Literal}',
    );
  });

  it('evaluates Fn::If with conditions, and drops AWS::NoValue', () => {
    const r = resolver();
    expect(
      r.resolve({
        a: { 'Fn::If': ['IsDev', 'yes', 'no'] },
        b: { 'Fn::If': ['NotDev', 1, { Ref: 'AWS::NoValue' }] },
      }),
    ).toEqual({
      a: 'yes',
    });
    expect(r.resolve(['x', { Ref: 'AWS::NoValue' }, 'y'])).toEqual(['x', 'y']);
  });

  it('leaves plain values alone, deep', () => {
    const value = { a: [1, true, null, { b: 'c' }], d: 'e' };
    expect(resolver().resolve(value)).toEqual(value);
  });

  describe('fails loudly', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['an unknown logical id', { Ref: 'Nope' }, /no resource Nope/],
      [
        'an attribute without a local value',
        { 'Fn::GetAtt': ['Custom', 'Endpoint'] },
        /attribute Endpoint of Custom \(Custom::Thing\); known: none/,
      ],
      ['a parameter without value', { Ref: 'NoDefault' }, /parameter NoDefault has no value/],
      [
        'a missing mapping key',
        { 'Fn::FindInMap': ['Images', 'ap-south-2', 'account'] },
        /mapping Images has no ap-south-2\.account/,
      ],
      ['an unknown mapping', { 'Fn::FindInMap': ['Nope', 'a', 'b'] }, /no mapping Nope/],
      ['Fn::Select out of range', { 'Fn::Select': [3, ['a']] }, /index 3 out of range/],
      ['an unsupported intrinsic', { 'Fn::GetAZs': '' }, /unsupported intrinsic Fn::GetAZs/],
      ['Fn::ImportValue without other stacks', { 'Fn::ImportValue': 'x' }, /no other stacks/],
      ['an unknown condition', { 'Fn::If': ['Nope', 1, 2] }, /no condition Nope/],
    ];
    it.each(cases)('%s', (_name, expression, message) => {
      const r = resolver();
      let error: unknown;
      try {
        r.resolve({ Outer: { Inner: [expression] } });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TemplateResolutionError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain('test-stack');
      expect((error as Error).message).toContain('Outer.Inner[0]');
    });

    it('on a physical name that refers to itself, naming where', () => {
      expect(() => resolver().resolve({ Ref: 'SelfNamed' })).toThrow(
        /at Resources\.SelfNamed\.Properties\.BucketName: the name refers to itself/,
      );
    });

    it('on a resource without a name when deriving names is off', () => {
      const r = new TemplateResolver(template, { stackName: 's', pseudo, deriveNames: false });
      expect(() => r.resolve({ Ref: 'Data' })).toThrow(/no local name for Data \(AWS::S3::Bucket\)/);
    });
  });
});

describe('LocalTemplates', () => {
  const exporter: CfnTemplate = {
    Resources: { Bucket: { Type: 'AWS::S3::Bucket' } },
    Outputs: {
      BucketArn: { Value: { 'Fn::GetAtt': ['Bucket', 'Arn'] }, Export: { Name: 'lake:BucketArn' } },
      BucketName: {
        Value: { Ref: 'Bucket' },
        Export: { Name: { 'Fn::Sub': '${AWS::StackName}:BucketName' } },
      },
    },
  };
  const importer: CfnTemplate = { Resources: {} };
  const local = new LocalTemplates(
    [
      { stackName: 'lake', template: exporter },
      { stackName: 'pipe', template: importer },
    ],
    { pseudo: { accountId: '123456789012' }, names: { lake: { Bucket: 'local-lake-bucket' } } },
  );

  it('resolves Fn::ImportValue in the exporting stack, with its local names', () => {
    expect(local.resolve('pipe', { 'Fn::ImportValue': 'lake:BucketArn' })).toBe(
      'arn:aws:s3:::local-lake-bucket',
    );
    expect(local.resolve('pipe', { 'Fn::ImportValue': 'lake:BucketName' })).toBe('local-lake-bucket');
  });

  it('names the exports there are when an import is missing', () => {
    expect(() => local.resolve('pipe', { 'Fn::ImportValue': 'lake:Nope' })).toThrow(
      /no stack exports lake:Nope \(exports: lake:BucketArn, lake:BucketName\)/,
    );
  });

  it('rejects an unknown stack', () => {
    expect(() => local.resolver('nope')).toThrow(/no stack nope \(stacks: lake, pipe\)/);
  });
});

describe('the synthesized app', () => {
  const { templates } = synthesizeApp();
  const local = new LocalTemplates(templates);

  it('resolves every value of every template, cross-stack imports included', () => {
    for (const { stackName, template: t } of templates) {
      // Rules hold CDK's bootstrap-version assertion (Fn::Contains), which is not a value.
      const values = Object.fromEntries(Object.entries(t).filter(([k]) => k !== 'Rules'));
      expect(() => local.resolve(stackName, values)).not.toThrow();
    }
  });

  it('gives the pipeline the data lake bucket names through the exports', () => {
    const pipeline = templates.find((s) => s.stackName.endsWith('-pipeline'))!;
    const lake = templates.find((s) => s.stackName.endsWith('-data-lake'))!;
    const functions = Object.values(pipeline.template.Resources ?? {}).filter(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        (r.Properties?.Environment as { Variables?: Record<string, unknown> })?.Variables?.RAW_BUCKET,
    );
    expect(functions.length).toBeGreaterThan(0);
    const env = local.resolve(
      pipeline.stackName,
      (functions[0].Properties!.Environment as { Variables: unknown }).Variables,
    ) as Record<string, string>;
    const rawId = Object.entries(lake.template.Resources ?? {}).find(
      ([id, r]) => r.Type === 'AWS::S3::Bucket' && id.startsWith('Raw'),
    )![0];
    expect(env.RAW_BUCKET).toBe(local.resource(lake.stackName, rawId).ref);
  });

  it('reads the same templates back from a cloud assembly directory', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmlops-asm-'));
    try {
      const artifacts: Record<string, unknown> = {};
      for (const s of templates) {
        fs.writeFileSync(path.join(dir, `${s.stackName}.template.json`), JSON.stringify(s.template));
        artifacts[s.stackName] = {
          type: 'aws:cloudformation:stack',
          properties: { templateFile: `${s.stackName}.template.json`, stackName: s.stackName },
        };
      }
      artifacts.Tree = { type: 'cdk:tree', properties: { file: 'tree.json' } };
      fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ version: '1', artifacts }));
      expect(readCloudAssembly(dir)).toEqual(templates);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(() => readCloudAssembly(path.join(os.tmpdir(), 'devmlops-no-such-dir'))).toThrow(
      /run cdk synth first/,
    );
  });
});
