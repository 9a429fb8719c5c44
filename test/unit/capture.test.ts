import { CaptureParser, parseCapture } from '../../lambdas/core/capture';
import { featureSpec, type FeatureSpec } from '../../lambdas/core/encoding';
import { parseDatasetSchema } from '../../lambdas/core/schema';

/** Three features: a number, a category (3 values) and a boolean; a three-class target. */
const spec: FeatureSpec = featureSpec(
  parseDatasetSchema({
    name: 'cap',
    target: 'y',
    fields: [
      { name: 'x', type: 'number' },
      { name: 'c', type: 'string', constraints: { enum: ['a', 'b', 'c'] } },
      { name: 'f', type: 'boolean' },
      { name: 'y', type: 'string', constraints: { enum: ['lo', 'mid', 'hi'] } },
    ],
  }),
);

const NaN_ = Number.NaN;

type Section = { data: unknown; encoding?: string; observedContentType?: string };

/** One capture record line in the exact SageMaker layout (DESIGN.md section 7). */
function record(input?: Section, output?: Section): string {
  const captureData: Record<string, unknown> = {};
  if (input)
    captureData.endpointInput = { observedContentType: 'text/csv', mode: 'INPUT', encoding: 'CSV', ...input };
  if (output)
    captureData.endpointOutput = {
      observedContentType: 'text/csv; charset=utf-8',
      mode: 'OUTPUT',
      encoding: 'CSV',
      ...output,
    };
  return JSON.stringify({
    captureData,
    eventMetadata: {
      eventId: 'b8f2c3d4-0000-4000-8000-000000000001',
      inferenceId: 'i-1',
      inferenceTime: '2026-01-01T12:00:00Z',
    },
    eventVersion: '0',
  });
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('CaptureParser: encodings', () => {
  it('reads a CSV record with one row and its prediction', () => {
    const r = parseCapture(spec, [record({ data: '1.5,2,1\n' }, { data: '0.83' }) + '\n']);
    expect(r.rows).toEqual([[1.5, 2, 1]]);
    expect(r.predictions).toEqual([0.83]);
    expect(r.stats).toEqual({
      records: 1,
      rows: 1,
      predictions: 1,
      malformedLines: 0,
      wrongColumnRows: 0,
      invalidValues: 0,
    });
  });

  it('splits several CSV rows in one record, with CRLF, blank rows and missing cells', () => {
    const r = parseCapture(spec, [record({ data: '1,0,0\r\n2,,1\n\n,2,\n' }, { data: '0.1\n0.2\n0.3\n' })]);
    expect(r.rows).toEqual([
      [1, 0, 0],
      [2, NaN_, 1],
      [NaN_, 2, NaN_],
    ]);
    expect(r.predictions).toEqual([0.1, 0.2, 0.3]);
  });

  it('unescapes CSV data holding other escapes (quotes, unicode)', () => {
    // JSON.stringify escapes the quotes; the output's "0" is rewritten as the escape \u0030.
    const line = record({ data: '"3",b,1\n4,"c",0' }, { data: '0.5' }).replace('"0.5"', '"\\u0030.5"');
    expect(line).toContain('\\u0030.5');
    const r = parseCapture(spec, [line]);
    expect(r.rows).toEqual([
      [3, 1, 1],
      [4, 2, 0],
    ]);
    expect(r.predictions).toEqual([0.5]);
  });

  it('reads JSON payloads given as a string or inline, in the usual shapes', () => {
    const json = { encoding: 'JSON', observedContentType: 'application/json' };
    const lines = [
      record({
        ...json,
        data: JSON.stringify({
          instances: [
            [1, 'b', true],
            [2, 0, null],
          ],
        }),
      }),
      record({ ...json, data: [[3, 2, 0]] }, { ...json, data: { predictions: [{ score: 0.7 }] } }),
      record({ ...json, data: JSON.stringify([4, 1, 1]) }, { ...json, data: '[0.25]' }),
      record({ ...json, data: { instances: [{ features: [5, 0, 0] }] } }, { ...json, data: 0.9 }),
      record({ ...json, data: { features: [6, 'zzz', 1] } }, { ...json, data: [[0.1, 0.7, 0.2]] }),
    ];
    const r = parseCapture(spec, [lines.join('\n')]);
    expect(r.stats.malformedLines).toBe(0);
    expect(r.rows).toEqual([
      [1, 1, 1],
      [2, 0, NaN_],
      [3, 2, 0],
      [4, 1, 1],
      [5, 0, 0],
      [6, 3, 1], // an unknown category goes to the unseen bucket (index 3)
    ]);
    // The last output is one row's class probabilities: its argmax, class 1.
    expect(r.predictions).toEqual([0.7, 0.25, 0.9, 1]);
  });

  it('decodes BASE64 payloads holding CSV or JSON', () => {
    const lines = [
      record(
        { data: b64('7,1,0\n8,2,1\n'), encoding: 'BASE64' },
        { data: b64('0.4\n0.6'), encoding: 'BASE64' },
      ),
      record(
        { data: b64('{"instances":[[9,0,1]]}'), encoding: 'BASE64', observedContentType: 'application/json' },
        { data: b64('{"predictions":[0.3]}'), encoding: 'BASE64', observedContentType: 'application/json' },
      ),
    ];
    const r = parseCapture(spec, [lines.join('\n') + '\n']);
    expect(r.rows).toEqual([
      [7, 1, 0],
      [8, 2, 1],
      [9, 0, 1],
    ]);
    expect(r.predictions).toEqual([0.4, 0.6, 0.3]);
    expect(r.stats.records).toBe(2);
  });

  it('takes the argmax of a multiclass CSV output and reads a comma-joined batch as several outputs', () => {
    const r = parseCapture(spec, [
      record({ data: '1,0,0\n2,0,0' }, { data: '0.1,0.2,0.7\n0.5,0.3,0.2' }) + '\n',
      record({ data: '1,0,0\n2,0,0' }, { data: '0.9,0.8' }),
    ]);
    expect(r.predictions).toEqual([2, 0, 0.9, 0.8]);
  });

  it('accepts a record with only an output or only an input', () => {
    const r = parseCapture(spec, [
      [record(undefined, { data: '0.5' }), record({ data: '1,1,1' })].join('\n'),
    ]);
    expect(r.stats).toMatchObject({ records: 2, rows: 1, predictions: 1, malformedLines: 0 });
  });
});

describe('CaptureParser: bad input is counted, never thrown', () => {
  const good = record({ data: '1,1,1\n' }, { data: '0.5' });

  it.each([
    ['not JSON', 'hello world'],
    ['truncated', good.slice(0, good.length - 7)],
    ['a JSON array', '[1,2,3]'],
    ['no captureData', '{"eventVersion":"0"}'],
    ['captureData without sections', '{"captureData":{}}'],
    ['an unknown encoding', record({ data: '1,1,1', encoding: 'XML' })],
    ['invalid base64', record({ data: '!!not base64!!', encoding: 'BASE64' })],
    ['unparseable JSON payload', record({ data: '{"instances": [1,', encoding: 'JSON' })],
    ['JSON payload without rows', record({ data: '{"hello": 1}', encoding: 'JSON' })],
    ['a section without data', '{"captureData":{"endpointInput":{"encoding":"CSV"}}}'],
    ['trailing garbage', good + ' x'],
    ['a bad escape', good.replace('1,1,1', '1,1\\q1')],
    ['two records on one line', good + good],
  ])('skips %s', (_what, bad) => {
    const r = parseCapture(spec, [`${good}\n${bad}\n${good}\n`]);
    expect(r.stats).toMatchObject({ records: 2, rows: 2, predictions: 2, malformedLines: 1 });
    expect(r.rows).toEqual([
      [1, 1, 1],
      [1, 1, 1],
    ]);
  });

  it('counts rows with the wrong number of columns and keeps the good rows of the record', () => {
    const r = parseCapture(spec, [record({ data: '1,1\n2,2,1\n3,3,3,3\n4,0,0' })]);
    expect(r.rows).toEqual([
      [2, 2, 1],
      [4, 0, 0],
    ]);
    expect(r.stats).toMatchObject({ records: 1, rows: 2, wrongColumnRows: 2, malformedLines: 0 });
  });

  it('counts non-numeric values and outputs', () => {
    const r = parseCapture(spec, [record({ data: 'abc,1,1' }, { data: 'yes' })]);
    expect(r.rows).toEqual([[NaN_, 1, 1]]);
    expect(r.predictions).toEqual([]);
    expect(r.stats.invalidValues).toBe(2);
  });

  it('ignores blank lines and reads a last line without a newline', () => {
    const r = parseCapture(spec, [`\n\n${good}\n   \n${good}`]);
    expect(r.stats).toMatchObject({ records: 2, malformedLines: 0 });
  });

  it('skips a line longer than the limit and carries on', () => {
    const rows: number[][] = [];
    const p = new CaptureParser(
      spec,
      { addRow: (v) => rows.push(Array.from(v)), addPrediction: () => undefined },
      { maxLineChars: 500 },
    );
    const long = record({ data: '1,1,1\n'.repeat(200) });
    p.push(`${good}\n`);
    for (let i = 0; i < long.length; i += 100) p.push(long.slice(i, i + 100));
    p.push(`\n${good}\n`);
    expect(p.end()).toMatchObject({ records: 2, rows: 2, malformedLines: 1 });
  });

  it('never throws on random corruption, and flags every line JSON.parse rejects', () => {
    // A seeded LCG keeps this reproducible.
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const alphabet = '{}[]",:\\ 0123456789abcdeflnrstu-.';
    for (let i = 0; i < 2000; i++) {
      const chars = good.split('');
      const edits = 1 + Math.floor(rnd() * 3);
      for (let e = 0; e < edits; e++)
        chars[Math.floor(rnd() * chars.length)] = alphabet[Math.floor(rnd() * alphabet.length)];
      const line = chars.join('');
      let validJson = true;
      try {
        JSON.parse(line);
      } catch {
        validJson = false;
      }
      const r = parseCapture(spec, [line]);
      if (!validJson) expect(r.stats).toMatchObject({ records: 0, malformedLines: 1, rows: 0 });
      else expect(r.stats.records + r.stats.malformedLines).toBe(1);
    }
  });
});

describe('CaptureParser: streaming', () => {
  it('gives the same result for any chunking of the bytes, multi-byte characters included', () => {
    const text =
      [
        record({ data: '1,0,1\n2,1,0' }, { data: '0.1\n0.2' }),
        // Non-ASCII metadata and an unknown category name with multi-byte characters.
        record({ data: '3,Ωmega,1' }, { data: '0.3' }).replace('i-1', 'ünïcødé-😀'),
        'garbage',
        record({ data: b64('4,2,0'), encoding: 'BASE64' }, { data: '0.4' }),
      ].join('\n') + '\n';
    const bytes = Buffer.from(text, 'utf8');
    const whole = parseCapture(spec, [bytes]);
    expect(whole.stats).toMatchObject({ records: 3, rows: 4, predictions: 4, malformedLines: 1 });
    expect(whole.rows[2]).toEqual([3, 3, 1]);
    for (const size of [1, 2, 3, 7, 64]) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      expect(parseCapture(spec, chunks)).toEqual(whole);
    }
    expect(parseCapture(spec, [text.slice(0, 100), text.slice(100)])).toEqual(whole);
  });
});
