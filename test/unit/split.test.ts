import { isValidationRow, rowHash } from '../../lambdas/core/split';

const rows = (n: number) =>
  Array.from(
    { length: n },
    (_, i) => `cust-${i},${i % 72},${['basic', 'plus', 'pro'][i % 3]},${(i * 0.37).toFixed(2)}`,
  );

describe('rowHash', () => {
  it('is FNV-1a over the bytes with a murmur finaliser (known values)', () => {
    // FNV-1a 32 of "" is the offset basis 0x811c9dc5 and of "a" is 0xe40c292c (published test vectors);
    // fmix32 of those, computed independently below, must be what rowHash returns.
    const fmix = (h: number) => {
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      return h >>> 0;
    };
    expect(rowHash('')).toBe(fmix(0x811c9dc5));
    expect(rowHash('a')).toBe(fmix(0xe40c292c));
  });

  it('hashes a string and its UTF-8 bytes alike, and ignores the line ending', () => {
    for (const s of ['plain,row,1', 'Zoë,Ærøskøbing,😀,東京', 'lone\ud800surrogate']) {
      expect(rowHash(s)).toBe(rowHash(Buffer.from(s, 'utf8')));
      expect(rowHash(`${s}\n`)).toBe(rowHash(s));
      expect(rowHash(`${s}\r\n`)).toBe(rowHash(Buffer.from(s, 'utf8')));
    }
  });
});

describe('isValidationRow', () => {
  it('is deterministic: the same rows split the same way every time', () => {
    const data = rows(2000);
    const first = data.map((r) => isValidationRow(r, 0.2));
    const again = data.map((r) => isValidationRow(r, 0.2));
    expect(again).toEqual(first);
    // Order and duplicates do not matter: the decision depends on the row alone.
    const reversed = [...data].reverse().map((r) => isValidationRow(r, 0.2));
    expect(reversed.reverse()).toEqual(first);
  });

  it.each([0.1, 0.2, 0.5])('sends close to %p of 10,000 rows to validation', (fraction) => {
    const n = 10000;
    const got = rows(n).filter((r) => isValidationRow(r, fraction)).length / n;
    // Four binomial standard deviations: sqrt(f(1-f)/n) is at most 0.005 here.
    expect(Math.abs(got - fraction)).toBeLessThan(4 * Math.sqrt((fraction * (1 - fraction)) / n));
  });

  it('grows the validation set monotonically with the fraction (a row never moves back to training)', () => {
    for (const r of rows(3000)) if (isValidationRow(r, 0.1)) expect(isValidationRow(r, 0.3)).toBe(true);
  });

  it('gives a different split for a different seed', () => {
    const data = rows(2000);
    const a = data.map((r) => isValidationRow(r, 0.5, 1));
    const b = data.map((r) => isValidationRow(r, 0.5, 2));
    const same = a.filter((v, i) => v === b[i]).length / data.length;
    expect(same).toBeGreaterThan(0.4);
    expect(same).toBeLessThan(0.6);
  });

  it('handles the extremes and rejects a fraction outside [0, 1]', () => {
    const data = rows(500);
    expect(data.some((r) => isValidationRow(r, 0))).toBe(false);
    expect(data.every((r) => isValidationRow(r, 1))).toBe(true);
    expect(() => isValidationRow('x', 1.5)).toThrow(RangeError);
    expect(() => isValidationRow('x', Number.NaN)).toThrow(RangeError);
  });
});
