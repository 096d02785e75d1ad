import { describe, expect, it } from 'vitest';
import { loadSchedulerConfig } from '../../src/scheduler/config/loader.ts';
import type {
  BlockIndexReader,
  SpeculativeBlockIndexWriter,
} from '../../src/scheduler/producers/block-index-reader.ts';
import { createRandom } from '../../src/scheduler/prng.ts';
import { createInMemoryState } from '../../src/scheduler/state.ts';
import { endpoint, fleet, NOW, request } from './fixtures.ts';

const CONFIG = `
plugins:
- type: precise-prefix-cache-producer
  parameters: {tokenProcessorConfig: {blockSizeTokens: 64}, speculativeIndexing: true, speculativeTTL: 5s}
- type: prefix-cache-scorer
  parameters: {prefixMatchInfoProducerName: precise-prefix-cache-producer}
`;

describe('precise-prefix-cache-producer', () => {
  const eps = [endpoint('a'), endpoint('b')];
  const calls: { keys: readonly bigint[]; ids: readonly string[] }[] = [];
  const reader: BlockIndexReader = {
    longestPrefix(keys, ids) {
      calls.push({ keys, ids });
      return new Map([['b', 3.2]]); // tier-weighted: e.g. 3 GPU blocks + 1 CPU block at 0.2
    },
  };
  const inserted: unknown[] = [];
  const writer: SpeculativeBlockIndexWriter = {
    insertSpeculative: (...args) => inserted.push(args),
  };

  it('scores from the block index with the request block keys', () => {
    const { scheduler } = loadSchedulerConfig(CONFIG, {
      state: createInMemoryState({ blockIndex: reader, speculativeBlockIndex: writer }),
    });
    const req = request({ blockKeys: [11n, 12n, 13n, 14n] });
    const decision = scheduler.schedule(req, fleet(eps), { random: createRandom(1) });
    expect(calls.at(-1)).toEqual({ keys: [11n, 12n, 13n, 14n], ids: ['a', 'b'] });
    // b: 3.2 / 4 = 0.8
    const b = decision.trace.profiles[0]!.candidates.find((c) => c.endpointId === 'b')!;
    expect(b.scores[0]!.raw).toBeCloseTo(0.8, 12);
    expect(decision.endpointId).toBe('b');

    scheduler.recordDispatch(req, decision, NOW);
    expect(inserted).toEqual([['b', [11n, 12n, 13n, 14n], NOW, 5000]]);
  });

  it('falls back to no info, with a trace note, without block keys or without an index', () => {
    const withIndex = loadSchedulerConfig(CONFIG, {
      state: createInMemoryState({ blockIndex: reader }),
    }).scheduler;
    const noKeys = withIndex.schedule(request(), fleet(eps), { random: createRandom(1) });
    expect(noKeys.trace.notes.map((n) => n.message)).toContain('no prefix info: request has no blockKeys');
    expect(noKeys.trace.producers[0]!.summary).toEqual({ info: 'none', reason: 'request has no blockKeys' });
    expect(noKeys.endpointId).not.toBeNull();

    const noIndex = loadSchedulerConfig(CONFIG).scheduler;
    const decision = noIndex.schedule(request({ blockKeys: [1n] }), fleet(eps), { random: createRandom(1) });
    expect(decision.trace.notes.map((n) => n.message)).toContain('no prefix info: no block index configured');
  });
});
