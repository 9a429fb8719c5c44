/**
 * A CloudWatch dashboard body ("Dashboard Body Structure and Syntax" in the CloudWatch API reference) read into
 * what the local dashboard page draws: widgets on the 24-column grid, metric widgets with their metrics expanded
 * (the "." and "..." shorthand, the widget's stat and period as defaults), annotations, alarm lists and text
 * widgets as safe HTML. Pure: no Node or browser API, so the browser page shares these types.
 */

/** One time series of a metric widget: a metric (MetricStat) or a metric math expression. */
export interface DashboardMetric {
  /** The query id (given in the body, or generated: m1, m2... for metrics without one). */
  readonly id: string;
  readonly namespace?: string;
  readonly metricName?: string;
  readonly dimensions?: Readonly<Record<string, string>>;
  readonly expression?: string;
  /** The statistic (the metric's own, else the widget's, else Average). */
  readonly stat: string;
  /** Seconds (the metric's own, else the widget's, else 300). */
  readonly period: number;
  readonly label: string;
  readonly color?: string;
  readonly yAxis: 'left' | 'right';
  /** Hidden series are still evaluated (an expression may use them) but not drawn. */
  readonly visible: boolean;
  readonly unit?: string;
}

export interface HorizontalAnnotation {
  readonly value: number;
  /** The other edge of a band annotation ([{value}, {value}] in the body). */
  readonly toValue?: number;
  readonly label?: string;
  readonly color?: string;
  readonly fill?: 'above' | 'below';
  readonly yAxis: 'left' | 'right';
}

export interface VerticalAnnotation {
  /** ISO 8601 time. */
  readonly value: string;
  readonly toValue?: string;
  readonly label?: string;
  readonly color?: string;
}

export interface AxisOptions {
  readonly min?: number;
  readonly max?: number;
  readonly label?: string;
}

interface WidgetPlacement {
  /** The widget's position in the body's widgets array: stable across polls. */
  readonly id: string;
  readonly type: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly title?: string;
}

export type ChartView = 'timeSeries' | 'singleValue' | 'bar' | 'pie' | 'gauge' | 'table';

export interface MetricWidget extends WidgetPlacement {
  readonly kind: 'metric';
  readonly view: ChartView;
  readonly stacked: boolean;
  readonly metrics: readonly DashboardMetric[];
  readonly horizontalAnnotations: readonly HorizontalAnnotation[];
  readonly verticalAnnotations: readonly VerticalAnnotation[];
  /** ARNs of alarms whose metric and threshold the widget draws (CDK's AlarmWidget). */
  readonly alarmArns: readonly string[];
  readonly yAxis: { readonly left?: AxisOptions; readonly right?: AxisOptions };
  readonly legend: 'bottom' | 'right' | 'hidden';
  /** singleValue: one value over the whole time range instead of the latest period. */
  readonly setPeriodToTimeRange: boolean;
  readonly fullPrecision: boolean;
}

export interface TextWidget extends WidgetPlacement {
  readonly kind: 'text';
  /** The markdown rendered to HTML (a small, escaped subset). */
  readonly html: string;
  readonly transparent: boolean;
}

export interface AlarmWidget extends WidgetPlacement {
  readonly kind: 'alarm';
  readonly alarmArns: readonly string[];
  readonly sortBy: 'default' | 'stateUpdatedTimestamp' | 'timestamp';
  /** Only alarms in these states are listed. @default every state */
  readonly states?: readonly string[];
}

/** A widget the local page cannot draw (log queries, custom widgets...): shown as a titled placeholder. */
export interface UnsupportedWidget extends WidgetPlacement {
  readonly kind: 'unsupported';
  readonly reason: string;
}

export type DashboardWidget = MetricWidget | TextWidget | AlarmWidget | UnsupportedWidget;

export interface DashboardDefinition {
  readonly name: string;
  /** Where it comes from in the synthesized app. */
  readonly source?: { readonly stackName: string; readonly logicalId: string };
  /** The body's default time range: an ISO 8601 duration before now (-P1D) or a time. @default -PT3H */
  readonly start: string;
  readonly end?: string;
  readonly widgets: readonly DashboardWidget[];
}

/** What the page fetches once: every dashboard of the app. */
export interface LayoutResponse {
  readonly dashboards: readonly DashboardDefinition[];
  /** Dashboards whose body could not be read, with the reason. */
  readonly errors: readonly string[];
}

export interface SeriesData {
  readonly id: string;
  readonly label: string;
  readonly color: string;
  readonly yAxis: 'left' | 'right';
  /** Aligned with the widget's `x`; null where the period has no datapoint. */
  readonly values: ReadonlyArray<number | null>;
}

export type WidgetData =
  | {
      readonly kind: 'metric';
      /** Period start times in epoch seconds, ascending: the union over the widget's series. */
      readonly x: readonly number[];
      readonly series: readonly SeriesData[];
      readonly error?: string;
    }
  | {
      readonly kind: 'alarm';
      readonly alarms: ReadonlyArray<{
        readonly arn: string;
        readonly name: string;
        readonly state: string;
        readonly reason?: string;
        /** ISO time of the last state change. */
        readonly since?: string;
      }>;
    };

export interface ReportLink {
  readonly kind: 'drift' | 'validation';
  /** The report's key without its extension. */
  readonly name: string;
  readonly lastModified?: string;
  readonly htmlUrl?: string;
  readonly jsonUrl?: string;
}

/** What the page polls. */
export interface DataResponse {
  readonly dashboard: string;
  /** The platform clock, and the range evaluated, as ISO times. */
  readonly now: string;
  readonly start: string;
  readonly end: string;
  readonly widgets: Readonly<Record<string, WidgetData>>;
  readonly reports: readonly ReportLink[];
}

/** The default colours of CloudWatch graphs, in order. */
export const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

const GRID_COLUMNS = 24;
const DEFAULT_SIZE = 6;
const DEFAULT_PERIOD = 300;
const DEFAULT_STAT = 'Average';

/** Thrown for a body the page cannot read; the message names the widget and metric. */
export class DashboardBodyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DashboardBodyError';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new DashboardBodyError(`${where} must be a string`);
  return value;
}

function optionalNumber(value: unknown, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new DashboardBodyError(`${where} must be a number, got ${JSON.stringify(value)}`);
  return value;
}

function gridNumber(value: unknown, where: string, min: number, max: number): number | undefined {
  const n = optionalNumber(value, where);
  if (n !== undefined && (!Number.isInteger(n) || n < min || n > max))
    throw new DashboardBodyError(`${where} must be an integer in [${min}, ${max}], got ${n}`);
  return n;
}

/**
 * Expands the metrics array of a metric widget: each entry is [namespace, name, dim, value, ..., {options}] or
 * [{expression...}]. "." repeats the value at the same position of the previous metric; "..." stands for the
 * previous metric's values between the ones given before and after it (so [".", "..."]-style entries such as
 * ["...", "i-2"] replace only the tail).
 */
export function expandMetrics(
  metrics: unknown,
  defaults: { readonly stat?: string; readonly period?: number },
  where: string,
): DashboardMetric[] {
  if (metrics === undefined) return [];
  if (!Array.isArray(metrics)) throw new DashboardBodyError(`${where}.metrics must be an array`);
  let previous: string[] | undefined;
  const taken = new Set<string>();
  const drafts = metrics.map((entry: unknown, i) => {
    const at = `${where}.metrics[${i}]`;
    if (!Array.isArray(entry) || entry.length === 0)
      throw new DashboardBodyError(`${at} must be a non-empty array`);
    const last = entry[entry.length - 1];
    const options = isObject(last) ? last : {};
    const values = isObject(last) ? entry.slice(0, -1) : entry;
    values.forEach((v, j) => {
      if (typeof v !== 'string') throw new DashboardBodyError(`${at}[${j}] must be a string`);
    });
    let parts: string[] | undefined;
    if (values.length > 0) {
      const given = values as string[];
      const ellipsis = given.indexOf('...');
      if (given.lastIndexOf('...') !== ellipsis)
        throw new DashboardBodyError(`${at} has more than one "..."`);
      if ((ellipsis >= 0 || given.includes('.')) && !previous)
        throw new DashboardBodyError(`${at} uses "." or "..." but no metric comes before it`);
      if (ellipsis >= 0) {
        const before = given.slice(0, ellipsis);
        const after = given.slice(ellipsis + 1);
        const prev = previous as string[];
        const middle = prev.slice(before.length, Math.max(before.length, prev.length - after.length));
        parts = [...before, ...middle, ...after];
      } else parts = [...given];
      parts = parts.map((v, j) => {
        if (v !== '.') return v;
        const p = previous?.[j];
        if (p === undefined)
          throw new DashboardBodyError(`${at}[${j}] is "." but the metric before has no value there`);
        return p;
      });
      if (parts.length < 2 || parts.length % 2 !== 0)
        throw new DashboardBodyError(
          `${at} must be [namespace, metricName, (dimensionName, dimensionValue)...], got ${JSON.stringify(parts)}`,
        );
      previous = parts;
    }
    const expression = optionalString(options.expression, `${at} expression`);
    if (!parts && expression === undefined)
      throw new DashboardBodyError(`${at} needs a namespace and metric name, or an expression`);
    if (parts && expression !== undefined)
      throw new DashboardBodyError(`${at} has both a metric and an expression`);
    const id = optionalString(options.id, `${at} id`);
    if (id !== undefined) {
      if (!/^[a-z][a-zA-Z0-9_]*$/.test(id))
        throw new DashboardBodyError(
          `${at} id "${id}" must start with a lowercase letter (letters, digits, _)`,
        );
      if (taken.has(id)) throw new DashboardBodyError(`${at} id "${id}" is used twice`);
      taken.add(id);
    }
    const yAxis = options.yAxis === undefined ? 'left' : options.yAxis;
    if (yAxis !== 'left' && yAxis !== 'right')
      throw new DashboardBodyError(`${at} yAxis must be "left" or "right"`);
    const period = optionalNumber(options.period, `${at} period`) ?? defaults.period ?? DEFAULT_PERIOD;
    if (!Number.isInteger(period) || period < 1)
      throw new DashboardBodyError(`${at} period must be a positive integer number of seconds`);
    const dimensions: Record<string, string> = {};
    if (parts) for (let j = 2; j < parts.length; j += 2) dimensions[parts[j]] = parts[j + 1];
    return {
      given: id,
      namespace: parts?.[0],
      metricName: parts?.[1],
      dimensions: parts ? dimensions : undefined,
      expression,
      stat: optionalString(options.stat, `${at} stat`) ?? defaults.stat ?? DEFAULT_STAT,
      period,
      label: optionalString(options.label, `${at} label`),
      color: optionalString(options.color, `${at} color`),
      yAxis: yAxis as 'left' | 'right',
      visible: options.visible !== false,
      unit: optionalString(options.unit, `${at} unit`),
    };
  });
  let next = 1;
  const freshId = () => {
    while (taken.has(`m${next}`)) next++;
    taken.add(`m${next}`);
    return `m${next}`;
  };
  const labels = defaultLabels(drafts);
  return drafts.map(({ given, label, ...d }, i) => ({
    ...d,
    id: given ?? freshId(),
    label: label ?? labels[i],
  }));
}

/**
 * Labels for metrics without one: the metric name, with the statistic and the dimension values that tell apart
 * metrics of the same name in one widget (as the console does).
 */
function defaultLabels(
  drafts: ReadonlyArray<{
    metricName?: string;
    expression?: string;
    stat: string;
    dimensions?: Record<string, string>;
  }>,
): string[] {
  return drafts.map((d) => {
    if (d.metricName === undefined) return d.expression ?? '';
    const twins = drafts.filter((o) => o.metricName === d.metricName);
    if (twins.length === 1) return d.metricName;
    const parts = [d.metricName];
    if (new Set(twins.map((t) => t.stat)).size > 1) parts.push(d.stat);
    for (const [k, v] of Object.entries(d.dimensions ?? {})) {
      if (new Set(twins.map((t) => t.dimensions?.[k])).size > 1) parts.push(v);
    }
    return parts.join(' ');
  });
}

function annotationsOf(
  raw: unknown,
  where: string,
): { horizontal: HorizontalAnnotation[]; vertical: VerticalAnnotation[]; alarms: string[] } {
  if (raw === undefined) return { horizontal: [], vertical: [], alarms: [] };
  if (!isObject(raw)) throw new DashboardBodyError(`${where}.annotations must be an object`);
  const list = (v: unknown, name: string): unknown[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new DashboardBodyError(`${where}.annotations.${name} must be an array`);
    return v;
  };
  const horizontal: HorizontalAnnotation[] = [];
  list(raw.horizontal, 'horizontal').forEach((a, i) => {
    const at = `${where}.annotations.horizontal[${i}]`;
    // A band is a pair of annotations; its first element carries the label, colour and fill.
    const [first, second] = Array.isArray(a) ? a : [a];
    if (!isObject(first) || (second !== undefined && !isObject(second)))
      throw new DashboardBodyError(`${at} must be an object or a pair of objects`);
    if (first.visible === false) return;
    const value = optionalNumber(first.value, `${at} value`);
    if (value === undefined) throw new DashboardBodyError(`${at} needs a value`);
    const yAxis = first.yAxis ?? 'left';
    if (yAxis !== 'left' && yAxis !== 'right')
      throw new DashboardBodyError(`${at} yAxis must be "left" or "right"`);
    const fill = first.fill;
    if (fill !== undefined && fill !== 'above' && fill !== 'below' && fill !== 'none')
      throw new DashboardBodyError(`${at} fill must be above, below or none`);
    horizontal.push({
      value,
      toValue: isObject(second) ? optionalNumber(second.value, `${at}[1] value`) : undefined,
      label: optionalString(first.label, `${at} label`),
      color: optionalString(first.color, `${at} color`),
      fill: fill === 'none' ? undefined : (fill as 'above' | 'below' | undefined),
      yAxis,
    });
  });
  const vertical: VerticalAnnotation[] = [];
  list(raw.vertical, 'vertical').forEach((a, i) => {
    const at = `${where}.annotations.vertical[${i}]`;
    const [first, second] = Array.isArray(a) ? a : [a];
    if (!isObject(first)) throw new DashboardBodyError(`${at} must be an object or a pair of objects`);
    if (first.visible === false) return;
    const value = optionalString(first.value, `${at} value`);
    if (value === undefined || Number.isNaN(Date.parse(value)))
      throw new DashboardBodyError(`${at} value must be an ISO 8601 time`);
    vertical.push({
      value,
      toValue: isObject(second) ? optionalString(second.value, `${at}[1] value`) : undefined,
      label: optionalString(first.label, `${at} label`),
      color: optionalString(first.color, `${at} color`),
    });
  });
  const alarms = list(raw.alarms, 'alarms').map((a, i) => {
    if (typeof a !== 'string')
      throw new DashboardBodyError(`${where}.annotations.alarms[${i}] must be an ARN`);
    return a;
  });
  return { horizontal, vertical, alarms };
}

function axisOf(raw: unknown, where: string): AxisOptions | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) throw new DashboardBodyError(`${where} must be an object`);
  return {
    min: optionalNumber(raw.min, `${where}.min`),
    max: optionalNumber(raw.max, `${where}.max`),
    label: optionalString(raw.label, `${where}.label`),
  };
}

const VIEWS = new Set<ChartView>(['timeSeries', 'singleValue', 'bar', 'pie', 'gauge', 'table']);

function metricWidget(base: WidgetPlacement, p: Record<string, unknown>, where: string): MetricWidget {
  const view = (p.view ?? 'timeSeries') as ChartView;
  if (!VIEWS.has(view))
    throw new DashboardBodyError(`${where}.view "${String(p.view)}" is not a metric view`);
  const period = optionalNumber(p.period, `${where}.period`);
  const stat = optionalString(p.stat, `${where}.stat`);
  const annotations = annotationsOf(p.annotations, where);
  const metrics = expandMetrics(p.metrics, { stat, period }, where);
  if (metrics.length === 0 && annotations.alarms.length === 0)
    throw new DashboardBodyError(`${where} has neither metrics nor alarm annotations`);
  const yAxis = isObject(p.yAxis) ? p.yAxis : {};
  const legend = isObject(p.legend) ? p.legend.position : undefined;
  return {
    ...base,
    kind: 'metric',
    view,
    stacked: p.stacked === true,
    metrics,
    horizontalAnnotations: annotations.horizontal,
    verticalAnnotations: annotations.vertical,
    alarmArns: annotations.alarms,
    yAxis: {
      left: axisOf(yAxis.left, `${where}.yAxis.left`),
      right: axisOf(yAxis.right, `${where}.yAxis.right`),
    },
    legend: legend === 'right' || legend === 'hidden' ? legend : 'bottom',
    setPeriodToTimeRange: p.setPeriodToTimeRange === true,
    fullPrecision: p.singleValueFullPrecision === true,
  };
}

/**
 * Reads a dashboard body (a JSON string, as DashboardBody holds it, or the parsed object). Widgets without x/y
 * are placed as CloudWatch places them: left to right, wrapping at 24 columns, below the placed ones.
 */
export function parseDashboardBody(
  body: unknown,
  name: string,
  source?: DashboardDefinition['source'],
): DashboardDefinition {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch (e) {
      throw new DashboardBodyError(`dashboard ${name}: the body is not JSON: ${(e as Error).message}`);
    }
  }
  if (!isObject(parsed)) throw new DashboardBodyError(`dashboard ${name}: the body must be a JSON object`);
  const widgets = parsed.widgets;
  if (!Array.isArray(widgets))
    throw new DashboardBodyError(`dashboard ${name}: the body needs a widgets array`);
  if (widgets.length > 500) throw new DashboardBodyError(`dashboard ${name}: more than 500 widgets`);
  const placedBottom = widgets.reduce(
    (m: number, w: unknown) =>
      isObject(w) && typeof w.y === 'number' && typeof w.height === 'number'
        ? Math.max(m, w.y + w.height)
        : m,
    0,
  );
  let cursor = { x: 0, y: placedBottom, rowHeight: 0 };
  const out = widgets.map((raw: unknown, i): DashboardWidget => {
    const where = `dashboard ${name} widgets[${i}]`;
    if (!isObject(raw)) throw new DashboardBodyError(`${where} must be an object`);
    const type = raw.type;
    if (typeof type !== 'string') throw new DashboardBodyError(`${where} needs a type`);
    const width = gridNumber(raw.width, `${where}.width`, 1, GRID_COLUMNS) ?? DEFAULT_SIZE;
    const height = gridNumber(raw.height, `${where}.height`, 1, 1000) ?? DEFAULT_SIZE;
    let x = gridNumber(raw.x, `${where}.x`, 0, GRID_COLUMNS - 1);
    let y = gridNumber(raw.y, `${where}.y`, 0, Number.MAX_SAFE_INTEGER);
    if (x === undefined || y === undefined) {
      if (cursor.x + width > GRID_COLUMNS) cursor = { x: 0, y: cursor.y + cursor.rowHeight, rowHeight: 0 };
      x = cursor.x;
      y = cursor.y;
      cursor = { x: cursor.x + width, y: cursor.y, rowHeight: Math.max(cursor.rowHeight, height) };
    }
    if (x + width > GRID_COLUMNS)
      throw new DashboardBodyError(`${where} does not fit the 24 columns (x ${x} + width ${width})`);
    const p = isObject(raw.properties) ? raw.properties : {};
    const base: WidgetPlacement = {
      id: `w${i}`,
      type,
      x,
      y,
      width,
      height,
      title: optionalString(p.title, `${where}.properties.title`),
    };
    switch (type) {
      case 'metric':
        return metricWidget(base, p, `${where}.properties`);
      case 'text': {
        const markdown = optionalString(p.markdown, `${where}.properties.markdown`) ?? '';
        return {
          ...base,
          kind: 'text',
          html: renderMarkdown(markdown),
          transparent: p.background === 'transparent',
        };
      }
      case 'alarm': {
        const alarms = p.alarms;
        if (!Array.isArray(alarms) || alarms.some((a) => typeof a !== 'string'))
          throw new DashboardBodyError(`${where}.properties.alarms must be an array of alarm ARNs`);
        const sortBy = p.sortBy ?? 'default';
        if (sortBy !== 'default' && sortBy !== 'stateUpdatedTimestamp' && sortBy !== 'timestamp')
          throw new DashboardBodyError(`${where}.properties.sortBy "${String(sortBy)}" is not a sort order`);
        const states = p.states;
        return {
          ...base,
          kind: 'alarm',
          alarmArns: alarms as string[],
          sortBy,
          ...(Array.isArray(states) ? { states: states.map(String) } : {}),
        };
      }
      default:
        return {
          ...base,
          kind: 'unsupported',
          reason: `a ${type} widget has no local equivalent (it is shown on the CloudWatch dashboard)`,
        };
    }
  });
  const start = optionalString(parsed.start, `dashboard ${name} start`) ?? '-PT3H';
  const end = optionalString(parsed.end, `dashboard ${name} end`);
  // Checked here, so that a bad range fails when the dashboard is read rather than on every poll.
  timeAt(start, 'start', new Date(0));
  if (end !== undefined) timeAt(end, 'end', new Date(0));
  return { name, ...(source ? { source } : {}), start, ...(end ? { end } : {}), widgets: out };
}

/** Milliseconds of an ISO 8601 duration such as -P1D, PT3H or -P1W (years and months have no fixed length). */
export function parseDuration(text: string): number | undefined {
  const m =
    /^(-)?P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
      text,
    );
  if (!m || text === 'P' || text === '-P' || text.endsWith('T')) return undefined;
  const [, minus, w, d, h, min, s] = m;
  const ms =
    ((Number(w ?? 0) * 7 + Number(d ?? 0)) * 86_400 +
      Number(h ?? 0) * 3600 +
      Number(min ?? 0) * 60 +
      Number(s ?? 0)) *
    1000;
  return minus ? -ms : ms;
}

/** A range bound: a duration before `now`, or a time. */
function timeAt(text: string, what: string, now: Date): Date {
  const duration = parseDuration(text);
  if (duration !== undefined) return new Date(now.getTime() - Math.abs(duration));
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new DashboardBodyError(
      `the ${what} "${text}" is neither an ISO 8601 duration (-P1D, -PT3H; no years or months) nor a time`,
    );
  return new Date(t);
}

/** The [start, end] of a dashboard's range at `now`: each a time or a duration relative to now. */
export function resolveTimeRange(
  range: { readonly start: string; readonly end?: string },
  now: Date,
): { start: Date; end: Date } {
  const start = timeAt(range.start, 'start', now);
  const end = range.end === undefined ? now : timeAt(range.end, 'end', now);
  if (end <= start) throw new DashboardBodyError(`the range ends (${end.toISOString()}) before it starts`);
  return { start, end };
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** Inline markdown on escaped text: `code`, **bold**, *italic*, [text](http(s) URL or #anchor). */
function inline(text: string): string {
  const codes: string[] = [];
  let out = escapeHtml(text).replace(/`([^`]+)`/g, (_m, c: string) => {
    codes.push(`<code>${c}</code>`);
    return `\u0000${codes.length - 1}\u0000`;
  });
  out = out
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/(^|[^*])\*([^*]+)\*/g, '$1<em>$2</em>')
    .replace(/\[(?:button:(?:primary:)?)?([^\]]+)\]\(([^)\s]+)\)/g, (_m, label: string, url: string) => {
      // The URL was escaped with the rest; only web links and anchors become links.
      const raw = url.replace(/&amp;/g, '&');
      if (!/^(https?:\/\/|#)/i.test(raw)) return label;
      return `<a href="${url}" target="_blank" rel="noopener noreferrer">${label}</a>`;
    });
  return out.replace(/\u0000(\d+)\u0000/g, (_m, i: string) => codes[Number(i)]);
}

/**
 * The markdown of a text widget as HTML: headings, paragraphs, bullet and numbered lists, horizontal rules and
 * the inline forms above. Everything else is escaped text: no raw HTML, no images, no scriptable links.
 */
export function renderMarkdown(markdown: string): string {
  const lines = markdown.replace(/\r\n?/g, '\n').split('\n');
  const out: string[] = [];
  let paragraph: string[] = [];
  let list: { tag: 'ul' | 'ol'; items: string[] } | undefined;
  const flush = () => {
    if (paragraph.length > 0) out.push(`<p>${paragraph.map(inline).join('<br>')}</p>`);
    paragraph = [];
    if (list)
      out.push(`<${list.tag}>${list.items.map((i) => `<li>${inline(i)}</li>`).join('')}</${list.tag}>`);
    list = undefined;
  };
  for (const line of lines) {
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
    const numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      out.push(`<h${heading[1].length}>${inline(heading[2])}</h${heading[1].length}>`);
    } else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flush();
      out.push('<hr>');
    } else if (bullet || numbered) {
      const tag = bullet ? 'ul' : 'ol';
      if (paragraph.length > 0 || (list && list.tag !== tag)) flush();
      list ??= { tag, items: [] };
      list.items.push((bullet ?? numbered)![1]);
    } else if (line.trim() === '') {
      flush();
    } else {
      if (list) flush();
      paragraph.push(line.trim());
    }
  }
  flush();
  return out.join('\n');
}
