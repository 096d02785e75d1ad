/** What one policy run produces: one record per request plus token-level samples. */

export interface RequestRecord {
  readonly id: string;
  /** The workload's request group (siblings sent together), when it has one. */
  readonly group?: string;
  readonly stage: number;
  /** Endpoint the router chose; null when it chose none. */
  readonly pod: string | null;
  /** Seconds from the run's start (the router's clock). */
  readonly arrivalS: number;
  /** NaN when no token arrived. */
  readonly firstTokenS: number;
  /** NaN when the request failed. */
  readonly finishS: number;
  readonly promptTokens: number;
  /** Prompt tokens the engine served from its prefix cache. */
  readonly cachedTokens: number;
  readonly completionTokens: number;
  /** Wall-clock µs of the `schedule()` call: the only non-deterministic field. */
  readonly decisionUs: number;
  /** Why it failed (`rejected-no-endpoints`, `aborted`, `connection-refused`, ...), or null. */
  readonly error: string | null;
}

export interface RunResult {
  readonly policy: string;
  readonly records: readonly RequestRecord[];
  /** Every inter-token gap (s) of non-warm-up requests, in emission order. */
  readonly itlGapsS: Float64Array;
  /** Output tokens emitted per second of simulated time (index = whole second). */
  readonly tokensPerSecond: readonly number[];
  /** Requests dispatched per pod id. */
  readonly dispatchedPerPod: Readonly<Record<string, number>>;
  /** Simulated seconds until the last request settled. */
  readonly simEndS: number;
  readonly wallS: number;
  /** KV-event batches applied to the index. */
  readonly kvEventBatches: number;
}
