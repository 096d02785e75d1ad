/**
 * Parameters of `kvedge-picker`, with their defaults. Every cost term is in seconds of predicted
 * time to first token, so no parameter is a dimensionless weight between incomparable scores: the
 * timing priors are starting points the picker replaces with rates it learns per pod, and the
 * remaining knobs say how much a second of one thing is worth against a second of another.
 * docs/scheduling.md explains each one.
 */
import { z } from 'zod';
import { durationMs } from '../config/duration.ts';
import { APPROX_PREFIX_CACHE_PRODUCER_TYPE } from '../producers/approx-prefix-cache-producer.ts';
import { PRECISE_PREFIX_CACHE_PRODUCER_TYPE } from '../producers/precise-prefix-cache-producer.ts';

export const kvedgePickerParameters = z.strictObject({
  /**
   * Prefix producers to read, most trusted first; the first one that produced data for the
   * request is used (precise KV-event index, else the approximate router-side index).
   */
  prefixProducers: z
    .array(z.string().min(1))
    .min(1)
    .default([PRECISE_PREFIX_CACHE_PRODUCER_TYPE, APPROX_PREFIX_CACHE_PRODUCER_TYPE]),
  /** Prior prefill cost per uncached prompt token (s), until a pod's own rate is learned. */
  prefillSecondsPerToken: z.number().positive().default(5e-5),
  /** Prior fixed cost of one engine step (s): weights streamed once, launch and scheduling. */
  stepSeconds: z.number().nonnegative().default(0.01),
  /** Added step time per running decode (s), at prior speed; scaled by a pod's learned speed. */
  decodeSecondsPerSequence: z.number().nonnegative().default(3e-5),
  /** Added step time per token of context the running decodes attend to (s), at prior speed. */
  decodeSecondsPerContextToken: z.number().nonnegative().default(5e-8),
  /** Tokens one engine step may compute (vLLM `max_num_batched_tokens`): longer prefills take more steps. */
  stepTokenBudget: z.int().positive().default(8192),
  /**
   * Base price of fleet capacity: every second of prefill a placement adds is charged this many
   * extra seconds. Keeps a just-routed prompt's siblings together even on an idle fleet.
   */
  recomputeWeight: z.number().nonnegative().default(0.25),
  /**
   * Weight of the delay a placement imposes on the pod's next arrivals: prefill seconds S added to
   * a pod receiving λ requests/s with Q seconds already queued delays about λ·(Q + S) later
   * requests by S each, charged as `externalityWeight · λ · S · (Q + S)`. Busy pods are expensive
   * to recompute on, idle ones cheap, which is what replicates a hot prefix onto idle pods.
   */
  externalityWeight: z.number().nonnegative().default(1),
  /**
   * Weight of the decode phase: the request's own decode time on the pod (expected output tokens ×
   * the pod's step time) plus the slowdown its decoding adds to the pod's other running decodes.
   * 0 = TTFT only; small values balance decode load (and KV occupancy) without trading away cache
   * hits.
   */
  decodeWeight: z.number().nonnegative().default(0.01),
  /**
   * Price of cache turnover: a placement on a pod that receives more new tokens (uncached prompt
   * plus expected output) per token of KV capacity than the fleet is charged
   * `turnoverWeight · b̄ · U · excess` seconds (b̄ the fleet's prefill rate, U its uncached tokens,
   * excess = the fraction of its KV written over `turnoverWindow` minus the fleet's). LRU evicts
   * younger, likelier reused prefixes on such a pod; the price spreads new prefixes over the
   * fleet's KV instead of crowding them onto its fastest pods. 0 = off.
   */
  turnoverWeight: z.number().nonnegative().default(20),
  /** Time constant of the tokens-written sum behind the turnover price. */
  turnoverWindow: durationMs.default(60_000),
  /**
   * Turnover excess (cache-fulls per window beyond the fleet's) that costs nothing: a pod a
   * prompt or two ahead of the others is placement noise, and pricing it reshuffles near-ties.
   */
  turnoverDeadZone: z.number().nonnegative().default(0.01),
  /** Time constant of each pod's arrival-rate estimate (exponentially decayed dispatch count). */
  arrivalRateWindow: durationMs.default(10_000),
  /**
   * How the near-best window breaks a tie between candidates holding equally much of the prompt:
   * `rendezvous` by a hash of (whole prompt, endpoint), so router replicas that place the same
   * prompt at the same time agree on the pod (rendezvous.ts); `cost` by the lower cost, then a
   * seeded random draw.
   */
  tieBreak: z.enum(['rendezvous', 'cost']).default('rendezvous'),
  /** Candidates within this many seconds of the cheapest form the near-best window. */
  windowSeconds: z.number().nonnegative().default(0.005),
  /** ...or within this fraction of the cheapest cost, whichever is wider. */
  windowFraction: z.number().nonnegative().default(0.05),
  /**
   * Scale (s) of the KV potential `scale · (k − threshold) / (1 − k)` over projected KV usage k; a
   * placement pays the increase it causes (so cache hits stay cheap on a full pod).
   */
  kvPressureSeconds: z.number().nonnegative().default(1),
  /** KV usage (0..1) above which the potential starts. */
  kvPressureThreshold: z.number().min(0).max(1).default(0.5),
  /** Learn each pod's prefill rate and step time from observed TTFTs. */
  learnRates: z.boolean().default(true),
  /** Forgetting factor of the rate learner, per sample along the directions it excites (1 = never forget; 0.98 ≈ last 50). */
  learningForgetting: z.number().gt(0).max(1).default(0.98),
  /**
   * A pod keeps using the fleet-wide rates unless its own differ from them by more than this
   * fraction: in a uniform fleet, learning noise alone would otherwise make some pods look faster
   * and attract more traffic than they can take.
   */
  heterogeneityThreshold: z.number().nonnegative().default(0.25),
  /** Observations a pod needs before its own rates replace the fleet-wide ones. */
  learningMinObservations: z.int().nonnegative().default(4),
  /**
   * When the router reports no first-token events (the live router reports completions only), a
   * request this long past its predicted first token is presumed decoding. With first-token events
   * a request is pending until its event, however late.
   */
  presumedPrefillGraceMs: durationMs.default(1000),
  /**
   * Errors from one pod within `quarantineWindow` after which it gets no traffic until a metrics
   * scrape newer than the last error (a crashed pod stops receiving requests before failed scrapes
   * mark it unhealthy); 0 = off.
   */
  quarantineErrors: z.int().nonnegative().default(2),
  /** Window over which `quarantineErrors` are counted. */
  quarantineWindow: durationMs.default(1000),
  /** Endpoints returned: the pick, then fallbacks by cost for retries (llm-d's picker parameter). */
  maxNumOfEndpoints: z.int().positive().default(1),
});

export type KvedgePickerParameters = z.output<typeof kvedgePickerParameters>;
