import type { Template } from 'aws-cdk-lib/assertions';
import { build, defaultConfigInput, render, resourcesOf, type Built, type Json } from './helpers';

/** A state of the definition, loosely typed: tests read fields by their ASL names. */
export type State = Json & { Type: string };

export interface Asl {
  StartAt: string;
  States: Record<string, State>;
  Comment?: string;
}

/**
 * Renders one token of the DefinitionString's Fn::Join as `${...}`: a Ref or GetAtt as `${Id}` / `${Id.Attr}`,
 * a cross-stack import as the exporting stack's expression (`${ArtifactsBucket}`, `${DataKey.Arn}`), the XGBoost
 * registry lookup as `${XgboostAccount}`.
 */
function token(part: unknown, lake: Template): string {
  const o = part as Json;
  if (o && typeof o === 'object' && 'Fn::FindInMap' in o) {
    const [, region, key] = o['Fn::FindInMap'] as [string, Json, string];
    expect(region).toEqual({ Ref: 'AWS::Region' });
    expect(key).toBe('account');
    return '${XgboostAccount}';
  }
  return `\${${render(part, lake)}}`;
}

/** The state machine definition of a built pipeline stack, parsed, with its tokens rendered. */
export function definitionOf(built: Built): Asl {
  // The other state machine is the cleanup provider framework's waiter.
  const machines = Object.entries(resourcesOf(built.pipelineTemplate, 'AWS::StepFunctions::StateMachine'))
    .filter(([id]) => id.startsWith('TrainingStateMachine'))
    .map(([, r]) => r);
  expect(machines).toHaveLength(1);
  const def = (machines[0].Properties as Json).DefinitionString as Json;
  const [sep, parts] = def['Fn::Join'] as [string, unknown[]];
  const text = parts.map((p) => (typeof p === 'string' ? p : token(p, built.dataLakeTemplate))).join(sep);
  return JSON.parse(text) as Asl;
}

/** The logical ID of the pipeline resource whose logical ID starts with `prefix` (exactly one). */
export function idOf(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(resourcesOf(template, type)).filter((id) => id.startsWith(prefix));
  expect(ids).toHaveLength(1);
  return ids[0];
}

/** Builds the stacks from the default config with `edit` applied. */
export function buildWith(edit: (config: Json) => void = () => {}, context?: Record<string, unknown>): Built {
  const config = defaultConfigInput() as unknown as Json;
  edit(config);
  return build({ config, context });
}

/** Follows Next/Default from `from` through `choices` (state -> chosen branch) and returns the states visited. */
export function path(asl: Asl, from: string, choices: Record<string, string> = {}, max = 60): string[] {
  const out: string[] = [];
  let name: string | undefined = from;
  while (name !== undefined && out.length < max) {
    out.push(name);
    const s: State = asl.States[name];
    expect(s).toBeDefined();
    if (s.Type === 'Choice') name = choices[name] ?? (s.Default as string);
    else if (s.End === true || s.Type === 'Succeed' || s.Type === 'Fail') name = undefined;
    else name = s.Next as string;
  }
  return out;
}

/** The Choice rules' targets, in order, then the default. */
export function choiceTargets(state: State): string[] {
  return [...(state.Choices as Json[]).map((c) => c.Next as string), state.Default as string];
}
