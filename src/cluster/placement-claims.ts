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

/** KEYS = candidate claims, in order. Returns the first that stands, or nil. */
const FIND = new LuaScript(`
for _, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value then return value end
end
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
    const { keys, counters, ttlMs } = this.#o;
    const answer = await this.#bounded(() =>
      CLAIM.run(this.#o.client, [keys.placementClaim(scope, key)], [value, ttlMs]),
    );
    if (answer === undefined) {
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

  /** The first of `candidates` (block keys under `scope`) that another replica claimed, or null. */
  async find(scope: string, candidates: readonly bigint[]): Promise<string | null> {
    const { keys, counters } = this.#o;
    if (candidates.length === 0) return null;
    const answer = await this.#bounded(() =>
      FIND.run(
        this.#o.client,
        candidates.map((key) => keys.placementClaim(scope, key)),
        [],
      ),
    );
    if (answer === undefined) {
      counters.placementClaimsUnavailable++;
      return null;
    }
    if (answer !== null) counters.placementClaimsTaken++;
    return answer;
  }

  /**
   * The script's string reply, null for nil, or undefined when Redis is degraded, failed, or did
   * not answer within `timeoutMs`.
   */
  async #bounded(send: () => Promise<unknown>): Promise<string | null | undefined> {
    const { health, counters, timeoutMs } = this.#o;
    if (!health.healthy) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      // Resolve in the check phase, after the poll phase: when this process's own loop was busy past
      // the timeout, an answer already waiting on the socket still wins (it is not Redis's fault).
      timer = setTimeout(() => setImmediate(() => resolve(undefined)), timeoutMs);
    });
    const request = send().then(
      (reply) => (reply === null ? null : String(reply)),
      (err: unknown) => {
        counters.redisErrors++;
        health.reportFailure(err);
        return undefined;
      },
    );
    const answer = await Promise.race([request, timeout]);
    clearTimeout(timer);
    return answer;
  }
}
