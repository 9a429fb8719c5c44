/** Bytes each line gets in the ring; a longer line is kept as it is, beside the ring. */
const DEFAULT_SLOT_BYTES = 2048;

/** In Unicode mode a surrogate pair is one code point: only a lone surrogate is of category Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The last `capacity` lines of a log, kept as UTF-8 in one buffer allocated up front (a slot per line), not as
 * strings. Kept as strings, every line outlived two young collections and was promoted, then became old-generation
 * garbage when it left the window: on the inference API's path the access log lines were about three quarters of
 * what the serving process promoted (1.1 of 1.5 MB kept by a 4 s heap-sampling profile at 200 requests/s), and
 * promoted garbage is what brings on full collections. Here a line's string dies young once its bytes are copied.
 */
export class LineRing {
  private readonly bytes: Buffer;
  /** Per slot: the line's byte length, or -1 when the line is in `long`. */
  private readonly lengths: Int32Array;
  /** Lines longer than a slot, by slot (rare: kept as strings). */
  private readonly long = new Map<number, string>();
  private next = 0;
  private size = 0;

  constructor(
    readonly capacity: number,
    private readonly slotBytes = DEFAULT_SLOT_BYTES,
  ) {
    if (!(Number.isInteger(capacity) && capacity >= 1))
      throw new RangeError(`capacity must be a whole number >= 1, got ${capacity}`);
    if (!(Number.isInteger(slotBytes) && slotBytes >= 4))
      throw new RangeError(`slotBytes must be a whole number >= 4, got ${slotBytes}`);
    this.bytes = Buffer.alloc(capacity * slotBytes);
    this.lengths = new Int32Array(capacity);
  }

  /** Adds a line, dropping the oldest when full. */
  push(line: string): void {
    const slot = this.next;
    if (this.lengths[slot] === -1) this.long.delete(slot);
    // A UTF-16 unit is at most 3 UTF-8 bytes: a short line fits without measuring it first. A lone surrogate has no
    // UTF-8 form (it would come back as U+FFFD), so such a line is kept as it is.
    const fits = line.length * 3 <= this.slotBytes || Buffer.byteLength(line) <= this.slotBytes;
    if (fits && !LONE_SURROGATE.test(line)) {
      this.lengths[slot] = this.bytes.write(line, slot * this.slotBytes, this.slotBytes, 'utf8');
    } else {
      this.lengths[slot] = -1;
      this.long.set(slot, line);
    }
    this.next = (slot + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  /** How many lines are kept. */
  get length(): number {
    return this.size;
  }

  /** The kept lines, oldest first. */
  lines(): string[] {
    const out: string[] = [];
    const first = (this.next - this.size + this.capacity) % this.capacity;
    for (let k = 0; k < this.size; k++) {
      const slot = (first + k) % this.capacity;
      const length = this.lengths[slot];
      const start = slot * this.slotBytes;
      out.push(length === -1 ? this.long.get(slot)! : this.bytes.toString('utf8', start, start + length));
    }
    return out;
  }
}
