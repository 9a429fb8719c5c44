import { randomUUID } from 'node:crypto';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { Clock } from './clock';
import { AwsApiError } from './errors';
import type { LocalTemplates } from './template';

/**
 * Local EventBridge (DESIGN.md section 10): the rules of the synthesized templates, matched and delivered the
 * way EventBridge does it. Event patterns follow the content filtering rules of the EventBridge user guide and of
 * aws/event-ruler (the engine behind it); target input follows Input / InputPath / InputTransformer; schedules
 * follow the rate() and cron() expressions of scheduled rules (UTC, one-minute precision).
 */

/** An event as EventBridge delivers it to targets. */
export interface EventBridgeEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  /** ISO 8601 with whole seconds, e.g. 2026-01-01T12:00:00Z */
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
}

export interface RuleTarget {
  readonly id: string;
  readonly arn: string;
  readonly input?: string;
  readonly inputPath?: string;
  readonly inputTransformer?: {
    readonly InputPathsMap?: Readonly<Record<string, string>>;
    readonly InputTemplate: string;
  };
  readonly roleArn?: string;
  readonly retryPolicy?: {
    readonly MaximumRetryAttempts?: number;
    readonly MaximumEventAgeInSeconds?: number;
  };
  readonly deadLetterArn?: string;
}

export interface LocalRule {
  readonly stackName: string;
  readonly logicalId: string;
  /** The rule's local name (its Name, else the name CloudFormation would generate locally). */
  readonly name: string;
  readonly arn: string;
  readonly description?: string;
  readonly eventBusName: string;
  readonly eventPattern?: unknown;
  readonly scheduleExpression?: string;
  /** ENABLED, DISABLED or ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS */
  readonly state: string;
  readonly targets: readonly RuleTarget[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new Error(`${what}: expected a string, got ${JSON.stringify(value)}`);
  return value;
}

/** Every AWS::Events::Rule of the templates, resolved to local names; patterns and schedules are checked. */
export function rulesFromTemplates(local: LocalTemplates): LocalRule[] {
  return local.resourcesOfType('AWS::Events::Rule').map(({ stackName, logicalId, resource }) => {
    const where = `${stackName}/${logicalId}`;
    const at = `Resources.${logicalId}.Properties`;
    const p = local.resolve(stackName, resource.Properties ?? {}, at) as Record<string, unknown>;
    const self = local.resource(stackName, logicalId);
    const arn = self.attributes.Arn;
    if (arn === undefined) throw new Error(`${where}: no local ARN`);
    // EventPattern may be given as a JSON string in a template.
    const pattern =
      typeof p.EventPattern === 'string' ? (JSON.parse(p.EventPattern) as unknown) : p.EventPattern;
    if (pattern !== undefined) {
      try {
        validatePattern(pattern);
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message}`);
      }
    }
    const scheduleExpression = optionalString(p.ScheduleExpression, `${where} ScheduleExpression`);
    if (scheduleExpression !== undefined) {
      try {
        parseSchedule(scheduleExpression);
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message}`);
      }
    }
    if (pattern === undefined && scheduleExpression === undefined) {
      throw new Error(`${where}: a rule needs an EventPattern or a ScheduleExpression`);
    }
    const targets = (Array.isArray(p.Targets) ? p.Targets : []).map((t: unknown, i: number): RuleTarget => {
      if (!isObject(t)) throw new Error(`${where}: Targets[${i}] is not an object`);
      const tw = `${where} Targets[${i}]`;
      const transformer = t.InputTransformer;
      if (
        transformer !== undefined &&
        (!isObject(transformer) || typeof transformer.InputTemplate !== 'string')
      ) {
        throw new Error(`${tw}: InputTransformer needs an InputTemplate string`);
      }
      const given = [t.Input, t.InputPath, transformer].filter((x) => x !== undefined).length;
      if (given > 1) throw new Error(`${tw}: only one of Input, InputPath and InputTransformer may be set`);
      const retry = isObject(t.RetryPolicy) ? t.RetryPolicy : undefined;
      const dlq = isObject(t.DeadLetterConfig) ? t.DeadLetterConfig : undefined;
      return {
        id: String(t.Id),
        arn: String(t.Arn),
        input: optionalString(t.Input, `${tw} Input`),
        inputPath: optionalString(t.InputPath, `${tw} InputPath`),
        inputTransformer: transformer as RuleTarget['inputTransformer'],
        roleArn: optionalString(t.RoleArn, `${tw} RoleArn`),
        retryPolicy: retry as RuleTarget['retryPolicy'],
        deadLetterArn: optionalString(dlq?.Arn, `${tw} DeadLetterConfig.Arn`),
      };
    });
    const bus = optionalString(p.EventBusName, `${where} EventBusName`) ?? 'default';
    return {
      stackName,
      logicalId,
      name: self.ref,
      arn,
      description: optionalString(p.Description, `${where} Description`),
      // A bus given by ARN is the same bus as by name.
      eventBusName: bus.startsWith('arn:') ? bus.slice(bus.lastIndexOf('/') + 1) : bus,
      eventPattern: pattern,
      scheduleExpression,
      state: optionalString(p.State, `${where} State`) ?? 'ENABLED',
      targets,
    };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Event patterns

function invalidPattern(reason: string): never {
  throw new AwsApiError('InvalidEventPatternException', `Event pattern is not valid. Reason: ${reason}`);
}

const NUMERIC_OPERATORS = new Set(['=', '<', '<=', '>', '>=']);

function isOr(key: string, value: unknown): value is Record<string, unknown>[] {
  // event-ruler reads "$or" as a disjunction only in this shape; otherwise it is an ordinary field name.
  return key === '$or' && Array.isArray(value) && value.length >= 2 && value.every(isObject);
}

function checkStringOrList(value: unknown, op: string): void {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((v) => typeof v === 'string')) {
    invalidPattern(`"${op}" takes a string or a list of strings`);
  }
}

function checkWildcard(value: unknown): void {
  checkStringOrList(value, 'wildcard');
  for (const w of Array.isArray(value) ? value : [value]) {
    const s = w as string;
    if (s.includes('**')) invalidPattern('consecutive wildcard characters are not allowed');
    for (let i = 0; i < s.length; i++) {
      if (s[i] !== '\\') continue;
      if (s[i + 1] !== '*' && s[i + 1] !== '\\') {
        invalidPattern('a backslash may only escape "*" or "\\" in a wildcard pattern');
      }
      i++;
    }
  }
}

function checkMatcher(m: unknown): void {
  if (m === null || typeof m === 'string' || typeof m === 'number' || typeof m === 'boolean') return;
  if (!isObject(m)) invalidPattern(`match value must be a string, number, boolean, null or object`);
  const keys = Object.keys(m);
  if (keys.length !== 1)
    invalidPattern(`a matcher object has exactly one operator, got ${JSON.stringify(m)}`);
  const [op] = keys;
  const arg = m[op];
  switch (op) {
    case 'prefix':
    case 'suffix':
      if (typeof arg === 'string') return;
      if (isObject(arg) && Object.keys(arg).length === 1 && typeof arg['equals-ignore-case'] === 'string')
        return;
      return invalidPattern(`"${op}" takes a string or {"equals-ignore-case": string}`);
    case 'equals-ignore-case':
      if (typeof arg !== 'string') invalidPattern('"equals-ignore-case" takes a string');
      return;
    case 'wildcard':
      if (typeof arg !== 'string') invalidPattern('"wildcard" takes a string');
      return checkWildcard(arg);
    case 'exists':
      if (typeof arg !== 'boolean') invalidPattern('"exists" takes true or false');
      return;
    case 'cidr': {
      if (typeof arg !== 'string') invalidPattern('"cidr" takes a string');
      parseCidr(arg);
      return;
    }
    case 'numeric': {
      if (!Array.isArray(arg) || (arg.length !== 2 && arg.length !== 4)) {
        invalidPattern('"numeric" takes [op, number] or [op, number, op, number]');
      }
      for (let i = 0; i < arg.length; i += 2) {
        if (!NUMERIC_OPERATORS.has(arg[i] as string) || typeof arg[i + 1] !== 'number') {
          invalidPattern(`bad numeric condition ${JSON.stringify(arg)}`);
        }
      }
      return;
    }
    case 'anything-but': {
      if (typeof arg === 'string' || typeof arg === 'number') return;
      if (Array.isArray(arg)) {
        const strings = arg.every((v) => typeof v === 'string');
        const numbers = arg.every((v) => typeof v === 'number');
        if (arg.length > 0 && (strings || numbers)) return;
        return invalidPattern('"anything-but" list must hold only strings or only numbers');
      }
      if (isObject(arg) && Object.keys(arg).length === 1) {
        const [inner] = Object.keys(arg);
        const v = arg[inner];
        if ((inner === 'prefix' || inner === 'suffix') && typeof v === 'string') return;
        if (inner === 'equals-ignore-case') return checkStringOrList(v, inner);
        if (inner === 'wildcard') return checkWildcard(v);
      }
      return invalidPattern(`unsupported "anything-but" argument ${JSON.stringify(arg)}`);
    }
    default:
      return invalidPattern(`unrecognized match type ${op}`);
  }
}

/** Throws AwsApiError(InvalidEventPatternException) unless `pattern` is a valid event pattern. */
export function validatePattern(pattern: unknown): void {
  if (!isObject(pattern)) invalidPattern('the event pattern must be a JSON object');
  for (const [key, value] of Object.entries(pattern)) {
    if (isOr(key, value)) {
      value.forEach(validatePattern);
    } else if (Array.isArray(value)) {
      if (value.length === 0) invalidPattern(`empty arrays are not allowed (at "${key}")`);
      value.forEach(checkMatcher);
    } else if (isObject(value)) {
      validatePattern(value);
    } else {
      invalidPattern(`"${key}" must be an object or an array`);
    }
  }
}

function parseCidr(cidr: string): BlockList {
  const slash = cidr.indexOf('/');
  const address = slash < 0 ? cidr : cidr.slice(0, slash);
  const type = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  const bits = slash < 0 ? (type === 'ipv4' ? 32 : 128) : Number(cidr.slice(slash + 1));
  const max = type === 'ipv4' ? 32 : 128;
  if (!type || !Number.isInteger(bits) || bits < 0 || bits > max) invalidPattern(`bad cidr ${cidr}`);
  const list = new BlockList();
  list.addSubnet(address, bits, type);
  return list;
}

function wildcardRegExp(pattern: string, flags = ''): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      re += `\\${pattern[++i]}`;
    } else if (c === '*') {
      re += '.*';
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`, `s${flags}`);
}

function stringTest(arg: unknown, test: (value: string, p: string) => boolean, v: unknown): boolean {
  if (typeof v !== 'string') return false;
  if (typeof arg === 'string') return test(v, arg);
  const ic = (arg as Record<string, string>)['equals-ignore-case'];
  return test(v.toLowerCase(), ic.toLowerCase());
}

function matchesValue(m: unknown, v: unknown): boolean {
  if (!isObject(m)) return m === v; // exact: same JSON type and value (numbers compare numerically)
  const [op] = Object.keys(m);
  const arg = m[op];
  switch (op) {
    case 'prefix':
      return stringTest(arg, (s, p) => s.startsWith(p), v);
    case 'suffix':
      return stringTest(arg, (s, p) => s.endsWith(p), v);
    case 'equals-ignore-case':
      return typeof v === 'string' && v.toLowerCase() === (arg as string).toLowerCase();
    case 'wildcard':
      return typeof v === 'string' && wildcardRegExp(arg as string).test(v);
    case 'cidr':
      if (typeof v !== 'string') return false;
      return isIPv4(v)
        ? parseCidr(arg as string).check(v, 'ipv4')
        : isIPv6(v) && parseCidr(arg as string).check(v, 'ipv6');
    case 'numeric': {
      if (typeof v !== 'number') return false;
      const cond = arg as (string | number)[];
      for (let i = 0; i < cond.length; i += 2) {
        const n = cond[i + 1] as number;
        const ok =
          cond[i] === '='
            ? v === n
            : cond[i] === '<'
              ? v < n
              : cond[i] === '<='
                ? v <= n
                : cond[i] === '>'
                  ? v > n
                  : v >= n;
        if (!ok) return false;
      }
      return true;
    }
    case 'anything-but': {
      if (Array.isArray(arg)) return !arg.includes(v);
      if (!isObject(arg)) return v !== arg;
      const [inner] = Object.keys(arg);
      const x = arg[inner];
      // Values that are not strings are never excluded by a string-shaped anything-but.
      if (typeof v !== 'string') return true;
      const list = (Array.isArray(x) ? x : [x]) as string[];
      if (inner === 'prefix') return !v.startsWith(x as string);
      if (inner === 'suffix') return !v.endsWith(x as string);
      if (inner === 'equals-ignore-case') return !list.some((s) => s.toLowerCase() === v.toLowerCase());
      return !list.some((w) => wildcardRegExp(w).test(v));
    }
    default:
      return invalidPattern(`unrecognized match type ${op}`);
  }
}

/** The leaf values of an event field: arrays are flattened, objects are not leaves. */
function leafValues(value: unknown): unknown[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap(leafValues);
  return isObject(value) ? [] : [value];
}

function matchesField(matchers: unknown[], value: unknown): boolean {
  const leaves = leafValues(value);
  return matchers.some((m) => {
    if (isObject(m) && 'exists' in m) return m.exists === leaves.length > 0;
    return leaves.some((v) => matchesValue(m, v));
  });
}

function matchesObject(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  for (const [key, value] of Object.entries(pattern)) {
    if (isOr(key, value)) {
      if (!value.some((alternative) => matchesObject(alternative, event))) return false;
    } else if (Array.isArray(value)) {
      if (!matchesField(value, Object.hasOwn(event, key) ? event[key] : undefined)) return false;
    } else {
      const nested = value as Record<string, unknown>;
      const child = Object.hasOwn(event, key) ? event[key] : undefined;
      // Fields inside one element of an array must match within that element (event-ruler's array consistency).
      const candidates = (Array.isArray(child) ? child.flat(Infinity) : [child]).filter(isObject);
      if (candidates.length === 0) {
        if (!matchesObject(nested, {})) return false;
      } else if (!candidates.some((c) => matchesObject(nested, c))) {
        return false;
      }
    }
  }
  return true;
}

/**
 * Whether `event` matches the EventBridge event `pattern`: every field of the pattern must match (AND), a field
 * matches if any of its values does (OR), and an array in the event matches if any element does. Supports exact
 * values (strings, numbers, booleans, null), prefix, suffix, equals-ignore-case, wildcard, anything-but (values,
 * lists, prefix, suffix, equals-ignore-case, wildcard), numeric ranges, exists, cidr and $or.
 */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  validatePattern(pattern);
  return matchesObject(pattern as Record<string, unknown>, isObject(event) ? event : {});
}

// ---------------------------------------------------------------------------------------------------------------
// Target input

type PathSegment = string | number | '*';

function parseJsonPath(path: string): PathSegment[] {
  if (!path.startsWith('$')) throw new Error(`JSON path must start with $: ${path}`);
  const out: PathSegment[] = [];
  let i = 1;
  while (i < path.length) {
    if (path[i] === '.') {
      let j = i + 1;
      while (j < path.length && path[j] !== '.' && path[j] !== '[') j++;
      const key = path.slice(i + 1, j);
      if (key === '') throw new Error(`bad JSON path ${path}`);
      out.push(key === '*' ? '*' : key);
      i = j;
    } else if (path[i] === '[') {
      const end = path.indexOf(']', i);
      if (end < 0) throw new Error(`bad JSON path ${path}`);
      const inner = path.slice(i + 1, end).trim();
      if (inner === '*') out.push('*');
      else if (/^\d+$/.test(inner)) out.push(Number(inner));
      else if (/^(['"]).*\1$/.test(inner)) out.push(inner.slice(1, -1));
      else throw new Error(`bad JSON path ${path}`);
      i = end + 1;
    } else {
      throw new Error(`bad JSON path ${path}`);
    }
  }
  return out;
}

/** The value at a JSON path (dot notation, indexes, wildcards); undefined when the path is absent. */
export function jsonPathValue(document: unknown, path: string): unknown {
  const segments = parseJsonPath(path);
  const wild = segments.includes('*');
  let current: unknown[] = [document];
  for (const s of segments) {
    const next: unknown[] = [];
    for (const c of current) {
      if (s === '*') {
        if (Array.isArray(c)) next.push(...c);
        else if (isObject(c)) next.push(...Object.values(c));
      } else if (typeof s === 'number') {
        if (Array.isArray(c) && s < c.length) next.push(c[s]);
      } else if (isObject(c) && Object.hasOwn(c, s)) {
        next.push(c[s]);
      }
    }
    current = next;
  }
  if (wild) return current.length > 0 ? current : undefined;
  return current[0];
}

/** The rule-side values of the predefined transformer variables. */
export interface TargetInputContext {
  readonly ruleName?: string;
  readonly ruleArn?: string;
  /** @default the event's time */
  readonly ingestionTime?: Date;
}

function fillTemplate(template: string, values: Map<string, unknown>, declared: Set<string>): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '<') {
      const end = template.indexOf('>', i + 1);
      const name = end < 0 ? '' : template.slice(i + 1, end);
      if (name !== '' && (values.has(name) || declared.has(name))) {
        const v = values.get(name);
        // Inside a JSON string the value goes in as text, unescaped; outside it goes in as JSON, so a string
        // value is quoted. A path that is not in the event gives no value at all.
        if (v !== undefined) {
          out += inString ? (typeof v === 'string' ? v : JSON.stringify(v)) : JSON.stringify(v);
        }
        i = end;
        continue;
      }
    }
    out += c;
    if (c === '\\' && inString) {
      out += template[i + 1] ?? '';
      i++;
    } else if (c === '"') {
      inString = !inString;
    }
  }
  return out;
}

/**
 * The text EventBridge sends to a target for an event: Input as is; the JSON of the value at InputPath; the
 * InputTransformer's template filled with the values of InputPathsMap and the predefined variables
 * (aws.events.rule-arn, aws.events.rule-name, aws.events.event.ingestion-time, aws.events.event without its
 * detail, aws.events.event.json); else the whole event as JSON.
 */
export function targetInput(
  target: RuleTarget,
  event: EventBridgeEvent,
  context: TargetInputContext = {},
): string {
  if (target.input !== undefined) return target.input;
  if (target.inputPath !== undefined) return JSON.stringify(jsonPathValue(event, target.inputPath) ?? null);
  const transformer = target.inputTransformer;
  if (!transformer) return JSON.stringify(event);
  const values = new Map<string, unknown>();
  const paths = transformer.InputPathsMap ?? {};
  for (const [name, path] of Object.entries(paths)) {
    if (name.startsWith('aws.')) throw new Error(`InputPathsMap: ${name} is a reserved variable name`);
    values.set(name, jsonPathValue(event, path));
  }
  const envelope: Record<string, unknown> = { ...event };
  delete envelope.detail;
  if (context.ruleArn !== undefined) values.set('aws.events.rule-arn', context.ruleArn);
  if (context.ruleName !== undefined) values.set('aws.events.rule-name', context.ruleName);
  values.set(
    'aws.events.event.ingestion-time',
    (context.ingestionTime ?? new Date(event.time)).toISOString(),
  );
  values.set('aws.events.event', envelope);
  values.set('aws.events.event.json', event);
  return fillTemplate(transformer.InputTemplate, values, new Set(Object.keys(paths)));
}

// ---------------------------------------------------------------------------------------------------------------
// Schedules

interface CronField {
  readonly values: ReadonlySet<number>;
}

export interface CronSchedule {
  readonly expression: string;
  readonly minutes: CronField;
  readonly hours: CronField;
  /** undefined when the field is "?" */
  readonly dayOfMonth?: {
    readonly field?: CronField;
    readonly last?: boolean;
    readonly nearestWeekday?: number;
  };
  readonly months: CronField;
  /** 1 = Sunday ... 7 = Saturday */
  readonly dayOfWeek?: {
    readonly field?: CronField;
    readonly last?: number;
    readonly nth?: [number, number];
  };
  readonly years: CronField;
}

export type Schedule = { readonly everyMilliseconds: number } | { readonly cron: CronSchedule };

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function parseCronField(
  text: string,
  min: number,
  max: number,
  what: string,
  names: string[] = [],
): CronField {
  const number = (s: string): number => {
    const named = names.indexOf(s.toUpperCase());
    if (named >= 0) return named + min;
    if (!/^\d+$/.test(s)) throw new Error(`${what}: bad value "${s}"`);
    const n = Number(s);
    if (n < min || n > max) throw new Error(`${what}: ${n} is outside ${min}-${max}`);
    return n;
  };
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`${what}: bad increment in "${part}"`);
    let from: number;
    let to: number;
    if (range === '*') {
      from = min;
      to = max;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-');
      from = number(a);
      to = number(b);
    } else {
      from = number(range);
      to = stepText === undefined ? from : max;
    }
    // A range may wrap around (hours 20-2 is 20..23 and 0..2).
    const span = to >= from ? to - from : max - from + 1 + (to - min);
    for (let k = 0; k <= span; k += step) values.add(((from - min + k) % (max - min + 1)) + min);
  }
  return { values };
}

function parseCron(expression: string, body: string): CronSchedule {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6)
    throw new Error(`${expression}: cron expressions have 6 fields, got ${fields.length}`);
  const [mi, h, dom, mon, dow, y] = fields;
  if ((dom === '?') === (dow === '?')) {
    throw new Error(`${expression}: exactly one of day-of-month and day-of-week must be "?"`);
  }
  let dayOfMonth: CronSchedule['dayOfMonth'];
  if (dom !== '?') {
    if (dom === 'L') dayOfMonth = { last: true };
    else if (/^\d+W$/.test(dom)) {
      const [n] = parseCronField(dom.slice(0, -1), 1, 31, 'day-of-month').values;
      dayOfMonth = { nearestWeekday: n };
    } else dayOfMonth = { field: parseCronField(dom, 1, 31, 'day-of-month') };
  }
  let dayOfWeek: CronSchedule['dayOfWeek'];
  if (dow !== '?') {
    const nth = /^(\w+)#([1-5])$/.exec(dow);
    const last = /^(\w*)L$/.exec(dow);
    const day = (s: string) => [...parseCronField(s, 1, 7, 'day-of-week', DAYS).values][0];
    if (nth) dayOfWeek = { nth: [day(nth[1]), Number(nth[2])] };
    else if (last) dayOfWeek = { last: last[1] === '' ? 7 : day(last[1]) };
    else dayOfWeek = { field: parseCronField(dow, 1, 7, 'day-of-week', DAYS) };
  }
  return {
    expression,
    minutes: parseCronField(mi, 0, 59, 'minutes'),
    hours: parseCronField(h, 0, 23, 'hours'),
    dayOfMonth,
    months: parseCronField(mon, 1, 12, 'month', MONTHS),
    dayOfWeek,
    years: parseCronField(y, 1970, 2199, 'year'),
  };
}

const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** Parses an EventBridge schedule expression: rate(value unit) or cron(6 fields), UTC. */
export function parseSchedule(expression: string): Schedule {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2];
    const plural = unit.endsWith('s');
    if (value < 1) throw new Error(`${expression}: the rate must be a positive number`);
    // EventBridge insists on "1 hour" and "2 hours".
    if ((value === 1) === plural) {
      throw new Error(`${expression}: use a singular unit for 1 and a plural one above 1`);
    }
    return { everyMilliseconds: value * UNIT_MS[plural ? unit.slice(0, -1) : unit] };
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) return { cron: parseCron(expression, cron[1]) };
  throw new Error(`${expression}: not a schedule expression (rate(...) or cron(...))`);
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function dayMatches(c: CronSchedule, year: number, month: number, day: number): boolean {
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1; // 1 = Sunday
  const length = daysInMonth(year, month);
  if (c.dayOfMonth) {
    const d = c.dayOfMonth;
    if (d.last) return day === length;
    if (d.nearestWeekday !== undefined) {
      const target = Math.min(d.nearestWeekday, length);
      const tw = new Date(Date.UTC(year, month - 1, target)).getUTCDay();
      let nearest = target;
      if (tw === 6) nearest = target === 1 ? 3 : target - 1;
      else if (tw === 0) nearest = target === length ? target - 2 : target + 1;
      return day === nearest;
    }
    return d.field?.values.has(day) ?? false;
  }
  const w = c.dayOfWeek;
  if (!w) return false;
  if (w.nth) return weekday === w.nth[0] && Math.ceil(day / 7) === w.nth[1];
  if (w.last !== undefined) return weekday === w.last && day + 7 > length;
  return w.field?.values.has(weekday) ?? false;
}

/**
 * The first time the schedule fires strictly after `after`. A rate schedule runs every interval from `anchor`
 * (when the rule was created; default `after`); a cron schedule fires at the start of each matching minute, UTC.
 */
export function nextFire(expression: string, after: Date, anchor: Date = after): Date {
  const schedule = parseSchedule(expression);
  if ('everyMilliseconds' in schedule) {
    const every = schedule.everyMilliseconds;
    const elapsed = after.getTime() - anchor.getTime();
    const k = elapsed < 0 ? 1 : Math.floor(elapsed / every) + 1;
    return new Date(anchor.getTime() + k * every);
  }
  const c = schedule.cron;
  const start = new Date(Math.floor(after.getTime() / 60_000) * 60_000 + 60_000);
  const hours = [...c.hours.values].sort((a, b) => a - b);
  const minutes = [...c.minutes.values].sort((a, b) => a - b);
  const day = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate()));
  for (; day.getUTCFullYear() <= 2199; day.setUTCDate(day.getUTCDate() + 1)) {
    const year = day.getUTCFullYear();
    const month = day.getUTCMonth() + 1;
    if (!c.years.values.has(year)) {
      if (year > Math.max(...c.years.values)) break;
      day.setUTCFullYear(year + 1, 0, 0);
      continue;
    }
    if (!c.months.values.has(month) || !dayMatches(c, year, month, day.getUTCDate())) continue;
    for (const h of hours) {
      for (const m of minutes) {
        const t = Date.UTC(year, month - 1, day.getUTCDate(), h, m);
        if (t >= start.getTime()) return new Date(t);
      }
    }
  }
  throw new Error(`${expression}: never fires after ${after.toISOString()}`);
}

// ---------------------------------------------------------------------------------------------------------------
// The bus

export interface DeliveryFailure {
  readonly rule: string;
  readonly target: string;
  readonly eventId: string;
  readonly time: Date;
  readonly error: Error;
}

export interface LocalEventBusOptions {
  readonly rules: readonly LocalRule[];
  /** Delivers `input` to a target (start an execution, invoke a Lambda, send to a queue ...). */
  invoke(target: RuleTarget, input: string, rule: LocalRule, event: EventBridgeEvent): Promise<void>;
  readonly clock: Clock;
  /** @default 'default' */
  readonly busName?: string;
  /** For scheduled events. @default the region and account of the rules' ARNs */
  readonly region?: string;
  readonly accountId?: string;
}

function enabled(rule: LocalRule): boolean {
  return rule.state.startsWith('ENABLED');
}

/** EventBridge times have whole seconds. */
export function eventTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * One event bus: `put` delivers an event to the targets of every enabled pattern rule that matches it;
 * `tick` fires the scheduled rules that are due on the clock. Delivery errors are collected, not thrown
 * (EventBridge retries and dead-letter queues are out of scope).
 */
export class LocalEventBus {
  private readonly rules: readonly LocalRule[];
  private readonly nextTimes = new Map<LocalRule, Date>();
  private readonly anchor: Date;
  private readonly failed: DeliveryFailure[] = [];
  private readonly region: string;
  private readonly accountId: string;

  constructor(private readonly options: LocalEventBusOptions) {
    const bus = options.busName ?? 'default';
    this.rules = options.rules.filter((r) => r.eventBusName === bus);
    this.anchor = options.clock.now();
    // arn:aws:events:<region>:<account>:rule/<name>
    const [, , , region, account] = (this.rules[0]?.arn ?? '').split(':');
    this.region = options.region ?? (region ? region : 'us-east-1');
    this.accountId = options.accountId ?? (account ? account : '000000000000');
    for (const rule of this.rules) {
      if (rule.scheduleExpression !== undefined) {
        this.nextTimes.set(rule, nextFire(rule.scheduleExpression, this.anchor, this.anchor));
      }
    }
  }

  /** Delivers `event` to every matching enabled rule's targets; resolves when all deliveries are done. */
  async put(event: EventBridgeEvent): Promise<{ matched: string[] }> {
    if (typeof event.source !== 'string' || typeof event['detail-type'] !== 'string') {
      throw new AwsApiError('ValidationException', 'An event needs a source and a detail-type');
    }
    const matched = this.rules.filter(
      (r) => enabled(r) && r.eventPattern !== undefined && matchesPattern(r.eventPattern, event),
    );
    await Promise.all(matched.map((r) => this.deliver(r, event)));
    return { matched: matched.map((r) => r.name) };
  }

  /** Fires every scheduled rule whose time has come (each missed time once, in time order). */
  async tick(): Promise<Array<{ rule: string; time: Date }>> {
    const now = this.options.clock.now().getTime();
    const due: Array<{ rule: LocalRule; time: Date }> = [];
    for (const [rule, next] of this.nextTimes) {
      let t = next;
      while (t.getTime() <= now) {
        if (due.length >= 100_000)
          throw new Error(`schedule ${rule.scheduleExpression}: too many missed runs`);
        due.push({ rule, time: t });
        t = nextFire(rule.scheduleExpression as string, t, this.anchor);
      }
      this.nextTimes.set(rule, t);
    }
    due.sort((a, b) => a.time.getTime() - b.time.getTime());
    for (const { rule, time } of due) {
      if (!enabled(rule)) continue;
      await this.deliver(rule, {
        version: '0',
        id: randomUUID(),
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        account: this.accountId,
        time: eventTime(time),
        region: this.region,
        resources: [rule.arn],
        detail: {},
      });
    }
    return due.filter((d) => enabled(d.rule)).map((d) => ({ rule: d.rule.name, time: d.time }));
  }

  /** When each scheduled rule fires next. */
  schedule(): Array<{ rule: string; next: Date }> {
    return [...this.nextTimes].map(([rule, next]) => ({ rule: rule.name, next }));
  }

  failures(): readonly DeliveryFailure[] {
    return this.failed;
  }

  private async deliver(rule: LocalRule, event: EventBridgeEvent): Promise<void> {
    const ingestionTime = this.options.clock.now();
    await Promise.all(
      rule.targets.map(async (target) => {
        try {
          const input = targetInput(target, event, { ruleName: rule.name, ruleArn: rule.arn, ingestionTime });
          await this.options.invoke(target, input, rule, event);
        } catch (e) {
          this.failed.push({
            rule: rule.name,
            target: target.id,
            eventId: event.id,
            time: ingestionTime,
            error: e instanceof Error ? e : new Error(String(e)),
          });
        }
      }),
    );
  }
}
