/**
 * Turns observed first tokens into samples of a pod's prefill time for the rate learner, and
 * decides which ones are fit to learn from.
 *
 * A sample is a prefill that had the pod to itself: its TTFT minus the decode interference it was
 * predicted to carry. Four kinds of first token would teach the learner something false:
 *
 * - **Prefill work ahead of it** (a predicted wait). The engine fills each step's token budget in
 *   arrival order, so the request ahead ends in a step that also carries this one's first chunk:
 *   the wait is longer, and this prefill shorter, than a serial model says, by up to a step's
 *   budget of tokens. Such samples are dropped, not down-weighted: they are biased, not noisy.
 * - **A request dispatched behind it before its first token**, for the same reason seen from the
 *   other side: its last step carried the next one's first chunk. Learning from such pairs fitted
 *   3 µs/token and 190 ms/step on the sibling-burst workload: a cache hit predicted at 0.28 s, a
 *   full recompute only 0.02 s more.
 * - **Someone else's work ahead of it.** Another thread's or replica's request arrived at the pod
 *   within one TTFT before the dispatch or while it waited ({@link ExternalArrivals}): the ledger
 *   does not know that prefill, so the pod reads as slow.
 * - **A prediction the engine missed by more than 3×.** Far faster almost always means the engine
 *   held more of the prompt than the index said (its KV events not yet applied); far slower, that
 *   it had evicted what the index listed. Such a sample waits for the response's usage: with the
 *   engine's own cached-token count it is recosted and learned; without one it is learned clipped to
 *   the 3× band at a quarter of the weight, so a pod that really is that different is still found
 *   over a few samples. On W1, one such sample (3,552 tokens predicted uncached, served in 20 ms)
 *   took the fleet-wide rate from 66 to 33 µs/token.
 */
import type { ExternalArrivals } from './external-arrivals.ts';
import type { FirstTokenObservation, PodLedgerStore } from './pod-ledger.ts';
import type { PrefillRateStore } from './rate-learner.ts';

/** The engine's own count of a request's prompt tokens and how many it served from cache. */
export interface PromptUsage {
  readonly promptTokens: number;
  readonly cachedTokens: number;
}

/** Beyond this factor from the prediction a sample is implausible until usage confirms it. */
const PLAUSIBLE_FACTOR = 3;
/** Absolute slack of the band (s): short prefills carry scheduling jitter of this order. */
const PLAUSIBLE_SLACK_SECONDS = 0.05;
/** Weight of an implausible sample learned without usage, clipped to the band. */
const UNCONFIRMED_WEIGHT = 0.25;
/** Implausible samples kept waiting for usage; the oldest go first (learned as unconfirmed). */
const MAX_HELD = 4096;

export class PrefillSamples {
  private readonly held = new Map<string, FirstTokenObservation>();

  constructor(
    private readonly learner: PrefillRateStore,
    private readonly ledger: PodLedgerStore,
    private readonly arrivals: ExternalArrivals,
  ) {}

  /**
   * A first token arrived (`observation` from the ledger). `usage` when the engine's counts are
   * known already (a first token reconstructed at completion).
   */
  firstToken(observation: FirstTokenObservation, usage?: PromptUsage): void {
    const { record, ttftMs } = observation;
    if (this.arrivals.arrivedSince(record.endpointId, record.dispatchMs - ttftMs)) return;
    if (record.waitMs > 0 || observation.waitMs >= 1) return;
    const book = this.ledger.book(record.endpointId);
    if (!book || book.dispatchedAfter(record.podSeq, record.dispatchMs + ttftMs)) return;
    if (usage) {
      this.learn(observation, usage, false);
      return;
    }
    if (this.plausible(observation)) {
      this.learn(observation, undefined, false);
      return;
    }
    if (this.held.size >= MAX_HELD) {
      const [oldestId, oldest] = this.held.entries().next().value as [string, FirstTokenObservation];
      this.held.delete(oldestId);
      this.learn(oldest, undefined, true);
    }
    this.held.set(record.requestId, observation);
  }

  /**
   * The response ended: a held sample is learned, recosted with `usage` when the engine reported
   * it. A failed response's is dropped (its timing may be the failure's).
   */
  complete(requestId: string, usage: PromptUsage | undefined, failed: boolean): void {
    const observation = this.held.get(requestId);
    if (!observation) return;
    this.held.delete(requestId);
    if (!failed) this.learn(observation, usage, usage === undefined);
  }

  /** Forgets held samples of pods that left the fleet. */
  retain(activeIds: ReadonlySet<string>): void {
    for (const [id, o] of this.held) if (!activeIds.has(o.record.endpointId)) this.held.delete(id);
  }

  private plausible(observation: FirstTokenObservation): boolean {
    const { predicted, measured } = this.measure(observation, observation.record.uncachedTokens);
    return (
      measured >= (predicted - PLAUSIBLE_SLACK_SECONDS) / PLAUSIBLE_FACTOR &&
      measured <= PLAUSIBLE_FACTOR * predicted + PLAUSIBLE_SLACK_SECONDS
    );
  }

  private learn(
    observation: FirstTokenObservation,
    usage: PromptUsage | undefined,
    unconfirmed: boolean,
  ): void {
    const { record } = observation;
    const uncached = usage ? Math.max(1, usage.promptTokens - usage.cachedTokens) : record.uncachedTokens;
    const { predicted, measured } = this.measure(observation, uncached);
    const low = unconfirmed ? (predicted - PLAUSIBLE_SLACK_SECONDS) / PLAUSIBLE_FACTOR : 0;
    // Even a confirmed sample is capped: one stall (a preempted batch) must not read as a slow pod.
    const high = (unconfirmed ? PLAUSIBLE_FACTOR : 4) * predicted + PLAUSIBLE_SLACK_SECONDS;
    const service = Math.min(Math.max(0, low, measured), high);
    const weight = unconfirmed ? UNCONFIRMED_WEIGHT : 1;
    this.learner.observe(record.endpointId, {
      uncachedTokens: uncached,
      steps: record.steps,
      serviceSeconds: service,
      weight,
    });
  }

  /** The predicted and measured prefill seconds of `observation`, costing `uncached` tokens. */
  private measure(
    { record, ttftMs, waitMs }: FirstTokenObservation,
    uncached: number,
  ): { predicted: number; measured: number } {
    const rates = this.learner.rates(record.endpointId);
    return {
      predicted: rates.secondsPerToken * uncached + rates.stepSeconds * record.steps,
      measured: (ttftMs - waitMs) / 1000 - record.steps * record.interferenceSeconds,
    };
  }
}
