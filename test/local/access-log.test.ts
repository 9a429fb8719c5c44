import { renderAccessLog } from '../../lib/local/api-gateway';
import { accessLogFormat } from '../../lib/constructs/inference-api';

/**
 * The local API Gateway renders access log lines from each stage's format parsed once (renderAccessLog): the lines
 * must be those of the format's every `$context.<name>` replaced in place, as it rendered them before.
 */

/**
 * The rendering as it was: a regular expression replace over the whole format for every line (and
 * `$context.error.messageString`, the message as a quoted JSON string, as API Gateway substitutes it).
 */
function reference(format: string, values: Readonly<Record<string, string>>): string {
  return format.replace(/\$context\.([A-Za-z0-9_.]+)/g, (_all, name: string) => {
    const key = name.replace(/\.$/, '');
    if (key === 'error.messageString') return JSON.stringify(values['error.message'] ?? '-');
    const v = values[key] ?? '-';
    return JSON.stringify(v).slice(1, -1);
  });
}

const VALUES: Readonly<Record<string, string>> = {
  requestId: 'c0ffee00-0000-4000-8000-000000000001',
  extendedRequestId: 'AbC=',
  httpMethod: 'POST',
  resourcePath: '/v1/predict',
  status: '200',
  protocol: 'HTTP/1.1',
  responseLength: '512',
  requestTime: '27/Nov/2026:13:20:00 +0000',
  'identity.sourceIp': '127.0.0.1',
  'identity.caller': 'AKIALOCAL',
  'identity.userAgent': 'curl/8 "quoted" \\ back\tslash\n',
  'error.message': 'Invalid request body: "records" \u0000 \u001f \u2028 \ud800 lone, \ud83d\ude00 paired',
  'error.responseType': '-',
  'integration.latency': '3',
  empty: '',
};

const FORMATS: readonly string[] = [
  // What the inference API's stage deploys.
  accessLogFormat(),
  // The message both ways, and messageString where a sentence ends.
  '{"m":$context.error.messageString,"raw":"$context.error.message"} $context.error.messageString.',
  // CLF-like, a variable ending a sentence, names run together and repeated.
  '$context.identity.sourceIp - $context.identity.caller [$context.requestTime] "$context.httpMethod ' +
    '$context.resourcePath $context.protocol" $context.status $context.responseLength $context.requestId',
  'Request $context.requestId. Status $context.status.. Done $context.status',
  '$context.status$context.status$context.httpMethod',
  // Unknown variables, a bare `$context.`, `$context` alone, other dollars and an empty value.
  '{"a":"$context.nope","b":"$context.","c":"$context","d":"$$context.status$","e":"$context.empty"}',
  // Values that need escaping inside JSON quotes.
  '{"ua":"$context.identity.userAgent","err":"$context.error.message"}',
  'no variables at all',
  '',
  '$context.status',
  'trailing $context.identity.',
  'prototype names $context.hasOwnProperty2 $context.__proto__',
];

it('renders every format as the regular expression replace did', () => {
  for (const format of FORMATS) {
    // Twice: the first parses the format, the second renders from the parsed one.
    expect(renderAccessLog(format, VALUES)).toBe(reference(format, VALUES));
    expect(renderAccessLog(format, VALUES)).toBe(reference(format, VALUES));
    expect(renderAccessLog(format, {})).toBe(reference(format, {}));
  }
});

it('keeps a JSON format valid JSON whatever the values', () => {
  const line = renderAccessLog(accessLogFormat(), VALUES);
  const parsed = JSON.parse(line) as Record<string, string>;
  expect(JSON.parse(renderAccessLog(accessLogFormat(), {}))).toMatchObject({
    errorMessage: '-',
    status: '-',
  });
  expect(parsed.userAgent).toBe(VALUES['identity.userAgent']);
  expect(parsed.errorMessage).toBe(VALUES['error.message']);
  expect(parsed.xrayTraceId).toBe('-');
  expect(parsed.integrationLatency).toBe('3');
});

it('throws where the regular expression replace threw (a name reaching a function of Object.prototype)', () => {
  const format = 'x $context.constructor y';
  expect(() => reference(format, VALUES)).toThrow(TypeError);
  expect(() => renderAccessLog(format, VALUES)).toThrow(TypeError);
});
