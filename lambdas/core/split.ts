/**
 * Deterministic train/validation split (DESIGN.md section 6, Prepare): a row goes to validation when a stable
 * hash of its bytes falls below the fraction. The same row always lands on the same side, in any run, on any
 * machine, whatever the file order or chunking, and duplicated rows never straddle the split.
 */

/** FNV-1a's 32-bit parameters (exported for Prepare's compiled fast path, which inlines rowHashRange). */
export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

/** murmur3's 32-bit finaliser: FNV-1a's low and high bits are weak on short, similar rows. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * FNV-1a (32-bit) over the UTF-8 bytes of `row`, finalised with murmur3's fmix32; an unsigned 32-bit integer.
 * Strings are hashed as their UTF-8 encoding without allocating, so a string and its bytes hash the same.
 * A trailing "\n" or "\r\n" is not part of the row.
 */
export function rowHash(row: string | Uint8Array, seed = 0): number {
  if (typeof row !== 'string') return rowHashRange(row, 0, row.length, seed);
  let h = (FNV_OFFSET ^ seed) >>> 0;
  let end = row.length;
  if (end > 0 && row.charCodeAt(end - 1) === 10) end--;
  if (end > 0 && row.charCodeAt(end - 1) === 13) end--;
  for (let i = 0; i < end; i++) {
    let c = row.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
      const lo = row.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      } else c = 0xfffd;
    } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate encodes as U+FFFD in UTF-8
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV_PRIME);
    } else if (c < 0x10000) {
      h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
    } else {
      h = Math.imul(h ^ (0xf0 | (c >> 18)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
    }
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
  }
  return fmix32(h);
}

/** rowHash of the bytes `row[start, end)`, without making a view of them (Prepare calls it per row). */
export function rowHashRange(row: Uint8Array, start: number, end: number, seed = 0): number {
  let h = (FNV_OFFSET ^ seed) >>> 0;
  if (end > start && row[end - 1] === 10) end--;
  if (end > start && row[end - 1] === 13) end--;
  for (let i = start; i < end; i++) h = Math.imul(h ^ row[i], FNV_PRIME);
  return fmix32(h);
}

const TWO_32 = 4294967296;

/** A row goes to validation when its rowHash is below this (the test isValidationRow applies). */
export function validationThreshold(validationFraction: number): number {
  if (!(validationFraction >= 0 && validationFraction <= 1)) {
    throw new RangeError(`validationFraction must be in [0, 1], got ${validationFraction}`);
  }
  return validationFraction * TWO_32;
}

/**
 * True when the row belongs to the validation set. `validationFraction` is in [0, 1]; 0 sends every row to
 * training and 1 every row to validation. `seed` picks a different (equally deterministic) split.
 */
export function isValidationRow(row: string | Uint8Array, validationFraction: number, seed = 0): boolean {
  if (!(validationFraction >= 0 && validationFraction <= 1)) {
    throw new RangeError(`validationFraction must be in [0, 1], got ${validationFraction}`);
  }
  return rowHash(row, seed) < validationFraction * TWO_32;
}

/** isValidationRow of the bytes `row[start, end)`. */
export function isValidationRange(
  row: Uint8Array,
  start: number,
  end: number,
  validationFraction: number,
  seed = 0,
): boolean {
  if (!(validationFraction >= 0 && validationFraction <= 1)) {
    throw new RangeError(`validationFraction must be in [0, 1], got ${validationFraction}`);
  }
  return rowHashRange(row, start, end, seed) < validationFraction * TWO_32;
}
