/**
 * llm-d's `SaturationDetector` contract (llm-d-router.md §5): a pool-level saturation number where
 * ≥ 1.0 means saturated. Used by admission to shed sheddable (negative-priority) requests.
 */
import type { FleetView } from '../../fleet/types.ts';

export interface SaturationDetector {
  readonly type: string;
  readonly name: string;
  /** Pool saturation over the healthy endpoints of `fleet` (not clamped; an empty pool is 1.0). */
  saturation(fleet: FleetView): number;
  /** `saturation(fleet) ≥ 1.0`. */
  isSaturated(fleet: FleetView): boolean;
}
