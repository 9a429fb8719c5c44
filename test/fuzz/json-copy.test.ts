import fc from 'fast-check';
import { jsonCopy } from '../../lib/local/lambdas';
import { TEST_SEED } from './run';

/**
 * The local Lambda runtime copies a handler's result as `JSON.parse(JSON.stringify(result))` would, without the
 * round trip for plain values (jsonCopy): whatever the value, its result, or the error it throws, must be JSON's.
 */

type Outcome = { value: unknown } | { error: string; message: string };

function outcome(f: () => unknown): Outcome {
  try {
    return { value: shape(f()) };
  } catch (e) {
    return { error: (e as Error).constructor.name, message: (e as Error).message };
  }
}

/**
 * The value as a tree that tells apart what toEqual would not: -0 from 0, an own `__proto__` property from a
 * prototype, a property that is not a plain writable data property, and any prototype but the plain ones.
 */
function shape(v: unknown): unknown {
  if (typeof v === 'number') return Object.is(v, -0) ? ['-0'] : v;
  if (typeof v !== 'object' || v === null) return v;
  const proto: unknown = Object.getPrototypeOf(v);
  if (Array.isArray(v)) {
    expect(proto).toBe(Array.prototype);
    return ['array', ...Array.from({ length: v.length }, (_, i) => (i in v ? shape(v[i]) : ['hole']))];
  }
  expect(proto).toBe(Object.prototype);
  return [
    'object',
    ...Reflect.ownKeys(v).map((k) => {
      const d = Object.getOwnPropertyDescriptor(v, k)!;
      return [
        String(k),
        d.writable === true && d.enumerable === true && d.configurable === true,
        shape(d.value),
      ];
    }),
  ];
}

function sameAsJson(v: unknown): void {
  expect(outcome(() => jsonCopy(v))).toEqual(outcome(() => JSON.parse(JSON.stringify(v))));
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

/** Leaves JSON treats specially, or that the copy must leave to JSON. */
const awkward: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    undefined,
    null,
    -0,
    0,
    NaN,
    Infinity,
    -Infinity,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    5e-324,
  ),
  fc.constantFrom('\ud800', 'a\udc00b', '\ud83d\ude00', '"\\\n\u0000\u001f\u2028', '__proto__', 'toJSON'),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.double(),
  fc.bigInt(),
  fc.constant(Symbol('s')),
  fc.constant(() => 1),
  fc.date({ noInvalidDate: false }),
  fc.integer().map((n) => new Point(n, -n)),
  fc.jsonValue().map((v) => ({ toJSON: (key: string) => [key, v] })),
  fc.integer().map((n) => Object.assign(Object.create(null) as object, { n })),
  fc.integer().map((n) => new Number(n)),
  fc.string().map((s) => new String(s)),
  fc.constant(new Map([[1, 2]])),
  fc.constant(Buffer.from('ab')),
  fc.constant(new Uint8Array([1, 2])),
  fc.constant(Object.freeze({ frozen: true })),
  fc.constant(JSON.parse('{"__proto__": {"x": 1}, "y": 2}') as unknown),
);

const keys = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.constantFrom('__proto__', 'toJSON', 'constructor', '0', '10', '-1', 'length'),
);

const mostlyPlain = fc.anything({
  key: keys,
  maxDepth: 4,
  values: [
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.string({ unit: 'binary' }),
    fc.constant(null),
    awkward,
  ],
});

const arbitraryValue = fc.anything({
  key: keys,
  maxDepth: 4,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  stringUnit: 'binary',
});

it('copies JSON values as JSON would', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => sameAsJson(v)),
    { seed: TEST_SEED, numRuns: 1000 },
  );
});

it('copies values holding what JSON drops, converts or refuses as JSON would', () => {
  fc.assert(
    fc.property(mostlyPlain, (v) => sameAsJson(v)),
    { seed: TEST_SEED, numRuns: 2000 },
  );
  fc.assert(
    fc.property(arbitraryValue, (v) => sameAsJson(v)),
    { seed: TEST_SEED, numRuns: 2000 },
  );
});

it('copies plain values into new objects, sharing nothing with them', () => {
  fc.assert(
    fc.property(
      fc.jsonValue().filter((v) => typeof v === 'object' && v !== null),
      (v) => {
        const copy = jsonCopy(v);
        const seen = new Set<unknown>();
        const collect = (x: unknown): void => {
          if (typeof x === 'object' && x !== null) {
            seen.add(x);
            for (const c of Object.values(x)) collect(c);
          }
        };
        collect(v);
        const check = (x: unknown): void => {
          if (typeof x === 'object' && x !== null) {
            expect(seen.has(x)).toBe(false);
            for (const c of Object.values(x)) check(c);
          }
        };
        check(copy);
      },
    ),
    { seed: TEST_SEED, numRuns: 500 },
  );
});

it('throws what JSON throws for cycles, BigInts and a top-level undefined, symbol or function', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const deep: unknown[] = [];
  deep.push({ list: [1, { back: deep }] });
  for (const v of [cyclic, deep, { n: 1n }, [1n], undefined, Symbol('s'), () => 1]) sameAsJson(v);
  expect(() => jsonCopy(cyclic)).toThrow(TypeError);
  expect(() => jsonCopy(undefined)).toThrow(SyntaxError);
});

it('drops undefined, symbols and functions where JSON does', () => {
  const v = { a: undefined, b: Symbol('b'), c: [undefined, Symbol('c'), NaN, -0, Infinity], d: -0 };
  expect(jsonCopy(v)).toEqual({ c: [null, null, null, 0, null], d: 0 });
  expect(Object.is((jsonCopy(v) as { d: number }).d, 0)).toBe(true);
  sameAsJson(v);
  sameAsJson({ f: () => 1, g: [() => 2] });
});

it('keeps an own __proto__ key a property, as JSON.parse does', () => {
  const v = JSON.parse('{"__proto__": {"polluted": true}, "a": [{"__proto__": 1}]}') as unknown;
  const copy = jsonCopy(v) as Record<string, unknown>;
  expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
  expect(Object.prototype.hasOwnProperty.call(copy, '__proto__')).toBe(true);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  sameAsJson(v);
});

it('calls toJSON with its key and reads getters once, as JSON does', () => {
  const keysSeen: string[] = [];
  const withToJson = {
    a: { toJSON: (k: string) => (keysSeen.push(k), 'A') },
    b: [{ toJSON: (k: string) => k }],
  };
  sameAsJson(withToJson);
  expect(jsonCopy(withToJson)).toEqual({ a: 'A', b: ['0'] });

  const withGetter = () => {
    let reads = 0;
    return {
      get g() {
        reads++;
        return { n: reads };
      },
      h: [1, 2],
    };
  };
  const copy = jsonCopy(withGetter());
  expect(copy).toEqual(JSON.parse(JSON.stringify(withGetter())));
  expect(copy).toEqual({ g: { n: 1 }, h: [1, 2] });
});

it('copies deep and long values, leaving the deepest and longest to JSON', () => {
  let deep: unknown = 'leaf';
  for (let i = 0; i < 200; i++) deep = i % 2 === 0 ? [deep] : { d: deep };
  sameAsJson(deep);
  const long = Array.from({ length: 1_000_001 }, (_, i) => i % 3);
  expect(JSON.stringify(jsonCopy(long))).toBe(JSON.stringify(long));
  const sparse: unknown[] = [];
  sparse[5] = 1;
  sameAsJson(sparse);
});
