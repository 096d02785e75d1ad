/**
 * Per-endpoint gauges read from the shared fleet table at scrape time (main thread only, so they
 * are not multiplied by the number of acceptor threads).
 */
import { Gauge, type Registry } from 'prom-client';
import type { SharedFleetState } from '../fleet/shared-state.ts';

export function registerFleetMetrics(registry: Registry, fleet: SharedFleetState, clock: () => number): void {
  const registers = [registry];
  const labelNames = ['endpoint'] as const;
  const perEndpoint = (
    name: string,
    help: string,
    read: (e: ReturnType<typeof snapshotOf>[number]) => number,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const e of snapshotOf(fleet, clock)) this.set({ endpoint: e.info.id }, read(e));
      },
    });
  /** llm-d: `llm_d_inference_scheduler_pool_average_queue_size` (per endpoint here). */
  perEndpoint(
    'kvedge_endpoint_queue_size',
    'Scraped vllm:num_requests_waiting.',
    (e) => e.metrics?.waitingQueueSize ?? 0,
  );
  perEndpoint(
    'kvedge_endpoint_running_requests',
    'Scraped vllm:num_requests_running.',
    (e) => e.metrics?.runningRequestsSize ?? 0,
  );
  /** llm-d: `llm_d_inference_scheduler_pool_average_kv_cache_utilization` (per endpoint here). */
  perEndpoint(
    'kvedge_endpoint_kv_cache_usage',
    'Scraped vllm:kv_cache_usage_perc (0..1).',
    (e) => e.metrics?.kvCacheUsagePercent ?? 0,
  );
  perEndpoint(
    'kvedge_endpoint_inflight_requests',
    'Requests this router dispatched and not yet finished.',
    (e) => e.inflight.requests,
  );
  perEndpoint(
    'kvedge_endpoint_inflight_tokens',
    'Prompt plus max output tokens of in-flight requests.',
    (e) => e.inflight.tokens,
  );
  perEndpoint('kvedge_endpoint_healthy', '1 when the endpoint is healthy.', (e) => (e.healthy ? 1 : 0));
  perEndpoint('kvedge_endpoint_metrics_age_seconds', 'Age of the last successful metrics scrape.', (e) =>
    e.metrics ? (clock() - e.metrics.updatedAtMs) / 1000 : -1,
  );
  /** llm-d: `llm_d_inference_scheduler_pool_ready_pods`. */
  new Gauge({
    name: 'kvedge_ready_endpoints',
    help: 'Healthy endpoints in the fleet.',
    registers,
    collect() {
      this.set(snapshotOf(fleet, clock).filter((e) => e.healthy).length);
    },
  });
}

function snapshotOf(fleet: SharedFleetState, clock: () => number) {
  return fleet.snapshot(clock()).endpoints;
}
