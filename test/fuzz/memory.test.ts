import { execFile } from 'node:child_process';
import * as path from 'node:path';
import type { MemoryResult } from './memory-scenarios';

/**
 * Memory stays bounded whatever the input: tens of MB of hostile input (a quote that never closes, lines far
 * beyond the limit, no newline at all) streamed through each reader, with the live heap measured after a full
 * GC every few MB. The bound is the documented one (one record, capped at the line limit, plus a chunk) and some
 * slack for the measurement. Each scenario runs in a fresh process (see memory-scenarios.ts).
 */

function run(name: string): Promise<MemoryResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', path.join(__dirname, 'memory-child.js'), name],
      { maxBuffer: 1 << 20, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${name}: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as MemoryResult);
      },
    );
  });
}

describe('memory stays bounded on hostile input', () => {
  it('the measurement sees memory that is kept (a control: a reader that buffered everything would fail)', async () => {
    const r = await run('control');
    expect(r.details.kept).toBe(256);
    // 16 MiB kept: the measurement must see well over the readers' bound.
    expect(r.peak).toBeGreaterThan(r.bound);
  });

  it('CsvReader: 32 MiB inside one unclosed quote is one line-too-long record, kept in maxLineBytes + 2', async () => {
    const r = await run('csvReader');
    expect(r.peak).toBeLessThan(r.bound);
    expect(r.details.carry as number).toBeLessThanOrEqual((r.details.maxLineBytes as number) + 2);
    expect(r.details.errors).toEqual(['ok', 'line-too-long']);
  });

  it('FileValidator: 32 MiB of rows, bad rows and 3 MiB lines keeps a record and 100 errors at most', async () => {
    const r = await run('fileValidator');
    expect(r.peak).toBeLessThan(r.bound);
    const d = r.details as {
      lineTooLong: number;
      reportedErrors: number;
      rows: { valid: number; invalid: number };
      valid: number;
      invalid: number;
    };
    expect(d.lineTooLong).toBeGreaterThan(0);
    expect(d.reportedErrors).toBe(100);
    expect(d.rows.valid).toBe(d.valid);
    expect(d.rows.invalid).toBe(d.invalid);
    expect(d.valid).toBeGreaterThan(0);
  });

  it('CaptureParser: a line with no newline for 32 MiB is one malformed line, kept in maxLineChars', async () => {
    const r = await run('captureParser');
    expect(r.peak).toBeLessThan(r.bound);
    expect(r.details).toEqual({ malformedLines: 1, records: 1, rows: 1 });
  });
});
