/** A kvedge-picker built from the named config, over an index stand-in, for picker tests. */
import { parse } from 'yaml';
import { KVEDGE_CONFIG_YAML } from '../../../src/scheduler/config/defaults.ts';
import { loadSchedulerConfig } from '../../../src/scheduler/config/loader.ts';
import type { KvedgePicker } from '../../../src/scheduler/kvedge/kvedge-picker.ts';
import type {
  BlockIndexReader,
  SpeculativeBlockIndexWriter,
} from '../../../src/scheduler/producers/block-index-reader.ts';
import { createRandom } from '../../../src/scheduler/prng.ts';
import { createInMemoryState } from '../../../src/scheduler/state.ts';
import type { SchedulingRequest } from '../../../src/scheduler/types.ts';
import { NOW, request } from '../fixtures.ts';

/** A KV-event index stand-in: fixed matches per prompt, plus what speculative inserts recorded. */
export class FakeIndex implements BlockIndexReader, SpeculativeBlockIndexWriter {
  readonly held = new Map<string, Map<string, number>>();

  hold(keys: readonly bigint[], endpointId: string, blocks: number): void {
    const key = keys.join(',');
    const entry = this.held.get(key) ?? new Map<string, number>();
    entry.set(endpointId, blocks);
    this.held.set(key, entry);
  }

  longestPrefix(keys: readonly bigint[], ids: readonly string[]): Map<string, number> {
    const entry = this.held.get(keys.join(','));
    const out = new Map<string, number>();
    for (const id of ids) {
      const blocks = entry?.get(id);
      if (blocks) out.set(id, blocks);
    }
    return out;
  }

  insertSpeculative(endpointId: string, keys: readonly bigint[]): void {
    this.hold(keys, endpointId, keys.length);
  }
}

export function build(parameters: Record<string, unknown> = {}, index = new FakeIndex()) {
  const config = parse(KVEDGE_CONFIG_YAML) as { plugins: { type: string; parameters?: unknown }[] };
  for (const plugin of config.plugins) if (plugin.type === 'kvedge-picker') plugin.parameters = parameters;
  const loaded = loadSchedulerConfig(config, {
    state: createInMemoryState({ blockIndex: index, speculativeBlockIndex: index }),
  });
  return { ...loaded, index, picker: loaded.plugins.get('kvedge-picker') as KvedgePicker };
}

/** A 6400-token prompt (100 blocks of 64) with its block keys. */
export function prompt(tag: number, tokens = 6400): SchedulingRequest {
  const blocks = Math.ceil(tokens / 64);
  return request({
    promptTokenEstimate: tokens,
    tokenIds: Array.from({ length: tokens }, (_, i) => (tag * 1_000_003 + i) % 50_000),
    blockKeys: Array.from({ length: blocks }, (_, i) => BigInt(tag * 1000 + i)),
  });
}

export const random = () => ({ random: createRandom(7) });

/** Puts a request on `endpointId`'s books whose prefill is predicted to end `queueMs` from now. */
export function occupy(picker: KvedgePicker, endpointId: string, queueMs: number, uncachedTokens = 64): void {
  picker.ledger.dispatch(
    {
      requestId: `busy-${endpointId}-${queueMs}`,
      endpointId,
      dispatchMs: NOW,
      promptTokens: 2000,
      uncachedTokens,
      waitMs: 0,
      steps: 1,
      interferenceSeconds: 0,
    },
    NOW + queueMs,
  );
}
