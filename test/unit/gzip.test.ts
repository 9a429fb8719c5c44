import { gzipSync } from 'node:zlib';
import { isGzip } from '../../lambdas/core/gzip';

describe('isGzip', () => {
  const csv = new TextEncoder().encode('a,b\n1,2\n');
  const gz = new Uint8Array(gzipSync(csv));

  it('recognises the .gz extension, in any case', () => {
    expect(isGzip('raw/churn/2024/file.csv.gz', csv)).toBe(true);
    expect(isGzip('raw/churn/FILE.CSV.GZ', new Uint8Array(0))).toBe(true);
  });

  it('recognises gzip magic bytes without the extension', () => {
    expect(isGzip('raw/churn/file.csv', gz)).toBe(true);
    expect(isGzip('raw/churn/file', gz.subarray(0, 2))).toBe(true);
  });

  it('says no to plain CSV and to too few bytes to tell', () => {
    expect(isGzip('raw/churn/file.csv', csv)).toBe(false);
    expect(isGzip('raw/churn/file.gzip.csv', csv)).toBe(false);
    expect(isGzip('raw/churn/file.csv', gz.subarray(0, 1))).toBe(false);
    expect(isGzip('raw/churn/file.csv', Uint8Array.of(0x1f, 0x8c))).toBe(false);
  });
});
