/**
 * `approx-prefix-cache-producer` (Beta; llm-d-router.md §2.7): estimates which endpoint holds the
 * prompt's KV cache from what the router itself sent where. At scheduling it hashes the prompt
 * into chained blocks and looks up, per endpoint, the longest run of leading blocks recorded for
 * it; at dispatch (llm-d `PreRequest`) it records the blocks for the chosen endpoint, and for the
 * target of a profile named exactly `prefill` when one ran.
 *
 * Block size: `blockSizeTokens`, or with `autoTune` the first candidate's vLLM block size
 * (`cache_config_info{block_size}`); either way at least 64 tokens (llm-d issue #1158: smaller
 * blocks blow up index memory). Per-endpoint LRU capacity: the endpoint's `num_gpu_blocks` with
 * `autoTune`, else `lruCapacityPerServer`. Token cap: `maxPrefixTokensToMatch` wins when > 0,
 * else `maxPrefixBlocksToMatch`, both 0 = unlimited.
 *
 * `fallbackFor` (a kvedge extension, default none): producers this one only stands in for. When one
 * of them produced prefix data for the request (the precise producer does whenever the request has
 * block keys and the router an index), this one neither hashes the prompt nor records it: its
 * answer would be ignored, and hashing a long prompt is most of a decision's cost. Whether a request
 * has block keys depends on its model having a tokenizer, so a model's requests take one path or the
 * other and the history stays complete for the models that need it.
 */
import { z } from 'zod';
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import type { PrefixMatchData } from '../prefix-cache-match-info.ts';
import type { DataProducer, DispatchEvent, Produced, SchedulingCycle } from '../types.ts';
import type { PrefixIndexStore } from './prefix-index-store.ts';
import { promptBlockHashes, promptTokenCount } from './prompt-block-hashes.ts';

export const APPROX_PREFIX_CACHE_PRODUCER_TYPE = 'approx-prefix-cache-producer';

/** Floor on the routing block size (llm-d `minBlockSizeTokens`). */
export const MIN_BLOCK_SIZE_TOKENS = 64;

export const approxPrefixCacheParameters = z.strictObject({
  autoTune: z.boolean().default(true),
  blockSizeTokens: z.int().positive().default(16),
  maxPrefixTokensToMatch: z.int().nonnegative().default(131072),
  maxPrefixBlocksToMatch: z.int().nonnegative().default(2048),
  lruCapacityPerServer: z.int().positive().default(31250),
  /** Deprecated alias of `blockSizeTokens`. */
  blockSize: z.int().positive().optional(),
  /** Producers (listed before this one) whose prefix data, when present, makes this one skip the request. */
  fallbackFor: z.array(z.string().min(1)).default([]),
});

export type ApproxPrefixCacheParameters = z.output<typeof approxPrefixCacheParameters>;

/** What the producer hands to consumers, plus what its dispatch hook needs. */
export interface ApproxPrefixData extends PrefixMatchData {
  readonly hashes: readonly bigint[];
  readonly candidates: readonly EndpointSnapshot[];
}

export class ApproxPrefixCacheProducer implements DataProducer {
  readonly kind = 'producer';
  readonly type = APPROX_PREFIX_CACHE_PRODUCER_TYPE;

  constructor(
    readonly name: string,
    private readonly params: ApproxPrefixCacheParameters,
    private readonly index: PrefixIndexStore,
  ) {}

  produce(
    cycle: SchedulingCycle,
    candidates: readonly EndpointSnapshot[],
  ): Produced<ApproxPrefixData | undefined> {
    for (const primary of this.params.fallbackFor) {
      const data = cycle.producerData<PrefixMatchData>(primary);
      if (data && data.totalBlocks > 0)
        return { value: undefined, summary: { info: 'none', skippedFor: primary } };
    }
    const blockSizeTokens = this.blockSize(candidates);
    const hashes = promptBlockHashes(cycle.request, blockSizeTokens, this.maxBlocks(blockSizeTokens));
    const matches = hashes.length > 0 ? this.index.longestPrefix(hashes) : new Map<string, number>();
    const perEndpoint: Record<string, number> = {};
    for (const endpoint of candidates) {
      const blocks = matches.get(endpoint.info.id);
      if (blocks) perEndpoint[endpoint.info.id] = blocks;
    }
    return {
      value: { matches, totalBlocks: hashes.length, blockSizeTokens, hashes, candidates },
      summary: {
        blockSizeTokens,
        promptTokens: promptTokenCount(cycle.request),
        totalBlocks: hashes.length,
        matchedBlocks: perEndpoint,
      },
    };
  }

  onDispatch(event: DispatchEvent): void {
    const data = event.decision.state.producerData.get(this.name) as ApproxPrefixData | undefined;
    if (!data || data.hashes.length === 0) return;
    const targets = new Set<string>();
    if (event.decision.endpointId) targets.add(event.decision.endpointId);
    const prefill = event.decision.profileResults['prefill']?.targets[0];
    if (prefill) targets.add(prefill);
    for (const id of targets) this.recordPlacement(id, data.hashes, data);
  }

  /**
   * Records that `endpointId` was sent the prompt `hashes` (at most the request's, `data`): at this
   * router's dispatch, or when another router's placement claim says it sent the prompt there.
   */
  recordPlacement(endpointId: string, hashes: readonly bigint[], data: ApproxPrefixData): void {
    const endpoint = data.candidates.find((candidate) => candidate.info.id === endpointId);
    this.index.add(endpointId, hashes, this.capacity(endpoint));
  }

  retainEndpoints(activeIds: ReadonlySet<string>): void {
    for (const id of this.index.endpointIds()) {
      if (!activeIds.has(id)) this.index.removeEndpoint(id);
    }
  }

  /** Effective routing block size for a request over `candidates`. */
  blockSize(candidates: readonly EndpointSnapshot[]): number {
    let size = this.params.blockSizeTokens;
    const engineBlock = candidates[0]?.metrics?.blockSize;
    if (this.params.autoTune && engineBlock && engineBlock > 0) size = engineBlock;
    return Math.max(MIN_BLOCK_SIZE_TOKENS, size);
  }

  private maxBlocks(blockSizeTokens: number): number {
    if (this.params.maxPrefixTokensToMatch > 0)
      return Math.floor(this.params.maxPrefixTokensToMatch / blockSizeTokens);
    if (this.params.maxPrefixBlocksToMatch > 0) return this.params.maxPrefixBlocksToMatch;
    return Number.POSITIVE_INFINITY;
  }

  private capacity(endpoint: EndpointSnapshot | undefined): number {
    const gpuBlocks = endpoint?.metrics?.numGpuBlocks;
    if (this.params.autoTune && gpuBlocks && gpuBlocks > 0) return gpuBlocks;
    return this.params.lruCapacityPerServer;
  }
}

export const approxPrefixCacheProducerPlugin = definePlugin({
  type: APPROX_PREFIX_CACHE_PRODUCER_TYPE,
  kind: 'producer',
  stability: 'beta',
  summary: 'estimates per-endpoint prefix cache hits from the prompts the router dispatched',
  parameters: approxPrefixCacheParameters,
  consumesProducers: (params) => params.fallbackFor,
  create(params, ctx) {
    let resolved = params;
    if (params.blockSize !== undefined) {
      ctx.warn(`${ctx.name}: 'blockSize' is deprecated; use 'blockSizeTokens'`);
      if (params.blockSizeTokens === 16) resolved = { ...params, blockSizeTokens: params.blockSize };
    }
    if (resolved.blockSizeTokens < MIN_BLOCK_SIZE_TOKENS && !resolved.autoTune) {
      ctx.warn(
        `${ctx.name}: blockSizeTokens ${resolved.blockSizeTokens} is below the minimum; using ${MIN_BLOCK_SIZE_TOKENS}`,
      );
    }
    return new ApproxPrefixCacheProducer(ctx.name, resolved, ctx.state.prefixIndex(ctx.name));
  },
});
