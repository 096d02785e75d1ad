/**
 * SGLang model gateway's `cache_aware` policy as a kvedge picker (`sglang-cache-aware-picker`),
 * following peer-routers.md §1.2 ("`cache_aware` policy, exactly"), with SMG's CLI defaults:
 * cache_threshold 0.3, balance_abs_threshold 64, balance_rel_threshold 1.5, eviction_interval
 * 120 s, max_tree_size 2^26 tokens per worker.
 *
 * Per request, over the healthy candidates:
 * 1. load = the router's own in-flight request count (kvedge's dispatch accounting, the same role
 *    as SMG's load guard); the min-load worker is chosen by (load, processed count, index);
 * 2. imbalanced when `max − min > balance_abs_threshold` AND `max > balance_rel_threshold × min`
 *    (the KV-usage triggers are off by default and not modelled) → the min-load worker;
 * 3. otherwise prefix match on the approximate tree (multi-tenant-token-tree.ts): if
 *    matched / input > cache_threshold, the tenant owning the deepest matched node (sticky last
 *    tenant; load not consulted), else the min-load worker;
 * 4. at dispatch the whole prompt is inserted under the chosen worker, whatever branch chose it.
 * 5. eviction: every `evictionIntervalSeconds` (checked at dispatch, since a pure plugin has no
 *    background task), each worker over `maxTreeSize` tokens loses LRU leaves until under it.
 *
 * The tree is keyed on token ids when the request has them (SMG's gRPC token tree), else on the
 * prompt text's code points (SMG's HTTP char tree). Deliberate differences, all minor: SMG's 1-in-8
 * probabilistic LRU touch on match is omitted (the dispatch insert stamps the path anyway);
 * workers that leave the pool keep their tree entries, as in SMG v1.9 (§1.2 item 6), and are
 * simply never eligible while absent.
 */
import { z } from 'zod';
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import type { DispatchEvent, Picker, ScoredEndpoint, SchedulingCycle, SchedulingRequest } from '../types.ts';
import { MultiTenantTokenTree } from './multi-tenant-token-tree.ts';

export const SGLANG_CACHE_AWARE_PICKER_TYPE = 'sglang-cache-aware-picker';

export const sglangCacheAwareParameters = z.strictObject({
  cacheThreshold: z.number().min(0).max(1).default(0.3),
  balanceAbsThreshold: z.number().min(0).default(64),
  balanceRelThreshold: z.number().min(0).default(1.5),
  evictionIntervalSeconds: z.number().positive().default(120),
  maxTreeSize: z
    .int()
    .positive()
    .default(2 ** 26),
});

export type SglangCacheAwareParameters = z.output<typeof sglangCacheAwareParameters>;

/** Why a decision went where it did (recorded in the trace notes). */
export type SglangBranch = 'imbalanced' | 'cache-hit' | 'cache-miss';

/** The sequence the tree is keyed on: token ids, else the text's code points. */
export function treeKey(request: SchedulingRequest): readonly number[] {
  if (request.tokenIds && request.tokenIds.length > 0) return request.tokenIds;
  return Array.from(request.promptText, (ch) => ch.codePointAt(0) as number);
}

export class SglangCacheAwarePicker implements Picker {
  readonly kind = 'picker';
  readonly type = SGLANG_CACHE_AWARE_PICKER_TYPE;
  readonly tree = new MultiTenantTokenTree();
  private readonly processed = new Map<string, number>();
  private lastEvictionMs: number | null = null;

  constructor(
    readonly name: string,
    readonly params: SglangCacheAwareParameters,
  ) {}

  pick(cycle: SchedulingCycle, scored: readonly ScoredEndpoint[]): readonly string[] {
    const candidates = scored.map((s) => s.endpoint);
    if (candidates.length === 0) return [];
    const { chosen, branch, matchRate } = this.decide(cycle.request, candidates);
    cycle.note(
      this.name,
      `${branch}${matchRate === null ? '' : ` (match rate ${matchRate.toFixed(3)})`} → ${chosen}`,
    );
    return [chosen];
  }

  /** The policy itself, exposed for tests: which worker, and through which branch. */
  decide(
    request: SchedulingRequest,
    candidates: readonly EndpointSnapshot[],
  ): { chosen: string; branch: SglangBranch; matchRate: number | null } {
    let minLoad = Number.POSITIVE_INFINITY;
    let maxLoad = Number.NEGATIVE_INFINITY;
    let leastLoaded = candidates[0] as EndpointSnapshot;
    for (const endpoint of candidates) {
      const load = endpoint.inflight.requests;
      maxLoad = Math.max(maxLoad, load);
      // Candidates arrive in fleet order, so a strict comparison keeps the lowest index on ties.
      if (
        load < minLoad ||
        (load === minLoad && this.processedCount(endpoint) < this.processedCount(leastLoaded))
      ) {
        minLoad = load;
        leastLoaded = endpoint;
      }
    }
    const { balanceAbsThreshold: abs, balanceRelThreshold: rel } = this.params;
    if (maxLoad - minLoad > abs && maxLoad > rel * minLoad) {
      return { chosen: leastLoaded.info.id, branch: 'imbalanced', matchRate: null };
    }
    const key = treeKey(request);
    const eligible = new Set(candidates.map((e) => e.info.id));
    const match = this.tree.prefixMatch(key, (tenant) => eligible.has(tenant));
    const matchRate = key.length === 0 ? 0 : match.matchedTokens / key.length;
    if (matchRate > this.params.cacheThreshold && match.tenant !== null) {
      return { chosen: match.tenant, branch: 'cache-hit', matchRate };
    }
    return { chosen: leastLoaded.info.id, branch: 'cache-miss', matchRate };
  }

  onDispatch(event: DispatchEvent): void {
    const target = event.decision.endpointId;
    if (target === null) return;
    this.tree.insert(treeKey(event.request), target, event.nowMs);
    this.processed.set(target, (this.processed.get(target) ?? 0) + 1);
    this.maybeEvict(event.nowMs);
  }

  private maybeEvict(nowMs: number): void {
    if (this.lastEvictionMs === null) {
      this.lastEvictionMs = nowMs;
      return;
    }
    if (nowMs - this.lastEvictionMs < this.params.evictionIntervalSeconds * 1000) return;
    this.lastEvictionMs = nowMs;
    for (const tenant of this.tree.tenantNames()) this.tree.evictTenant(tenant, this.params.maxTreeSize);
  }

  private processedCount(endpoint: EndpointSnapshot): number {
    return this.processed.get(endpoint.info.id) ?? 0;
  }
}

export const sglangCacheAwarePickerPlugin = definePlugin({
  type: SGLANG_CACHE_AWARE_PICKER_TYPE,
  kind: 'picker',
  stability: 'kvedge',
  summary: "SGLang model gateway's cache_aware policy (approximate prefix tree + imbalance guard)",
  parameters: sglangCacheAwareParameters,
  create: (params, ctx) => new SglangCacheAwarePicker(ctx.name, params),
});
