import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { DatasetSchema, FieldSchema } from '../../lambdas/core/schema';
import { FileValidator } from '../../lambdas/core/validate';
import { readProjectConfig } from '../../lib/config';
import {
  prng,
  SAMPLE_COLUMNS,
  sampleChunks,
  sampleCsv,
  sampleRows,
  writeSampleCsv,
} from '../../lib/local/sample-data';

const schema: DatasetSchema = readProjectConfig().dataset;

/**
 * An independent, deliberately simple check of one cell against the schema (the generator has no quoting,
 * so splitting on commas is exact). Returns the problem, or undefined when the cell is valid.
 */
function cellProblem(field: FieldSchema, cell: string): string | undefined {
  const c = field.constraints ?? {};
  if (schema.missingValues.includes(cell)) return c.required ? 'required' : undefined;
  switch (field.type) {
    case 'integer':
    case 'number': {
      const re = field.type === 'integer' ? /^-?\d+$/ : /^-?\d+(\.\d+)?$/;
      if (!re.test(cell)) return 'type';
      const n = Number(cell);
      if (c.minimum !== undefined && n < c.minimum) return 'minimum';
      if (c.maximum !== undefined && n > c.maximum) return 'maximum';
      return undefined;
    }
    case 'boolean':
      return ['true', 'false', '1', '0'].includes(cell) ? undefined : 'type';
    case 'string':
      return c.enum && !c.enum.includes(cell) ? 'enum' : undefined;
  }
}

function rowProblems(line: string): string[] {
  const cells = line.replace(/\n$/, '').split(',');
  if (cells.length !== schema.fields.length) return ['columns'];
  return schema.fields.flatMap((f, i) => cellProblem(f, cells[i]) ?? []);
}

interface Parsed {
  tenure: number;
  plan: string;
  monthly: number;
  total: number | undefined;
  support: number | undefined;
  churned: boolean;
}

function parse(csv: string): Parsed[] {
  return csv
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((l) => {
      const c = l.split(',');
      const num = (s: string): number | undefined => (s === '' || s === 'NA' ? undefined : Number(s));
      return {
        tenure: Number(c[1]),
        plan: c[2],
        monthly: Number(c[3]),
        total: num(c[4]),
        support: num(c[5]),
        churned: c[9] === 'true',
      };
    });
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('prng', () => {
  it('is deterministic per seed, differs between seeds and stays in [0, 1)', () => {
    const a = prng(42);
    const b = prng(42);
    const c = prng(43);
    const xa = Array.from({ length: 1000 }, a);
    expect(Array.from({ length: 1000 }, b)).toEqual(xa);
    expect(Array.from({ length: 1000 }, c)).not.toEqual(xa);
    expect(Math.min(...xa)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xa)).toBeLessThan(1);
    // roughly uniform: mean near 0.5, every decile used
    expect(Math.abs(mean(xa) - 0.5)).toBeLessThan(0.03);
    expect(new Set(xa.map((x) => Math.floor(x * 10))).size).toBe(10);
  });
});

describe('sample data', () => {
  it('has the schema header, in schema order', () => {
    const first = sampleRows({ rows: 0 }).next().value as string;
    expect(first).toBe(schema.fields.map((f) => f.name).join(',') + '\n');
    expect([...SAMPLE_COLUMNS]).toEqual(schema.fields.map((f) => f.name));
    expect(sampleCsv({ rows: 0 })).toBe(first);
  });

  it('is byte-identical for the same options and differs for another seed or drift', () => {
    const a = sampleCsv({ rows: 2000, seed: 7 });
    expect(sampleCsv({ rows: 2000, seed: 7 })).toBe(a);
    expect(sampleCsv({ rows: 2000, seed: 8 })).not.toBe(a);
    expect(sampleCsv({ rows: 2000, seed: 7, drift: 0.5 })).not.toBe(a);
    // the default seed is fixed too
    expect(sampleCsv({ rows: 100 })).toBe(sampleCsv({ rows: 100, seed: 1 }));
    // the chunked form, used for files, holds the same bytes
    expect(Buffer.concat([...sampleChunks({ rows: 2000, seed: 7 }, 4096)]).toString('latin1')).toBe(a);
  });

  it('produces only rows valid against the default schema, with about 2% missing optional cells', () => {
    const lines = [...sampleRows({ rows: 20000, seed: 3, drift: 0 })].slice(1);
    const drifted = [...sampleRows({ rows: 20000, seed: 3, drift: 1 })].slice(1);
    expect(lines).toHaveLength(20000);
    const invalid = [...lines, ...drifted].filter((l) => rowProblems(l).length > 0);
    expect(invalid).toEqual([]);

    const optional = schema.fields.map((f, i) => [f, i] as const).filter(([f]) => !f.constraints?.required);
    expect(optional.length).toBe(5);
    let missing = 0;
    let na = 0;
    for (const line of lines) {
      const cells = line.trimEnd().split(',');
      for (const [, i] of optional) {
        if (cells[i] === '' || cells[i] === 'NA') missing++;
        if (cells[i] === 'NA') na++;
      }
    }
    const rate = missing / (lines.length * optional.length);
    expect(rate).toBeGreaterThan(0.015);
    expect(rate).toBeLessThan(0.025);
    // both spellings of missing are used
    expect(na / missing).toBeGreaterThan(0.3);
    expect(na / missing).toBeLessThan(0.7);
  });

  it('has realistic distributions: skewed tenure, charges by plan, total close to tenure x monthly', () => {
    const rows = parse(sampleCsv({ rows: 20000, seed: 5 }));
    const tenures = rows.map((r) => r.tenure).sort((a, b) => a - b);
    // right-skewed: the mean is well above the median
    expect(mean(tenures)).toBeGreaterThan(tenures[tenures.length >> 1] * 1.2);
    const byPlan = (p: string): number => mean(rows.filter((r) => r.plan === p).map((r) => r.monthly));
    expect(byPlan('basic')).toBeLessThan(byPlan('plus'));
    expect(byPlan('plus')).toBeLessThan(byPlan('pro'));
    const ratios = rows
      .filter((r) => r.total !== undefined && r.tenure > 0)
      .map((r) => r.total! / (r.tenure * r.monthly));
    expect(mean(ratios)).toBeGreaterThan(0.97);
    expect(mean(ratios)).toBeLessThan(1.03);
    expect(new Set(rows.map((r) => r.plan))).toEqual(new Set(['basic', 'plus', 'pro']));
  });

  it('has a label with real signal and a base rate near 25%', () => {
    const rows = parse(sampleCsv({ rows: 20000, seed: 11 }));
    const rate = (rs: Parsed[]): number => rs.filter((r) => r.churned).length / rs.length;
    expect(rate(rows)).toBeGreaterThan(0.2);
    expect(rate(rows)).toBeLessThan(0.3);
    const newCustomers = rate(rows.filter((r) => r.tenure < 12));
    const loyal = rate(rows.filter((r) => r.tenure > 48));
    expect(newCustomers).toBeGreaterThan(0.3);
    expect(loyal).toBeLessThan(0.1);
    const manyCalls = rate(rows.filter((r) => (r.support ?? 0) >= 4));
    const noCalls = rate(rows.filter((r) => r.support === 0));
    expect(manyCalls - noCalls).toBeGreaterThan(0.15);
  });

  it('drift shifts the distributions within the schema limits', () => {
    const base = parse(sampleCsv({ rows: 20000, seed: 9, drift: 0 }));
    const shifted = parse(sampleCsv({ rows: 20000, seed: 9, drift: 1 }));
    const m = (rs: Parsed[], f: (r: Parsed) => number): number => mean(rs.map(f));
    expect(m(shifted, (r) => r.tenure)).toBeLessThan(0.7 * m(base, (r) => r.tenure));
    expect(m(shifted, (r) => r.monthly)).toBeGreaterThan(1.05 * m(base, (r) => r.monthly));
    expect(m(shifted, (r) => r.support ?? 0)).toBeGreaterThan(1.5 * m(base, (r) => r.support ?? 0));
    expect(m(shifted, (r) => +(r.plan === 'basic'))).toBeGreaterThan(
      m(base, (r) => +(r.plan === 'basic')) + 0.15,
    );
    // half the drift lies in between
    const half = parse(sampleCsv({ rows: 20000, seed: 9, drift: 0.5 }));
    const t = m(half, (r) => r.tenure);
    expect(t).toBeLessThan(m(base, (r) => r.tenure));
    expect(t).toBeGreaterThan(m(shifted, (r) => r.tenure));
  });

  it('invalidFraction injects that share of invalid rows, of every kind, deterministically', () => {
    for (const fraction of [0.01, 0.1, 0.5]) {
      const lines = [...sampleRows({ rows: 20000, seed: 4, invalidFraction: fraction })].slice(1);
      const bad = lines.filter((l) => rowProblems(l).length > 0);
      expect(bad.length / lines.length).toBeGreaterThan(fraction * 0.85);
      expect(bad.length / lines.length).toBeLessThan(fraction * 1.15);
    }
    const lines = [...sampleRows({ rows: 20000, seed: 4, invalidFraction: 0.1 })].slice(1);
    const kinds = new Set(lines.flatMap(rowProblems));
    expect(kinds).toEqual(new Set(['columns', 'type', 'minimum', 'maximum', 'enum', 'required']));
    expect(sampleCsv({ rows: 3000, seed: 4, invalidFraction: 0.1 })).toBe(
      sampleCsv({ rows: 3000, seed: 4, invalidFraction: 0.1 }),
    );
    // The valid rows do not depend on the fraction: corrupting draws from its own stream.
    const clean = [...sampleRows({ rows: 3000, seed: 4 })];
    const dirty = [...sampleRows({ rows: 3000, seed: 4, invalidFraction: 0.1 })];
    const same = dirty.filter((l, i) => l === clean[i]).length;
    expect(same).toBeGreaterThan(3001 * 0.85);
    const allBad = [...sampleRows({ rows: 1000, seed: 4, invalidFraction: 1 })].slice(1);
    expect(allBad.filter((l) => rowProblems(l).length === 0)).toEqual([]);
  });

  it('agrees with the validation core on which rows are invalid', () => {
    const csv = sampleCsv({ rows: 10000, seed: 6, drift: 0.7, invalidFraction: 0.04 });
    const expectedInvalid = csv
      .split('\n')
      .slice(1, -1)
      .filter((l) => rowProblems(l).length > 0).length;
    expect(expectedInvalid).toBeGreaterThan(300);
    let valid = 0;
    let invalid = 0;
    const validator = new FileValidator(
      schema,
      { maxInvalidRowFraction: 0.05, maxLineBytes: 1 << 20 },
      { valid: () => valid++, invalid: () => invalid++ },
    );
    const bytes = Buffer.from(csv, 'latin1');
    // odd chunk sizes, so rows straddle chunks
    for (let i = 0; i < bytes.length; i += 65521) validator.push(bytes.subarray(i, i + 65521));
    const report = validator.end();
    expect(report.status).toBe('accepted');
    expect(report.rows).toEqual({ total: 10000, valid: 10000 - expectedInvalid, invalid: expectedInvalid });
    expect([valid, invalid]).toEqual([10000 - expectedInvalid, expectedInvalid]);
    expect(Object.keys(report.errorCounts).sort()).toEqual(
      ['columns', 'enum', 'maximum', 'minimum', 'required', 'type'].sort(),
    );
  });

  it('rejects options out of range', () => {
    expect(() => sampleCsv({ rows: -1 })).toThrow(/rows/);
    expect(() => sampleCsv({ rows: 1.5 })).toThrow(/rows/);
    expect(() => sampleCsv({ rows: 1, drift: 1.5 })).toThrow(/drift/);
    expect(() => sampleCsv({ rows: 1, invalidFraction: -0.1 })).toThrow(/invalidFraction/);
    expect(() => sampleCsv({ rows: 1, seed: 0.5 })).toThrow(/seed/);
  });

  describe('writeSampleCsv', () => {
    let dir: string;
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmlops-sample-'));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('writes the same bytes as sampleCsv and reports rows and bytes', async () => {
      const file = path.join(dir, 'a.csv');
      const r = await writeSampleCsv(file, { rows: 30000, seed: 2, drift: 0.3, invalidFraction: 0.05 });
      const expected = sampleCsv({ rows: 30000, seed: 2, drift: 0.3, invalidFraction: 0.05 });
      expect(r).toEqual({ rows: 30000, bytes: expected.length });
      expect(fs.readFileSync(file, 'latin1')).toBe(expected);
    });

    it('gzips a .gz file', async () => {
      const file = path.join(dir, 'a.csv.gz');
      const r = await writeSampleCsv(file, { rows: 5000, seed: 2 });
      const raw = fs.readFileSync(file);
      expect([raw[0], raw[1]]).toEqual([0x1f, 0x8b]);
      expect(raw.length).toBeLessThan(r.bytes / 2);
      expect(gunzipSync(raw).toString('latin1')).toBe(sampleCsv({ rows: 5000, seed: 2 }));
    });
  });
});
