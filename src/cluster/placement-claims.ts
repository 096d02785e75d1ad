/**
 * Placement claims in Redis (src/routing/placement-claim.ts explains what they are for): one
 * `SET key value NX PX ttl GET` per claimed dispatch, so of several replicas placing the same new
 * prefix at once exactly one wins and the others learn its choice in the same round trip.
 *
 * This is the one place where a routing decision waits on Redis, and only for a prompt whose pod
 * will compute many uncached blocks (its prefill takes far longer than the round trip). The wait is
 * bounded by `timeoutMs`; while Redis is unavailable nothing is sent and the replica decides alone.
 */
import type { ClusterStoreDeps } from './store-deps.ts';

export interface PlacementClaimsOptions extends ClusterStoreDeps {
  /** How long a claim holds: long enough for the claimant's speculative insert to reach everyone. */
  readonly ttlMs: number;
  /** Longest wait for Redis's answer before deciding alone. */
  readonly timeoutMs: number;
}

/** Outcome of {@link PlacementClaims.claim}. */
export type ClaimOutcome =
  | { readonly kind: 'won' }
  | { readonly kind: 'taken'; readonly value: string }
  | { readonly kind: 'unavailable' };

const UNAVAILABLE: ClaimOutcome = { kind: 'unavailable' };
const WON: ClaimOutcome = { kind: 'won' };

export class PlacementClaims {
  readonly #o: PlacementClaimsOptions;

  constructor(options: PlacementClaimsOptions) {
    this.#o = options;
  }

  /**
   * Claims `key` (a block key, namespaced by `scope`, e.g. the model) with `value`, unless another
   * replica's unexpired claim is there: then that claim's value.
   */
  async claim(scope: string, key: bigint, value: string): Promise<ClaimOutcome> {
    const { client, health, counters, keys, timeoutMs, ttlMs } = this.#o;
    if (!health.healthy) {
      counters.placementClaimsUnavailable++;
      return UNAVAILABLE;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      // Resolve in the check phase, after the poll phase: when this process's own loop was busy past
      // the timeout, an answer already waiting on the socket still wins (it is not Redis's fault).
      timer = setTimeout(() => setImmediate(() => resolve('timeout')), timeoutMs);
    });
    const request = client.call('SET', keys.placementClaim(scope, key), value, 'PX', ttlMs, 'NX', 'GET').then(
      (previous) => previous as string | null,
      (err: unknown) => {
        counters.redisErrors++;
        health.reportFailure(err);
        return 'error' as const;
      },
    );
    const answer = await Promise.race([request, timeout]);
    clearTimeout(timer);
    if (answer === 'timeout' || answer === 'error') {
      counters.placementClaimsUnavailable++;
      return UNAVAILABLE;
    }
    if (answer === null) {
      counters.placementClaimsWon++;
      return WON;
    }
    counters.placementClaimsTaken++;
    return { kind: 'taken', value: String(answer) };
  }
}
