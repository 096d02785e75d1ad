/**
 * `utilization-detector` (Beta, llm-d's default saturation detector; llm-d-router.md §5, §4.1).
 *
 * Per endpoint: `max(waitingQueue / queueDepthThreshold, kvUsage / kvCacheUtilThreshold)`, with
 * metrics older than `metricsStalenessThreshold` (or missing) counting as 1.0 — fail-closed. Pool
 * saturation is the unweighted average over healthy endpoints; an empty pool is 1.0.
 * Defaults: queueDepthThreshold 5, kvCacheUtilThreshold 0.8, metricsStalenessThreshold 200ms,
 * headroom 0.
 *
 * Used as a filter it drops endpoints with queue > Q·(1+headroom), KV usage > min(1, K·(1+headroom))
 * or stale metrics, and keeps the original set if that would drop everything (fail-open).
 */
import { z } from 'zod';
import type { EndpointSnapshot, FleetView } from '../../fleet/types.ts';
import { durationMs } from '../config/duration.ts';
import { definePlugin } from '../plugin-definition.ts';
import type { Filter, FilterResult, SchedulingCycle } from '../types.ts';
import type { SaturationDetector } from './saturation-detector.ts';

export const UTILIZATION_DETECTOR_TYPE = 'utilization-detector';

export const utilizationDetectorParameters = z.strictObject({
  queueDepthThreshold: z.number().positive().default(5),
  kvCacheUtilThreshold: z.number().positive().max(1).default(0.8),
  metricsStalenessThreshold: durationMs.default(200),
  headroom: z.number().nonnegative().default(0),
});

export type UtilizationDetectorParameters = z.output<typeof utilizationDetectorParameters>;

export class UtilizationDetector implements SaturationDetector, Filter {
  readonly kind = 'filter';
  readonly type = UTILIZATION_DETECTOR_TYPE;
  readonly params: UtilizationDetectorParameters;

  constructor(
    readonly name: string = UTILIZATION_DETECTOR_TYPE,
    params: Partial<UtilizationDetectorParameters> = {},
  ) {
    this.params = utilizationDetectorParameters.parse(params);
  }

  /** Whether the endpoint's metrics are missing or older than the staleness threshold at `nowMs`. */
  isStale(endpoint: EndpointSnapshot, nowMs: number): boolean {
    const m = endpoint.metrics;
    return !m || nowMs - m.updatedAtMs > this.params.metricsStalenessThreshold;
  }

  /** One endpoint's saturation at `nowMs` (stale or missing metrics → 1.0). */
  endpointSaturation(endpoint: EndpointSnapshot, nowMs: number): number {
    const m = endpoint.metrics;
    if (!m || this.isStale(endpoint, nowMs)) return 1;
    return Math.max(
      m.waitingQueueSize / this.params.queueDepthThreshold,
      m.kvCacheUsagePercent / this.params.kvCacheUtilThreshold,
    );
  }

  saturation(fleet: FleetView): number {
    let sum = 0;
    let count = 0;
    for (const endpoint of fleet.endpoints) {
      if (!endpoint.healthy) continue;
      sum += this.endpointSaturation(endpoint, fleet.nowMs);
      count += 1;
    }
    return count === 0 ? 1 : sum / count;
  }

  isSaturated(fleet: FleetView): boolean {
    return this.saturation(fleet) >= 1;
  }

  filter(cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): FilterResult {
    const { queueDepthThreshold, kvCacheUtilThreshold, headroom } = this.params;
    const maxQueue = queueDepthThreshold * (1 + headroom);
    const maxKv = Math.min(1, kvCacheUtilThreshold * (1 + headroom));
    const kept: EndpointSnapshot[] = [];
    const reasons = new Map<string, string>();
    for (const endpoint of candidates) {
      const m = endpoint.metrics;
      if (!m || this.isStale(endpoint, cycle.nowMs))
        reasons.set(endpoint.info.id, 'metrics stale or missing');
      else if (m.waitingQueueSize > maxQueue)
        reasons.set(endpoint.info.id, `waiting queue ${m.waitingQueueSize} > ${maxQueue}`);
      else if (m.kvCacheUsagePercent > maxKv)
        reasons.set(endpoint.info.id, `KV usage ${m.kvCacheUsagePercent} > ${maxKv}`);
      else kept.push(endpoint);
    }
    if (kept.length === 0) {
      cycle.note(this.name, 'every candidate is saturated; keeping all (fail-open)');
      return { kept: candidates };
    }
    return { kept, reasons };
  }
}

export const utilizationDetectorPlugin = definePlugin({
  type: UTILIZATION_DETECTOR_TYPE,
  kind: 'filter',
  stability: 'beta',
  summary: 'saturation detector (queue depth / KV usage / staleness); as a filter drops saturated endpoints',
  parameters: utilizationDetectorParameters,
  create: (params, ctx) => new UtilizationDetector(ctx.name, params),
});
