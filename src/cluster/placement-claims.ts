/**
 * Placement claims in Redis (src/routing/placement-claim.ts explains what they are for): one
 * script per claimed dispatch (get the claim, or set it with a TTL), so of several replicas placing
 * the same new prefix at once exactly one wins and the others learn its choice in the same round
 * trip. A script rather than `SET … NX GET`, which Redis accepts only from 7.0 on.
 *
 * This is the one place where a routing decision waits on Redis, and only for a prompt whose pod
 * will compute many uncached blocks (its prefill takes far longer than the round trip). The wait is
 * bounded by `timeoutMs`; while Redis is unavailable nothing is sent and the replica decides alone.
 */
import type { ClaimOutcome, ClaimStore } from '../routing/placement-agreement.ts';
import { LuaScript } from './lua-script.ts';
import type { ClusterStoreDeps } from './store-deps.ts';

/** KEYS[1] = the claim; ARGV = value, TTL ms. Returns the standing claim, or nil after setting it. */
const CLAIM = new LuaScript(`
local current = redis.call('GET', KEYS[1])
if current then return current end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`);

export interface PlacementClaimsOptions extends ClusterStoreDeps {
  /** How long a claim holds: long enough for the claimant's speculative insert to reach everyone. */
  readonly ttlMs: number;
  /** Longest wait for Redis's answer before deciding alone. */
  readonly timeoutMs: number;
}

const UNAVAILABLE: ClaimOutcome = { kind: 'unavailable' };
const WON: ClaimOutcome = { kind: 'won' };

/** The claims between router replicas, one per cluster state (null when disabled). */
export class PlacementClaims implements ClaimStore {
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
    const request = CLAIM.run(client, [keys.placementClaim(scope, key)], [value, ttlMs]).then(
      (standing) => (standing === null ? null : String(standing)),
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
    return { kind: 'taken', value: answer };
  }
}
