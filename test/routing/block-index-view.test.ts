import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBlockIndex } from '../../src/index-store/memory-index.ts';
import { MemoryBlockIndexReader } from '../../src/index-store/memory-index-reader.ts';
import { BlockIndexView } from '../../src/routing/block-index-view.ts';
import { SpeculativeOverlay } from '../../src/routing/speculative-overlay.ts';

const keys = (tag: number, n: number): bigint[] =>
  Array.from({ length: n }, (_, i) => BigInt(tag * 1000 + i + 1));

describe('BlockIndexView over a real index owner', () => {
  const closers: Array<() => void> = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  function view(overlay?: SpeculativeOverlay): BlockIndexView {
    const index = MemoryBlockIndex.create({ blockSize: 16, capacityKeys: 1 << 12, maxPods: 8 });
    const reader = MemoryBlockIndexReader.attach(index.buffers, { writePort: index.openWritePort() });
    closers.push(
      () => reader.close(),
      () => index.close(),
    );
    return new BlockIndexView(reader, overlay);
  }

  it('sees its own speculative insert at once, before the owner has applied it', () => {
    const v = view();
    const prompt = keys(1, 10);
    v.insertSpeculative('pod-a', prompt, 0, 2000);
    const match = v.longestPrefix(prompt, ['pod-a', 'pod-b']);
    expect(match.get('pod-a')).toBe(10);
    expect(match.get('pod-b') ?? 0).toBe(0);
    // A sibling sharing the first 6 blocks matches those.
    expect(v.longestPrefix([...prompt.slice(0, 6), 99n, 100n], ['pod-a']).get('pod-a')).toBe(6);
  });

  it('without the overlay the insert is invisible until the owner applies it a turn later', async () => {
    const v = view(new SpeculativeOverlay(0));
    const prompt = keys(2, 8);
    v.insertSpeculative('pod-a', prompt, 0, 2000);
    expect(v.longestPrefix(prompt, ['pod-a']).get('pod-a') ?? 0).toBe(0);
    for (let i = 0; i < 20 && (v.longestPrefix(prompt, ['pod-a']).get('pod-a') ?? 0) === 0; i++) await turn();
    expect(v.longestPrefix(prompt, ['pod-a']).get('pod-a')).toBe(8);
  });
});

describe('SpeculativeOverlay', () => {
  it('merges the longest common run per endpoint, never lowering a match, only for listed endpoints', () => {
    const overlay = new SpeculativeOverlay(100, () => 0);
    overlay.record('a', [1n, 2n, 3n, 4n]);
    overlay.record('b', [1n, 2n, 9n]);
    const out = new Map<string, number>([['b', 3]]);
    overlay.merge([1n, 2n, 3n, 5n], ['a', 'b'], out);
    expect(out.get('a')).toBe(3);
    expect(out.get('b')).toBe(3);
    const only = new Map<string, number>();
    overlay.merge([1n, 2n, 3n], ['b'], only);
    expect(only.has('a')).toBe(false);
    expect(only.get('b')).toBe(2);
  });

  it('forgets an entry after its hold (or a shorter TTL)', () => {
    let now = 0;
    const overlay = new SpeculativeOverlay(100, () => now);
    overlay.record('a', [7n, 8n]);
    overlay.record('b', [7n, 8n], 10);
    now = 50;
    const mid = new Map<string, number>();
    overlay.merge([7n, 8n], ['a', 'b'], mid);
    expect([mid.get('a'), mid.get('b')]).toEqual([2, undefined]);
    now = 100;
    const late = new Map<string, number>();
    overlay.merge([7n, 8n], ['a', 'b'], late);
    expect(late.size).toBe(0);
    expect(overlay.size).toBe(0);
  });
});
