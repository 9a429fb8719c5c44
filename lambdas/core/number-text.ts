/** 10^k for the decimals writeShortNumber writes. */
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6] as const;
/** 10^0 to 10^22: every power of ten a double holds exactly (number reading divides by them). */
export const EXACT_POWERS_OF_TEN: readonly number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);
const MINUS = 45;
const POINT = 46;
const ZERO = 48;

/**
 * Writes the text of `v` as `String(v)` spells it, as ASCII bytes at `out[o]` (up to 17 bytes), for a number
 * under 10^9 in magnitude with at most 6 decimals (the usual value of a tabular record: counts, amounts,
 * measurements); returns the offset after it, or -1 for any other number, which the caller spells with String.
 *
 * Why not String(v): V8 keeps the strings it makes from numbers in a cache, which outlives its young generation,
 * so every new number text was moved to the old generation and died there: for the 600 numbers of a 100-record
 * request, about 4.6 KB of old-generation garbage per request in the inference Lambda (bench/inference, 200
 * requests/s), and the major collections it led to stalled the process for tens of milliseconds.
 *
 * Exact: for |v| < 10^9 and k ≤ 6, v·10^k < 10^15, where a double's spacing is at most 1/8; the k-decimal text
 * d·10^-k that reads back as v lies within 1/8 of v·10^k, and Math.round of the computed product (off by at
 * most 1/16) finds that d and no other. So the smallest k for which Math.round(v·10^k)/10^k reads back as v gives
 * the shortest text that reads back as v, the one String writes (in plain notation for 10^-6 ≤ |v| < 10^21).
 */
export function writeShortNumber(out: Uint8Array, o: number, v: number): number {
  const a = v < 0 ? -v : v;
  // Also false for NaN.
  if (!(a < 1e9)) return -1;
  for (let k = 0; k < POW10.length; k++) {
    const p = POW10[k];
    const m = Math.round(a * p);
    if (m / p !== a) continue;
    // -0 is written "0", as String writes it.
    if (v < 0) out[o++] = MINUS;
    const whole = Math.floor(m / p);
    let fraction = m - whole * p;
    let digits = 1;
    for (let x = whole; x >= 10; x = Math.floor(x / 10)) digits++;
    let at = o + digits;
    for (let x = whole, i = 0; i < digits; i++) {
      out[--at] = ZERO + (x % 10);
      x = Math.floor(x / 10);
    }
    o += digits;
    if (k === 0) return o;
    out[o] = POINT;
    for (let i = k; i > 0; i--) {
      out[o + i] = ZERO + (fraction % 10);
      fraction = Math.floor(fraction / 10);
    }
    return o + k + 1;
  }
  return -1;
}
