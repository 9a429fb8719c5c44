import fc from 'fast-check';
import { LineRing } from '../../lib/local/line-ring';

describe('LineRing', () => {
  it('keeps the last lines in order, as a plain list of them does', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 4, max: 24 }),
        fc.array(fc.string({ unit: 'binary', maxLength: 12 }), { maxLength: 40 }),
        (capacity, slotBytes, lines) => {
          const ring = new LineRing(capacity, slotBytes);
          for (const line of lines) ring.push(line);
          const expected = lines.slice(-capacity);
          expect(ring.length).toBe(expected.length);
          expect(ring.lines()).toEqual(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keeps a line longer than its slot, multi-byte characters and lone surrogates exactly', () => {
    const ring = new LineRing(3, 8);
    const lines = ['12345678', 'é€😀', '123456789', 'x\uD800y', 'ab'];
    for (const line of lines) ring.push(line);
    expect(ring.lines()).toEqual(lines.slice(-3));
  });

  it('rejects a capacity or slot size it cannot hold', () => {
    expect(() => new LineRing(0)).toThrow('capacity must be a whole number >= 1, got 0');
    expect(() => new LineRing(2, 2)).toThrow('slotBytes must be a whole number >= 4, got 2');
  });
});
