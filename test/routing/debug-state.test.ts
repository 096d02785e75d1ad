import { describe, expect, it } from 'vitest';
import { debugPluginState } from '../../src/routing/debug-state.ts';

describe('debug plugin state', () => {
  it('turns maps, bigints, typed arrays and non-finite numbers into JSON-safe values', () => {
    const state = new Map<string, unknown>([
      [
        'kvedge-picker',
        {
          costs: [{ endpointId: 'a', prediction: { costSeconds: 0.25, queueSeconds: Infinity } }],
          keys: new BigUint64Array(3),
          matches: new Map([['a', 7n]]),
          pods: new Set(['a', 'b']),
          hook: () => 1,
        },
      ],
    ]);
    const out = debugPluginState(state);
    expect(JSON.parse(JSON.stringify(out))).toEqual({
      'kvedge-picker': {
        costs: [{ endpointId: 'a', prediction: { costSeconds: 0.25, queueSeconds: 'Infinity' } }],
        keys: { length: 3 },
        matches: { a: '7' },
        pods: ['a', 'b'],
      },
    });
  });

  it('summarizes structures nested deeper than the limit', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 10; i++) deep = { next: deep };
    expect(JSON.stringify(debugPluginState(new Map([['p', deep]])))).toContain('…');
  });
});
