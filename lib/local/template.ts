import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The synthesized templates, read the way the local runtime needs them (DESIGN.md section 10): nothing about the
 * pipeline is written twice; values are taken from the template and their intrinsics resolved with local names.
 */

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Condition?: string;
  readonly [key: string]: unknown;
}

export interface CfnOutput {
  readonly Value: unknown;
  readonly Export?: { readonly Name: unknown };
}

export interface CfnTemplate {
  readonly Resources?: Record<string, CfnResource>;
  readonly Outputs?: Record<string, CfnOutput>;
  readonly Mappings?: Record<string, Record<string, Record<string, unknown>>>;
  readonly Parameters?: Record<string, { readonly Type: string; readonly Default?: unknown }>;
  readonly Conditions?: Record<string, unknown>;
  readonly [key: string]: unknown;
}

export interface StackTemplate {
  /** The CloudFormation stack name (e.g. `devmlops-pipeline`). */
  readonly stackName: string;
  readonly template: CfnTemplate;
}

/** The values of the pseudo parameters in the local runtime. */
export interface PseudoParameters {
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  readonly urlSuffix: string;
}

/** The local account (the one lib/local/s3.ts puts into events) and region. */
export function localPseudoParameters(overrides: Partial<PseudoParameters> = {}): PseudoParameters {
  return {
    region: overrides.region ?? process.env.AWS_REGION ?? 'us-east-1',
    accountId: overrides.accountId ?? '000000000000',
    partition: overrides.partition ?? 'aws',
    urlSuffix: overrides.urlSuffix ?? 'amazonaws.com',
  };
}

/** What `Ref` and `Fn::GetAtt` of one resource give locally. */
export interface LocalResource {
  readonly ref: string;
  readonly attributes: Readonly<Record<string, string>>;
}

/**
 * A local name for a resource: either a physical name (its Ref and attributes are then derived from the resource
 * type, e.g. a bucket's `Arn`), or the complete Ref and attributes.
 */
export type LocalResourceInput =
  string | { readonly ref: string; readonly attributes?: Record<string, string> };

/** Thrown for anything the resolver cannot give a local value; names the stack, the path and the expression. */
export class TemplateResolutionError extends Error {
  constructor(
    readonly stackName: string,
    readonly at: string,
    readonly expression: unknown,
    reason: string,
  ) {
    super(
      `${stackName}: cannot resolve ${JSON.stringify(expression)} at ${at === '' ? '(root)' : at}: ${reason}`,
    );
    this.name = 'TemplateResolutionError';
  }
}

/** Marks `{"Ref": "AWS::NoValue"}`: the enclosing property or list item is dropped, as CloudFormation does. */
const NO_VALUE = Symbol('AWS::NoValue');

interface TypeNaming {
  /** The property holding the physical name, when the template may set one. */
  readonly nameProperty?: string;
  /** Generated names are lower-cased and cut to this length. */
  readonly lowerCase?: boolean;
  readonly maxLength?: number;
  readonly make: (name: string, p: PseudoParameters) => LocalResource;
}

const arn = (p: PseudoParameters, service: string, resource: string, regional = true): string =>
  `arn:${p.partition}:${service}:${regional ? p.region : ''}:${p.accountId}:${resource}`;

/**
 * What `Ref` and the common `Fn::GetAtt` attributes return per resource type, following the CloudFormation
 * reference "Return values" of each type. Types not listed get only a Ref (their physical name); a `Fn::GetAtt`
 * on them fails loudly unless the caller supplies the attribute.
 */
const TYPES: Record<string, TypeNaming> = {
  'AWS::S3::Bucket': {
    nameProperty: 'BucketName',
    lowerCase: true,
    maxLength: 63,
    make: (n, p) => ({
      ref: n,
      attributes: {
        Arn: `arn:${p.partition}:s3:::${n}`,
        DomainName: `${n}.s3.${p.urlSuffix}`,
        RegionalDomainName: `${n}.s3.${p.region}.${p.urlSuffix}`,
      },
    }),
  },
  'AWS::Lambda::Function': {
    nameProperty: 'FunctionName',
    maxLength: 64,
    make: (n, p) => ({ ref: n, attributes: { Arn: arn(p, 'lambda', `function:${n}`) } }),
  },
  'AWS::SNS::Topic': {
    nameProperty: 'TopicName',
    maxLength: 256,
    make: (n, p) => {
      const topicArn = arn(p, 'sns', n);
      return { ref: topicArn, attributes: { TopicArn: topicArn, TopicName: n } };
    },
  },
  'AWS::SQS::Queue': {
    nameProperty: 'QueueName',
    maxLength: 80,
    make: (n, p) => {
      const url = `https://sqs.${p.region}.${p.urlSuffix}/${p.accountId}/${n}`;
      return { ref: url, attributes: { Arn: arn(p, 'sqs', n), QueueName: n, QueueUrl: url } };
    },
  },
  'AWS::StepFunctions::StateMachine': {
    nameProperty: 'StateMachineName',
    maxLength: 80,
    make: (n, p) => {
      const smArn = arn(p, 'states', `stateMachine:${n}`);
      return { ref: smArn, attributes: { Arn: smArn, Name: n } };
    },
  },
  'AWS::IAM::Role': {
    nameProperty: 'RoleName',
    maxLength: 64,
    make: (n, p) => ({
      ref: n,
      attributes: { Arn: arn(p, 'iam', `role/${n}`, false), RoleId: `AROA${hashOf(n, 17).toUpperCase()}` },
    }),
  },
  'AWS::KMS::Key': {
    make: (n, p) => {
      const h = hashOf(n, 32);
      const keyId = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
      return { ref: keyId, attributes: { Arn: arn(p, 'kms', `key/${keyId}`), KeyId: keyId } };
    },
  },
  'AWS::CloudWatch::Alarm': {
    nameProperty: 'AlarmName',
    maxLength: 255,
    make: (n, p) => ({ ref: n, attributes: { Arn: arn(p, 'cloudwatch', `alarm:${n}`) } }),
  },
  'AWS::SageMaker::ModelPackageGroup': {
    nameProperty: 'ModelPackageGroupName',
    maxLength: 63,
    make: (n, p) => {
      const groupArn = arn(p, 'sagemaker', `model-package-group/${n.toLowerCase()}`);
      return { ref: groupArn, attributes: { ModelPackageGroupArn: groupArn, ModelPackageGroupName: n } };
    },
  },
  'AWS::Logs::LogGroup': {
    nameProperty: 'LogGroupName',
    maxLength: 512,
    make: (n, p) => ({ ref: n, attributes: { Arn: arn(p, 'logs', `log-group:${n}:*`) } }),
  },
  'AWS::Events::Rule': {
    nameProperty: 'Name',
    maxLength: 64,
    make: (n, p) => ({ ref: n, attributes: { Arn: arn(p, 'events', `rule/${n}`) } }),
  },
  'AWS::Events::EventBus': {
    nameProperty: 'Name',
    maxLength: 256,
    make: (n, p) => ({ ref: n, attributes: { Arn: arn(p, 'events', `event-bus/${n}`), Name: n } }),
  },
  // A REST API's Ref is its generated id (10 characters), not its Name; methods hang off RootResourceId.
  'AWS::ApiGateway::RestApi': {
    make: (n) => {
      const id = hashOf(n, 10);
      return { ref: id, attributes: { RestApiId: id, RootResourceId: hashOf(`${n}/`, 10) } };
    },
  },
  // The stage name is part of URLs and execute-api ARNs built from the Ref.
  'AWS::ApiGateway::Stage': { nameProperty: 'StageName', make: (n) => ({ ref: n, attributes: {} }) },
  'AWS::KinesisFirehose::DeliveryStream': {
    nameProperty: 'DeliveryStreamName',
    maxLength: 64,
    make: (n, p) => ({ ref: n, attributes: { Arn: arn(p, 'firehose', `deliverystream/${n}`) } }),
  },
  'AWS::IAM::ManagedPolicy': {
    nameProperty: 'ManagedPolicyName',
    maxLength: 128,
    make: (n, p) => {
      const policyArn = arn(p, 'iam', `policy/${n}`, false);
      return { ref: policyArn, attributes: { PolicyArn: policyArn } };
    },
  },
  'AWS::Scheduler::Schedule': {
    nameProperty: 'Name',
    maxLength: 64,
    make: (n, p) => ({ ref: n, attributes: { Arn: arn(p, 'scheduler', `schedule/default/${n}`) } }),
  },
};

function hashOf(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function intrinsicOf(value: Record<string, unknown>): string | undefined {
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const key = keys[0];
  return key === 'Ref' || key === 'Condition' || key.startsWith('Fn::') ? key : undefined;
}

export interface TemplateResolverOptions {
  readonly stackName: string;
  readonly pseudo: PseudoParameters;
  /** Local names by logical id; resources without one get a name derived from the stack name and logical id. */
  readonly names?: Readonly<Record<string, LocalResourceInput>>;
  /** Values of template parameters (else their Default). */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Resolves `Fn::ImportValue` (the export's value, resolved in the exporting stack). */
  readonly importValue?: (exportName: string) => unknown;
  /**
   * Whether resources without an entry in `names` get a derived local name.
   * @default true
   */
  readonly deriveNames?: boolean;
}

/** Resolves the intrinsic functions of one template's values with local names. */
export class TemplateResolver {
  private readonly resources = new Map<string, LocalResource>();
  private readonly naming = new Set<string>();

  constructor(
    readonly template: CfnTemplate,
    readonly options: TemplateResolverOptions,
  ) {}

  get stackName(): string {
    return this.options.stackName;
  }

  /** Deep-resolves `value`; `at` names where it sits, for error messages. */
  resolve(value: unknown, at = ''): unknown {
    const out = this.walk(value, at);
    if (out === NO_VALUE)
      throw new TemplateResolutionError(this.stackName, at, value, 'AWS::NoValue at the top');
    return out;
  }

  /** Resolves `value` and insists on a string. */
  resolveString(value: unknown, at = ''): string {
    const out = this.resolve(value, at);
    if (typeof out !== 'string') {
      throw new TemplateResolutionError(
        this.stackName,
        at,
        value,
        `expected a string, got ${JSON.stringify(out)}`,
      );
    }
    return out;
  }

  /** The local Ref and attributes of a resource. */
  localResource(logicalId: string, at = ''): LocalResource {
    const known = this.resources.get(logicalId);
    if (known) return known;
    const resource = this.template.Resources?.[logicalId];
    if (!resource) {
      throw new TemplateResolutionError(this.stackName, at, { Ref: logicalId }, `no resource ${logicalId}`);
    }
    if (this.naming.has(logicalId)) {
      throw new TemplateResolutionError(this.stackName, at, { Ref: logicalId }, 'the name refers to itself');
    }
    this.naming.add(logicalId);
    try {
      const made = this.makeLocal(logicalId, resource, at);
      this.resources.set(logicalId, made);
      return made;
    } finally {
      this.naming.delete(logicalId);
    }
  }

  private makeLocal(logicalId: string, resource: CfnResource, at: string): LocalResource {
    const naming = TYPES[resource.Type];
    const given = this.options.names?.[logicalId];
    if (isObject(given)) return { ref: given.ref, attributes: { ...(given.attributes ?? {}) } };
    let name = given;
    if (name === undefined) {
      const declared = naming?.nameProperty ? resource.Properties?.[naming.nameProperty] : undefined;
      if (declared !== undefined) {
        name = this.resolveString(declared, `Resources.${logicalId}.Properties.${naming?.nameProperty}`);
      } else if (this.options.deriveNames ?? true) {
        name = derivedName(this.stackName, logicalId, naming);
      } else {
        throw new TemplateResolutionError(
          this.stackName,
          at,
          { Ref: logicalId },
          `no local name for ${logicalId} (${resource.Type})`,
        );
      }
    }
    return naming ? naming.make(name, this.options.pseudo) : { ref: name, attributes: {} };
  }

  private walk(value: unknown, at: string): unknown {
    if (Array.isArray(value)) {
      return value.map((v, i) => this.walk(v, `${at}[${i}]`)).filter((v) => v !== NO_VALUE);
    }
    if (!isObject(value)) return value;
    const fn = intrinsicOf(value);
    if (fn) return this.intrinsic(fn, value[fn], value, at);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = this.walk(v, at === '' ? k : `${at}.${k}`);
      if (r !== NO_VALUE) out[k] = r;
    }
    return out;
  }

  private fail(at: string, expression: unknown, reason: string): never {
    throw new TemplateResolutionError(this.stackName, at, expression, reason);
  }

  private str(value: unknown, at: string, expression: unknown): string {
    const out = this.walk(value, at);
    if (typeof out === 'string') return out;
    if (typeof out === 'number' || typeof out === 'boolean') return String(out);
    return this.fail(at, expression, `expected a string, got ${JSON.stringify(out)}`);
  }

  private list(value: unknown, at: string, expression: unknown): unknown[] {
    const out = this.walk(value, at);
    if (!Array.isArray(out)) return this.fail(at, expression, `expected a list, got ${JSON.stringify(out)}`);
    return out;
  }

  private intrinsic(fn: string, arg: unknown, expression: unknown, at: string): unknown {
    switch (fn) {
      case 'Ref':
        return this.ref(arg, expression, at);
      case 'Fn::GetAtt':
        return this.getAtt(arg, expression, at);
      case 'Fn::Join': {
        if (!Array.isArray(arg) || arg.length !== 2 || typeof arg[0] !== 'string') {
          return this.fail(at, expression, 'Fn::Join takes [delimiter, [values]]');
        }
        const parts = this.list(arg[1], at, expression);
        return parts.map((p) => this.str(p, at, expression)).join(arg[0]);
      }
      case 'Fn::Select': {
        if (!Array.isArray(arg) || arg.length !== 2)
          return this.fail(at, expression, 'Fn::Select takes [index, list]');
        const index = Number(this.walk(arg[0], at));
        const items = this.list(arg[1], at, expression);
        if (!Number.isInteger(index) || index < 0 || index >= items.length) {
          return this.fail(at, expression, `index ${index} out of range 0..${items.length - 1}`);
        }
        return items[index];
      }
      case 'Fn::Split': {
        if (!Array.isArray(arg) || arg.length !== 2 || typeof arg[0] !== 'string' || arg[0] === '') {
          return this.fail(at, expression, 'Fn::Split takes [delimiter, string]');
        }
        return this.str(arg[1], at, expression).split(arg[0]);
      }
      case 'Fn::FindInMap':
        return this.findInMap(arg, expression, at);
      case 'Fn::Sub':
        return this.sub(arg, expression, at);
      case 'Fn::ImportValue': {
        const name = this.str(arg, at, expression);
        if (!this.options.importValue) return this.fail(at, expression, 'no other stacks to import from');
        return this.options.importValue(name);
      }
      case 'Fn::Base64':
        return Buffer.from(this.str(arg, at, expression), 'utf8').toString('base64');
      case 'Fn::If': {
        if (!Array.isArray(arg) || arg.length !== 3 || typeof arg[0] !== 'string') {
          return this.fail(at, expression, 'Fn::If takes [condition, then, else]');
        }
        return this.walk(this.condition(arg[0], at) ? arg[1] : arg[2], at);
      }
      case 'Condition':
      case 'Fn::Equals':
      case 'Fn::Not':
      case 'Fn::And':
      case 'Fn::Or':
        return this.evaluate(expression, at);
      default:
        return this.fail(at, expression, `unsupported intrinsic ${fn}`);
    }
  }

  private ref(arg: unknown, expression: unknown, at: string): unknown {
    if (typeof arg !== 'string') return this.fail(at, expression, 'Ref takes a name');
    const p = this.options.pseudo;
    switch (arg) {
      case 'AWS::Region':
        return p.region;
      case 'AWS::AccountId':
        return p.accountId;
      case 'AWS::Partition':
        return p.partition;
      case 'AWS::URLSuffix':
        return p.urlSuffix;
      case 'AWS::StackName':
        return this.stackName;
      case 'AWS::StackId':
        return arn(p, 'cloudformation', `stack/${this.stackName}/${hashOf(this.stackName, 32)}`);
      case 'AWS::NoValue':
        return NO_VALUE;
      case 'AWS::NotificationARNs':
        return [];
    }
    const parameter = this.template.Parameters?.[arg];
    if (parameter) {
      const value = this.options.parameters?.[arg] ?? parameter.Default;
      if (value === undefined)
        return this.fail(at, expression, `parameter ${arg} has no value and no Default`);
      return value;
    }
    return this.localResource(arg, at).ref;
  }

  private getAtt(arg: unknown, expression: unknown, at: string): string {
    let id: string;
    let attribute: string;
    if (typeof arg === 'string') {
      const dot = arg.indexOf('.');
      if (dot <= 0) return this.fail(at, expression, 'Fn::GetAtt takes "Id.Attribute" or [Id, Attribute]');
      id = arg.slice(0, dot);
      attribute = arg.slice(dot + 1);
    } else if (Array.isArray(arg) && arg.length === 2 && typeof arg[0] === 'string') {
      id = arg[0];
      attribute = this.str(arg[1], at, expression);
    } else {
      return this.fail(at, expression, 'Fn::GetAtt takes "Id.Attribute" or [Id, Attribute]');
    }
    const local = this.localResource(id, at);
    const value = local.attributes[attribute];
    if (value === undefined) {
      const type = this.template.Resources?.[id]?.Type ?? 'unknown type';
      const known = Object.keys(local.attributes);
      return this.fail(
        at,
        expression,
        `no local value for attribute ${attribute} of ${id} (${type}); known: ${known.length ? known.join(', ') : 'none'}`,
      );
    }
    return value;
  }

  private findInMap(arg: unknown, expression: unknown, at: string): unknown {
    if (!Array.isArray(arg) || arg.length < 3) {
      return this.fail(at, expression, 'Fn::FindInMap takes [map, topKey, secondKey]');
    }
    const [mapName, top, second] = arg.slice(0, 3).map((a) => this.str(a, at, expression));
    const map = this.template.Mappings?.[mapName];
    if (!map) return this.fail(at, expression, `no mapping ${mapName}`);
    const value = map[top]?.[second];
    if (value !== undefined) return this.walk(value, at);
    // The AWS::LanguageExtensions form: a 4th argument {DefaultValue}.
    const fallback = arg[3];
    if (isObject(fallback) && 'DefaultValue' in fallback) return this.walk(fallback.DefaultValue, at);
    return this.fail(
      at,
      expression,
      `mapping ${mapName} has no ${top}.${second} (keys: ${Object.keys(map).join(', ')})`,
    );
  }

  private sub(arg: unknown, expression: unknown, at: string): string {
    let text: unknown = arg;
    let variables: Record<string, unknown> = {};
    if (Array.isArray(arg)) {
      if (arg.length !== 2 || !isObject(arg[1]))
        return this.fail(at, expression, 'Fn::Sub takes text or [text, {vars}]');
      text = arg[0];
      variables = arg[1];
    }
    if (typeof text !== 'string') return this.fail(at, expression, 'Fn::Sub text must be a string');
    return text.replace(/\$\{([^}]*)\}/g, (_whole, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      const trimmed = name.trim();
      if (trimmed in variables) return this.str(variables[trimmed], at, expression);
      if (trimmed.startsWith('AWS::') || !trimmed.includes('.')) {
        const v = this.ref(trimmed, expression, at);
        if (typeof v !== 'string') return this.fail(at, expression, `\${${trimmed}} is not a string`);
        return v;
      }
      return this.getAtt(trimmed, expression, at);
    });
  }

  private condition(name: string, at: string): boolean {
    const definition = this.template.Conditions?.[name];
    if (definition === undefined) return this.fail(at, { Condition: name }, `no condition ${name}`);
    return this.evaluate(definition, `Conditions.${name}`);
  }

  private evaluate(expression: unknown, at: string): boolean {
    if (!isObject(expression)) return this.fail(at, expression, 'expected a condition function');
    const fn = intrinsicOf(expression);
    const arg = fn ? expression[fn] : undefined;
    switch (fn) {
      case 'Condition':
        return this.condition(String(arg), at);
      case 'Fn::Equals': {
        if (!Array.isArray(arg) || arg.length !== 2)
          return this.fail(at, expression, 'Fn::Equals takes two values');
        return JSON.stringify(this.walk(arg[0], at)) === JSON.stringify(this.walk(arg[1], at));
      }
      case 'Fn::Not':
        if (!Array.isArray(arg) || arg.length !== 1)
          return this.fail(at, expression, 'Fn::Not takes one condition');
        return !this.evaluate(arg[0], at);
      case 'Fn::And':
        if (!Array.isArray(arg)) return this.fail(at, expression, 'Fn::And takes a list');
        return arg.every((c) => this.evaluate(c, at));
      case 'Fn::Or':
        if (!Array.isArray(arg)) return this.fail(at, expression, 'Fn::Or takes a list');
        return arg.some((c) => this.evaluate(c, at));
      default:
        return this.fail(at, expression, 'expected a condition function');
    }
  }
}

function derivedName(stackName: string, logicalId: string, naming: TypeNaming | undefined): string {
  let name = `${stackName}-${logicalId}`;
  if (naming?.lowerCase) name = name.toLowerCase();
  const max = naming?.maxLength;
  // Cut names keep a hash of the full one, so two long logical ids cannot collide.
  if (max !== undefined && name.length > max) name = `${name.slice(0, max - 9)}-${hashOf(name, 8)}`;
  return name;
}

export interface LocalTemplatesOptions {
  readonly pseudo?: Partial<PseudoParameters>;
  /** Local names by stack name, then logical id. */
  readonly names?: Readonly<Record<string, Readonly<Record<string, LocalResourceInput>>>>;
  /** Template parameter values by stack name. */
  readonly parameters?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** @default true */
  readonly deriveNames?: boolean;
}

/** The templates of an app, with one resolver per stack; `Fn::ImportValue` reads the other stacks' exports. */
export class LocalTemplates {
  readonly pseudo: PseudoParameters;
  private readonly resolvers = new Map<string, TemplateResolver>();
  private readonly importing = new Set<string>();

  constructor(
    readonly stacks: readonly StackTemplate[],
    private readonly options: LocalTemplatesOptions = {},
  ) {
    this.pseudo = localPseudoParameters(options.pseudo);
  }

  stack(stackName: string): StackTemplate {
    const found = this.stacks.find((s) => s.stackName === stackName);
    if (!found) {
      throw new Error(`no stack ${stackName} (stacks: ${this.stacks.map((s) => s.stackName).join(', ')})`);
    }
    return found;
  }

  resolver(stackName: string): TemplateResolver {
    let r = this.resolvers.get(stackName);
    if (!r) {
      r = new TemplateResolver(this.stack(stackName).template, {
        stackName,
        pseudo: this.pseudo,
        names: this.options.names?.[stackName],
        parameters: this.options.parameters?.[stackName],
        deriveNames: this.options.deriveNames,
        importValue: (name) => this.importValue(name),
      });
      this.resolvers.set(stackName, r);
    }
    return r;
  }

  resolve(stackName: string, value: unknown, at = ''): unknown {
    return this.resolver(stackName).resolve(value, at);
  }

  /** The local Ref and attributes of a resource of a stack. */
  resource(stackName: string, logicalId: string): LocalResource {
    return this.resolver(stackName).localResource(logicalId);
  }

  /** Every resource of a type, as [stackName, logicalId, resource]. */
  resourcesOfType(type: string): Array<{ stackName: string; logicalId: string; resource: CfnResource }> {
    const out: Array<{ stackName: string; logicalId: string; resource: CfnResource }> = [];
    for (const s of this.stacks) {
      for (const [logicalId, resource] of Object.entries(s.template.Resources ?? {})) {
        if (resource.Type === type) out.push({ stackName: s.stackName, logicalId, resource });
      }
    }
    return out;
  }

  /** The value of a cross-stack export, resolved in the stack that exports it. */
  importValue(exportName: string): unknown {
    if (this.importing.has(exportName)) throw new Error(`export ${exportName} refers to itself`);
    const names: string[] = [];
    this.importing.add(exportName);
    try {
      for (const s of this.stacks) {
        for (const [outputId, output] of Object.entries(s.template.Outputs ?? {})) {
          if (output.Export === undefined) continue;
          const resolver = this.resolver(s.stackName);
          const name = resolver.resolveString(output.Export.Name, `Outputs.${outputId}.Export.Name`);
          names.push(name);
          if (name === exportName) return resolver.resolve(output.Value, `Outputs.${outputId}.Value`);
        }
      }
    } finally {
      this.importing.delete(exportName);
    }
    throw new Error(
      `Fn::ImportValue: no stack exports ${exportName} (exports: ${names.length ? names.join(', ') : 'none'})`,
    );
  }
}

/** The stack templates of a cloud assembly directory written by `cdk synth` (e.g. cdk.out). */
export function readCloudAssembly(directory: string): StackTemplate[] {
  const manifestPath = path.join(directory, 'manifest.json');
  if (!fs.existsSync(manifestPath)) throw new Error(`${manifestPath} not found: run cdk synth first`);
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as {
    artifacts?: Record<
      string,
      { type: string; properties?: { templateFile?: string; stackName?: string }; displayName?: string }
    >;
  };
  const out: StackTemplate[] = [];
  for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type !== 'aws:cloudformation:stack' || !artifact.properties?.templateFile) continue;
    const template = JSON.parse(
      fs.readFileSync(path.join(directory, artifact.properties.templateFile), 'utf8'),
    ) as CfnTemplate;
    out.push({ stackName: artifact.properties.stackName ?? id, template });
  }
  return out;
}
