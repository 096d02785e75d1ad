/**
 * Exponential backoff with jitter for re-connecting to the Kubernetes API.
 *
 * Jitter matters here: every router replica watches the same objects, and after an API-server
 * restart they would otherwise all reconnect in lock-step.
 */

export interface BackoffOptions {
  /** First delay. Default 500 ms. */
  readonly initialMs?: number;
  /** Ceiling of the delay. Default 30 000 ms (client-go's reflector caps at 30 s too). */
  readonly maxMs?: number;
  /** Growth per consecutive failure. Default 2. */
  readonly factor?: number;
  /** Fraction of each delay that is randomised (0 = none, 1 = full jitter). Default 0.2. */
  readonly jitter?: number;
  /** Source of randomness in [0, 1); injectable for tests. Default `Math.random`. */
  readonly random?: () => number;
}

/** Delays for consecutive failures; {@link reset} after a success. */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #factor: number;
  readonly #jitter: number;
  readonly #random: () => number;
  #failures = 0;

  constructor(options: BackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 500;
    this.#maxMs = options.maxMs ?? 30_000;
    this.#factor = options.factor ?? 2;
    this.#jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2));
    this.#random = options.random ?? Math.random;
    if (!(this.#initialMs >= 0) || !(this.#maxMs >= this.#initialMs) || !(this.#factor >= 1)) {
      throw new Error('backoff: need 0 <= initialMs <= maxMs and factor >= 1');
    }
  }

  /** Consecutive failures since the last {@link reset}. */
  get failures(): number {
    return this.#failures;
  }

  /** The delay before the next attempt; grows with each call until {@link reset}. */
  next(): number {
    const base = Math.min(this.#maxMs, this.#initialMs * this.#factor ** this.#failures);
    this.#failures++;
    // Jitter only shortens the delay, so `maxMs` stays a true ceiling.
    return Math.round(base * (1 - this.#jitter * this.#random()));
  }

  reset(): void {
    this.#failures = 0;
  }
}
