/**
 * Placement claims, the pure part: which key siblings share, what a claim tells a replica that
 * finds it, and which dispatches are not worth a claim. Keys are the router's real block keys.
 */
import { describe, expect, it } from 'vitest';
import { blockKeyRoot, computeBlockKeys } from '../../src/index-store/block-keys.ts';
import { type ClaimGeometry, matchClaim, planClaim } from '../../src/routing/placement-claim.ts';

const BLOCK = 16;
const ROOT = blockKeyRoot('m', null, null);
/** 1024-token minimum, checkpoints every 256 tokens. */
const GEOMETRY: ClaimGeometry = { minNewBlocks: 64, checkpointBlocks: 16, maxCheckpoints: 64 };

function tokens(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => (seed * 7919 + i * 31) % 150_000);
}

function keysOf(prompt: readonly number[]): bigint[] {
  return [...computeBlockKeys(prompt, BLOCK, ROOT)];
}

const none = new Map<string, number>();

describe('planClaim', () => {
  it('gives identical prompts the same key and a value naming the chosen pod', () => {
    const keys = keysOf(tokens(6000, 1));
    const a = planClaim(keys, none, 'pod-a', GEOMETRY)!;
    const b = planClaim(keysOf(tokens(6000, 1)), none, 'pod-b', GEOMETRY)!;
    expect(a.key).toBe(b.key);
    // Nothing is cached: the key is the first checkpoint's block.
    expect(a.key).toBe(keys[15]);
    expect(matchClaim(keys, a.value)).toEqual({ endpointId: 'pod-a', sharedBlocks: keys.length });
  });

  it('places the key past the deepest cached block, so a shared cached prefix does not merge new content', () => {
    const system = tokens(2048, 7);
    const x = keysOf([...system, ...tokens(4000, 2)]);
    const y = keysOf([...system, ...tokens(4000, 3)]);
    const cached = new Map([['pod-c', 128]]);
    const planX = planClaim(x, cached, 'pod-a', GEOMETRY)!;
    const planY = planClaim(y, cached, 'pod-b', GEOMETRY)!;
    // Block 144 is the first checkpoint past the 128 cached blocks; the prompts differ there.
    expect(planX.key).toBe(x[143]);
    expect(planX.key).not.toBe(planY.key);
    // Had they met under one key, the claim would still only vouch for the cached part they share.
    expect(matchClaim(y, planX.value)).toBeNull();
  });

  it('tells how much a sibling with a different tail shares, to the checkpoint', () => {
    const shared = tokens(5000, 4);
    const x = keysOf([...shared, ...tokens(1000, 5)]);
    const y = keysOf([...shared, ...tokens(1000, 6)]);
    const plan = planClaim(x, none, 'pod-a', GEOMETRY)!;
    expect(planClaim(y, none, 'pod-b', GEOMETRY)!.key).toBe(plan.key);
    const match = matchClaim(y, plan.value)!;
    expect(match.endpointId).toBe('pod-a');
    // 5000 shared tokens = 312 full blocks; checkpoints every 16 blocks give 304.
    expect(match.sharedBlocks).toBe(304);
  });

  it('does not claim a dispatch whose pod computes little that is new', () => {
    const keys = keysOf(tokens(3000, 8));
    expect(planClaim(keys.slice(0, 63), none, 'pod-a', GEOMETRY)).toBeNull();
    // The chosen pod holds all but 50 blocks.
    expect(planClaim(keys, new Map([['pod-a', keys.length - 50]]), 'pod-a', GEOMETRY)).toBeNull();
    // Another pod holding them does not exempt a chosen pod that computes them again.
    expect(planClaim(keys, new Map([['pod-b', keys.length - 50]]), 'pod-a', GEOMETRY)).not.toBeNull();
  });

  it('spaces checkpoints out on long prompts so a claim stays small', () => {
    const keys = keysOf(tokens(128_000, 9));
    const plan = planClaim(keys, none, 'pod-a', GEOMETRY)!;
    expect(plan.value.length).toBeLessThan(2_000);
    expect(matchClaim(keys, plan.value)).toEqual({ endpointId: 'pod-a', sharedBlocks: keys.length });
    const prefix = keys.slice(0, 5000);
    // At this length checkpoints sit at 16 + 128k blocks: 4880 is the deepest within 5000.
    expect(matchClaim(prefix, plan.value)?.sharedBlocks).toBe(4880);
  });
});

describe('matchClaim', () => {
  it('rejects values that are not claims', () => {
    const keys = keysOf(tokens(2000, 10));
    for (const bad of ['', 'pod-a', '{"e":1,"c":[]}', '{"e":"p","c":[[0,"1"]]}', '{"e":"p","c":"x"}', '[]']) {
      expect(matchClaim(keys, bad)).toBeNull();
    }
  });
});
