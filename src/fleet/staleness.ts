/**
 * Metric staleness for admission and saturation checks (reference §5): llm-d's utilization
 * detector treats an endpoint whose metrics are older than 200 ms, or missing, as fully
 * saturated (fail-closed).
 */
import type { EndpointMetrics } from './types.ts';

/** llm-d's `metricsStalenessThreshold` default. */
export const DEFAULT_METRICS_STALENESS_MS = 200;

/** True when there are no metrics or they were scraped more than `thresholdMs` before `nowMs`. */
export function isMetricsStale(
  metrics: EndpointMetrics | null,
  nowMs: number,
  thresholdMs: number = DEFAULT_METRICS_STALENESS_MS,
): boolean {
  return metrics === null || nowMs - metrics.updatedAtMs > thresholdMs;
}

/** Age of the metrics in milliseconds, `Infinity` when there are none. */
export function metricsAgeMs(metrics: EndpointMetrics | null, nowMs: number): number {
  return metrics === null ? Infinity : nowMs - metrics.updatedAtMs;
}
