import aslValidator from 'asl-validator';
import type { LocalTemplates } from './template';

/**
 * State machine definitions taken from the synthesized template (DESIGN.md section 10): the local runtime runs
 * exactly what `cdk deploy` ships, with the template's tokens resolved to local names.
 */

/** One ASL state; only the fields the local tooling reads are typed. */
export interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Parameters?: unknown;
  readonly ResultPath?: string | null;
  readonly TimeoutSeconds?: number;
  readonly Catch?: ReadonlyArray<{
    readonly ErrorEquals: string[];
    readonly Next: string;
    readonly ResultPath?: string;
  }>;
  readonly Retry?: ReadonlyArray<{ readonly ErrorEquals: string[]; readonly MaxAttempts?: number }>;
  readonly Choices?: ReadonlyArray<Record<string, unknown>>;
  readonly Default?: string;
  readonly Branches?: readonly AslDefinition[];
  readonly ItemProcessor?: AslDefinition;
  readonly Iterator?: AslDefinition;
  readonly [key: string]: unknown;
}

export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
  readonly Comment?: string;
  readonly TimeoutSeconds?: number;
  readonly QueryLanguage?: string;
  readonly [key: string]: unknown;
}

export interface TemplateStateMachine {
  readonly stackName: string;
  readonly logicalId: string;
  /** Local name and ARN (what `Fn::GetAtt Name/Arn` resolve to). */
  readonly name: string;
  readonly arn: string;
  readonly definition: AslDefinition;
}

const STATE_MACHINE_TYPE = 'AWS::StepFunctions::StateMachine';

/**
 * The definition of one AWS::StepFunctions::StateMachine: `DefinitionString` (CDK's `Fn::Join`) or `Definition`,
 * tokens resolved, `DefinitionSubstitutions` applied, parsed.
 */
export function definitionOf(local: LocalTemplates, stackName: string, logicalId: string): AslDefinition {
  const resource = local.stack(stackName).template.Resources?.[logicalId];
  if (!resource || resource.Type !== STATE_MACHINE_TYPE) {
    throw new Error(`${stackName}: ${logicalId} is not an ${STATE_MACHINE_TYPE}`);
  }
  const props = resource.Properties ?? {};
  const at = `Resources.${logicalId}.Properties`;
  let text: string;
  if (props.DefinitionString !== undefined) {
    text = local.resolver(stackName).resolveString(props.DefinitionString, `${at}.DefinitionString`);
  } else if (props.Definition !== undefined) {
    text = JSON.stringify(local.resolve(stackName, props.Definition, `${at}.Definition`));
  } else {
    throw new Error(`${stackName}: ${logicalId} has neither DefinitionString nor Definition`);
  }
  if (props.DefinitionSubstitutions !== undefined) {
    const substitutions = local.resolve(
      stackName,
      props.DefinitionSubstitutions,
      `${at}.DefinitionSubstitutions`,
    ) as Record<string, unknown> | undefined;
    text = text.replace(/\$\{([^}]+)\}/g, (_whole, key: string) => {
      const value = substitutions?.[key];
      if (value === undefined)
        throw new Error(`${stackName}: ${logicalId}: no DefinitionSubstitutions value ${key}`);
      // Inside a JSON string: escape what JSON would.
      return JSON.stringify(String(value)).slice(1, -1);
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `${stackName}: ${logicalId}: the resolved definition is not JSON: ${(e as Error).message}`,
    );
  }
  const definition = parsed as AslDefinition;
  if (typeof definition.StartAt !== 'string' || typeof definition.States !== 'object') {
    throw new Error(`${stackName}: ${logicalId}: the definition has no StartAt/States`);
  }
  return definition;
}

/** Every state machine of the app, definitions resolved. */
export function stateMachinesOf(local: LocalTemplates): TemplateStateMachine[] {
  return local.resourcesOfType(STATE_MACHINE_TYPE).map(({ stackName, logicalId }) => {
    const names = local.resource(stackName, logicalId);
    return {
      stackName,
      logicalId,
      name: names.attributes.Name ?? names.ref,
      arn: names.attributes.Arn ?? names.ref,
      definition: definitionOf(local, stackName, logicalId),
    };
  });
}

/**
 * The training state machine: the one state machine that runs a SageMaker training job. Found by what it does,
 * not by its logical id, so refactoring the construct tree does not break the local runtime.
 */
export function trainingStateMachine(local: LocalTemplates): TemplateStateMachine {
  const all = stateMachinesOf(local);
  const training = all.filter((sm) =>
    taskStates(sm.definition).some(
      (t) => t.resource.service === 'sagemaker' && t.resource.action === 'createTrainingJob',
    ),
  );
  if (training.length !== 1) {
    const listed = all.map((sm) => `${sm.stackName}/${sm.logicalId}`).join(', ');
    throw new Error(
      `expected exactly one state machine with a sagemaker:createTrainingJob task, found ${training.length} (state machines: ${listed === '' ? 'none' : listed})`,
    );
  }
  return training[0];
}

/** A Task state's Resource, parsed. */
export interface TaskResource {
  readonly resource: string;
  /**
   * `aws-sdk`: arn:aws:states:::aws-sdk:<service>:<action>; `optimized`: arn:aws:states:::<service>:<action>;
   * `lambda-function`: a Lambda function ARN (CDK's payloadResponseOnly); `activity`: an activity ARN.
   */
  readonly integration: 'aws-sdk' | 'optimized' | 'lambda-function' | 'activity';
  /** Lower case as in the ARN (`sagemaker`, `sns`, `lambda`, `s3`, `sfn`). */
  readonly service: string;
  /** camelCase as in the ARN (`createTrainingJob`, `describeEndpoint`); `invoke` for a Lambda function ARN. */
  readonly action: string;
  readonly pattern: 'request-response' | 'sync' | 'sync:2' | 'waitForTaskToken';
  /** For `lambda-function`: the function name from the ARN. */
  readonly functionName?: string;
}

const INTEGRATION =
  /^arn:[a-z-]+:states:::(aws-sdk:)?([a-z0-9-]+):([A-Za-z0-9]+)(?:\.(sync:2|sync|waitForTaskToken))?$/;
const FUNCTION = /^arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:function:([A-Za-z0-9_-]+)(?::[A-Za-z0-9$_-]+)?$/;
const ACTIVITY = /^arn:[a-z-]+:states:[a-z0-9-]+:\d{12}:activity:(.+)$/;

export function parseTaskResource(resource: string): TaskResource {
  const integration = INTEGRATION.exec(resource);
  if (integration) {
    return {
      resource,
      integration: integration[1] ? 'aws-sdk' : 'optimized',
      service: integration[2],
      action: integration[3],
      pattern: (integration[4] as TaskResource['pattern'] | undefined) ?? 'request-response',
    };
  }
  const fn = FUNCTION.exec(resource);
  if (fn) {
    return {
      resource,
      integration: 'lambda-function',
      service: 'lambda',
      action: 'invoke',
      pattern: 'request-response',
      functionName: fn[1],
    };
  }
  const activity = ACTIVITY.exec(resource);
  if (activity) {
    return {
      resource,
      integration: 'activity',
      service: 'states',
      action: activity[1],
      pattern: 'request-response',
    };
  }
  throw new Error(`unrecognized Task Resource ${resource}`);
}

export interface NamedState {
  readonly name: string;
  readonly state: AslState;
  /** The enclosing Parallel/Map states, outermost first (empty at the top level). */
  readonly within: readonly string[];
}

/** Every state, including those inside Parallel branches and Map item processors. */
export function allStates(definition: AslDefinition, within: readonly string[] = []): NamedState[] {
  const out: NamedState[] = [];
  for (const [name, state] of Object.entries(definition.States)) {
    out.push({ name, state, within });
    const nested = [...(state.Branches ?? []), ...(state.ItemProcessor ? [state.ItemProcessor] : [])];
    if (state.Iterator) nested.push(state.Iterator);
    for (const sub of nested) out.push(...allStates(sub, [...within, name]));
  }
  return out;
}

export interface TaskStateInfo extends NamedState {
  readonly resource: TaskResource;
}

/** Every Task state with its parsed Resource. */
export function taskStates(definition: AslDefinition): TaskStateInfo[] {
  return allStates(definition)
    .filter((s) => s.state.Type === 'Task')
    .map((s) => {
      if (typeof s.state.Resource !== 'string') throw new Error(`Task ${s.name} has no Resource`);
      return { ...s, resource: parseTaskResource(s.state.Resource) };
    });
}

/** The Task states calling one service action (e.g. `sagemaker`, `describeEndpoint`). */
export function tasksCalling(definition: AslDefinition, service: string, action: string): TaskStateInfo[] {
  return taskStates(definition).filter((t) => t.resource.service === service && t.resource.action === action);
}

/**
 * asl-validator's findings for a definition (empty when valid): JSON schema, transitions, terminal states,
 * paths and Task ARNs. It annotates what it is given, so it gets a copy.
 */
export function validateAsl(definition: AslDefinition): string[] {
  const result = aslValidator(JSON.parse(JSON.stringify(definition)), { checkPaths: true, checkArn: true });
  return result.errors.map((e) => `${e['Error code']}: ${e.Message}`);
}
