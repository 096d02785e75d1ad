/**
 * Online estimates of each pod's prefill timing, learned from the TTFTs the router observes, so a
 * fleet of unequal pods (different GPUs, models, parallelism) is costed with each pod's own rates.
 *
 * Model of the prefill part of one TTFT (after the wait behind earlier work is removed):
 *
 *   service ≈ secondsPerToken · uncachedTokens + stepSeconds · steps
 *
 * fitted per pod by recursive least squares with directional forgetting (two parameters, features
 * `uncachedTokens / 1000` and `steps`). A fleet-wide fit of the same model runs on every
 * observation; a pod uses it until it has `minObservations` of its own, so a new or restarted
 * pod starts from what the fleet looks like instead of from the static prior.
 */

/** A pod's current prefill timing. */
export interface PrefillRates {
  /** Seconds per uncached prompt token. */
  readonly secondsPerToken: number;
  /** Fixed seconds per engine step (without the decode interference, which is modelled apart). */
  readonly stepSeconds: number;
  /** Observations behind these rates (0 = the prior). */
  readonly observations: number;
}

/** One observed prefill: its features and measured service time. */
export interface PrefillObservation {
  readonly uncachedTokens: number;
  /** Steps the prefill took, including the fraction of a step in flight at arrival. */
  readonly steps: number;
  /** Measured seconds attributable to the prefill (TTFT minus wait, minus decode interference). */
  readonly serviceSeconds: number;
  /** 0..1: how much to trust it (observations made behind a queue are noisier). */
  readonly weight: number;
}

export interface RateLearnerOptions {
  readonly prior: { readonly secondsPerToken: number; readonly stepSeconds: number };
  /** Forgetting factor λ in (0, 1]. */
  readonly forgetting: number;
  readonly minObservations: number;
  /** A pod's own rate replaces the fleet's only when they differ by more than this fraction. */
  readonly heterogeneityThreshold: number;
}

/** Learned rates may not leave [prior / BOUND, prior × BOUND] (guards against a degenerate fit). */
const BOUND = 50;
/** Typical error of one TTFT-derived observation (s): scales the prior's weight in the fit. */
const OBSERVATION_NOISE_SECONDS = 0.01;
/** Upper bound on the learned step time (s). */
const MAX_STEP_SECONDS = 2;

/**
 * Two-parameter weighted recursive least squares with directional forgetting: an observation
 * forgets old information only along the direction it brings new information in. In information
 * form (R = the inverse covariance, starting at the prior's):
 *
 *   R ← R − (1 − λ)·(R·x)(R·x)ᵀ / (xᵀ·R·x) + w·x·xᵀ;   θ ← θ + R⁻¹·x·w·(y − xᵀ·θ)
 *
 * Why not plain exponential forgetting (R ← λ·R + w·x·xᵀ): it also forgets what was known in
 * directions the recent data does not excite (every prompt the same size, as in a burst of
 * siblings, or every prefill one step), so the covariance there winds up and noise moves the
 * estimate far along it. On multi-turn chat the fleet-wide fit ended at 65 µs/token while every
 * pod's own fit, and the engine, said 36. Here what the data does not speak to stays as it was, and
 * the directions it does speak to follow the last ~1/(1 − λ) observations.
 */
export class DirectionalRls {
  theta0: number;
  theta1: number;
  observations = 0;
  /** Information matrix R (symmetric). */
  private r00: number;
  private r01 = 0;
  private r11: number;

  /**
   * @param noiseSeconds typical error of one observation: the prior (uncertainty ≈ the parameters'
   *   own size) then weighs as much as a fraction of one observation, not hundreds
   */
  constructor(
    theta0: number,
    theta1: number,
    private readonly forgetting: number,
    noiseSeconds = OBSERVATION_NOISE_SECONDS,
  ) {
    this.theta0 = theta0;
    this.theta1 = theta1;
    const noise2 = noiseSeconds * noiseSeconds;
    this.r00 = noise2 / Math.max(theta0 * theta0, 1e-8);
    this.r11 = noise2 / Math.max(theta1 * theta1, 1e-8);
  }

  update(x0: number, x1: number, y: number, weight: number): void {
    if (!(weight > 0) || (x0 === 0 && x1 === 0)) return;
    const rx0 = this.r00 * x0 + this.r01 * x1;
    const rx1 = this.r01 * x0 + this.r11 * x1;
    const xrx = x0 * rx0 + x1 * rx1;
    if (xrx > 0) {
      // A sample of weight w forgets as much as w samples of weight 1 would (λ^w).
      const f = (1 - this.forgetting ** weight) / xrx;
      this.r00 -= f * rx0 * rx0;
      this.r01 -= f * rx0 * rx1;
      this.r11 -= f * rx1 * rx1;
    }
    this.r00 += weight * x0 * x0;
    this.r01 += weight * x0 * x1;
    this.r11 += weight * x1 * x1;
    const det = this.r00 * this.r11 - this.r01 * this.r01;
    if (!(det > 0)) return;
    const error = weight * (y - (x0 * this.theta0 + x1 * this.theta1));
    // θ += R⁻¹·x·w·error, with R⁻¹ = [r11, −r01; −r01, r00] / det.
    this.theta0 += ((this.r11 * x0 - this.r01 * x1) * error) / det;
    this.theta1 += ((this.r00 * x1 - this.r01 * x0) * error) / det;
    this.observations++;
  }
}

/**
 * What the picker needs of a learner. The scheduler state factory provides it
 * (`SchedulerStateFactory.prefillRates`), so a router's acceptor threads can feed one another's
 * observations into theirs: copies that learn from disjoint halves of the traffic drift apart and
 * then cost the same pod differently.
 */
export type PrefillRateStore = Pick<RateLearner, 'rates' | 'fleetRates' | 'observe' | 'retain'>;

export class RateLearner {
  private readonly fleet: DirectionalRls;
  private readonly pods = new Map<string, DirectionalRls>();
  private readonly prior: PrefillRates;

  constructor(private readonly options: RateLearnerOptions) {
    this.prior = { ...options.prior, observations: 0 };
    this.fleet = new DirectionalRls(
      options.prior.secondsPerToken * 1000,
      options.prior.stepSeconds,
      options.forgetting,
    );
  }

  /**
   * The rates to cost `endpointId` with: the fleet's, except for each rate where the pod has
   * enough observations of its own and they differ from the fleet's by more than the threshold.
   */
  rates(endpointId: string): PrefillRates {
    const fleet = this.fleetRates();
    const own = this.pods.get(endpointId);
    if (!own || own.observations < this.options.minObservations) return fleet;
    const mine = this.bounded(own);
    const threshold = this.options.heterogeneityThreshold;
    const differs = (a: number, b: number) => Math.abs(a - b) > threshold * Math.max(Math.abs(b), 1e-12);
    const perToken = differs(mine.secondsPerToken, fleet.secondsPerToken);
    const step = differs(mine.stepSeconds, fleet.stepSeconds);
    if (!perToken && !step) return fleet;
    return {
      secondsPerToken: perToken ? mine.secondsPerToken : fleet.secondsPerToken,
      stepSeconds: step ? mine.stepSeconds : fleet.stepSeconds,
      observations: mine.observations,
    };
  }

  /** Fleet-wide rates (the prior before any observation). */
  fleetRates(): PrefillRates {
    return this.fleet.observations > 0 ? this.bounded(this.fleet) : this.prior;
  }

  observe(endpointId: string, observation: PrefillObservation): void {
    const x0 = observation.uncachedTokens / 1000;
    const x1 = observation.steps;
    const y = observation.serviceSeconds;
    if (!Number.isFinite(y) || !Number.isFinite(x0) || !Number.isFinite(x1)) return;
    let own = this.pods.get(endpointId);
    if (!own) {
      // A pod's first observation starts from the fleet's current estimate, not the static prior.
      own = new DirectionalRls(this.fleet.theta0, this.fleet.theta1, this.options.forgetting);
      this.pods.set(endpointId, own);
    }
    own.update(x0, x1, y, observation.weight);
    this.fleet.update(x0, x1, y, observation.weight);
  }

  /** Forgets pods that left the fleet. */
  retain(activeIds: ReadonlySet<string>): void {
    for (const id of this.pods.keys()) if (!activeIds.has(id)) this.pods.delete(id);
  }

  private bounded(fit: DirectionalRls): PrefillRates {
    const prior = this.options.prior;
    const perToken = clamp(fit.theta0 / 1000, prior.secondsPerToken / BOUND, prior.secondsPerToken * BOUND);
    const step = clamp(fit.theta1, 0, Math.max(MAX_STEP_SECONDS, prior.stepSeconds));
    return { secondsPerToken: perToken, stepSeconds: step, observations: fit.observations };
  }
}

function clamp(value: number, low: number, high: number): number {
  return Number.isFinite(value) ? Math.min(high, Math.max(low, value)) : low;
}
