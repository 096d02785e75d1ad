import { afterEach, describe, expect, it } from 'vitest';
import type { BlockExtraKeys, BlockRemoved, BlockStored, KvEvent } from '../../src/kv-protocol/events.ts';
import { blockKeyRoot, computeBlockKeys } from '../../src/index-store/block-keys.ts';
import { KvEventIngestor } from '../../src/index-store/kv-event-ingestor.ts';
import { MemoryBlockIndex } from '../../src/index-store/memory-index.ts';

const MODEL = 'Qwen/Qwen3-0.6B';
const POD = '10.0.0.1:8000';

const open: MemoryBlockIndex[] = [];
afterEach(() => {
  for (const index of open.splice(0)) index.close();
});

function setup(blockSize = 16): { index: MemoryBlockIndex; ingestor: KvEventIngestor } {
  const index = MemoryBlockIndex.create({ capacityKeys: 4096, blockSize, sweepIntervalMs: 0 });
  open.push(index);
  return { index, ingestor: new KvEventIngestor(index) };
}

function tokens(n: number, seed = 1): number[] {
  return Array.from({ length: n }, (_, i) => seed * 1000 + i);
}

function stored(
  hashes: bigint[],
  tokenIds: number[],
  more: Partial<BlockStored<bigint>> = {},
): BlockStored<bigint> {
  return {
    type: 'BlockStored',
    blockHashes: hashes,
    parentBlockHash: null,
    tokenIds,
    blockSize: hashes.length === 0 ? 0 : tokenIds.length / hashes.length,
    loraId: null,
    medium: 'GPU',
    loraName: null,
    extraKeys: null,
    ...more,
  };
}

function removed(hashes: bigint[], more: Partial<BlockRemoved<bigint>> = {}): BlockRemoved<bigint> {
  return { type: 'BlockRemoved', blockHashes: hashes, medium: 'GPU', ...more };
}

/** The keys the router computes for a prompt. */
function lookupKeys(
  prompt: number[],
  lora: string | null = null,
  salt: string | null = null,
): BigUint64Array {
  return computeBlockKeys(prompt, 16, blockKeyRoot(MODEL, lora, salt));
}

async function apply(ingestor: KvEventIngestor, ...events: KvEvent<bigint>[]): Promise<void> {
  await ingestor.applyBatch(POD, MODEL, events);
}

describe('KvEventIngestor', () => {
  it('indexes BlockStored under the keys the lookup path computes from the prompt', async () => {
    const { index, ingestor } = setup();
    const prompt = tokens(48);
    await apply(ingestor, stored([11n, 12n, 13n], prompt));
    expect(index.longestPrefix(lookupKeys(prompt)).get(POD)).toEqual({ blocks: 3, weighted: 3 });
    expect(index.longestPrefix(lookupKeys(tokens(48, 2))).size).toBe(0);
    expect(ingestor.counters).toMatchObject({ blockStoredEvents: 1, blocksStored: 3, requestKeysStored: 3 });
  });

  it('chains a continuation through its parent engine hash', async () => {
    const { index, ingestor } = setup();
    const prompt = tokens(64);
    await apply(ingestor, stored([1n, 2n], prompt.slice(0, 32)));
    await apply(ingestor, stored([3n, 4n], prompt.slice(32), { parentBlockHash: 2n }));
    expect(index.longestPrefix(lookupKeys(prompt)).get(POD)!.blocks).toBe(4);
  });

  it('skips a continuation whose parent is unknown, and counts it', async () => {
    const { index, ingestor } = setup();
    const prompt = tokens(32);
    await apply(ingestor, stored([3n], prompt.slice(16), { parentBlockHash: 99n }));
    expect(ingestor.counters.skippedParentUnknown).toBe(1);
    expect(index.stats().keys).toBe(0);
  });

  it('roots LoRA blocks at the adapter name and salted blocks at the salt', async () => {
    const { index, ingestor } = setup();
    const prompt = tokens(32);
    await apply(
      ingestor,
      stored([1n, 2n], prompt, { loraName: 'sql-lora', extraKeys: [['sql-lora'], ['sql-lora']] }),
    );
    expect(index.longestPrefix(lookupKeys(prompt, 'sql-lora')).get(POD)!.blocks).toBe(2);
    expect(index.longestPrefix(lookupKeys(prompt)).size).toBe(0);

    const other = tokens(32, 7);
    await apply(ingestor, stored([5n, 6n], other, { extraKeys: [['tenant-a'], null] }));
    expect(index.longestPrefix(lookupKeys(other, null, 'tenant-a')).get(POD)!.blocks).toBe(2);
    expect(index.longestPrefix(lookupKeys(other)).size).toBe(0);
  });

  it('stops at the first block with multimodal or prompt-embeds extra keys', async () => {
    const { index, ingestor } = setup();
    const prompt = tokens(48);
    const extras: BlockExtraKeys[] = [null, [['img-hash', 3]], null];
    await apply(ingestor, stored([1n, 2n, 3n], prompt, { extraKeys: extras }));
    expect(index.longestPrefix(lookupKeys(prompt)).get(POD)!.blocks).toBe(1);
    expect(ingestor.counters.blocksSkippedExtraKeys).toBe(2);
    // A continuation of the multimodal block cannot be chained either.
    await apply(ingestor, stored([4n], tokens(16, 9), { parentBlockHash: 3n }));
    expect(ingestor.counters.skippedParentUnknown).toBe(1);

    const embeds = tokens(16, 3);
    await apply(ingestor, stored([7n], embeds, { extraKeys: [[new Uint8Array([1, 2])]] }));
    expect(index.longestPrefix(lookupKeys(embeds)).size).toBe(0);
  });

  it('skips groups that are not full attention, remembering a group kind', async () => {
    const { index, ingestor } = setup();
    const prompt = tokens(32);
    await apply(
      ingestor,
      stored([1n, 2n], prompt, { groupIdx: 0, kvCacheSpecKind: 'full_attention' }),
      stored([1n, 2n], prompt, { groupIdx: 1, kvCacheSpecKind: 'sliding_window' }),
      stored([1n, 2n], prompt, { groupIdx: 2, kvCacheSpecKind: 'mamba' }),
    );
    expect(ingestor.counters.skippedUnsupportedSpecKind).toBe(2);
    // Removals of the sliding-window group (kind learned above) must not drop group 0's reference.
    await apply(ingestor, removed([2n], { groupIdx: 1 }));
    expect(ingestor.counters.skippedUnsupportedSpecKind).toBe(3);
    expect(index.longestPrefix(lookupKeys(prompt)).get(POD)!.blocks).toBe(2);
    await apply(ingestor, removed([2n], { groupIdx: 0 }));
    expect(index.longestPrefix(lookupKeys(prompt)).get(POD)!.blocks).toBe(1);
  });

  it('treats token-less stores as tier updates of known hashes', async () => {
    const { index, ingestor } = setup();
    const prompt = tokens(32);
    await apply(ingestor, stored([1n, 2n], prompt));
    await apply(ingestor, stored([1n, 2n, 77n], [], { medium: 'CPU', blockSize: 0 }));
    expect(ingestor.counters).toMatchObject({
      tierUpdateEvents: 1,
      tierUpdateBlocks: 2,
      tierUpdateUnknownHashes: 1,
    });
    await apply(ingestor, removed([1n, 2n]));
    expect(index.longestPrefix(lookupKeys(prompt)).get(POD)!.weighted).toBeCloseTo(1.6);
    await apply(ingestor, removed([1n], { medium: 'CPU' }));
    expect(index.longestPrefix(lookupKeys(prompt)).size).toBe(0);
  });

  it('needs two removals for a hash stored twice, and AllBlocksCleared drops the pod', async () => {
    const { index, ingestor } = setup();
    const prompt = tokens(32);
    await apply(ingestor, stored([1n, 2n], prompt), stored([1n, 2n], prompt), removed([1n]));
    expect(index.longestPrefix(lookupKeys(prompt)).get(POD)!.blocks).toBe(2);
    await apply(ingestor, removed([1n]));
    expect(index.longestPrefix(lookupKeys(prompt)).size).toBe(0);
    await apply(ingestor, stored([1n, 2n], prompt), { type: 'AllBlocksCleared' });
    expect(index.longestPrefix(lookupKeys(prompt)).size).toBe(0);
    expect(ingestor.counters).toMatchObject({ blockRemovedEvents: 2, blocksRemoved: 2, allBlocksCleared: 1 });
  });

  it('skips stores whose token count does not match their hashes', async () => {
    const { index, ingestor } = setup();
    await apply(ingestor, stored([1n, 2n], tokens(31), { blockSize: 16 }));
    expect(ingestor.counters.skippedTokenCountMismatch).toBe(1);
    expect(index.stats().keys).toBe(0);
  });

  it('maps engine blocks larger than the index blocks by the ratio rule', async () => {
    const { index, ingestor } = setup(16);
    const prompt = tokens(256);
    await apply(ingestor, stored([1n, 2n], prompt.slice(0, 128)));
    await apply(ingestor, stored([3n, 4n], prompt.slice(128), { parentBlockHash: 2n }));
    expect(index.longestPrefix(lookupKeys(prompt)).get(POD)!.blocks).toBe(16);
    await apply(ingestor, removed([4n]));
    expect(index.longestPrefix(lookupKeys(prompt)).get(POD)!.blocks).toBe(12);
  });

  it('indexes runs from block 0 but not continuations when engine blocks do not align', async () => {
    const { index, ingestor } = setup(16);
    const prompt = tokens(40);
    await apply(ingestor, stored([1n, 2n, 3n], prompt.slice(0, 24))); // engine block size 8
    expect(index.longestPrefix(lookupKeys(prompt)).get(POD)!.blocks).toBe(1);
    await apply(ingestor, stored([4n, 5n], prompt.slice(24), { parentBlockHash: 3n }));
    expect(ingestor.counters.skippedUnalignedBlockSize).toBe(1);
  });

  it('needs a model (or LoRA) to root keys', async () => {
    const { ingestor } = setup();
    await ingestor.applyBatch(POD, '', [stored([1n], tokens(16))]);
    expect(ingestor.counters.skippedNoModel).toBe(1);
  });
});
