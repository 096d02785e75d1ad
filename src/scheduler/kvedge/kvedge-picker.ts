/**
 * `kvedge-picker`: kvedge's own scheduling policy, as one whole-profile picker. It ignores the
 * profile's [0, 1] scores and ranks the candidates the filters left by one cost in seconds
 * (ttft-model.ts): the predicted time to first token on that pod — backlog the router itself
 * sent there, uncached prefill at the pod's learned rate, steps slowed by its running decodes —
 * plus the price of the prefill capacity it consumes (the delay it imposes on the pod's next
 * arrivals), a small weight on its decode phase, the KV pressure it adds, and the cache turnover it
 * adds on a pod whose KV is rewritten faster than the fleet's (cache-turnover.ts).
 *
 * Then, among the candidates within a small window of the cheapest, the one holding the most of
 * the prompt wins: affinity is kept while it costs (almost) nothing, and given up exactly when the
 * holder's queue costs more than recomputing elsewhere, which replicates a hot prefix instead of
 * piling onto its holder. Equal holders are told apart by a rendezvous hash of the prompt
 * (rendezvous.ts), so router replicas agree on where a new prompt goes. Cold requests (nobody holds anything) go where they finish first and
 * delay the fewest later arrivals, i.e. away from the pods that serve the hot caches.
 *
 * State, changed only in the hooks: the dispatch-time ledger (pod-ledger.ts), per-pod prefill rates
 * learned from observed TTFTs (rate-learner.ts), and recent errors per pod (a pod that just failed
 * requests is skipped until its next fresh metrics scrape, so a crashed pod stops receiving traffic
 * before three failed scrapes mark it unhealthy).
 */
import type { EndpointSnapshot } from '../../fleet/types.ts';
import type { FirstTokenAware, FirstTokenEvent } from '../peers/first-token-hook.ts';
import { definePlugin } from '../plugin-definition.ts';
import { PRECISE_PREFIX_CACHE_PRODUCER_TYPE } from '../producers/precise-prefix-cache-producer.ts';
import type { SchedulerStateFactory } from '../state.ts';
import type {
  DispatchEvent,
  Picker,
  ResponseCompleteEvent,
  ScoredEndpoint,
  SchedulingCycle,
} from '../types.ts';
import { kvedgePickerParameters, type KvedgePickerParameters } from './parameters.ts';
import { CacheTurnover, type CacheTurnoverStore, turnoverExcess } from './cache-turnover.ts';
import { ExternalArrivals } from './external-arrivals.ts';
import { type BaseLoad, baseLoad, type LoadOptions } from './pod-load.ts';
import { PodLedger, type PodLedgerOptions, type PodLedgerStore } from './pod-ledger.ts';
import { PrefillSamples } from './prefill-samples.ts';
import { matchedBlocks, prefixSource } from './prefix-source.ts';
import {
  type PrefillRates,
  type PrefillRateStore,
  RateLearner,
  type RateLearnerOptions,
} from './rate-learner.ts';
import { promptIdentity, rendezvousWeight } from './rendezvous.ts';
import { cachedTokensOf, type CostConstants, predictTtft, type TtftPrediction } from './ttft-model.ts';

export const KVEDGE_PICKER_TYPE = 'kvedge-picker';

/**
 * Outcome fields the router measures at the end of a response (`DispatchOutcome` in
 * src/edge/routing-service.ts), passed on in `ResponseCompleteEvent`; the picker learns pod rates
 * from them (docs/scheduling.md, "Hooks").
 */
export interface ResponseOutcomeDetails {
  readonly ttftMs?: number;
  readonly promptTokens?: number;
  readonly cachedTokens?: number;
  readonly completionTokens?: number;
}

/** One candidate's costing. */
export interface CandidateCost {
  readonly endpointId: string;
  readonly cachedTokens: number;
  readonly quarantined: boolean;
  readonly prediction: TtftPrediction;
}

/** What the picker hands from `pick` to `onDispatch`. */
interface PendingDecision {
  readonly nowMs: number;
  readonly promptTokens: number;
  /** The output length the costs assumed (the fleet's mean). */
  readonly outputTokens: number;
  readonly costs: readonly CandidateCost[];
  /** Per candidate (same order as `costs`): outstanding requests at the pod that others sent. */
  readonly external: readonly number[];
}

function costOf(costs: readonly CandidateCost[], endpointId: string): CandidateCost | undefined {
  for (const c of costs) if (c.endpointId === endpointId) return c;
  return undefined;
}

/** Smoothing of the typical uncached size of a request. */
const TYPICAL_UNCACHED_ALPHA = 0.05;

export class KvedgePicker implements Picker, FirstTokenAware {
  readonly kind = 'picker';
  readonly type = KVEDGE_PICKER_TYPE;
  readonly ledger: PodLedgerStore;
  readonly learner: PrefillRateStore;
  readonly turnover: CacheTurnoverStore;
  readonly arrivals = new ExternalArrivals();
  private readonly samples: PrefillSamples;
  private typicalUncachedTokens = 1024;

  /**
   * @param stores where the ledger, learned rates and turnover sums live; the plugin passes the
   *   state factory's (shared by the router's threads), a bare picker keeps its own.
   */
  constructor(
    readonly name: string,
    readonly params: KvedgePickerParameters,
    stores: Partial<Pick<SchedulerStateFactory, 'prefillRates' | 'cacheTurnover' | 'podLedger'>> = {},
  ) {
    const ledgerOptions: PodLedgerOptions = {
      errorWindowMs: params.quarantineWindow,
      rateWindowMs: params.arrivalRateWindow,
      graceMs: params.presumedPrefillGraceMs,
    };
    this.ledger =
      stores.podLedger?.(name, ledgerOptions) ??
      new PodLedger(ledgerOptions.errorWindowMs, ledgerOptions.rateWindowMs, ledgerOptions.graceMs);
    const learnerOptions: RateLearnerOptions = {
      prior: { secondsPerToken: params.prefillSecondsPerToken, stepSeconds: params.stepSeconds },
      forgetting: params.learningForgetting,
      minObservations: params.learningMinObservations,
      heterogeneityThreshold: params.heterogeneityThreshold,
    };
    this.learner = stores.prefillRates?.(name, learnerOptions) ?? new RateLearner(learnerOptions);
    this.turnover =
      stores.cacheTurnover?.(name, params.turnoverWindow) ?? new CacheTurnover(params.turnoverWindow);
    this.samples = new PrefillSamples(this.learner, this.ledger, this.arrivals, params.stepTokenBudget);
  }

  pick(cycle: SchedulingCycle, scored: readonly ScoredEndpoint[]): readonly string[] {
    if (scored.length === 0) return [];
    const { costs, outputTokens, external } = this.costing(cycle, scored);
    const order = this.rank(costs, cycle);
    cycle.setPluginState(this.name, {
      nowMs: cycle.nowMs,
      promptTokens: promptTokens(cycle),
      outputTokens,
      costs,
      external,
    } satisfies PendingDecision);
    const chosen = costOf(costs, order[0] as string) as CandidateCost;
    const p = chosen.prediction;
    cycle.note(
      this.name,
      `→ ${chosen.endpointId}: TTFT ${p.ttftSeconds.toFixed(3)} s (queue ${p.queueSeconds.toFixed(3)}, ` +
        `prefill ${p.prefillSeconds.toFixed(3)} for ${p.uncachedTokens} uncached), cost ${p.costSeconds.toFixed(3)}`,
    );
    return order;
  }

  /** Every candidate's cost (exposed for tests and the trace). */
  costs(cycle: SchedulingCycle, scored: readonly ScoredEndpoint[]): CandidateCost[] {
    return this.costing(cycle, scored).costs;
  }

  private costing(
    cycle: SchedulingCycle,
    scored: readonly ScoredEndpoint[],
  ): { costs: CandidateCost[]; outputTokens: number; external: number[] } {
    const params = this.params;
    const prompt = promptTokens(cycle);
    const source = prefixSource(cycle, params.prefixProducers);
    const blockSize = source.data?.blockSizeTokens ?? 0;
    const constants = this.constants();
    const loadOptions: LoadOptions = {
      nowMs: cycle.nowMs,
      presumedPrefillGraceMs: this.ledger.presumeGraceMs,
      stepTokenBudget: params.stepTokenBudget,
      arrivalRateWindowMs: params.arrivalRateWindow,
    };
    const n = scored.length;
    const rates = new Array<PrefillRates>(n);
    const loads = new Array<BaseLoad>(n);
    const external = new Array<number>(n);
    // The request's own output length is not known to the scheduler; the fleet's mean is its estimate.
    let outputSum = 0;
    let outputPods = 0;
    for (let i = 0; i < n; i++) {
      const endpoint = (scored[i] as ScoredEndpoint).endpoint;
      const r = this.learner.rates(endpoint.info.id);
      const book = this.ledger.book(endpoint.info.id);
      const load = baseLoad(endpoint, book, r, loadOptions);
      external[i] = Math.max(0, endpoint.inflight.requests - (book?.outstanding ?? 0));
      rates[i] = r;
      loads[i] = load;
      if (load.outputTokensPerRequest > 0) {
        outputSum += load.outputTokensPerRequest;
        outputPods++;
      }
    }
    const outputTokens = outputPods > 0 ? outputSum / outputPods : 0;
    const excess = this.turnoverExcesses(scored, loads, cycle.nowMs);
    const out = new Array<CandidateCost>(n);
    for (let i = 0; i < n; i++) {
      const endpoint = (scored[i] as ScoredEndpoint).endpoint;
      const id = endpoint.info.id;
      const cached = cachedTokensOf(matchedBlocks(source, id), blockSize, prompt);
      const request = { uncachedTokens: Math.max(1, prompt - cached), promptTokens: prompt, outputTokens };
      out[i] = {
        endpointId: id,
        cachedTokens: cached,
        quarantined: this.quarantined(endpoint),
        prediction: predictTtft(
          request,
          loads[i] as BaseLoad,
          rates[i] as PrefillRates,
          constants,
          excess[i] as number,
        ),
      };
    }
    return { costs: out, outputTokens, external };
  }

  private turnoverExcesses(
    scored: readonly ScoredEndpoint[],
    loads: readonly BaseLoad[],
    nowMs: number,
  ): number[] {
    if (this.params.turnoverWeight === 0) return new Array<number>(scored.length).fill(0);
    return turnoverExcess(
      scored.map((s) => this.turnover.tokensWritten(s.endpoint.info.id, nowMs)),
      loads.map((l) => l.kvCapacityTokens),
      this.params.turnoverDeadZone,
    );
  }

  onDispatch(event: DispatchEvent): void {
    const target = event.decision.endpointId;
    const pending = event.decision.state.pluginState.get(this.name) as PendingDecision | undefined;
    const cost = target === null || !pending ? undefined : costOf(pending.costs, target);
    if (target === null || !pending || !cost) return;
    pending.costs.forEach((c, i) =>
      this.arrivals.observe(c.endpointId, pending.external[i] ?? 0, pending.nowMs),
    );
    const p = cost.prediction;
    this.ledger.dispatch(
      {
        requestId: event.request.requestId,
        endpointId: target,
        dispatchMs: event.nowMs,
        promptTokens: pending.promptTokens,
        uncachedTokens: p.uncachedTokens,
        waitMs: p.queueSeconds * 1000,
        steps: p.steps,
        interferenceSeconds: p.interferenceSeconds,
      },
      pending.nowMs + p.ttftSeconds * 1000,
      // A buffered response never reports its first token: it must not hold the pod's pending floor.
      event.request.stream !== false,
    );
    this.turnover.record(target, p.uncachedTokens + pending.outputTokens, event.nowMs);
    this.typicalUncachedTokens += TYPICAL_UNCACHED_ALPHA * (p.uncachedTokens - this.typicalUncachedTokens);
  }

  onFirstToken(event: FirstTokenEvent): void {
    // Client-chosen request ids may repeat: a record for another pod is another request.
    if (this.ledger.record(event.requestId)?.endpointId !== event.endpointId) return;
    const observation = this.ledger.firstToken(event.requestId, event.nowMs);
    if (observation && this.params.learnRates) this.samples.firstToken(observation);
  }

  onResponseComplete(event: ResponseCompleteEvent): void {
    const details = event as ResponseCompleteEvent & ResponseOutcomeDetails;
    const id = event.request.requestId;
    const record = this.ledger.record(id);
    const usage =
      details.cachedTokens !== undefined && details.promptTokens !== undefined
        ? { promptTokens: details.promptTokens, cachedTokens: details.cachedTokens }
        : undefined;
    const failed = event.outcome === 'error';
    const learn = this.params.learnRates && record?.endpointId === event.endpointId;
    // Without a first-token event, the router-measured TTFT stands in for it (its time is past).
    if (record && record.firstTokenMs === null && details.ttftMs !== undefined) {
      const observation = this.ledger.firstToken(id, record.dispatchMs + details.ttftMs, false);
      if (observation && learn && !failed) this.samples.firstToken(observation, usage);
    }
    if (record && learn) this.samples.complete(record, usage, failed);
    this.ledger.complete(id, event.nowMs, event.outcome === 'error', event.endpointId);
  }

  /**
   * Per endpoint: the prefill rates it is costed with (its own learned ones or the fleet's), and the
   * load this router counts there. What an operator needs to see why the picker prefers a pod.
   */
  debugState(nowMs: number, endpointIds: readonly string[]): unknown {
    const fleet = this.learner.fleetRates();
    const endpoints: Record<string, unknown> = {};
    for (const id of endpointIds) {
      const rates = this.learner.rates(id);
      const own = rates.secondsPerToken !== fleet.secondsPerToken || rates.stepSeconds !== fleet.stepSeconds;
      const book = this.ledger.book(id);
      endpoints[id] = {
        costedWith: {
          secondsPerToken: rates.secondsPerToken,
          stepSeconds: rates.stepSeconds,
          source: own ? 'own' : 'fleet',
        },
        predictedPrefillBacklogMs: book ? Math.max(0, book.busyUntilMs - nowMs) : 0,
        pendingPrefills: book?.pending.length ?? 0,
        outstanding: book?.outstanding ?? 0,
        arrivalsPerSecond: book?.arrivalRate(nowMs, this.params.arrivalRateWindow) ?? 0,
        kvTokensWritten: this.turnover.tokensWritten(id, nowMs),
      };
    }
    return {
      fleetRates: {
        secondsPerToken: fleet.secondsPerToken,
        stepSeconds: fleet.stepSeconds,
        samples: fleet.observations,
      },
      endpoints,
    };
  }

  retainEndpoints(activeIds: ReadonlySet<string>): void {
    this.ledger.retain(activeIds);
    this.learner.retain(activeIds);
    this.turnover.retain(activeIds);
    this.arrivals.retain(activeIds);
    this.samples.retain(activeIds);
  }

  private constants(): CostConstants {
    const p = this.params;
    return {
      priorSecondsPerToken: p.prefillSecondsPerToken,
      decodeSecondsPerSequence: p.decodeSecondsPerSequence,
      decodeSecondsPerContextToken: p.decodeSecondsPerContextToken,
      stepTokenBudget: p.stepTokenBudget,
      recomputeWeight: p.recomputeWeight,
      externalityWeight: p.externalityWeight,
      decodeWeight: p.decodeWeight,
      kvPressureSeconds: p.kvPressureSeconds,
      kvPressureThreshold: p.kvPressureThreshold,
      turnoverWeight: p.turnoverWeight,
      fleetSecondsPerToken: this.learner.fleetRates().secondsPerToken,
      typicalUncachedTokens: this.typicalUncachedTokens,
    };
  }

  /**
   * Best first. The near-best window: candidates within max(windowSeconds, windowFraction × best)
   * of the cheapest (ignoring quarantined pods unless all are); in it, most cached tokens wins,
   * then (`tieBreak`) the highest rendezvous weight for the prompt, or the lower cost and then a
   * seeded random draw. Then up to `maxNumOfEndpoints − 1` fallbacks by
   * cost, quarantined pods last.
   */
  private rank(costs: readonly CandidateCost[], cycle: SchedulingCycle): string[] {
    let anyUsable = false;
    for (const c of costs) if (!c.quarantined) anyUsable = true;
    let best = Number.POSITIVE_INFINITY;
    for (const c of costs) if (!(anyUsable && c.quarantined)) best = Math.min(best, c.prediction.costSeconds);
    const limit = best + Math.max(this.params.windowSeconds, this.params.windowFraction * best);
    const identity = this.params.tieBreak === 'rendezvous' ? promptIdentity(cycle.request) : null;
    let top: CandidateCost | undefined;
    let topWeight = -1;
    let ties = 0;
    for (const c of costs) {
      if ((anyUsable && c.quarantined) || c.prediction.costSeconds > limit) continue;
      if (!top || c.cachedTokens > top.cachedTokens) {
        top = c;
        topWeight = identity === null ? -1 : rendezvousWeight(identity, c.endpointId);
        ties = 1;
        continue;
      }
      if (c.cachedTokens < top.cachedTokens) continue;
      if (identity !== null) {
        const weight = rendezvousWeight(identity, c.endpointId);
        if (weight > topWeight) {
          top = c;
          topWeight = weight;
        }
      } else if (c.prediction.costSeconds < top.prediction.costSeconds) {
        top = c;
        ties = 1;
      } else if (c.prediction.costSeconds === top.prediction.costSeconds) {
        // Reservoir sampling: each of the equal candidates ends up chosen with probability 1/ties.
        ties++;
        if (cycle.random.nextInt(ties) === 0) top = c;
      }
    }
    const first = top as CandidateCost;
    const order = [first.endpointId];
    const fallbacks = this.params.maxNumOfEndpoints - 1;
    if (fallbacks > 0) {
      const rest = costs
        .filter((c) => c !== first)
        .sort(
          (a, b) =>
            Number(a.quarantined) - Number(b.quarantined) ||
            a.prediction.costSeconds - b.prediction.costSeconds,
        );
      for (let i = 0; i < fallbacks && i < rest.length; i++)
        order.push((rest[i] as CandidateCost).endpointId);
    }
    return order;
  }

  /** A pod that failed `quarantineErrors` requests within the window and has not been scraped since. */
  private quarantined(endpoint: EndpointSnapshot): boolean {
    const threshold = this.params.quarantineErrors;
    if (threshold === 0) return false;
    const book = this.ledger.book(endpoint.info.id);
    const lastError = book?.errorTimesMs.at(-1);
    if (!book || lastError === undefined) return false;
    if (book.recentErrors(this.params.quarantineWindow) < threshold) return false;
    return !endpoint.metrics || endpoint.metrics.updatedAtMs <= lastError;
  }
}

function promptTokens(cycle: SchedulingCycle): number {
  return cycle.request.tokenIds?.length ?? cycle.request.promptTokenEstimate;
}

export const kvedgePickerPlugin = definePlugin({
  type: KVEDGE_PICKER_TYPE,
  kind: 'picker',
  stability: 'kvedge',
  summary:
    'ranks endpoints by predicted TTFT in seconds (queue + uncached prefill + decode interference), learned per pod',
  parameters: kvedgePickerParameters,
  create: (params, ctx) => new KvedgePicker(ctx.name, params, ctx.state),
  // The precise producer is optional (without it the picker falls back); any other name must exist,
  // and the default approximate producer is created when named and missing.
  consumesProducers: (params) =>
    params.prefixProducers.filter((n) => n !== PRECISE_PREFIX_CACHE_PRODUCER_TYPE),
});
