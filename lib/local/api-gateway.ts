import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { canonicalPath, escapeUri, signingKey, stringToSign } from '../../lambdas/shared/sigv4';
import { KEEP_ALIVE_MILLISECONDS, listenOnLoopback, readRequestBody } from './aws-api-server';
import type { LocalTemplates } from './template';

/**
 * API Gateway REST APIs for the local platform, read from the synthesized templates (DESIGN.md section 10: nothing
 * written twice): the resources and their paths, each method's AuthorizationType, its AWS_PROXY integration with a
 * Lambda function (and the AWS::Lambda::Permission that lets API Gateway invoke it), the request validator with the
 * method's JSON-schema model, the stages with their MethodSettings throttling and access log format, and the
 * gateway responses. One loopback server per API serves `http://127.0.0.1:<port>/<stage>/<path>`, as
 * `https://<api-id>.execute-api.<region>.amazonaws.com/<stage>/<path>` is served:
 *
 * - routing first: an unknown stage, path or method is 403 `Missing Authentication Token` (API Gateway does not say
 *   404, so as not to reveal which paths exist);
 * - AWS_IAM methods need a SigV4 Authorization header for service `execute-api` in the platform's region, signed
 *   with credentials the platform handed out; a missing, malformed, stale, unknown-key or wrong signature is a 403
 *   with API Gateway's message and `x-amzn-ErrorType`;
 * - a token bucket per method from the stage's throttling: 429 `Too Many Requests`;
 * - body validation against the model: 400 `Invalid request body`;
 * - then the Lambda proxy integration (payload format 1.0): the function's result becomes the HTTP response; an
 *   error, a malformed result or a missing permission is a 502/500 `Internal server error`, a result later than the
 *   integration timeout 504 `Endpoint request timed out`.
 * IAM policies (execute-api:Invoke) are not evaluated: the local credentials stand for a caller that has them.
 */

// ---- definitions read from the templates ------------------------------------------------------------------------

export type JsonSchema = Readonly<Record<string, unknown>>;

export interface MethodDefinition {
  /** `/v1/predict`; parameters as `{name}` / `{name+}`. */
  readonly resourcePath: string;
  /** POST, GET, ... or ANY. */
  readonly httpMethod: string;
  readonly authorizationType: string;
  /** AWS_PROXY integrations only: the function the integration Uri names. */
  readonly functionArn?: string;
  readonly integrationType: string;
  readonly timeoutMillis: number;
  readonly validateBody: boolean;
  /** JSON-schema models by content type (`application/json`, `$default`). */
  readonly models: Readonly<Record<string, JsonSchema>>;
}

export interface ThrottleSettings {
  /** Requests per second (steady state). */
  readonly rateLimit: number;
  readonly burstLimit: number;
}

export interface StageDefinition {
  readonly stageName: string;
  /** Throttling of every method without settings of its own (MethodSettings `/*` `*`). */
  readonly throttle: ThrottleSettings;
  /** Per method: `<HTTP method> <resource path>`. */
  readonly methodThrottle: Readonly<Record<string, ThrottleSettings>>;
  readonly accessLogFormat?: string;
  readonly tracingEnabled: boolean;
}

export interface GatewayResponseDefinition {
  readonly statusCode?: number;
  /** Header name -> value (the template's `'literal'` values, quotes removed). */
  readonly headers: Readonly<Record<string, string>>;
  /** The `application/json` response template. */
  readonly template?: string;
}

export interface LambdaPermission {
  /** Function name or ARN, as the permission names it. */
  readonly functionName: string;
  /** With `*` wildcards; undefined = any source. */
  readonly sourceArn?: string;
}

export interface RestApiDefinition {
  readonly restApiId: string;
  readonly name: string;
  readonly stackName: string;
  readonly logicalId: string;
  readonly binaryMediaTypes: readonly string[];
  readonly methods: readonly MethodDefinition[];
  readonly stages: readonly StageDefinition[];
  readonly gatewayResponses: Readonly<Record<string, GatewayResponseDefinition>>;
  readonly permissions: readonly LambdaPermission[];
}

/** API Gateway's account-level default throttling (per region): 10,000 requests/s, burst 5,000. */
const ACCOUNT_THROTTLE: ThrottleSettings = { rateLimit: 10_000, burstLimit: 5_000 };
/** API Gateway's maximum integration timeout for REST APIs (29 s) is the default. */
const DEFAULT_TIMEOUT_MILLIS = 29_000;
/** API Gateway's payload limit. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** SigV4 requests must be signed within 5 minutes of the server's time. */
const MAX_SKEW_MILLIS = 5 * 60_000;

function hash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

interface MethodSetting {
  HttpMethod?: string;
  ResourcePath?: string;
  ThrottlingRateLimit?: number;
  ThrottlingBurstLimit?: number;
}

/** Every REST API of the templates; throws naming the resource for what the local gateway cannot serve. */
export function restApisFromTemplates(local: LocalTemplates): RestApiDefinition[] {
  const apis: RestApiDefinition[] = [];
  for (const api of local.resourcesOfType('AWS::ApiGateway::RestApi')) {
    const { stackName } = api;
    const stack = local.stack(stackName).template;
    const resources = Object.entries(stack.Resources ?? {});
    const restApiId = local.resource(stackName, api.logicalId).ref;
    const props = (id: string): Record<string, unknown> =>
      local.resolve(stackName, stack.Resources![id].Properties ?? {}, `Resources.${id}.Properties`) as Record<
        string,
        unknown
      >;
    const belongs = (id: string): boolean => {
      const ref = stack.Resources![id].Properties?.RestApiId;
      return local.resolve(stackName, ref, `Resources.${id}.Properties.RestApiId`) === restApiId;
    };
    const ofType = (type: string) =>
      resources.filter(([id, r]) => r.Type === type && belongs(id)).map(([id]) => id);

    // Paths: each Resource's ParentId is the root (RootResourceId) or another Resource's Ref.
    const rootId = local.resource(stackName, api.logicalId).attributes.RootResourceId;
    const pathById = new Map<string, string>([[rootId, '/']]);
    const pending = ofType('AWS::ApiGateway::Resource').map((id) => ({
      ref: local.resource(stackName, id).ref,
      ...(props(id) as { ParentId: string; PathPart: string }),
    }));
    while (pending.length > 0) {
      const i = pending.findIndex((r) => pathById.has(r.ParentId));
      if (i < 0)
        throw new Error(`REST API ${stackName}/${api.logicalId}: a resource's parent is not in the API`);
      const [r] = pending.splice(i, 1);
      const parent = pathById.get(r.ParentId)!;
      pathById.set(r.ref, `${parent === '/' ? '' : parent}/${r.PathPart}`);
    }

    const models = new Map<string, JsonSchema>();
    for (const id of ofType('AWS::ApiGateway::Model')) {
      const p = props(id) as { Name?: string; Schema?: unknown };
      let schema = p.Schema;
      if (typeof schema === 'string') schema = JSON.parse(schema);
      checkSchema(schema, `${stackName}/${id}`);
      models.set(local.resource(stackName, id).ref, schema as JsonSchema);
      if (p.Name !== undefined) models.set(p.Name, schema as JsonSchema);
    }
    const validators = new Map<string, boolean>();
    for (const id of ofType('AWS::ApiGateway::RequestValidator')) {
      const p = props(id) as { ValidateRequestBody?: boolean };
      validators.set(local.resource(stackName, id).ref, p.ValidateRequestBody === true);
    }

    const methods: MethodDefinition[] = ofType('AWS::ApiGateway::Method').map((id) => {
      const p = props(id) as {
        HttpMethod: string;
        ResourceId: string;
        AuthorizationType?: string;
        Integration?: { Type?: string; Uri?: string; TimeoutInMillis?: number };
        RequestValidatorId?: string;
        RequestModels?: Record<string, string>;
      };
      const resourcePath = pathById.get(p.ResourceId);
      if (resourcePath === undefined)
        throw new Error(`REST API ${stackName}/${api.logicalId}: method ${id} is on an unknown resource`);
      const integrationType = p.Integration?.Type ?? 'MOCK';
      let functionArn: string | undefined;
      if (integrationType === 'AWS_PROXY') {
        functionArn = /:lambda:path\/[^/]+\/functions\/(.+)\/invocations$/.exec(
          p.Integration?.Uri ?? '',
        )?.[1];
        if (!functionArn)
          throw new Error(
            `${stackName}/${id}: AWS_PROXY integration Uri "${p.Integration?.Uri}" is not a Lambda function`,
          );
      }
      const methodModels: Record<string, JsonSchema> = {};
      for (const [contentType, ref] of Object.entries(p.RequestModels ?? {})) {
        const m = models.get(ref);
        // Empty and Error are API Gateway's built-in models: Empty validates nothing.
        if (m) methodModels[contentType.toLowerCase()] = m;
        else if (ref !== 'Empty' && ref !== 'Error')
          throw new Error(`${stackName}/${id}: request model ${ref} is not in the API`);
      }
      return {
        resourcePath,
        httpMethod: p.HttpMethod.toUpperCase(),
        authorizationType: p.AuthorizationType ?? 'NONE',
        functionArn,
        integrationType,
        timeoutMillis: p.Integration?.TimeoutInMillis ?? DEFAULT_TIMEOUT_MILLIS,
        validateBody: p.RequestValidatorId !== undefined && validators.get(p.RequestValidatorId) === true,
        models: methodModels,
      };
    });

    const stageOf = (
      stageName: string,
      settings: MethodSetting[],
      stageLevel: { rate?: number; burst?: number },
      accessLogFormat: string | undefined,
      tracingEnabled: boolean,
    ): StageDefinition => {
      let throttle: ThrottleSettings = {
        rateLimit: stageLevel.rate ?? ACCOUNT_THROTTLE.rateLimit,
        burstLimit: stageLevel.burst ?? ACCOUNT_THROTTLE.burstLimit,
      };
      const methodThrottle: Record<string, ThrottleSettings> = {};
      for (const s of settings) {
        const limits = {
          rateLimit: s.ThrottlingRateLimit ?? throttle.rateLimit,
          burstLimit: s.ThrottlingBurstLimit ?? throttle.burstLimit,
        };
        if (s.ResourcePath === '/*' && (s.HttpMethod ?? '*') === '*') throttle = limits;
        else if (s.ResourcePath !== undefined && s.HttpMethod !== undefined)
          // MethodSettings escape '/' in a resource path as '~1'.
          methodThrottle[`${s.HttpMethod.toUpperCase()} ${s.ResourcePath.replace(/~1/g, '/')}`] = limits;
      }
      return { stageName, throttle, methodThrottle, accessLogFormat, tracingEnabled };
    };
    const stages: StageDefinition[] = ofType('AWS::ApiGateway::Stage').map((id) => {
      const p = props(id) as {
        StageName: string;
        MethodSettings?: MethodSetting[];
        AccessLogSetting?: { Format?: string };
        TracingEnabled?: boolean;
      };
      return stageOf(
        p.StageName,
        p.MethodSettings ?? [],
        {},
        p.AccessLogSetting?.Format,
        p.TracingEnabled === true,
      );
    });
    // A Deployment can create its stage itself (StageName + StageDescription).
    for (const id of ofType('AWS::ApiGateway::Deployment')) {
      const p = props(id) as {
        StageName?: string;
        StageDescription?: {
          ThrottlingRateLimit?: number;
          ThrottlingBurstLimit?: number;
          MethodSettings?: MethodSetting[];
          AccessLogSetting?: { Format?: string };
          TracingEnabled?: boolean;
        };
      };
      if (p.StageName === undefined || stages.some((s) => s.stageName === p.StageName)) continue;
      const d = p.StageDescription ?? {};
      stages.push(
        stageOf(
          p.StageName,
          d.MethodSettings ?? [],
          { rate: d.ThrottlingRateLimit, burst: d.ThrottlingBurstLimit },
          d.AccessLogSetting?.Format,
          d.TracingEnabled === true,
        ),
      );
    }

    const gatewayResponses: Record<string, GatewayResponseDefinition> = {};
    for (const id of ofType('AWS::ApiGateway::GatewayResponse')) {
      const p = props(id) as {
        ResponseType: string;
        StatusCode?: string;
        ResponseParameters?: Record<string, string>;
        ResponseTemplates?: Record<string, string>;
      };
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(p.ResponseParameters ?? {})) {
        const name = /^gatewayresponse\.header\.(.+)$/.exec(k)?.[1];
        if (name && /^'.*'$/.test(v)) headers[name] = v.slice(1, -1);
      }
      gatewayResponses[p.ResponseType] = {
        statusCode: p.StatusCode !== undefined ? Number(p.StatusCode) : undefined,
        headers,
        template: p.ResponseTemplates?.['application/json'],
      };
    }

    const permissions: LambdaPermission[] = [];
    for (const { stackName: s, logicalId, resource } of local.resourcesOfType('AWS::Lambda::Permission')) {
      const p = resource.Properties ?? {};
      if (p.Principal !== 'apigateway.amazonaws.com') continue;
      const resolved = local.resolve(s, p, `Resources.${logicalId}.Properties`) as {
        FunctionName: string;
        SourceArn?: string;
      };
      permissions.push({ functionName: resolved.FunctionName, sourceArn: resolved.SourceArn });
    }

    const apiProps = props(api.logicalId) as { Name?: string; BinaryMediaTypes?: string[] };
    apis.push({
      restApiId,
      name: apiProps.Name ?? api.logicalId,
      stackName,
      logicalId: api.logicalId,
      binaryMediaTypes: (apiProps.BinaryMediaTypes ?? []).map((t) => t.replace(/~1/g, '/').toLowerCase()),
      methods,
      stages,
      gatewayResponses,
      permissions,
    });
  }
  return apis;
}

// ---- JSON schema (draft 4, the keywords request models use) ------------------------------------------------------

const SCHEMA_KEYWORDS = new Set([
  '$schema',
  'id',
  'title',
  'description',
  'default',
  'definitions',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'patternProperties',
  'items',
  'additionalItems',
  'minItems',
  'maxItems',
  'uniqueItems',
  'enum',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'minProperties',
  'maxProperties',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'format',
]);

/** Refuses, at load, a model the validator would silently not check ($ref, unknown keywords). */
function checkSchema(schema: unknown, at: string): void {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    throw new Error(`${at}: a model schema must be an object`);
  for (const [k, v] of Object.entries(schema)) {
    if (!SCHEMA_KEYWORDS.has(k))
      throw new Error(`${at}: JSON schema keyword "${k}" is not supported locally`);
    if (k === 'properties' || k === 'patternProperties' || k === 'definitions')
      for (const [name, sub] of Object.entries(v as object)) checkSchema(sub, `${at}.${k}.${name}`);
    else if (k === 'items' || k === 'additionalItems' || k === 'additionalProperties' || k === 'not') {
      if (Array.isArray(v)) v.forEach((sub, i) => checkSchema(sub, `${at}.${k}[${i}]`));
      else if (typeof v === 'object') checkSchema(v, `${at}.${k}`);
    } else if (k === 'allOf' || k === 'anyOf' || k === 'oneOf')
      (v as unknown[]).forEach((sub, i) => checkSchema(sub, `${at}.${k}[${i}]`));
  }
}

const TYPE_BITS: Readonly<Record<string, number>> = {
  null: 1,
  array: 2,
  integer: 4,
  number: 8,
  string: 16,
  boolean: 32,
  object: 64,
};

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** A schema prepared once: sets, maps and regular expressions instead of lookups per value. */
interface CompiledSchema {
  readonly types?: readonly string[];
  /** The types as bits (TYPE_BITS), an integer also being a number; 0 when any type is allowed. */
  readonly typeMask: number;
  readonly enumJson?: ReadonlySet<string>;
  readonly enumValues?: readonly unknown[];
  readonly required: readonly string[];
  readonly minProperties?: number;
  readonly maxProperties?: number;
  readonly properties?: ReadonlyMap<string, CompiledSchema>;
  readonly patterns?: ReadonlyArray<readonly [RegExp, CompiledSchema]>;
  /** false: no other properties; a schema: other properties must match it. */
  readonly additionalProperties?: false | CompiledSchema;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly uniqueItems: boolean;
  readonly items?: CompiledSchema | readonly CompiledSchema[];
  readonly additionalItems: boolean;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum: boolean;
  readonly exclusiveMaximum: boolean;
  readonly multipleOf?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: RegExp;
  readonly allOf?: readonly CompiledSchema[];
  readonly anyOf?: readonly CompiledSchema[];
  readonly oneOf?: readonly CompiledSchema[];
  readonly not?: CompiledSchema;
  /** The quick yes of `acceptor`; undefined when the schema needs the full check. */
  readonly accepts?: (value: unknown) => boolean;
}

const compiled = new WeakMap<object, CompiledSchema>();

/** Annotations: nothing to check. */
const ANNOTATION_KEYWORDS = new Set(['$schema', 'id', 'title', 'description', 'default']);

/**
 * Keywords `acceptor` decides alone: the request models' own (the inference API's is types, properties,
 * additionalProperties, required, items, minItems and maxItems). `definitions` is inert without `$ref`.
 */
const QUICK_KEYWORDS = new Set([
  ...ANNOTATION_KEYWORDS,
  'definitions',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'maxItems',
]);

/** A value's TYPE_BITS bit (integer or number, never both); 0 for what JSON cannot hold. */
function typeBit(v: unknown): number {
  if (typeof v === 'string') return TYPE_BITS.string;
  if (typeof v === 'number') return Number.isInteger(v) ? TYPE_BITS.integer : TYPE_BITS.number;
  if (typeof v === 'boolean') return TYPE_BITS.boolean;
  if (v === null) return TYPE_BITS.null;
  if (Array.isArray(v)) return TYPE_BITS.array;
  return typeof v === 'object' ? TYPE_BITS.object : 0;
}

const ANY_TYPE = 0x7f;

/**
 * A yes/no check equal to `checkValue` finding no error, for schemas of QUICK_KEYWORDS; undefined for any other.
 * Valid bodies are the common case, and the full check pays for pointers, messages and a call per value and
 * keyword: 36 µs for a 100-record inference request (1,000 values), against 9 for this. A no is checked again in
 * full, for the messages.
 */
function acceptor(schema: JsonSchema, c: CompiledSchema): ((value: unknown) => boolean) | undefined {
  if (Object.keys(schema).some((k) => !QUICK_KEYWORDS.has(k)) || Array.isArray(c.items)) return undefined;
  const items = c.items as CompiledSchema | undefined;
  const subs = [...(c.properties?.values() ?? []), items, c.additionalProperties || undefined];
  if (subs.some((x) => x !== undefined && x.accepts === undefined)) return undefined;
  const allowed = (x: CompiledSchema): number =>
    x.typeMask !== 0 || x.types !== undefined ? x.typeMask : ANY_TYPE;
  const mask = allowed(c);
  const { required, properties, minItems, maxItems } = c;
  const additional = c.additionalProperties;
  // A property whose schema only names types is decided by its type bit, without a call per value.
  const typeOnly = new Map<string, number>();
  for (const [name, sub] of Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>))
    if (Object.keys(sub).every((k) => k === 'type' || ANNOTATION_KEYWORDS.has(k)))
      typeOnly.set(name, allowed(properties!.get(name)!));
  const object = (obj: Record<string, unknown>): boolean => {
    for (let i = 0; i < required.length; i++) if (!Object.hasOwn(obj, required[i])) return false;
    // for-in visits the own keys, and any enumerable inherited one, which can only turn a yes into a full check.
    for (const k in obj) {
      const types = typeOnly.get(k);
      if (types !== undefined) {
        if ((types & typeBit(obj[k])) === 0) return false;
        continue;
      }
      const p = properties?.get(k);
      if (p !== undefined) {
        if (!p.accepts!(obj[k])) return false;
      } else if (additional === false) return false;
      else if (additional !== undefined && !additional.accepts!(obj[k])) return false;
    }
    return true;
  };
  const array = (arr: unknown[]): boolean => {
    if (minItems !== undefined && arr.length < minItems) return false;
    if (maxItems !== undefined && arr.length > maxItems) return false;
    if (items !== undefined) for (let i = 0; i < arr.length; i++) if (!items.accepts!(arr[i])) return false;
    return true;
  };
  return (value) => {
    const bit = typeBit(value);
    if ((mask & bit) === 0) return false;
    if (bit === TYPE_BITS.object) return object(value as Record<string, unknown>);
    if (bit === TYPE_BITS.array) return array(value as unknown[]);
    return true;
  };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

function compileSchema(schema: JsonSchema): CompiledSchema {
  const known = compiled.get(schema);
  if (known) return known;
  const sub = (v: unknown): CompiledSchema => compileSchema(v as JsonSchema);
  const list = (v: unknown): CompiledSchema[] | undefined => (Array.isArray(v) ? v.map(sub) : undefined);
  const props = schema.properties as Record<string, unknown> | undefined;
  const patterns = schema.patternProperties as Record<string, unknown> | undefined;
  const types =
    schema.type === undefined
      ? undefined
      : ((Array.isArray(schema.type) ? schema.type : [schema.type]) as string[]);
  const c: CompiledSchema = {
    types,
    typeMask: (types ?? []).reduce(
      (m, t) => m | (TYPE_BITS[t] ?? 0) | (t === 'number' ? TYPE_BITS.integer : 0),
      0,
    ),
    enumJson: Array.isArray(schema.enum) ? new Set(schema.enum.map((e) => JSON.stringify(e))) : undefined,
    enumValues: Array.isArray(schema.enum) ? schema.enum : undefined,
    required: (schema.required ?? []) as string[],
    minProperties: num(schema.minProperties),
    maxProperties: num(schema.maxProperties),
    properties: props ? new Map(Object.entries(props).map(([k, v]) => [k, sub(v)])) : undefined,
    patterns: patterns
      ? Object.entries(patterns).map(([k, v]) => [new RegExp(k), sub(v)] as const)
      : undefined,
    additionalProperties:
      schema.additionalProperties === false
        ? false
        : typeof schema.additionalProperties === 'object'
          ? sub(schema.additionalProperties)
          : undefined,
    minItems: num(schema.minItems),
    maxItems: num(schema.maxItems),
    uniqueItems: schema.uniqueItems === true,
    items: Array.isArray(schema.items)
      ? list(schema.items)
      : typeof schema.items === 'object'
        ? sub(schema.items)
        : undefined,
    additionalItems: schema.additionalItems !== false,
    minimum: num(schema.minimum),
    maximum: num(schema.maximum),
    exclusiveMinimum: schema.exclusiveMinimum === true,
    exclusiveMaximum: schema.exclusiveMaximum === true,
    multipleOf: num(schema.multipleOf),
    minLength: num(schema.minLength),
    maxLength: num(schema.maxLength),
    pattern: typeof schema.pattern === 'string' ? new RegExp(schema.pattern) : undefined,
    allOf: list(schema.allOf),
    anyOf: list(schema.anyOf),
    oneOf: list(schema.oneOf),
    not: typeof schema.not === 'object' ? sub(schema.not) : undefined,
  };
  compiled.set(schema, { ...c, accepts: acceptor(schema, c) });
  return compiled.get(schema)!;
}

function report(errors: string[], pointer: string, message: string): void {
  errors.push(pointer === '' ? message : `${message} (at ${pointer})`);
}

/**
 * The JSON pointer of a value: its parent's pointer and its key (none for the root). Values are checked with
 * the two apart and the pointer is joined only for a message or for a container's children, since a valid
 * 100-record body would otherwise build a string for each of its ~1000 values.
 */
function at(parent: string, key: string | number | undefined): string {
  return key === undefined ? parent : `${parent}/${key}`;
}

/** Stops collecting after this many: enough to say why; a 1000-record batch must not build 1000 messages. */
const MAX_SCHEMA_ERRORS = 10;

function checkValue(
  c: CompiledSchema,
  value: unknown,
  parent: string,
  key: string | number | undefined,
  errors: string[],
): void {
  const type = typeOf(value);
  if (c.typeMask !== 0 || c.types !== undefined) {
    if ((c.typeMask & TYPE_BITS[type]) === 0) {
      report(
        errors,
        at(parent, key),
        `instance type (${type}) does not match any allowed primitive type (allowed: ${JSON.stringify(c.types)})`,
      );
      return;
    }
  }
  if (c.enumJson !== undefined && !c.enumJson.has(JSON.stringify(value)))
    report(
      errors,
      at(parent, key),
      `instance value (${JSON.stringify(value)}) not found in enum (possible values: ${JSON.stringify(c.enumValues)})`,
    );
  if (type === 'object') checkObject(c, value as Record<string, unknown>, at(parent, key), errors);
  else if (type === 'array') checkArray(c, value as unknown[], at(parent, key), errors);
  else if (type === 'number' || type === 'integer') {
    const n = value as number;
    if (c.minimum !== undefined && (c.exclusiveMinimum ? n <= c.minimum : n < c.minimum))
      report(
        errors,
        at(parent, key),
        `numeric instance is lower than the required minimum (minimum: ${c.minimum}, found: ${n})`,
      );
    if (c.maximum !== undefined && (c.exclusiveMaximum ? n >= c.maximum : n > c.maximum))
      report(
        errors,
        at(parent, key),
        `numeric instance is greater than the required maximum (maximum: ${c.maximum}, found: ${n})`,
      );
    if (c.multipleOf !== undefined && !Number.isInteger(n / c.multipleOf))
      report(errors, at(parent, key), `numeric instance is not a multiple of ${c.multipleOf}`);
  } else if (type === 'string') {
    const str = value as string;
    if (c.minLength !== undefined || c.maxLength !== undefined) {
      const length = [...str].length;
      if (c.minLength !== undefined && length < c.minLength)
        report(
          errors,
          at(parent, key),
          `string "${str}" is too short (length: ${length}, required minimum: ${c.minLength})`,
        );
      if (c.maxLength !== undefined && length > c.maxLength)
        report(
          errors,
          at(parent, key),
          `string "${str}" is too long (length: ${length}, maximum allowed: ${c.maxLength})`,
        );
    }
    if (c.pattern !== undefined && !c.pattern.test(str))
      report(
        errors,
        at(parent, key),
        `ECMA 262 regex "${c.pattern.source}" does not match input string "${str}"`,
      );
  }
  if (c.allOf) for (const x of c.allOf) checkValue(x, value, parent, key, errors);
  if (c.anyOf && !c.anyOf.some((x) => validateCompiled(x, value, at(parent, key)).length === 0))
    report(
      errors,
      at(parent, key),
      `instance failed to match at least one required schema among ${c.anyOf.length}`,
    );
  if (c.oneOf) {
    const n = c.oneOf.filter((x) => validateCompiled(x, value, at(parent, key)).length === 0).length;
    if (n !== 1)
      report(
        errors,
        at(parent, key),
        `instance failed to match exactly one schema (matched ${n} out of ${c.oneOf.length})`,
      );
  }
  if (c.not && validateCompiled(c.not, value, at(parent, key)).length === 0)
    report(errors, at(parent, key), 'instance matched a schema which it should not have');
}

function checkObject(
  c: CompiledSchema,
  obj: Record<string, unknown>,
  pointer: string,
  errors: string[],
): void {
  let missing: string[] | undefined;
  // Own properties only: `in` would find a required "toString" on every object.
  for (const k of c.required) if (!Object.hasOwn(obj, k)) (missing ??= []).push(k);
  if (missing) report(errors, pointer, `object has missing required properties (${JSON.stringify(missing)})`);
  const keys = Object.keys(obj);
  if (c.minProperties !== undefined && keys.length < c.minProperties)
    report(
      errors,
      pointer,
      `object has too few properties (found ${keys.length} but schema requires at least ${c.minProperties})`,
    );
  if (c.maxProperties !== undefined && keys.length > c.maxProperties)
    report(
      errors,
      pointer,
      `object has too many properties (found ${keys.length} but schema requires at most ${c.maxProperties})`,
    );
  let extra: string[] | undefined;
  for (const k of keys) {
    let matched = false;
    const p = c.properties?.get(k);
    if (p) {
      matched = true;
      checkValue(p, obj[k], pointer, k, errors);
    }
    if (c.patterns)
      for (const [re, x] of c.patterns)
        if (re.test(k)) {
          matched = true;
          checkValue(x, obj[k], pointer, k, errors);
        }
    if (!matched) {
      if (c.additionalProperties === false) (extra ??= []).push(k);
      else if (c.additionalProperties) checkValue(c.additionalProperties, obj[k], pointer, k, errors);
    }
  }
  if (extra)
    report(
      errors,
      pointer,
      `object instance has properties which are not allowed by the schema: ${JSON.stringify(extra.sort())}`,
    );
}

function checkArray(c: CompiledSchema, arr: unknown[], pointer: string, errors: string[]): void {
  if (c.minItems !== undefined && arr.length < c.minItems)
    report(
      errors,
      pointer,
      `array is too short: must have at least ${c.minItems} elements but instance has ${arr.length} elements`,
    );
  if (c.maxItems !== undefined && arr.length > c.maxItems)
    report(
      errors,
      pointer,
      `array is too long: must have at most ${c.maxItems} elements but instance has ${arr.length} elements`,
    );
  if (c.uniqueItems && new Set(arr.map((x) => JSON.stringify(x))).size !== arr.length)
    report(errors, pointer, 'array must not contain duplicate elements');
  const items = c.items;
  if (Array.isArray(items)) {
    for (let i = 0; i < arr.length; i++) {
      if (i < items.length) checkValue(items[i] as CompiledSchema, arr[i], pointer, i, errors);
      else if (!c.additionalItems) {
        report(
          errors,
          pointer,
          `array is too long: must have at most ${items.length} elements but instance has ${arr.length} elements`,
        );
        break;
      }
    }
  } else if (items) {
    for (let i = 0; i < arr.length && errors.length < MAX_SCHEMA_ERRORS; i++)
      checkValue(items as CompiledSchema, arr[i], pointer, i, errors);
  }
}

function validateCompiled(c: CompiledSchema, value: unknown, pointer: string): string[] {
  const errors: string[] = [];
  checkValue(c, value, pointer, undefined, errors);
  return errors;
}

/**
 * Validation errors of a value, in the words of the validator API Gateway uses (java json-schema-validator), e.g.
 * `object has missing required properties (["records"])`; empty when it is valid. The schema is compiled once.
 */
export function validateJsonSchema(schema: JsonSchema, value: unknown): string[] {
  const c = compileSchema(schema);
  return c.accepts?.(value) === true ? [] : validateCompiled(c, value, '');
}

/**
 * The request model's errors for a body text. A function of its own, not inline in the request handler: until V8
 * optimizes an async function, its frame keeps a block's locals across a later `await` (checked with a WeakRef on
 * Node 20), so the parsed body (about 40 KB of objects for 100 records) could live as long as the request's
 * integration and be moved to the old generation by any young collection in that time.
 */
function bodyErrors(model: JsonSchema, text: string): string[] {
  try {
    return validateJsonSchema(model, JSON.parse(text));
  } catch {
    return ['Invalid JSON in request body'];
  }
}

/** The quick check alone: whether the value is valid, or undefined when the schema has no quick check. */
export function quickSchemaCheck(schema: JsonSchema, value: unknown): boolean | undefined {
  return compileSchema(schema).accepts?.(value);
}

/** The full check alone, without the quick yes (what `quickSchemaCheck` is tested against). */
export function fullSchemaCheck(schema: JsonSchema, value: unknown): string[] {
  return validateCompiled(compileSchema(schema), value, '');
}

// ---- SigV4 ------------------------------------------------------------------------------------------------------

export interface LocalCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs = query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const k = decodeURIComponent((eq < 0 ? p : p.slice(0, eq)).replace(/\+/g, ' '));
      const v = eq < 0 ? '' : decodeURIComponent(p.slice(eq + 1).replace(/\+/g, ' '));
      return [escapeUri(k), escapeUri(v)] as const;
    })
    .filter(([k]) => k !== 'X-Amz-Signature');
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Why an IAM-authorized request is refused: the gateway response type, x-amzn-ErrorType and message. */
export interface AuthFailure {
  readonly responseType: string;
  readonly errorType: string;
  readonly message: string;
}

export interface SignedRequest {
  readonly method: string;
  /** The path as received (percent-encoded), without the query. */
  readonly path: string;
  readonly query: string;
  /** Header name (lower case) -> values as received. */
  readonly headers: Readonly<Record<string, readonly string[]>>;
  readonly body: Buffer;
}

/** What a verified signature says about the caller. */
export interface Caller {
  readonly accessKeyId: string;
}

function firstHeader(request: SignedRequest, name: string): string | undefined {
  return request.headers[name]?.[0];
}

function incomplete(message: string): AuthFailure {
  return { responseType: 'INVALID_SIGNATURE', errorType: 'IncompleteSignatureException', message };
}

function invalid(message: string): AuthFailure {
  return { responseType: 'INVALID_SIGNATURE', errorType: 'InvalidSignatureException', message };
}

/** `20260101T120000Z`, SigV4's time format. */
function stamp(t: number): string {
  return new Date(t)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/**
 * Checks a request's SigV4 Authorization header as API Gateway does for AWS_IAM methods: well formed, scoped to
 * `<date>/<region>/execute-api/aws4_request`, signed within 5 minutes, with a known access key, and a signature
 * that matches the one computed here. Returns the failure, or the caller.
 */
export function verifySigV4(
  request: SignedRequest,
  options: { region: string; credentials: readonly LocalCredentials[]; now?: Date; service?: string },
): AuthFailure | Caller {
  const service = options.service ?? 'execute-api';
  const authorization = firstHeader(request, 'authorization');
  if (authorization === undefined)
    return {
      responseType: 'MISSING_AUTHENTICATION_TOKEN',
      errorType: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    };
  const m = /^AWS4-HMAC-SHA256\s+(.*)$/.exec(authorization.trim());
  if (!m)
    return incomplete(
      `Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=${authorization}`,
    );
  const params: Record<string, string> = {};
  for (const part of m[1].split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  const missing = ['Credential', 'Signature', 'SignedHeaders'].filter((k) => !params[k]);
  const amzDate = firstHeader(request, 'x-amz-date');
  const problems = missing.map((k) => `Authorization header requires '${k}' parameter.`);
  if (amzDate === undefined)
    problems.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  if (problems.length > 0) return incomplete(`${problems.join(' ')} Authorization=${authorization}`);
  const scope = params.Credential.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request')
    return incomplete(
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${params.Credential}'`,
    );
  const [accessKeyId, date, region, scopeService] = scope;
  const time = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate!);
  if (!time)
    return incomplete(
      `Date must be in ISO-8601 'basic format'. Got '${amzDate}'. See http://en.wikipedia.org/wiki/ISO_8601`,
    );
  if (date !== amzDate!.slice(0, 8))
    return invalid(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${date}' != '${amzDate!.slice(0, 8)}', from '${amzDate}'.`,
    );
  if (region !== options.region)
    return invalid(`Credential should be scoped to a valid region, not '${region}'. `);
  if (scopeService !== service)
    return invalid(`Credential should be scoped to correct service: '${service}'. `);
  const signedAt = Date.UTC(+time[1], +time[2] - 1, +time[3], +time[4], +time[5], +time[6]);
  const now = (options.now ?? new Date()).getTime();
  if (signedAt < now - MAX_SKEW_MILLIS)
    return invalid(
      `Signature expired: ${amzDate} is now earlier than ${stamp(now - MAX_SKEW_MILLIS)} (${stamp(now)} - 5 min.)`,
    );
  if (signedAt > now + MAX_SKEW_MILLIS)
    return invalid(
      `Signature not yet current: ${amzDate} is still later than ${stamp(now + MAX_SKEW_MILLIS)} (${stamp(now)} + 5 min.)`,
    );
  const credentials = options.credentials.find((c) => c.accessKeyId === accessKeyId);
  const token = firstHeader(request, 'x-amz-security-token');
  if (
    !credentials ||
    (token !== undefined && token !== credentials.sessionToken) ||
    (credentials.sessionToken !== undefined && token === undefined)
  )
    return {
      responseType: 'UNAUTHORIZED',
      errorType: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    };
  const signedHeaders = params.SignedHeaders.split(';');
  if (!signedHeaders.includes('host'))
    return invalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  const canonicalHeaders = signedHeaders
    .map(
      (name) =>
        `${name}:${(request.headers[name] ?? []).map((v) => v.trim().replace(/\s+/g, ' ')).join(',')}\n`,
    )
    .join('');
  const payloadHash = createHash('sha256').update(request.body).digest('hex');
  const canonicalRequest = [
    request.method,
    canonicalPath(request.path),
    canonicalQuery(request.query),
    canonicalHeaders,
    params.SignedHeaders,
    payloadHash,
  ].join('\n');
  const credentialScope = `${date}/${region}/${service}/aws4_request`;
  const toSign = stringToSign(amzDate!, credentialScope, canonicalRequest);
  const expected = createHmac('sha256', signingKey(credentials.secretAccessKey, date, region, service))
    .update(toSign)
    .digest();
  const given = Buffer.from(params.Signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return invalid(
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\n' +
        `The Canonical String for this request should have been\n'${canonicalRequest}'\n\n` +
        `The String-to-Sign should have been\n'${toSign}'\n`,
    );
  return { accessKeyId };
}

// ---- the server -------------------------------------------------------------------------------------------------

/** API Gateway's default gateway responses: status and x-amzn-ErrorType. */
const DEFAULT_RESPONSES: Readonly<Record<string, { status: number; errorType?: string }>> = {
  MISSING_AUTHENTICATION_TOKEN: { status: 403, errorType: 'MissingAuthenticationTokenException' },
  INVALID_SIGNATURE: { status: 403 },
  UNAUTHORIZED: { status: 403 },
  EXPIRED_TOKEN: { status: 403 },
  ACCESS_DENIED: { status: 403, errorType: 'AccessDeniedException' },
  THROTTLED: { status: 429, errorType: 'TooManyRequestsException' },
  BAD_REQUEST_BODY: { status: 400, errorType: 'BadRequestException' },
  REQUEST_TOO_LARGE: { status: 413, errorType: 'RequestTooLongException' },
  INTEGRATION_TIMEOUT: { status: 504 },
  INTEGRATION_FAILURE: { status: 502, errorType: 'InternalServerErrorException' },
  API_CONFIGURATION_ERROR: { status: 500, errorType: 'InternalServerErrorException' },
};

export interface ApiRequestRecord {
  readonly apiName: string;
  readonly stage: string;
  readonly httpMethod: string;
  readonly resourcePath?: string;
  readonly status: number;
  /** Whole request, as API Gateway's Latency metric measures it. */
  readonly latencyMs: number;
  /** Time in the integration (IntegrationLatency), when it was called. */
  readonly integrationLatencyMs?: number;
  /** Why API Gateway answered itself (a gateway response type), when it did. */
  readonly gatewayResponse?: string;
  readonly error?: string;
}

export interface ApiGatewayOptions {
  readonly api: RestApiDefinition;
  /** Invokes a Lambda function (ARN) synchronously with an event; rejects when the function fails. */
  readonly invoke: (functionArn: string, event: APIGatewayProxyEvent) => Promise<unknown>;
  /** The credentials AWS_IAM methods accept (the ones the platform hands out). */
  readonly credentials: readonly LocalCredentials[];
  readonly region: string;
  readonly accountId: string;
  /** @default 0 (a free port) */
  readonly port?: number;
  /** After every request (the platform's AWS/ApiGateway metrics). */
  readonly onRequest?: (r: ApiRequestRecord) => void;
  /** One line per request in the stage's access log format, when it has one. */
  readonly onAccessLog?: (line: string) => void;
}

export interface ApiGatewayServer {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly port: number;
  readonly api: RestApiDefinition;
  /** The invoke URL of a stage, as the InferenceApiUrl output gives it on AWS: `http://127.0.0.1:<port>/<stage>/`. */
  url(stageName: string): string;
  close(): Promise<void>;
}

class TokenBucket {
  private tokens: number;
  private last = performance.now();
  constructor(private readonly limits: ThrottleSettings) {
    this.tokens = limits.burstLimit;
  }
  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(
      this.limits.burstLimit,
      this.tokens + ((now - this.last) / 1000) * this.limits.rateLimit,
    );
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

interface Route {
  readonly method: MethodDefinition;
  readonly pathParameters: Record<string, string> | null;
}

/** The method a request path and HTTP method select: literal segments before `{param}`, `{param+}` last. */
export function matchRoute(
  methods: readonly MethodDefinition[],
  path: string,
  httpMethod: string,
): Route | undefined {
  const segments = path.split('/').filter((s) => s !== '');
  let best: { route: Route; score: number } | undefined;
  for (const method of methods) {
    if (method.httpMethod !== httpMethod && method.httpMethod !== 'ANY') continue;
    const parts = method.resourcePath.split('/').filter((s) => s !== '');
    const params: Record<string, string> = {};
    let score = 0;
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const p = parts[i];
      const greedy = /^\{(.+)\+\}$/.exec(p);
      if (greedy) {
        if (i !== parts.length - 1 || segments.length <= i) ok = false;
        else params[greedy[1]] = segments.slice(i).map(decodeURIComponent).join('/');
        break;
      }
      if (i >= segments.length) ok = false;
      else if (/^\{.+\}$/.test(p)) {
        params[p.slice(1, -1)] = decodeURIComponent(segments[i]);
        score += 1;
      } else if (p === segments[i]) score += 2;
      else ok = false;
    }
    const greedyLast = parts.length > 0 && /^\{.+\+\}$/.test(parts[parts.length - 1]);
    if (!ok || (!greedyLast && parts.length !== segments.length)) continue;
    score += method.httpMethod === 'ANY' ? 0 : 1;
    if (!best || score > best.score)
      best = { route: { method, pathParameters: Object.keys(params).length > 0 ? params : null }, score };
  }
  return best?.route;
}

function functionNameOf(nameOrArn: string): string {
  return /:function:([^:]+)/.exec(nameOrArn)?.[1] ?? nameOrArn;
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(value);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `09/Apr/2015:12:34:56 +0000`, API Gateway's requestTime. */
function requestTime(t: Date): string {
  return `${pad2(t.getUTCDate())}/${MONTHS[t.getUTCMonth()]}/${t.getUTCFullYear()}:${pad2(t.getUTCHours())}:${pad2(t.getUTCMinutes())}:${pad2(t.getUTCSeconds())} +0000`;
}

class GatewayResponse extends Error {
  constructor(
    readonly responseType: string,
    message: string,
    readonly errorType?: string,
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

export async function startApiGateway(options: ApiGatewayOptions): Promise<ApiGatewayServer> {
  const { api } = options;
  const stages = new Map(api.stages.map((s) => [s.stageName, s]));
  const buckets = new Map<string, TokenBucket>();
  const bucketFor = (stage: StageDefinition, method: MethodDefinition): TokenBucket => {
    const key = `${stage.stageName} ${method.httpMethod} ${method.resourcePath}`;
    let b = buckets.get(key);
    if (!b) {
      b = new TokenBucket(
        stage.methodThrottle[`${method.httpMethod} ${method.resourcePath}`] ?? stage.throttle,
      );
      buckets.set(key, b);
    }
    return b;
  };
  const permitted = new Map<string, boolean>();
  const isPermitted = (functionArn: string, sourceArn: string): boolean => {
    const key = `${functionArn} ${sourceArn}`;
    let ok = permitted.get(key);
    if (ok === undefined) {
      const name = functionNameOf(functionArn);
      ok = api.permissions.some(
        (p) =>
          functionNameOf(p.functionName) === name &&
          (p.sourceArn === undefined || globMatch(p.sourceArn, sourceArn)),
      );
      permitted.set(key, ok);
    }
    return ok;
  };

  // A resource's id is fixed for the API: computed once per method, not per request.
  const resourceIds = new Map<MethodDefinition, string>();
  const resourceIdOf = (method: MethodDefinition): string => {
    let id = resourceIds.get(method);
    if (id === undefined) {
      id = hash(`${api.restApiId}${method.resourcePath}`, 6);
      resourceIds.set(method, id);
    }
    return id;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const receivedAt = new Date();
    const requestId = randomUUID();
    const extendedRequestId = `${requestId.replace(/-/g, '').slice(0, 14)}=`;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    const slash = rawPath.indexOf('/', 1);
    const stageName = decodeURIComponent(slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash));
    const path = slash < 0 ? '/' : rawPath.slice(slash);
    const httpMethod = (req.method ?? 'GET').toUpperCase();
    const stage = stages.get(stageName);
    let route: Route | undefined;
    let integrationLatencyMs: number | undefined;
    let status = 500;
    let responseLength = 0;
    let gatewayResponse: string | undefined;
    let errorMessage: string | undefined;
    let caller: Caller | undefined;
    const headers: Record<string, string[]> = {};
    const casedHeaders: Array<[string, string]> = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i];
      const value = req.rawHeaders[i + 1];
      (headers[name.toLowerCase()] ??= []).push(value);
      casedHeaders.push([name, value]);
    }
    // What API Gateway adds to every response (per request, not a closure: this is the hot path).
    const common: Record<string, string> = {
      'x-amzn-RequestId': requestId,
      'x-amz-apigw-id': extendedRequestId,
    };
    if (stage?.tracingEnabled === true)
      common['X-Amzn-Trace-Id'] =
        `Root=1-${Math.floor(receivedAt.getTime() / 1000).toString(16)}-${requestId.replace(/-/g, '').slice(0, 24)}`;

    try {
      // Routing comes first: API Gateway does not say whether a stage or path exists to an unauthenticated caller.
      route = stage ? matchRoute(api.methods, path, httpMethod) : undefined;
      const body = await readBody(req);
      if (!stage || !route)
        throw new GatewayResponse('MISSING_AUTHENTICATION_TOKEN', 'Missing Authentication Token');
      const method = route.method;
      if (method.authorizationType === 'AWS_IAM') {
        const verdict = verifySigV4(
          { method: httpMethod, path: rawPath, query, headers, body },
          { region: options.region, credentials: options.credentials },
        );
        if ('responseType' in verdict)
          throw new GatewayResponse(verdict.responseType, verdict.message, verdict.errorType);
        caller = verdict;
      } else if (method.authorizationType !== 'NONE') {
        throw new GatewayResponse('API_CONFIGURATION_ERROR', 'Internal server error', undefined, 500);
      }
      if (!bucketFor(stage, method).take()) throw new GatewayResponse('THROTTLED', 'Too Many Requests');
      const contentType = (headers['content-type']?.[0] ?? 'application/json')
        .split(';')[0]
        .trim()
        .toLowerCase();
      // The body as text, decoded once for the request model and the event.
      let text: string | undefined;
      if (method.validateBody) {
        const model = method.models[contentType] ?? method.models.$default;
        if (model) {
          text = body.toString('utf8');
          const errors = bodyErrors(model, text);
          if (errors.length > 0) {
            errorMessage = `[${errors.join(', ')}]`;
            throw new GatewayResponse('BAD_REQUEST_BODY', 'Invalid request body');
          }
        }
      }
      if (method.integrationType !== 'AWS_PROXY' || !method.functionArn)
        throw new GatewayResponse('API_CONFIGURATION_ERROR', 'Internal server error', undefined, 500);
      const sourceArn = `arn:aws:execute-api:${options.region}:${options.accountId}:${api.restApiId}/${stage.stageName}/${httpMethod}${method.resourcePath}`;
      if (!isPermitted(method.functionArn, sourceArn)) {
        errorMessage = `Execution failed due to configuration error: Invalid permissions on Lambda function (no AWS::Lambda::Permission for ${sourceArn})`;
        throw new GatewayResponse(
          'API_CONFIGURATION_ERROR',
          'Internal server error',
          'InternalServerErrorException',
          500,
        );
      }

      const binary = api.binaryMediaTypes.some((t) => t === contentType || t === '*/*');
      const single: Record<string, string> = {};
      const multi: Record<string, string[]> = {};
      for (const [name, value] of casedHeaders) {
        single[name] = value;
        (multi[name] ??= []).push(value);
      }
      const forwarded = {
        'X-Forwarded-For': req.socket.remoteAddress ?? '127.0.0.1',
        'X-Forwarded-Port': String(req.socket.localPort ?? ''),
        'X-Forwarded-Proto': 'http',
      };
      for (const [k, v] of Object.entries(forwarded)) {
        single[k] = v;
        multi[k] = [v];
      }
      const { qs, mqs } = queryParameters(query);
      const event: APIGatewayProxyEvent = {
        resource: method.resourcePath,
        path,
        httpMethod,
        headers: single,
        multiValueHeaders: multi,
        queryStringParameters: qs,
        multiValueQueryStringParameters: mqs,
        pathParameters: route.pathParameters,
        stageVariables: null,
        requestContext: {
          accountId: options.accountId,
          apiId: api.restApiId,
          // No Lambda or Cognito authorizer on an AWS_IAM method: null (JSON has no undefined).
          authorizer: null,
          domainName: headers.host?.[0] ?? '127.0.0.1',
          domainPrefix: api.restApiId,
          extendedRequestId,
          httpMethod,
          identity: {
            accessKey: caller?.accessKeyId ?? null,
            accountId: caller ? options.accountId : null,
            apiKey: null,
            apiKeyId: null,
            caller: caller?.accessKeyId ?? null,
            clientCert: null,
            cognitoAuthenticationProvider: null,
            cognitoAuthenticationType: null,
            cognitoIdentityId: null,
            cognitoIdentityPoolId: null,
            principalOrgId: null,
            sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
            user: caller?.accessKeyId ?? null,
            userAgent: headers['user-agent']?.[0] ?? null,
            userArn: caller ? `arn:aws:iam::${options.accountId}:user/local` : null,
          },
          path: rawPath,
          protocol: `HTTP/${req.httpVersion}`,
          requestId,
          requestTime: requestTime(receivedAt),
          requestTimeEpoch: receivedAt.getTime(),
          resourceId: resourceIdOf(method),
          resourcePath: method.resourcePath,
          stage: stage.stageName,
        },
        body: body.length === 0 ? null : binary ? body.toString('base64') : (text ?? body.toString('utf8')),
        isBase64Encoded: binary && body.length > 0,
      };
      const t0 = performance.now();
      let result: unknown;
      let timer: NodeJS.Timeout | undefined;
      try {
        result = await Promise.race([
          options.invoke(method.functionArn, event),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new GatewayResponse('INTEGRATION_TIMEOUT', 'Endpoint request timed out')),
              method.timeoutMillis,
            );
          }),
        ]);
      } catch (e) {
        if (e instanceof GatewayResponse) throw e;
        errorMessage = `Lambda invocation failed: ${(e as Error).name}: ${(e as Error).message}`;
        throw new GatewayResponse(
          'INTEGRATION_FAILURE',
          'Internal server error',
          'InternalServerErrorException',
          502,
        );
      } finally {
        if (timer) clearTimeout(timer);
        integrationLatencyMs = performance.now() - t0;
      }
      const proxy = proxyResult(result);
      if (typeof proxy === 'string') {
        errorMessage = `Execution failed due to configuration error: Malformed Lambda proxy response (${proxy})`;
        throw new GatewayResponse(
          'INTEGRATION_FAILURE',
          'Internal server error',
          'InternalServerErrorException',
          502,
        );
      }
      // A text body is written as it is (no copy into a buffer first); its length is counted in bytes.
      const out = proxy.isBase64Encoded === true ? Buffer.from(proxy.body, 'base64') : proxy.body;
      const outLength = typeof out === 'string' ? Buffer.byteLength(out, 'utf8') : out.length;
      const responseHeaders: Record<string, string | string[]> = { 'Content-Type': 'application/json' };
      for (const [k, v] of Object.entries(proxy.multiValueHeaders ?? {})) responseHeaders[k] = v.map(String);
      for (const [k, v] of Object.entries(proxy.headers ?? {})) responseHeaders[k] = String(v);
      // Lambda's Content-Type, whatever its case, replaces the default.
      const typeKeys = Object.keys(responseHeaders).filter((k) => k.toLowerCase() === 'content-type');
      if (typeKeys.length > 1) delete responseHeaders['Content-Type'];
      status = proxy.statusCode;
      responseLength = outLength;
      res.writeHead(status, { ...responseHeaders, ...common, 'Content-Length': outLength });
      res.end(out);
    } catch (e) {
      let g: GatewayResponse;
      if (e instanceof GatewayResponse) g = e;
      else if (e instanceof BodyTooLarge) g = new GatewayResponse('REQUEST_TOO_LARGE', 'Request Too Long');
      else {
        errorMessage = String(e);
        g = new GatewayResponse(
          'API_CONFIGURATION_ERROR',
          'Internal server error',
          'InternalServerErrorException',
          500,
        );
      }
      gatewayResponse = g.responseType;
      errorMessage ??= g.message;
      const sent = writeGatewayResponse(res, api, g, common, requestId, errorMessage);
      status = sent.status;
      responseLength = sent.length;
    } finally {
      const latencyMs = performance.now() - started;
      options.onRequest?.({
        apiName: api.name,
        stage: stageName,
        httpMethod,
        resourcePath: route?.method.resourcePath,
        status,
        latencyMs,
        integrationLatencyMs,
        gatewayResponse,
        error: errorMessage,
      });
      if (stage?.accessLogFormat && options.onAccessLog)
        options.onAccessLog(
          renderAccessLog(stage.accessLogFormat, {
            requestId,
            extendedRequestId,
            apiId: api.restApiId,
            stage: stageName,
            httpMethod,
            resourcePath: route?.method.resourcePath ?? '-',
            path: rawPath,
            status: String(status),
            protocol: `HTTP/${req.httpVersion}`,
            responseLength: String(responseLength),
            requestTime: requestTime(receivedAt),
            requestTimeEpoch: String(receivedAt.getTime()),
            'identity.sourceIp': req.socket.remoteAddress ?? '127.0.0.1',
            'identity.caller': caller?.accessKeyId ?? '-',
            'identity.user': caller?.accessKeyId ?? '-',
            'identity.userArn': caller ? `arn:aws:iam::${options.accountId}:user/local` : '-',
            'identity.accountId': caller ? options.accountId : '-',
            'identity.userAgent': headers['user-agent']?.[0] ?? '-',
            'error.message': errorMessage ?? '-',
            'error.responseType': gatewayResponse ?? '-',
            responseLatency: String(Math.round(latencyMs)),
            integrationLatency:
              integrationLatencyMs !== undefined ? String(Math.round(integrationLatencyMs)) : '-',
            'integration.latency':
              integrationLatencyMs !== undefined ? String(Math.round(integrationLatencyMs)) : '-',
            domainName: headers.host?.[0] ?? '-',
          }),
        );
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy(e instanceof Error ? e : undefined);
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_MILLISECONDS;
  const port = await listenOnLoopback(server, options.port ?? 0);
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    api,
    url: (stageName) => `${endpoint}/${stageName}/`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

class BodyTooLarge extends Error {}

/** Answers with a gateway response: the API's own (its type, else DEFAULT_4XX/5XX) or API Gateway's default. */
function writeGatewayResponse(
  res: ServerResponse,
  api: RestApiDefinition,
  e: GatewayResponse,
  common: Readonly<Record<string, string>>,
  requestId: string,
  detail: string | undefined,
): { status: number; length: number } {
  const defaults = DEFAULT_RESPONSES[e.responseType];
  const custom =
    api.gatewayResponses[e.responseType] ??
    api.gatewayResponses[(e.statusCode ?? defaults?.status ?? 500) >= 500 ? 'DEFAULT_5XX' : 'DEFAULT_4XX'];
  const status = custom?.statusCode ?? e.statusCode ?? defaults?.status ?? 500;
  const body =
    custom?.template !== undefined
      ? renderTemplate(custom.template, {
          message: e.message,
          requestId,
          responseType: e.responseType,
          validationErrorString: e.responseType === 'BAD_REQUEST_BODY' ? (detail ?? '') : '',
        })
      : JSON.stringify({ message: e.message });
  const errorType = e.errorType ?? defaults?.errorType;
  const length = Buffer.byteLength(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': length,
    ...common,
    ...(errorType ? { 'x-amzn-ErrorType': errorType } : {}),
    ...custom?.headers,
  });
  res.end(body);
  return { status, length };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return readRequestBody(req, MAX_BODY_BYTES, () => new BodyTooLarge());
}

function queryParameters(query: string): {
  qs: Record<string, string> | null;
  mqs: Record<string, string[]> | null;
} {
  if (query === '') return { qs: null, mqs: null };
  const qs: Record<string, string> = {};
  const mqs: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(query)) {
    qs[k] = v;
    (mqs[k] ??= []).push(v);
  }
  return { qs, mqs };
}

/** A Lambda proxy result, or why API Gateway would call it malformed. */
function proxyResult(result: unknown): APIGatewayProxyResult | string {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return 'not an object';
  const r = result as Record<string, unknown>;
  if (!Number.isInteger(r.statusCode) || (r.statusCode as number) < 100 || (r.statusCode as number) > 599)
    return 'statusCode must be an HTTP status code';
  if (r.body !== undefined && r.body !== null && typeof r.body !== 'string') return 'body must be a string';
  for (const k of ['headers', 'multiValueHeaders'])
    if (r[k] !== undefined && r[k] !== null && (typeof r[k] !== 'object' || Array.isArray(r[k])))
      return `${k} must be an object`;
  return { ...r, body: (r.body as string | undefined) ?? '' } as APIGatewayProxyResult;
}

/** A gateway response template: `$context.error.message(String)`, `$context.requestId`, ... */
function renderTemplate(
  template: string,
  v: { message: string; requestId: string; responseType: string; validationErrorString: string },
): string {
  return template
    .replace(/\$context\.error\.messageString/g, JSON.stringify(v.message))
    .replace(/\$context\.error\.message/g, v.message)
    .replace(/\$context\.error\.responseType/g, v.responseType)
    .replace(/\$context\.error\.validationErrorString/g, v.validationErrorString)
    .replace(/\$context\.requestId/g, v.requestId);
}

/**
 * An access log format split at its `$context.<name>` variables: `literals` has one more entry than `names`, the
 * line being literals[0] + value(names[0]) + literals[1] + ... A trailing `.` is not part of a name (a sentence
 * may end after a variable), so names are stored without it.
 */
interface CompiledAccessLogFormat {
  readonly literals: readonly string[];
  readonly names: readonly string[];
}

/** Formats are few (one per stage) and every request renders one: each is parsed once. */
const compiledAccessLogFormats = new Map<string, CompiledAccessLogFormat>();

function compileAccessLogFormat(format: string): CompiledAccessLogFormat {
  let compiled = compiledAccessLogFormats.get(format);
  if (compiled) return compiled;
  const literals: string[] = [];
  const names: string[] = [];
  let last = 0;
  for (const m of format.matchAll(/\$context\.([A-Za-z0-9_.]+)/g)) {
    literals.push(format.slice(last, m.index));
    names.push(m[1].replace(/\.$/, ''));
    last = m.index + m[0].length;
  }
  literals.push(format.slice(last));
  compiled = { literals, names };
  compiledAccessLogFormats.set(format, compiled);
  return compiled;
}

/** What JSON.stringify may escape in a string: quotes, backslashes, controls, lone surrogates (any surrogate here). */
const JSON_ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * An access log line: every `$context.<name>` of the format, `-` for what is not known locally.
 * `$context.error.messageString` is the error message as a quoted JSON string, as API Gateway substitutes it.
 */
export function renderAccessLog(format: string, values: Readonly<Record<string, string>>): string {
  const { literals, names } = compileAccessLogFormat(format);
  let line = literals[0];
  for (let i = 0; i < names.length; i++) {
    if (names[i] === 'error.messageString') {
      line += JSON.stringify(values['error.message'] ?? '-') + literals[i + 1];
      continue;
    }
    const v: unknown = values[names[i]] ?? '-';
    // Inside a JSON format the value sits in quotes: keep the line valid JSON. Most values need no escaping, and
    // anything but a string (a name such as `constructor` reaching Object.prototype) goes through JSON as before.
    line += typeof v === 'string' && !JSON_ESCAPED.test(v) ? v : JSON.stringify(v).slice(1, -1);
    line += literals[i + 1];
  }
  return line;
}

// ---- platform helpers -------------------------------------------------------------------------------------------

/** The AWS/ApiGateway metrics of one request (dimension sets ApiName and ApiName+Stage, as API Gateway sends). */
export function apiGatewayMetricData(
  r: ApiRequestRecord,
): Array<{ metricName: string; dimensions: Record<string, string>; value: number; unit: string }> {
  const out: Array<{ metricName: string; dimensions: Record<string, string>; value: number; unit: string }> =
    [];
  const sets: Array<Record<string, string>> = [
    { ApiName: r.apiName },
    { ApiName: r.apiName, Stage: r.stage },
  ];
  for (const dimensions of sets) {
    out.push({ metricName: 'Count', dimensions, value: 1, unit: 'Count' });
    out.push({
      metricName: '4XXError',
      dimensions,
      value: r.status >= 400 && r.status < 500 ? 1 : 0,
      unit: 'Count',
    });
    out.push({ metricName: '5XXError', dimensions, value: r.status >= 500 ? 1 : 0, unit: 'Count' });
    out.push({ metricName: 'Latency', dimensions, value: r.latencyMs, unit: 'Milliseconds' });
    if (r.integrationLatencyMs !== undefined)
      out.push({
        metricName: 'IntegrationLatency',
        dimensions,
        value: r.integrationLatencyMs,
        unit: 'Milliseconds',
      });
  }
  return out;
}

/**
 * The local URL of the stage a stack output names (e.g. the pipeline's InferenceApiUrl,
 * `https://<api-id>.execute-api.<region>.<suffix>/<stage>/`): the same stage on the server serving that API.
 */
export function localStageUrl(
  templates: LocalTemplates,
  servers: readonly ApiGatewayServer[],
  outputKey: string,
): string | undefined {
  for (const s of templates.stacks) {
    const output = s.template.Outputs?.[outputKey];
    if (!output) continue;
    const value = templates.resolve(s.stackName, output.Value, `Outputs.${outputKey}.Value`);
    const m =
      typeof value === 'string' ? /^https:\/\/([^.]+)\.execute-api\.[^/]+\/([^/]+)\//.exec(value) : null;
    const server = m ? servers.find((x) => x.api.restApiId === m[1]) : undefined;
    if (server && m && server.api.stages.some((st) => st.stageName === m[2])) return server.url(m[2]);
  }
  const first = servers[0];
  return first && first.api.stages.length > 0 ? first.url(first.api.stages[0].stageName) : undefined;
}
