import { describe, expect, it } from 'vitest';
import { TokenBudgetLru } from '../../src/tokenization/token-budget-lru.ts';

const entry = (n: number): { tokens: Uint32Array } => ({ tokens: new Uint32Array(n) });

describe('TokenBudgetLru', () => {
  it('evicts least recently used values until the token budget holds', () => {
    const lru = new TokenBudgetLru<string, { tokens: Uint32Array }>(10);
    lru.set('a', entry(4));
    lru.set('b', entry(4));
    lru.get('a');
    lru.set('c', entry(4));
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBeDefined();
    expect(lru.tokens).toBe(8);
    expect(lru.evictions).toBe(1);
  });

  it('replaces values in place and never stores one larger than the budget', () => {
    const lru = new TokenBudgetLru<string, { tokens: Uint32Array }>(10);
    lru.set('a', entry(6));
    lru.set('a', entry(2));
    expect(lru.tokens).toBe(2);
    lru.set('huge', entry(11));
    expect(lru.get('huge')).toBeUndefined();
    expect(lru.size).toBe(1);
    lru.clear();
    expect(lru.tokens).toBe(0);
  });
});
