import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { FunctionSource } from './app-description';
import type { LocalTemplates } from './template';

/**
 * The project's Lambda functions, run in-process from their source. Which file, which export and which environment
 * each one gets come from the app itself (the DevFunction constructs, read where the app is synthesized, and their
 * resolved template properties), so a function added or re-wired in CDK runs locally without a change here.
 */

export interface LocalFunction {
  /** The function name as the template resolves it locally (what ARNs and event source mappings name). */
  readonly name: string;
  readonly arn: string;
  readonly stackName: string;
  readonly logicalId: string;
  /** The handler's TypeScript source. */
  readonly entry: string;
  readonly handlerName: string;
  /** Environment.Variables of the template, resolved to local names. */
  readonly environment: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
}

/**
 * Variables whose values may differ between functions: they are read once, when the shared Powertools module loads,
 * and only name the log source. Any other conflict means two handlers would read each other's configuration in one
 * process, which the local runtime refuses to hide.
 */
const PER_FUNCTION = new Set(['POWERTOOLS_SERVICE_NAME', 'NODE_OPTIONS']);

/** Each function of the app (its source, from lib/local/synthesize.ts), with what the template says about it. */
export function localFunctions(sources: readonly FunctionSource[], local: LocalTemplates): LocalFunction[] {
  return sources.map(({ stackName, logicalId, entry, handlerName }) => {
    const resource = local.resource(stackName, logicalId);
    const props = local.resolve(
      stackName,
      local.stack(stackName).template.Resources?.[logicalId]?.Properties ?? {},
      `Resources.${logicalId}.Properties`,
    ) as { Environment?: { Variables?: Record<string, string> }; Timeout?: number; MemorySize?: number };
    return {
      name: resource.ref,
      arn: resource.attributes.Arn,
      stackName,
      logicalId,
      entry,
      handlerName,
      environment: props.Environment?.Variables ?? {},
      timeoutSeconds: props.Timeout ?? 3,
      memorySize: props.MemorySize ?? 128,
    };
  });
}

/** The environment all functions share in one process; throws naming the variables that conflict. */
export function sharedEnvironment(functions: readonly LocalFunction[]): Record<string, string> {
  const env: Record<string, string> = {};
  const owner: Record<string, string> = {};
  const conflicts: string[] = [];
  for (const f of functions) {
    for (const [k, v] of Object.entries(f.environment)) {
      if (PER_FUNCTION.has(k)) continue;
      if (k in env && env[k] !== v) conflicts.push(`${k} (${owner[k]} vs ${f.name})`);
      env[k] = v;
      owner[k] = f.name;
    }
  }
  if (conflicts.length > 0)
    throw new Error(
      `these Lambda environment variables differ between functions and cannot share one process: ${conflicts.join(', ')}`,
    );
  return env;
}

export interface InvocationRecord {
  readonly functionName: string;
  readonly durationMs: number;
  readonly error?: { readonly name: string; readonly message: string };
}

export interface LocalLambdasOptions {
  readonly functions: readonly LocalFunction[];
  /** Called after every invocation (the platform turns these into AWS/Lambda metrics). */
  readonly onInvocation?: (record: InvocationRecord) => void;
}

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** What the structural copy leaves to JSON itself. */
const NOT_PLAIN = Symbol('not plain');
/**
 * Deeper than this the copy leaves the value to JSON: real results are shallow, and a cycle reaches it, so JSON
 * throws its own TypeError for it without the copy keeping a list of ancestors.
 */
const MAX_PLAIN_DEPTH = 64;
/** A longer array (a sparse one, say) is left to JSON, which may refuse it, rather than filled with nulls here. */
const MAX_PLAIN_LENGTH = 1_000_000;

/**
 * What `JSON.parse(JSON.stringify(value))` gives (or throws), the way a value crosses the Lambda boundary, without
 * the round trip for the usual value: strings, numbers, booleans, null, plain objects and arrays are copied as
 * JSON would carry them (strings shared, as they are immutable; -0 as 0, NaN and Infinity as null; undefined and
 * symbols dropped from objects and null in arrays). Anything else anywhere in it (toJSON, Dates, class instances,
 * functions, BigInts, boxed primitives, a top-level undefined, a cycle) sends the whole value through JSON, so its
 * result and errors are JSON's own. On the inference API's path the round trip of a proxy result (a body of 100
 * predictions, escaped and unescaped) cost about 30 µs per request, and of its event (a 19 KB body) about 65 µs,
 * where the copy takes about 2 µs: the body is one string, shared. The copy reads each property once, in JSON's
 * order; only a value that then goes through JSON has its getters called a second time.
 */
export function jsonCopy(value: unknown): unknown {
  const copy = plainCopy(value, 0);
  return copy !== NOT_PLAIN ? copy : JSON.parse(JSON.stringify(value));
}

function plainCopy(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? (value === 0 ? 0 : value) : null;
    case 'object':
      return value === null ? null : plainObjectCopy(value, depth + 1);
    default:
      // undefined and symbols depend on where they are (the callers handle them), the rest is JSON's business.
      return NOT_PLAIN;
  }
}

function plainObjectCopy(value: object, depth: number): unknown {
  if (depth > MAX_PLAIN_DEPTH || (value as { toJSON?: unknown }).toJSON !== undefined) return NOT_PLAIN;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Array.prototype && Array.isArray(value)) {
    const array = value as unknown[];
    const length = array.length;
    if (length > MAX_PLAIN_LENGTH) return NOT_PLAIN;
    const out: unknown[] = [];
    for (let i = 0; i < length; i++) {
      const v = array[i];
      if (v === undefined || typeof v === 'symbol') {
        out.push(null);
        continue;
      }
      const c = plainCopy(v, depth);
      if (c === NOT_PLAIN) return NOT_PLAIN;
      out.push(c);
    }
    return out;
  }
  if (proto !== Object.prototype) return NOT_PLAIN;
  const object = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(object)) {
    const v = object[k];
    if (v === undefined || typeof v === 'symbol') continue;
    const c = plainCopy(v, depth);
    if (c === NOT_PLAIN) return NOT_PLAIN;
    // JSON.parse defines an own `__proto__` property; assigning one would set the prototype instead.
    if (k === '__proto__')
      Object.defineProperty(out, k, { value: c, writable: true, enumerable: true, configurable: true });
    else out[k] = c;
  }
  return out;
}

/** Invokes the project's handlers in-process, as Lambda would: by name or ARN, with a context and a timeout. */
export class LocalLambdas {
  readonly functions: readonly LocalFunction[];
  private readonly byName = new Map<string, LocalFunction>();
  private readonly loaded = new Map<string, Handler>();
  private readonly onInvocation?: (record: InvocationRecord) => void;

  constructor(options: LocalLambdasOptions) {
    this.functions = options.functions;
    for (const f of options.functions) {
      this.byName.set(f.name, f);
      this.byName.set(f.arn, f);
    }
    this.onInvocation = options.onInvocation;
  }

  /** The function a name or ARN (qualified or not) refers to. */
  find(nameOrArn: string): LocalFunction | undefined {
    const direct = this.byName.get(nameOrArn);
    if (direct) return direct;
    const m = /:function:([^:]+)/.exec(nameOrArn);
    return m ? this.byName.get(m[1]) : undefined;
  }

  async invoke(nameOrArn: string, event: unknown): Promise<unknown> {
    const fn = this.find(nameOrArn);
    if (!fn) {
      const error = new Error(`Function not found: ${nameOrArn}`);
      error.name = 'ResourceNotFoundException';
      throw error;
    }
    const handler = this.handlerOf(fn);
    const started = Date.now();
    const deadline = started + fn.timeoutSeconds * 1000;
    const context = {
      callbackWaitsForEmptyEventLoop: false,
      functionName: fn.name,
      functionVersion: '$LATEST',
      invokedFunctionArn: fn.arn,
      memoryLimitInMB: String(fn.memorySize),
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${fn.name}`,
      logStreamName: 'local',
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    } as Context;
    let timer: NodeJS.Timeout | undefined;
    try {
      // An in-process handler cannot be killed at its timeout; the caller stops waiting, as Lambda's would.
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const e = new Error(`Task timed out after ${fn.timeoutSeconds}.00 seconds`);
          e.name = 'Sandbox.Timedout';
          reject(e);
        }, fn.timeoutSeconds * 1000);
      });
      const result = await Promise.race([handler(jsonCopy(event ?? null), context), timeout]);
      this.onInvocation?.({ functionName: fn.name, durationMs: Date.now() - started });
      // What crosses the Lambda boundary is JSON.
      return result === undefined ? null : jsonCopy(result);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      this.onInvocation?.({
        functionName: fn.name,
        durationMs: Date.now() - started,
        error: { name: err.name, message: err.message },
      });
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  private handlerOf(fn: LocalFunction): Handler {
    let handler = this.loaded.get(fn.name);
    if (!handler) {
      // Loaded on first use, as a cold start: handlers read their environment when their module loads.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require(fn.entry) as Record<string, unknown>;
      const h = mod[fn.handlerName];
      if (typeof h !== 'function')
        throw new Error(`${fn.entry} does not export a function ${fn.handlerName}`);
      handler = h as Handler;
      this.loaded.set(fn.name, handler);
    }
    return handler;
  }
}
