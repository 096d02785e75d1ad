import { describe, expect, it } from 'vitest';
import type { BlockRemoved, BlockStored } from '../../../src/kv-protocol/events.ts';
import { BlockPool, type StoredBlocksSource } from '../../../src/sim/engine/block-pool.ts';
import { hex } from './helpers.ts';

const BS = 2;

function digest(n: number): Uint8Array {
  return Uint8Array.of(n, n >> 8, 0xaa);
}

function keyOf(d: Uint8Array): string {
  return hex(d);
}

/** A request-like source whose token i is `base + i`. */
function source(base: number, lora: string | null = null): StoredBlocksSource {
  return {
    loraName: lora,
    loraId: lora === null ? null : 1,
    tokensInRange: (s, e) => Array.from({ length: e - s }, (_, i) => base + s + i),
    extraKeysForBlock: () => (lora === null ? null : [lora]),
  };
}

function cacheAll(pool: BlockPool, blocks: number[], hashes: Uint8Array[], src = source(0)): void {
  pool.cacheFullBlocks(blocks, 0, blocks.length, hashes, hashes.map(keyOf), src);
}

describe('BlockPool', () => {
  it('allocates from the head of the free queue and frees to its tail in the given order', () => {
    const pool = new BlockPool({ numBlocks: 6, blockSize: BS, recordEvents: false });
    const a: number[] = [];
    pool.allocate(3, a);
    expect(a).toEqual([0, 1, 2]);
    expect(pool.numUsedBlocks).toBe(3);
    expect(pool.usage()).toBe(0.5);
    pool.free(a.toReversed());
    expect(pool.freeQueueOrder()).toEqual([3, 4, 5, 2, 1, 0]);
    expect(() => pool.free([0])).toThrow(/freed twice/);
  });

  it('evicts the hash of a reused cached block and announces it alone', () => {
    const pool = new BlockPool({ numBlocks: 2, blockSize: BS, recordEvents: true });
    const blocks: number[] = [];
    pool.allocate(2, blocks);
    const hashes = [digest(1), digest(2)];
    cacheAll(pool, blocks, hashes);
    pool.free(blocks.toReversed());
    expect(pool.getCachedBlock(keyOf(hashes[0]!))).toBe(0);
    pool.takeEvents();

    const fresh: number[] = [];
    pool.allocate(1, fresh);
    // Block 1 (the tail of the freed run) goes first.
    expect(fresh).toEqual([1]);
    expect(pool.getCachedBlock(keyOf(hashes[1]!))).toBe(-1);
    expect(pool.getCachedBlock(keyOf(hashes[0]!))).toBe(0);
    expect(pool.numCachedBlocks).toBe(1);
    const events = pool.takeEvents() as BlockRemoved[];
    expect(events).toHaveLength(1);
    expect(events[0]!.type).toBe('BlockRemoved');
    expect(events[0]!.blockHashes).toEqual([hashes[1]]);
    expect(events[0]!.medium).toBe('GPU');
  });

  it('keeps duplicate hashes in separate blocks and removes them one by one', () => {
    const pool = new BlockPool({ numBlocks: 3, blockSize: BS, recordEvents: true });
    const a: number[] = [];
    const b: number[] = [];
    pool.allocate(1, a);
    pool.allocate(1, b);
    const h = digest(7);
    cacheAll(pool, a, [h]);
    cacheAll(pool, b, [h]);
    expect(pool.numCachedBlocks).toBe(2);
    expect(pool.getCachedBlock(keyOf(h))).toBe(a[0]);
    pool.free(a);
    pool.free(b);
    const c: number[] = [];
    pool.allocate(2, c); // block 2 (never cached), then a's block
    expect(pool.getCachedBlock(keyOf(h))).toBe(b[0]);
    const stored = pool.takeEvents().filter((e) => e.type === 'BlockStored');
    expect(stored).toHaveLength(2);
    const removedLater: number[] = [];
    pool.free(c);
    pool.allocate(3, removedLater);
    const removed = pool.takeEvents().filter((e) => e.type === 'BlockRemoved');
    expect(removed).toHaveLength(1);
    expect(pool.numCachedBlocks).toBe(0);
  });

  it('touch takes free cached blocks off the queue so they cannot be evicted', () => {
    const pool = new BlockPool({ numBlocks: 3, blockSize: BS, recordEvents: false });
    const a: number[] = [];
    pool.allocate(1, a);
    cacheAll(pool, a, [digest(1)]);
    pool.free(a);
    expect(pool.countFree(a)).toBe(1);
    pool.touch(a);
    expect(pool.refCount(a[0]!)).toBe(1);
    expect(pool.freeQueueOrder()).not.toContain(a[0]);
    const others: number[] = [];
    pool.allocate(2, others);
    expect(others).not.toContain(a[0]);
    expect(pool.getCachedBlock(keyOf(digest(1)))).toBe(a[0]);
    expect(() => pool.allocate(1, [])).toThrow(/cannot allocate/);
  });

  it('emits BlockStored for the new run with the parent, tokens, LoRA and per-block extra keys', () => {
    const pool = new BlockPool({ numBlocks: 4, blockSize: BS, recordEvents: true });
    const blocks: number[] = [];
    pool.allocate(3, blocks);
    const hashes = [digest(1), digest(2), digest(3)];
    const src = source(100, 'adapter');
    const keys = hashes.map(keyOf);
    pool.cacheFullBlocks(blocks, 0, 1, hashes, keys, src);
    pool.cacheFullBlocks(blocks, 1, 3, hashes, keys, src);
    const [first, second] = pool.takeEvents() as BlockStored[];
    expect(first!.parentBlockHash).toBeNull();
    expect(first!.blockHashes).toEqual([hashes[0]]);
    expect(first!.tokenIds).toEqual([100, 101]);
    expect(second!.parentBlockHash).toBe(hashes[0]);
    expect(second!.blockHashes).toEqual([hashes[1], hashes[2]]);
    expect(second!.tokenIds).toEqual([102, 103, 104, 105]);
    expect(second!.blockSize).toBe(BS);
    expect(second!.loraName).toBe('adapter');
    expect(second!.loraId).toBe(1);
    expect(second!.medium).toBe('GPU');
    expect(second!.extraKeys).toEqual([['adapter'], ['adapter']]);
    expect(() => pool.cacheFullBlocks(blocks, 0, 1, hashes, keys, src)).toThrow(/already cached/);
  });

  it('resets the prefix cache only when no block is in use', () => {
    const pool = new BlockPool({ numBlocks: 2, blockSize: BS, recordEvents: true });
    const a: number[] = [];
    pool.allocate(1, a);
    cacheAll(pool, a, [digest(1)]);
    pool.takeEvents();
    expect(pool.resetPrefixCache()).toBe(false);
    expect(pool.hasEvents).toBe(false);
    pool.free(a);
    expect(pool.resetPrefixCache()).toBe(true);
    expect(pool.takeEvents()).toEqual([{ type: 'AllBlocksCleared' }]);
    expect(pool.getCachedBlock(keyOf(digest(1)))).toBe(-1);
    expect(pool.numCachedBlocks).toBe(0);
    // A block whose hash was cleared is reused without a BlockRemoved.
    pool.allocate(2, []);
    expect(pool.hasEvents).toBe(false);
  });

  it('builds no events when not recording', () => {
    const pool = new BlockPool({ numBlocks: 2, blockSize: BS, recordEvents: false });
    const a: number[] = [];
    pool.allocate(1, a);
    cacheAll(pool, a, [digest(1)]);
    pool.free(a);
    pool.allocate(2, []);
    expect(pool.resetPrefixCache()).toBe(false);
    expect(pool.hasEvents).toBe(false);
  });
});
