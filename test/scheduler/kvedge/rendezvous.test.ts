import { describe, expect, it } from 'vitest';
import { promptIdentity, rendezvousWeight } from '../../../src/scheduler/kvedge/rendezvous.ts';
import { request } from '../fixtures.ts';

describe('promptIdentity', () => {
  it('is the same for the same prompt and differs when only the end differs', () => {
    const keys = [11n, 22n, 33n];
    const a = promptIdentity(request({ blockKeys: keys }));
    expect(promptIdentity(request({ blockKeys: [...keys] }))).toBe(a);
    // one system prompt (same first blocks), another question: another identity
    expect(promptIdentity(request({ blockKeys: [11n, 22n, 44n] }))).not.toBe(a);
  });

  it('falls back to the token ids, then the text, and is null for an empty prompt', () => {
    const ids = Array.from({ length: 300 }, (_, i) => i);
    const byIds = promptIdentity(request({ tokenIds: ids }));
    expect(byIds).toBe(promptIdentity(request({ tokenIds: [...ids] })));
    expect(promptIdentity(request({ tokenIds: [...ids.slice(0, 299), 7] }))).not.toBe(byIds);
    const byText = promptIdentity(request({ promptText: 'You are helpful. Q: 1' }));
    expect(byText).not.toBeNull();
    expect(promptIdentity(request({ promptText: 'You are helpful. Q: 2' }))).not.toBe(byText);
    expect(promptIdentity(request({ promptText: '' }))).toBeNull();
  });
});

describe('rendezvousWeight', () => {
  it('spreads the preferred endpoint evenly over prompts', () => {
    const ids = Array.from({ length: 8 }, (_, i) => `10.0.0.${i + 1}:8000`);
    const wins = new Map<string, number>();
    for (let identity = 0; identity < 8000; identity++) {
      let best = ids[0] as string;
      for (const id of ids)
        if (rendezvousWeight(identity * 2654435761, id) > rendezvousWeight(identity * 2654435761, best))
          best = id;
      wins.set(best, (wins.get(best) ?? 0) + 1);
    }
    // each of 8 endpoints should win ~1000 of 8000; a skewed hash would leave some near 0
    for (const id of ids) expect(wins.get(id) ?? 0).toBeGreaterThan(850);
    for (const id of ids) expect(wins.get(id) ?? 0).toBeLessThan(1150);
  });
});
