import { parseCapture, CaptureParser } from '../../lambdas/core/capture';
import { CsvReader } from '../../lambdas/core/csv';
import { featureSpec } from '../../lambdas/core/encoding';
import { parseDatasetSchema, SchemaError } from '../../lambdas/core/schema';

/**
 * The counterexamples the fuzz targets found, kept as plain tests so that they run first and read clearly.
 * Each names the target, seed and path that found it.
 */

const enc = new TextEncoder();

function records(text: string, maxLineBytes: number, chunk = 0): string[] {
  const out: string[] = [];
  const reader = new CsvReader({ maxLineBytes }, (rec) => {
    const fields: string[] = [];
    for (let i = 0; i < rec.count; i++)
      fields.push(Buffer.from(rec.buf.subarray(rec.starts[i], rec.ends[i])).toString());
    out.push(rec.error ?? fields.join('|'));
  });
  const bytes = enc.encode(text);
  if (chunk > 0) for (let i = 0; i < bytes.length; i += chunk) reader.push(bytes.slice(i, i + chunk));
  else reader.push(bytes);
  reader.end();
  return out;
}

describe('fuzz regressions', () => {
  // csv-long-lines, seed 20261127, path 2:5:1:1:2:2:...: two lines of nine quotes with maxLineBytes 8 read as one
  // line-too-long record. A line one byte over the limit with an open quote took the next line with it: its LF fell
  // inside the scan window (content + CRLF) and was read as quoted data, so the reader resynchronised one line late.
  it.each([0, 1, 3, 7])(
    'a too-long line with an open quote never takes the next line (chunks of %i)',
    (chunk) => {
      expect(records('"""""""""\n"""""""""', 8, chunk)).toEqual(['line-too-long', 'line-too-long']);
      expect(records('"aaaaaaaa\n1,2\n3,4\n', 8, chunk)).toEqual(['line-too-long', '1|2', '3|4']);
      // A record at the limit whose quote spans the LF: the LF past the limit ends it.
      expect(records('"aaaaaaa\n1,2\n', 8, chunk)).toEqual(['line-too-long', '1|2']);
      // Longer lines always resynchronised at their own LF.
      expect(records('"aaaaaaaaaa\n1,2\n', 8, chunk)).toEqual(['line-too-long', '1|2']);
    },
  );

  const spec = featureSpec(
    parseDatasetSchema({
      name: 'cap',
      target: 'y',
      fields: [
        { name: 'x', type: 'number' },
        { name: 'y', type: 'boolean' },
      ],
    }),
  );
  const line = (output: string) =>
    JSON.stringify({ captureData: { endpointOutput: { mode: 'OUTPUT', data: output, encoding: 'JSON' } } });

  // capture, seed 2, path 233:0:1:4:4:3:3:3:2:2:2:2: an output of [1e999] (JSON.parse makes it Infinity) reached
  // the drift accumulator as a prediction of Infinity.
  it('an over-range JSON number is an invalid output, not a prediction of Infinity', () => {
    const r = parseCapture(spec, [
      `${line('[1e999, -1e999, 0.5]')}\n${line('{"predicted_label": 1e999}')}\n`,
    ]);
    expect(r.predictions).toEqual([0.5]);
    expect(r.stats.invalidValues).toBe(3);
  });

  // capture, seed 1, path 4:0:2:...: with maxLineChars 1, a record read whole from one chunk was parsed, the same
  // record split across two chunks was counted malformed. The limit now applies however the line arrives.
  it('a line over maxLineChars is malformed whether it comes in one chunk or several', () => {
    const text = `${line('0.5')}\n`;
    const read = (chunks: string[]) => {
      const p = new CaptureParser(
        spec,
        { addRow: () => undefined, addPrediction: () => undefined },
        {
          maxLineChars: 10,
        },
      );
      chunks.forEach((c) => p.push(c));
      return p.end();
    };
    const whole = read([text]);
    expect(whole).toMatchObject({ records: 0, malformedLines: 1, predictions: 0 });
    expect(read([text.slice(0, 5), text.slice(5)])).toEqual(whole);
    expect(read([text.slice(0, 20), text.slice(20)])).toEqual(whole);
    expect(read([text])).toEqual(read(Array.from(text)));
  });

  // validator (curated fixpoint), seed 20261127, path 240:84:...: with "true" among the missing values, a boolean
  // cell spelt tRuE was valid and curated as true, which Prepare then reads as missing.
  it('true and false cannot be missing values of a schema with boolean fields', () => {
    const fields = [
      { name: 'x', type: 'boolean' },
      { name: 'y', type: 'integer' },
    ];
    expect(() => parseDatasetSchema({ name: 'd', target: 'y', fields, missingValues: ['', 'true'] })).toThrow(
      SchemaError,
    );
    expect(() => parseDatasetSchema({ name: 'd', target: 'y', fields, missingValues: ['false'] })).toThrow(
      /missingValues: false cannot be a missing value in a schema with boolean fields/,
    );
    const noBooleans = [
      { name: 'x', type: 'string' },
      { name: 'y', type: 'integer' },
    ];
    expect(
      parseDatasetSchema({ name: 'd', target: 'y', fields: noBooleans, missingValues: ['true'] })
        .missingValues,
    ).toEqual(['true']);
  });
});
