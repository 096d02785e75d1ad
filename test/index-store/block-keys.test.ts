import { xxh64 } from '@node-rs/xxhash';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockKeyRoot, computeBlockKeys } from '../../src/index-store/block-keys.ts';

/**
 * llm-d `xxh64` token-processor vectors, hash seed "" (shared reference kv-events-and-hashing.md
 * §4.2 and §5, `llm_d[]` of block-hash-vectors.json).
 */
const TOKENS_A = [
  128000, 128006, 9125, 128007, 271, 0, 1, 23, 24, 255, 256, 65535, 65536, 128255, 42, 2, 100, 101, 102, 103,
  104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 7, 8, 9, 10, 11, 12, 13, 14,
];
const MODEL = 'Qwen/Qwen3-0.6B';
const LLMD_ROOT = 5676132858292909004n;
const LLMD_VECTORS = [
  { name: 'text', tokens: TOKENS_A, blockSize: 16, keys: [8528213204892412988n, 128737788047583295n] },
  {
    name: 'text_bs4',
    tokens: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    blockSize: 4,
    keys: [5422605292564324619n, 15039984753397582997n],
  },
];

describe('block keys', () => {
  for (const v of LLMD_VECTORS) {
    it(`equals llm-d's xxh64 token processor (${v.name})`, () => {
      const root = blockKeyRoot(MODEL, null, null);
      expect(root).toBe(LLMD_ROOT);
      expect([...computeBlockKeys(v.tokens, v.blockSize, root)]).toEqual(v.keys);
    });
  }

  it('matches the documented byte layout', () => {
    const root = blockKeyRoot('m', null, null);
    const input = Buffer.alloc(8 + 8);
    input.writeBigUInt64LE(root, 0);
    input.writeUInt32LE(7, 8);
    input.writeUInt32LE(0xffffffff, 12);
    expect(computeBlockKeys([7, 0xffffffff], 2, root)[0]).toBe(xxh64(input, 0n));
  });

  it('drops the partial tail block', () => {
    const root = blockKeyRoot('m', null, null);
    expect(computeBlockKeys([1, 2, 3, 4, 5], 2, root)).toHaveLength(2);
    expect(computeBlockKeys([1], 2, root)).toHaveLength(0);
  });

  it('uses the LoRA name instead of the model, and separates salts', () => {
    expect(blockKeyRoot('base', 'adapter', null)).toBe(blockKeyRoot('adapter', null, null));
    expect(blockKeyRoot('base', null, null)).not.toBe(blockKeyRoot('other', null, null));
    const salted = blockKeyRoot('base', null, 'tenant-a');
    expect(salted).not.toBe(blockKeyRoot('base', null, null));
    expect(salted).not.toBe(blockKeyRoot('base', null, 'tenant-b'));
    expect(blockKeyRoot('base', null, '')).toBe(blockKeyRoot('base', null, null));
  });

  it('chains: keys of a prompt = keys of its head, then keys of its tail from the last head key', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 200_000 }), { maxLength: 80 }),
        fc.integer({ min: 1, max: 8 }),
        fc.nat(),
        (tokens, blockSize, cut) => {
          const root = blockKeyRoot('m', null, null);
          const whole = computeBlockKeys(tokens, blockSize, root);
          const headBlocks = whole.length === 0 ? 0 : cut % (whole.length + 1);
          const head = computeBlockKeys(tokens.slice(0, headBlocks * blockSize), blockSize, root);
          const tail = computeBlockKeys(
            tokens.slice(headBlocks * blockSize),
            blockSize,
            headBlocks === 0 ? root : head[headBlocks - 1]!,
          );
          expect([...head, ...tail]).toEqual([...whole]);
        },
      ),
    );
  });

  it('rejects a non-positive block size', () => {
    expect(() => computeBlockKeys([1, 2], 0, 1n)).toThrow(RangeError);
  });
});
