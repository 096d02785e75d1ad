/**
 * `precise-prefix-cache-producer` (Beta; llm-d-router.md §2.8): per-endpoint prefix matches from
 * the KV-event-fed block index, looked up with the request's block keys (computed by the
 * tokenization workers). Consumed by `prefix-cache-scorer` with
 * `prefixMatchInfoProducerName: precise-prefix-cache-producer`.
 *
 * Without block keys on the request, or without an index, it produces no info (every endpoint then
 * scores 0 on prefix) and says so in the trace. `tokenProcessorConfig`, `indexerConfig` and
 * `kvEventsConfig` are accepted for the index builder, which reads them from the loaded config;
 * only the block size matters here.
 */
import { z } from 'zod';
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { durationMs } from '../config/duration.ts';
import { definePlugin } from '../plugin-definition.ts';
import type { PrefixMatchData } from '../prefix-cache-match-info.ts';
import type { DataProducer, DispatchEvent, Produced, SchedulingCycle } from '../types.ts';
import type { BlockIndexReader, SpeculativeBlockIndexWriter } from './block-index-reader.ts';

export const PRECISE_PREFIX_CACHE_PRODUCER_TYPE = 'precise-prefix-cache-producer';

export const precisePrefixCacheParameters = z.strictObject({
  tokenProcessorConfig: z
    .strictObject({
      blockSizeTokens: z.int().positive().default(16),
      /** Deprecated alias of `blockSizeTokens`. */
      blockSize: z.int().positive().optional(),
      hashSeed: z.string().default(''),
      hashAlgorithm: z.enum(['cbor-fnv', 'xxh64']).default('cbor-fnv'),
    })
    .prefault({}),
  indexerConfig: z.record(z.string(), z.unknown()).optional(),
  kvEventsConfig: z.record(z.string(), z.unknown()).optional(),
  speculativeIndexing: z.boolean().default(false),
  speculativeTTL: durationMs.default(2000),
});

export type PrecisePrefixCacheParameters = z.output<typeof precisePrefixCacheParameters>;

export class PrecisePrefixCacheProducer implements DataProducer {
  readonly kind = 'producer';
  readonly type = PRECISE_PREFIX_CACHE_PRODUCER_TYPE;
  readonly blockSizeTokens: number;

  constructor(
    readonly name: string,
    readonly params: PrecisePrefixCacheParameters,
    private readonly index: BlockIndexReader | undefined,
    private readonly speculative: SpeculativeBlockIndexWriter | undefined,
  ) {
    this.blockSizeTokens =
      params.tokenProcessorConfig.blockSize ?? params.tokenProcessorConfig.blockSizeTokens;
  }

  produce(
    cycle: SchedulingCycle,
    candidates: readonly EndpointSnapshot[],
  ): Produced<PrefixMatchData | undefined> {
    const keys = cycle.request.blockKeys;
    const missing =
      !keys || keys.length === 0
        ? 'request has no blockKeys'
        : !this.index
          ? 'no block index configured'
          : null;
    if (missing !== null || !keys || !this.index) {
      cycle.note(this.name, `no prefix info: ${missing}`);
      return { value: undefined, summary: { info: 'none', reason: missing } };
    }
    const matches = this.index.longestPrefix(
      keys,
      candidates.map((endpoint) => endpoint.info.id),
    );
    const perEndpoint: Record<string, number> = {};
    for (const [id, blocks] of matches) if (blocks > 0) perEndpoint[id] = blocks;
    return {
      value: { matches, totalBlocks: keys.length, blockSizeTokens: this.blockSizeTokens },
      summary: {
        blockSizeTokens: this.blockSizeTokens,
        totalBlocks: keys.length,
        matchedBlocks: perEndpoint,
      },
    };
  }

  onDispatch(event: DispatchEvent): void {
    const keys = event.request.blockKeys;
    if (!this.params.speculativeIndexing || !this.speculative || !keys || keys.length === 0) return;
    const targets = new Set<string>();
    if (event.decision.endpointId) targets.add(event.decision.endpointId);
    const prefill = event.decision.profileResults['prefill']?.targets[0];
    if (prefill) targets.add(prefill);
    for (const id of targets)
      this.speculative.insertSpeculative(id, keys, event.nowMs, this.params.speculativeTTL);
  }
}

export const precisePrefixCacheProducerPlugin = definePlugin({
  type: PRECISE_PREFIX_CACHE_PRODUCER_TYPE,
  kind: 'producer',
  stability: 'beta',
  summary: 'per-endpoint prefix matches from the KV-event block index',
  parameters: precisePrefixCacheParameters,
  create(params, ctx) {
    if (params.tokenProcessorConfig.blockSize !== undefined) {
      ctx.warn(`${ctx.name}: 'tokenProcessorConfig.blockSize' is deprecated; use 'blockSizeTokens'`);
    }
    return new PrecisePrefixCacheProducer(
      ctx.name,
      params,
      ctx.state.blockIndex,
      ctx.state.speculativeBlockIndex,
    );
  },
});
