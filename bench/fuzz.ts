import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { gcFunction, heapBytes } from '../test/fuzz/gc';
import { caseHooks, caseStats, setCaseLimitMs, target, TARGETS } from '../test/fuzz/targets';

/**
 * `npm run fuzz`: the fuzz targets of test/fuzz/targets.ts for longer than the test run, with fresh seeds.
 *
 *   npm run fuzz [-- --seconds 90] [--seed S] [--target NAME]... [--case-ms 5000] [--json]
 *   npm run fuzz -- --target NAME --seed S --path P        replays one failure (as printed)
 *
 * The time is shared evenly between the targets, which run one after another, each in a child process of its
 * own: its peak RSS is its own, and a case that hangs is killed and reported with the seed and path that
 * replay it. Within a target, batches of cases run with seeds S, S+1, ...; a failure is shrunk by fast-check
 * and printed with its seed and path. Exit code 1 when any target failed or hung.
 */

const BATCH = 2000;
/** Start-up of one child under tsx, about. */
const CHILD_OVERHEAD_MS = 1500;

interface ChildResult {
  target: string;
  cases: number;
  batches: number;
  seconds: number;
  maxCaseMs: number;
  peakRssMb: number;
  /** Heap in use at the end minus at the start, each after a full collection, MB. */
  heapGrowthMb: number;
  failure: null | { seed: number; path: string; counterexample: string; error: string; hang?: boolean };
}

interface Args {
  seconds: number;
  seed: number;
  targets: string[];
  path?: string;
  caseMs: number;
  json: boolean;
  child?: string;
  budgetMs?: number;
  progress?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    seconds: 90,
    seed: Date.now() % 2_000_000_000,
    targets: [],
    caseMs: 5000,
    json: false,
  };
  const num = (flag: string, v: string | undefined): number => {
    const x = Number(v);
    if (v === undefined || !Number.isFinite(x)) throw new Error(`${flag} needs a number, got ${v}`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    switch (a) {
      case '--seconds':
        args.seconds = num(a, v);
        i++;
        break;
      case '--seed':
        args.seed = Math.trunc(num(a, v));
        i++;
        break;
      case '--target':
        if (v === undefined) throw new Error('--target needs a name');
        target(v);
        args.targets.push(v);
        i++;
        break;
      case '--path':
        if (v === undefined) throw new Error('--path needs the path fast-check printed');
        args.path = v;
        i++;
        break;
      case '--case-ms':
        args.caseMs = num(a, v);
        i++;
        break;
      case '--json':
        args.json = true;
        break;
      case '--child':
        args.child = v;
        i++;
        break;
      case '--budget-ms':
        args.budgetMs = num(a, v);
        i++;
        break;
      case '--progress':
        args.progress = v;
        i++;
        break;
      default:
        throw new Error(
          `unknown argument ${a}; usage: npm run fuzz -- [--seconds N] [--seed S] [--target NAME]...`,
        );
    }
  }
  if (args.seconds <= 0) throw new Error('--seconds must be positive');
  return args;
}

/** In the child: one target for `budgetMs`, batch after batch, until the time is up or a case fails. */
function runChild(args: Args): ChildResult {
  const name = args.child!;
  const t = target(name);
  setCaseLimitMs(args.caseMs);
  const gc = gcFunction();
  const heap0 = heapBytes(gc);
  const t0 = performance.now();
  const deadline = t0 + (args.budgetMs ?? 10_000);
  const fd = args.progress !== undefined ? fs.openSync(args.progress, 'w') : undefined;
  let seed = args.seed;
  let index = 0;
  if (fd !== undefined)
    caseHooks.onStart = () => {
      // Fixed width, written in place: the parent reads it only if this process has to be killed.
      fs.writeSync(fd, `${String(seed).padStart(12)} ${String(index++).padStart(8)}\n`, 0);
    };
  let cases = 0;
  let batches = 0;
  let failure: ChildResult['failure'] = null;
  while (performance.now() < deadline) {
    seed = (args.seed + batches) | 0;
    index = 0;
    const d = fc.check(t.property(), {
      seed,
      numRuns: BATCH,
      plugins: [fc.interruptAfterTimeLimit(Math.max(1, deadline - performance.now()))],
    });
    batches++;
    cases += d.numRuns;
    if (d.failed) {
      failure = {
        seed: d.seed,
        path: d.counterexamplePath ?? '',
        counterexample: fc.stringify(d.counterexample).slice(0, 4000),
        error: String((d.errorInstance as Error | undefined)?.message ?? d.errorInstance).slice(0, 2000),
      };
      break;
    }
  }
  return {
    target: name,
    cases,
    batches,
    seconds: (performance.now() - t0) / 1000,
    maxCaseMs: caseStats.maxCaseMs,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    heapGrowthMb: (heapBytes(gc) - heap0) / 1e6,
    failure,
  };
}

/** Runs one target in a child process, killing it if it overruns its budget by more than a case limit. */
function spawnTarget(name: string, args: Args, budgetMs: number): Promise<ChildResult> {
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  const progress = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'devmlops-fuzz-')), 'progress');
  const childArgs = [
    // Without V8's cache of compiled sources: the validator targets compile a scanner per random schema, and
    // thousands of cached sources would hide what the code under test itself keeps in the heap figure.
    '--no-compilation-cache',
    '--expose-gc',
    '--import',
    tsx,
    __filename,
    '--child',
    name,
    '--seed',
    String(args.seed),
    '--budget-ms',
    String(budgetMs),
    '--case-ms',
    String(args.caseMs),
    '--progress',
    progress,
  ];
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, childArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let killed = false;
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // Shrinking a failure can take a while on top of the budget; a hang takes for ever.
    const timer = setTimeout(
      () => {
        killed = true;
        c.kill('SIGKILL');
      },
      budgetMs + 2 * args.caseMs + 60_000,
    );
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(timer);
      const at = fs.existsSync(progress) ? fs.readFileSync(progress, 'utf8').trim().split(/\s+/) : [];
      fs.rmSync(path.dirname(progress), { recursive: true, force: true });
      if (killed) {
        const [seed, index] = at.map(Number);
        resolve({
          target: name,
          cases: NaN,
          batches: NaN,
          seconds: NaN,
          maxCaseMs: NaN,
          peakRssMb: NaN,
          heapGrowthMb: NaN,
          failure: {
            seed,
            path: String(index),
            counterexample: '?',
            error: 'the case did not finish',
            hang: true,
          },
        });
      } else if (code !== 0) reject(new Error(`fuzz target ${name} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as ChildResult);
    });
  });
}

/** Replays one case (`--target --seed --path`) in this process and prints what happened. */
function replay(args: Args): number {
  if (args.targets.length !== 1) throw new Error('--path replays one target: give exactly one --target');
  const t = target(args.targets[0]);
  setCaseLimitMs(args.caseMs);
  const d = fc.check(t.property(), { seed: args.seed, path: args.path });
  if (!d.failed) {
    console.log(`${t.name}: seed ${args.seed} path ${args.path} passes`);
    return 0;
  }
  console.log(`${t.name}: seed ${d.seed} path ${d.counterexamplePath}`);
  console.log(`counterexample: ${fc.stringify(d.counterexample)}`);
  console.log(`error: ${String((d.errorInstance as Error | undefined)?.stack ?? d.errorInstance)}`);
  return 1;
}

const fmt = (x: number, digits = 0): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child !== undefined) {
    console.log(JSON.stringify(runChild(args)));
    return 0;
  }
  if (args.path !== undefined) return replay(args);
  const names = args.targets.length > 0 ? args.targets : TARGETS.map((t) => t.name);
  const budgetMs = (args.seconds * 1000) / names.length;
  const t0 = performance.now();
  process.stderr.write(
    `fuzzing ${names.length} targets for ${args.seconds} s (${fmt(budgetMs / 1000, 1)} s each), seed ${args.seed}\n`,
  );
  const results: ChildResult[] = [];
  for (const [i, name] of names.entries()) {
    // Each target ends by its share of the whole time, so that the start-up of its child comes out of the
    // fuzzing time rather than adding to it.
    const end = t0 + (i + 1) * budgetMs - CHILD_OVERHEAD_MS;
    const r = await spawnTarget(name, args, Math.max(1000, end - performance.now()));
    results.push(r);
    process.stderr.write(
      `  ${name}: ${fmt(r.cases)} cases${r.failure ? (r.failure.hang ? ', HUNG' : ', FAILED') : ''}\n`,
    );
  }
  const total = results.reduce((n, r) => n + (Number.isFinite(r.cases) ? r.cases : 0), 0);
  const failures = results.filter((r) => r.failure !== null);
  const summary = {
    seed: args.seed,
    seconds: (performance.now() - t0) / 1000,
    cases: total,
    fuzzSeconds: results.reduce((n, r) => n + (Number.isFinite(r.seconds) ? r.seconds : 0), 0),
    failures: failures.length,
    peakRssMb: Math.max(...results.map((r) => r.peakRssMb).filter(Number.isFinite)),
    targets: results,
  };
  if (args.json) {
    console.log(JSON.stringify(summary));
    return failures.length > 0 ? 1 : 0;
  }
  console.log('target            cases   cases/s  slowest case ms  peak RSS MB  heap growth MB  result');
  for (const r of results)
    console.log(
      [
        r.target.padEnd(16),
        fmt(r.cases).padStart(7),
        fmt(r.cases / r.seconds).padStart(9),
        fmt(r.maxCaseMs, 1).padStart(16),
        fmt(r.peakRssMb).padStart(12),
        fmt(r.heapGrowthMb, 1).padStart(15),
        r.failure ? (r.failure.hang ? 'HUNG' : 'FAILED') : 'ok',
      ].join(' '),
    );
  console.log(
    `total: ${total} cases in ${fmt(summary.fuzzSeconds, 1)} s of fuzzing (${fmt(summary.seconds, 1)} s in all), ` +
      `${failures.length} failures, peak RSS ${fmt(summary.peakRssMb)} MB (seed ${args.seed})`,
  );
  for (const r of failures) {
    const f = r.failure!;
    console.log(`\n${r.target}: ${f.hang ? 'a case did not finish' : f.error}`);
    console.log(`  counterexample: ${f.counterexample}`);
    console.log(`  replay: npm run fuzz -- --target ${r.target} --seed ${f.seed} --path "${f.path}"`);
  }
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  },
);
