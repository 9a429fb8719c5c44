import { z } from 'zod';

/**
 * Dataset schema: a subset of Frictionless Table Schema (DESIGN.md section 4).
 * Pure: shared by the CDK config, the Lambdas and the CLI.
 */
export const FIELD_TYPES = ['number', 'integer', 'string', 'boolean'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];
export const PROBLEM_TYPES = ['binary', 'multiclass', 'regression'] as const;
export type ProblemType = (typeof PROBLEM_TYPES)[number];

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DATASET_NAME = /^[a-z0-9][a-z0-9-_]{0,62}$/;

const constraintsZ = z
  .object({
    required: z.boolean().optional(),
    minimum: z.number().finite().optional(),
    maximum: z.number().finite().optional(),
    enum: z.array(z.string()).min(1).optional(),
  })
  .strict();

const fieldZ = z
  .object({
    name: z.string().regex(NAME, 'must be a column name: letters, digits and _, not starting with a digit'),
    type: z.enum(FIELD_TYPES),
    description: z.string().optional(),
    constraints: constraintsZ.optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    const c = f.constraints;
    if (!c) return;
    if ((c.minimum !== undefined || c.maximum !== undefined) && f.type !== 'number' && f.type !== 'integer') {
      ctx.addIssue({
        code: 'custom',
        path: ['constraints'],
        message: `minimum/maximum apply only to number and integer fields, not ${f.type}`,
      });
    }
    if (c.minimum !== undefined && c.maximum !== undefined && c.minimum > c.maximum) {
      ctx.addIssue({
        code: 'custom',
        path: ['constraints', 'minimum'],
        message: `minimum ${c.minimum} is greater than maximum ${c.maximum}`,
      });
    }
    if (c.enum && f.type !== 'string') {
      ctx.addIssue({
        code: 'custom',
        path: ['constraints', 'enum'],
        message: `enum applies only to string fields, not ${f.type}`,
      });
    }
    if (c.enum && new Set(c.enum).size !== c.enum.length) {
      ctx.addIssue({ code: 'custom', path: ['constraints', 'enum'], message: 'enum values must be unique' });
    }
  });

export const datasetSchemaZ = z
  .object({
    name: z
      .string()
      .regex(
        DATASET_NAME,
        'must be lower-case letters, digits, - or _ (it is an S3 prefix), at most 63 characters',
      ),
    target: z.string(),
    problem: z.enum(PROBLEM_TYPES).optional(),
    fields: z.array(fieldZ).min(2, 'needs at least one feature and the target'),
    missingValues: z.array(z.string()).default(['']),
  })
  .strict()
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    s.fields.forEach((f, i) => {
      if (seen.has(f.name))
        ctx.addIssue({
          code: 'custom',
          path: ['fields', i, 'name'],
          message: `duplicate field name "${f.name}"`,
        });
      seen.add(f.name);
    });
    // Curated data spells every boolean true or false, and Prepare reads a cell equal to a missing value as
    // missing: with either spelling among the missing values, valid booleans would silently become missing.
    const clash = s.missingValues.filter((v) => v === 'true' || v === 'false');
    if (clash.length > 0 && s.fields.some((f) => f.type === 'boolean')) {
      ctx.addIssue({
        code: 'custom',
        path: ['missingValues'],
        message: `${clash.join(' and ')} cannot be a missing value in a schema with boolean fields: curated data spells booleans that way`,
      });
    }
    const target = s.fields.find((f) => f.name === s.target);
    if (!target) {
      ctx.addIssue({
        code: 'custom',
        path: ['target'],
        message: `target "${s.target}" is not one of the fields`,
      });
      return;
    }
    if (target.type === 'string' && !target.constraints?.enum) {
      ctx.addIssue({
        code: 'custom',
        path: ['target'],
        message: 'a string target needs an enum of its classes',
      });
    }
    if (s.problem === 'regression' && (target.type === 'boolean' || target.type === 'string')) {
      ctx.addIssue({
        code: 'custom',
        path: ['problem'],
        message: `regression needs a numeric target, "${s.target}" is ${target.type}`,
      });
    }
    if (s.problem === 'binary' && target.type === 'string' && (target.constraints?.enum?.length ?? 0) !== 2) {
      ctx.addIssue({
        code: 'custom',
        path: ['problem'],
        message: 'binary with a string target needs exactly two enum values',
      });
    }
  });

export type FieldConstraints = z.infer<typeof constraintsZ>;
export type FieldSchema = z.infer<typeof fieldZ>;
export type DatasetSchemaInput = z.input<typeof datasetSchemaZ>;
export type DatasetSchema = z.infer<typeof datasetSchemaZ>;

/** A schema or config error whose message names every offending key path. */
export class SchemaError extends Error {
  constructor(
    message: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(message);
    this.name = 'SchemaError';
  }
}

/** Formats a zod path as `fields[1].constraints.minimum`. */
export function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out === '' ? '(root)' : out;
}

/** Parses with a zod schema and throws a SchemaError naming each bad key. */
export function parseWith<T extends z.ZodType>(
  zodType: T,
  value: unknown,
  what: string,
  prefix = '',
): z.infer<T> {
  const r = zodType.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ path: formatPath(prefix, i.path), message: i.message }));
  throw new SchemaError(
    `Invalid ${what}:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`,
    issues,
  );
}

export function parseDatasetSchema(value: unknown, prefix = ''): DatasetSchema {
  return parseWith(datasetSchemaZ, value, 'dataset schema', prefix);
}

/** The problem type, inferred from the target when the schema leaves it out. */
export function problemType(schema: DatasetSchema): ProblemType {
  if (schema.problem) return schema.problem;
  const target = schema.fields.find((f) => f.name === schema.target);
  if (!target || target.type === 'boolean') return 'binary';
  if (target.type === 'string')
    return (target.constraints?.enum?.length ?? 0) === 2 ? 'binary' : 'multiclass';
  return 'regression';
}

/** Model features in schema order: every field but the target and free-text strings (DESIGN.md section 4). */
export function featureFields(schema: DatasetSchema): FieldSchema[] {
  return schema.fields.filter(
    (f) => f.name !== schema.target && (f.type !== 'string' || !!f.constraints?.enum),
  );
}
