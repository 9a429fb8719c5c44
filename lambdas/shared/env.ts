import { parseDatasetSchema, type DatasetSchema } from '../core/schema';

/**
 * Reading a Lambda's environment (its contract with the PipelineStack): every failure names the variable,
 * so a wiring mistake shows up as one clear line in the logs.
 */

export function requiredEnv(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (v === undefined || v === '') throw new Error(`Environment variable ${name} is required`);
  return v;
}

export function numberEnv(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  limits: { min: number; max: number; integer?: boolean },
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < limits.min || n > limits.max || (limits.integer && !Number.isInteger(n)))
    throw new Error(
      `Environment variable ${name} must be ${limits.integer ? 'a whole number' : 'a number'} in ` +
        `[${limits.min}, ${limits.max}], got "${raw}"`,
    );
  return n;
}

/** DATASET_SCHEMAS: a JSON array of dataset schemas, by name. */
export function datasetSchemasEnv(env: NodeJS.ProcessEnv): Map<string, DatasetSchema> {
  let json: unknown;
  try {
    json = JSON.parse(requiredEnv(env, 'DATASET_SCHEMAS'));
  } catch (e) {
    if ((e as Error).message.includes('is required')) throw e;
    throw new Error(`DATASET_SCHEMAS is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(json)) throw new Error('DATASET_SCHEMAS must be a JSON array of dataset schemas');
  const datasets = new Map<string, DatasetSchema>();
  json.forEach((s, i) => {
    const schema = parseDatasetSchema(s, `DATASET_SCHEMAS[${i}]`);
    if (datasets.has(schema.name)) throw new Error(`DATASET_SCHEMAS: dataset "${schema.name}" appears twice`);
    datasets.set(schema.name, schema);
  });
  return datasets;
}
