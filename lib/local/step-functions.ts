import { randomUUID } from 'node:crypto';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { allStates, taskStates, type AslDefinition, type TaskResource, type TaskStateInfo } from './asl';

/**
 * Runs a definition taken from the template with aws-local-stepfunctions (DESIGN.md section 10). Its overrides are
 * keyed by state name; here they are built from each Task's Resource, so a new state calling a service action
 * that already has a local handler runs without any change to the local runtime.
 */

// aws-local-stepfunctions uses Promise.withResolvers, which Node 20 lacks.
const promiseCtor = Promise as unknown as { withResolvers?: unknown };
if (typeof promiseCtor.withResolvers !== 'function') {
  promiseCtor.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

/** An error a local task handler raises, with the name Step Functions would report (what Catch/Retry match). */
export class TaskFailure extends Error {
  constructor(errorName: string, cause: string) {
    super(cause);
    this.name = errorName;
  }
}

export interface TaskCall {
  /** The state's name and parsed Resource. */
  readonly task: TaskStateInfo;
  /** The effective input (after InputPath and Parameters): the request the service receives. */
  readonly input: unknown;
}

/**
 * A local handler for one service action. For `lambda-function` Resources and `lambda:invoke` the handler gets
 * the function name and the payload, and returns the function's result (the runner wraps it for lambda:invoke).
 */
export type ServiceHandler = (request: unknown, call: TaskCall) => unknown;
export type LambdaHandler = (functionName: string, payload: unknown, call: TaskCall) => unknown;

export interface LocalServices {
  /** By `<service>:<action>` as in the Resource ARN, e.g. `sagemaker:describeEndpoint`, `sns:publish`. */
  readonly services: Readonly<Record<string, ServiceHandler>>;
  /** Lambda functions, by function name. */
  readonly lambda?: LambdaHandler;
}

export interface RecordedCall {
  readonly state: string;
  readonly resource: TaskResource;
  readonly request: unknown;
  readonly response?: unknown;
  readonly error?: { readonly name: string; readonly message: string };
}

/** The key a Resource routes by. */
export function routeKey(resource: TaskResource): string {
  return `${resource.service}:${resource.action}`;
}

/**
 * The aws-local-stepfunctions overrides for every Task of the definition, each routed by its Resource. Fails
 * before running anything if a Task calls a service action without a local handler.
 */
export function taskOverrides(
  definition: AslDefinition,
  local: LocalServices,
  record?: (call: RecordedCall) => void,
): Record<string, (input: unknown) => Promise<unknown>> {
  const overrides: Record<string, (input: unknown) => Promise<unknown>> = {};
  const missing: string[] = [];
  for (const task of taskStates(definition)) {
    const { resource } = task;
    const isLambda =
      resource.integration === 'lambda-function' ||
      (resource.integration === 'optimized' && resource.service === 'lambda' && resource.action === 'invoke');
    const handler = isLambda ? undefined : local.services[routeKey(resource)];
    if (isLambda ? !local.lambda : !handler) {
      missing.push(`${task.name} (${resource.resource})`);
      continue;
    }
    overrides[task.name] = async (input: unknown) => {
      const call: TaskCall = { task, input };
      try {
        let response: unknown;
        if (resource.integration === 'lambda-function') {
          response = await local.lambda!(resource.functionName!, input, call);
        } else if (isLambda) {
          const { FunctionName, Payload } = (input ?? {}) as { FunctionName?: string; Payload?: unknown };
          if (typeof FunctionName !== 'string')
            throw new TaskFailure('States.Runtime', 'lambda:invoke without FunctionName');
          const payload = await local.lambda!(functionNameOf(FunctionName), Payload, call);
          response = { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
        } else {
          response = await handler!(input, call);
        }
        record?.({ state: task.name, resource, request: input, response });
        return response;
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        record?.({
          state: task.name,
          resource,
          request: input,
          error: { name: err.name, message: err.message },
        });
        throw err;
      }
    };
  }
  if (missing.length > 0) throw new Error(`no local handler for: ${missing.join(', ')}`);
  return overrides;
}

function functionNameOf(nameOrArn: string): string {
  const m = /:function:([^:]+)/.exec(nameOrArn);
  return m ? m[1] : nameOrArn;
}

export interface RunOptions {
  /**
   * `$$.Execution.Name`. (`$$.Execution.StartTime` is always the real start: aws-local-stepfunctions sets it.)
   * @default a random 32-hex name
   */
  readonly executionName?: string;
  /** `$$.StateMachine.Id`/`Name`. */
  readonly stateMachineArn?: string;
  /**
   * Milliseconds each Wait state pauses, and each Retry waits; the definition's durations are meant for SageMaker.
   * @default 0
   */
  readonly waitMilliseconds?: number;
  /** Called with the name of each state as it is entered (progress displays). @default none */
  readonly onStateEntered?: (state: string) => void;
}

export interface ExecutionRecord {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: unknown;
  /** For FAILED: the error and cause the execution failed with. */
  readonly error?: string;
  readonly cause?: string;
  /** The states entered, in order (nested ones included). */
  readonly path: string[];
  readonly calls: RecordedCall[];
  readonly events: unknown[];
}

interface EngineEvent {
  type: string;
  state?: { name: string };
  output?: unknown;
  Error?: string;
  Cause?: unknown;
}

/** Runs one execution to its end and returns what happened: status, output or error, states entered, calls. */
export async function runExecution(
  definition: AslDefinition,
  input: unknown,
  local: LocalServices,
  options: RunOptions = {},
): Promise<ExecutionRecord> {
  const calls: RecordedCall[] = [];
  const overrides = taskOverrides(definition, local, (c) => calls.push(c));
  const wait = options.waitMilliseconds ?? 0;
  const waitTimeOverrides: Record<string, number> = {};
  const retryIntervalOverrides: Record<string, number> = {};
  for (const { name, state } of allStates(definition)) {
    if (state.Type === 'Wait') waitTimeOverrides[name] = wait;
    if (state.Retry) retryIntervalOverrides[name] = wait;
  }
  const executionName = options.executionName ?? randomUUID().replace(/-/g, '');
  const stateMachineArn =
    options.stateMachineArn ?? 'arn:aws:states:us-east-1:000000000000:stateMachine:local';
  const stateMachineName = stateMachineArn.split(':').pop() ?? 'local';
  const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;

  // A JSON round trip, not structuredClone: the engine expands `.$` keys only in objects whose prototype is this
  // realm's Object.prototype, and structuredClone can return another realm's objects (e.g. under jest).
  const copy = JSON.parse(JSON.stringify(definition)) as StateMachineDefinition;
  const machine = new StateMachine(copy, {
    validationOptions: { checkPaths: true, checkArn: true },
  });
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: overrides as never,
      waitTimeOverrides,
      retryIntervalOverrides,
    },
    context: {
      Execution: {
        Id: executionArn,
        Input: input as never,
        Name: executionName,
        RoleArn: `arn:aws:iam::000000000000:role/${stateMachineName}-role`,
      },
      StateMachine: { Id: stateMachineArn, Name: stateMachineName },
      // The engine does not maintain `$$.State`; a getter gives `$$.State.EnteredTime` the time it is read,
      // which is when the state that reads it runs (the engine keeps this object by reference).
      State: {
        get EnteredTime() {
          return new Date().toISOString();
        },
        RetryCount: 0,
      },
    },
  });
  const events: EngineEvent[] = [];
  const collecting = (async () => {
    for await (const event of execution.eventLogs) {
      const e = event as EngineEvent;
      events.push(e);
      if (e.type === 'StateEntered' && e.state) options.onStateEntered?.(e.state.name);
    }
  })();
  let output: unknown;
  let failed = false;
  try {
    output = await execution.result;
  } catch {
    failed = true;
  }
  await collecting;
  const path = events.filter((e) => e.type === 'StateEntered').map((e) => e.state!.name);
  if (!failed) return { status: 'SUCCEEDED', output, path, calls, events };
  const end = events.find((e) => e.type === 'ExecutionFailed');
  return {
    status: 'FAILED',
    error: end?.Error,
    cause: typeof end?.Cause === 'string' ? end.Cause : JSON.stringify(end?.Cause),
    path,
    calls,
    events,
  };
}
