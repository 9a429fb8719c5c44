import fc from 'fast-check';
import { ContainerError, parseCsvPayload, parsePythonFloat } from '../../lib/local/endpoint-server';
import { TEST_SEED } from './run';

/**
 * The local endpoint's text/csv parser (one pass, plain decimals read without making a string) against the plain
 * reading it replaced: trim, split on newlines and commas, each cell through Python's float rules
 * (parsePythonFloat, which the one pass keeps for any cell that is not a plain decimal). The same numbers (the same
 * doubles, -0 and NaN included) or the same error, for payloads an encoder writes and for odd ones.
 */

function referenceParse(text: string): number[][] | string {
  const rows: number[][] = [];
  for (const line of text.trim().split('\n')) {
    const row: number[] = [];
    for (const cell of line.split(',')) {
      if (cell === '') {
        row.push(Number.NaN);
        continue;
      }
      const v = parsePythonFloat(cell);
      if (v === undefined) return `could not convert string to float: '${cell}'`;
      row.push(v);
    }
    rows.push(row);
  }
  return rows.some((r) => r.length !== rows[0].length) ? 'inhomogeneous shape' : rows;
}

function parsed(text: string): number[][] | string {
  try {
    return parseCsvPayload(text);
  } catch (e) {
    if (!(e instanceof ContainerError)) throw e;
    return e.message;
  }
}

/** Cells as encoders write them, and the spellings Python's float takes or refuses. */
const digits = fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 18 });
const cellArb = fc.oneof(
  { weight: 6, arbitrary: fc.double({ noNaN: true }).map(String) },
  { weight: 6, arbitrary: fc.integer({ min: -1e6, max: 1e6 }).map(String) },
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.constantFrom('', '-', '+'),
        digits,
        fc.option(fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 18 })),
      )
      .map(([sign, whole, fraction]) =>
        fraction === null ? `${sign}${whole}` : `${sign}${whole}.${fraction}`,
      ),
  },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('', '-'), digits).map(([sign, d]) => `${sign}.${d}`) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      '.',
      '-',
      '+',
      '-0',
      '-0.0',
      '0.',
      '1.',
      '1e5',
      '1E-3',
      '1e',
      '1_000',
      '1__0',
      '_1',
      ' 2.5 ',
      '2\r',
      '\t3',
      'inf',
      '-Infinity',
      'NaN',
      'nan ',
      '0x10',
      '1.2.3',
      '--1',
      'abc',
      '9007199254740993',
      '123456789012345',
      '1234567890123456',
      '0.1000000000000000055511151231257827',
    ),
  },
);
const payloadArb = fc
  .tuple(
    fc.integer({ min: 1, max: 4 }),
    fc.array(fc.array(cellArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 }),
    fc.boolean(),
    fc.constantFrom('', '\n', '\n\n', ' \n', '\r\n', '\u00a0', '\n\ufeff'),
    fc.constantFrom('', '\n', ' ', '\u3000', '\ufeff\n'),
  )
  .map(([width, rows, square, end, begin]) => {
    // Mostly rows of one width, as a model's input is, so that the numbers are compared and not only the error.
    const lines = rows.map((r) => (square ? Array.from({ length: width }, (_, i) => r[i % r.length]) : r));
    return begin + lines.map((r) => r.join(',')).join('\n') + end;
  });

describe('the local endpoint reads text/csv', () => {
  it('as the plain split-and-float reading does, for any payload', () => {
    let numbers = 0;
    const runs = 5_000;
    fc.assert(
      fc.property(payloadArb, (text) => {
        const ours = parsed(text);
        const reference = referenceParse(text);
        if (typeof reference === 'string') {
          expect(typeof ours).toBe('string');
          expect(ours).toContain(reference);
        } else {
          // toEqual tells -0 from 0 and takes NaN as equal to NaN.
          expect(ours).toEqual(reference);
          numbers++;
        }
      }),
      { seed: TEST_SEED, numRuns: runs },
    );
    // Both outcomes must be common, or the property above proves little.
    expect(numbers).toBeGreaterThan(runs * 0.2);
    expect(numbers).toBeLessThan(runs * 0.8);
  });
});
