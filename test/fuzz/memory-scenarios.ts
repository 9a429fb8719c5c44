import { CaptureParser } from '../../lambdas/core/capture';
import { CsvReader } from '../../lambdas/core/csv';
import { featureSpec } from '../../lambdas/core/encoding';
import { FileValidator } from '../../lambdas/core/validate';
import { projectSchema } from './arbitraries';
import { gcFunction, liveBytes, settledLiveBytes } from './gc';

/**
 * The memory scenarios of memory.test.ts. Each runs in a fresh Node process (memory-child.js): in a jest worker
 * that has run other suites, collections keep freeing what those suites left behind, and that could hide memory a
 * scenario keeps. A scenario returns its peak live-memory growth, its bound, and what the test checks besides.
 */

export const MiB = 1 << 20;
const CHUNK = 64 * 1024;
const SLACK = 3 * MiB;

export interface MemoryResult {
  /** Largest growth of live heap + array buffers over the baseline, bytes. */
  readonly peak: number;
  readonly bound: number;
  readonly details: Record<string, unknown>;
}

/** Streams `total` bytes made by `chunkAt(i)` through `push`, sampling the live memory every 64 chunks. */
function streamPeak(
  total: number,
  chunkAt: (i: number) => Uint8Array,
  push: (c: Uint8Array) => void,
): number {
  const gc = gcFunction();
  const base = settledLiveBytes(gc);
  let peak = 0;
  let sent = 0;
  for (let i = 0; sent < total; i++) {
    const c = chunkAt(i);
    push(c);
    sent += c.length;
    if (i % 64 === 63) peak = Math.max(peak, liveBytes(gc) - base);
  }
  return peak;
}

const filled = (byte: number, n = CHUNK) => new Uint8Array(n).fill(byte);

export const scenarios: Record<string, () => MemoryResult> = {
  /** A control: a "reader" that keeps everything must exceed the bound the readers are held to. */
  control() {
    const kept: Uint8Array[] = [];
    const body = filled(0x61);
    const peak = streamPeak(
      16 * MiB,
      () => body,
      (c) => void kept.push(c.slice()),
    );
    return { peak, bound: MiB + CHUNK + SLACK, details: { kept: kept.length } };
  },

  csvReader() {
    const maxLineBytes = MiB;
    const errors: string[] = [];
    const reader = new CsvReader({ maxLineBytes }, (rec) => errors.push(rec.error ?? 'ok'));
    const opening = new TextEncoder().encode('a,b\n"');
    const body = filled(0x61);
    const peak = streamPeak(
      32 * MiB,
      (i) => (i === 0 ? opening : body),
      (c) => reader.push(c),
    );
    const carry = (reader as unknown as { carry: Uint8Array }).carry.length;
    reader.end();
    return { peak, bound: maxLineBytes + CHUNK + SLACK, details: { carry, maxLineBytes, errors } };
  },

  fileValidator() {
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
    const peak = streamPeak(32 * MiB, chunkAt, (c) => v.push(c));
    const report = v.end();
    return {
      peak,
      bound: MiB + CHUNK + SLACK,
      details: {
        lineTooLong: report.errorCounts['line-too-long'] ?? 0,
        reportedErrors: report.errors.length,
        rows: report.rows,
        valid,
        invalid,
      },
    };
  },

  captureParser() {
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
    const peak = streamPeak(
      32 * MiB,
      (i) => (i === 0 ? record : body),
      (c) => p.push(c),
    );
    p.push(record);
    const stats = p.end();
    // Two UTF-16 bytes per character at worst, plus a chunk being joined.
    return {
      peak,
      bound: 2 * maxLineChars + 2 * CHUNK + SLACK,
      details: { malformedLines: stats.malformedLines, records: stats.records, rows },
    };
  },
};
