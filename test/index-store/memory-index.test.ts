import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { blockKeyRoot, computeBlockKeys } from '../../src/index-store/block-keys.ts';
import { MemoryBlockIndex, type MemoryBlockIndexOptions } from '../../src/index-store/memory-index.ts';

const open: MemoryBlockIndex[] = [];
afterEach(() => {
  for (const index of open.splice(0)) index.close();
});

function createIndex(options: MemoryBlockIndexOptions = {}): MemoryBlockIndex {
  const index = MemoryBlockIndex.create({ capacityKeys: 4096, sweepIntervalMs: 0, ...options });
  open.push(index);
  return index;
}

function chain(seed: number, blocks: number, blockSize = 16): BigUint64Array {
  const tokens = Array.from({ length: blocks * blockSize }, (_, i) => seed * 100_000 + i);
  return computeBlockKeys(tokens, blockSize, blockKeyRoot('model', null, null));
}

function engineKeys(keys: ArrayLike<bigint>, salt = 0xabcn): bigint[] {
  return Array.from(keys, (k) => k ^ salt);
}

describe('MemoryBlockIndex', () => {
  it('counts the consecutive prefix from block 0 per pod', () => {
    const index = createIndex();
    const keys = chain(1, 6);
    index.add('a', 'GPU', keys, engineKeys(keys));
    index.add('b', 'gpu', keys.subarray(0, 3), null);
    index.add('c', 'gpu', keys.subarray(1), null); // no block 0: never a match
    const match = index.longestPrefix(keys);
    expect(Object.fromEntries(match)).toEqual({
      a: { blocks: 6, weighted: 6 },
      b: { blocks: 3, weighted: 3 },
    });
  });

  it('stops a pod at its first missing block even if later blocks are present', () => {
    const index = createIndex();
    const keys = chain(2, 5);
    index.add('a', 'gpu', [keys[0]!, keys[1]!, keys[3]!, keys[4]!], null);
    expect(index.longestPrefix(keys).get('a')).toEqual({ blocks: 2, weighted: 2 });
  });

  it('weights tiers (cpu 0.8 by default) and takes the best tier per block', () => {
    const index = createIndex();
    const keys = chain(3, 4);
    index.add('a', 'CPU', keys, null);
    index.add('b', 'cpu', keys, null);
    index.add('b', 'gpu', keys.subarray(0, 2), null);
    index.add('c', 'storage', keys, null);
    const match = index.longestPrefix(keys);
    expect(match.get('a')!.blocks).toBe(4);
    expect(match.get('a')!.weighted).toBeCloseTo(3.2);
    expect(match.get('b')!.weighted).toBeCloseTo(2 + 1.6);
    expect(match.get('c')!.weighted).toBeCloseTo(4);
  });

  it('takes configured tier weights', () => {
    const index = createIndex({ tierWeights: { cpu: 0.5, other: 0.25 } });
    const keys = chain(4, 2);
    index.add('a', 'cpu', keys, null);
    index.add('b', 'disk', keys, null);
    expect(index.longestPrefix(keys).get('a')!.weighted).toBeCloseTo(1);
    expect(index.longestPrefix(keys).get('b')!.weighted).toBeCloseTo(0.5);
  });

  it('restricts the answer to the given pods', () => {
    const index = createIndex();
    const keys = chain(5, 3);
    for (const pod of ['a', 'b', 'c']) index.add(pod, 'gpu', keys, null);
    expect([...index.longestPrefix(keys, ['b', 'zzz']).keys()]).toEqual(['b']);
    expect(index.longestPrefix(keys, []).size).toBe(0);
  });

  it('reference-counts stores: a hash stored twice needs two removals', () => {
    const index = createIndex();
    const keys = chain(6, 2);
    const engine = engineKeys(keys);
    index.add('a', 'gpu', keys, engine);
    index.add('a', 'gpu', keys, engine);
    index.removeByEngineKey('a', 'gpu', engine[1]!);
    expect(index.longestPrefix(keys).get('a')!.blocks).toBe(2);
    index.removeByEngineKey('a', 'gpu', engine[1]!);
    expect(index.longestPrefix(keys).get('a')!.blocks).toBe(1);
    expect(index.requestKeyFor('a', engine[1]!)).toBeUndefined();
    expect(index.requestKeyFor('a', engine[0]!)).toBe(keys[0]);
  });

  it('keeps an engine mapping while another tier still holds the block', () => {
    const index = createIndex();
    const keys = chain(7, 1);
    const engine = engineKeys(keys);
    index.add('a', 'gpu', keys, engine);
    index.add('a', 'cpu', keys, null); // offload tier update
    index.removeByEngineKey('a', 'gpu', engine[0]!);
    expect(index.longestPrefix(keys).get('a')!.weighted).toBeCloseTo(0.8);
    index.removeByEngineKey('a', 'cpu', engine[0]!);
    expect(index.longestPrefix(keys).size).toBe(0);
    expect(index.stats().unknownEngineKeyRemovals).toBe(0);
    index.removeByEngineKey('a', 'cpu', engine[0]!);
    expect(index.stats().unknownEngineKeyRemovals).toBe(1);
  });

  it('scopes engine keys per pod', () => {
    const index = createIndex();
    const a = chain(8, 1);
    const b = chain(9, 1);
    index.add('a', 'gpu', a, [42n]);
    index.add('b', 'gpu', b, [42n]); // same engine hash, another model's tokens
    expect(index.requestKeyFor('a', 42n)).toBe(a[0]);
    expect(index.requestKeyFor('b', 42n)).toBe(b[0]);
    index.removeByEngineKey('a', 'gpu', 42n);
    expect(index.longestPrefix(a).size).toBe(0);
    expect(index.longestPrefix(b).get('b')!.blocks).toBe(1);
  });

  it('applies the ratio rule when engine blocks are larger than the index blocks', () => {
    const index = createIndex();
    const keys = chain(10, 8); // 128 tokens: 8 index blocks, 2 engine blocks of 64
    index.add('a', 'gpu', keys, [1000n, 1001n]);
    expect(index.requestKeysFor('a', 1000n)).toEqual([...keys.subarray(0, 4)]);
    expect(index.requestKeyFor('a', 1001n)).toBe(keys[7]);
    index.removeByEngineKey('a', 'gpu', 1001n);
    expect(index.longestPrefix(keys).get('a')!.blocks).toBe(4);
  });

  it('applies the ratio rule when engine blocks are smaller than the index blocks', () => {
    const index = createIndex();
    const keys = chain(11, 2);
    index.add('a', 'gpu', keys, [1n, 2n, 3n, 4n]);
    expect(index.requestKeyFor('a', 2n)).toBe(keys[0]);
    expect(index.requestKeyFor('a', 3n)).toBe(keys[1]);
    index.removeByEngineKey('a', 'gpu', 3n); // half of block 1 is gone: block 1 is gone
    expect(index.longestPrefix(keys).get('a')!.blocks).toBe(1);
  });

  it('removes by request key regardless of the reference count', () => {
    const index = createIndex();
    const keys = chain(12, 3);
    index.add('a', 'gpu', keys, null);
    index.add('a', 'gpu', keys, null);
    index.add('a', 'cpu', keys, null);
    index.removeByRequestKeys('a', 'gpu', keys.subarray(1, 2));
    expect(index.longestPrefix(keys).get('a')!.weighted).toBeCloseTo(1 + 0.8 + 1);
  });

  it('clears a pod in all tiers and lets it start again', () => {
    const index = createIndex();
    const keys = chain(13, 3);
    index.add('a', 'gpu', keys, engineKeys(keys));
    index.add('a', 'cpu', keys, null);
    index.add('b', 'gpu', keys, null);
    index.clearPod('a');
    expect([...index.longestPrefix(keys).keys()]).toEqual(['b']);
    expect(index.requestKeyFor('a', engineKeys(keys)[0]!)).toBeUndefined();
    expect(index.stats().entries).toBe(3);
    index.add('a', 'gpu', keys.subarray(0, 1), null);
    expect(index.longestPrefix(keys).get('a')!.blocks).toBe(1);
  });

  it('never resurrects cleared entries when the pod generation wraps', () => {
    const index = createIndex();
    const keys = chain(14, 2);
    index.add('a', 'gpu', keys, engineKeys(keys));
    for (let i = 0; i < 65_536; i++) index.clearPod('a');
    expect(index.longestPrefix(keys).size).toBe(0);
    expect(index.requestKeyFor('a', engineKeys(keys)[0]!)).toBeUndefined();
  });

  it('removePod drops everything of the pod, speculative entries included, and frees its name', () => {
    const index = createIndex();
    const keys = chain(15, 2);
    index.add('a', 'gpu', keys, null);
    index.recordSpeculative('a', chain(16, 2));
    index.add('b', 'gpu', keys, null);
    index.removePod('a');
    expect([...index.longestPrefix(keys).keys()]).toEqual(['b']);
    expect(index.longestPrefix(chain(16, 2)).size).toBe(0);
    expect(index.podIds()).toEqual(['b']);
    expect(index.stats()).toMatchObject({ entries: 2, speculativeEntries: 0, keys: 2, pods: 1 });
  });

  it('bounds memory: a full table evicts the least recently added-to keys of a set', () => {
    const index = createIndex({ capacityKeys: 64 });
    const before = index.stats().memoryBytes;
    const hot = chain(17, 1);
    index.add('a', 'gpu', hot, null);
    const all = chain(18, 2000);
    for (let i = 0; i < all.length; i++) {
      index.add('a', 'gpu', all.subarray(i, i + 1), null);
      if (i % 4 === 0) index.add('a', 'gpu', hot, null); // keeps `hot` recently added-to
    }
    const stats = index.stats();
    expect(stats.keys).toBeLessThanOrEqual(64);
    expect(stats.evictedKeys).toBeGreaterThanOrEqual(2001 - 64);
    expect(stats.memoryBytes).toBe(before);
    expect(index.longestPrefix(hot).get('a')!.blocks).toBe(1);
    expect(index.longestPrefix(all.subarray(1999)).get('a')!.blocks).toBe(1);
    const survivors = Array.from(all).filter((k) => index.longestPrefix([k]).size > 0).length;
    expect(survivors).toBe(stats.keys - 1);
  });

  it('caps the pods per key, dropping speculative entries first, then the oldest', () => {
    const index = createIndex({ slotsPerKey: 2 });
    const keys = chain(19, 1);
    index.add('a', 'gpu', keys, null);
    index.recordSpeculative('b', keys);
    index.add('c', 'gpu', keys, null);
    expect([...index.longestPrefix(keys).keys()].sort()).toEqual(['a', 'c']);
    index.add('d', 'gpu', keys, null);
    expect([...index.longestPrefix(keys).keys()].sort()).toEqual(['c', 'd']);
    expect(index.stats().evictedEntries).toBe(2);
  });

  it('ignores key 0 and empty key lists', () => {
    const index = createIndex();
    index.add('a', 'gpu', [0n], null);
    index.add('a', 'gpu', [], null);
    expect(index.longestPrefix([0n]).size).toBe(0);
    expect(index.longestPrefix([]).size).toBe(0);
    expect(index.stats().keys).toBe(0);
  });

  describe('speculative entries', () => {
    function clocked(): { index: MemoryBlockIndex; advance: (ms: number) => void } {
      let now = 1_000_000;
      const index = createIndex({ now: () => now });
      return { index, advance: (ms) => (now += ms) };
    }

    it('count like gpu entries until their TTL, then readers ignore them and the sweep reclaims them', () => {
      const { index, advance } = clocked();
      const keys = chain(20, 3);
      index.recordSpeculative('a', keys); // default TTL 2 s
      expect(index.longestPrefix(keys).get('a')).toEqual({ blocks: 3, weighted: 3 });
      advance(1900);
      expect(index.longestPrefix(keys).get('a')!.blocks).toBe(3);
      advance(200);
      expect(index.longestPrefix(keys).size).toBe(0);
      expect(index.stats()).toMatchObject({ speculativeEntries: 3, keys: 3 });
      index.sweep();
      expect(index.stats()).toMatchObject({ speculativeEntries: 0, entries: 0, keys: 0 });
    });

    it('honours a custom TTL and extends on repeat', () => {
      const { index, advance } = clocked();
      const keys = chain(21, 1);
      index.recordSpeculative('a', keys, 500);
      advance(400);
      index.recordSpeculative('a', keys, 500);
      advance(400);
      expect(index.longestPrefix(keys).size).toBe(1);
      advance(200);
      expect(index.longestPrefix(keys).size).toBe(0);
    });

    it('give way to confirmed entries and never override them', () => {
      const { index, advance } = clocked();
      const keys = chain(22, 2);
      index.recordSpeculative('a', keys);
      index.add('a', 'cpu', keys.subarray(0, 1), null);
      index.add('b', 'cpu', keys, null);
      index.recordSpeculative('b', keys);
      expect(index.longestPrefix(keys).get('b')!.weighted).toBeCloseTo(1.6);
      advance(5000);
      index.sweep();
      expect(index.longestPrefix(keys).get('a')).toEqual({ blocks: 1, weighted: 0.8 });
      expect(index.stats()).toMatchObject({ entries: 3, speculativeEntries: 0 });
    });

    it('survive clearPod (the routed request will still compute them)', () => {
      const { index } = clocked();
      const keys = chain(23, 1);
      index.recordSpeculative('a', keys);
      index.clearPod('a');
      expect(index.longestPrefix(keys).get('a')!.blocks).toBe(1);
    });
  });

  it('behaves like a reference model under random stores, removals and clears', () => {
    // A small key space, so that random operations often hit the same (pod, tier, key).
    const pods = ['a', 'b'];
    const tiers = ['gpu', 'cpu'];
    const chains = [chain(30, 3), chain(31, 3)];
    const allKeys = chains.flatMap((c) => [...c]);
    const SALT = 0x5a5an;
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('add' as const),
        pod: fc.constantFrom(...pods),
        tier: fc.constantFrom(...tiers),
        chain: fc.nat({ max: 1 }),
        from: fc.nat({ max: 2 }),
        length: fc.integer({ min: 1, max: 3 }),
        engine: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant('removeEngine' as const),
        pod: fc.constantFrom(...pods),
        tier: fc.constantFrom(...tiers),
        key: fc.constantFrom(...allKeys),
      }),
      fc.record({
        kind: fc.constant('removeRequest' as const),
        pod: fc.constantFrom(...pods),
        tier: fc.constantFrom(...tiers),
        key: fc.constantFrom(...allKeys),
      }),
      fc.record({ kind: fc.constant('clear' as const), pod: fc.constantFrom(...pods) }),
    );

    fc.assert(
      fc.property(fc.array(op, { minLength: 5, maxLength: 80, size: 'max' }), (ops) => {
        const index = MemoryBlockIndex.create({ capacityKeys: 1024, sweepIntervalMs: 0 });
        const refs = new Map<string, number>(); // pod|tier|key → references
        const mapped = new Set<string>(); // pod|key whose engine key (key ^ SALT) is mapped
        const holds = (pod: string, key: bigint): boolean =>
          tiers.some((t) => refs.has(`${pod}|${t}|${key}`));
        try {
          for (const o of ops) {
            if (o.kind === 'add') {
              const keys = chains[o.chain]!.slice(o.from, o.from + o.length);
              index.add(o.pod, o.tier, keys, o.engine ? engineKeys(keys, SALT) : null);
              for (const k of keys) {
                const id = `${o.pod}|${o.tier}|${k}`;
                refs.set(id, Math.min((refs.get(id) ?? 0) + 1, 7));
                if (o.engine) mapped.add(`${o.pod}|${k}`);
              }
            } else if (o.kind === 'removeEngine') {
              index.removeByEngineKey(o.pod, o.tier, o.key ^ SALT);
              if (mapped.has(`${o.pod}|${o.key}`)) {
                const id = `${o.pod}|${o.tier}|${o.key}`;
                const r = refs.get(id);
                if (r !== undefined) {
                  if (r > 1) refs.set(id, r - 1);
                  else refs.delete(id);
                }
                if (!holds(o.pod, o.key)) mapped.delete(`${o.pod}|${o.key}`);
              }
            } else if (o.kind === 'removeRequest') {
              index.removeByRequestKeys(o.pod, o.tier, [o.key]);
              refs.delete(`${o.pod}|${o.tier}|${o.key}`);
            } else {
              index.clearPod(o.pod);
              for (const id of [...refs.keys()]) if (id.startsWith(`${o.pod}|`)) refs.delete(id);
              for (const id of [...mapped]) if (id.startsWith(`${o.pod}|`)) mapped.delete(id);
            }
          }
          for (const keys of chains) {
            const expected = new Map<string, { blocks: number; weighted: number }>();
            for (const pod of pods) {
              let blocks = 0;
              let weighted = 0;
              for (const k of keys) {
                const w = Math.max(
                  refs.has(`${pod}|gpu|${k}`) ? 1 : 0,
                  refs.has(`${pod}|cpu|${k}`) ? 0.8 : 0,
                );
                if (w === 0) break;
                blocks++;
                weighted += w;
              }
              if (blocks > 0) expected.set(pod, { blocks, weighted });
            }
            const actual = index.longestPrefix(keys);
            expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
            for (const [pod, m] of expected) {
              expect(actual.get(pod)!.blocks).toBe(m.blocks);
              expect(actual.get(pod)!.weighted).toBeCloseTo(m.weighted);
            }
          }
          expect(index.stats().entries).toBe(refs.size);
        } finally {
          index.close();
        }
      }),
      { numRuns: 200 },
    );
  });
});
