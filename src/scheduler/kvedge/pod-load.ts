/**
 * Reconstructs a pod's load at decision time from two sources that disagree in known ways:
 *
 * - the router's dispatch-time ledger (exact and immediate for its own traffic, blind to other
 *   router replicas and to what the engine actually did with the work);
 * - the scraped engine metrics and the shared in-flight counters (cover every replica's traffic,
 *   but the metrics lag by up to a scrape interval).
 *
 * Reconciliation rules (docs/scheduling.md, "Load"):
 * - backlog = the ledger's `busyUntil − now`, capped at one full step after the last scrape when
 *   that scrape, taken after the router's last dispatch there, showed nothing waiting; and never
 *   less than the prefill time of the pending requests' uncached tokens (work certainly not done,
 *   which is what reveals an engine stuck on KV memory);
 * - waiting requests the scrape shows beyond the ledger's pending ones count as unaccounted work,
 *   but only as many as the in-flight counters say other replicas sent (so a stale scrape of the
 *   router's own requests is not counted twice);
 * - decodes = outstanding requests (the larger of ledger and in-flight counters) minus those still
 *   in prefill; their context = prompt tokens plus half the expected output each.
 */
import type { EndpointSnapshot } from '../../fleet/types.ts';
import type { PodBook } from './pod-ledger.ts';
import type { PrefillRates } from './rate-learner.ts';
import type { PodLoad } from './ttft-model.ts';

/** The part of a pod's load that does not depend on the request being placed. */
export interface BaseLoad extends PodLoad {
  readonly backlogSeconds: number;
  readonly unaccountedWaiting: number;
  readonly pendingPrefills: number;
  readonly decodeSeqs: number;
  readonly contextTokens: number;
  readonly outstanding: number;
  /** Mean expected output tokens of the pod's outstanding requests (0 when unknown). */
  readonly outputTokensPerRequest: number;
  /** KV usage before this placement (scraped + router-sent since the scrape), or null. */
  readonly kvUsage: number | null;
  /** KV capacity in tokens, or null when the pod does not report it. */
  readonly kvCapacityTokens: number | null;
}

export interface LoadOptions {
  readonly nowMs: number;
  readonly presumedPrefillGraceMs: number;
  readonly stepTokenBudget: number;
  /** Time constant of the arrival-rate estimate. */
  readonly arrivalRateWindowMs: number;
}

export function baseLoad(
  endpoint: EndpointSnapshot,
  book: PodBook | undefined,
  rates: PrefillRates,
  options: LoadOptions,
): BaseLoad {
  const { nowMs } = options;
  const metrics = endpoint.metrics;
  let backlogMs = book ? Math.max(0, book.busyUntilMs - nowMs) : 0;
  if (book && metrics && metrics.updatedAtMs > book.lastDispatchMs && metrics.waitingQueueSize === 0) {
    const oneStepMs = (rates.secondsPerToken * options.stepTokenBudget + rates.stepSeconds) * 1000;
    backlogMs = Math.min(backlogMs, Math.max(0, metrics.updatedAtMs + oneStepMs - nowMs));
  }
  const presumed = book ? book.presumedDecoding(nowMs, options.presumedPrefillGraceMs) : 0;
  const pending = book ? book.pending.length - presumed : 0;
  if (book && pending > 0) {
    // Work the pod has certainly not done bounds the backlog from below: when the engine runs late
    // (queued for KV memory, preempting) the predictions behind busyUntil are stale, these are not.
    const tokens = book.pendingUncached(presumed);
    const floorMs =
      (rates.secondsPerToken * tokens + rates.stepSeconds * (tokens / options.stepTokenBudget)) * 1000;
    backlogMs = Math.max(backlogMs, floorMs);
  }
  const ledgerOutstanding = book?.outstanding ?? 0;
  const external = Math.max(0, endpoint.inflight.requests - ledgerOutstanding);
  const unaccounted = metrics ? Math.min(Math.max(0, metrics.waitingQueueSize - pending), external) : 0;
  const outstanding = Math.max(ledgerOutstanding, endpoint.inflight.requests);
  const decodeSeqs = Math.max(0, outstanding - pending - unaccounted);

  // In-flight tokens are prompt + max output per request; the ledger knows the prompt part.
  const tokensPerRequest =
    endpoint.inflight.requests > 0 ? endpoint.inflight.tokens / endpoint.inflight.requests : 0;
  const promptPerRequest =
    book && book.outstanding > 0 ? book.promptTokens / book.outstanding : tokensPerRequest;
  const outputPerRequest = Math.max(0, tokensPerRequest - promptPerRequest);
  const contextTokens = decodeSeqs * (promptPerRequest + outputPerRequest / 2);

  let kvUsage: number | null = null;
  let kvCapacityTokens: number | null = null;
  if (metrics && metrics.numGpuBlocks && metrics.blockSize) {
    kvCapacityTokens = metrics.numGpuBlocks * metrics.blockSize;
    const sinceScrape = book ? book.uncachedSince(metrics.updatedAtMs) : 0;
    kvUsage = metrics.kvCacheUsagePercent + sinceScrape / kvCapacityTokens;
  }
  return {
    arrivalRate: book ? book.arrivalRate(nowMs, options.arrivalRateWindowMs) : 0,
    backlogSeconds: backlogMs / 1000,
    unaccountedWaiting: unaccounted,
    pendingPrefills: pending,
    decodeSeqs,
    contextTokens,
    outstanding,
    outputTokensPerRequest: outputPerRequest,
    kvUsage,
    kvCapacityTokens,
  };
}
