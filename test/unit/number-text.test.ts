import fc from 'fast-check';
import { writeShortNumber } from '../../lambdas/core/number-text';

/** writeShortNumber's text, or undefined when it leaves the number to String. */
function text(v: number, at = 0): string | undefined {
  const out = new Uint8Array(at + 32).fill(120);
  const end = writeShortNumber(out, at, v);
  if (end < 0) return undefined;
  // Nothing written outside its own bytes.
  expect(out.subarray(0, at).every((b) => b === 120)).toBe(true);
  expect(out.subarray(end).every((b) => b === 120)).toBe(true);
  return Buffer.from(out.subarray(at, end)).toString('latin1');
}

describe('writeShortNumber', () => {
  it('writes what String writes', () => {
    const cases: Array<[number, string]> = [
      [0, '0'],
      [-0, '0'],
      [7, '7'],
      [-42, '-42'],
      [1053.43, '1053.43'],
      [0.05, '0.05'],
      [-0.000001, '-0.000001'],
      [100000000, '100000000'],
      [999999999.999999, '999999999.999999'],
      [123456.000001, '123456.000001'],
    ];
    for (const [v, expected] of cases) expect(text(v, 3)).toBe(expected);
  });

  it('leaves to String what it cannot write exactly: NaN, infinities, 10^9 and over, more than 6 decimals', () => {
    for (const v of [Number.NaN, Infinity, -Infinity, 1e9, -1e9, 1e21, 5e-7, 1e-7, 0.1 + 0.2, 5e-324, 1 / 3])
      expect(text(v)).toBeUndefined();
  });

  it('writes every number of up to 6 decimals under 10^9, as String does', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 0, max: 999_999_999 }),
        fc.integer({ min: 0, max: 999_999 }),
        fc.integer({ min: 0, max: 6 }),
        (negative, whole, micro, k) => {
          // The double nearest to the decimal whole.digits (one correctly rounded division, as parsing gives).
          const v = ((negative ? -1 : 1) * (whole * 10 ** k + Math.floor(micro / 10 ** (6 - k)))) / 10 ** k;
          expect(text(v)).toBe(String(v));
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('writes nothing but String(v) for any double', () => {
    fc.assert(
      fc.property(fc.double(), (v) => {
        const t = text(v);
        if (t !== undefined) expect(t).toBe(String(v));
      }),
      { numRuns: 20_000 },
    );
  });
});
