import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import * as v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Sha256 } from '@aws-crypto/sha256-js';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import autocannon from 'autocannon';
import { featureSpec, type FeatureSpec } from '../lambdas/core/encoding';
import {
  decodePredictions,
  encodeRecords,
  RecordValidator,
  validationSchema,
  type InputRecord,
  type PredictResponse,
} from '../lambdas/core/inference';
import { DeployedModelCache } from '../lambdas/shared/deployed-model';
import { readProjectConfig } from '../lib/config';
import { demoConfig, trafficRecords } from '../lib/local/loop';
import { LocalPlatform } from '../lib/local/platform';
import { sampleCsv } from '../lib/local/sample-data';

/**
 * The inference API's cost (issue 6): per-record validation, encoding and decoding in the inference core, then
 * end-to-end latency and throughput of POST /v1/predict through the local API (API Gateway emulation, SigV4
 * check, request model, the inference Lambda: validate, encode, InvokeEndpoint, decode) beside the same records
 * sent straight to the local endpoint as already-encoded CSV. The platform runs in a child process and the load
 * generator (autocannon) in this one, so that the two do not share an event loop; each gets one of the two cores.
 *
 * Two loads per batch size: a fixed offered rate (evenly spaced requests, see paced) over several connections (latency under concurrent load with
 * neither path saturated: what the target is about, the API adding < 1 ms at p50 and < 5 ms at p99), and as fast
 * as the connections go (throughput). API and endpoint runs alternate, so drift in the machine's speed hits both.
 * autocannon's own percentiles are whole milliseconds; the figures here come from its per-response times
 * (fractional milliseconds). Each load is warmed for `BENCH_WARMUP_SECONDS` per path (default 3), then runs
 * `BENCH_ROUNDS` times per path (default 3, API and endpoint alternating) for `BENCH_SECONDS` each (default 3),
 * and every figure is the median over the rounds.
 * `BENCH_PROFILE_DIR` makes the serving child write a V8 CPU profile there.
 *
 * The direct path is what a direct caller of the endpoint does per request: it sends CSV it has already encoded
 * (the encoding cost is in the core figures) and the local endpoint does not check SigV4, so it is also unsigned;
 * the API path is signed by the caller and checked by the gateway.
 *
 * Requests cycle through `BENCH_DISTINCT_BATCHES` different batches of records (default 64), the same ones in the
 * same order on both paths, as traffic does not repeat one batch. Sent the same batch over and over, the direct
 * path's model got faster than any traffic would make it: the CPU's branch predictor learns the tree walks of
 * those exact rows (scoring 100 rows took 260 to 390 µs for one batch repeated and 370 to 450 µs for 64 batches in
 * turn, measured alone), and the API path, with far more code between two predictions, keeps less of that. 1 sends
 * one batch every time.
 */

const DIRECTORY = path.join(__dirname, 'out', 'inference');
const CODEC_RECORDS = 100_000;
const CONNECTIONS = 10;
/** The offered load of the latency runs: well below what either path can serve on one core. */
const FIXED_RATE = 200;
const BATCHES = [1, 100] as const;
/** sequential: one connection, one request at a time (latency with no queueing); fixed-rate and max: see above. */
const LOADS = [
  { load: 'sequential', connections: 1, rate: undefined },
  { load: 'fixed-rate', connections: CONNECTIONS, rate: FIXED_RATE },
  { load: 'max', connections: CONNECTIONS, rate: undefined },
] as const;
const TARGET = { p50Ms: 1, p99Ms: 5 };
/** Per batch size, half on each path, before the first measurement (the per-load warm-up comes on top). */
const INITIAL_WARMUP_SECONDS = 10;

/** One request of a load: requests cycle through a list of these. */
interface Sent {
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface LoadFigures {
  readonly requests: number;
  readonly errors: number;
  /** CPU time of the serving process (API Gateway, Lambda, endpoint, capture, metrics) per request. */
  readonly serverCpuMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requestsPerSecond: number;
  readonly recordsPerSecond: number;
}

export interface InferenceBenchResult {
  readonly codec: {
    readonly validateNs: number;
    readonly encodeNs: number;
    /** Both in one pass (RecordValidator.checkAndEncode): what the inference Lambda runs. */
    readonly checkAndEncodeNs: number;
    readonly decodeNs: number;
  };
  readonly runs: ReadonlyArray<{
    readonly batch: number;
    readonly load: (typeof LOADS)[number]['load'];
    readonly api: LoadFigures;
    readonly endpoint: LoadFigures;
  }>;
  readonly seconds: number;
  readonly rounds: number;
  readonly roundSeconds: number;
  /** How many different batches each load's requests cycle through. */
  readonly distinctBatches: number;
  /** Whether the serving child's event loop had a CPU of its own (see pinThreads). */
  readonly pinned: boolean;
  readonly targets: ReadonlyArray<{ name: string; value: string; met: boolean }>;
}

/** What the serving child tells the load generator. */
export interface Served {
  readonly apiUrl: string;
  readonly runtimeEndpoint: string;
  readonly endpointName: string;
  readonly region: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  readonly spec: FeatureSpec;
  readonly threshold: number;
}

function schema() {
  return readProjectConfig().dataset;
}

/** The records the bench sends: the demo's traffic (typed JSON values, no label). */
function records(n: number, seed = 100): InputRecord[] {
  return trafficRecords(schema(), n, seed);
}

/** ns per record of the core's per-request work, over CODEC_RECORDS records in batches of 100. */
export function codecBench(): InferenceBenchResult['codec'] {
  const spec = featureSpec(schema());
  const all = records(CODEC_RECORDS, 7);
  const batches: InputRecord[][] = [];
  for (let i = 0; i < all.length; i += 100) batches.push(all.slice(i, i + 100));
  const validator = new RecordValidator(validationSchema(spec, schema()));
  const time = (f: () => void): number => {
    f(); // warm up
    const t0 = process.hrtime.bigint();
    f();
    return Number(process.hrtime.bigint() - t0) / all.length;
  };
  let invalid = 0;
  const validateNs = time(() => {
    for (const b of batches) invalid += validator.check(b).length;
  });
  if (invalid > 0) throw new Error(`the bench's records are not valid (${invalid} errors)`);
  const encoded: string[] = [];
  const encodeNs = time(() => {
    encoded.length = 0;
    for (const b of batches) encoded.push(encodeRecords(spec, b));
  });
  let input = '';
  const checkAndEncodeNs = time(() => {
    for (const b of batches) {
      const r = validator.checkAndEncode(b, spec);
      if (r.errors.length > 0) invalid++;
      input = r.input;
    }
  });
  if (invalid > 0 || input !== encoded[encoded.length - 1])
    throw new Error('checkAndEncode does not agree with check and encodeRecords');
  // A binary model's answer: one probability per line.
  const answers = batches.map((b) => b.map((_, i) => ((i * 7919) % 1000) / 1000).join('\n') + '\n');
  let decoded = 0;
  const decodeNs = time(() => {
    decoded = 0;
    for (let i = 0; i < answers.length; i++)
      decoded += decodePredictions(spec, answers[i], 0.5, batches[i].length).length;
  });
  if (decoded !== all.length || encoded.join('').split('\n').length !== all.length + 1)
    throw new Error('encode/decode did not see every record');
  return { validateNs, encodeNs, checkAndEncodeNs, decodeNs };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export interface Server {
  readonly child: ChildProcess;
  readonly served: Served;
  /** Whether the child's threads were pinned (see pinThreads). */
  readonly pinned: boolean;
  /** CPU milliseconds the serving process has used so far. */
  cpu(): Promise<number>;
}

let generatorGc: (() => void) | undefined;

/**
 * A full collection of the load generator's own heap (this process, not the serving one), run before each load:
 * the generator's collections are not the server's latency, but one during a round is measured as if it were. In
 * one run, every round of 100 records at 200 requests/s had an API p99 of 6.3 to 9.6 ms, and in each of them the
 * generator had paused 5.0 to 9.4 ms for a full collection while its requests were out. The serving process is
 * never collected this way: its collections are part of what the bench measures.
 */
function collectGeneratorGarbage(): void {
  if (!generatorGc) {
    v8.setFlagsFromString('--expose-gc');
    generatorGc = runInNewContext('gc') as () => void;
  }
  generatorGc();
}

async function load(
  server: Server,
  options: {
    url: string;
    method: 'POST';
    requests: readonly Sent[];
    batch: number;
    seconds: number;
    connections: number;
    rate?: number;
  },
): Promise<LoadFigures> {
  collectGeneratorGarbage();
  const cpu0 = await server.cpu();
  const { times, errors } =
    options.rate !== undefined ? await paced({ ...options, rate: options.rate }) : await cannon(options);
  const serverCpuMs = ((await server.cpu()) - cpu0) / Math.max(1, times.length + errors);
  const sorted = Float64Array.from(times).sort();
  const requestsPerSecond = times.length / options.seconds;
  return {
    requests: times.length,
    errors,
    serverCpuMs,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    requestsPerSecond,
    recordsPerSecond: requestsPerSecond * options.batch,
  };
}

interface LoadOptions {
  readonly url: string;
  readonly method: 'POST';
  /** Sent in turn, from the first again after the last. */
  readonly requests: readonly Sent[];
  readonly seconds: number;
  readonly connections: number;
}

/** Response times (ms) of the 200 answers, and the number of other answers and failures. */
interface Timings {
  readonly times: number[];
  readonly errors: number;
}

/**
 * Requests at evenly spaced times, over at most `connections` keep-alive connections (a request that finds
 * them all busy waits for one, and that wait counts). Not autocannon's rate: it gives each connection a budget
 * per second that the connection spends back to back at the start of the second, which measures bursts of
 * `connections` concurrent requests rather than a fixed offered rate.
 */
async function paced(options: LoadOptions & { rate: number }): Promise<Timings> {
  const url = new URL(options.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const requests = options.requests.map((r) => ({
    headers: { ...r.headers, 'content-length': String(Buffer.byteLength(r.body)) },
    body: r.body,
  }));
  const times: number[] = [];
  let errors = 0;
  const one = ({ headers, body }: (typeof requests)[number]) =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = http.request(
        { host: url.hostname, port: url.port, path: url.pathname, method: options.method, agent, headers },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) times.push(performance.now() - t0);
            else errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  const interval = 1000 / options.rate;
  const total = Math.round(options.seconds * options.rate);
  const sent: Array<Promise<void>> = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = start + i * interval - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sent.push(one(requests[i % requests.length]));
  }
  await Promise.all(sent);
  agent.destroy();
  return { times, errors };
}

/** As many requests as the connections carry (one at a time each), for `seconds`. */
async function cannon(options: LoadOptions): Promise<Timings> {
  const times: number[] = [];
  let errors = 0;
  let instance!: autocannon.Instance;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: options.url,
        // Each connection sends these in turn.
        requests: options.requests.map((r) => ({ method: options.method, headers: r.headers, body: r.body })),
        connections: options.connections,
        duration: options.seconds,
      },
      (err, result) => (err ? reject(err as Error) : resolve(result)),
    );
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode === 200) times.push(responseTime);
    else errors++;
  });
  const result = await done;
  return { times, errors: errors + result.errors + result.timeouts };
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Each figure the median of the rounds' (errors: the sum). */
function medianFigures(rounds: readonly LoadFigures[]): LoadFigures {
  const m = (k: keyof LoadFigures) => median(rounds.map((r) => r[k]));
  return {
    requests: rounds.reduce((n, r) => n + r.requests, 0),
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    serverCpuMs: m('serverCpuMs'),
    p50Ms: m('p50Ms'),
    p99Ms: m('p99Ms'),
    requestsPerSecond: m('requestsPerSecond'),
    recordsPerSecond: m('recordsPerSecond'),
  };
}

/** A signed POST /v1/predict: the signature stays valid for 5 minutes, and the gateway accepts it replayed. */
export async function signedPredict(
  s: Served,
  body: string,
): Promise<{ url: string; headers: Record<string, string> }> {
  const url = new URL(`${s.apiUrl}v1/predict`);
  const signed = await new SignatureV4({
    credentials: s.credentials,
    region: s.region,
    service: 'execute-api',
    sha256: Sha256,
  }).sign(
    new HttpRequest({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      headers: { host: url.host, 'content-type': 'application/json' },
      body,
    }),
  );
  const headers = { ...(signed.headers as Record<string, string>) };
  // autocannon sends its own Host (the same host:port that was signed).
  delete headers.host;
  return { url: url.href, headers };
}

/** signedPredict for each body: the one URL, and a request per body. */
async function signedPredicts(
  s: Served,
  bodies: readonly string[],
): Promise<{ url: string; requests: Sent[] }> {
  const signed = await Promise.all(bodies.map((body) => signedPredict(s, body)));
  return { url: signed[0].url, requests: signed.map((x, i) => ({ headers: x.headers, body: bodies[i] })) };
}

/**
 * The CPUs of the load generator and of the serving child's main thread (taskset), or undefined when that is off
 * (BENCH_PIN=0), impossible (one CPU, no taskset) or fails. Left to the scheduler, the two processes of a 2-core
 * machine sometimes share a core and sometimes not, and the figures of one run swung by a factor of two with it.
 * Every thread of the generator (-a): V8's helper threads, which its collections use, were left free before and
 * could run on the server's core.
 */
function pinning(): { readonly generator: string; readonly server: string } | undefined {
  if (process.env.BENCH_PIN === '0' || os.cpus().length < 2 || process.platform !== 'linux') return undefined;
  const self = spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  return self.status === 0 ? { generator: '0', server: '1' } : undefined;
}

/**
 * Pins the serving child's main thread (the event loop every request runs on) to the server's CPU, and its other
 * threads (V8's concurrent garbage collection and compilation, libuv's pool, workers) to the generator's. With
 * the whole process on one core, as the bench had it before, V8's concurrent markers took the event loop's core
 * in the scheduler's slices whenever a full collection ran: V8's trace showed marking steps of 64 KB taking 16 ms,
 * and rounds of 200 requests/s with a full collection in them had an API p99 of 35 to 90 ms. On a machine with
 * more than one core those threads run beside the event loop, which is what this gives them. Threads the main
 * thread starts later inherit its CPU. Returns whether every thread was pinned.
 */
function pinThreads(pid: number, pin: { readonly generator: string; readonly server: string }): boolean {
  let ok = true;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const cpu = tid === String(pid) ? pin.server : pin.generator;
    ok &&= spawnSync('taskset', ['-p', '-c', cpu, tid], { stdio: 'ignore' }).status === 0;
  }
  return ok;
}

/** Starts the serving child and waits for what it serves. */
export function startServer(): Promise<Server> {
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  // BENCH_PROFILE_DIR: the serving child writes a V8 CPU profile there (what the hot path work was found with).
  const profile = process.env.BENCH_PROFILE_DIR;
  const flags = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  // --expose-gc: the child collects what training left behind before the first load (see serve).
  const args = [...flags, '--expose-gc', '--import', tsx, __filename, '--serve'];
  const pin = pinning();
  const child = spawn(process.execPath, args, {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: {
      ...process.env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    },
  });
  // The child answers each `cpu` line on stdin with its CPU time so far, one line each, in order.
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<(line: string) => void> = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = () => new Promise<string>((r) => waiting.push(r));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the serving child exited with ${code}`)));
    void next().then((line) => {
      // Pinned once it serves: its threads all exist by then (training used the pool and a worker).
      const pinned = pin !== undefined && pinThreads(child.pid!, pin);
      resolve({
        child,
        served: JSON.parse(line) as Served,
        pinned,
        cpu: async () => {
          const answer = next();
          child.stdin!.write('cpu\n');
          return Number(await answer);
        },
      });
    });
  });
}

export async function inferenceBench(): Promise<InferenceBenchResult> {
  const t0 = performance.now();
  const seconds = Number(process.env.BENCH_SECONDS ?? 3);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  // Each load (its connections, its rate) is warmed for this long per path before it is measured.
  const warmup = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`BENCH_ROUNDS must be >= 1, got ${rounds}`);
  const distinct = Number(process.env.BENCH_DISTINCT_BATCHES ?? 64);
  if (!(Number.isInteger(distinct) && distinct >= 1))
    throw new Error(`BENCH_DISTINCT_BATCHES must be >= 1, got ${distinct}`);
  const codec = codecBench();
  const server = await startServer();
  const { child, served } = server;
  try {
    const endpointUrl = `${served.runtimeEndpoint}/endpoints/${encodeURIComponent(served.endpointName)}/invocations`;
    const runs: Array<InferenceBenchResult['runs'][number]> = [];
    // Per batch size, what each path is sent: the API the records as JSON, the endpoint the same records as CSV.
    const endpointHeaders = { 'content-type': 'text/csv', accept: 'text/csv' };
    const inputs = BATCHES.map((batch) => {
      const batches = Array.from({ length: distinct }, (_, i) => records(batch, 100 + i));
      return {
        batch,
        bodies: batches.map((b) => JSON.stringify({ records: b })),
        endpoint: {
          url: endpointUrl,
          requests: batches.map((b) => ({ headers: endpointHeaders, body: encodeRecords(served.spec, b) })),
        },
      };
    });
    // The API's path runs far more JavaScript than the endpoint's, and its CPU per request kept falling for
    // several seconds of load: each batch size gets INITIAL_WARMUP_SECONDS, half on each path, before anything is
    // measured.
    for (const { batch, bodies, endpoint } of inputs) {
      const common = { method: 'POST' as const, batch, connections: 1, seconds: INITIAL_WARMUP_SECONDS / 2 };
      await load(server, { ...common, ...(await signedPredicts(served, bodies)) });
      await load(server, { ...common, ...endpoint });
    }
    for (const { batch, bodies, endpoint } of inputs) {
      // Both paths must answer the same, for every batch sent, before their speed means anything.
      const api = await signedPredicts(served, bodies);
      for (let i = 0; i < bodies.length; i++) {
        const viaApi = (await (
          await fetch(api.url, { method: 'POST', ...api.requests[i] })
        ).json()) as PredictResponse;
        const direct = await (await fetch(endpoint.url, { method: 'POST', ...endpoint.requests[i] })).text();
        const expected = decodePredictions(served.spec, direct, served.threshold, batch);
        if (JSON.stringify(viaApi.predictions) !== JSON.stringify(expected))
          throw new Error(
            `the API and the endpoint disagree for batch ${batch} #${i}: ${JSON.stringify(viaApi).slice(0, 300)}`,
          );
      }
      for (const { load: kind, connections, rate } of LOADS) {
        const common = { method: 'POST' as const, batch, connections, rate };
        // Warm both paths (JIT, connections), then measure in alternating rounds, API first: each figure is the
        // median over the rounds, so one burst of another job on this shared machine does not decide it.
        await load(server, { ...common, ...api, seconds: warmup });
        await load(server, { ...common, ...endpoint, seconds: warmup });
        const apiRounds: LoadFigures[] = [];
        const endpointRounds: LoadFigures[] = [];
        for (let round = 0; round < rounds; round++) {
          const signedNow = await signedPredicts(served, bodies);
          apiRounds.push(await load(server, { ...common, ...signedNow, seconds }));
          endpointRounds.push(await load(server, { ...common, ...endpoint, seconds }));
        }
        runs.push({
          batch,
          load: kind,
          api: medianFigures(apiRounds),
          endpoint: medianFigures(endpointRounds),
        });
      }
    }
    // The target is about latency the API adds: judged one request at a time (nothing queued behind another) and
    // under the fixed concurrent load (where one process serving every Lambda invocation queues them).
    const targets = runs
      .filter((r) => r.load !== 'max')
      .flatMap((r) => [
        {
          name: `batch ${r.batch}, ${r.load}: API adds < ${TARGET.p50Ms} ms at p50`,
          value: `${(r.api.p50Ms - r.endpoint.p50Ms).toFixed(3)} ms`,
          met: r.api.p50Ms - r.endpoint.p50Ms < TARGET.p50Ms,
        },
        {
          name: `batch ${r.batch}, ${r.load}: API adds < ${TARGET.p99Ms} ms at p99`,
          value: `${(r.api.p99Ms - r.endpoint.p99Ms).toFixed(3)} ms`,
          met: r.api.p99Ms - r.endpoint.p99Ms < TARGET.p99Ms,
        },
      ]);
    const errors = runs.reduce((n, r) => n + r.api.errors + r.endpoint.errors, 0);
    targets.push({ name: 'no failed request', value: String(errors), met: errors === 0 });
    return {
      codec,
      runs,
      seconds: (performance.now() - t0) / 1000,
      rounds,
      roundSeconds: seconds,
      distinctBatches: distinct,
      pinned: server.pinned,
      targets,
    };
  } finally {
    child.stdin!.end();
    await new Promise((r) => child.once('exit', r));
  }
}

export function printInferenceBench(r: InferenceBenchResult): void {
  const f = (n: number, d = 2) => n.toFixed(d);
  const lines = [
    'Inference API (POST /v1/predict through the local API vs the same records to the local endpoint directly):',
    `  core, per record: validate ${f(r.codec.validateNs, 0)} ns, encode ${f(r.codec.encodeNs, 0)} ns, both in one pass (the Lambda) ${f(r.codec.checkAndEncodeNs, 0)} ns, decode ${f(r.codec.decodeNs, 0)} ns (${CODEC_RECORDS.toLocaleString('en-US')} records in batches of 100)`,
    '  batch  load        path       p50 ms  p99 ms    req/s   records/s  server CPU ms/req  errors',
  ];
  for (const run of r.runs) {
    for (const [name, x] of [
      ['API', run.api],
      ['endpoint', run.endpoint],
    ] as const)
      lines.push(
        `  ${String(run.batch).padStart(5)}  ${run.load.padEnd(10)}  ${name.padEnd(9)} ${f(x.p50Ms, 3).padStart(7)} ${f(x.p99Ms, 3).padStart(7)} ${f(x.requestsPerSecond, 0).padStart(8)} ${f(x.recordsPerSecond, 0).padStart(11)} ${f(x.serverCpuMs, 3).padStart(18)} ${String(x.errors).padStart(7)}`,
      );
    lines.push(
      `  ${' '.repeat(5)}  ${' '.repeat(10)}  API adds  ${f(run.api.p50Ms - run.endpoint.p50Ms, 3).padStart(6)} ${f(run.api.p99Ms - run.endpoint.p99Ms, 3).padStart(7)} ${' '.repeat(30)}${f(run.api.serverCpuMs - run.endpoint.serverCpuMs, 3).padStart(8)}`,
    );
  }
  lines.push(
    `  sequential = 1 connection; fixed-rate = ${FIXED_RATE} requests/s evenly spaced, over up to ${CONNECTIONS} connections; max = as fast as ${CONNECTIONS} connections go.`,
    `  each figure: the median of ${r.rounds} rounds of ${r.roundSeconds} s per path (API and endpoint alternating).`,
    `  requests cycle through ${r.distinctBatches} different batches of records, the same on both paths.`,
    r.pinned
      ? '  the serving process: its event loop on CPU 1; its other threads (GC, compiler, I/O pool) and the load generator on CPU 0.'
      : '  no CPU pinning (BENCH_PIN=0, one CPU, or no taskset): the figures swing with where the scheduler puts the two processes.',
    `  ${r.seconds.toFixed(0)} s in all; load average at the end ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores.`,
  );
  for (const t of r.targets) lines.push(`  ${t.met ? 'met ' : 'MISS'} ${t.name}: ${t.value}`);
  console.log(lines.join('\n'));
}

/** The serving child: a platform with a deployed model, until stdin closes. */
async function serve(): Promise<void> {
  const project = readProjectConfig();
  const config = demoConfig(project as unknown as Record<string, unknown>);
  config.inference = {
    ...(config.inference as object),
    // The bench measures the API, not the stage's throttling (100 requests/s by default)...
    throttlingRateLimit: 10_000,
    throttlingBurstLimit: 5_000,
    // ...and with the deployed setting, not the demo's check of current.json on every request.
    specRefreshSeconds: project.inference.specRefreshSeconds,
  };
  const platform = await LocalPlatform.start({ directory: DIRECTORY, fresh: true, config });
  const { names } = platform;
  await platform.s3.send(
    new PutObjectCommand({
      Bucket: names.buckets.raw,
      Key: `${names.dataset}/bench.csv`,
      Body: sampleCsv({ rows: 5000, seed: 11 }),
    }),
  );
  await platform.idle();
  const execution = platform.startExecution({ trigger: 'manual', dataset: names.dataset });
  await execution.done;
  await platform.idle();
  if (execution.status !== 'SUCCEEDED')
    throw new Error(`training failed: ${JSON.stringify(execution.record?.cause)}`);
  const deployed = await new DeployedModelCache({
    s3: platform.s3,
    bucket: names.buckets.artifacts,
    refreshSeconds: 0,
  }).current();
  if (!deployed || !platform.apiUrl) throw new Error('nothing deployed, or no API');
  // Training's garbage is collected now rather than during the first measured load.
  (globalThis as { gc?: () => void }).gc?.();
  const served: Served = {
    apiUrl: platform.apiUrl,
    runtimeEndpoint: platform.runtimeEndpoint,
    endpointName: names.endpointName,
    region: names.region,
    credentials: platform.credentials,
    spec: deployed.spec,
    threshold: platform.config.inference.threshold,
  };
  process.stdout.write(`${JSON.stringify(served)}\n`);
  const commands = createInterface({ input: process.stdin });
  commands.on('line', () => {
    const used = process.cpuUsage();
    process.stdout.write(`${(used.user + used.system) / 1000}\n`);
  });
  await new Promise((r) => commands.once('close', r));
  await platform.close();
}

if (require.main === module && process.argv[2] === '--serve') {
  serve().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
