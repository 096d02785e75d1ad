/**
 * One simulated pod as the router sees it: an engine that can die and come back empty, the
 * metrics of its last scrape (so load signals lag by up to one scrape interval, as in a live
 * fleet), health from consecutive scrape failures, and the router's exact in-flight counters.
 */
import type { EndpointInfo, EndpointMetrics, EndpointSnapshot } from '../../src/fleet/types.ts';
import type { SimEngine } from '../../src/sim/engine/engine.ts';

/** Failed scrapes before an endpoint turns unhealthy (the fleet scraper's `failureThreshold`). */
export const FAILURE_THRESHOLD = 3;

export class DesPod {
  readonly info: EndpointInfo;
  /** Incremented on every kill: events and callbacks of an older engine are ignored. */
  generation = 0;
  up = true;
  healthy = false;
  metrics: EndpointMetrics | null = null;
  failedScrapes = 0;
  inflightRequests = 0;
  inflightTokens = 0;
  dispatched = 0;

  constructor(
    readonly index: number,
    model: string,
    public engine: SimEngine,
  ) {
    const host = `pod-${index}`;
    this.info = { id: `${host}:8000`, host, port: 8000, labels: {}, models: [model] };
  }

  get id(): string {
    return this.info.id;
  }

  /**
   * One metrics scrape at `nowMs`. Returns true when this scrape turned the pod unhealthy (the
   * router then drops it from discovery and the index).
   */
  scrape(nowMs: number): boolean {
    if (this.up) {
      const stats = this.engine.stats();
      this.metrics = {
        waitingQueueSize: stats.waiting,
        runningRequestsSize: stats.running,
        kvCacheUsagePercent: stats.kvCacheUsage,
        blockSize: stats.blockSize,
        numGpuBlocks: stats.numGpuBlocks,
        activeLoras: stats.runningLoras,
        waitingLoras: stats.waitingLoras,
        maxActiveLoras: this.engine.config.maxLoras,
        updatedAtMs: nowMs,
      };
      this.healthy = true;
      this.failedScrapes = 0;
      return false;
    }
    this.failedScrapes++;
    if (this.healthy && this.failedScrapes >= FAILURE_THRESHOLD) {
      this.healthy = false;
      return true;
    }
    return false;
  }

  snapshot(): EndpointSnapshot {
    return {
      info: this.info,
      healthy: this.healthy,
      metrics: this.metrics,
      inflight: { requests: this.inflightRequests, tokens: this.inflightTokens },
      servedModels: this.info.models,
    };
  }

  /** The pod crashes: every request on it fails (the engine aborts them). */
  kill(): void {
    this.up = false;
    this.generation++;
    this.engine.abortAll();
  }

  /** The pod comes back as a fresh process: a new engine with an empty cache. */
  restore(engine: SimEngine): void {
    this.engine = engine;
    this.up = true;
  }
}
