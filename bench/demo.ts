import * as path from 'node:path';
import { readProjectConfig } from '../lib/config';
import { demoConfig, DEMO_SIZES, runLoop, type LoopResult } from '../lib/local/loop';
import { runChild } from './child';

/**
 * The demo's wall time per stage (issue 5): the whole loop of `npm run demo`, with the demo's sizes, in a child
 * process of its own so that its peak RSS is its own. Targets: under 90 s in all, peak RSS under 1 GB.
 */

const MB = 1e6;
const DIRECTORY = path.join(__dirname, 'out', 'demo');

export interface DemoBenchResult {
  readonly totalSeconds: number;
  readonly peakRssMb: number;
  readonly timings: LoopResult['timings'];
  readonly problems: readonly string[];
  readonly predictions: number;
}

export function demoBench(): Promise<DemoBenchResult> {
  return runChild<DemoBenchResult>([__filename, '--run']);
}

export function printDemoBench(r: DemoBenchResult): void {
  const lines = [
    'Demo loop (npm run demo, demo sizes), wall time per stage:',
    ...r.timings.map((t) => `  ${(t.ms / 1000).toFixed(2).padStart(7)} s  ${t.stage}`),
    `  total ${r.totalSeconds.toFixed(1)} s (target < 90 s), peak RSS ${r.peakRssMb.toFixed(0)} MB (target < 1000 MB), ${r.predictions} predictions`,
    r.problems.length > 0 ? `  PROBLEMS: ${r.problems.join('; ')}` : '  every stage did what it should',
  ];
  console.log(lines.join('\n'));
}

if (require.main === module && process.argv[2] === '--run') {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  const t0 = performance.now();
  runLoop({
    directory: DIRECTORY,
    config: demoConfig(readProjectConfig() as unknown as Record<string, unknown>),
    sizes: DEMO_SIZES,
  })
    .then(({ result }) => {
      const out: DemoBenchResult = {
        totalSeconds: (performance.now() - t0) / 1000,
        peakRssMb: (process.resourceUsage().maxRSS * 1024) / MB,
        timings: result.timings,
        problems: result.problems,
        predictions: result.predictions.sent,
      };
      process.stdout.write(JSON.stringify(out) + '\n');
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
