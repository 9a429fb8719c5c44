import { isUtf8 } from 'node:buffer';

/**
 * A streaming RFC 4180 CSV reader over bytes.
 *
 * Speed comes from never making a string on the hot path: a record is handed over as offsets into the bytes it
 * lives in (the caller's chunk when it fits, otherwise a carry buffer holding only that record), so a consumer
 * parses numbers and compares enum values straight from the bytes. Memory is bounded by one record, capped at
 * `maxLineBytes`.
 */

/** Errors the reader itself reports; each one makes a whole record unreadable. */
export type ReaderErrorCode = 'quote' | 'encoding' | 'line-too-long';

/** Field flag: the field was enclosed in double quotes (offsets exclude them). */
export const FIELD_QUOTED = 1;
/** Field flag: the quoted field contains `""` escapes, so its bytes must be unescaped before use. */
export const FIELD_ESCAPED = 2;

const LF = 10;
const CR = 13;
const QUOTE = 34;
const COMMA = 44;

const BOM = Uint8Array.of(0xef, 0xbb, 0xbf);

// Parser states. Between records the state is always START.
const ST_START = 0;
const ST_UNQUOTED = 1;
const ST_QUOTED = 2;
/** Just after a quote inside a quoted field: either the closing quote or the first half of `""`. */
const ST_QUOTE_SEEN = 3;
/** A closing quote followed by CR: only LF may follow. */
const ST_QUOTE_CR = 4;

// Record-level malformations found while scanning (kept as numbers on the hot path).
const BAD_NONE = 0;
const BAD_STRAY_QUOTE = 1;
const BAD_AFTER_QUOTE = 2;
const BAD_UNTERMINATED = 3;

const NEED_MORE = -1;
const OVERFLOW = -2;

/**
 * One record, reused between calls: valid only during the callback. Field `i` is
 * `buf.subarray(starts[i], ends[i])`, quotes excluded, `""` escapes still in place when `flags[i] & FIELD_ESCAPED`.
 */
export class CsvRecord {
  /** 1-based record number, the first record (the header) being 1. Skipped blank lines count. */
  no = 0;
  buf: Uint8Array = new Uint8Array(0);
  /** The record's bytes, line ending excluded: `buf.subarray(start, end)`. */
  start = 0;
  end = 0;
  /** Bytes of the line ending after `end`: 1 for LF, 2 for CRLF, 0 at end of input. */
  terminator = 0;
  /** Number of fields; 0 for a `line-too-long` record, whose bytes were not kept. */
  count = 0;
  starts: Int32Array;
  ends: Int32Array;
  flags: Uint8Array;
  /** Set when the record could not be read; its fields are then only a best effort. */
  error: ReaderErrorCode | null = null;
  message = '';

  constructor(capacity: number) {
    this.starts = new Int32Array(capacity);
    this.ends = new Int32Array(capacity);
    this.flags = new Uint8Array(capacity);
  }
}

export interface CsvReaderOptions {
  /**
   * A record whose bytes (line ending excluded) exceed this is reported as `line-too-long`; the reader then
   * skips to the next LF, whatever the quote state, so a runaway quote can neither hang it nor grow it.
   */
  readonly maxLineBytes: number;
  /** Optional single-pass shortcut for simple records, see CsvFastPath. */
  readonly fastPath?: CsvFastPath;
}

/**
 * A consumer's shortcut, tried at the start of each record that begins in the current chunk (never for a record
 * carried over from the previous one). `fastRecord` returns the index just past the record's LF when it handled
 * the whole record itself, or -1, before any side effect, to leave the record to the reader. A consumer uses it
 * to parse and check simple records in a single pass; the reader still numbers them. `end` is just past the
 * chunk's last LF, so a loop that stops at LF cannot run past it and needs no bounds check of its own.
 * It comes in two forms: one record per call (CsvRecordFastPath) or a run of records per call (CsvRunFastPath).
 */
export type CsvFastPath = CsvRecordFastPath | CsvRunFastPath;

export interface CsvRecordFastPath {
  fastRecord(buf: Uint8Array, start: number, end: number): number;
}

/**
 * The same shortcut for a run of records in one call, for a consumer whose per-record work is small enough
 * that a call per record would show: `fastRecords` handles consecutive records from `start` while it can, sets
 * `scanned` to how many it handled, and returns the index just past the last of them (`start` when none).
 * It stops before a record it leaves to the reader, with no side effect from that record.
 */
export interface CsvRunFastPath {
  fastRecords(buf: Uint8Array, start: number, end: number): number;
  readonly scanned: number;
}

// ignoreBOM keeps a U+FEFF that begins a field: only the file's leading BOM is not data.
const textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Field `i` of a record as a string, quotes unescaped (invalid UTF-8 becomes U+FFFD). For messages and headers. */
export function fieldText(rec: CsvRecord, i: number): string {
  const raw = rec.buf.subarray(rec.starts[i], rec.ends[i]);
  const s = textDecoder.decode(raw);
  return rec.flags[i] & FIELD_ESCAPED ? s.replace(/""/g, '"') : s;
}

/** Copies `src[start, end)` into `dst` from 0, turning each `""` into `"`; returns the length written. */
export function unescapeInto(src: Uint8Array, start: number, end: number, dst: Uint8Array): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = src[i];
    dst[n++] = c;
    if (c === QUOTE && i + 1 < end && src[i + 1] === QUOTE) i++;
  }
  return n;
}

export class CsvReader {
  private readonly maxLineBytes: number;
  private readonly onRecord: (rec: CsvRecord) => void;
  private readonly fastPath: CsvRecordFastPath | null;
  private readonly fastRun: CsvRunFastPath | null;
  private readonly rec: CsvRecord;
  private recordNo = 0;

  /** BOM bytes matched so far at the very start of the input; -1 once decided. */
  private bomMatched = 0;
  /** After an overflow: dropping bytes up to the next LF. */
  private skipping = false;
  /** The unfinished record that straddles chunks, and how far it has been parsed. */
  private carry: Uint8Array = new Uint8Array(0);
  private carryLen = 0;
  private carryParsed = 0;

  // Saved parse state of an unfinished record (meaningful only while carryLen > 0).
  private st = ST_START;
  private nf = 0;
  private fs = 0;
  private ff = 0;
  private hi = 0;
  private bad = BAD_NONE;
  /** After an overflow: where to look for the LF that ends the line, in the buffer being parsed. */
  private overflowAt = 0;
  private ended = false;

  constructor(options: CsvReaderOptions, onRecord: (rec: CsvRecord) => void) {
    const max = options.maxLineBytes;
    if (!Number.isSafeInteger(max) || max < 1)
      throw new RangeError(`maxLineBytes must be a positive integer, got ${max}`);
    this.maxLineBytes = max;
    this.onRecord = onRecord;
    const fast = options.fastPath;
    this.fastRun = fast !== undefined && 'fastRecords' in fast ? fast : null;
    this.fastPath = fast !== undefined && 'fastRecord' in fast ? fast : null;
    this.rec = new CsvRecord(64);
  }

  /** Records completed so far, including skipped blank lines: the number of the last one. */
  get records(): number {
    return this.recordNo;
  }

  push(chunk: Uint8Array): void {
    if (this.ended) throw new Error('CsvReader.push after end');
    if (chunk.length === 0) return;
    if (this.bomMatched >= 0) {
      chunk = this.stripBom(chunk);
      if (chunk.length === 0) return;
    }
    this.feed(chunk);
  }

  /** End of input: completes the last record (an open quote here is an unterminated quote). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.bomMatched > 0) {
      // The input was a strict prefix of a BOM: those bytes are data after all.
      const prefix = BOM.slice(0, this.bomMatched);
      this.bomMatched = -1;
      this.feed(prefix);
    }
    if (this.skipping) {
      this.skipping = false;
      this.emitTooLong();
      return;
    }
    if (this.carryLen > 0) this.finishAtEof();
  }

  private stripBom(chunk: Uint8Array): Uint8Array {
    let i = 0;
    while (this.bomMatched < 3 && i < chunk.length) {
      if (chunk[i] !== BOM[this.bomMatched]) {
        const partial = this.bomMatched;
        this.bomMatched = -1;
        if (partial > 0) this.feed(BOM.slice(0, partial));
        return chunk.subarray(i);
      }
      this.bomMatched++;
      i++;
    }
    if (this.bomMatched === 3) this.bomMatched = -1;
    return chunk.subarray(i);
  }

  private feed(chunk: Uint8Array): void {
    const len = chunk.length;
    let pos = 0;
    if (this.skipping) {
      const lf = chunk.indexOf(LF);
      if (lf < 0) return;
      this.skipping = false;
      this.emitTooLong();
      pos = lf + 1;
    }
    if (this.carryLen > 0) {
      pos = this.feedCarry(chunk, pos);
      if (pos < 0) return;
    }
    const fast = this.fastPath;
    const run = this.fastRun;
    const fastEnd = fast !== null || run !== null ? chunk.lastIndexOf(LF) + 1 : 0;
    while (pos < len) {
      if (pos < fastEnd) {
        if (run !== null) {
          pos = run.fastRecords(chunk, pos, fastEnd);
          this.recordNo += run.scanned;
          // The record at pos, if any, is the reader's.
          if (pos >= len) return;
        } else if (fast !== null) {
          const r = fast.fastRecord(chunk, pos, fastEnd);
          if (r >= 0) {
            this.recordNo++;
            pos = r;
            continue;
          }
        }
      }
      this.resetState();
      const r = this.parse(chunk, pos, pos, len);
      if (r >= 0) {
        pos = r;
        continue;
      }
      if (r === OVERFLOW) {
        const lf = chunk.indexOf(LF, this.overflowAt);
        if (lf < 0) {
          this.skipping = true;
          return;
        }
        this.emitTooLong();
        pos = lf + 1;
        continue;
      }
      // The record runs past this chunk: keep only its tail, with offsets made relative to the carry.
      this.keepTail(chunk, pos, len);
      return;
    }
  }

  /**
   * Grows the carried record with the chunk, one line at a time so that no more than the record is copied.
   * Returns where the chunk's own records start, or -1 when the whole chunk was consumed.
   */
  private feedCarry(chunk: Uint8Array, pos: number): number {
    const len = chunk.length;
    const cap = this.maxLineBytes + 2;
    for (;;) {
      const lf = chunk.indexOf(LF, pos);
      let segEnd = lf < 0 ? len : lf + 1;
      const room = cap - this.carryLen;
      if (segEnd - pos > room) segEnd = pos + room;
      this.appendCarry(chunk, pos, segEnd);
      pos = segEnd;
      const r = this.parse(this.carry, 0, this.carryParsed, this.carryLen);
      if (r >= 0) {
        this.carryLen = 0;
        return pos;
      }
      if (r === OVERFLOW) {
        const carried = this.carryLen;
        this.carryLen = 0;
        // An LF past the content limit that a quoted field took as data ends the line after all (see parse). It
        // can only be in the segment just appended, so the bytes after it are still in this chunk.
        const k = this.carry.subarray(0, carried).indexOf(LF, this.maxLineBytes);
        if (k >= 0) {
          this.emitTooLong();
          return pos - (carried - k - 1);
        }
        const next = chunk.indexOf(LF, pos);
        if (next < 0) {
          this.skipping = true;
          return -1;
        }
        this.emitTooLong();
        return next + 1;
      }
      this.carryParsed = this.carryLen;
      if (pos >= len) return -1;
    }
  }

  private appendCarry(src: Uint8Array, start: number, end: number): void {
    const need = this.carryLen + (end - start);
    if (need > this.carry.length) {
      let size = Math.max(this.carry.length * 2, 4096);
      while (size < need) size *= 2;
      const grown = new Uint8Array(Math.min(size, Math.max(need, this.maxLineBytes + 2)));
      grown.set(this.carry.subarray(0, this.carryLen));
      this.carry = grown;
    }
    this.carry.set(src.subarray(start, end), this.carryLen);
    this.carryLen = need;
  }

  private keepTail(chunk: Uint8Array, start: number, end: number): void {
    this.carryLen = 0;
    this.appendCarry(chunk, start, end);
    this.carryParsed = end - start;
    const rec = this.rec;
    for (let k = 0; k < this.nf; k++) {
      rec.starts[k] -= start;
      rec.ends[k] -= start;
    }
    this.fs -= start;
  }

  private resetState(): void {
    this.st = ST_START;
    this.nf = 0;
    this.fs = 0;
    this.ff = 0;
    this.hi = 0;
    this.bad = BAD_NONE;
  }

  private grow(): void {
    const rec = this.rec;
    const n = rec.starts.length * 2;
    const starts = new Int32Array(n);
    const ends = new Int32Array(n);
    const flags = new Uint8Array(n);
    starts.set(rec.starts);
    ends.set(rec.ends);
    flags.set(rec.flags);
    rec.starts = starts;
    rec.ends = ends;
    rec.flags = flags;
  }

  /**
   * Parses one record of `buf` starting at `recStart`, resuming at `pos` with the saved state. Returns the
   * index just past its LF once the record is complete (and delivered), NEED_MORE at `end` (state saved), or
   * OVERFLOW once maxLineBytes + 2 bytes (content, CR, LF) have not completed it.
   */
  private parse(buf: Uint8Array, recStart: number, pos: number, end: number): number {
    const limit = recStart + this.maxLineBytes + 2;
    const stop = end < limit ? end : limit;
    const rec = this.rec;
    let starts = rec.starts;
    let ends = rec.ends;
    let flags = rec.flags;
    let cap = starts.length;
    let st = this.st;
    let nf = this.nf;
    let fs = this.fs;
    let ff = this.ff;
    let hi = this.hi;
    let bad = this.bad;
    let i = pos;
    let c = 0;
    for (;;) {
      if (st === ST_START) {
        if (i >= stop) break;
        if (buf[i] === QUOTE) {
          fs = i + 1;
          ff = FIELD_QUOTED;
          st = ST_QUOTED;
          i++;
        } else {
          fs = i;
          ff = 0;
          st = ST_UNQUOTED;
        }
      }
      if (st === ST_UNQUOTED) {
        // Every structural byte (, " LF CR) is below 45 and most data bytes are not: one compare per byte.
        while (i < stop) {
          c = buf[i];
          if (c < 45 && (c === COMMA || c === LF || c === QUOTE)) break;
          hi |= c;
          i++;
        }
        if (i >= stop) break;
        if (c === COMMA) {
          if (nf === cap) {
            this.grow();
            starts = rec.starts;
            ends = rec.ends;
            flags = rec.flags;
            cap = starts.length;
          }
          starts[nf] = fs;
          ends[nf] = i;
          flags[nf] = ff;
          nf++;
          st = ST_START;
          i++;
          continue;
        }
        if (c === LF) {
          let fe = i;
          let term = 1;
          if (fe > fs && buf[fe - 1] === CR) {
            fe--;
            term = 2;
          }
          if (nf === cap) {
            this.grow();
            starts = rec.starts;
            ends = rec.ends;
            flags = rec.flags;
          }
          starts[nf] = fs;
          ends[nf] = fe;
          flags[nf] = ff;
          nf++;
          this.deliver(buf, recStart, fe, term, nf, hi, bad);
          return i + 1;
        }
        // A quote inside an unquoted field: RFC 4180 forbids it; keep it as data and flag the record.
        if (bad === BAD_NONE) bad = BAD_STRAY_QUOTE;
        hi |= c;
        i++;
        continue;
      }
      if (st === ST_QUOTED) {
        while (i < stop) {
          c = buf[i];
          if (c === QUOTE) break;
          hi |= c;
          i++;
        }
        if (i >= stop) break;
        i++;
        st = ST_QUOTE_SEEN;
      }
      if (st === ST_QUOTE_SEEN) {
        if (i >= stop) break;
        c = buf[i];
        if (c === QUOTE) {
          ff |= FIELD_ESCAPED;
          st = ST_QUOTED;
          i++;
          continue;
        }
        if (c === COMMA || c === LF) {
          if (nf === cap) {
            this.grow();
            starts = rec.starts;
            ends = rec.ends;
            flags = rec.flags;
            cap = starts.length;
          }
          starts[nf] = fs;
          ends[nf] = i - 1;
          flags[nf] = ff;
          nf++;
          if (c === LF) {
            this.deliver(buf, recStart, i, 1, nf, hi, bad);
            return i + 1;
          }
          st = ST_START;
          i++;
          continue;
        }
        if (c === CR) {
          st = ST_QUOTE_CR;
          i++;
          continue;
        }
        // Text after a closing quote: flag the record and read on as an unquoted field.
        if (bad === BAD_NONE) bad = BAD_AFTER_QUOTE;
        st = ST_UNQUOTED;
        continue;
      }
      if (st === ST_QUOTE_CR) {
        if (i >= stop) break;
        if (buf[i] === LF) {
          if (nf === cap) {
            this.grow();
            starts = rec.starts;
            ends = rec.ends;
            flags = rec.flags;
          }
          starts[nf] = fs;
          ends[nf] = i - 2;
          flags[nf] = ff;
          nf++;
          this.deliver(buf, recStart, i - 1, 2, nf, hi, bad);
          return i + 1;
        }
        if (bad === BAD_NONE) bad = BAD_AFTER_QUOTE;
        st = ST_UNQUOTED;
        continue;
      }
    }
    if (i >= limit) {
      // Resynchronise at the first LF past the allowed content, even one a quoted field took as data: a line
      // one byte too long with an open quote must not take the next line with it.
      this.overflowAt = recStart + this.maxLineBytes;
      return OVERFLOW;
    }
    this.st = st;
    this.nf = nf;
    this.fs = fs;
    this.ff = ff;
    this.hi = hi;
    this.bad = bad;
    return NEED_MORE;
  }

  /** Completes the carried record at end of input. */
  private finishAtEof(): void {
    const buf = this.carry;
    let end = this.carryLen;
    this.carryLen = 0;
    const rec = this.rec;
    let nf = this.nf;
    let bad = this.bad;
    let fe = end;
    switch (this.st) {
      case ST_QUOTED:
        bad = BAD_UNTERMINATED;
        break;
      case ST_QUOTE_SEEN:
        fe = end - 1;
        break;
      case ST_QUOTE_CR:
        fe = end - 2;
        end--;
        break;
      case ST_START:
        // After a trailing comma: one more, empty, field.
        this.fs = end;
        this.ff = 0;
        break;
      default:
        // A last line without LF may still end in CR.
        if (end > this.fs && buf[end - 1] === CR) {
          end--;
          fe = end;
        }
    }
    if (nf === rec.starts.length) this.grow();
    rec.starts[nf] = this.fs;
    rec.ends[nf] = fe;
    rec.flags[nf] = this.ff;
    nf++;
    this.deliver(buf, 0, end, 0, nf, this.hi, bad);
  }

  private deliver(
    buf: Uint8Array,
    start: number,
    end: number,
    terminator: number,
    nf: number,
    hi: number,
    bad: number,
  ): void {
    this.recordNo++;
    // A blank line is not a record (most CSV writers end files with one); it still takes a record number.
    if (nf === 1 && end === start && this.rec.flags[0] === 0 && bad === BAD_NONE) return;
    if (end - start > this.maxLineBytes) {
      // Completed within the scan window but still over the limit: treated exactly like an overflow.
      this.recordNo--;
      this.emitTooLong();
      return;
    }
    const rec = this.rec;
    rec.no = this.recordNo;
    rec.buf = buf;
    rec.start = start;
    rec.end = end;
    rec.terminator = terminator;
    rec.count = nf;
    rec.error = null;
    if (bad !== BAD_NONE) {
      rec.error = 'quote';
      rec.message =
        bad === BAD_STRAY_QUOTE
          ? 'a double quote inside an unquoted field'
          : bad === BAD_AFTER_QUOTE
            ? 'text after the closing quote of a field'
            : 'a quoted field is not closed before the end of the file';
    } else if (hi & 0x80 && !isUtf8(buf.subarray(start, end))) {
      rec.error = 'encoding';
      rec.message = 'the record is not valid UTF-8';
    }
    this.onRecord(rec);
  }

  private emitTooLong(): void {
    this.recordNo++;
    const rec = this.rec;
    rec.no = this.recordNo;
    rec.buf = new Uint8Array(0);
    rec.start = 0;
    rec.end = 0;
    rec.terminator = 1;
    rec.count = 0;
    rec.error = 'line-too-long';
    rec.message = `the record is longer than ${this.maxLineBytes} bytes`;
    this.onRecord(rec);
  }
}
