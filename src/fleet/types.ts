/**
 * What the router knows about one inference endpoint (a vLLM pod). Produced by discovery and
 * metrics scraping in `src/fleet/`, read by the scheduler through a FleetView snapshot.
 */

/** Identity and static facts about an endpoint, from discovery. */
export interface EndpointInfo {
  /** Stable id: `host:port` of the serving port. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** Labels from discovery (Kubernetes pod labels, fleet-file labels). */
  readonly labels: Readonly<Record<string, string>>;
  /** Models this endpoint declared in discovery; empty = learn from /v1/models. */
  readonly models: readonly string[];
  /** ZeroMQ KV-event endpoint to dial, e.g. `tcp://10.0.0.5:5557`, if known. */
  readonly kvEventsEndpoint?: string;
  /** ZeroMQ replay (ROUTER) endpoint, if known. */
  readonly kvReplayEndpoint?: string;
}

/** Scraped engine metrics (llm-d's datalayer `Metrics`). */
export interface EndpointMetrics {
  readonly waitingQueueSize: number;
  readonly runningRequestsSize: number;
  /** 0..1 */
  readonly kvCacheUsagePercent: number;
  readonly blockSize: number | null;
  readonly numGpuBlocks: number | null;
  /** LoRA adapters currently running / waiting (vllm:lora_requests_info). */
  readonly activeLoras: readonly string[];
  readonly waitingLoras: readonly string[];
  readonly maxActiveLoras: number | null;
  /**
   * Router clock (ms, monotonic) when these values were scraped: `routerClock()` from
   * `router-clock.ts`, comparable across threads. Older than 200 ms = stale (`staleness.ts`).
   */
  readonly updatedAtMs: number;
}

/** Dispatch-time load the router itself tracks (across all acceptor threads, and replicas when shared). */
export interface EndpointInflight {
  readonly requests: number;
  /** Prompt + expected decode tokens of requests dispatched and not yet finished. */
  readonly tokens: number;
}

export interface EndpointSnapshot {
  readonly info: EndpointInfo;
  /**
   * False until the first successful metrics scrape, and after `failureThreshold` (3)
   * consecutive failed scrapes; true again on the next success.
   */
  readonly healthy: boolean;
  readonly metrics: EndpointMetrics | null;
  readonly inflight: EndpointInflight;
  /** Models served (from /v1/models or discovery), including LoRA adapters. */
  readonly servedModels: readonly string[];
}

/** An immutable view of the fleet at decision time. */
export interface FleetView {
  readonly endpoints: readonly EndpointSnapshot[];
  /** Router clock (ms, monotonic, same clock as `updatedAtMs`) at which the view was taken. */
  readonly nowMs: number;
}
