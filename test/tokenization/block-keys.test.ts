import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { blockKeyRoot, computeBlockKeys } from '../../src/tokenization/block-keys.ts';

interface LlmdVector {
  id: string;
  blockSizeTokens: number;
  token_ids: number[];
  model_root_hash: string;
  request_keys: string[];
}

const vectors = JSON.parse(
  readFileSync(new URL('./fixtures/llmd-xxh64-block-vectors.json', import.meta.url), 'utf8'),
) as { cases: LlmdVector[] };

describe('computeBlockKeys', () => {
  // llm-d's xxh64 scheme chains blocks exactly as ours does (only the root differs), so its
  // vectors check the block step: XXH64(le64(parent) || le32 tokens), seed 0.
  const cases = vectors.cases;

  it('has reference vectors to check against', () => {
    expect(cases.length).toBeGreaterThanOrEqual(2);
  });

  for (const v of cases) {
    it(`matches ${v.id}`, () => {
      const keys = computeBlockKeys(v.token_ids, v.blockSizeTokens, BigInt(v.model_root_hash));
      expect([...keys]).toEqual(v.request_keys.map(BigInt));
    });
  }

  it('drops the trailing partial block and chains: a shared prefix gives shared keys', () => {
    const root = blockKeyRoot('m');
    const a = computeBlockKeys([1, 2, 3, 4, 5, 6, 7, 8, 9], 4, root);
    const b = computeBlockKeys([1, 2, 3, 4, 5, 6, 7, 0], 4, root);
    expect(a).toHaveLength(2);
    expect(a[0]).toBe(b[0]);
    expect(a[1]).not.toBe(b[1]);
    expect(computeBlockKeys([1, 2, 3], 4, root)).toHaveLength(0);
    expect(computeBlockKeys(Uint32Array.from([1, 2, 3, 4]), 4, root)).toEqual(
      computeBlockKeys([1, 2, 3, 4], 4, root),
    );
  });

  it('rejects bad block sizes and token ids', () => {
    expect(() => computeBlockKeys([1], 0, 0n)).toThrow(RangeError);
    expect(() => computeBlockKeys([1, -1], 2, 0n)).toThrow(RangeError);
    expect(() => computeBlockKeys([2 ** 32], 1, 0n)).toThrow(RangeError);
  });
});

describe('blockKeyRoot', () => {
  it('depends on model, LoRA and salt, keeping field boundaries apart', () => {
    const roots = [
      blockKeyRoot('model'),
      blockKeyRoot('model', 'lora'),
      blockKeyRoot('model', null, 'lora'),
      blockKeyRoot('mode', 'llora'),
      blockKeyRoot('model', 'lo', 'ra'),
      blockKeyRoot('other'),
    ];
    expect(new Set(roots).size).toBe(roots.length);
    expect(blockKeyRoot('model', null, null)).toBe(blockKeyRoot('model', '', ''));
    expect(blockKeyRoot('model', 'x')).toBe(blockKeyRoot('model', 'x'));
  });
});
