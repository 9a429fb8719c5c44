import { Buffer } from 'node:buffer';
import { FeatureDecoder, parseNumber, type FeatureSpec } from './encoding';

/**
 * Streaming reader of SageMaker Data Capture files (JSON Lines, DESIGN.md section 7). It never throws on bad
 * input: a line that is not a well-formed capture record is counted in `malformedLines` and skipped, and an
 * input row without one cell per feature is counted in `wrongColumnRows` and skipped.
 *
 * Speed: a capture record is mostly metadata nobody needs. Instead of JSON.parse building an object tree per
 * line, a small validating scanner walks each line in place and keeps only the ranges of the
 * `captureData.endpointInput` and `endpointOutput` fields. It checks the JSON grammar, so a truncated or
 * corrupt line is still caught; the one thing it lets through is a raw control character inside a string,
 * which would cost a look at every character to find and changes nothing we read. CSV payloads are then decoded straight from the line text; JSON.parse runs only
 * on JSON payloads.
 */

/** Where decoded rows and outputs go; a DriftAccumulator is one. */
export interface CaptureSink {
  /** One input row decoded by feature (see FeatureDecoder); the array is reused: copy it to keep it. */
  addRow(values: Float64Array): void;
  /** One model output: a score, a regression value, or a class index (argmax of class probabilities). */
  addPrediction(value: number): void;
}

export interface CaptureStats {
  /** Well-formed capture records (lines). */
  records: number;
  /** Input rows passed on. */
  rows: number;
  /** Outputs passed on. */
  predictions: number;
  /** Non-blank lines that were not a readable capture record (bad JSON, no captureData, bad payload). */
  malformedLines: number;
  /** Input rows skipped for not having one cell per feature. */
  wrongColumnRows: number;
  /** Cells that should have been numbers and were not (counted as missing), and unreadable outputs. */
  invalidValues: number;
}

export interface CaptureOptions {
  /** A line longer than this many characters is counted as malformed and skipped, bounding memory. @default 16 MiB */
  readonly maxLineChars?: number;
}

type Encoding = 'CSV' | 'JSON' | 'BASE64';

const KEY_OTHER = 0;
const KEY_CAPTURE_DATA = 1;
const KEY_INPUT = 2;
const KEY_OUTPUT = 3;
const KEY_DATA = 4;
const KEY_ENCODING = 5;
const KEY_CONTENT_TYPE = 6;

/** The parts of one endpointInput/endpointOutput object that matter, as ranges into the line. */
class Section {
  present = false;
  dataStart = -1;
  dataEnd = -1;
  /** The data is a JSON string (range = its content) rather than a raw JSON value. */
  dataIsString = false;
  dataEscaped = false;
  encoding: Encoding | undefined;
  badEncoding = false;
  /** observedContentType's content range (-1 when absent). */
  typeStart = -1;
  typeEnd = -1;

  reset(): void {
    this.present = false;
    this.dataStart = -1;
    this.dataEnd = -1;
    this.dataIsString = false;
    this.dataEscaped = false;
    this.encoding = undefined;
    this.badEncoding = false;
    this.typeStart = -1;
    this.typeEnd = -1;
  }
}

/** A payload ready to emit: CSV text range or a parsed JSON value. */
interface Payload {
  text: string;
  start: number;
  end: number;
  /** The range still holds JSON string escapes, of which only \n and \r (see csvEscapesSimple). */
  escaped: boolean;
  value: unknown;
  isJson: boolean;
  /** Input rows of a JSON payload. */
  rows: unknown[][] | undefined;
}

const BASE64_RE = /^[A-Za-z0-9+/=\s]*$/;

export class CaptureParser {
  private readonly decoder: FeatureDecoder;
  private readonly row: Float64Array;
  private readonly maxLineChars: number;
  private readonly textDecoder = new TextDecoder('utf-8');
  private readonly numClasses: number;
  private pending = '';
  private skippingLongLine = false;
  private readonly counts: CaptureStats = {
    records: 0,
    rows: 0,
    predictions: 0,
    malformedLines: 0,
    wrongColumnRows: 0,
    invalidValues: 0,
  };

  // Scanner state for the current line.
  private s = '';
  private p = 0;
  private e = 0;
  private strStart = 0;
  private strEnd = 0;
  private strEsc = false;
  /** Position of the next backslash in `s` at or after the last search, or s.length; -1 when unknown. */
  private nextBackslash = -1;
  private readonly input = new Section();
  private readonly output = new Section();
  private hasCaptureData = false;
  private readonly inPayload: Payload = {
    text: '',
    start: 0,
    end: 0,
    escaped: false,
    value: undefined,
    isJson: false,
    rows: undefined,
  };
  private readonly outPayload: Payload = {
    text: '',
    start: 0,
    end: 0,
    escaped: false,
    value: undefined,
    isJson: false,
    rows: undefined,
  };

  constructor(
    readonly spec: FeatureSpec,
    private readonly sink: CaptureSink,
    options: CaptureOptions = {},
  ) {
    this.decoder = new FeatureDecoder(spec);
    this.row = new Float64Array(spec.features.length);
    this.maxLineChars = options.maxLineChars ?? 16 * 1024 * 1024;
    this.numClasses = spec.problem === 'multiclass' ? (spec.target.classes?.length ?? 0) : 0;
  }

  /** Counters so far (a copy). */
  get stats(): CaptureStats {
    return { ...this.counts, invalidValues: this.counts.invalidValues + this.decoder.invalidValues };
  }

  /** Feeds the next piece of one capture file: text, or UTF-8 bytes in any chunking. */
  push(chunk: string | Uint8Array): void {
    const text = typeof chunk === 'string' ? chunk : this.textDecoder.decode(chunk, { stream: true });
    this.feed(text);
  }

  /** End of one file: reads a last line without a newline and returns the counters. */
  end(): CaptureStats {
    this.feed(this.textDecoder.decode());
    const rest = this.pending;
    this.pending = '';
    if (this.skippingLongLine) {
      this.skippingLongLine = false;
      this.counts.malformedLines++;
    } else if (rest.length > 0) {
      this.setBuffer(rest);
      this.line(0, rest.length);
    }
    return this.stats;
  }

  private feed(text: string): void {
    if (text.length === 0) return;
    let start = 0;
    if (this.skippingLongLine || this.pending.length > 0) {
      // Only the line that straddles two chunks is joined; the rest are read in place from the chunk.
      const nl = text.indexOf('\n');
      if (nl < 0) {
        if (!this.skippingLongLine) this.pending += text;
        this.limitPending();
        return;
      }
      if (this.skippingLongLine) {
        this.skippingLongLine = false;
        this.counts.malformedLines++;
      } else {
        const first = this.pending + text.slice(0, nl);
        this.pending = '';
        this.setBuffer(first);
        this.line(0, first.length);
      }
      start = nl + 1;
    }
    this.setBuffer(text);
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      this.line(start, nl);
      start = nl + 1;
    }
    if (start < text.length) {
      this.pending = text.slice(start);
      this.limitPending();
    }
  }

  private limitPending(): void {
    if (this.pending.length > this.maxLineChars) {
      this.pending = '';
      this.skippingLongLine = true;
    }
  }

  private setBuffer(s: string): void {
    this.s = s;
    this.nextBackslash = -1;
  }

  /** One line `s[start, end)` (without its newline). */
  private line(start: number, end: number): void {
    // The limit holds however the line arrived: whole inside one chunk, or joined from several.
    if (end - start > this.maxLineChars) {
      this.counts.malformedLines++;
      return;
    }
    this.p = start;
    this.e = end;
    this.ws();
    if (this.p >= this.e) return; // blank lines are not records
    this.input.reset();
    this.output.reset();
    this.hasCaptureData = false;
    if (
      !this.record() ||
      !this.hasCaptureData ||
      (!this.input.present && !this.output.present) ||
      !this.preparePayload(this.input, this.inPayload) ||
      !this.preparePayload(this.output, this.outPayload)
    ) {
      this.counts.malformedLines++;
      return;
    }
    this.counts.records++;
    if (this.input.present) this.emitInput(this.inPayload);
    if (this.output.present) this.emitOutput(this.outPayload);
  }

  // ---- the scanner: each method returns false on a syntax error ----
  // The line is a range of a larger buffer. Reading one character past its end is harmless: that is the
  // line's '\n' (or NaN at the end of the buffer), which no check but ws() accepts, and ws() is bounded.

  private ws(): void {
    const s = this.s;
    let p = this.p;
    const e = this.e;
    while (p < e) {
      const c = s.charCodeAt(p);
      if (c === 32 || c === 9 || c === 13 || c === 10 || c === 0xfeff) p++;
      else break;
    }
    this.p = p;
  }

  /** The whole line: one object, then nothing but whitespace. */
  private record(): boolean {
    if (this.s.charCodeAt(this.p) !== 123) return false;
    if (!this.object(0)) return false;
    this.ws();
    return this.p === this.e;
  }

  /**
   * An object at `p` (which is '{'). `level` says which keys matter: 0 the record, 1 captureData, 2 an
   * endpointInput/endpointOutput section (`section`).
   */
  private object(level: number, section?: Section): boolean {
    this.p++;
    this.skipWs();
    if (this.s.charCodeAt(this.p) === 125) {
      this.p++;
      return true;
    }
    for (;;) {
      if (this.s.charCodeAt(this.p) !== 34 || !this.str()) return false;
      const id = level < 3 ? this.keyId(level) : KEY_OTHER;
      this.skipWs();
      if (this.s.charCodeAt(this.p) !== 58) return false;
      this.p++;
      this.skipWs();
      const c = this.s.charCodeAt(this.p);
      let ok: boolean;
      if (id === KEY_OTHER) ok = this.value();
      else if (id === KEY_CAPTURE_DATA && c === 123) {
        this.hasCaptureData = true;
        ok = this.object(1);
      } else if ((id === KEY_INPUT || id === KEY_OUTPUT) && c === 123) {
        const sec = id === KEY_INPUT ? this.input : this.output;
        sec.present = true;
        ok = this.object(2, sec);
      } else if (id === KEY_DATA) {
        const sec = section!;
        if (c === 34) {
          ok = this.str();
          sec.dataIsString = true;
          sec.dataStart = this.strStart;
          sec.dataEnd = this.strEnd;
          sec.dataEscaped = this.strEsc;
        } else {
          const from = this.p;
          ok = this.value();
          sec.dataIsString = false;
          sec.dataStart = from;
          sec.dataEnd = this.p;
        }
      } else if (id === KEY_ENCODING && c === 34) {
        ok = this.str();
        const sec = section!;
        sec.encoding = this.encodingName();
        sec.badEncoding = sec.encoding === undefined;
      } else if (id === KEY_CONTENT_TYPE && c === 34) {
        ok = this.str();
        // Looked at only when the encoding leaves the payload's format open.
        section!.typeStart = this.strStart;
        section!.typeEnd = this.strEnd;
      } else ok = this.value();
      if (!ok) return false;
      this.skipWs();
      const d = this.s.charCodeAt(this.p);
      this.p++;
      if (d === 125) return true;
      if (d !== 44) return false;
      this.skipWs();
    }
  }

  /** Which key the string just read is, among those that matter at this level. */
  private keyId(level: number): number {
    const start = this.strStart;
    const len = this.strEnd - start;
    if (level === 0) return this.key(start, len, 'captureData') ? KEY_CAPTURE_DATA : KEY_OTHER;
    if (level === 1) {
      if (this.key(start, len, 'endpointInput')) return KEY_INPUT;
      return this.key(start, len, 'endpointOutput') ? KEY_OUTPUT : KEY_OTHER;
    }
    if (len === 4) return this.key(start, len, 'data') ? KEY_DATA : KEY_OTHER;
    if (len === 8) return this.key(start, len, 'encoding') ? KEY_ENCODING : KEY_OTHER;
    return this.key(start, len, 'observedContentType') ? KEY_CONTENT_TYPE : KEY_OTHER;
  }

  private key(start: number, len: number, name: string): boolean {
    if (len !== name.length) return false;
    const s = this.s;
    for (let i = 0; i < len; i++) if (s.charCodeAt(start + i) !== name.charCodeAt(i)) return false;
    return true;
  }

  /** ws() only when there is whitespace: machine-written JSON rarely has any. */
  private skipWs(): void {
    const c = this.s.charCodeAt(this.p);
    if (c <= 32 || c === 0xfeff) this.ws();
  }

  private encodingName(): Encoding | undefined {
    const len = this.strEnd - this.strStart;
    for (const name of ['CSV', 'JSON', 'BASE64'] as const)
      if (this.key(this.strStart, len, name)) return name;
    const t = this.s.slice(this.strStart, this.strEnd).toUpperCase();
    return t === 'CSV' || t === 'JSON' || t === 'BASE64' ? t : undefined;
  }

  /** Whether a section's content type mentions json (such as application/json), in any case. */
  private mentionsJson(sec: Section): boolean {
    const s = this.s;
    for (let i = sec.typeStart; i >= 0 && i + 4 <= sec.typeEnd; i++) {
      if (
        (s.charCodeAt(i) | 0x20) === 106 &&
        (s.charCodeAt(i + 1) | 0x20) === 115 &&
        (s.charCodeAt(i + 2) | 0x20) === 111 &&
        (s.charCodeAt(i + 3) | 0x20) === 110
      )
        return true;
    }
    return false;
  }

  /** Any JSON value at `p`, skipped. */
  private value(): boolean {
    const c = this.s.charCodeAt(this.p);
    if (c === 34) return this.str();
    if (c === 123) return this.object(3);
    if (c === 91) return this.array();
    if (c === 116) return this.lit('true');
    if (c === 102) return this.lit('false');
    if (c === 110) return this.lit('null');
    return this.num();
  }

  private array(): boolean {
    this.p++;
    this.ws();
    if (this.s.charCodeAt(this.p) === 93) {
      this.p++;
      return true;
    }
    for (;;) {
      if (!this.value()) return false;
      this.ws();
      const d = this.s.charCodeAt(this.p);
      this.p++;
      if (d === 93) return true;
      if (d !== 44) return false;
      this.ws();
    }
  }

  private lit(word: string): boolean {
    if (this.p + word.length > this.e || !this.s.startsWith(word, this.p)) return false;
    this.p += word.length;
    return true;
  }

  private num(): boolean {
    const s = this.s;
    const e = this.e;
    let p = this.p;
    if (s.charCodeAt(p) === 45) p++;
    let c = s.charCodeAt(p);
    if (c === 48) p++;
    else if (c >= 49 && c <= 57) {
      while (p < e && (c = s.charCodeAt(p)) >= 48 && c <= 57) p++;
    } else return false;
    if (p < e && s.charCodeAt(p) === 46) {
      p++;
      const from = p;
      while (p < e && (c = s.charCodeAt(p)) >= 48 && c <= 57) p++;
      if (p === from) return false;
    }
    c = s.charCodeAt(p);
    if (p < e && (c === 101 || c === 69)) {
      p++;
      c = s.charCodeAt(p);
      if (c === 43 || c === 45) p++;
      const from = p;
      while (p < e && (c = s.charCodeAt(p)) >= 48 && c <= 57) p++;
      if (p === from) return false;
    }
    this.p = p;
    return true;
  }

  /**
   * A string at `p` (which is '"'): sets strStart/strEnd (content) and strEsc. Jumps between quotes and
   * backslashes with indexOf rather than looking at every character; the next backslash is cached, so the
   * buffer is searched once per backslash, not once per string.
   */
  private str(): boolean {
    const s = this.s;
    const e = this.e;
    let p = this.p + 1;
    this.strStart = p;
    let esc = false;
    for (;;) {
      const q = s.indexOf('"', p);
      if (q < 0 || q >= e) return false;
      if (this.nextBackslash < p) {
        const b = s.indexOf('\\', p);
        this.nextBackslash = b < 0 ? s.length : b;
      }
      const b = this.nextBackslash;
      if (b > q) {
        this.strEnd = q;
        this.strEsc = esc;
        this.p = q + 1;
        return true;
      }
      esc = true;
      const n = s.charCodeAt(b + 1);
      if (n === 117) {
        for (let i = 2; i < 6; i++) {
          const h = s.charCodeAt(b + i);
          if (!((h >= 48 && h <= 57) || (h >= 65 && h <= 70) || (h >= 97 && h <= 102))) return false;
        }
        p = b + 6;
      } else if (
        n === 34 ||
        n === 92 ||
        n === 47 ||
        n === 98 ||
        n === 102 ||
        n === 110 ||
        n === 114 ||
        n === 116
      )
        p = b + 2;
      else return false;
      if (p > e) return false;
    }
  }

  // ---- payloads ----

  /** Resolves a section's data to CSV text or a JSON value; false when it cannot be read. */
  private preparePayload(sec: Section, out: Payload): boolean {
    if (!sec.present) return true;
    if (sec.dataStart < 0 || sec.badEncoding) return false;
    const s = this.s;
    out.value = undefined;
    out.escaped = false;
    // The encoding field decides; without one, the content type does.
    const encoding = sec.encoding ?? (!sec.dataIsString || this.mentionsJson(sec) ? 'JSON' : 'CSV');
    if (!sec.dataIsString) {
      // A JSON value inline (not a string): only meaningful as a JSON payload.
      if (encoding !== 'JSON') return false;
      return this.setJson(out, s.slice(sec.dataStart, sec.dataEnd));
    }
    if (encoding === 'CSV') {
      out.isJson = false;
      if (!sec.dataEscaped || csvEscapesSimple(s, sec.dataStart, sec.dataEnd)) {
        out.text = s;
        out.start = sec.dataStart;
        out.end = sec.dataEnd;
        out.escaped = sec.dataEscaped;
      } else {
        const text = this.unescape(sec);
        if (text === undefined) return false;
        out.text = text;
        out.start = 0;
        out.end = text.length;
      }
      return true;
    }
    let text = sec.dataEscaped ? this.unescape(sec) : s.slice(sec.dataStart, sec.dataEnd);
    if (text === undefined) return false;
    if (encoding === 'BASE64') {
      if (!BASE64_RE.test(text)) return false;
      text = Buffer.from(text, 'base64').toString('utf8');
      const first = firstNonSpace(text);
      if (first !== '{' && first !== '[' && !this.mentionsJson(sec)) {
        out.isJson = false;
        out.text = text;
        out.start = 0;
        out.end = text.length;
        return true;
      }
    }
    return this.setJson(out, text);
  }

  private setJson(out: Payload, text: string): boolean {
    try {
      out.value = JSON.parse(text) as unknown;
    } catch {
      return false;
    }
    out.isJson = true;
    if (out === this.inPayload) {
      // An input body with no recognisable rows makes the record unreadable: its rows cannot be counted.
      out.rows = jsonRows(out.value);
      return out.rows !== undefined;
    }
    return true;
  }

  private unescape(sec: Section): string | undefined {
    try {
      return JSON.parse(this.s.slice(sec.dataStart - 1, sec.dataEnd + 1)) as string;
    } catch {
      return undefined;
    }
  }

  private emitInput(pl: Payload): void {
    if (!pl.isJson) {
      this.csvRows(pl, true);
      return;
    }
    for (const r of pl.rows ?? []) {
      if (this.decoder.decodeValues(r, this.row)) {
        this.counts.rows++;
        this.sink.addRow(this.row);
      } else this.counts.wrongColumnRows++;
    }
  }

  private emitOutput(pl: Payload): void {
    if (!pl.isJson) {
      this.csvRows(pl, false);
      return;
    }
    this.jsonOutput(pl.value, 0);
  }

  /**
   * Each non-blank row of a CSV payload, as an input row or an output line. With `escaped`, rows are separated
   * by the JSON escape "\n" and "\r" escapes are dropped (the content holds no other escape); otherwise by
   * real newlines.
   */
  private csvRows(pl: Payload, input: boolean): void {
    const t = pl.text;
    const b = pl.end;
    let from = pl.start;
    while (from < b) {
      let to: number;
      let next: number;
      if (pl.escaped) {
        const i = t.indexOf('\\n', from);
        to = i < 0 || i >= b ? b : i;
        next = to + 2;
        while (to - 2 >= from && t.charCodeAt(to - 2) === 92 && t.charCodeAt(to - 1) === 114) to -= 2;
      } else {
        const i = t.indexOf('\n', from);
        to = i < 0 || i >= b ? b : i;
        next = to + 1;
        if (to > from && t.charCodeAt(to - 1) === 13) to--;
      }
      if (to > from) {
        if (!input) this.csvOutputLine(t, from, to);
        else if (this.decoder.decode(t, from, to, this.row)) {
          this.counts.rows++;
          this.sink.addRow(this.row);
        } else this.counts.wrongColumnRows++;
      }
      from = next;
    }
  }

  /** One output line: a single value, the class probabilities of a multiclass model, or a comma-joined batch. */
  private csvOutputLine(t: string, a: number, b: number): void {
    let cells = 1;
    for (let i = a; i < b; i++) if (t.charCodeAt(i) === 44) cells++;
    if (cells > 1 && this.numClasses > 1 && cells === this.numClasses) {
      let best = -Infinity;
      let arg = -1;
      let col = 0;
      let from = a;
      for (let i = a; i <= b; i++) {
        if (i < b && t.charCodeAt(i) !== 44) continue;
        const v = parseNumber(t, from, i);
        if (v > best) {
          best = v;
          arg = col;
        }
        col++;
        from = i + 1;
      }
      this.prediction(arg < 0 ? Number.NaN : arg);
      return;
    }
    let from = a;
    for (let i = a; i <= b; i++) {
      if (i < b && t.charCodeAt(i) !== 44) continue;
      let x = from;
      let y = i;
      while (x < y && t.charCodeAt(x) === 32) x++;
      while (y > x && t.charCodeAt(y - 1) === 32) y--;
      this.prediction(parseNumber(t, x, y));
      from = i + 1;
    }
  }

  private prediction(v: number): void {
    // JSON.parse reads an over-range literal such as 1e999 as Infinity: no score, label or value is infinite.
    if (!Number.isFinite(v)) {
      this.counts.invalidValues++;
      return;
    }
    this.counts.predictions++;
    this.sink.addPrediction(v);
  }

  /** JSON outputs: a number, a list, {predictions: [...]}, {score}, {predicted_label}, or class probabilities. */
  private jsonOutput(v: unknown, depth: number): void {
    if (depth > 4) {
      this.counts.invalidValues++;
      return;
    }
    if (typeof v === 'number') return this.prediction(v);
    if (typeof v === 'string') return this.prediction(parseNumber(v, 0, v.length));
    if (Array.isArray(v)) {
      if (depth > 0 && v.length > 1 && v.every((x) => typeof x === 'number')) {
        // Inside a batch, a list of numbers is one row's class probabilities.
        return this.prediction(argmax(v as number[]));
      }
      for (const x of v) this.jsonOutput(x, depth + 1);
      return;
    }
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ('predictions' in o) return this.jsonOutput(o.predictions, depth);
      if (typeof o.predicted_label === 'number') return this.prediction(o.predicted_label);
      if ('score' in o) return this.jsonOutput(o.score, depth + 1);
      for (const k of ['scores', 'probabilities'])
        if (Array.isArray(o[k])) return this.prediction(argmax(o[k] as number[]));
    }
    this.counts.invalidValues++;
  }
}

function argmax(v: readonly number[]): number {
  let best = -Infinity;
  let arg = Number.NaN;
  v.forEach((x, i) => {
    if (typeof x === 'number' && x > best) {
      best = x;
      arg = i;
    }
  });
  return arg;
}

function firstNonSpace(t: string): string {
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (c !== ' ' && c !== '\n' && c !== '\r' && c !== '\t') return c;
  }
  return '';
}

/** True when every escape in the JSON string content `s[a, b)` is \n or \r, so rows can be cut in place. */
function csvEscapesSimple(s: string, a: number, b: number): boolean {
  let i = s.indexOf('\\', a);
  while (i >= 0 && i < b) {
    const n = s.charCodeAt(i + 1);
    if (n !== 110 && n !== 114) return false;
    i = s.indexOf('\\', i + 2);
  }
  return true;
}

/** Input rows of a JSON body: [..] (one row), [[..], ..], {instances|inputs|data: ..}, {features: [..]}. */
function jsonRows(v: unknown): unknown[][] | undefined {
  if (Array.isArray(v)) {
    if (v.length === 0) return [];
    if (v.every((x) => Array.isArray(x))) return v as unknown[][];
    if (v.every((x) => x && typeof x === 'object' && Array.isArray((x as { features?: unknown }).features)))
      return v.map((x) => (x as { features: unknown[] }).features);
    if (v.every((x) => x === null || typeof x !== 'object')) return [v];
    return undefined;
  }
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k of ['instances', 'inputs', 'data']) if (k in o) return jsonRows(o[k]);
    if (Array.isArray(o.features)) return [o.features];
  }
  return undefined;
}

/** Reads whole capture texts at once (tests, small files): the rows, outputs and counters. */
export function parseCapture(
  spec: FeatureSpec,
  chunks: Iterable<string | Uint8Array>,
): { rows: number[][]; predictions: number[]; stats: CaptureStats } {
  const rows: number[][] = [];
  const predictions: number[] = [];
  const parser = new CaptureParser(spec, {
    addRow: (r) => rows.push(Array.from(r)),
    addPrediction: (v) => predictions.push(v),
  });
  for (const c of chunks) parser.push(c);
  const stats = parser.end();
  return { rows, predictions, stats };
}
