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
 *   engine's own cached-token count it is recosted and learned; without one a too-slow sample is
 *   learned clipped to the 3× band at a quarter of the weight (a pod that really is that slow is
 *   still found over a few samples) and a too-fast one is dropped. On W1, one such sample (3,552 tokens predicted uncached, served in 20 ms)
 *   took the fleet-wide rate from 66 to 33 µs/token.
 */
import type { ExternalArrivals } from './external-arrivals.ts';
import type { DispatchRecord, FirstTokenObservation, PodLedgerStore } from './pod-ledger.ts';
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
/** Weight of a too-slow sample learned without usage, clipped to the band. */
const UNCONFIRMED_WEIGHT = 0.25;
/** Implausible samples kept waiting for usage; beyond this the oldest are dropped. */
const MAX_HELD = 4096;

export class PrefillSamples {
  private readonly held = new Map<string, FirstTokenObservation>();

  /**
   * @param stepTokenBudget the engine's tokens per step, to recount a sample's steps when usage
   *   says how many tokens it really prefilled
   */
  constructor(
    private readonly learner: PrefillRateStore,
    private readonly ledger: PodLedgerStore,
    private readonly arrivals: ExternalArrivals,
    private readonly stepTokenBudget: number,
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
      this.learn(observation, usage);
      return;
    }
    if (this.plausible(observation)) {
      this.learn(observation, undefined);
      return;
    }
    if (this.held.size >= MAX_HELD) {
      const oldest = this.held.keys().next().value as string;
      this.held.delete(oldest);
    }
    this.held.set(record.requestId, observation);
  }

  /**
   * The response of `record` ended: a held sample is learned, recosted with `usage` when the engine
   * reported it. A failed response's is dropped (its timing may be the failure's).
   */
  complete(record: DispatchRecord, usage: PromptUsage | undefined, failed: boolean): void {
    const observation = this.held.get(record.requestId);
    // A client-chosen request id may repeat: only the sample of this very dispatch is its own.
    if (!observation || observation.record !== record) return;
    this.held.delete(record.requestId);
    if (!failed) this.learn(observation, usage);
  }

  /** Forgets held samples of pods that left the fleet. */
  retain(activeIds: ReadonlySet<string>): void {
    for (const [id, o] of this.held) if (!activeIds.has(o.record.endpointId)) this.held.delete(id);
  }

  private plausible(observation: FirstTokenObservation): boolean {
    const { record } = observation;
    const { predicted, measured } = this.measure(observation, record.uncachedTokens, record.steps);
    return inBand(predicted, measured);
  }

  /**
   * Learns `observation`, recosted with `usage` when given. An implausible sample without usage is
   * learned only when too slow (clipped to the band, at a quarter of the weight), so a pod that really
   * is that slow is found over a few samples. A too-fast one is dropped: it is almost always a cache
   * hit the index did not know, and clipping against the current rate would ratchet it down sample by
   * sample.
   */
  private learn(observation: FirstTokenObservation, usage: PromptUsage | undefined): void {
    const { record } = observation;
    const uncached = usage ? Math.max(1, usage.promptTokens - usage.cachedTokens) : record.uncachedTokens;
    // A sample had no wait, so its steps are whole steps plus the half in flight at arrival.
    const steps = usage ? Math.ceil(uncached / this.stepTokenBudget) + 0.5 : record.steps;
    const { predicted, measured } = this.measure(observation, uncached, steps);
    let service = Math.max(0, measured);
    let weight = 1;
    // Without usage this is the costing `plausible` judged: judge the same figures again.
    if (!usage && !inBand(predicted, measured)) {
      if (measured < predicted) return;
      service = PLAUSIBLE_FACTOR * predicted + PLAUSIBLE_SLACK_SECONDS;
      weight = UNCONFIRMED_WEIGHT;
    }
    // Even a confirmed sample is capped: one stall (a preempted batch) must not read as a slow pod.
    service = Math.min(service, 4 * predicted + PLAUSIBLE_SLACK_SECONDS);
    this.learner.observe(record.endpointId, {
      uncachedTokens: uncached,
      steps,
      serviceSeconds: service,
      weight,
    });
  }

  /** The predicted and measured prefill seconds of `observation`, costing `uncached` tokens in `steps`. */
  private measure(
    { record, ttftMs, waitMs }: FirstTokenObservation,
    uncached: number,
    steps: number,
  ): { predicted: number; measured: number } {
    const rates = this.learner.rates(record.endpointId);
    return {
      predicted: rates.secondsPerToken * uncached + rates.stepSeconds * steps,
      measured: (ttftMs - waitMs) / 1000 - steps * record.interferenceSeconds,
    };
  }
}

/** Whether `measured` is within the plausibility band around `predicted`. */
function inBand(predicted: number, measured: number): boolean {
  return (
    measured >= (predicted - PLAUSIBLE_SLACK_SECONDS) / PLAUSIBLE_FACTOR &&
    measured <= PLAUSIBLE_FACTOR * predicted + PLAUSIBLE_SLACK_SECONDS
  );
}
