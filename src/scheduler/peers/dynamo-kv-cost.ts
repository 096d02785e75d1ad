/**
 * NVIDIA Dynamo's KV router cost as a kvedge picker (`dynamo-kv-cost-picker`), following
 * peer-routers.md §2.2 (current form) with Dynamo's defaults: overlap credit 1.0, credit decay 0,
 * prefill_load_scale 1, temperature 0.
 *
 * For each candidate worker w, in blocks of the engine's block size:
 * ```
 * raw_prefill_blocks      = active_prefill_blocks_w + request_blocks
 * overlap_credit_blocks   = credit × decay_w × overlap_w
 * adjusted_prefill_blocks = max(raw_prefill_blocks − overlap_credit_blocks, 0)
 * decode_blocks_w         = active_blocks_w + new_blocks_w          ("potential active blocks")
 * cost_w                  = prefill_load_scale × adjusted_prefill_blocks + decode_blocks_w
 * decay_w                 = 1 / (1 + credit_decay × (active_prefill_blocks_w − min_w' active_prefill_blocks) / request_blocks)
 * ```
 * request_blocks = prompt tokens / block size (fractional, as Dynamo divides tokens); overlap_w =
 * blocks of the prompt w holds from the start, read from a prefix producer fed by engine KV events
 * (Dynamo's KvIndexer; here `precise-prefix-cache-producer`); active_blocks_w counts the distinct
 * blocks of w's running requests and new_blocks_w the request's full blocks not among them (so a
 * prefix already being decoded on w costs nothing again: Dynamo's unique-block accounting). Temperature 0 takes the argmin; ties go to the worker with the
 * fewest cached blocks (Dynamo's smallest tree), then at random. Temperature T > 0 normalizes
 * costs to [0, 1] and samples with p ∝ exp(−cost/T).
 *
 * Active loads come from {@link ActiveSequences}, updated by the hooks: dispatch (predicted
 * prefill = prompt − overlap on the chosen worker), first token (prefill done; see
 * first-token-hook.ts) and completion. Host/disk tiers, busy thresholds and the router queue
 * (all off by default) are not modelled.
 */
import { z } from 'zod';
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import type { PluginDefinition } from '../plugin-definition.ts';
import type { PrefixMatchData } from '../prefix-cache-match-info.ts';
import type {
  DispatchEvent,
  Picker,
  ResponseCompleteEvent,
  ScoredEndpoint,
  SchedulingCycle,
} from '../types.ts';
import { ActiveSequences } from './dynamo-active-sequences.ts';
import type { FirstTokenAware, FirstTokenEvent } from './first-token-hook.ts';

export const DYNAMO_KV_COST_PICKER_TYPE = 'dynamo-kv-cost-picker';

export const dynamoKvCostParameters = z.strictObject({
  overlapScoreCredit: z.number().min(0).default(1),
  overlapScoreCreditDecay: z.number().min(0).default(0),
  prefillLoadScale: z.number().min(0).default(1),
  temperature: z.number().min(0).default(0),
  prefixMatchInfoProducerName: z.string().min(1).default('precise-prefix-cache-producer'),
  /** Block size when no prefix data is available (else the producer's). */
  blockSizeTokens: z.int().positive().default(16),
});

export type DynamoKvCostParameters = z.output<typeof dynamoKvCostParameters>;

/** Optional inputs from outside the scheduler. */
export interface DynamoKvCostDeps {
  /** Blocks cached on a worker according to its KV events (Dynamo's tree size), for tie-breaks. */
  readonly cachedBlocks?: (endpointId: string) => number;
}

/** One worker's cost terms (exposed for tests and the trace). */
export interface DynamoCost {
  readonly endpointId: string;
  readonly overlapBlocks: number;
  readonly adjustedPrefillBlocks: number;
  readonly decodeBlocks: number;
  readonly cost: number;
}

interface PendingDispatch {
  readonly promptTokens: number;
  readonly blockSize: number;
  readonly overlaps: ReadonlyMap<string, number>;
}

export class DynamoKvCostPicker implements Picker, FirstTokenAware {
  readonly kind = 'picker';
  readonly type = DYNAMO_KV_COST_PICKER_TYPE;
  readonly active = new ActiveSequences();

  constructor(
    readonly name: string,
    readonly params: DynamoKvCostParameters,
    private readonly deps: DynamoKvCostDeps = {},
  ) {}

  pick(cycle: SchedulingCycle, scored: readonly ScoredEndpoint[]): readonly string[] {
    const candidates = scored.map((s) => s.endpoint);
    if (candidates.length === 0) return [];
    const data = cycle.producerData<PrefixMatchData>(this.params.prefixMatchInfoProducerName);
    const blockSize = data?.blockSizeTokens ?? this.params.blockSizeTokens;
    const promptTokens = cycle.request.tokenIds?.length ?? cycle.request.promptTokenEstimate;
    const overlaps = new Map<string, number>();
    for (const endpoint of candidates)
      overlaps.set(endpoint.info.id, data?.matches.get(endpoint.info.id) ?? 0);
    const costs = this.costs(candidates, overlaps, promptTokens, blockSize, cycle.request.blockKeys ?? null);
    const order = this.rank(costs, cycle);
    cycle.setPluginState(this.name, { promptTokens, blockSize, overlaps } satisfies PendingDispatch);
    const best = costs.find((c) => c.endpointId === order[0]);
    if (best) {
      cycle.note(
        this.name,
        `cost ${best.cost.toFixed(1)} (overlap ${best.overlapBlocks}) → ${best.endpointId}`,
      );
    }
    return order;
  }

  /** Cost of every candidate for a prompt of `promptTokens` tokens. */
  costs(
    candidates: readonly EndpointSnapshot[],
    overlaps: ReadonlyMap<string, number>,
    promptTokens: number,
    blockSize: number,
    blockKeys: readonly bigint[] | null = null,
  ): DynamoCost[] {
    const { overlapScoreCredit, overlapScoreCreditDecay, prefillLoadScale } = this.params;
    const requestBlocks = promptTokens / blockSize;
    const fullBlocks = Math.floor(promptTokens / blockSize);
    const activePrefill = candidates.map((e) => this.active.prefillTokens(e.info.id) / blockSize);
    const minActivePrefill = Math.min(...activePrefill);
    return candidates.map((endpoint, i) => {
      const id = endpoint.info.id;
      const overlap = overlaps.get(id) ?? 0;
      const prefill = activePrefill[i] as number;
      const decay =
        requestBlocks > 0
          ? 1 / (1 + (overlapScoreCreditDecay * (prefill - minActivePrefill)) / requestBlocks)
          : 1;
      const adjusted = Math.max(prefill + requestBlocks - overlapScoreCredit * decay * overlap, 0);
      const decodeBlocks = this.active.blocks(id) + this.active.newBlocks(id, blockKeys, fullBlocks);
      return {
        endpointId: id,
        overlapBlocks: overlap,
        adjustedPrefillBlocks: adjusted,
        decodeBlocks,
        cost: prefillLoadScale * adjusted + decodeBlocks,
      };
    });
  }

  onDispatch(event: DispatchEvent): void {
    const target = event.decision.endpointId;
    const pending = event.decision.state.pluginState.get(this.name) as PendingDispatch | undefined;
    if (target === null || !pending) return;
    const overlapTokens = (pending.overlaps.get(target) ?? 0) * pending.blockSize;
    const prefill = Math.max(0, pending.promptTokens - overlapTokens);
    const fullBlocks = Math.floor(pending.promptTokens / pending.blockSize);
    this.active.add(event.request.requestId, target, prefill, event.request.blockKeys ?? null, fullBlocks);
  }

  onFirstToken(event: FirstTokenEvent): void {
    this.active.prefillDone(event.requestId);
  }

  onResponseComplete(event: ResponseCompleteEvent): void {
    this.active.remove(event.request.requestId);
  }

  retainEndpoints(activeIds: ReadonlySet<string>): void {
    this.active.retain(activeIds);
  }

  /** Endpoint ids best first: argmin with Dynamo's tie-breaks, or a softmax draw at T > 0. */
  private rank(costs: readonly DynamoCost[], cycle: SchedulingCycle): string[] {
    const byCost = [...costs].sort((a, b) => a.cost - b.cost);
    const T = this.params.temperature;
    if (T > 0) {
      const min = (byCost[0] as DynamoCost).cost;
      const max = (byCost.at(-1) as DynamoCost).cost;
      const weights = costs.map((c) => (max > min ? Math.exp(-(c.cost - min) / (max - min) / T) : 1));
      let draw = cycle.random.next() * weights.reduce((s, w) => s + w, 0);
      let chosen = costs[costs.length - 1] as DynamoCost;
      for (let i = 0; i < costs.length; i++) {
        draw -= weights[i] as number;
        if (draw < 0) {
          chosen = costs[i] as DynamoCost;
          break;
        }
      }
      return [chosen.endpointId, ...byCost.filter((c) => c !== chosen).map((c) => c.endpointId)];
    }
    const best = (byCost[0] as DynamoCost).cost;
    const tied = byCost.filter((c) => c.cost - best < 1e-9);
    const treeSize = this.deps.cachedBlocks;
    let pool = tied;
    if (treeSize && tied.length > 1) {
      const smallest = Math.min(...tied.map((c) => treeSize(c.endpointId)));
      pool = tied.filter((c) => treeSize(c.endpointId) === smallest);
    }
    const chosen = pool[pool.length > 1 ? cycle.random.nextInt(pool.length) : 0] as DynamoCost;
    return [chosen.endpointId, ...byCost.filter((c) => c !== chosen).map((c) => c.endpointId)];
  }
}

/** The plugin definition, with optional outside inputs (tree sizes for tie-breaks). */
export function dynamoKvCostPickerDefinition(
  deps: DynamoKvCostDeps = {},
): PluginDefinition<DynamoKvCostParameters> {
  return definePlugin({
    type: DYNAMO_KV_COST_PICKER_TYPE,
    kind: 'picker',
    stability: 'kvedge',
    summary: "NVIDIA Dynamo's KV router cost (prefill blocks after overlap credit + decode blocks)",
    parameters: dynamoKvCostParameters,
    create: (params, ctx) => new DynamoKvCostPicker(ctx.name, params, deps),
    consumesProducers: (params) => [params.prefixMatchInfoProducerName],
  });
}

export const dynamoKvCostPickerPlugin = dynamoKvCostPickerDefinition();
