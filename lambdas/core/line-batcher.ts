// Buffer's copy accepts any Uint8Array as its source and takes a range, so copying makes no view of the source.
const copyBytes = Buffer.prototype.copy;

/**
 * Coalesces lines into large buffers (one write per line would cost more than encoding it) and hands each
 * full buffer to `out`. A handed-over buffer is never reused, so the receiver may keep it.
 */
export class LineBatcher {
  private buf: Buffer;
  private used = 0;
  /** Bytes handed over or pending. */
  bytes = 0;
  /** Calls to `add`: the lines, when each call adds one. */
  lines = 0;

  constructor(
    private readonly out: (bytes: Buffer) => void,
    private readonly size = 256 * 1024,
  ) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Copies `line[start, end)`. */
  add(line: Uint8Array, start: number, end: number): void {
    const length = end - start;
    if (this.used + length > this.size) {
      this.flush();
      if (length > this.size) {
        this.bytes += length;
        this.lines++;
        this.out(Buffer.from(line.subarray(start, end)));
        return;
      }
    }
    const buf = this.buf;
    let o = this.used;
    // A short line: a loop beats a call. A longer one: Buffer's copy takes a source range, so no view is made.
    if (length > 64) o += copyBytes.call(line, buf, o, start, end);
    else for (let j = start; j < end; j++) buf[o++] = line[j];
    this.used = o;
    this.bytes += length;
    this.lines++;
  }

  flush(): void {
    if (this.used === 0) return;
    this.out(this.buf.subarray(0, this.used));
    this.buf = Buffer.allocUnsafe(this.size);
    this.used = 0;
  }
}
