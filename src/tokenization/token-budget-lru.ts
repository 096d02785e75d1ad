/**
 * An LRU map bounded by the total number of tokens its values hold, not by entry count: cached
 * segments range from a few tokens to whole documents.
 */

export interface TokenBudgetEntry {
  readonly tokens: Uint32Array;
}

export class TokenBudgetLru<K, V extends TokenBudgetEntry> {
  readonly #map = new Map<K, V>();
  readonly #maxTokens: number;
  #tokens = 0;
  #evictions = 0;

  constructor(maxTokens: number) {
    if (!Number.isFinite(maxTokens) || maxTokens < 0)
      throw new RangeError(`maxTokens must be >= 0, got ${maxTokens}`);
    this.#maxTokens = maxTokens;
  }

  /** The value, marked most recently used. */
  get(key: K): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      // Map iteration order is insertion order: re-inserting moves the key to the young end.
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  /** Inserts or replaces; a value larger than the whole budget is not stored. */
  set(key: K, value: V): void {
    const previous = this.#map.get(key);
    if (previous !== undefined) {
      this.#map.delete(key);
      this.#tokens -= previous.tokens.length;
    }
    if (value.tokens.length > this.#maxTokens) return;
    this.#map.set(key, value);
    this.#tokens += value.tokens.length;
    for (const [oldKey, old] of this.#map) {
      if (this.#tokens <= this.#maxTokens) break;
      this.#map.delete(oldKey);
      this.#tokens -= old.tokens.length;
      this.#evictions++;
    }
  }

  clear(): void {
    this.#map.clear();
    this.#tokens = 0;
  }

  get size(): number {
    return this.#map.size;
  }

  /** Tokens held by all values. */
  get tokens(): number {
    return this.#tokens;
  }

  get maxTokens(): number {
    return this.#maxTokens;
  }

  /** Values dropped to stay within budget since construction. */
  get evictions(): number {
    return this.#evictions;
  }
}
