/**
 * A byte buffer that doubles as it fills: the shared base of the CBOR, MessagePack and pickle
 * writers, which are reused across encodings on hot paths (one per block hash or event batch), so
 * they append into one allocation instead of concatenating chunks.
 */
export abstract class GrowableBuffer {
  protected buf: Buffer;
  protected pos = 0;

  protected constructor(initialCapacity: number, minimumCapacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(minimumCapacity, initialCapacity));
  }

  /** Discards everything written so far, keeping the allocation. */
  reset(): void {
    this.pos = 0;
  }

  /** Number of bytes written since the last reset. */
  get length(): number {
    return this.pos;
  }

  /** Makes room for `extra` more bytes. */
  protected ensure(extra: number): void {
    const needed = this.pos + extra;
    if (needed <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < needed) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}
