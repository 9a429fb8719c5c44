import * as fs from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import * as path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { listenOnLoopback } from './aws-api-server';
import type { Clock } from './clock';
import type { AlarmDefinition, AlarmEvaluator, MetricStore } from './cloudwatch';
import {
  DashboardBodyError,
  PALETTE,
  parseDashboardBody,
  parseDuration,
  resolveTimeRange,
  type DashboardDefinition,
  type DashboardMetric,
  type DataResponse,
  type LayoutResponse,
  type MetricWidget,
  type AlarmWidget,
  type ReportLink,
  type WidgetData,
} from './dashboard-body';
import type { LocalTemplates } from './template';

/**
 * The local dashboard (issue 7): the CloudWatch dashboards of the synthesized templates, served on loopback as a
 * web page that draws every widget from the platform's metric store and alarm states, refreshing live, with links
 * to the latest drift and validation reports in the artifacts bucket. The layout is the template's dashboard body,
 * never a second hand-written one: a widget added in CDK shows up here.
 */

/** Every AWS::CloudWatch::Dashboard of the templates, its body resolved with local names and read. */
export function dashboardsFromTemplates(local: LocalTemplates): LayoutResponse {
  const dashboards: DashboardDefinition[] = [];
  const errors: string[] = [];
  for (const { stackName, logicalId, resource } of local.resourcesOfType('AWS::CloudWatch::Dashboard')) {
    try {
      // CloudFormation generates a name when DashboardName is absent; the local one is derived the same way.
      const declared = resource.Properties?.DashboardName;
      const name =
        declared === undefined
          ? local.resource(stackName, logicalId).ref
          : String(local.resolve(stackName, declared, `Resources.${logicalId}.Properties.DashboardName`));
      const body = local.resolve(
        stackName,
        resource.Properties?.DashboardBody,
        `Resources.${logicalId}.Properties.DashboardBody`,
      );
      dashboards.push(parseDashboardBody(body, name, { stackName, logicalId }));
    } catch (e) {
      errors.push(`${stackName}/${logicalId}: ${(e as Error).message}`);
    }
  }
  return { dashboards, errors };
}

/**
 * A metric widget that graphs alarms (CDK's AlarmWidget: `annotations.alarms`) gets each alarm's metric and its
 * threshold as an annotation, as CloudWatch draws it.
 */
export function withAlarmMetrics(widget: MetricWidget, alarms: readonly AlarmDefinition[]): MetricWidget {
  if (widget.alarmArns.length === 0) return widget;
  const metrics: DashboardMetric[] = [...widget.metrics];
  const horizontal = [...widget.horizontalAnnotations];
  const taken = new Set(metrics.map((m) => m.id));
  const id = (base: string) => {
    let n = 1;
    while (taken.has(`${base}${n}`)) n++;
    taken.add(`${base}${n}`);
    return `${base}${n}`;
  };
  for (const arn of widget.alarmArns) {
    const def = alarms.find((a) => a.arn === arn || arn.endsWith(`:alarm:${a.name}`));
    if (!def) continue;
    if (def.metric) {
      metrics.push({
        id: id('alarm'),
        namespace: def.metric.metric.namespace,
        metricName: def.metric.metric.metricName,
        dimensions: def.metric.metric.dimensions,
        stat: def.metric.stat,
        period: def.metric.period,
        label: def.metric.metric.metricName,
        yAxis: 'left',
        visible: true,
      });
    } else {
      // A metric math alarm: its queries keep their ids (prefixed, to stay apart from the widget's own).
      const prefix = id('alarm');
      const rename = (expression: string) =>
        expression.replace(/\b([a-z][a-zA-Z0-9_]*)\b/g, (w) =>
          (def.metrics ?? []).some((q) => q.id === w) ? `${prefix}_${w}` : w,
        );
      for (const q of def.metrics ?? []) {
        const base = {
          id: `${prefix}_${q.id}`,
          label: q.label ?? q.id,
          yAxis: 'left' as const,
          visible: q.returnData !== false,
        };
        if (q.metricStat)
          metrics.push({
            ...base,
            namespace: q.metricStat.metric.namespace,
            metricName: q.metricStat.metric.metricName,
            dimensions: q.metricStat.metric.dimensions,
            stat: q.metricStat.stat,
            period: q.metricStat.period,
          });
        else
          metrics.push({
            ...base,
            expression: rename(q.expression ?? ''),
            stat: 'Average',
            period: def.period,
          });
      }
    }
    horizontal.push({
      value: def.threshold,
      label: `${def.name} threshold`,
      color: PALETTE[3],
      yAxis: 'left',
    });
  }
  return { ...widget, metrics, horizontalAnnotations: horizontal };
}

/**
 * The series of a metric widget over [start, end], evaluated by the metric store's GetMetricData (metric math
 * included). Periods start on multiples of the widget's longest period, as the console aligns them.
 */
export function metricWidgetData(
  widget: MetricWidget,
  store: MetricStore,
  range: { readonly start: Date; readonly end: Date },
): WidgetData {
  const wholeRange =
    widget.setPeriodToTimeRange && widget.view !== 'timeSeries'
      ? Math.ceil((range.end.getTime() + 1 - range.start.getTime()) / 60_000) * 60
      : undefined;
  const periodOf = (m: DashboardMetric) => wholeRange ?? m.period;
  const queries = widget.metrics.map((m) =>
    m.expression !== undefined
      ? { Id: m.id, Expression: m.expression, Label: m.label, ReturnData: m.visible, Period: periodOf(m) }
      : {
          Id: m.id,
          MetricStat: {
            Metric: {
              Namespace: m.namespace,
              MetricName: m.metricName,
              Dimensions: Object.entries(m.dimensions ?? {}).map(([Name, Value]) => ({ Name, Value })),
            },
            Period: periodOf(m),
            Stat: m.stat,
            Unit: m.unit,
          },
          Label: m.label,
          ReturnData: m.visible,
        },
  );
  const visible = widget.metrics.filter((m) => m.visible);
  const colors = visible.map((m, i) => m.color ?? PALETTE[i % PALETTE.length]);
  if (queries.length === 0 || visible.length === 0) return { kind: 'metric', x: [], series: [] };
  const longest = Math.max(...widget.metrics.map(periodOf)) * 1000;
  const start = wholeRange ? range.start.getTime() : Math.floor(range.start.getTime() / longest) * longest;
  let results: Array<{ Id: string; Timestamps: Date[]; Values: number[] }>;
  try {
    results = store.getMetricData({
      StartTime: new Date(start),
      // The period holding `end` is included: a datapoint put at the clock's now shows at once.
      EndTime: new Date(range.end.getTime() + 1),
      MetricDataQueries: queries,
      ScanBy: 'TimestampAscending',
    }).MetricDataResults;
  } catch (e) {
    return {
      kind: 'metric',
      x: [],
      series: visible.map((m, i) => ({
        id: m.id,
        label: m.label,
        color: colors[i],
        yAxis: m.yAxis,
        values: [],
      })),
      error: (e as Error).message,
    };
  }
  const byId = new Map(results.map((r) => [r.Id, r]));
  const times = new Set<number>();
  for (const r of results) for (const t of r.Timestamps) times.add(Math.floor(t.getTime() / 1000));
  const x = [...times].sort((a, b) => a - b);
  const series = visible.map((m, i) => {
    const r = byId.get(m.id);
    const at = new Map<number, number>();
    r?.Timestamps.forEach((t, j) => at.set(Math.floor(t.getTime() / 1000), r.Values[j]));
    return {
      id: m.id,
      label: m.label,
      color: colors[i],
      yAxis: m.yAxis,
      values: x.map((t) => at.get(t) ?? null),
    };
  });
  return { kind: 'metric', x, series };
}

const STATE_ORDER: Record<string, number> = { ALARM: 0, INSUFFICIENT_DATA: 1, OK: 2 };

/** The alarms of an alarm status widget with their current state, in the widget's sort order. */
export function alarmWidgetData(widget: AlarmWidget, alarms: AlarmEvaluator): WidgetData {
  const all = alarms.describeAll();
  const rows = widget.alarmArns.map((arn) => {
    const name = arn.slice(arn.indexOf(':alarm:') + ':alarm:'.length);
    const a = all.find((x) => x.arn === arn) ?? all.find((x) => x.name === name);
    if (!a) return { arn, name, state: 'UNKNOWN', reason: 'no such alarm in the synthesized templates' };
    return { arn, name: a.name, state: a.state, reason: a.reason, since: a.timestamp.toISOString() };
  });
  const recent = (a: { since?: string }, b: { since?: string }) =>
    (b.since ?? '').localeCompare(a.since ?? '');
  const sorted =
    widget.sortBy === 'timestamp'
      ? rows.sort(recent)
      : widget.sortBy === 'stateUpdatedTimestamp'
        ? rows.sort((a, b) => (STATE_ORDER[a.state] ?? 3) - (STATE_ORDER[b.state] ?? 3) || recent(a, b))
        : rows.sort((a, b) => a.name.localeCompare(b.name));
  return {
    kind: 'alarm',
    alarms: widget.states ? sorted.filter((r) => widget.states!.includes(r.state)) : sorted,
  };
}

/** The report prefixes the dashboard lists and serves; nothing else of the bucket is reachable through it. */
export const REPORT_PREFIXES = { drift: 'reports/drift/', validation: 'reports/validation/' } as const;

const REPORT_KEY = /^reports\/(drift|validation)\/[A-Za-z0-9._=+-]+(\/[A-Za-z0-9._=+-]+)*\.(html|json)$/;

/** Whether a key may be served: under a report prefix, an .html or .json file, no empty or dot segment. */
export function isServableReportKey(key: string): boolean {
  return REPORT_KEY.test(key) && !key.split('/').some((s) => s === '' || s === '.' || s === '..');
}

export function reportUrl(key: string): string {
  // The page's path is the key itself: /reports/drift/... is s3://<artifacts>/reports/drift/...
  return `/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** The latest `limit` reports of each kind, newest first, with links to their HTML and JSON forms. */
export async function latestReports(s3: S3Client, bucket: string, limit = 5): Promise<ReportLink[]> {
  const out: ReportLink[] = [];
  for (const kind of ['drift', 'validation'] as const) {
    const objects: Array<{ key: string; modified: number }> = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: REPORT_PREFIXES[kind], ContinuationToken: token }),
      );
      for (const o of page.Contents ?? [])
        if (o.Key && isServableReportKey(o.Key))
          objects.push({ key: o.Key, modified: o.LastModified?.getTime() ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const byName = new Map<string, { html?: string; json?: string; modified: number }>();
    for (const o of objects) {
      const name = o.key.replace(/\.(html|json)$/, '');
      const entry = byName.get(name) ?? { modified: 0 };
      entry[o.key.endsWith('.html') ? 'html' : 'json'] = o.key;
      entry.modified = Math.max(entry.modified, o.modified);
      byName.set(name, entry);
    }
    // Newest first; drift keys are hour partitions, so among equal times the later key is the later window.
    const latest = [...byName.entries()]
      .sort(([a, x], [b, y]) => y.modified - x.modified || (a < b ? 1 : a > b ? -1 : 0))
      .slice(0, limit);
    for (const [name, e] of latest)
      out.push({
        kind,
        name,
        ...(e.modified > 0 ? { lastModified: new Date(e.modified).toISOString() } : {}),
        ...(e.html ? { htmlUrl: reportUrl(e.html) } : {}),
        ...(e.json ? { jsonUrl: reportUrl(e.json) } : {}),
      });
  }
  return out;
}

/** What the dashboard reads from the platform. */
export interface DashboardSource {
  readonly templates: LocalTemplates;
  readonly metrics: MetricStore;
  readonly alarms: AlarmEvaluator;
  readonly clock: Clock;
  readonly s3: S3Client;
  readonly artifactsBucket: string;
}

export interface DashboardServerOptions {
  readonly source: DashboardSource;
  /** @default 0: any free port */
  readonly port?: number;
  /** How often the page polls, in milliseconds. @default 2000 */
  readonly refreshMilliseconds?: number;
}

export interface DashboardServer {
  /** http://127.0.0.1:<port>/ */
  readonly url: string;
  readonly layout: LayoutResponse;
  close(): Promise<void>;
}

const PAGE_DIRECTORY = path.join(__dirname, 'dashboard-page');

/**
 * The page as one HTML document: uPlot, its CSS, the page's own CSS and script, all inline, so it loads nothing
 * from the network. The script is bundled from TypeScript with esbuild (a devDependency, which `npm ci`
 * installs) the first time the page is asked for.
 */
async function buildPage(refreshMilliseconds: number): Promise<string> {
  let esbuild: typeof import('esbuild');
  try {
    // Loaded only when the page is first asked for (require, not import(): jest's CommonJS runtime has no import()).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    esbuild = require('esbuild') as typeof import('esbuild');
  } catch (e) {
    throw new Error(
      `the dashboard page is bundled with esbuild, a devDependency: run \`npm ci\` (without --omit=dev) (${(e as Error).message})`,
    );
  }
  const built = await esbuild.build({
    entryPoints: [path.join(PAGE_DIRECTORY, 'main.mts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const script = built.outputFiles[0].text;
  const read = (file: string) => fs.readFileSync(file, 'utf8');
  const uplotDir = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  // Inline scripts end at the first "</script", wherever it is.
  const inlineScript = (js: string) => `<script>${js.replace(/<\/(script)/gi, '<\\/$1')}</script>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>devmlops local dashboard</title>
<link rel="icon" href="data:,">
<style>${read(path.join(uplotDir, 'uPlot.min.css'))}</style>
<style>${read(path.join(PAGE_DIRECTORY, 'style.css'))}</style>
</head>
<body data-refresh-ms="${refreshMilliseconds}">
<header id="bar"><h1>devmlops</h1><span id="dashboard-name"></span><span id="clock"></span>
<label>range <select id="range"></select></label><span id="status" role="status"></span></header>
<nav id="reports" aria-label="Reports"></nav>
<div id="errors" role="alert" hidden></div>
<main id="grid"></main>
${inlineScript(read(path.join(uplotDir, 'uPlot.iife.min.js')))}
${inlineScript(script)}
</body>
</html>
`;
}

const PAGE_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'";
// Reports are self-contained files: whatever they hold cannot reach the network from here.
const REPORT_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; font-src data:; base-uri 'none'; form-action 'none'";

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Uint8Array,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    ...extra,
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

/** Starts the dashboard server on 127.0.0.1. */
export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const { source } = options;
  const refresh = options.refreshMilliseconds ?? 2000;
  const layout = dashboardsFromTemplates(source.templates);
  const alarmDefinitions = source.alarms.definitions();
  const dashboards = layout.dashboards.map((d) => ({
    ...d,
    widgets: d.widgets.map((w) => (w.kind === 'metric' ? withAlarmMetrics(w, alarmDefinitions) : w)),
  }));
  const served: LayoutResponse = { dashboards, errors: layout.errors };
  let page: Promise<string> | undefined;
  let port = 0;

  const data = async (url: URL): Promise<DataResponse> => {
    const name = url.searchParams.get('dashboard') ?? dashboards[0]?.name;
    const dashboard = dashboards.find((d) => d.name === name);
    if (!dashboard) throw new DashboardBodyError(`no dashboard named ${String(name)}`);
    const range = url.searchParams.get('range');
    if (range !== null && parseDuration(range) === undefined)
      throw new DashboardBodyError(`range "${range}" is not an ISO 8601 duration such as PT3H or P1D`);
    const now = source.clock.now();
    const { start, end } = resolveTimeRange(range === null ? dashboard : { start: range }, now);
    const widgets: Record<string, WidgetData> = {};
    for (const w of dashboard.widgets) {
      if (w.kind === 'metric') widgets[w.id] = metricWidgetData(w, source.metrics, { start, end });
      else if (w.kind === 'alarm') widgets[w.id] = alarmWidgetData(w, source.alarms);
    }
    return {
      dashboard: dashboard.name,
      now: now.toISOString(),
      start: start.toISOString(),
      end: end.toISOString(),
      widgets,
      reports: await latestReports(source.s3, source.artifactsBucket),
    };
  };

  const report = async (res: ServerResponse, pathname: string): Promise<void> => {
    let key: string;
    try {
      key = decodeURIComponent(pathname.slice(1));
    } catch {
      return send(res, 400, 'text/plain; charset=utf-8', 'bad report path\n');
    }
    if (!isServableReportKey(key))
      return send(
        res,
        404,
        'text/plain; charset=utf-8',
        'only drift and validation reports are served here\n',
      );
    try {
      const r = await source.s3.send(new GetObjectCommand({ Bucket: source.artifactsBucket, Key: key }));
      const body = await r.Body!.transformToByteArray();
      const html = key.endsWith('.html');
      send(res, 200, html ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8', body, {
        'Content-Security-Policy': REPORT_CSP,
      });
    } catch (e) {
      if ((e as Error).name === 'NoSuchKey')
        return send(res, 404, 'text/plain; charset=utf-8', 'no such report\n');
      throw e;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Only the loopback names: a page on another site cannot reach this server through DNS rebinding.
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`)
      return send(res, 403, 'text/plain; charset=utf-8', 'forbidden host\n');
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'GET, HEAD' });
    const url = new URL(req.url ?? '/', `http://${host}`);
    if (url.pathname === '/' || url.pathname === '/index.html') {
      page ??= buildPage(refresh);
      const html = await page.catch((e: Error) => {
        page = undefined;
        throw e;
      });
      return send(res, 200, 'text/html; charset=utf-8', html, { 'Content-Security-Policy': PAGE_CSP });
    }
    if (url.pathname === '/api/layout') return sendJson(res, 200, served);
    if (url.pathname === '/api/data') {
      try {
        return sendJson(res, 200, await data(url));
      } catch (e) {
        if (e instanceof DashboardBodyError) return sendJson(res, 400, { message: e.message });
        throw e;
      }
    }
    if (url.pathname.startsWith('/reports/')) return report(res, url.pathname);
    if (url.pathname === '/favicon.ico') return send(res, 204, 'image/x-icon', '');
    return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: Error) => {
      if (!res.headersSent) sendJson(res, 500, { message: e.message });
      else res.destroy(e);
    });
  });
  port = await listenOnLoopback(server, options.port ?? 0);
  return {
    url: `http://127.0.0.1:${port}/`,
    layout: served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
