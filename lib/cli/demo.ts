import * as path from 'node:path';
import { readProjectConfig } from '../config';
import { demoConfig, DEMO_SIZES, runLoop, type LoopResult } from '../local/loop';
import { parseCommand } from './args';
import { EXIT_ERROR, EXIT_OK, UsageError } from './errors';
import { serveUntilInterrupted } from './local';
import type { Progress } from './progress';

/** Where the demo keeps its platform's data; wiped at the start of every run, so it runs twice in a row. */
export const DEMO_DIRECTORY = path.join('.devmlops', 'demo');

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (c ?? '').padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The summary the demo prints on stdout: files, models, drift by hour and feature, alarms, stage timings. */
export function summary(r: LoopResult): string {
  const out: string[] = [];
  out.push(
    'Files',
    table([
      ['file', 'what', 'status', 'rows', 'valid', 'invalid'],
      ...r.files.map((f) => [f.key, f.what, f.status, String(f.rows), String(f.valid), String(f.invalid)]),
    ]),
  );
  out.push(
    '',
    'Model versions',
    table([
      ['version', 'trigger', 'status', 'metric', 'deployed by', 'model package'],
      ...r.models.map((m) => [
        `v${m.version}`,
        m.trigger,
        m.status,
        m.metricName !== undefined && m.metric !== undefined
          ? `${m.metricName} = ${m.metric.toFixed(4)}`
          : '-',
        m.deployedBy ?? '-',
        m.modelPackageArn ?? '-',
      ]),
    ]),
  );
  if (r.drift.length > 0) {
    const features = r.drift[0].features.map((f) => f.name);
    out.push(
      '',
      'Drift checks (PSI per feature; * = drifted)',
      table([
        ['window', 'traffic', 'status', 'samples', ...features],
        ...r.drift.map((d) => [
          d.hour.slice(0, 16).replace('T', ' '),
          d.traffic,
          d.status,
          String(d.samples ?? '-'),
          ...features.map((name) => {
            const f = d.features.find((x) => x.name === name);
            return f ? `${f.psi.toFixed(3)}${f.drifted ? '*' : ''}` : '-';
          }),
        ]),
      ]),
    );
  }
  out.push('', 'Alarms', table([['alarm', 'state'], ...r.alarms.map((a) => [a.name, a.state])]));
  if (r.alarmChanges.length > 0)
    out.push(
      '',
      'Alarm changes',
      table([
        ['time (simulated)', 'alarm', 'change'],
        ...r.alarmChanges.map((c) => [c.at, c.name, `${c.from} -> ${c.to}`]),
      ]),
    );
  out.push(
    '',
    `Predictions through the inference API: ${r.predictions.sent} (by model version: ${Object.entries(
      r.predictions.byModelVersion,
    )
      .map(([v, n]) => `${v}: ${n}`)
      .join(
        ', ',
      )}); capture files: ${r.captureFiles}; notifications: ${r.notifications.map((n) => n.status ?? n.subject).join(', ')}`,
  );
  out.push(
    '',
    'Stage timings',
    table([['stage', 'seconds'], ...r.timings.map((t) => [t.stage, (t.ms / 1000).toFixed(2)])]),
  );
  return out.join('\n') + '\n';
}

export async function demoCommand(argv: string[], progress: Progress): Promise<number> {
  const { values, positionals } = parseCommand(
    'demo',
    argv,
    { keep: { type: 'boolean' }, json: { type: 'boolean' } },
    false,
  );
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, 'demo');
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  const t0 = performance.now();
  const { result, platform } = await runLoop({
    directory: DEMO_DIRECTORY,
    config: demoConfig(readProjectConfig() as unknown as Record<string, unknown>),
    keep: values.keep === true,
    sizes: DEMO_SIZES,
    reporter: {
      step: (name, fn, detail) => progress.step(name, fn, detail),
      info: (m) => progress.info(m),
      ticker: (name) => progress.ticker(name),
    },
  });
  if (values.json === true) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(`\n${summary(result)}`);
  progress.info(`\nThe whole loop took ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
  if (result.problems.length > 0) {
    progress.info(
      `The demo did not do everything it should:\n${result.problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    await platform?.close();
    return EXIT_ERROR;
  }
  progress.info('Every stage did what it should.');
  if (platform) await serveUntilInterrupted(platform, progress);
  else
    progress.info('Run `npm run demo -- --keep` to keep the platform and its dashboard page up afterwards.');
  return EXIT_OK;
}
