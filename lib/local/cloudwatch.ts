import { createHash, randomUUID } from 'node:crypto';
import { systemClock, type Clock } from './clock';
import { AwsApiError } from './errors';
import { eventTime, type EventBridgeEvent } from './events';
import type { LocalTemplates } from './template';

/**
 * Local CloudWatch (DESIGN.md section 10): a metric store fed by PutMetricData and by the Embedded Metric Format
 * lines the handlers print, and the alarms of the synthesized templates evaluated against it the way CloudWatch
 * evaluates alarms ("Evaluating an alarm" and "How alarm state is evaluated when data is missing" in the
 * CloudWatch user guide). Everything runs on the local clock, so an hour-long alarm period passes in a demo step.
 */

export interface StatisticSet {
  readonly sampleCount: number;
  readonly sum: number;
  readonly minimum: number;
  readonly maximum: number;
}

export interface Datum {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  timestamp: Date;
  /** Raw values; `counts[i]` says how many times `values[i]` was seen (default 1). */
  values: number[];
  counts?: number[];
  /** A pre-aggregated set (PutMetricData StatisticValues); percentiles cannot be computed from it. */
  statisticValues?: StatisticSet;
  unit?: string;
}

const UNITS = new Set(
  (
    'Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits Kilobits Megabits ' +
    'Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second Gigabytes/Second ' +
    'Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second Terabits/Second Count/Second None'
  ).split(' '),
);

const BASIC_STATS = new Set(['Sum', 'Average', 'Maximum', 'Minimum', 'SampleCount']);

/** The percentile of a pNN / pNN.NN statistic, or undefined for the basic statistics; throws for others. */
function percentileOf(stat: string): number | undefined {
  if (BASIC_STATS.has(stat)) return undefined;
  const m = /^p(\d{1,3}(?:\.\d+)?)$/.exec(stat);
  const p = m ? Number(m[1]) : NaN;
  if (!(p >= 0 && p <= 100)) {
    throw new Error(`unsupported statistic ${stat} (Sum, Average, Maximum, Minimum, SampleCount or pNN)`);
  }
  return p;
}

/** Entries a chunk makes room for at first; it doubles when full. */
const CHUNK_CAPACITY = 8;

/**
 * The values one series received within one second in one unit, as parallel typed arrays: a datum costs a
 * millisecond offset (2 bytes) and a value (8 bytes), plus a count (8 bytes) only in a chunk where some count is not
 * 1. Past a few entries the arrays' memory is outside the JavaScript heap, so a store that grows through a long
 * `local up` or a benchmark neither adds objects for the collector to walk nor grows the old generation towards
 * its next full collection (as plain arrays, the store was about 45 MB of a serving process's 90 MB heap after
 * two minutes of benchmark load).
 */
class Chunk {
  length = 0;
  /** Per entry: milliseconds after `second` (datum times are whole milliseconds). */
  offsets = new Uint16Array(CHUNK_CAPACITY);
  values = new Float64Array(CHUNK_CAPACITY);
  /** Per entry: how many times the value was seen; undefined while every count is 1. */
  counts: Float64Array | undefined = undefined;

  constructor(
    /** The second every entry falls in (epoch milliseconds, a multiple of 1000). */
    readonly second: number,
    readonly unit: string,
  ) {}

  push(time: number, value: number, count: number): void {
    const i = this.length;
    if (i === this.values.length) this.grow(i * 2);
    this.offsets[i] = time - this.second;
    this.values[i] = value;
    if (count !== 1 && this.counts === undefined) this.counts = new Float64Array(this.values.length).fill(1);
    if (this.counts !== undefined) this.counts[i] = count;
    this.length = i + 1;
  }

  time(i: number): number {
    return this.second + this.offsets[i];
  }

  count(i: number): number {
    return this.counts === undefined ? 1 : this.counts[i];
  }

  private grow(capacity: number): void {
    const offsets = new Uint16Array(capacity);
    offsets.set(this.offsets);
    this.offsets = offsets;
    const values = new Float64Array(capacity);
    values.set(this.values);
    this.values = values;
    if (this.counts !== undefined) {
      const counts = new Float64Array(capacity).fill(1);
      counts.set(this.counts);
      this.counts = counts;
    }
  }
}

/** A pre-aggregated datum (PutMetricData StatisticValues). */
interface StatSample {
  readonly t: number;
  readonly unit: string;
  readonly stats: StatisticSet;
}

interface Series {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly chunks: Chunk[];
  readonly statSamples: StatSample[];
}

interface Aggregate {
  readonly sampleCount: number;
  readonly sum: number;
  readonly minimum: number;
  readonly maximum: number;
  /** [value, count] of the raw samples */
  readonly raw: Array<[number, number]>;
}

/**
 * The aggregate of a series' datums in [from, to) (in `unit`, when given), with the unit of the first one; undefined
 * when there is none.
 */
function aggregateRange(
  series: Series | undefined,
  unit: string | undefined,
  from: number,
  to: number,
): (Aggregate & { readonly unit: string }) | undefined {
  if (!series) return undefined;
  let sampleCount = 0;
  let sum = 0;
  let minimum = Infinity;
  let maximum = -Infinity;
  let firstUnit: string | undefined;
  const raw: Array<[number, number]> = [];
  for (const s of series.statSamples) {
    if (s.t < from || s.t >= to || (unit !== undefined && s.unit !== unit)) continue;
    firstUnit ??= s.unit;
    sampleCount += s.stats.sampleCount;
    sum += s.stats.sum;
    minimum = Math.min(minimum, s.stats.minimum);
    maximum = Math.max(maximum, s.stats.maximum);
  }
  for (const c of series.chunks) {
    if (c.second >= to || c.second + 1000 <= from || (unit !== undefined && c.unit !== unit)) continue;
    for (let i = 0; i < c.length; i++) {
      const t = c.time(i);
      if (t < from || t >= to) continue;
      const v = c.values[i];
      const n = c.count(i);
      firstUnit ??= c.unit;
      sampleCount += n;
      sum += v * n;
      if (v < minimum) minimum = v;
      if (v > maximum) maximum = v;
      raw.push([v, n]);
    }
  }
  return firstUnit === undefined || !(sampleCount > 0)
    ? undefined
    : { sampleCount, sum, minimum, maximum, raw, unit: firstUnit };
}

/** Nearest-rank percentile over the raw values (with their counts). */
function percentile(raw: Array<[number, number]>, p: number): number | undefined {
  if (raw.length === 0) return undefined;
  const sorted = [...raw].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((n, [, c]) => n + c, 0);
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const [v, c] of sorted) {
    seen += c;
    if (seen >= rank) return v;
  }
  return sorted[sorted.length - 1][0];
}

function statValue(a: Aggregate, stat: string): number | undefined {
  switch (stat) {
    case 'Sum':
      return a.sum;
    case 'Average':
      return a.sum / a.sampleCount;
    case 'Maximum':
      return a.maximum;
    case 'Minimum':
      return a.minimum;
    case 'SampleCount':
      return a.sampleCount;
    default:
      return percentile(a.raw, percentileOf(stat) as number);
  }
}

/**
 * One step of the series index: a namespace, then a metric name, then each dimension's name and value (names
 * sorted), each part a Map lookup of its own. Every datum looks its series up (hot on the inference API's path):
 * the parts are mostly the same string objects datum after datum, whose hashes V8 keeps, where a key built by
 * concatenating them had to be hashed afresh every time.
 */
class KeyNode {
  /** The next part, when it is a string. */
  strings: Map<string, KeyNode> | undefined = undefined;
  /** The next part, when it is not a string (an API request's dimension value may be a number): by its JSON. */
  others: Map<string, KeyNode> | undefined = undefined;
  /** The series whose key ends here. */
  series: Series | undefined = undefined;
}

function childNode(node: KeyNode, part: unknown, create: boolean): KeyNode | undefined {
  let map: Map<string, KeyNode> | undefined;
  let key: string;
  if (typeof part === 'string') {
    map = create ? (node.strings ??= new Map()) : node.strings;
    key = part;
  } else {
    map = create ? (node.others ??= new Map()) : node.others;
    key = String(JSON.stringify(part));
  }
  let child = map?.get(key);
  if (child === undefined && create) {
    child = new KeyNode();
    map!.set(key, child);
  }
  return child;
}

/** The index node of a series (made on the way when `create`); undefined when there is none. */
function seriesNode(
  root: KeyNode,
  namespace: string,
  metricName: string,
  dimensions: Readonly<Record<string, string>>,
  create: boolean,
): KeyNode | undefined {
  const keys = Object.keys(dimensions);
  if (keys.length > 1) keys.sort();
  let node = childNode(root, namespace, create);
  if (node !== undefined) node = childNode(node, metricName, create);
  for (let i = 0; i < keys.length && node !== undefined; i++) {
    node = childNode(node, keys[i], create);
    if (node !== undefined) node = childNode(node, dimensions[keys[i]], create);
  }
  return node;
}

/** A time given the ways an API request carries it: Date, epoch seconds (awsJson), or an ISO string. */
function toDate(value: unknown, parameter: string): Date {
  const d =
    value instanceof Date
      ? value
      : typeof value === 'number'
        ? new Date(value * 1000)
        : typeof value === 'string'
          ? new Date(/^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : value)
          : undefined;
  if (d === undefined) throw new AwsApiError('MissingParameter', `The parameter ${parameter} is required.`);
  if (Number.isNaN(d.getTime())) invalidValue(value, parameter);
  return d;
}

function invalidValue(value: unknown, parameter: string): never {
  throw new AwsApiError(
    'InvalidParameterValue',
    `The value ${typeof value === 'string' ? value : JSON.stringify(value)} for parameter ${parameter} is invalid.`,
  );
}

function required<T>(value: T | undefined | null, parameter: string): T {
  if (value === undefined || value === null || value === '') {
    throw new AwsApiError('MissingParameter', `The parameter ${parameter} is required.`);
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface ApiDimension {
  Name?: string;
  Value?: string;
}

function dimensionsOf(list: unknown, parameter: string): Record<string, string> {
  if (list === undefined) return {};
  if (!Array.isArray(list)) invalidValue(list, parameter);
  if (list.length > 30) invalidValue(list.length, `${parameter} (at most 30 dimensions)`);
  const out: Record<string, string> = {};
  list.forEach((d: ApiDimension, i) => {
    const name = required(d?.Name, `${parameter}.member.${i + 1}.Name`);
    const value = required(d?.Value, `${parameter}.member.${i + 1}.Value`);
    if (name in out) {
      throw new AwsApiError('InvalidParameterValue', `No metric may have duplicate dimension names: ${name}`);
    }
    out[name] = value;
  });
  return out;
}

function apiDimensions(dims: Readonly<Record<string, string>>): Array<{ Name: string; Value: string }> {
  return Object.entries(dims).map(([Name, Value]) => ({ Name, Value }));
}

export interface PutDatum {
  namespace: string;
  metricName: string;
  dimensions?: Record<string, string>;
  /** @default clock.now() */
  timestamp?: Date;
  values?: number[];
  counts?: number[];
  statisticValues?: StatisticSet;
  unit?: string;
}

/** What one MetricStat asks for. */
export interface MetricStatDefinition {
  readonly metric: {
    readonly namespace: string;
    readonly metricName: string;
    readonly dimensions: Readonly<Record<string, string>>;
  };
  /** seconds */
  readonly period: number;
  readonly stat: string;
  readonly unit?: string;
}

/** One entry of a metric math query (GetMetricData MetricDataQueries, an alarm's Metrics). */
export interface MetricQueryDefinition {
  readonly id: string;
  readonly expression?: string;
  readonly metricStat?: MetricStatDefinition;
  readonly label?: string;
  /** @default true */
  readonly returnData?: boolean;
  readonly period?: number;
}

interface PendingMetric {
  readonly at: Date;
  readonly datum?: PutDatum;
  readonly emf?: string;
}

/** The metrics the store holds, by namespace, name and dimensions (CloudWatch matches the full dimension set). */
export class MetricStore {
  /** Every series, in the order they were first put. */
  private readonly series: Series[] = [];
  private readonly index = new KeyNode();
  /**
   * Datums and EMF lines published on a request's path, stored on a later turn of the event loop (or before any
   * read), so that parsing and storing them does not delay the response: CloudWatch, too, ingests them after
   * the fact. Each keeps the clock time it was published at.
   */
  private pending: PendingMetric[] = [];
  private flushScheduled = false;

  constructor(private readonly clock: Clock) {}

  /** put(), deferred (see pending); the datum keeps the time it was published at. */
  putLater(d: PutDatum): void {
    this.enqueue({ at: this.clock.now(), datum: d });
  }

  /** putEmf(), deferred (see pending). A document that breaks the specification is reported as a warning. */
  putEmfLater(line: string): void {
    this.enqueue({ at: this.clock.now(), emf: line });
  }

  /** Stores every deferred datum and EMF line now. */
  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    for (const p of batch) {
      try {
        if (p.emf !== undefined) this.putEmf(p.emf, p.at);
        else this.store(p.datum!, p.at);
      } catch (e) {
        // The publisher has moved on; like a malformed EMF line in CloudWatch Logs, it is not extracted.
        process.emitWarning(`metric not stored: ${(e as Error).message}`);
      }
    }
  }

  private enqueue(p: PendingMetric): void {
    this.pending.push(p);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // A timer rather than setImmediate: an immediate runs before the event loop next polls its sockets, so a
    // caller in this same process (the inference Lambda waiting on the local endpoint) would wait for it.
    setTimeout(() => {
      this.flushScheduled = false;
      this.flush();
    }, 0);
  }

  /** Stores one datum as CloudWatch would after PutMetricData. */
  put(d: PutDatum): void {
    this.store(d, undefined);
  }

  /**
   * put(), the datum stamped `at` when it has no timestamp of its own (default now). A deferred datum is not
   * copied to stamp it: on the inference API's path that copy cost more than storing it.
   */
  private store(d: PutDatum, at: Date | undefined): void {
    const values = d.values ?? [];
    const counts = d.counts;
    if (counts !== undefined && counts.length !== values.length)
      throw new Error('put: counts and values differ in length');
    for (const v of values)
      if (!Number.isFinite(v)) throw new Error(`put: ${d.metricName}: ${v} is not a finite number`);
    if (counts)
      for (const c of counts)
        if (!Number.isFinite(c)) throw new Error(`put: ${d.metricName}: ${c} is not a finite number`);
    if (values.length === 0 && !d.statisticValues) throw new Error(`put: ${d.metricName}: no value`);
    const node = seriesNode(this.index, d.namespace, d.metricName, d.dimensions ?? {}, true)!;
    let s = node.series;
    if (!s) {
      const dimensions = { ...(d.dimensions ?? {}) };
      s = { namespace: d.namespace, metricName: d.metricName, dimensions, chunks: [], statSamples: [] };
      node.series = s;
      this.series.push(s);
    }
    const t = (d.timestamp ?? at ?? this.clock.now()).getTime();
    const unit = d.unit ?? 'None';
    if (d.statisticValues) s.statSamples.push({ t, unit, stats: d.statisticValues });
    if (values.length === 0) return;
    const second = Math.floor(t / 1000) * 1000;
    // Datums mostly arrive in time order: the last chunk is the usual one. Out of order, a new chunk is started
    // (reads look at every entry's own time, so two chunks of one second are fine).
    let chunk = s.chunks[s.chunks.length - 1];
    if (!chunk || chunk.second !== second || chunk.unit !== unit) {
      chunk = new Chunk(second, unit);
      s.chunks.push(chunk);
    }
    for (let i = 0; i < values.length; i++) chunk.push(t, values[i], counts?.[i] ?? 1);
  }

  /** The PutMetricData API: validates like CloudWatch and stores every datum; responds {}. */
  putMetricData(request: unknown): Record<string, never> {
    const r = isObject(request) ? request : {};
    const namespace = required(r.Namespace as string | undefined, 'Namespace');
    if (typeof namespace !== 'string' || namespace.length > 255 || namespace.startsWith('AWS/')) {
      // "AWS/" namespaces are reserved for AWS services (the local runtime publishes those through put()).
      invalidValue(namespace, 'Namespace');
    }
    const data = required(r.MetricData as unknown[] | undefined, 'MetricData');
    if (!Array.isArray(data) || data.length === 0 || data.length > 1000) invalidValue(data, 'MetricData');
    const datums: PutDatum[] = data.map((raw, i) => {
      const at = `MetricData.member.${i + 1}`;
      const m = isObject(raw) ? raw : {};
      const metricName = required(m.MetricName as string | undefined, `${at}.MetricName`);
      const dimensions = dimensionsOf(m.Dimensions, `${at}.Dimensions`);
      const given = ['Value', 'Values', 'StatisticValues'].filter((k) => m[k] !== undefined);
      if (given.length > 1) {
        throw new AwsApiError(
          'InvalidParameterCombination',
          `The parameters ${at}.${given[0]} and ${at}.${given[1]} are mutually exclusive and you have specified both.`,
        );
      }
      if (given.length === 0) {
        throw new AwsApiError('MissingParameter', `The parameter ${at}.Value is required.`);
      }
      const number = (v: unknown, p: string): number => {
        if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > 2 ** 360) invalidValue(v, p);
        return v;
      };
      let values: number[] = [];
      let counts: number[] | undefined;
      let statisticValues: StatisticSet | undefined;
      if (m.Value !== undefined) values = [number(m.Value, `${at}.Value`)];
      if (m.Values !== undefined) {
        if (!Array.isArray(m.Values) || m.Values.length === 0 || m.Values.length > 150) {
          invalidValue(m.Values, `${at}.Values`);
        }
        values = m.Values.map((v, j) => number(v, `${at}.Values.member.${j + 1}`));
        if (m.Counts !== undefined) {
          if (!Array.isArray(m.Counts) || m.Counts.length !== values.length) {
            throw new AwsApiError(
              'InvalidParameterValue',
              `The parameters ${at}.Values and ${at}.Counts must be of the same size.`,
            );
          }
          counts = m.Counts.map((c, j) => number(c, `${at}.Counts.member.${j + 1}`));
        }
      } else if (m.Counts !== undefined) {
        throw new AwsApiError('InvalidParameterCombination', `${at}.Counts requires ${at}.Values.`);
      }
      if (m.StatisticValues !== undefined) {
        const sv = isObject(m.StatisticValues) ? m.StatisticValues : {};
        const part = (k: string) =>
          number(required(sv[k], `${at}.StatisticValues.${k}`), `${at}.StatisticValues.${k}`);
        statisticValues = {
          sampleCount: part('SampleCount'),
          sum: part('Sum'),
          minimum: part('Minimum'),
          maximum: part('Maximum'),
        };
      }
      const unit = m.Unit as string | undefined;
      if (unit !== undefined && !UNITS.has(unit)) invalidValue(unit, `${at}.Unit`);
      const timestamp = m.Timestamp === undefined ? undefined : toDate(m.Timestamp, `${at}.Timestamp`);
      return { namespace, metricName, dimensions, timestamp, values, counts, statisticValues, unit };
    });
    // All or nothing, as the API validates the whole request first.
    datums.forEach((d) => this.put(d));
    return {};
  }

  /**
   * Stores the metrics of one Embedded Metric Format document (a line as Powertools or a Lambda prints it; text
   * before the JSON object is allowed). The datum time is the local clock's, not the document's Timestamp: the
   * handlers stamp real time, the platform runs on simulated time. Returns the number of datums stored: 0 for a
   * line that is not an EMF document; an EMF document that breaks the specification throws. `at`: the datum time
   * (a deferred line's publication time), default now.
   */
  putEmf(line: string, at?: Date): number {
    const start = line.indexOf('{');
    if (start < 0) return 0;
    let doc: unknown;
    try {
      doc = JSON.parse(line.slice(start));
    } catch {
      return 0;
    }
    if (!isObject(doc) || !isObject(doc._aws)) return 0;
    const root = doc;
    const fail = (reason: string): never => {
      throw new Error(`invalid Embedded Metric Format document: ${reason}`);
    };
    const directives = (root._aws as Record<string, unknown>).CloudWatchMetrics;
    if (!Array.isArray(directives)) return fail('_aws.CloudWatchMetrics must be an array');
    const timestamp = at ?? this.clock.now();
    const datums: PutDatum[] = [];
    directives.forEach((d: unknown, i) => {
      const at = `_aws.CloudWatchMetrics[${i}]`;
      if (!isObject(d)) return fail(`${at} must be an object`);
      const namespace = d.Namespace;
      if (typeof namespace !== 'string' || namespace.length === 0 || namespace.length > 255) {
        return fail(`${at}.Namespace must be a string of 1 to 255 characters`);
      }
      if (!Array.isArray(d.Dimensions)) return fail(`${at}.Dimensions must be an array of dimension sets`);
      if (!Array.isArray(d.Metrics) || d.Metrics.length > 100) {
        return fail(`${at}.Metrics must be an array of at most 100 metric definitions`);
      }
      const sets = d.Dimensions.map((set: unknown, j) => {
        if (!Array.isArray(set) || set.length > 30)
          return fail(`${at}.Dimensions[${j}] must be an array of keys`);
        const dims: Record<string, string> = {};
        for (const key of set) {
          const value = typeof key === 'string' ? root[key] : undefined;
          if (typeof value !== 'string')
            return fail(`dimension ${String(key)} must be a string member of the root`);
          dims[key as string] = value;
        }
        return dims;
      });
      for (const [j, def] of d.Metrics.entries()) {
        if (!isObject(def) || typeof def.Name !== 'string')
          return fail(`${at}.Metrics[${j}].Name must be a string`);
        const unit = def.Unit === undefined ? 'None' : String(def.Unit);
        if (!UNITS.has(unit)) return fail(`${at}.Metrics[${j}].Unit ${unit} is not a CloudWatch unit`);
        const target = root[def.Name];
        const values = Array.isArray(target) ? target : [target];
        if (
          values.length === 0 ||
          values.length > 100 ||
          !values.every((v) => typeof v === 'number' && Number.isFinite(v))
        ) {
          return fail(`metric ${def.Name} must be a number or an array of 1 to 100 numbers`);
        }
        for (const dimensions of sets) {
          datums.push({
            namespace,
            metricName: def.Name,
            dimensions,
            timestamp,
            values: values as number[],
            unit,
          });
        }
      }
    });
    datums.forEach((d) => this.put(d));
    return datums.length;
  }

  private seriesOf(
    namespace: string,
    metricName: string,
    dimensions: Readonly<Record<string, string>>,
  ): Series | undefined {
    this.flush();
    return seriesNode(this.index, namespace, metricName, dimensions, false)?.series;
  }

  /** A statistic over [start, end), or undefined when there is no datapoint in the interval. */
  stat(
    namespace: string,
    metricName: string,
    dimensions: Readonly<Record<string, string>>,
    stat: string,
    start: Date,
    end: Date,
    unit?: string,
  ): number | undefined {
    percentileOf(stat);
    const from = start.getTime();
    const to = end.getTime();
    const a = aggregateRange(this.seriesOf(namespace, metricName, dimensions), unit, from, to);
    return a && statValue(a, stat);
  }

  /** The datapoints of one MetricStat over the buckets starting at `grid` (each `period` seconds long). */
  datapoints(ms: MetricStatDefinition, grid: readonly number[]): TimeSeries {
    const out: TimeSeries = new Map();
    const length = ms.period * 1000;
    const series = this.seriesOf(ms.metric.namespace, ms.metric.metricName, ms.metric.dimensions);
    for (const t of grid) {
      const a = aggregateRange(series, ms.unit, t, t + length);
      const v = a && statValue(a, ms.stat);
      if (v !== undefined) out.set(t, v);
    }
    return out;
  }

  /** The sample count of each bucket (percentile alarms with EvaluateLowSampleCountPercentile ignore). */
  sampleCounts(ms: MetricStatDefinition, grid: readonly number[]): TimeSeries {
    return this.datapoints({ ...ms, stat: 'SampleCount' }, grid);
  }

  /** The GetMetricData API (MetricStat and metric math queries); Timestamps are Dates. */
  getMetricData(request: unknown): { MetricDataResults: MetricDataResult[]; Messages: [] } {
    const r = isObject(request) ? request : {};
    const start = toDate(r.StartTime, 'StartTime');
    const end = toDate(r.EndTime, 'EndTime');
    if (end <= start) {
      throw new AwsApiError(
        'InvalidParameterValue',
        'The parameter StartTime must be less than the parameter EndTime.',
      );
    }
    const raw = required(r.MetricDataQueries as unknown[] | undefined, 'MetricDataQueries');
    if (!Array.isArray(raw) || raw.length === 0 || raw.length > 500) invalidValue(raw, 'MetricDataQueries');
    const queries = raw.map((q, i) => apiQuery(q, `MetricDataQueries.member.${i + 1}`));
    let compiled: CompiledQueries;
    try {
      compiled = compileQueries(queries);
    } catch (e) {
      throw new AwsApiError('ValidationError', (e as Error).message);
    }
    // CloudWatch rounds a recent StartTime down to the minute; buckets are one period long from there. Metric
    // math needs one period for all its metrics (CloudWatch's rule for alarms); a MetricStat has its own.
    const first = Math.floor(start.getTime() / 60_000) * 60_000;
    const gridOf = (period: number) => {
      const grid: number[] = [];
      for (let t = first; t < end.getTime(); t += period * 1000) grid.push(t);
      return grid;
    };
    const statPeriods = queries.flatMap((q) => (q.metricStat ? [q.metricStat.period] : []));
    const mathGrid = gridOf(
      statPeriods.length > 0 ? Math.max(...statPeriods) : (queries.find((q) => q.period)?.period ?? 60),
    );
    const descending = (r.ScanBy ?? 'TimestampDescending') === 'TimestampDescending';
    const results: MetricDataResult[] = [];
    for (const q of queries) {
      if (q.returnData === false) continue;
      let ts: TimeSeries;
      try {
        ts = evaluateQuery(compiled, q.id, this, q.metricStat ? gridOf(q.metricStat.period) : mathGrid);
      } catch (e) {
        throw new AwsApiError('ValidationError', (e as Error).message);
      }
      const times = [...ts.keys()].sort((a, b) => (descending ? b - a : a - b));
      results.push({
        Id: q.id,
        Label: q.label ?? q.metricStat?.metric.metricName ?? q.id,
        Timestamps: times.map((t) => new Date(t)),
        Values: times.map((t) => ts.get(t) as number),
        StatusCode: 'Complete',
      });
    }
    return { MetricDataResults: results, Messages: [] };
  }

  /** The GetMetricStatistics API. */
  getMetricStatistics(request: unknown): { Label: string; Datapoints: Array<Record<string, unknown>> } {
    const r = isObject(request) ? request : {};
    const namespace = required(r.Namespace as string | undefined, 'Namespace');
    const metricName = required(r.MetricName as string | undefined, 'MetricName');
    const dimensions = dimensionsOf(r.Dimensions, 'Dimensions');
    const start = toDate(r.StartTime, 'StartTime');
    const end = toDate(r.EndTime, 'EndTime');
    const period = required(r.Period as number | undefined, 'Period');
    if (!Number.isInteger(period) || period < 1) invalidValue(period, 'Period');
    const stats = (r.Statistics ?? []) as string[];
    const extended = (r.ExtendedStatistics ?? []) as string[];
    if (stats.length + extended.length === 0) {
      throw new AwsApiError('MissingParameter', 'Must specify either Statistics or ExtendedStatistics.');
    }
    stats.forEach((s, i) => {
      if (!BASIC_STATS.has(s)) invalidValue(s, `Statistics.member.${i + 1}`);
    });
    extended.forEach((s, i) => {
      if (BASIC_STATS.has(s) || !/^p\d/.test(s)) invalidValue(s, `ExtendedStatistics.member.${i + 1}`);
      percentileOf(s);
    });
    const unit = r.Unit as string | undefined;
    const series = this.seriesOf(namespace, metricName, dimensions);
    const datapoints: Array<Record<string, unknown>> = [];
    const first = Math.floor(start.getTime() / 60_000) * 60_000;
    for (let t = first; t < end.getTime(); t += period * 1000) {
      const a = aggregateRange(series, unit, t, t + period * 1000);
      if (!a) continue;
      const dp: Record<string, unknown> = { Timestamp: new Date(t), Unit: unit ?? a.unit };
      for (const s of stats) dp[s] = statValue(a, s);
      if (extended.length > 0) {
        dp.ExtendedStatistics = Object.fromEntries(extended.map((s) => [s, statValue(a, s)]));
      }
      datapoints.push(dp);
    }
    return { Label: metricName, Datapoints: datapoints };
  }

  /** The ListMetrics API (Namespace, MetricName and Dimensions filters). */
  list(request: unknown = {}): ReturnType<MetricStore['listMetrics']> {
    return this.listMetrics(request);
  }

  /** The ListMetrics API, under its own name. */
  listMetrics(request: unknown = {}): {
    Metrics: Array<{
      Namespace: string;
      MetricName: string;
      Dimensions: Array<{ Name: string; Value: string }>;
    }>;
  } {
    const r = isObject(request) ? request : {};
    const filters = (Array.isArray(r.Dimensions) ? r.Dimensions : []) as ApiDimension[];
    this.flush();
    const metrics = this.series
      .filter((s) => r.Namespace === undefined || s.namespace === r.Namespace)
      .filter((s) => r.MetricName === undefined || s.metricName === r.MetricName)
      .filter((s) =>
        filters.every(
          (f) =>
            f.Name !== undefined &&
            f.Name in s.dimensions &&
            (f.Value === undefined || s.dimensions[f.Name] === f.Value),
        ),
      )
      .map((s) => ({
        Namespace: s.namespace,
        MetricName: s.metricName,
        Dimensions: apiDimensions(s.dimensions),
      }));
    return { Metrics: metrics };
  }
}

export interface MetricDataResult {
  Id: string;
  Label: string;
  Timestamps: Date[];
  Values: number[];
  StatusCode: 'Complete';
}

function apiQuery(raw: unknown, at: string): MetricQueryDefinition {
  const q = isObject(raw) ? raw : {};
  const id = required(q.Id as string | undefined, `${at}.Id`);
  const ms = q.MetricStat;
  let metricStat: MetricStatDefinition | undefined;
  if (ms !== undefined) {
    const m = isObject(ms) ? ms : {};
    const metric = isObject(m.Metric) ? m.Metric : {};
    const period = required(m.Period as number | undefined, `${at}.MetricStat.Period`);
    if (!Number.isInteger(period) || period < 1) invalidValue(period, `${at}.MetricStat.Period`);
    const stat = required(m.Stat as string | undefined, `${at}.MetricStat.Stat`);
    try {
      percentileOf(stat);
    } catch {
      invalidValue(stat, `${at}.MetricStat.Stat`);
    }
    metricStat = {
      metric: {
        namespace: required(metric.Namespace as string | undefined, `${at}.MetricStat.Metric.Namespace`),
        metricName: required(metric.MetricName as string | undefined, `${at}.MetricStat.Metric.MetricName`),
        dimensions: dimensionsOf(metric.Dimensions, `${at}.MetricStat.Metric.Dimensions`),
      },
      period,
      stat,
      unit: m.Unit as string | undefined,
    };
  }
  return {
    id,
    expression: q.Expression as string | undefined,
    metricStat,
    label: q.Label as string | undefined,
    returnData: q.ReturnData as boolean | undefined,
    period: q.Period as number | undefined,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Metric math ("Metric math syntax and functions" in the CloudWatch user guide), for what alarms use: numbers,
// metric ids, + - * / ^, unary minus, parentheses, [arrays], FILL, SUM, AVG, MIN, MAX, ABS, CEIL, FLOOR,
// METRICS, TIME_SERIES. Time series are evaluated per timestamp; a missing value in arithmetic counts as 0, a
// division by zero drops the datapoint.

/** timestamp (ms) -> value */
export type TimeSeries = Map<number, number>;

type MathNode =
  | { readonly t: 'num'; readonly v: number }
  | { readonly t: 'id'; readonly name: string }
  | { readonly t: 'str'; readonly v: string }
  | { readonly t: 'kw'; readonly v: 'REPEAT' | 'LINEAR' }
  | { readonly t: 'neg'; readonly a: MathNode }
  | { readonly t: 'bin'; readonly op: string; readonly a: MathNode; readonly b: MathNode }
  | { readonly t: 'call'; readonly fn: string; readonly args: MathNode[] }
  | { readonly t: 'arr'; readonly items: MathNode[] };

const FUNCTIONS = new Set([
  'FILL',
  'SUM',
  'AVG',
  'MIN',
  'MAX',
  'ABS',
  'CEIL',
  'FLOOR',
  'METRICS',
  'TIME_SERIES',
]);

class MathSyntaxError extends Error {}

function parseMath(expression: string): MathNode {
  const tokens: string[] = [];
  const re =
    /\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|("[^"]*")|(==|!=|<=|>=|&&|\|\||[-+*/^()[\],<>]))/y;
  let pos = 0;
  while (pos < expression.length) {
    if (/^\s*$/.test(expression.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(expression);
    if (!m) throw new MathSyntaxError(`unexpected character "${expression.slice(pos).trim()[0]}"`);
    tokens.push(m[1] ?? m[2] ?? m[3] ?? m[4]);
    pos = re.lastIndex;
  }
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const expect = (t: string) => {
    if (next() !== t) throw new MathSyntaxError(`expected "${t}"`);
  };
  const additive = (): MathNode => {
    let a = multiplicative();
    while (peek() === '+' || peek() === '-') {
      const op = next();
      a = { t: 'bin', op, a, b: multiplicative() };
    }
    return a;
  };
  const multiplicative = (): MathNode => {
    let a = unary();
    while (peek() === '*' || peek() === '/') {
      const op = next();
      a = { t: 'bin', op, a, b: unary() };
    }
    return a;
  };
  const unary = (): MathNode => {
    if (peek() === '-') {
      next();
      return { t: 'neg', a: unary() };
    }
    return power();
  };
  const power = (): MathNode => {
    const a = primary();
    if (peek() === '^') {
      next();
      return { t: 'bin', op: '^', a, b: unary() };
    }
    return a;
  };
  const list = (close: string): MathNode[] => {
    const items: MathNode[] = [];
    if (peek() !== close) {
      items.push(additive());
      while (peek() === ',') {
        next();
        items.push(additive());
      }
    }
    expect(close);
    return items;
  };
  const primary = (): MathNode => {
    const tok = next();
    if (tok === undefined) throw new MathSyntaxError('unexpected end of expression');
    if (tok === '(') {
      const e = additive();
      expect(')');
      return e;
    }
    if (tok === '[') return { t: 'arr', items: list(']') };
    if (/^[\d.]/.test(tok)) return { t: 'num', v: Number(tok) };
    if (tok.startsWith('"')) return { t: 'str', v: tok.slice(1, -1) };
    if (/^[A-Za-z_]/.test(tok)) {
      if (peek() === '(') {
        next();
        if (!FUNCTIONS.has(tok)) throw new MathSyntaxError(`unsupported function ${tok}`);
        return { t: 'call', fn: tok, args: list(')') };
      }
      if (tok === 'REPEAT' || tok === 'LINEAR') return { t: 'kw', v: tok };
      return { t: 'id', name: tok };
    }
    throw new MathSyntaxError(`unsupported operator "${tok}"`);
  };
  const root = additive();
  if (i < tokens.length) throw new MathSyntaxError(`unsupported operator or extra input "${tokens[i]}"`);
  return root;
}

function referencedIds(node: MathNode, out = new Set<string>()): Set<string> {
  switch (node.t) {
    case 'id':
      out.add(node.name);
      break;
    case 'neg':
      referencedIds(node.a, out);
      break;
    case 'bin':
      referencedIds(node.a, out);
      referencedIds(node.b, out);
      break;
    case 'call':
    case 'arr':
      (node.t === 'call' ? node.args : node.items).forEach((n) => referencedIds(n, out));
      break;
  }
  return out;
}

interface CompiledQueries {
  readonly byId: ReadonlyMap<string, MetricQueryDefinition>;
  readonly ast: ReadonlyMap<string, MathNode>;
}

/** Parses every expression and checks ids and cycles; throws an Error naming the query and expression. */
function compileQueries(queries: readonly MetricQueryDefinition[]): CompiledQueries {
  const byId = new Map<string, MetricQueryDefinition>();
  const ast = new Map<string, MathNode>();
  for (const q of queries) {
    if (!/^[a-z][a-zA-Z0-9_]*$/.test(q.id)) {
      throw new Error(`query id "${q.id}" must start with a lowercase letter (letters, digits, _)`);
    }
    if (byId.has(q.id)) throw new Error(`duplicate query id ${q.id}`);
    if ((q.expression === undefined) === (q.metricStat === undefined)) {
      throw new Error(`query ${q.id} needs exactly one of Expression and MetricStat`);
    }
    byId.set(q.id, q);
  }
  for (const q of queries) {
    if (q.expression === undefined) continue;
    try {
      const node = parseMath(q.expression);
      for (const id of referencedIds(node)) {
        if (!byId.has(id)) throw new MathSyntaxError(`unknown id ${id}`);
      }
      ast.set(q.id, node);
    } catch (e) {
      throw new Error(`expression ${q.id} "${q.expression}": ${(e as Error).message}`);
    }
  }
  const visiting = new Set<string>();
  const visit = (id: string) => {
    if (visiting.has(id)) throw new Error(`expression ${id} refers to itself`);
    const node = ast.get(id);
    if (!node) return;
    visiting.add(id);
    referencedIds(node).forEach(visit);
    visiting.delete(id);
  };
  ast.forEach((_n, id) => visit(id));
  return { byId, ast };
}

type MathValue =
  | { readonly k: 's'; readonly v: number }
  | { readonly k: 'ts'; readonly ts: TimeSeries }
  | { readonly k: 'tsa'; readonly list: TimeSeries[] }
  | { readonly k: 'str'; readonly v: string }
  | { readonly k: 'kw'; readonly v: string };

function mapSeries(ts: TimeSeries, f: (v: number) => number): TimeSeries {
  const out: TimeSeries = new Map();
  for (const [t, v] of ts) {
    const r = f(v);
    if (Number.isFinite(r)) out.set(t, r);
  }
  return out;
}

function unionTimes(list: readonly TimeSeries[]): number[] {
  const set = new Set<number>();
  list.forEach((ts) => ts.forEach((_v, t) => set.add(t)));
  return [...set].sort((a, b) => a - b);
}

function arithmetic(op: string, x: number, y: number): number {
  switch (op) {
    case '+':
      return x + y;
    case '-':
      return x - y;
    case '*':
      return x * y;
    case '/':
      return y === 0 ? NaN : x / y;
    default:
      return x ** y;
  }
}

class MathEvaluator {
  private readonly memo = new Map<string, MathValue>();

  constructor(
    private readonly compiled: CompiledQueries,
    private readonly store: MetricStore,
    private readonly grid: readonly number[],
  ) {}

  query(id: string): MathValue {
    const known = this.memo.get(id);
    if (known) return known;
    const q = this.compiled.byId.get(id) as MetricQueryDefinition;
    const value: MathValue = q.metricStat
      ? { k: 'ts', ts: this.store.datapoints(q.metricStat, this.grid) }
      : this.node(this.compiled.ast.get(id) as MathNode);
    this.memo.set(id, value);
    return value;
  }

  private node(n: MathNode): MathValue {
    switch (n.t) {
      case 'num':
        return { k: 's', v: n.v };
      case 'str':
        return { k: 'str', v: n.v };
      case 'kw':
        return { k: 'kw', v: n.v };
      case 'id':
        return this.query(n.name);
      case 'neg':
        return this.binary('*', { k: 's', v: -1 }, this.node(n.a));
      case 'bin':
        return this.binary(n.op, this.node(n.a), this.node(n.b));
      case 'arr': {
        const list: TimeSeries[] = [];
        for (const item of n.items) {
          const v = this.node(item);
          if (v.k === 'ts') list.push(v.ts);
          else if (v.k === 'tsa') list.push(...v.list);
          else throw new Error('an array holds time series only');
        }
        return { k: 'tsa', list };
      }
      case 'call':
        return this.call(
          n.fn,
          n.args.map((a) => this.node(a)),
        );
    }
  }

  private binary(op: string, a: MathValue, b: MathValue): MathValue {
    if (a.k === 'tsa' && b.k !== 'tsa') {
      return { k: 'tsa', list: a.list.map((ts) => this.tsOf(this.binary(op, { k: 'ts', ts }, b))) };
    }
    if (b.k === 'tsa' && a.k !== 'tsa') {
      return { k: 'tsa', list: b.list.map((ts) => this.tsOf(this.binary(op, a, { k: 'ts', ts }))) };
    }
    if (a.k === 's' && b.k === 's') return { k: 's', v: arithmetic(op, a.v, b.v) };
    if (a.k === 'ts' && b.k === 's') return { k: 'ts', ts: mapSeries(a.ts, (x) => arithmetic(op, x, b.v)) };
    if (a.k === 's' && b.k === 'ts') return { k: 'ts', ts: mapSeries(b.ts, (y) => arithmetic(op, a.v, y)) };
    if (a.k === 'ts' && b.k === 'ts') {
      const out: TimeSeries = new Map();
      for (const t of unionTimes([a.ts, b.ts])) {
        const r = arithmetic(op, a.ts.get(t) ?? 0, b.ts.get(t) ?? 0);
        if (Number.isFinite(r)) out.set(t, r);
      }
      return { k: 'ts', ts: out };
    }
    throw new Error(`operator ${op} does not apply to these operands`);
  }

  private tsOf(v: MathValue): TimeSeries {
    if (v.k !== 'ts') throw new Error('expected a time series');
    return v.ts;
  }

  private call(fn: string, args: MathValue[]): MathValue {
    const arity = (min: number, max = min) => {
      if (args.length < min || args.length > max) throw new Error(`${fn} takes ${min}..${max} arguments`);
    };
    const pointwise = (f: (v: number) => number): MathValue => {
      arity(1);
      const [a] = args;
      if (a.k === 's') return { k: 's', v: f(a.v) };
      if (a.k === 'ts') return { k: 'ts', ts: mapSeries(a.ts, f) };
      if (a.k === 'tsa') return { k: 'tsa', list: a.list.map((ts) => mapSeries(ts, f)) };
      throw new Error(`${fn} takes a number or time series`);
    };
    switch (fn) {
      case 'ABS':
        return pointwise(Math.abs);
      case 'CEIL':
        return pointwise(Math.ceil);
      case 'FLOOR':
        return pointwise(Math.floor);
      case 'METRICS': {
        arity(0, 1);
        const filter = args[0];
        if (filter !== undefined && filter.k !== 'str') throw new Error('METRICS takes a string');
        const ids = [...this.compiled.byId.values()]
          .filter((q) => q.metricStat !== undefined && (filter === undefined || q.id.includes(filter.v)))
          .map((q) => q.id);
        return { k: 'tsa', list: ids.map((id) => this.tsOf(this.query(id))) };
      }
      case 'TIME_SERIES': {
        arity(1);
        const [a] = args;
        if (a.k !== 's') throw new Error('TIME_SERIES takes a number');
        return { k: 'ts', ts: new Map(this.grid.map((t) => [t, a.v])) };
      }
      case 'FILL': {
        arity(2);
        const [target, filler] = args;
        const fill = (ts: TimeSeries): TimeSeries => this.fill(ts, filler);
        if (target.k === 'ts') return { k: 'ts', ts: fill(target.ts) };
        if (target.k === 'tsa') return { k: 'tsa', list: target.list.map(fill) };
        throw new Error('FILL takes a time series or an array of them');
      }
      default: {
        // SUM, AVG, MIN, MAX: a scalar over one series, a series over an array of series.
        arity(1);
        const [a] = args;
        if (a.k === 'ts') {
          const values = [...a.ts.values()];
          return { k: 's', v: reduce(fn, values, values.length) };
        }
        if (a.k === 'tsa') {
          const out: TimeSeries = new Map();
          for (const t of unionTimes(a.list)) {
            const present = a.list.filter((ts) => ts.has(t)).map((ts) => ts.get(t) as number);
            // SUM and AVG count a missing value as 0; MIN and MAX take the values that exist.
            const r =
              fn === 'SUM' || fn === 'AVG'
                ? reduce(fn, present, a.list.length)
                : reduce(fn, present, present.length);
            if (Number.isFinite(r)) out.set(t, r);
          }
          return { k: 'ts', ts: out };
        }
        throw new Error(`${fn} takes a time series or an array of them`);
      }
    }
  }

  private fill(ts: TimeSeries, filler: MathValue): TimeSeries {
    const out: TimeSeries = new Map(ts);
    const present = [...ts.keys()].sort((a, b) => a - b);
    for (const t of this.grid) {
      if (out.has(t)) continue;
      let v: number | undefined;
      if (filler.k === 's') v = filler.v;
      else if (filler.k === 'ts') v = filler.ts.get(t);
      else if (filler.k === 'kw' && filler.v === 'REPEAT') {
        const before = present.filter((p) => p < t).pop();
        v = before === undefined ? undefined : ts.get(before);
      } else if (filler.k === 'kw') {
        const before = present.filter((p) => p < t).pop();
        const after = present.find((p) => p > t);
        if (before !== undefined && after !== undefined) {
          const a = ts.get(before) as number;
          const b = ts.get(after) as number;
          v = a + ((b - a) * (t - before)) / (after - before);
        }
      } else {
        throw new Error('FILL takes a number, a time series, REPEAT or LINEAR as filler');
      }
      if (v !== undefined) out.set(t, v);
    }
    return out;
  }
}

function reduce(fn: string, values: number[], n: number): number {
  if (values.length === 0) return NaN;
  switch (fn) {
    case 'SUM':
      return values.reduce((s, v) => s + v, 0);
    case 'AVG':
      return values.reduce((s, v) => s + v, 0) / n;
    case 'MIN':
      return Math.min(...values);
    default:
      return Math.max(...values);
  }
}

function evaluateQuery(
  compiled: CompiledQueries,
  id: string,
  store: MetricStore,
  grid: readonly number[],
): TimeSeries {
  const v = new MathEvaluator(compiled, store, grid).query(id);
  if (v.k !== 'ts') throw new Error(`the result of ${id} must be a single time series`);
  return v.ts;
}

// ---------------------------------------------------------------------------------------------------------------
// Alarms

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
export type TreatMissingData = 'missing' | 'notBreaching' | 'breaching' | 'ignore';

const COMPARISONS: Record<string, { test: (v: number, t: number) => boolean; words: string }> = {
  GreaterThanOrEqualToThreshold: { test: (v, t) => v >= t, words: 'greater than or equal to' },
  GreaterThanThreshold: { test: (v, t) => v > t, words: 'greater than' },
  LessThanThreshold: { test: (v, t) => v < t, words: 'less than' },
  LessThanOrEqualToThreshold: { test: (v, t) => v <= t, words: 'less than or equal to' },
};

/** A metric alarm as PutMetricAlarm / AWS::CloudWatch::Alarm defines it, with local names. */
export interface AlarmDefinition {
  readonly stackName?: string;
  readonly logicalId?: string;
  readonly name: string;
  /** @default arn:aws:cloudwatch:<region>:<account>:alarm:<name> */
  readonly arn?: string;
  readonly description?: string;
  /** A single-metric alarm: its metric and Statistic or ExtendedStatistic. */
  readonly metric?: MetricStatDefinition;
  /** A metric math alarm: the queries, exactly one with returnData true. */
  readonly metrics?: readonly MetricQueryDefinition[];
  /** seconds */
  readonly period: number;
  readonly evaluationPeriods: number;
  /** M of "M out of N"; defaults to evaluationPeriods */
  readonly datapointsToAlarm: number;
  readonly threshold: number;
  readonly comparisonOperator: string;
  readonly treatMissingData: TreatMissingData;
  readonly evaluateLowSampleCountPercentile?: 'evaluate' | 'ignore';
  readonly actionsEnabled: boolean;
  readonly alarmActions: readonly string[];
  readonly okActions: readonly string[];
  readonly insufficientDataActions: readonly string[];
}

export interface AlarmStateValue {
  readonly value: AlarmState;
  readonly reason: string;
  readonly reasonData?: string;
  readonly timestamp: Date;
}

export interface AlarmStateChange {
  readonly alarmName: string;
  readonly alarmArn: string;
  readonly alarm: AlarmDefinition;
  readonly previous: AlarmStateValue;
  readonly current: AlarmStateValue;
  readonly time: Date;
}

function num(value: unknown, what: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n))
    throw new Error(`${what}: expected a number, got ${JSON.stringify(value)}`);
  return n;
}

function cfnDimensions(list: unknown, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of Array.isArray(list) ? list : []) {
    if (!isObject(d) || typeof d.Name !== 'string' || typeof d.Value !== 'string') {
      throw new Error(`${what}: a dimension needs a string Name and Value, got ${JSON.stringify(d)}`);
    }
    out[d.Name] = d.Value;
  }
  return out;
}

interface CompiledAlarm {
  readonly def: AlarmDefinition & { readonly arn: string };
  readonly queries: readonly MetricQueryDefinition[];
  readonly compiled: CompiledQueries;
  readonly resultId: string;
  readonly compare: (typeof COMPARISONS)[string];
}

/** Checks an alarm and compiles its metric math; the Error names the alarm and the expression. */
function compileAlarm(
  given: AlarmDefinition,
  region = 'us-east-1',
  accountId = '000000000000',
): CompiledAlarm {
  const def = { ...given, arn: given.arn ?? `arn:aws:cloudwatch:${region}:${accountId}:alarm:${given.name}` };
  const fail = (reason: string): never => {
    throw new Error(`alarm ${def.name}: ${reason}`);
  };
  const compare =
    COMPARISONS[def.comparisonOperator] ?? fail(`unsupported ComparisonOperator ${def.comparisonOperator}`);
  if (!Number.isInteger(def.evaluationPeriods) || def.evaluationPeriods < 1)
    fail('EvaluationPeriods must be >= 1');
  if (
    !Number.isInteger(def.datapointsToAlarm) ||
    def.datapointsToAlarm < 1 ||
    def.datapointsToAlarm > def.evaluationPeriods
  ) {
    fail(`DatapointsToAlarm must be in [1, EvaluationPeriods=${def.evaluationPeriods}]`);
  }
  if (!['missing', 'notBreaching', 'breaching', 'ignore'].includes(def.treatMissingData)) {
    fail(`unsupported TreatMissingData ${def.treatMissingData}`);
  }
  if ((def.metric === undefined) === (def.metrics === undefined))
    fail('needs exactly one of a metric and Metrics');
  const queries: MetricQueryDefinition[] = def.metric
    ? [{ id: 'm1', metricStat: def.metric, returnData: true }]
    : [...(def.metrics as MetricQueryDefinition[])];
  for (const q of queries) {
    if (q.metricStat) {
      try {
        percentileOf(q.metricStat.stat);
      } catch (e) {
        fail((e as Error).message);
      }
      if (q.metricStat.period !== def.period) {
        fail(`every metric must use the alarm's period ${def.period}, ${q.id} uses ${q.metricStat.period}`);
      }
    }
  }
  const results = queries.filter((q) => q.returnData !== false);
  if (results.length !== 1) fail(`exactly one of Metrics must have ReturnData true, got ${results.length}`);
  let compiled: CompiledQueries;
  try {
    compiled = compileQueries(queries);
  } catch (e) {
    return fail((e as Error).message);
  }
  // A dry run finds what parsing cannot, such as an expression whose result is a number, not a time series.
  try {
    evaluateQuery(compiled, results[0].id, new MetricStore(systemClock), [0]);
  } catch (e) {
    fail(
      `${results[0].expression === undefined ? '' : `expression "${results[0].expression}": `}${(e as Error).message}`,
    );
  }
  return { def, queries, compiled, resultId: results[0].id, compare };
}

/** Every AWS::CloudWatch::Alarm of the templates, resolved to local names (and checked). */
export function alarmsFromTemplates(local: LocalTemplates): AlarmDefinition[] {
  return local.resourcesOfType('AWS::CloudWatch::Alarm').map(({ stackName, logicalId, resource }) => {
    const where = `${stackName}/${logicalId}`;
    const p = local.resolve(
      stackName,
      resource.Properties ?? {},
      `Resources.${logicalId}.Properties`,
    ) as Record<string, unknown>;
    const self = local.resource(stackName, logicalId);
    const period = p.Period === undefined ? undefined : num(p.Period, `${where} Period`);
    let metric: MetricStatDefinition | undefined;
    let metrics: MetricQueryDefinition[] | undefined;
    if (p.Metrics !== undefined) {
      if (!Array.isArray(p.Metrics)) throw new Error(`${where}: Metrics must be a list`);
      metrics = p.Metrics.map((m: unknown, i: number): MetricQueryDefinition => {
        if (!isObject(m) || typeof m.Id !== 'string') throw new Error(`${where}: Metrics[${i}] needs an Id`);
        const ms = isObject(m.MetricStat) ? m.MetricStat : undefined;
        const metricOf = ms && isObject(ms.Metric) ? ms.Metric : {};
        return {
          id: m.Id,
          expression: m.Expression as string | undefined,
          label: m.Label as string | undefined,
          returnData: m.ReturnData === undefined ? true : m.ReturnData === true || m.ReturnData === 'true',
          period: m.Period === undefined ? undefined : num(m.Period, `${where} Metrics[${i}].Period`),
          metricStat: ms && {
            metric: {
              namespace: String(metricOf.Namespace),
              metricName: String(metricOf.MetricName),
              dimensions: cfnDimensions(metricOf.Dimensions, `${where} Metrics[${i}]`),
            },
            period: num(ms.Period, `${where} Metrics[${i}].MetricStat.Period`),
            stat: String(ms.Stat),
            unit: ms.Unit as string | undefined,
          },
        };
      });
    } else {
      const stat = (p.ExtendedStatistic ?? p.Statistic) as string | undefined;
      if (stat === undefined)
        throw new Error(`${where}: a single-metric alarm needs Statistic or ExtendedStatistic`);
      metric = {
        metric: {
          namespace: String(p.Namespace),
          metricName: String(p.MetricName),
          dimensions: cfnDimensions(p.Dimensions, where),
        },
        period: num(period, `${where} Period`),
        stat,
        unit: p.Unit as string | undefined,
      };
    }
    const evaluationPeriods = num(p.EvaluationPeriods, `${where} EvaluationPeriods`);
    const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
    const def: AlarmDefinition = {
      stackName,
      logicalId,
      name: self.ref,
      arn: self.attributes.Arn,
      description: p.AlarmDescription as string | undefined,
      metric,
      metrics,
      period:
        period ??
        metrics?.find((m) => m.metricStat)?.metricStat?.period ??
        metrics?.find((m) => m.period !== undefined)?.period ??
        60,
      evaluationPeriods,
      datapointsToAlarm:
        p.DatapointsToAlarm === undefined
          ? evaluationPeriods
          : num(p.DatapointsToAlarm, `${where} DatapointsToAlarm`),
      threshold: num(p.Threshold, `${where} Threshold`),
      comparisonOperator: String(p.ComparisonOperator),
      treatMissingData: (p.TreatMissingData ?? 'missing') as TreatMissingData,
      evaluateLowSampleCountPercentile:
        p.EvaluateLowSampleCountPercentile as AlarmDefinition['evaluateLowSampleCountPercentile'],
      actionsEnabled:
        p.ActionsEnabled === undefined ? true : p.ActionsEnabled === true || p.ActionsEnabled === 'true',
      alarmActions: list(p.AlarmActions),
      okActions: list(p.OKActions),
      insufficientDataActions: list(p.InsufficientDataActions),
    };
    compileAlarm(def);
    return def;
  });
}

/** Datapoints before the evaluation periods that CloudWatch also retrieves (its "evaluation range"). */
const EXTRA_RANGE_PERIODS = 2;

function formatNumber(v: number): string {
  // CloudWatch prints doubles the Java way: 50.0, 99.50160229693434
  return Number.isInteger(v) ? v.toFixed(1) : String(v);
}

function reasonTime(t: number): string {
  const d = new Date(t);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCFullYear() % 100)} ${two(
    d.getUTCHours(),
  )}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

/** Timestamps in alarm states and reason data: 2019-10-02T17:04:40.989+0000 */
function cwTime(d: Date | number): string {
  return new Date(d).toISOString().replace('Z', '+0000');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

interface Outcome {
  readonly value: AlarmState;
  readonly reason: string;
  readonly reasonData: string;
}

export interface AlarmEvaluatorOptions {
  readonly alarms: readonly AlarmDefinition[];
  readonly store: MetricStore;
  readonly clock: Clock;
  readonly region: string;
  readonly accountId: string;
}

/**
 * Evaluates alarms as CloudWatch does. At each evaluation the periods end at the clock's now. Like CloudWatch it
 * retrieves more periods than EvaluationPeriods (the evaluation range: 2 more here, as in the user guide's
 * example of 5 datapoints for 3 evaluation periods). With at least EvaluationPeriods real datapoints, the most
 * recent EvaluationPeriods of them are evaluated; with fewer, every real datapoint in the range is evaluated and
 * the rest are filled per TreatMissingData (breaching / notBreaching); for missing and ignore the real
 * datapoints decide alone: ALARM with DatapointsToAlarm breaching, OK with any non-breaching one, else
 * INSUFFICIENT_DATA (missing) or the current state (ignore). Alarms start in INSUFFICIENT_DATA.
 */
export class AlarmEvaluator {
  private readonly alarms: ReadonlyMap<string, CompiledAlarm>;
  private readonly states = new Map<string, AlarmStateValue>();
  private readonly listeners: Array<(c: AlarmStateChange) => void> = [];
  private readonly created: Date;

  constructor(private readonly options: AlarmEvaluatorOptions) {
    const alarms = new Map<string, CompiledAlarm>();
    for (const def of options.alarms) {
      if (alarms.has(def.name)) throw new Error(`two alarms are named ${def.name}`);
      alarms.set(def.name, compileAlarm(def, options.region, options.accountId));
    }
    this.alarms = alarms;
    this.created = options.clock.now();
    for (const name of alarms.keys()) {
      this.states.set(name, {
        value: 'INSUFFICIENT_DATA',
        reason: 'Unchecked: Initial alarm creation',
        timestamp: this.created,
      });
    }
  }

  /** Evaluates every alarm at the clock's now; returns the state changes (listeners hear each one). */
  evaluate(): AlarmStateChange[] {
    const now = this.options.clock.now();
    const changes: AlarmStateChange[] = [];
    for (const alarm of this.alarms.values()) {
      const outcome = this.outcome(alarm, now);
      if (outcome) {
        const change = this.transition(alarm.def, { ...outcome, timestamp: now });
        if (change) changes.push(change);
      }
    }
    return changes;
  }

  state(name: string): AlarmState {
    return this.current(name).value;
  }

  /** The full current state of an alarm (value, reason, reason data, when it was entered). */
  current(name: string): AlarmStateValue {
    const s = this.states.get(name);
    if (!s) throw new AwsApiError('ResourceNotFound', `Alarm ${name} not found`, 404);
    return s;
  }

  /** Every alarm with its current state, by name. */
  describeAll(): Array<{ name: string; arn: string } & AlarmStateValue & { state: AlarmState }> {
    return [...this.alarms.values()]
      .map(({ def }) => {
        const s = this.current(def.name);
        return { name: def.name, arn: def.arn, ...s, state: s.value };
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  definitions(): AlarmDefinition[] {
    return [...this.alarms.values()].map((a) => a.def);
  }

  onChange(listener: (c: AlarmStateChange) => void): void {
    this.listeners.push(listener);
  }

  /** The SetAlarmState API: a temporary state, until the next evaluation that changes it. */
  setAlarmState(request: unknown): Record<string, never> {
    const r = isObject(request) ? request : {};
    const name = required(r.AlarmName as string | undefined, 'AlarmName');
    const value = required(r.StateValue as string | undefined, 'StateValue');
    const reason = required(r.StateReason as string | undefined, 'StateReason');
    if (!['OK', 'ALARM', 'INSUFFICIENT_DATA'].includes(value)) invalidValue(value, 'StateValue');
    const alarm = this.alarms.get(name);
    if (!alarm) throw new AwsApiError('ResourceNotFound', `Alarm ${name} not found`, 404);
    if (r.StateReasonData !== undefined) {
      try {
        JSON.parse(String(r.StateReasonData));
      } catch {
        invalidValue(r.StateReasonData, 'StateReasonData');
      }
    }
    this.transition(alarm.def, {
      value: value as AlarmState,
      reason,
      reasonData: r.StateReasonData as string | undefined,
      timestamp: this.options.clock.now(),
    });
    return {};
  }

  /** The DescribeAlarms API (AlarmNames, AlarmNamePrefix, StateValue, ActionPrefix); metric alarms only. */
  describeAlarms(request: unknown = {}): {
    MetricAlarms: Array<Record<string, unknown>>;
    CompositeAlarms: [];
  } {
    const r = isObject(request) ? request : {};
    const names = r.AlarmNames as string[] | undefined;
    const prefix = r.AlarmNamePrefix as string | undefined;
    if (names !== undefined && prefix !== undefined) {
      throw new AwsApiError(
        'InvalidParameterCombination',
        'AlarmNamePrefix and AlarmNames are mutually exclusive and you have specified both.',
      );
    }
    const stateValue = r.StateValue as string | undefined;
    if (stateValue !== undefined && !['OK', 'ALARM', 'INSUFFICIENT_DATA'].includes(stateValue)) {
      invalidValue(stateValue, 'StateValue');
    }
    const actionPrefix = r.ActionPrefix as string | undefined;
    const types = r.AlarmTypes as string[] | undefined;
    const alarms = [...this.alarms.values()]
      .map((a) => a.def)
      .filter((d) => names === undefined || names.includes(d.name))
      .filter((d) => prefix === undefined || d.name.startsWith(prefix))
      .filter((d) => stateValue === undefined || this.state(d.name) === stateValue)
      .filter((d) => actionPrefix === undefined || d.alarmActions.some((a) => a.startsWith(actionPrefix)))
      .filter(() => types === undefined || types.includes('MetricAlarm'))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((d) => this.describe(d));
    return { MetricAlarms: alarms, CompositeAlarms: [] };
  }

  private describe(d: CompiledAlarm['def']): Record<string, unknown> {
    const s = this.current(d.name);
    const extended = d.metric && percentileOf(d.metric.stat) !== undefined;
    const out: Record<string, unknown> = {
      AlarmName: d.name,
      AlarmArn: d.arn,
      AlarmDescription: d.description,
      AlarmConfigurationUpdatedTimestamp: this.created,
      ActionsEnabled: d.actionsEnabled,
      OKActions: [...d.okActions],
      AlarmActions: [...d.alarmActions],
      InsufficientDataActions: [...d.insufficientDataActions],
      StateValue: s.value,
      StateReason: s.reason,
      StateReasonData: s.reasonData,
      StateUpdatedTimestamp: s.timestamp,
      StateTransitionedTimestamp: s.timestamp,
      EvaluationPeriods: d.evaluationPeriods,
      DatapointsToAlarm: d.datapointsToAlarm,
      Threshold: d.threshold,
      ComparisonOperator: d.comparisonOperator,
      TreatMissingData: d.treatMissingData,
      EvaluateLowSampleCountPercentile: d.evaluateLowSampleCountPercentile,
    };
    if (d.metric) {
      Object.assign(out, {
        MetricName: d.metric.metric.metricName,
        Namespace: d.metric.metric.namespace,
        Dimensions: apiDimensions(d.metric.metric.dimensions),
        Period: d.metric.period,
        Unit: d.metric.unit,
        [extended ? 'ExtendedStatistic' : 'Statistic']: d.metric.stat,
      });
    } else {
      out.Metrics = (d.metrics ?? []).map((q) => ({
        Id: q.id,
        Expression: q.expression,
        Label: q.label,
        ReturnData: q.returnData !== false,
        Period: q.period,
        MetricStat: q.metricStat && {
          Metric: {
            Namespace: q.metricStat.metric.namespace,
            MetricName: q.metricStat.metric.metricName,
            Dimensions: apiDimensions(q.metricStat.metric.dimensions),
          },
          Period: q.metricStat.period,
          Stat: q.metricStat.stat,
          Unit: q.metricStat.unit,
        },
      }));
    }
    for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
    return out;
  }

  private transition(def: CompiledAlarm['def'], next: AlarmStateValue): AlarmStateChange | undefined {
    const previous = this.current(def.name);
    if (previous.value === next.value) return undefined;
    this.states.set(def.name, next);
    const change: AlarmStateChange = {
      alarmName: def.name,
      alarmArn: def.arn,
      alarm: def,
      previous,
      current: next,
      time: next.timestamp,
    };
    for (const l of this.listeners) l(change);
    return change;
  }

  /** The state the alarm should be in now, or undefined to keep the current one. */
  private outcome(alarm: CompiledAlarm, now: Date): Outcome | undefined {
    const { def } = alarm;
    const periodMs = def.period * 1000;
    const n = def.evaluationPeriods;
    const m = def.datapointsToAlarm;
    const range = n + EXTRA_RANGE_PERIODS;
    // Period k covers (start, start + period]: a datapoint stamped at the clock's now counts at once, so an
    // evaluation right after a metric is put sees it (a stepped clock puts and evaluates at the same instant).
    const starts = Array.from({ length: range }, (_v, k) => now.getTime() - (range - k) * periodMs);
    const grid = starts.map((t) => t + 1);
    const series = evaluateQuery(alarm.compiled, alarm.resultId, this.options.store, grid);
    const real = starts.filter((t) => series.has(t + 1)).map((t) => ({ t, v: series.get(t + 1) as number }));
    const breaches = (v: number) => alarm.compare.test(v, def.threshold);

    if (def.evaluateLowSampleCountPercentile === 'ignore' && def.metric) {
      const p = percentileOf(def.metric.stat);
      if (p !== undefined) {
        const needed = p > 50 ? 10 / (1 - p / 100) : 10 / (p / 100);
        const counts = this.options.store.sampleCounts(def.metric, grid);
        if (real.some((d) => (counts.get(d.t + 1) ?? 0) < needed)) return undefined;
      }
    }

    const evaluated = real.slice(-n);
    const missing = n - evaluated.length;
    const breaching = evaluated.filter((d) => breaches(d.v));
    const fine = evaluated.filter((d) => !breaches(d.v));
    const treat = def.treatMissingData;
    const reasonData = JSON.stringify({
      version: '1.0',
      queryDate: cwTime(now),
      startDate: cwTime(evaluated[0]?.t ?? starts[range - n]),
      ...(def.metric
        ? {
            [percentileOf(def.metric.stat) === undefined ? 'statistic' : 'extendedStatistic']:
              def.metric.stat,
          }
        : {}),
      period: def.period,
      recentDatapoints: evaluated.map((d) => d.v),
      threshold: def.threshold,
      evaluatedDatapoints: [...evaluated].reverse().map((d) => ({ timestamp: cwTime(d.t), value: d.v })),
    });
    const list = (ds: Array<{ t: number; v: number }>) =>
      `[${[...ds]
        .reverse()
        .map((d) => `${formatNumber(d.v)} (${reasonTime(d.t)})`)
        .join(', ')}]`;
    const words = alarm.compare.words;
    const thr = formatNumber(def.threshold);

    if (
      missing > 0 &&
      (treat === 'missing' || treat === 'ignore') &&
      breaching.length < m &&
      fine.length === 0
    ) {
      if (treat === 'ignore') return undefined;
      return {
        value: 'INSUFFICIENT_DATA',
        reason: `Insufficient Data: ${plural(n - breaching.length, 'datapoint')} ${n - breaching.length === 1 ? 'was' : 'were'} unknown.`,
        reasonData,
      };
    }
    const filledBreaching = missing > 0 && treat === 'breaching' ? missing : 0;
    const alarming = breaching.length + filledBreaching >= m;
    if (evaluated.length === 0) {
      const as = treat === 'breaching' ? 'Breaching' : 'NonBreaching';
      return {
        value: alarming ? 'ALARM' : 'OK',
        reason: `Threshold Crossed: no datapoints were received for ${plural(n, 'period')} and ${plural(n, 'missing datapoint')} ${n === 1 ? 'was' : 'were'} treated as [${as}].`,
        reasonData,
      };
    }
    const shown = alarming ? breaching : fine;
    const count = alarming
      ? breaching.length + filledBreaching
      : fine.length + (treat === 'notBreaching' ? missing : 0);
    const transition = alarming
      ? `minimum ${plural(m, 'datapoint')} for OK -> ALARM transition`
      : `minimum ${plural(n - m + 1, 'datapoint')} for ALARM -> OK transition`;
    return {
      value: alarming ? 'ALARM' : 'OK',
      reason: `Threshold Crossed: ${count} out of the last ${n} datapoints ${list(shown)} ${count === 1 ? 'was' : 'were'} ${alarming ? '' : 'not '}${words} the threshold (${thr}) (${transition}).`,
      reasonData,
    };
  }
}

/** The "CloudWatch Alarm State Change" event CloudWatch sends to EventBridge for a state change. */
export function alarmStateChangeEvent(
  c: AlarmStateChange,
  o: { readonly region: string; readonly accountId: string },
): EventBridgeEvent {
  const state = (s: AlarmStateValue) => ({
    value: s.value,
    reason: s.reason,
    ...(s.reasonData === undefined ? {} : { reasonData: s.reasonData }),
    timestamp: cwTime(s.timestamp),
  });
  const metricStat = (ms: MetricStatDefinition) => ({
    metric: {
      dimensions: { ...ms.metric.dimensions },
      name: ms.metric.metricName,
      namespace: ms.metric.namespace,
    },
    period: ms.period,
    stat: ms.stat,
  });
  const a = c.alarm;
  // A single-metric alarm's one metric has a generated id; keep it stable per alarm.
  const h = createHash('sha256').update(c.alarmArn).digest('hex');
  const generatedId = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  const metrics = a.metric
    ? [{ id: generatedId, metricStat: metricStat(a.metric), returnData: true }]
    : (a.metrics ?? []).map((q) => ({
        ...(q.expression === undefined ? {} : { expression: q.expression }),
        id: q.id,
        ...(q.label === undefined ? {} : { label: q.label }),
        ...(q.metricStat ? { metricStat: metricStat(q.metricStat) } : {}),
        returnData: q.returnData !== false,
      }));
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: o.accountId,
    time: eventTime(c.time),
    region: o.region,
    resources: [c.alarmArn],
    detail: {
      alarmName: c.alarmName,
      state: state(c.current),
      previousState: state(c.previous),
      configuration: { ...(a.description === undefined ? {} : { description: a.description }), metrics },
    },
  };
}

export type CloudWatchOperation = (request: unknown) => unknown;

/** The CloudWatch API operations the local runtime serves (for the AWS JSON protocol server). */
export function cloudWatchOperations(
  store: MetricStore,
  alarms?: AlarmEvaluator,
): Record<string, CloudWatchOperation> {
  const ops: Record<string, CloudWatchOperation> = {
    PutMetricData: (r) => store.putMetricData(r),
    GetMetricData: (r) => store.getMetricData(r),
    GetMetricStatistics: (r) => store.getMetricStatistics(r),
    ListMetrics: (r) => store.listMetrics(r),
  };
  if (alarms) {
    ops.DescribeAlarms = (r) => alarms.describeAlarms(r);
    ops.SetAlarmState = (r) => alarms.setAlarmState(r);
  }
  return ops;
}
