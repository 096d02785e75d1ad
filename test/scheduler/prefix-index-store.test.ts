import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InMemoryPrefixIndexStore } from '../../src/scheduler/producers/in-memory-prefix-index-store.ts';

/** Naive model: per endpoint, hashes in recency order (oldest first), bounded by capacity. */
class ModelIndex {
  readonly blocks = new Map<string, bigint[]>();

  add(id: string, hashes: readonly bigint[], capacity: number): void {
    let list = this.blocks.get(id) ?? [];
    for (const h of [...hashes].reverse()) list = [...list.filter((x) => x !== h), h];
    this.blocks.set(id, list.slice(Math.max(0, list.length - capacity)));
  }

  longestPrefix(hashes: readonly bigint[]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, list] of this.blocks) {
      let n = 0;
      while (n < hashes.length && list.includes(hashes[n]!)) n++;
      if (n > 0) out[id] = n;
    }
    return out;
  }
}

describe('InMemoryPrefixIndexStore matches a naive model', () => {
  it('for random adds, evictions and lookups', () => {
    const hashes = fc.array(fc.bigInt({ min: 0n, max: 12n }), { minLength: 1, maxLength: 8 });
    const op = fc.record({
      id: fc.constantFrom('a', 'b', 'c'),
      hashes,
      capacity: fc.integer({ min: 1, max: 10 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), hashes, (ops, query) => {
        const store = new InMemoryPrefixIndexStore();
        const model = new ModelIndex();
        for (const { id, hashes: hs, capacity } of ops) {
          store.add(id, hs, capacity);
          model.add(id, hs, capacity);
        }
        expect(Object.fromEntries(store.longestPrefix(query))).toEqual(model.longestPrefix(query));
        for (const id of ['a', 'b', 'c'])
          expect(store.blockCount(id)).toBe(model.blocks.get(id)?.length ?? 0);
      }),
      { numRuns: 300 },
    );
  });
});
