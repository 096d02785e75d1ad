import { describe, expect, it } from 'vitest';
import { SequenceTracker } from '../../src/index-store/sequence-tracker.ts';

describe('SequenceTracker', () => {
  it('classifies sequences against the last applied one', () => {
    const t = new SequenceTracker();
    expect(t.classify(5n)).toBe('first');
    t.accept(5n);
    expect(t.classify(6n)).toBe('next');
    expect(t.classify(8n)).toBe('gap');
    expect(t.classify(5n)).toBe('duplicate');
    expect(t.classify(0n)).toBe('restart');
    t.accept(0xffff_ffff_ffff_fffen);
    expect(t.classify(0xffff_ffff_ffff_ffffn)).toBe('next');
    t.reset();
    expect(t.last).toBeNull();
    expect(t.classify(0n)).toBe('first');
  });
});
