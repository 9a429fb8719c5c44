import { createHash } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { RequestSigner, type SignableRequest, type SigningCredentials } from '../../lambdas/shared/sigv4';
import { TEST_SEED } from '../fuzz/run';

/**
 * RequestSigner (SignedInvoker's signer) against @smithy/signature-v4, the signer the SDK's clients use, with
 * its defaults: the same headers, byte for byte, for generated requests, credentials and times.
 */

async function smithy(
  request: SignableRequest,
  credentials: SigningCredentials,
  region: string,
  service: string,
  now: Date,
): Promise<Record<string, string>> {
  const signed = await new SignatureV4({ credentials, region, service, sha256: Sha256 }).sign(
    new HttpRequest({
      method: request.method,
      protocol: 'https:',
      hostname: 'runtime.sagemaker.us-east-1.amazonaws.com',
      path: request.path,
      headers: { ...request.headers },
      body: request.body,
    }),
    { signingDate: now },
  );
  return signed.headers as Record<string, string>;
}

const segment = fc.oneof(
  fc.constantFrom('endpoints', 'invocations', 'devmlops-endpoint', '.', '..', ''),
  fc.string({ maxLength: 6 }).map(encodeURIComponent),
  fc.string({ unit: fc.constantFrom(...'aZ09-_.~!*()%20é'), maxLength: 6 }),
);
const pathArb = fc
  .tuple(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([parts, slash]) => `/${parts.join('/')}${slash ? '/' : ''}`);
const valueArb = fc.oneof(
  fc.constantFrom('text/csv', 'application/json', 'request-42', ' a  b\t c ', 'x\r\ny', '0'),
  fc.string({ unit: fc.constantFrom(...'ab \t,;=-/'), maxLength: 12 }),
);
const headersArb = fc
  .dictionary(
    fc.oneof(
      fc.constantFrom(
        'content-type',
        'accept',
        'content-length',
        'x-amzn-sagemaker-inference-id',
        'x-amzn-sagemaker-target-variant',
        'user-agent',
        'x-amzn-trace-id',
        'proxy-authorization',
        'sec-fetch-mode',
        'expect',
        'x-amz-date',
        'authorization',
        'date',
      ),
      fc.string({ unit: fc.constantFrom(...'abcxyz-'), minLength: 1, maxLength: 8 }),
    ),
    valueArb,
    { maxKeys: 6 },
  )
  .map((h) => ({ host: 'runtime.sagemaker.us-east-1.amazonaws.com', ...h }));
const credentialsArb = fc.record(
  {
    accessKeyId: fc.constantFrom('AKIDEXAMPLE', 'ASIA0000000000000000'),
    secretAccessKey: fc.string({ minLength: 1, maxLength: 40 }),
    sessionToken: fc.constantFrom('token/with+chars==', ''),
  },
  { requiredKeys: ['accessKeyId', 'secretAccessKey'] },
);

describe('RequestSigner', () => {
  it('signs as @smithy/signature-v4 does', async () => {
    await fc.assert(
      fc.asyncProperty(
        pathArb,
        headersArb,
        fc.uint8Array({ maxLength: 300 }),
        credentialsArb,
        fc.constantFrom('us-east-1', 'eu-west-1'),
        fc.constantFrom('sagemaker', 'execute-api'),
        fc.date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }),
        fc.boolean(),
        async (path, headers, body, credentials, region, service, now, hashed) => {
          // A payload hash the caller already set is used as it is.
          const withHash = hashed
            ? { ...headers, 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex') }
            : headers;
          const request = { method: 'POST', path, headers: withHash, body };
          const signer = new RequestSigner(region, service);
          expect(signer.sign(request, credentials, now)).toEqual(
            await smithy(request, credentials, region, service, now),
          );
        },
      ),
      { seed: TEST_SEED, numRuns: 1500 },
    );
  });

  it('signs with the right key when the day or the secret changes (the keys are cached)', async () => {
    const signer = new RequestSigner('us-east-1', 'sagemaker');
    const request = {
      method: 'POST',
      path: '/endpoints/e/invocations',
      headers: { host: 'h' },
      body: Buffer.from('1,2\n'),
    };
    const day1 = new Date('2026-11-27T23:59:59Z');
    const day2 = new Date('2026-11-28T00:00:01Z');
    const a = { accessKeyId: 'AKID', secretAccessKey: 'one' };
    const b = { accessKeyId: 'AKID', secretAccessKey: 'two' };
    for (const [credentials, now] of [
      [a, day1],
      [a, day2],
      [b, day2],
      [a, day2],
    ] as const)
      expect(signer.sign(request, credentials, now)).toEqual(
        await smithy(request, credentials, 'us-east-1', 'sagemaker', now),
      );
  });

  it('refuses what it cannot sign', () => {
    const signer = new RequestSigner('us-east-1', 'sagemaker');
    const request = { method: 'POST', path: '/', headers: { Host: 'h' }, body: new Uint8Array() };
    expect(() => signer.sign(request, { accessKeyId: 'a', secretAccessKey: 's' })).toThrow(
      'header names must be lower case: Host',
    );
    expect(() =>
      signer.sign({ ...request, headers: {} }, { accessKeyId: 'a' } as unknown as SigningCredentials),
    ).toThrow('Resolved credential object is not valid');
    expect(() => new RequestSigner('', 'sagemaker')).toThrow('needs a region and a service');
  });
});
