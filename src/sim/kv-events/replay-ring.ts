/**
 * The replay buffer of vLLM's `ZmqEventPublisher` (shared reference `kv-events-and-hashing.md`
 * §1.3–§1.4): the last `buffer_steps` published batches as `(seq, payload)`, oldest first
 * (`deque(maxlen=buffer_steps)` upstream).
 */

export interface ReplayEntry {
  readonly seq: bigint;
  readonly payload: Uint8Array;
}

/** Fixed-capacity ring of published batches; pushing beyond capacity evicts the oldest. */
export class ReplayRing {
  readonly capacity: number;
  readonly #entries: (ReplayEntry | undefined)[];
  #head = 0;
  #size = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`replay buffer size must be a non-negative integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.#entries = new Array<ReplayEntry | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(seq: bigint, payload: Uint8Array): void {
    if (this.capacity === 0) return;
    const tail = (this.#head + this.#size) % this.capacity;
    this.#entries[tail] = { seq, payload };
    if (this.#size < this.capacity) this.#size++;
    else this.#head = (this.#head + 1) % this.capacity;
  }

  clear(): void {
    this.#entries.fill(undefined);
    this.#head = 0;
    this.#size = 0;
  }

  /** Buffered entries with `seq >= start`, oldest first (a snapshot; later pushes are not seen). */
  since(start: bigint): ReplayEntry[] {
    const out: ReplayEntry[] = [];
    for (let i = 0; i < this.#size; i++) {
      const entry = this.#entries[(this.#head + i) % this.capacity]!;
      if (entry.seq >= start) out.push(entry);
    }
    return out;
  }
}
