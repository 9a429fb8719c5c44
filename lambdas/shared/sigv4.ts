import { createHash, createHmac } from 'node:crypto';

/** What a request is signed with (the default credential chain's answer). */
export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** One request to sign: a path without a query string, headers with lower-case names, the whole body. */
export interface SignableRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** Headers @smithy/signature-v4 never signs, and the ones it writes itself. */
const UNSIGNABLE = new Set([
  'authorization',
  'cache-control',
  'connection',
  'expect',
  'from',
  'keep-alive',
  'max-forwards',
  'pragma',
  'referer',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'x-amzn-trace-id',
]);
const GENERATED = new Set(['authorization', 'x-amz-date', 'date']);

/**
 * SigV4 header signing of a request with its body in hand, exactly as @smithy/signature-v4 signs it with its
 * defaults (path escaped twice, `x-amz-content-sha256` added): the same headers, byte for byte, which the tests
 * check against it over generated requests. SignedInvoker signs one InvokeEndpoint per prediction request: with
 * the SDK's signer (a clone of the request, a promise per hash, an HMAC of the secret per call for its key
 * cache) that step took about 70 µs of a 100-record request in the local API, and with this one about 36 µs.
 */
export class RequestSigner {
  constructor(
    private readonly region: string,
    private readonly service: string,
  ) {
    if (region === '' || service === '') throw new Error('RequestSigner needs a region and a service');
  }

  /** The request's headers with x-amz-date, x-amz-security-token, x-amz-content-sha256 and authorization. */
  sign(
    request: SignableRequest,
    credentials: SigningCredentials,
    now: Date = new Date(),
  ): Record<string, string> {
    if (typeof credentials?.accessKeyId !== 'string' || typeof credentials.secretAccessKey !== 'string')
      throw new Error('Resolved credential object is not valid');
    const iso = now.toISOString();
    // 2026-11-27T19:10:00.123Z -> 20261127T191000Z
    const longDate = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
    const shortDate = longDate.slice(0, 8);
    const headers: Record<string, string> = {};
    for (const name of Object.keys(request.headers)) {
      if (name !== name.toLowerCase()) throw new Error(`header names must be lower case: ${name}`);
      if (!GENERATED.has(name)) headers[name] = request.headers[name];
    }
    headers['x-amz-date'] = longDate;
    if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
    const payloadHash = headers['x-amz-content-sha256'] ?? sha256Hex(request.body);
    headers['x-amz-content-sha256'] = payloadHash;
    const signed = Object.keys(headers)
      .filter((name) => !UNSIGNABLE.has(name) && !/^(proxy|sec)-/.test(name))
      .sort();
    let canonicalHeaders = '';
    for (const name of signed) canonicalHeaders += `${name}:${canonicalValue(headers[name])}\n`;
    const signedHeaders = signed.join(';');
    const canonicalRequest = `${request.method}\n${canonicalPath(request.path)}\n\n${canonicalHeaders}\n${signedHeaders}\n${payloadHash}`;
    const scope = `${shortDate}/${this.region}/${this.service}/aws4_request`;
    const signature = createHmac(
      'sha256',
      signingKey(credentials.secretAccessKey, shortDate, this.region, this.service),
    )
      .update(stringToSign(longDate, scope, canonicalRequest))
      .digest('hex');
    headers.authorization =
      `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, ` +
      `SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }
}

/** Signing keys by secret/date/region/service: the four HMACs are the same for a day. */
const signingKeys = new Map<string, Buffer>();

/** SigV4's signing key (kept: the local API Gateway checks with it, RequestSigner signs with it). */
export function signingKey(secret: string, shortDate: string, region: string, service: string): Buffer {
  const id = `${secret}\n${shortDate}\n${region}\n${service}`;
  let key = signingKeys.get(id);
  if (!key) {
    key = hmac(hmac(hmac(hmac(`AWS4${secret}`, shortDate), region), service), 'aws4_request');
    if (signingKeys.size > 100) signingKeys.clear();
    signingKeys.set(id, key);
  }
  return key;
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** SigV4's string to sign for a canonical request, signed at `longDate` (20260101T120000Z) within `scope`. */
export function stringToSign(longDate: string, scope: string, canonicalRequest: string): string {
  return `AWS4-HMAC-SHA256\n${longDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
}

function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A header value as the canonical request has it: line breaks as spaces, runs of blanks as one, no ends. */
function canonicalValue(value: string): string {
  return value
    .replace(/[\r\n]/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
}

/** RFC 3986 encoding, as SigV4 canonical requests use it. */
export function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The canonical URI of a service other than S3: dot segments resolved, then each segment escaped again. */
export function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const s of path.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') segments.pop();
    else segments.push(s);
  }
  const normalized = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return escapeUri(normalized).replace(/%2F/g, '/');
}
