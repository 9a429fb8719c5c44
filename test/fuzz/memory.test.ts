import { CaptureParser } from '../../lambdas/core/capture';
import { CsvReader } from '../../lambdas/core/csv';
import { featureSpec } from '../../lambdas/core/encoding';
import { FileValidator } from '../../lambdas/core/validate';
import { projectSchema } from './arbitraries';
import { gcFunction, liveBytes } from './gc';

/**
 * Memory stays bounded whatever the input: tens of MB of hostile input (a quote that never closes, lines far
 * beyond the limit, no newline at all) streamed through each reader, with the live heap measured after a full
 * GC every few MB. The bound is the documented one (one record, capped at the line limit, plus a chunk) and some
 * slack for the measurement.
 */

const MiB = 1 << 20;
const CHUNK = 64 * 1024;
const SLACK = 3 * MiB;
const gc = gcFunction();

/** Streams `total` bytes made by `chunkAt(i)` through `push`, checking the live heap against `bound` as it goes. */
function streamBounded(
  total: number,
  chunkAt: (i: number) => Uint8Array,
  push: (c: Uint8Array) => void,
  bound: number,
) {
  const base = liveBytes(gc);
  let peak = 0;
  let sent = 0;
  for (let i = 0; sent < total; i++) {
    const c = chunkAt(i);
    push(c);
    sent += c.length;
    if (i % 64 === 63) peak = Math.max(peak, liveBytes(gc) - base);
  }
  expect(peak).toBeLessThan(bound);
  return peak;
}

const filled = (byte: number, n = CHUNK) => new Uint8Array(n).fill(byte);

describe('memory stays bounded on hostile input', () => {
  it('the measurement sees memory that is kept (a control: a reader that buffered everything would fail)', () => {
    const kept: Uint8Array[] = [];
    const body = filled(0x61);
    expect(() =>
      streamBounded(
        16 * MiB,
        () => body,
        (c) => void kept.push(c.slice()),
        MiB + CHUNK + SLACK,
      ),
    ).toThrow();
    expect(kept.length).toBe(256);
  });

  it('CsvReader: 32 MiB inside one unclosed quote is one line-too-long record, kept in maxLineBytes + 2', () => {
    const maxLineBytes = MiB;
    const errors: string[] = [];
    const reader = new CsvReader({ maxLineBytes }, (rec) => errors.push(rec.error ?? 'ok'));
    const opening = new TextEncoder().encode('a,b\n"');
    const body = filled(0x61);
    streamBounded(
      32 * MiB,
      (i) => (i === 0 ? opening : body),
      (c) => reader.push(c),
      maxLineBytes + CHUNK + SLACK,
    );
    expect((reader as unknown as { carry: Uint8Array }).carry.length).toBeLessThanOrEqual(maxLineBytes + 2);
    reader.end();
    expect(errors).toEqual(['ok', 'line-too-long']);
  });

  it('FileValidator: 32 MiB of rows, bad rows and 3 MiB lines keeps a record and 100 errors at most', () => {
    const schema = projectSchema();
    let valid = 0;
    let invalid = 0;
    const v = new FileValidator(
      schema,
      { maxInvalidRowFraction: 1, maxLineBytes: MiB },
      { valid: () => void valid++, invalid: () => void invalid++ },
    );
    const enc = new TextEncoder();
    const header = enc.encode(schema.fields.map((f) => f.name).join(',') + '\n');
    const rows = enc.encode(
      'c1,12,basic,70.5,840,1,north,true,31.5,false\nc2,x,gold,-1,,1001,up,maybe,1,true\n"c3,"x\n'.repeat(
        500,
      ),
    );
    const long = filled(0x22);
    const endLong = enc.encode('x\n');
    // Rows, then 3 MiB lines of quotes, then rows again, around and around.
    const chunkAt = (i: number): Uint8Array => {
      if (i === 0) return header;
      const k = i % 64;
      return k < 16 ? rows : k < 63 ? long : endLong;
    };
    streamBounded(32 * MiB, chunkAt, (c) => v.push(c), MiB + CHUNK + SLACK);
    const report = v.end();
    expect(report.errorCounts['line-too-long']).toBeGreaterThan(0);
    expect(report.errors).toHaveLength(100);
    expect(report.rows.valid).toBe(valid);
    expect(report.rows.invalid).toBe(invalid);
    expect(valid).toBeGreaterThan(0);
  });

  it('CaptureParser: a line with no newline for 32 MiB is one malformed line, kept in maxLineChars', () => {
    const spec = featureSpec(projectSchema());
    const maxLineChars = MiB;
    let rows = 0;
    const p = new CaptureParser(
      spec,
      { addRow: () => void rows++, addPrediction: () => undefined },
      { maxLineChars },
    );
    const record = new TextEncoder().encode(
      JSON.stringify({
        captureData: {
          endpointInput: { mode: 'INPUT', data: '12,0,70.5,840,1,0,1,31.5\n', encoding: 'CSV' },
        },
      }) + '\n',
    );
    const body = filled(0x7b);
    // Two UTF-16 bytes per character at worst, plus a chunk being joined.
    streamBounded(
      32 * MiB,
      (i) => (i === 0 ? record : body),
      (c) => p.push(c),
      2 * maxLineChars + 2 * CHUNK + SLACK,
    );
    p.push(record);
    const stats = p.end();
    expect(stats.malformedLines).toBe(1);
    expect(stats.records).toBe(1);
    expect(rows).toBe(1);
  });
});
