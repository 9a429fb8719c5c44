import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';

/**
 * Deterministic sample data for the default "churn" dataset schema in cdk.json.
 *
 * The same options always give byte-identical output (a seeded PRNG, never Math.random), so tests and the demo
 * can generate what they need instead of committing data files.
 */
export interface SampleOptions {
  /** Data rows to produce (the header is extra). */
  readonly rows: number;
  /** @default 1 */
  readonly seed?: number;
  /**
   * 0 gives the reference distribution; 1 the most shifted one (shorter tenure, higher charges, more basic plans,
   * more support calls). Values stay within the schema limits.
   * @default 0
   */
  readonly drift?: number;
  /** Fraction of rows, in [0, 1], made invalid against the schema in one of several ways. @default 0 */
  readonly invalidFraction?: number;
}

export const SAMPLE_COLUMNS = [
  'customer_id',
  'tenure_months',
  'plan',
  'monthly_charges',
  'total_charges',
  'support_calls',
  'region',
  'has_partner',
  'avg_session_minutes',
  'churned',
] as const;

export const SAMPLE_HEADER = SAMPLE_COLUMNS.join(',') + '\n';

/** The ways `invalidFraction` breaks a row; each one maps to a validation error code. */
export const INVALID_KINDS = ['type', 'range', 'enum', 'required', 'columns'] as const;
export type InvalidKind = (typeof INVALID_KINDS)[number];

/** Fraction of cells left missing in each optional column. */
const MISSING_RATE = 0.02;
const PLANS = ['basic', 'plus', 'pro'] as const;
const REGIONS = ['north', 'south', 'east', 'west'] as const;
const REGION_CDF = cdf([0.3, 0.25, 0.25, 0.2]);
const MAX_TENURE = 240;

/** sfc32: small, fast and passes PractRand far beyond what sample data needs. Returns floats in [0, 1). */
export function prng(seed: number): () => number {
  // splitmix32 spreads nearby seeds (1, 2, 3...) into unrelated states.
  let s = seed >>> 0;
  const split = (): number => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

function cdf(weights: number[]): number[] {
  const total = weights.reduce((x, y) => x + y, 0);
  let acc = 0;
  return weights.map((w) => (acc += w / total));
}

function pick(cum: readonly number[], u: number): number {
  for (let i = 0; i < cum.length - 1; i++) if (u < cum[i]) return i;
  return cum.length - 1;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

const ID_CHARS = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
const ID_BYTES = ascii(ID_CHARS);
const PLAN_BYTES = PLANS.map(ascii);
const REGION_BYTES = REGIONS.map(ascii);
const TRUE = ascii('true');
const FALSE = ascii('false');
const NA = ascii('NA');
const COMMA = 0x2c;
const NEWLINE = 0x0a;
/** Far more than the longest row the generator writes (about 100 bytes). */
const MAX_ROW_BYTES = 512;

function writeBytes(buf: Buffer, off: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) buf[off++] = bytes[i];
  return off;
}

function writeUint(buf: Buffer, off: number, n: number): number {
  if (n < 10) {
    buf[off] = 0x30 + n;
    return off + 1;
  }
  let digits = 0;
  for (let x = n; x >= 1; x = Math.floor(x / 10)) digits++;
  for (let i = off + digits - 1; i >= off; i--) {
    const q = Math.floor(n / 10);
    buf[i] = 0x30 + (n - q * 10);
    n = q;
  }
  return off + digits;
}

/** A non-negative amount in cents as "12.34". */
function writeCents(buf: Buffer, off: number, cents: number): number {
  const whole = Math.floor(cents / 100);
  const frac = cents - whole * 100;
  off = writeUint(buf, off, whole);
  buf[off++] = 0x2e; // .
  const tens = Math.floor(frac / 10);
  buf[off++] = 0x30 + tens;
  buf[off++] = 0x30 + (frac - tens * 10);
  return off;
}

function writeMissing(buf: Buffer, off: number, kind: number): number {
  return kind === 1 ? off : writeBytes(buf, off, NA);
}

function centsString(cents: number): string {
  const whole = Math.floor(cents / 100);
  const frac = cents - whole * 100;
  return `${whole}.${frac < 10 ? '0' : ''}${frac}`;
}

function idString(bits: number, index: number): string {
  let id = 'C';
  for (let shift = 0; shift < 20; shift += 5) id += ID_CHARS[(bits >>> shift) & 31];
  return `${id}-${index + 1}`;
}

class RowGenerator {
  private readonly rnd: () => number;
  /** A separate stream, so that the valid rows are the same whatever invalidFraction is. */
  private readonly bad: () => number;
  private readonly drift: number;
  private readonly invalidFraction: number;
  private readonly planCdf: number[];
  private spare: number | undefined;

  constructor(seed: number, drift: number, invalidFraction: number) {
    this.rnd = prng(seed);
    this.bad = prng(seed ^ 0x5bd1e995);
    this.drift = drift;
    this.invalidFraction = invalidFraction;
    this.planCdf = cdf([0.5 + 0.25 * drift, 0.3 - 0.1 * drift, 0.2 - 0.15 * drift]);
  }

  private normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    // Box-Muller; 1 - u keeps log away from 0.
    const u = 1 - this.rnd();
    const v = this.rnd();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  private poisson(lambda: number): number {
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = this.rnd();
    while (p > limit) {
      k++;
      p *= this.rnd();
    }
    return k;
  }

  /** A missing-value decision for an optional cell: 0 keeps the value, 1 writes "", 2 writes "NA". */
  private missing(): number {
    const u = this.rnd();
    if (u >= MISSING_RATE) return 0;
    return u < MISSING_RATE / 2 ? 1 : 2;
  }

  /**
   * Writes row `index` (0-based) into `buf` at `off` and returns the new offset. Bytes are written directly:
   * building a string per row, then copying it, takes about three times as long. `buf` needs room for
   * MAX_ROW_BYTES.
   */
  writeRow(index: number, buf: Buffer, off: number): number {
    const d = this.drift;
    const idBits = (this.rnd() * 1048576) | 0;

    // Tenure is right-skewed: many new customers, a long tail of loyal ones.
    const tenureMean = 32 * (1 - 0.5 * d);
    const tenure = Math.min(MAX_TENURE, Math.floor(-Math.log(1 - this.rnd()) * tenureMean));
    const plan = pick(this.planCdf, this.rnd());
    const planBase = plan === 0 ? 25 : plan === 1 ? 55 : 95;
    const planSd = plan === 0 ? 5 : plan === 1 ? 8 : 12;
    const monthly = Math.round(clamp((planBase + planSd * this.normal()) * (1 + 0.5 * d), 5, 500) * 100);
    const total = tenure === 0 ? 0 : Math.round(Math.max(0, tenure * monthly * (1 + 0.05 * this.normal())));
    const support = Math.min(1000, this.poisson(1.2 + 2 * d + (tenure < 6 ? 0.8 : 0)));
    const region = pick(REGION_CDF, this.rnd());
    const partner = this.rnd() < 0.45;
    const session = Math.round(clamp(Math.exp(Math.log(20) + 0.5 * this.normal()), 0.5, 600) * 100);

    // The label has real signal: a logistic function of the features, about 25% positive with no drift.
    const logit =
      -0.5 -
      0.045 * tenure +
      0.42 * support +
      (plan === 0 ? 0.35 : plan === 2 ? -0.45 : 0) +
      0.012 * (monthly / 100 - 50) -
      0.55 * (partner ? 1 : 0) -
      0.015 * (session / 100 - 20);
    const churned = this.rnd() < 1 / (1 + Math.exp(-logit));

    const mTotal = this.missing();
    const mSupport = this.missing();
    const mRegion = this.missing();
    const mPartner = this.missing();
    const mSession = this.missing();

    if (this.invalidFraction > 0 && this.bad() < this.invalidFraction) {
      const cell = (m: number, value: string): string => (m === 0 ? value : m === 1 ? '' : 'NA');
      const line = this.corrupt([
        idString(idBits, index),
        String(tenure),
        PLANS[plan],
        centsString(monthly),
        cell(mTotal, centsString(total)),
        cell(mSupport, String(support)),
        cell(mRegion, REGIONS[region]),
        cell(mPartner, partner ? 'true' : 'false'),
        cell(mSession, centsString(session)),
        churned ? 'true' : 'false',
      ]);
      return off + buf.write(line, off, 'latin1');
    }

    buf[off++] = 0x43; // C
    for (let shift = 0; shift < 20; shift += 5) buf[off++] = ID_BYTES[(idBits >>> shift) & 31];
    buf[off++] = 0x2d; // -
    off = writeUint(buf, off, index + 1);
    buf[off++] = COMMA;
    off = writeUint(buf, off, tenure);
    buf[off++] = COMMA;
    off = writeBytes(buf, off, PLAN_BYTES[plan]);
    buf[off++] = COMMA;
    off = writeCents(buf, off, monthly);
    buf[off++] = COMMA;
    off = mTotal === 0 ? writeCents(buf, off, total) : writeMissing(buf, off, mTotal);
    buf[off++] = COMMA;
    off = mSupport === 0 ? writeUint(buf, off, support) : writeMissing(buf, off, mSupport);
    buf[off++] = COMMA;
    off = mRegion === 0 ? writeBytes(buf, off, REGION_BYTES[region]) : writeMissing(buf, off, mRegion);
    buf[off++] = COMMA;
    off = mPartner === 0 ? writeBytes(buf, off, partner ? TRUE : FALSE) : writeMissing(buf, off, mPartner);
    buf[off++] = COMMA;
    off = mSession === 0 ? writeCents(buf, off, session) : writeMissing(buf, off, mSession);
    buf[off++] = COMMA;
    off = writeBytes(buf, off, churned ? TRUE : FALSE);
    buf[off++] = NEWLINE;
    return off;
  }

  private corrupt(cells: string[]): string {
    const kind = INVALID_KINDS[(this.bad() * INVALID_KINDS.length) | 0];
    const v = this.bad();
    switch (kind) {
      case 'type':
        if (v < 0.34) cells[1] = 'twelve';
        else if (v < 0.67) cells[3] = cells[3] + 'x';
        else cells[9] = 'maybe';
        break;
      case 'range':
        if (v < 0.5) cells[1] = String(601 + ((this.bad() * 400) | 0));
        else cells[3] = '-' + cells[3];
        break;
      case 'enum':
        cells[2] = v < 0.5 ? 'gold' : 'Basic';
        break;
      case 'required':
        if (v < 0.5) cells[1] = '';
        else cells[9] = 'NA';
        break;
      case 'columns':
        if (v < 0.5) cells.pop();
        else cells.push('extra');
        break;
    }
    return cells.join(',') + '\n';
  }
}

function check(opts: SampleOptions): { rows: number; seed: number; drift: number; invalidFraction: number } {
  const rows = opts.rows;
  if (!Number.isSafeInteger(rows) || rows < 0)
    throw new RangeError(`rows must be a whole number >= 0, got ${rows}`);
  const seed = opts.seed ?? 1;
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  const drift = opts.drift ?? 0;
  if (!(drift >= 0 && drift <= 1)) throw new RangeError(`drift must be between 0 and 1, got ${drift}`);
  const invalidFraction = opts.invalidFraction ?? 0;
  if (!(invalidFraction >= 0 && invalidFraction <= 1))
    throw new RangeError(`invalidFraction must be between 0 and 1, got ${invalidFraction}`);
  return { rows, seed, drift, invalidFraction };
}

/** CSV lines, each ending in '\n', the header first. */
export function* sampleRows(opts: SampleOptions): Generator<string> {
  const o = check(opts);
  const gen = new RowGenerator(o.seed, o.drift, o.invalidFraction);
  const buf = Buffer.allocUnsafe(MAX_ROW_BYTES);
  yield SAMPLE_HEADER;
  for (let i = 0; i < o.rows; i++) yield buf.toString('latin1', 0, gen.writeRow(i, buf, 0));
}

/**
 * The CSV as byte chunks of about `chunkBytes`, so that a stream writes a few big chunks instead of millions of
 * small ones. Each chunk is a fresh buffer the consumer may keep.
 */
export function* sampleChunks(opts: SampleOptions, chunkBytes = 1 << 20): Generator<Buffer> {
  const o = check(opts);
  const gen = new RowGenerator(o.seed, o.drift, o.invalidFraction);
  let buf = Buffer.allocUnsafe(chunkBytes + MAX_ROW_BYTES);
  let off = buf.write(SAMPLE_HEADER, 0, 'latin1');
  for (let i = 0; i < o.rows; i++) {
    off = gen.writeRow(i, buf, off);
    if (off >= chunkBytes) {
      yield buf.subarray(0, off);
      buf = Buffer.allocUnsafe(chunkBytes + MAX_ROW_BYTES);
      off = 0;
    }
  }
  if (off > 0) yield buf.subarray(0, off);
}

/** The whole CSV as one string: for small tests. */
export function sampleCsv(opts: SampleOptions): string {
  let out = '';
  for (const line of sampleRows(opts)) out += line;
  return out;
}

/**
 * Streams the sample CSV to `file` with backpressure, gzipped when the name ends in `.gz`.
 * @returns data rows written and bytes of uncompressed CSV.
 */
export async function writeSampleCsv(
  file: string,
  opts: SampleOptions & { readonly onProgress?: (uncompressedBytes: number) => void },
): Promise<{ rows: number; bytes: number }> {
  const o = check(opts);
  let bytes = 0;
  const onProgress = opts.onProgress;
  const counted = function* (): Generator<Buffer> {
    for (const chunk of sampleChunks(o)) {
      bytes += chunk.length;
      onProgress?.(bytes);
      yield chunk;
    }
  };
  const source = Readable.from(counted(), { objectMode: true, highWaterMark: 4 });
  const out = fs.createWriteStream(file);
  // Level 1: twice the speed of the default for about 15% more bytes, the right trade for throwaway sample data.
  if (file.endsWith('.gz')) await pipeline(source, zlib.createGzip({ level: 1 }), out);
  else await pipeline(source, out);
  return { rows: o.rows, bytes };
}
