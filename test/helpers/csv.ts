import { readProjectConfig } from '../../lib/config';
import { sampleCsv } from '../../lib/local/sample-data';
import type { DatasetSchema } from '../../lambdas/core/schema';

/** The default dataset schema from cdk.json, the one the deployed Lambda gets. */
export const schema: DatasetSchema = readProjectConfig().dataset;

export const header = schema.fields.map((f) => f.name).join(',');

/** `rows` valid rows of the default schema (from the deterministic sample generator), header first. */
export function validCsv(rows: number, seed = 7): string {
  return sampleCsv({ rows, seed, invalidFraction: 0 });
}

/** A row that is valid except for one cell; the id makes it easy to find in the outputs. */
export function rowWith(id: string, overrides: Record<string, string>): string {
  const base: Record<string, string> = {
    customer_id: id,
    tenure_months: '12',
    plan: 'plus',
    monthly_charges: '49.5',
    total_charges: '594',
    support_calls: '1',
    region: 'north',
    has_partner: 'true',
    avg_session_minutes: '31.2',
    churned: 'false',
  };
  const row = { ...base, ...overrides };
  return schema.fields.map((f) => row[f.name] ?? '').join(',');
}

/** A CSV of `valid` sample rows with the given bad rows inserted at spread-out positions. */
export function mixedCsv(valid: number, badRows: readonly string[], seed = 11): string {
  const lines = validCsv(valid, seed).trimEnd().split('\n');
  const out = [lines[0]];
  const body = lines.slice(1);
  const step = Math.max(1, Math.floor(body.length / (badRows.length + 1)));
  let b = 0;
  body.forEach((line, i) => {
    if (b < badRows.length && i > 0 && i % step === 0) out.push(badRows[b++]);
    out.push(line);
  });
  while (b < badRows.length) out.push(badRows[b++]);
  return `${out.join('\n')}\n`;
}
