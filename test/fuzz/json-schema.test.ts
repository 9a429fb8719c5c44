import fc from 'fast-check';
import {
  fullSchemaCheck,
  quickSchemaCheck,
  validateJsonSchema,
  type JsonSchema,
} from '../../lib/local/api-gateway';
import { predictRequestSchema } from '../../lib/constructs/inference-api';
import { readProjectConfig } from '../../lib/config';
import { trafficRecords } from '../../lib/local/loop';
import { TEST_SEED } from './run';

/**
 * The local API Gateway's quick request-model check (a yes/no for the keywords request models use) against its
 * full check (java json-schema-validator's messages): the same answer for every schema the quick check takes.
 */

const TYPES = ['null', 'array', 'integer', 'number', 'string', 'boolean', 'object'] as const;
const names = fc.constantFrom('a', 'b', 'ab', 'toString', '__proto__', 'x y', 'é');

/** Schemas made of the keywords the quick check takes, nested up to `depth` levels. */
function schemaAt(depth: number): fc.Arbitrary<JsonSchema> {
  // Type-only schemas at every level: the quick check takes those without a call.
  const leaf = fc.oneof(
    fc.constantFrom({}, { title: 't' }),
    fc.constantFrom(...TYPES).map((type) => ({ type })),
    fc.uniqueArray(fc.constantFrom(...TYPES), { minLength: 1, maxLength: 3 }).map((type) => ({ type })),
  );
  const sub = depth > 0 ? fc.oneof(leaf, schemaAt(depth - 1)) : leaf;
  return fc
    .record(
      {
        type: fc.oneof(
          fc.constantFrom(...TYPES),
          fc.uniqueArray(fc.constantFrom(...TYPES), { minLength: 1 }),
        ),
        properties: fc.dictionary(names, sub, { maxKeys: 3 }),
        additionalProperties: fc.oneof(fc.boolean(), sub),
        required: fc.uniqueArray(names, { maxLength: 2 }),
        items: sub,
        minItems: fc.nat(3),
        maxItems: fc.nat(4),
        title: fc.constant('T'),
      },
      { requiredKeys: [] },
    )
    .map((s) => s as JsonSchema);
}
const schemaArb = schemaAt(3);

/** JSON values with the schemas' property names; objects made as JSON.parse makes them. */
const valueArb: fc.Arbitrary<unknown> = fc
  .letrec<{ v: unknown }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.integer({ min: -5, max: 5 }),
      fc.constantFrom(1.5, -0, 1e21, 2.0, -1e-7),
      fc.string({ maxLength: 3 }),
      fc.array(tie('v'), { maxLength: 5, depthIdentifier: 'v' }),
      fc.dictionary(names, tie('v'), { maxKeys: 4, depthIdentifier: 'v' }),
    ),
  }))
  .v.map((v) => JSON.parse(JSON.stringify(v)) as unknown);

const IMPOSSIBLE = Symbol('impossible');

/** A value the schema accepts (so that the yes side is exercised as much as the no side). */
function conforming(g: fc.GeneratorValue, schema: JsonSchema, depth = 0): unknown {
  const s = schema as {
    type?: string | string[];
    properties?: Record<string, JsonSchema>;
    additionalProperties?: boolean | JsonSchema;
    required?: string[];
    items?: JsonSchema;
    minItems?: number;
    maxItems?: number;
  };
  const types = s.type === undefined ? [...TYPES] : Array.isArray(s.type) ? s.type : [s.type];
  if (depth > 6) return IMPOSSIBLE;
  switch (g(fc.constantFrom, ...types)) {
    case 'null':
      return null;
    case 'boolean':
      return g(fc.boolean);
    case 'integer':
      return g(fc.integer);
    case 'number':
      return g(fc.double, { noNaN: true, noDefaultInfinity: true });
    case 'string':
      return g(fc.string, { maxLength: 3 });
    case 'array': {
      const min = s.minItems ?? 0;
      const max = Math.min(s.maxItems ?? min + 3, min + 3);
      if (min > max) return IMPOSSIBLE;
      const out: unknown[] = [];
      for (let n = g(fc.integer, { min, max }); out.length < n;) {
        const v = conforming(g, s.items ?? {}, depth + 1);
        if (v === IMPOSSIBLE) return IMPOSSIBLE;
        out.push(v);
      }
      return out;
    }
    default: {
      const out: Record<string, unknown> = {};
      for (const name of s.required ?? [])
        if (!Object.hasOwn(s.properties ?? {}, name) && s.additionalProperties === false) return IMPOSSIBLE;
      for (const name of new Set([...Object.keys(s.properties ?? {}), ...(s.required ?? [])])) {
        if (!s.required?.includes(name) && g(fc.boolean)) continue;
        const sub =
          s.properties?.[name] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : {});
        const v = conforming(g, sub, depth + 1);
        if (v === IMPOSSIBLE) return IMPOSSIBLE;
        // As JSON.parse makes it: a "__proto__" name is an own property.
        Object.defineProperty(out, name, { value: v, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
  }
}

describe('the quick request-model check', () => {
  it('answers as the full check does, for any value', () => {
    let yes = 0;
    const runs = 6_000;
    fc.assert(
      fc.property(schemaArb, fc.boolean(), valueArb, fc.gen(), (schema, built, arbitrary, g) => {
        const value = built ? conforming(g, schema) : arbitrary;
        if (value === IMPOSSIBLE) return;
        const quick = quickSchemaCheck(schema, value);
        const full = fullSchemaCheck(schema, value);
        expect(quick).toBe(full.length === 0);
        if (quick) yes++;
        expect(validateJsonSchema(schema, value)).toEqual(full);
      }),
      { seed: TEST_SEED, numRuns: runs },
    );
    // Both answers must be common, or the property above proves little.
    expect(yes).toBeGreaterThan(runs * 0.2);
    expect(yes).toBeLessThan(runs * 0.8);
  });

  it('is used for the inference API model and left out for keywords it does not take', () => {
    const { schema: $schema, ...rest } = predictRequestSchema(readProjectConfig().dataset, 100);
    const model = { $schema, ...rest } as JsonSchema;
    const body = JSON.parse(JSON.stringify({ records: trafficRecords(readProjectConfig().dataset, 100, 3) }));
    expect(quickSchemaCheck(model, body)).toBe(true);
    expect(quickSchemaCheck(model, { records: [...body.records, ...body.records] })).toBe(false);
    expect(quickSchemaCheck(model, { records: [{ ...body.records[0], extra: 1 }] })).toBe(false);
    expect(quickSchemaCheck(model, { records: [{ ...body.records[0], plan: {} }] })).toBe(false);
    for (const schema of [
      { type: 'string', pattern: '^a' },
      { properties: { a: { enum: [1] } } },
      { items: [{ type: 'string' }] },
      { type: 'array', uniqueItems: true },
      { anyOf: [{}] },
    ])
      expect(quickSchemaCheck(schema, 'a')).toBeUndefined();
  });
});
