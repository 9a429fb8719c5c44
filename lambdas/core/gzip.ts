/** Gzip detection for input files (DESIGN.md section 5: `raw/<dataset>/**.csv[.gz]`). */

/** The first two bytes of every gzip member (RFC 1952). */
export const GZIP_MAGIC = Uint8Array.of(0x1f, 0x8b);

/**
 * Whether an object is gzip: by a `.gz` extension (any case) or by the magic bytes, so that a compressed file
 * uploaded without the extension is still read correctly.
 */
export function isGzip(key: string, firstBytes: Uint8Array): boolean {
  if (key.toLowerCase().endsWith('.gz')) return true;
  return firstBytes.length >= 2 && firstBytes[0] === GZIP_MAGIC[0] && firstBytes[1] === GZIP_MAGIC[1];
}
