/**
 * The cost kvedge ranks candidates by: a predicted time to first token, in seconds, plus the price
 * of the fleet capacity the placement consumes. Pure functions; docs/scheduling.md derives them.
 *
 * For a request with U uncached prompt tokens on pod p (rates b = seconds per prefill token and
 * a = seconds per step learned for p, speed σ = b / prior b, step budget B):
 *
 *   interference I = σ · (c · decodeSeqs + d · contextTokens)         (decode work in every step)
 *   step time    o = a + I
 *   queue        Q = backlog + unaccountedWaiting · (b · typicalUncached + o)
 *   steps        z = Q > 0 ? U / B : ⌈U / B⌉ + ½     (queued: its tokens share steps with the queue's;
 *                                                     idle: whole steps, plus half the step in flight)
 *   prefill      S = b · U
 *   TTFT         T = Q + S + z · o
 *   externality  E = μ · S + w · λ · S · (Q + S)
 *   decode       D = out · (o' + n · δ),  δ = σ · (c + d · (prompt + out/2)),  n = outstanding requests,
 *                o' = o + (n − decodeSeqs) · δ  (the step once the pod's pending prefills decode too)
 *   KV price     K = Φ(k + Δk) − Φ(k),  Φ(k) = kvScale · max(0, k − k₀) / max(0.01, 1 − k)
 *                (k: projected KV usage, Δk = (U + out) / capacity: the KV the request adds)
 *   turnover     R = κ · b̄ · U · excess   (b̄ the fleet's prefill rate; excess = the fraction of p's
 *                KV written over the last window minus the fleet's fraction, floored at 0)
 *   cost         C = T + E + ν · D + K + R
 *
 * E prices the capacity a placement consumes: adding S seconds of prefill to a pod that receives
 * λ requests/s with Q seconds already queued delays about λ·(Q + S) later arrivals by S each. A
 * busy pod is therefore expensive to recompute a prefix on and an idle one cheap, so a hot
 * prefix's holder keeps its traffic until its queue costs more than a recompute elsewhere, and
 * then the prefix is replicated onto the idlest pod. μ (`recomputeWeight`) is a floor that keeps
 * a just-routed prompt's siblings together even on an idle fleet, where λ is 0.
 */
import type { PrefillRates } from './rate-learner.ts';

/** The load on one pod as the picker reconstructs it at decision time. */
export interface PodLoad {
  /** Projected prefill backlog the router knows of, ahead of a new request (s). */
  readonly backlogSeconds: number;
  /** Requests the pod reports waiting that the router did not send (other replicas). */
  readonly unaccountedWaiting: number;
  /** Sequences decoding on the pod. */
  readonly decodeSeqs: number;
  /** Context tokens those sequences attend to each step. */
  readonly contextTokens: number;
  /** Requests on the pod, decoding or still in prefill: all will decode alongside this one. */
  readonly outstanding: number;
  /** Projected KV usage (0..1) before this placement, or null when unknown. */
  readonly kvUsage: number | null;
  /** KV capacity in tokens, or null when unknown. */
  readonly kvCapacityTokens: number | null;
  /** Recent arrival rate at the pod (requests/s). */
  readonly arrivalRate: number;
}

/** The request being placed, as far as the cost needs it. */
export interface RequestShape {
  readonly uncachedTokens: number;
  /** Prompt tokens (its context while decoding). */
  readonly promptTokens: number;
  /** Expected output tokens (0 when unknown). */
  readonly outputTokens: number;
}

/** Fleet-wide constants of the cost (from the picker's parameters and running estimates). */
export interface CostConstants {
  readonly priorSecondsPerToken: number;
  readonly decodeSecondsPerSequence: number;
  readonly decodeSecondsPerContextToken: number;
  readonly stepTokenBudget: number;
  readonly recomputeWeight: number;
  readonly externalityWeight: number;
  readonly decodeWeight: number;
  readonly kvPressureSeconds: number;
  readonly kvPressureThreshold: number;
  /** κ: seconds charged per second of fleet-rate recompute, per unit of turnover excess. */
  readonly turnoverWeight: number;
  /** b̄: the fleet's prefill seconds per token (prices turnover the same on fast and slow pods). */
  readonly fleetSecondsPerToken: number;
  /** Uncached tokens of a typical request, for queued requests whose size the router does not know. */
  readonly typicalUncachedTokens: number;
}

/** Every term of one candidate's cost (all seconds except token and step counts). */
export interface TtftPrediction {
  readonly uncachedTokens: number;
  readonly queueSeconds: number;
  readonly prefillSeconds: number;
  readonly steps: number;
  readonly stepSeconds: number;
  readonly interferenceSeconds: number;
  readonly ttftSeconds: number;
  readonly externalitySeconds: number;
  /** Own decode time plus the slowdown of co-running decodes, before `decodeWeight`. */
  readonly decodeSeconds: number;
  readonly kvPenaltySeconds: number;
  readonly turnoverSeconds: number;
  readonly costSeconds: number;
}

/** Floor of 1 − k in the KV barrier, so it stays finite at (and past) a full cache. */
const KV_HEADROOM_FLOOR = 0.01;

/**
 * Predicted TTFT and cost of placing a request with `uncachedTokens` on a pod with `load`.
 * `turnoverExcess` is how much faster than the fleet the pod's cache turns over, in cache-fulls
 * written per window beyond the fleet's (cache-turnover.ts; 0 at or below the fleet's pace). It is
 * relative to the other candidates, so it is passed apart from the pod's own load.
 */
export function predictTtft(
  request: RequestShape,
  load: PodLoad,
  rates: PrefillRates,
  constants: CostConstants,
  turnoverExcess = 0,
): TtftPrediction {
  const { uncachedTokens } = request;
  const b = rates.secondsPerToken;
  const speed = b / constants.priorSecondsPerToken;
  const interference =
    speed *
    (constants.decodeSecondsPerSequence * load.decodeSeqs +
      constants.decodeSecondsPerContextToken * load.contextTokens);
  const step = rates.stepSeconds + interference;
  const queue = load.backlogSeconds + load.unaccountedWaiting * (b * constants.typicalUncachedTokens + step);
  const budget = constants.stepTokenBudget;
  const steps = queue > 0 ? uncachedTokens / budget : Math.max(1, Math.ceil(uncachedTokens / budget)) + 0.5;
  const prefill = b * uncachedTokens;
  const ttft = queue + prefill + steps * step;
  const externality =
    constants.recomputeWeight * prefill +
    constants.externalityWeight * load.arrivalRate * prefill * (queue + prefill);
  // Decoding, each of its steps takes the pod's step time with every outstanding request decoding
  // (those still in prefill will be by then), and adds σ·(c + d·context) to each of their steps.
  const perStepAdded =
    speed *
    (constants.decodeSecondsPerSequence +
      constants.decodeSecondsPerContextToken * (request.promptTokens + request.outputTokens / 2));
  const decodeStep =
    rates.stepSeconds + interference + Math.max(0, load.outstanding - load.decodeSeqs) * perStepAdded;
  const decode = request.outputTokens * (decodeStep + load.outstanding * perStepAdded);
  const kvPenalty =
    load.kvUsage === null || load.kvCapacityTokens === null || load.kvCapacityTokens <= 0
      ? 0
      : kvPotential(
          load.kvUsage + (uncachedTokens + request.outputTokens) / load.kvCapacityTokens,
          constants.kvPressureSeconds,
          constants.kvPressureThreshold,
        ) - kvPotential(load.kvUsage, constants.kvPressureSeconds, constants.kvPressureThreshold);
  const turnover =
    constants.turnoverWeight * constants.fleetSecondsPerToken * uncachedTokens * turnoverExcess;
  return {
    uncachedTokens,
    queueSeconds: queue,
    prefillSeconds: prefill,
    steps,
    stepSeconds: step,
    interferenceSeconds: interference,
    ttftSeconds: ttft,
    externalitySeconds: externality,
    decodeSeconds: decode,
    kvPenaltySeconds: kvPenalty,
    turnoverSeconds: turnover,
    costSeconds: ttft + externality + constants.decodeWeight * decode + kvPenalty + turnover,
  };
}

/**
 * The KV potential Φ(k) = scale · max(0, k − threshold) / max(0.01, 1 − k): with threshold 0 it
 * is the M/M/1 congestion curve k / (1 − k) (SMG's least_load barrier), convex and steep near a
 * full cache. A placement is charged the increase of Φ it causes, so a request that adds little KV
 * (a cache hit) pays little even on a busy pod, while a recompute that adds a whole prompt pays
 * for the pressure it creates, most on the fullest pods.
 */
export function kvPotential(kvUsage: number, scale: number, threshold: number): number {
  if (!(kvUsage > threshold)) return 0;
  return (scale * (kvUsage - threshold)) / Math.max(KV_HEADROOM_FLOOR, 1 - kvUsage);
}

/**
 * Prompt tokens the engine will not recompute: the matched blocks, but never the last prompt token
 * (vLLM recomputes at least one token, so a fully cached prompt still computes its last block).
 */
export function cachedTokensOf(matchBlocks: number, blockSizeTokens: number, promptTokens: number): number {
  if (promptTokens <= 0 || blockSizeTokens <= 0 || matchBlocks <= 0) return 0;
  const cacheable = Math.floor((promptTokens - 1) / blockSizeTokens) * blockSizeTokens;
  return Math.max(0, Math.min(cacheable, matchBlocks * blockSizeTokens));
}
