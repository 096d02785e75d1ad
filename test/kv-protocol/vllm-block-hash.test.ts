import { describe, expect, it } from 'vitest';
import type { BlockExtraKeys } from '../../src/kv-protocol/events.ts';
import {
  createLegacySha256Cbor64BitHasher,
  createVllmBlockHasher,
  digestToEventInt,
} from '../../src/kv-protocol/vllm-block-hash.ts';
import { createVllmExtraKeys } from '../../src/kv-protocol/vllm-extra-keys.ts';
import { big, blockHashVectors, hex, unhex, type VllmHashCase } from './fixtures/reference-vectors.ts';

const { vllm } = blockHashVectors;

function extraKeysOf(c: VllmHashCase): ((i: number) => BlockExtraKeys) | undefined {
  const perBlock = c.extra_keys_per_block;
  return perBlock ? (i) => perBlock[i] ?? null : undefined;
}

function findCase(id: string): VllmHashCase {
  const c = vllm.cases.find((x) => x.id === id);
  if (!c) throw new Error(`missing vector ${id}`);
  return c;
}

describe('vLLM block hashes: every reference case', () => {
  it('covers all algorithms, both seeds and every scenario', () => {
    expect(new Set(vllm.cases.map((c) => c.algorithm))).toEqual(
      new Set(['sha256_cbor', 'sha256', 'xxhash_cbor', 'xxhash']),
    );
    expect(vllm.cases.length).toBe(26);
  });

  it.each(vllm.cases.map((c) => [c.id, c] as const))('%s', (_id, c) => {
    const hasher = createVllmBlockHasher({ algo: c.algorithm, pythonHashSeed: c.PYTHONHASHSEED });
    expect(hex(hasher.noneHash)).toBe(c.none_hash_hex);

    const digests = hasher.hashPrompt(c.token_ids, c.block_size, extraKeysOf(c));
    expect(digests.map(hex)).toEqual(c.block_hashes_hex);
    expect(digests.map(digestToEventInt)).toEqual(c.block_hashes_event_int.map(big));

    // Block by block through the BlockHashFn gives the same chain.
    let parent: Uint8Array | null = null;
    c.block_hashes_hex.forEach((expected, i) => {
      const tokens = c.token_ids.slice(i * c.block_size, (i + 1) * c.block_size);
      parent = hasher.hashBlock(parent, tokens, c.extra_keys_per_block?.[i] ?? null);
      expect(hex(parent)).toBe(expected);
    });
  });

  it.each(Object.entries(vllm.seeds))('NONE_HASH for PYTHONHASHSEED "%s"', (seed, v) => {
    expect(hex(createVllmBlockHasher({ algo: 'sha256_cbor', pythonHashSeed: seed }).noneHash)).toBe(
      v.sha256_cbor_NONE_HASH,
    );
    expect(hex(createVllmBlockHasher({ algo: 'sha256', pythonHashSeed: seed }).noneHash)).toBe(
      v.sha256_NONE_HASH,
    );
  });

  it('defaults to sha256_cbor with PYTHONHASHSEED "0"', () => {
    const c = findCase('vllm/sha256_cbor/seed=0/text');
    const hasher = createVllmBlockHasher();
    expect(hasher.algo).toBe('sha256_cbor');
    expect(hasher.hashPrompt(c.token_ids, c.block_size).map(hex)).toEqual(c.block_hashes_hex);
  });
});

describe('vLLM block hashing semantics', () => {
  const text = findCase('vllm/sha256_cbor/seed=0/text');
  const hasher = createVllmBlockHasher({ algo: 'sha256_cbor', pythonHashSeed: '0' });

  it('hashes only full blocks: the partial tail gets no digest', () => {
    expect(text.token_ids.length).toBe(40);
    expect(hasher.hashPrompt(text.token_ids, 16)).toHaveLength(2);
    expect(hasher.hashPrompt(text.token_ids.slice(0, 15), 16)).toHaveLength(0);
  });

  it('treats a null or empty parent as NONE_HASH, like `if not parent_block_hash`', () => {
    const tokens = text.token_ids.slice(0, 16);
    const first = hex(hasher.hashBlock(null, tokens, null));
    expect(first).toBe(text.block_hashes_hex[0]);
    expect(hex(hasher.hashBlock(new Uint8Array(0), tokens, null))).toBe(first);
    expect(hex(hasher.hashBlock(hasher.noneHash, tokens, null))).toBe(first);
  });

  it('accepts typed-array prompts', () => {
    expect(hasher.hashPrompt(Uint32Array.from(text.token_ids), 16).map(hex)).toEqual(text.block_hashes_hex);
  });

  it('rejects a non-positive block size', () => {
    expect(() => hasher.hashPrompt(text.token_ids, 0)).toThrow(RangeError);
  });

  it('an unset PYTHONHASHSEED (null) gives a random root, as vLLM does', () => {
    const a = createVllmBlockHasher({ pythonHashSeed: null });
    const b = createVllmBlockHasher({ pythonHashSeed: null });
    expect(a.noneHash).toHaveLength(32);
    expect(hex(a.noneHash)).not.toBe(hex(b.noneHash));
    expect(createVllmBlockHasher({ algo: 'xxhash_cbor', pythonHashSeed: null }).noneHash).toHaveLength(16);
  });

  it('digestToEventInt reads the last 8 bytes big-endian and left-pads short input', () => {
    expect(digestToEventInt(unhex(text.block_hashes_hex[0]!))).toBe(big(text.block_hashes_event_int[0]!));
    expect(digestToEventInt(unhex('0102'))).toBe(0x0102n);
    expect(digestToEventInt(unhex('ffffffffffffffff'))).toBe(2n ** 64n - 1n);
  });
});

describe('vLLM extra keys per block reproduce the reference scenarios', () => {
  const scenarios = [
    ['lora', { loraName: 'my-lora' }],
    ['cache_salt', { cacheSalt: 'tenant-a' }],
    ['lora_and_salt', { loraName: 'my-lora', cacheSalt: 'tenant-a' }],
    // An image occupying tokens [5, 25): block 0 sees it at +5, block 1 (start 16) at -11.
    ['mm_tuple_identifier_offset', { multiModal: [{ identifier: 'img-uuid-1', offset: 5, length: 20 }] }],
    [
      'mm_bare_identifier',
      { multiModal: [{ identifier: 'img-uuid-1', offset: 5, length: 20 }], multiModalKeyStyle: 'bare' },
    ],
  ] as const;

  for (const algo of ['sha256_cbor', 'sha256'] as const) {
    it.each(scenarios)(`${algo}: %s`, (scenario, options) => {
      const c = findCase(`vllm/${algo}/seed=0/${scenario}`);
      const extraKeys = createVllmExtraKeys(options);
      expect(extraKeys).toBeDefined();
      const perBlock = c.block_hashes_hex.map((_, i) => extraKeys!(i, i * 16, (i + 1) * 16));
      expect(perBlock).toEqual(c.extra_keys_per_block);
      const hasher = createVllmBlockHasher({ algo, pythonHashSeed: '0' });
      expect(hasher.hashPrompt(c.token_ids, c.block_size, extraKeys).map(hex)).toEqual(c.block_hashes_hex);
    });
  }

  it('returns undefined when nothing applies, and ignores an empty cache salt (vLLM tests truthiness)', () => {
    expect(createVllmExtraKeys({})).toBeUndefined();
    expect(createVllmExtraKeys({ loraName: null, cacheSalt: '' })).toBeUndefined();
  });

  it('lists several images in offset order and skips blocks they do not touch', () => {
    const extraKeys = createVllmExtraKeys({
      multiModal: [
        { identifier: 'second', offset: 40, length: 8 },
        { identifier: 'first', offset: 10, length: 4 },
      ],
      promptEmbedsDigest: () => unhex('aa'),
    })!;
    expect(extraKeys(0, 0, 16)).toEqual([['first', 10], unhex('aa')]);
    expect(extraKeys(1, 16, 32)).toEqual([unhex('aa')]);
    expect(extraKeys(2, 32, 48)).toEqual([['second', 8], unhex('aa')]);
  });
});

describe('legacy sha256_cbor_64bit chain (vLLM v0.9.2–v0.10.1)', () => {
  it.each(vllm.legacy.map((c) => [c.id, c] as const))('%s', (_id, c) => {
    const hasher = createLegacySha256Cbor64BitHasher({ pythonHashSeed: c.PYTHONHASHSEED });
    expect(hasher.noneHash).toBe(big(c.none_hash_int));
    const values = hasher.hashPrompt(c.token_ids, c.block_size);
    expect(values).toEqual(c.block_hashes_int.map(big));
    expect(hasher.hashBlock(values[0]!, c.token_ids.slice(16, 32), null)).toBe(values[1]);
  });
});
