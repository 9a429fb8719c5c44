import {
  CsvReader,
  CsvRecord,
  FIELD_ESCAPED,
  type CsvRunFastPath,
  FIELD_QUOTED,
  fieldText,
  unescapeInto,
} from '../../lambdas/core/csv';

interface Got {
  no: number;
  fields: string[];
  error: string | null;
  terminator: number;
  raw: string;
}

const enc = new TextEncoder();
const bytes = (s: string | Uint8Array): Uint8Array => (typeof s === 'string' ? enc.encode(s) : s);

function snapshot(rec: CsvRecord): Got {
  const fields: string[] = [];
  for (let i = 0; i < rec.count; i++) fields.push(fieldText(rec, i));
  return {
    no: rec.no,
    fields,
    error: rec.error,
    terminator: rec.terminator,
    raw: Buffer.from(rec.buf.subarray(rec.start, rec.end)).toString('latin1'),
  };
}

/** Reads `input` split into chunks of `chunk` bytes (or at the given offsets). */
function read(
  input: string | Uint8Array,
  opts: { chunk?: number; splits?: number[]; max?: number } = {},
): Got[] {
  const data = bytes(input);
  const out: Got[] = [];
  const reader = new CsvReader({ maxLineBytes: opts.max ?? 1024 }, (rec) => out.push(snapshot(rec)));
  const cuts = opts.splits ?? [];
  if (opts.chunk) for (let i = opts.chunk; i < data.length; i += opts.chunk) cuts.push(i);
  let prev = 0;
  for (const c of [...cuts, data.length]) {
    reader.push(data.slice(prev, c));
    prev = c;
  }
  reader.end();
  return out;
}

const fields = (got: Got[]): string[][] => got.map((g) => g.fields);

describe('CsvReader: RFC 4180', () => {
  it('reads LF and CRLF records, the last one with or without a line ending', () => {
    expect(fields(read('a,b\n1,2\r\n3,4'))).toEqual([
      ['a', 'b'],
      ['1', '2'],
      ['3', '4'],
    ]);
    const got = read('a,b\n1,2\r\n3,4');
    expect(got.map((g) => g.terminator)).toEqual([1, 2, 0]);
    expect(got.map((g) => g.raw)).toEqual(['a,b', '1,2', '3,4']);
    expect(fields(read('x\r\n'))).toEqual([['x']]);
    expect(fields(read('x\r'))).toEqual([['x']]);
  });

  it('reads quoted fields with commas, newlines, CRLF and escaped quotes', () => {
    const got = read('"a,b","line1\nline2","say ""hi""","crlf\r\ninside"\r\nnext,row\n');
    expect(got[0].fields).toEqual(['a,b', 'line1\nline2', 'say "hi"', 'crlf\r\ninside']);
    expect(got[0].terminator).toBe(2);
    expect(got[0].error).toBeNull();
    expect(got[1]).toMatchObject({ no: 2, fields: ['next', 'row'] });
  });

  it('flags quoted and escaped fields and keeps offsets inside the quotes', () => {
    const recs: { flags: number[]; raw: string[] }[] = [];
    const reader = new CsvReader({ maxLineBytes: 100 }, (rec) => {
      const flags: number[] = [];
      const raw: string[] = [];
      for (let i = 0; i < rec.count; i++) {
        flags.push(rec.flags[i]);
        raw.push(Buffer.from(rec.buf.subarray(rec.starts[i], rec.ends[i])).toString());
      }
      recs.push({ flags, raw });
    });
    reader.push(bytes('plain,"quoted","esc""aped",""\n'));
    reader.end();
    expect(recs[0].flags).toEqual([0, FIELD_QUOTED, FIELD_QUOTED | FIELD_ESCAPED, FIELD_QUOTED]);
    expect(recs[0].raw).toEqual(['plain', 'quoted', 'esc""aped', '']);
    const dst = new Uint8Array(16);
    const src = bytes('a""b""');
    const n = unescapeInto(src, 0, src.length, dst);
    expect(Buffer.from(dst.subarray(0, n)).toString()).toBe('a"b"');
  });

  it('keeps empty fields, a trailing comma and a closing quote at the end of input', () => {
    expect(fields(read(',,\na,\n"q"'))).toEqual([['', '', ''], ['a', ''], ['q']]);
    expect(fields(read('a,'))).toEqual([['a', '']]);
    expect(fields(read('"q"\r'))).toEqual([['q']]);
  });

  it('strips a UTF-8 BOM, also when it arrives one byte at a time', () => {
    const input = '\ufeffa,b\n1,2\n';
    expect(fields(read(input))).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
    expect(fields(read(input, { chunk: 1 }))).toEqual(fields(read(input)));
    // Only a leading BOM is removed: one later in the file is data.
    expect(read('x\n\ufeffy\n')[1].fields).toEqual(['\ufeffy']);
  });

  it('keeps bytes that only start like a BOM', () => {
    const input = Uint8Array.of(0xef, 0xbb, 0x41, 10);
    for (const chunk of [1, 2, 100]) {
      const got = read(input, { chunk });
      expect(got).toHaveLength(1);
      expect(got[0].error).toBe('encoding');
    }
    // Input that ends inside a would-be BOM is data too.
    expect(read(Uint8Array.of(0xef))[0].error).toBe('encoding');
  });

  it('skips blank lines but still counts them in record numbers', () => {
    const got = read('a\n\nb\r\n\r\nc\n\n');
    expect(got.map((g) => [g.no, g.fields[0]])).toEqual([
      [1, 'a'],
      [3, 'b'],
      [5, 'c'],
    ]);
    // A quoted empty field is a record, not a blank line.
    expect(fields(read('a\n""\n'))).toEqual([['a'], ['']]);
  });

  it('numbers records, not lines, when a field spans lines', () => {
    const got = read('h\n"multi\nline"\nlast\n');
    expect(got.map((g) => g.no)).toEqual([1, 2, 3]);
  });

  it('grows past 64 fields in a record', () => {
    const row = Array.from({ length: 300 }, (_, i) => String(i)).join(',');
    const got = read(`${row}\n"${row}"\n${row}`, { chunk: 7, max: 10000 });
    expect(got[0].fields).toHaveLength(300);
    expect(got[0].fields[299]).toBe('299');
    expect(got[1].fields).toEqual([row]);
    expect(got[2].fields).toHaveLength(300);
  });
});

describe('CsvReader: malformed input', () => {
  it('reports an unterminated quote at the end of the file as `quote`', () => {
    const got = read('a,b\n1,"open\nnever closed');
    expect(got).toHaveLength(2);
    expect(got[1].error).toBe('quote');
    expect(got[1].fields).toEqual(['1', 'open\nnever closed']);
  });

  it('reports a stray quote or text after a closing quote as `quote`, and reads on', () => {
    const got = read('ab"c,d\n"x"y,z\nok,1\n');
    expect(got.map((g) => g.error)).toEqual(['quote', 'quote', null]);
    expect(got[2].fields).toEqual(['ok', '1']);
    expect(read('"x"\rz\n')[0].error).toBe('quote');
  });

  it('reports invalid UTF-8 for that record only and accepts valid multibyte text', () => {
    const bad = Uint8Array.of(...bytes('ok,é\n'), 0x61, 0xc3, 0x28, 10, ...bytes('😀,"ü"\n'), 0xff, 10);
    const got = read(bad);
    expect(got.map((g) => g.error)).toEqual([null, 'encoding', null, 'encoding']);
    expect(got[0].fields).toEqual(['ok', 'é']);
    expect(got[2].fields).toEqual(['😀', 'ü']);
    // A multibyte character split across chunks is still valid.
    for (let k = 1; k < bad.length; k++) expect(read(bad, { splits: [k] })).toEqual(got);
    // Overlong encodings and surrogates are not UTF-8.
    expect(read(Uint8Array.of(0xc0, 0xaf, 10))[0].error).toBe('encoding');
    expect(read(Uint8Array.of(0xed, 0xa0, 0x80, 10))[0].error).toBe('encoding');
  });

  it('reports a record over maxLineBytes as `line-too-long` and reads the next one', () => {
    const long = 'x'.repeat(50);
    for (const chunk of [1, 3, 16, 1000]) {
      const got = read(`a,b\n${long},y\nc,d\n`, { max: 20, chunk });
      expect(got.map((g) => [g.no, g.error])).toEqual([
        [1, null],
        [2, 'line-too-long'],
        [3, null],
      ]);
      expect(got[1].fields).toEqual([]);
      expect(got[2].fields).toEqual(['c', 'd']);
    }
  });

  it('accepts a record of exactly maxLineBytes, LF or CRLF, and rejects one byte more', () => {
    const at = 'y'.repeat(20);
    expect(read(`${at}\n${at}\r\n${at}`, { max: 20 }).map((g) => g.error)).toEqual([null, null, null]);
    expect(read(`${at}y\nz\n`, { max: 20 }).map((g) => g.error)).toEqual(['line-too-long', null]);
    expect(read(`${at}y`, { max: 20 }).map((g) => g.error)).toEqual(['line-too-long']);
  });

  it('resynchronises at the next LF after a runaway quote, whatever the quote state', () => {
    const input = `h\n"open ${'z'.repeat(40)}\nnext,1\n"\nafter\n`;
    for (const chunk of [1, 5, 1000]) {
      const got = read(input, { max: 16, chunk });
      // The skipped bytes end at the first LF past the limit, so `next,1` is read as a record and the lone
      // quote after it opens a field that never closes.
      expect(got.map((g) => g.error)).toEqual([null, 'line-too-long', null, 'quote']);
      expect(got[2].fields).toEqual(['next', '1']);
      expect(got[3].fields).toEqual(['\nafter\n']);
    }
  });

  it('never holds more than one capped record, even with no newline at all', () => {
    const max = 1000;
    const reader = new CsvReader({ maxLineBytes: max }, () => undefined);
    const chunk = bytes('"' + 'q'.repeat(4095));
    for (let i = 0; i < 256; i++) reader.push(chunk);
    const internals = reader as unknown as { carry: Uint8Array; skipping: boolean };
    expect(internals.carry.length).toBeLessThanOrEqual(max + 2);
    expect(internals.skipping).toBe(true);
    let errors = 0;
    const counted = new CsvReader({ maxLineBytes: max }, (rec) => (errors += rec.error ? 1 : 0));
    for (let i = 0; i < 256; i++) counted.push(chunk);
    counted.end();
    expect(errors).toBe(1);
  });

  it('rejects a bad maxLineBytes and a push after end', () => {
    expect(() => new CsvReader({ maxLineBytes: 0 }, () => undefined)).toThrow(/maxLineBytes/);
    const reader = new CsvReader({ maxLineBytes: 10 }, () => undefined);
    reader.end();
    expect(() => reader.push(bytes('a'))).toThrow(/after end/);
  });
});

describe('CsvReader: chunking never changes the result', () => {
  const sample =
    '\ufeffid,name,note\r\n' +
    '1,"Smith, J","said ""hi""\nthen left"\r\n' +
    '2,Zoë,😀\n' +
    '\n' +
    '3,"x"y,bad\n' +
    '4,' +
    'w'.repeat(60) +
    ',long\n' +
    '5,"runaway' +
    'r'.repeat(60) +
    '\n6,ok,ok\n' +
    '7,last,"no newline"';
  const data = bytes(sample);
  const whole = read(data, { max: 48 });

  it('has the expected records in one chunk', () => {
    expect(whole.map((g) => [g.no, g.error])).toEqual([
      [1, null],
      [2, null],
      [3, null],
      [5, 'quote'],
      [6, 'line-too-long'],
      [7, 'line-too-long'],
      [8, null],
      [9, null],
    ]);
    expect(whole[1].fields).toEqual(['1', 'Smith, J', 'said "hi"\nthen left']);
    expect(whole[7].fields).toEqual(['7', 'last', 'no newline']);
  });

  it('gives the same records split at every byte offset', () => {
    for (let k = 1; k < data.length; k++) expect(read(data, { max: 48, splits: [k] })).toEqual(whole);
  });

  it('gives the same records in chunks of every size', () => {
    for (let size = 1; size <= 64; size++) expect(read(data, { max: 48, chunk: size })).toEqual(whole);
  });
});

describe('CsvReader: a fast path that takes runs of records', () => {
  /** Takes every record that starts with "f", as many in a row as there are, and notes their numbers. */
  class FRuns implements CsvRunFastPath {
    scanned = 0;
    reader?: CsvReader;
    readonly got: [number, string][] = [];

    fastRecords(buf: Uint8Array, start: number, end: number): number {
      let pos = start;
      let n = 0;
      while (pos < end && buf[pos] === 102) {
        const lf = buf.indexOf(10, pos);
        n++;
        this.got.push([this.reader!.records + n, Buffer.from(buf.subarray(pos, lf)).toString('latin1')]);
        pos = lf + 1;
      }
      this.scanned = n;
      return pos;
    }
  }

  const data = bytes('h,x\nf1,a\nf2,b\nx,2\n\nf3,"q"\nlast,"multi\nline"\nf4,z\nf5\nend,1');
  const plain = read(data).map((g): [number, string] => [g.no, g.raw]);

  it('numbers the records it leaves to the reader as if it took none, in chunks of every size', () => {
    expect(plain).toHaveLength(9);
    for (let size = 1; size <= data.length; size++) {
      const fast = new FRuns();
      const reader = new CsvReader({ maxLineBytes: 100, fastPath: fast }, (rec) =>
        fast.got.push([rec.no, snapshot(rec).raw]),
      );
      fast.reader = reader;
      for (let i = 0; i < data.length; i += size) reader.push(data.slice(i, i + size));
      reader.end();
      expect([...fast.got].sort((a, b) => a[0] - b[0])).toEqual(plain);
      expect(reader.records).toBe(10);
    }
    // In one chunk the fast path takes every "f" record.
    const fast = new FRuns();
    const reader = new CsvReader({ maxLineBytes: 100, fastPath: fast }, () => undefined);
    fast.reader = reader;
    reader.push(data);
    reader.end();
    expect(fast.got.map(([no]) => no)).toEqual([2, 3, 6, 8, 9]);
  });
});
