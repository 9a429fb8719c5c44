import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { buildApp, type DevMlopsStacks } from '../../lib/app';
import { CONFIG_CONTEXT_KEY, type DevMlopsConfigInput } from '../../lib/config';

const ROOT = path.resolve(__dirname, '..', '..');

/** cdk.json's context: the feature flags and the default config, exactly as `cdk synth` sees them. */
export function projectContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  return cdkJson.context;
}

/** The default config input from cdk.json, as a fresh copy to mutate. */
export function defaultConfigInput(): DevMlopsConfigInput {
  return structuredClone(projectContext()[CONFIG_CONTEXT_KEY]) as DevMlopsConfigInput;
}

export interface Built extends DevMlopsStacks {
  readonly app: App;
  readonly dataLakeTemplate: Template;
  readonly pipelineTemplate: Template;
}

/**
 * One App per call (a template is synthesized once per App). Bundling is skipped: templates are what is asserted,
 * and the Lambda bundle is exercised by `cdk synth` in `npm test`.
 */
export function build(options: { config?: unknown; context?: Record<string, unknown> } = {}): Built {
  const app = new App({
    context: {
      ...projectContext(),
      'aws:cdk:bundling-stacks': [],
      [CONFIG_CONTEXT_KEY]: options.config ?? defaultConfigInput(),
      ...options.context,
    },
  });
  const stacks = buildApp(app);
  return {
    ...stacks,
    app,
    dataLakeTemplate: Template.fromStack(stacks.dataLake),
    pipelineTemplate: Template.fromStack(stacks.pipeline),
  };
}

export type Json = Record<string, unknown>;

/** The logical ID of a construct's CloudFormation resource (its default child, or itself). */
export function logicalId(construct: IConstruct): string {
  const el = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(el).getLogicalId(el) as string;
}

/**
 * Renders a template expression as a readable string: `Fn::GetAtt` as `Id.Attr`, `Ref` as `Id`, a join as the
 * joined string, and an `Fn::ImportValue` as the expression the exporting template exports under that name
 * (so `RawBucket.Arn/*` reads the same in either stack).
 */
export function render(expr: unknown, exporter?: Template): string {
  if (typeof expr === 'string') return expr;
  const o = expr as Json;
  if (o && typeof o === 'object') {
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => render(p, exporter)).join(sep);
    }
    if ('Fn::GetAtt' in o) return (o['Fn::GetAtt'] as string[]).join('.');
    if ('Ref' in o) return String(o.Ref);
    if ('Fn::ImportValue' in o && exporter) {
      const name = o['Fn::ImportValue'];
      const outputs = (exporter.toJSON().Outputs ?? {}) as Record<
        string,
        { Value: unknown; Export?: { Name: unknown } }
      >;
      const out = Object.values(outputs).find((x) => x.Export?.Name === name);
      if (!out) throw new Error(`no export named ${String(name)}`);
      return render(out.Value, exporter);
    }
  }
  return JSON.stringify(expr);
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * Every (effect, action, resource, condition) a policy document grants, one string each and sorted, so that
 * assertions do not depend on how CDK merges statements.
 */
export function permissions(policyDocument: Json, exporter?: Template): string[] {
  const out: string[] = [];
  for (const s of asArray(policyDocument.Statement as Json[])) {
    const condition = s.Condition ? ` if ${JSON.stringify(s.Condition)}` : '';
    for (const action of asArray(s.Action as string[]))
      for (const resource of asArray(s.Resource))
        out.push(`${String(s.Effect)} ${action} ${render(resource, exporter)}${condition}`);
  }
  return out.sort();
}

/** The resources of a type, by logical ID. */
export function resourcesOf(template: Template, type: string): Record<string, Json> {
  return template.findResources(type) as Record<string, Json>;
}

export function props(resource: Json): Json {
  return resource.Properties as Json;
}
