// The local dashboard page (runs in the browser; bundled by lib/local/dashboard.ts with esbuild). It draws the
// widgets of the synthesized CloudWatch dashboard on a 24-column grid and polls the server for their data.
import type UPlot from 'uplot';
import type {
  DashboardDefinition,
  DashboardWidget,
  DataResponse,
  HorizontalAnnotation,
  LayoutResponse,
  MetricWidget,
  ReportLink,
  WidgetData,
} from '../dashboard-body';

// uPlot is inlined before this script as a global (no network at run time).
declare const uPlot: typeof UPlot;

type MetricData = Extract<WidgetData, { kind: 'metric' }>;
type AlarmData = Extract<WidgetData, { kind: 'alarm' }>;

const RANGES: ReadonlyArray<[string, string]> = [
  ['PT1H', '1 hour'],
  ['PT3H', '3 hours'],
  ['PT12H', '12 hours'],
  ['P1D', '1 day'],
  ['P3D', '3 days'],
  ['P1W', '1 week'],
];

const refreshMs = Number(document.body.dataset.refreshMs ?? '2000');
const params = new URLSearchParams(location.search);
let range = params.get('range') ?? '';

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url, { cache: 'no-store' });
  const body = (await r.json()) as T & { message?: string };
  if (!r.ok) throw new Error(body.message ?? `${url}: HTTP ${r.status}`);
  return body;
}

function formatValue(v: number, full: boolean): string {
  if (full) return String(v);
  const abs = Math.abs(v);
  const short = (x: number) => Number(x.toPrecision(3));
  if (abs >= 1e9) return `${short(v / 1e9)}G`;
  if (abs >= 1e6) return `${short(v / 1e6)}M`;
  if (abs >= 1e4) return `${short(v / 1e3)}k`;
  if (abs === 0 || abs >= 1) return String(Number(v.toPrecision(4)));
  return String(Number(v.toPrecision(3)));
}

/** A widget on the page: its element and how it takes new data. */
interface Rendered {
  readonly element: HTMLElement;
  update(data: WidgetData | undefined, response: DataResponse): void;
}

function shell(w: DashboardWidget): { element: HTMLElement; body: HTMLElement } {
  const element = el('section', {
    class: `widget widget-${w.kind}`,
    'data-widget-id': w.id,
    'data-widget-type': w.type,
  });
  element.style.gridColumn = `${w.x + 1} / span ${w.width}`;
  element.style.gridRow = `${w.y + 1} / span ${w.height}`;
  if (w.title !== undefined) element.append(el('h2', { class: 'widget-title', title: w.title }, w.title));
  const body = el('div', { class: 'widget-body' });
  element.append(body);
  return { element, body };
}

function textWidget(w: Extract<DashboardWidget, { kind: 'text' }>): Rendered {
  const { element, body } = shell(w);
  if (w.transparent) element.classList.add('transparent');
  // The server renders a small markdown subset with everything else escaped.
  body.innerHTML = w.html;
  return { element, update: () => undefined };
}

function unsupportedWidget(w: Extract<DashboardWidget, { kind: 'unsupported' }>): Rendered {
  const { element, body } = shell(w);
  body.append(el('p', { class: 'note' }, w.reason));
  return { element, update: () => undefined };
}

function alarmWidget(w: Extract<DashboardWidget, { kind: 'alarm' }>): Rendered {
  const { element, body } = shell(w);
  const list = el('ul', { class: 'alarms' });
  body.append(list);
  return {
    element,
    update: (data) => {
      const alarms = (data as AlarmData | undefined)?.alarms ?? [];
      list.replaceChildren(
        ...alarms.map((a) => {
          const li = el('li', {
            class: `alarm state-${a.state}`,
            'data-alarm': a.name,
            'data-state': a.state,
          });
          if (a.reason !== undefined) li.title = a.reason;
          li.append(el('span', { class: 'badge' }, a.state.replace('_', ' ')), el('span', {}, a.name));
          if (a.since !== undefined)
            li.append(
              el(
                'time',
                { datetime: a.since },
                new Date(a.since).toISOString().slice(5, 16).replace('T', ' '),
              ),
            );
          return li;
        }),
      );
      element.dataset.alarmCount = String(alarms.length);
    },
  };
}

function valueWidget(w: MetricWidget): Rendered {
  const { element, body } = shell(w);
  const values = el('div', { class: 'values' });
  body.append(values);
  if (w.view !== 'singleValue')
    body.append(el('p', { class: 'note' }, `the ${w.view} view is shown as the latest value of each series`));
  return {
    element,
    update: (data) => {
      const d = data as MetricData | undefined;
      if (d?.error !== undefined) return showError(element, d.error);
      let count = 0;
      values.replaceChildren(
        ...(d?.series ?? []).map((s) => {
          const latest = [...s.values].reverse().find((v) => v !== null);
          if (latest !== undefined && latest !== null) count++;
          const cell = el('div', { class: 'value' });
          cell.append(
            el(
              'span',
              { class: 'number', style: `color:${s.color}` },
              latest === undefined || latest === null ? '-' : formatValue(latest, w.fullPrecision),
            ),
            el('span', { class: 'label' }, s.label),
          );
          return cell;
        }),
      );
      element.dataset.points = String(count);
      element.dataset.state = count > 0 ? 'data' : 'nodata';
    },
  };
}

function showError(element: HTMLElement, message: string): void {
  element.dataset.state = 'error';
  let p = element.querySelector<HTMLElement>('.widget-error');
  if (!p) {
    p = el('p', { class: 'widget-error' });
    element.append(p);
  }
  p.textContent = message;
}

/** Threshold lines and bands (horizontal annotations) and marked times (vertical ones), drawn on the plot. */
function annotationsPlugin(w: MetricWidget): UPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u: UPlot) => {
          const ctx = u.ctx;
          const { left, top, width, height } = u.bbox;
          ctx.save();
          ctx.beginPath();
          ctx.rect(left, top, width, height);
          ctx.clip();
          ctx.font = `${Math.round(11 * devicePixelRatio)}px sans-serif`;
          // uPlot leaves the alignment of the last axis it drew.
          ctx.textAlign = 'left';
          ctx.textBaseline = 'bottom';
          for (const a of w.horizontalAnnotations) {
            const scale = a.yAxis === 'right' ? 'y2' : 'y';
            if (!u.scales[scale] || u.scales[scale].min === undefined) continue;
            const color = a.color ?? '#d62728';
            const y = u.valToPos(a.value, scale, true);
            if (a.toValue !== undefined || a.fill !== undefined) {
              const other =
                a.toValue !== undefined
                  ? u.valToPos(a.toValue, scale, true)
                  : a.fill === 'above'
                    ? top
                    : top + height;
              ctx.fillStyle = `${color}22`;
              ctx.fillRect(left, Math.min(y, other), width, Math.abs(other - y));
            }
            ctx.strokeStyle = color;
            ctx.lineWidth = devicePixelRatio;
            ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(left, y);
            ctx.lineTo(left + width, y);
            ctx.stroke();
            if (a.label !== undefined) {
              ctx.fillStyle = color;
              ctx.fillText(a.label, left + 4 * devicePixelRatio, y - 3 * devicePixelRatio);
            }
          }
          for (const a of w.verticalAnnotations) {
            const color = a.color ?? '#7f7f7f';
            const x = u.valToPos(Date.parse(a.value) / 1000, 'x', true);
            ctx.strokeStyle = color;
            ctx.setLineDash([]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
            if (a.label !== undefined) {
              ctx.fillStyle = color;
              ctx.fillText(a.label, x + 3 * devicePixelRatio, top + 14 * devicePixelRatio);
            }
          }
          ctx.restore();
        },
      ],
    },
  };
}

/** The y range: the data, the annotations drawn on that axis, and the axis' min and max from the body. */
function yRange(
  annotations: readonly HorizontalAnnotation[],
  fixed: { min?: number; max?: number } | undefined,
): UPlot.Range.Function {
  return (_u, dataMin, dataMax) => {
    const values = [
      dataMin,
      dataMax,
      ...annotations.map((a) => a.value),
      ...annotations.flatMap((a) => a.toValue ?? []),
    ];
    const finite = values.filter((v) => v !== null && Number.isFinite(v));
    let lo = finite.length > 0 ? Math.min(...finite) : 0;
    let hi = finite.length > 0 ? Math.max(...finite) : 1;
    if (lo > 0) lo = 0;
    if (hi === lo) hi = lo + 1;
    hi += (hi - lo) * 0.08;
    return [fixed?.min ?? lo, fixed?.max ?? hi];
  };
}

function timeSeriesWidget(w: MetricWidget): Rendered {
  const { element, body } = shell(w);
  const chart = el('div', { class: 'chart' });
  body.append(chart);
  if (w.legend === 'right') body.classList.add('legend-right');
  let plot: UPlot | undefined;
  let signature = '';
  let span: [number, number] = [0, 1];
  // The legend is part of uPlot's root: the plot gets what the legend leaves of the widget.
  const size = () => {
    const legend = plot?.root.querySelector<HTMLElement>('.u-legend');
    const beside = w.legend === 'right';
    return {
      width: Math.max(chart.clientWidth - (beside ? (legend?.offsetWidth ?? 0) : 0), 50),
      height: Math.max(chart.clientHeight - (beside ? 0 : (legend?.offsetHeight ?? 0)), 40),
    };
  };
  new ResizeObserver(() => plot?.setSize(size())).observe(chart);

  const build = (d: MetricData) => {
    plot?.destroy();
    const rightUsed = d.series.some((s) => s.yAxis === 'right');
    const series: UPlot.Series[] = [
      {},
      ...d.series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 1.5,
        scale: s.yAxis === 'right' ? 'y2' : 'y',
        spanGaps: true,
        points: { show: true, size: 4 },
        ...(w.stacked ? { fill: `${s.color}55` } : {}),
        value: (_u: UPlot, v: number | null) => (v === null ? '-' : formatValue(v, w.fullPrecision)),
      })),
    ];
    const values = (_u: UPlot, splits: number[]) =>
      splits.map((v) => (v === null ? '' : formatValue(v, false)));
    const axes: UPlot.Axis[] = [
      { stroke: '#555', grid: { stroke: '#eee' } },
      { stroke: '#555', grid: { stroke: '#eee' }, label: w.yAxis.left?.label, size: 50, values },
    ];
    if (rightUsed)
      axes.push({
        scale: 'y2',
        side: 1,
        stroke: '#555',
        grid: { show: false },
        label: w.yAxis.right?.label,
        size: 50,
        values,
      });
    const left = w.horizontalAnnotations.filter((a) => a.yAxis === 'left');
    const right = w.horizontalAnnotations.filter((a) => a.yAxis === 'right');
    plot = new uPlot(
      {
        ...size(),
        series,
        axes,
        scales: {
          x: { time: true, range: () => span },
          y: { range: yRange(left, w.yAxis.left) },
          y2: { range: yRange(right, w.yAxis.right) },
        },
        legend: { show: w.legend !== 'hidden', live: true },
        cursor: { drag: { x: false, y: false } },
        plugins: [annotationsPlugin(w)],
        hooks: {
          draw: [
            (u: UPlot) => {
              // What was drawn, for people and for the browser test: points per series.
              const drawn = (u.data.slice(1) as Array<ArrayLike<number | null>>).map(
                (vals) => Array.from(vals).filter((v) => v !== null).length,
              );
              element.dataset.points = String(drawn.reduce((a, b) => a + b, 0));
              element.dataset.series = String(drawn.length);
              element.dataset.drawn = String(Number(element.dataset.drawn ?? '0') + 1);
            },
          ],
        },
      },
      toAligned(d),
      chart,
    );
    plot.setSize(size());
  };
  const toAligned = (d: MetricData): UPlot.AlignedData => {
    const columns = d.series.map((s) => [...s.values]);
    if (w.stacked) {
      // Each series is drawn on top of the ones before it on the same axis.
      for (let i = 1; i < columns.length; i++) {
        const below = columns.slice(0, i).filter((_c, j) => d.series[j].yAxis === d.series[i].yAxis);
        columns[i] = columns[i].map((v, t) =>
          v === null ? null : v + below.reduce((sum, c) => sum + (c[t] ?? 0), 0),
        );
      }
    }
    return [d.x as number[], ...columns] as UPlot.AlignedData;
  };
  const empty = el('p', { class: 'note empty' }, 'No data for this time range.');
  return {
    element,
    update: (data, response) => {
      const d = data as MetricData | undefined;
      if (!d) return;
      element.querySelector('.widget-error')?.remove();
      if (d.error !== undefined) showError(element, d.error);
      span = [Date.parse(response.start) / 1000, Date.parse(response.end) / 1000];
      const next = JSON.stringify(d.series.map((s) => [s.id, s.label, s.color, s.yAxis]));
      if (!plot || next !== signature) {
        signature = next;
        build(d);
      } else plot.setData(toAligned(d));
      const points = d.series.reduce((n, s) => n + s.values.filter((v) => v !== null).length, 0);
      if (d.error === undefined) element.dataset.state = points > 0 ? 'data' : 'nodata';
      if (points === 0 && d.error === undefined) body.append(empty);
      else empty.remove();
    },
  };
}

function renderWidget(w: DashboardWidget): Rendered {
  switch (w.kind) {
    case 'text':
      return textWidget(w);
    case 'alarm':
      return alarmWidget(w);
    case 'unsupported':
      return unsupportedWidget(w);
    case 'metric':
      return w.view === 'timeSeries' ? timeSeriesWidget(w) : valueWidget(w);
  }
}

function renderReports(reports: readonly ReportLink[]): void {
  const nav = document.getElementById('reports')!;
  const group = (kind: ReportLink['kind'], title: string) => {
    const box = el('div', { class: 'report-group', 'data-kind': kind });
    box.append(el('h2', {}, title));
    const items = reports.filter((r) => r.kind === kind);
    if (items.length === 0) box.append(el('p', { class: 'note' }, 'none yet'));
    const list = el('ol', {});
    items.forEach((r, i) => {
      const li = el('li', { class: i === 0 ? 'latest' : '' });
      const name = r.name.split('/').slice(2).join('/');
      if (r.htmlUrl !== undefined)
        li.append(
          el('a', { href: r.htmlUrl, target: '_blank', rel: 'noopener', class: 'report-html' }, name),
        );
      else li.append(el('span', {}, name));
      if (r.jsonUrl !== undefined)
        li.append(
          ' ',
          el('a', { href: r.jsonUrl, target: '_blank', rel: 'noopener', class: 'report-json' }, 'json'),
        );
      list.append(li);
    });
    box.append(list);
    return box;
  };
  nav.replaceChildren(
    group('drift', 'Latest drift reports'),
    group('validation', 'Latest validation reports'),
  );
}

function showErrors(messages: readonly string[]): void {
  const box = document.getElementById('errors')!;
  box.hidden = messages.length === 0;
  box.replaceChildren(...messages.map((m) => el('p', {}, m)));
}

async function main(): Promise<void> {
  const status = document.getElementById('status')!;
  const layout = await getJson<LayoutResponse>('api/layout');
  showErrors(layout.errors);
  const dashboard: DashboardDefinition | undefined =
    layout.dashboards.find((d) => d.name === params.get('dashboard')) ?? layout.dashboards[0];
  if (!dashboard) {
    status.textContent = 'the synthesized app has no dashboard';
    return;
  }
  document.title = `${dashboard.name} - devmlops local dashboard`;
  document.getElementById('dashboard-name')!.textContent = `dashboard ${dashboard.name}`;
  const select = document.getElementById('range') as HTMLSelectElement;
  select.append(el('option', { value: '' }, `dashboard default (${dashboard.start})`));
  for (const [value, label] of RANGES) select.append(el('option', { value }, label));
  select.value = range;
  select.addEventListener('change', () => {
    range = select.value;
    const next = new URLSearchParams(location.search);
    if (range === '') next.delete('range');
    else next.set('range', range);
    history.replaceState(null, '', `?${next.toString()}`);
    void poll();
  });

  const grid = document.getElementById('grid')!;
  const rendered = new Map<string, Rendered>();
  for (const w of dashboard.widgets) {
    const r = renderWidget(w);
    rendered.set(w.id, r);
    grid.append(r.element);
  }
  grid.dataset.widgets = String(dashboard.widgets.length);

  let busy = false;
  const poll = async () => {
    if (busy) return;
    busy = true;
    try {
      const q = new URLSearchParams({ dashboard: dashboard.name });
      if (range !== '') q.set('range', range);
      const data = await getJson<DataResponse>(`api/data?${q.toString()}`);
      for (const w of dashboard.widgets) rendered.get(w.id)!.update(data.widgets[w.id], data);
      renderReports(data.reports);
      document.getElementById('clock')!.textContent =
        `platform time ${data.now.slice(0, 19).replace('T', ' ')} UTC`;
      status.textContent = `updated ${new Date().toLocaleTimeString()}`;
      status.className = 'ok';
      document.body.dataset.polls = String(Number(document.body.dataset.polls ?? '0') + 1);
    } catch (e) {
      // The platform may be stopping: say so on the page and keep polling.
      status.textContent = `cannot reach the platform: ${(e as Error).message}`;
      status.className = 'down';
    } finally {
      busy = false;
    }
  };
  await poll();
  setInterval(() => void poll(), refreshMs);
}

main().catch((e: Error) => showErrors([`the dashboard could not start: ${e.message}`]));
