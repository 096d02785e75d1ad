/**
 * vLLM's `FreeKVCacheBlockQueue`: the free blocks in eviction order, head first. An intrusive
 * doubly linked list over typed arrays, so that taking a cache hit out of the middle (touch),
 * appending freed blocks and popping the next victim are all O(1) without allocating.
 */

const NONE = -1;

export class FreeBlockQueue {
  readonly #prev: Int32Array;
  readonly #next: Int32Array;
  readonly #member: Uint8Array;
  #head = NONE;
  #tail = NONE;
  #size = 0;

  /** A queue over block ids `0..capacity-1`, initially holding all of them in id order. */
  constructor(capacity: number) {
    this.#prev = new Int32Array(capacity).fill(NONE);
    this.#next = new Int32Array(capacity).fill(NONE);
    this.#member = new Uint8Array(capacity);
    for (let id = 0; id < capacity; id++) this.pushBack(id);
  }

  get size(): number {
    return this.#size;
  }

  has(id: number): boolean {
    return this.#member[id] === 1;
  }

  /** The next block to hand out (the least recently freed), or -1 when empty. */
  peekFront(): number {
    return this.#head;
  }

  popFront(): number {
    const id = this.#head;
    if (id === NONE) throw new Error('free block queue is empty');
    this.remove(id);
    return id;
  }

  pushBack(id: number): void {
    if (this.#member[id] === 1) throw new Error(`block ${id} is already free`);
    this.#member[id] = 1;
    this.#prev[id] = this.#tail;
    this.#next[id] = NONE;
    if (this.#tail === NONE) this.#head = id;
    else this.#next[this.#tail] = id;
    this.#tail = id;
    this.#size++;
  }

  remove(id: number): void {
    if (this.#member[id] !== 1) throw new Error(`block ${id} is not free`);
    const prev = this.#prev[id]!;
    const next = this.#next[id]!;
    if (prev === NONE) this.#head = next;
    else this.#next[prev] = next;
    if (next === NONE) this.#tail = prev;
    else this.#prev[next] = prev;
    this.#prev[id] = NONE;
    this.#next[id] = NONE;
    this.#member[id] = 0;
    this.#size--;
  }

  /** Block ids head to tail (for tests and debugging; allocates). */
  toArray(): number[] {
    const out: number[] = [];
    for (let id = this.#head; id !== NONE; id = this.#next[id]!) out.push(id);
    return out;
  }
}
