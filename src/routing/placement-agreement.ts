/**
 * The routing step that settles a decision with the other routers (replicas, threads) before dispatch
 * (placement claims, src/routing/placement-claim.ts). The scheduler stays pure and synchronous:
 * this runs after it, and when another router has already placed the same new prefix, it makes
 * that placement visible to this router's index and asks for a second decision, which the caller
 * then sends to the claimed pod ({@link followClaim}).
 */
import type { PrefixMatchData } from '../scheduler/prefix-cache-match-info.ts';
import type { Decision, SchedulingRequest } from '../scheduler/types.ts';
import { type ClaimGeometry, matchClaim, planClaim, probeKeys } from './placement-claim.ts';

/**
 * Settles a decision with the other routers before dispatch: `plan` says whether it makes a claim
 * (only those wait for the claims in flight before them, placement-turns.ts), `settle` makes it.
 */
export interface PlacementAgreement {
  /** What settling `decision` would claim, or undefined when it makes no claim. */
  plan(request: SchedulingRequest, decision: Decision): PlacementPlan | undefined;
  /**
   * Makes the planned claim. Gives the endpoint another router placed the prompt on, now visible
   * to the scheduler, which should decide again; null = keep the decision. Synchronous when it
   * needed no round trip (claims in shared memory): no other decision has to wait for it then.
   */
  settle(plan: PlacementPlan, model: string): string | null | Promise<string | null>;
  /** Longest one claim round trip may take (ms): what waiting for others' settlements is bounded by. */
  readonly claimTimeoutMs: number;
  /**
   * False while claims go unanswered (the last few timed out or Redis is degraded): decisions then
   * stop waiting for one another, since the claims they would wait for come to nothing.
   */
  readonly answering: boolean;
}

/** Outcome of a claim: this router set it, another one holds it, or no answer (decide alone). */
export type ClaimOutcome =
  | { readonly kind: 'won' }
  | { readonly kind: 'taken'; readonly value: string }
  | { readonly kind: 'unavailable' };

/** Where claims are made: Redis between replicas, shared memory between a router's threads. */
export interface ClaimStore {
  claim(scope: string, key: bigint, value: string): ClaimOutcome | Promise<ClaimOutcome>;
  /** The value of the first of `keys` (in order) that stands as a claim, or null. */
  find(scope: string, keys: readonly bigint[]): string | null | Promise<string | null>;
}

/**
 * One key space claims can be made in: a prefix producer's blocks. The precise producer's are the
 * request's block keys (KV-event index); the approximate producer's are its own prompt hashes, so
 * routers without the model's tokenizer agree too. Claims of different sources never meet.
 */
export interface ClaimSource {
  /** The producer whose match data tells what is already held. */
  readonly producer: string;
  /** Appended to the model in the claim's scope (claims in different scopes never meet). */
  scope(data: PrefixMatchData): string;
  /** The prompt's keys in the producer's blocks; null or empty = nothing to claim with. */
  keys(request: SchedulingRequest, data: PrefixMatchData): readonly bigint[] | null;
  /** Makes `endpointId` hold `keys` in this router's view of the producer, for about `ttlMs`. */
  hold(endpointId: string, keys: readonly bigint[], ttlMs: number, data: PrefixMatchData): void;
}

export interface ClaimedPlacementOptions {
  readonly claims: ClaimStore;
  /** In order of preference: the first whose producer produced data for a request is used. */
  readonly sources: readonly ClaimSource[];
  readonly minNewTokens: number;
  readonly checkpointTokens: number;
  /** How long a held claim stays visible (the claim's TTL). */
  readonly ttlMs: number;
  /** Told every claim's outcome (metrics). */
  readonly onOutcome?: (outcome: ClaimOutcome['kind']) => void;
  /** Longest one claim round trip may take (ms); default 20, the Redis claims' bound. */
  readonly claimTimeoutMs?: number;
}

/** Unanswered claims in a row after which decisions stop waiting for one another. */
const UNANSWERED_STREAK = 3;

/** The claim store's answer, now or after a round trip. */
type Maybe<T> = T | Promise<T>;

/** A decision's claim, planned (computed once, whether the decision then waits or not). */
export interface PlacementPlan {
  readonly source: ClaimSource;
  readonly keys: readonly bigint[];
  readonly chosen: string;
  readonly geometry: ClaimGeometry;
  readonly decision: Decision;
  readonly data: PrefixMatchData;
  readonly claim: { readonly key: bigint; readonly value: string };
}

/** A plan being settled under its scope (the model and the source's suffix). */
interface Settling extends PlacementPlan {
  readonly scope: string;
}

/** Checkpoints per claim at most: with 256-token spacing, prompts up to 16k tokens keep that spacing. */
const MAX_CHECKPOINTS = 64;

/**
 * Placement claims as the routing step after a decision: claim the chosen pod for the prompt's new
 * part, or, finding another router's claim, make its pod hold the shared blocks and ask for a new
 * decision.
 */
export class ClaimedPlacement implements PlacementAgreement {
  readonly claimTimeoutMs: number;
  #unanswered = 0;

  constructor(private readonly o: ClaimedPlacementOptions) {
    this.claimTimeoutMs = o.claimTimeoutMs ?? 20;
  }

  get answering(): boolean {
    return this.#unanswered < UNANSWERED_STREAK;
  }

  plan(request: SchedulingRequest, decision: Decision): PlacementPlan | undefined {
    const chosen = decision.endpointId;
    if (chosen === null) return undefined;
    // Disaggregated: a prefill pod computes the prompt, and holding blocks on the decode pod could
    // flip the P/D decider's choice. Claims are for where a prompt's KV is computed; skip.
    if ((decision.profileResults['prefill']?.targets.length ?? 0) > 0) return undefined;
    const found = this.#source(request, decision);
    if (!found) return undefined;
    const { source, data, keys } = found;
    const geometry = this.#geometry(data.blockSizeTokens);
    const claim = planClaim(keys, data.matches, chosen, geometry);
    if (!claim) return undefined;
    return { source, keys, chosen, decision, data, claim, geometry };
  }

  settle(plan: PlacementPlan, model: string): Maybe<string | null> {
    const s: Settling = { ...plan, scope: model + plan.source.scope(plan.data) };
    const { keys, data, scope, geometry } = s;
    // About to recompute what another pod holds: that copy may be another router's placement of a
    // moment ago, whose insert arrived before this decision but whose claim sits shallower.
    const held = heldElsewhere(data.matches, s.chosen);
    if (held === 0) return this.#claim(s);
    return then(this.o.claims.find(scope, probeKeys(keys, held, geometry)), (claim) => {
      if (claim === null) return this.#claim(s);
      this.o.onOutcome?.('taken');
      return this.#follow(s, claim);
    });
  }

  #claim(s: Settling): Maybe<string | null> {
    return then(this.o.claims.claim(s.scope, s.claim.key, s.claim.value), (outcome) => {
      this.#unanswered = outcome.kind === 'unavailable' ? this.#unanswered + 1 : 0;
      this.o.onOutcome?.(outcome.kind);
      return outcome.kind === 'taken' ? this.#follow(s, outcome.value) : null;
    });
  }

  #follow(s: Settling, claimed: string): string | null {
    const match = matchClaim(s.keys, claimed);
    if (!match || match.endpointId === s.chosen) return null;
    // Only a pod this decision could have chosen, and only if the claim adds to what it holds.
    if (!candidateOf(s.decision, match.endpointId)) return null;
    if (match.sharedBlocks > (s.data.matches.get(match.endpointId) ?? 0)) {
      s.source.hold(match.endpointId, s.keys.slice(0, match.sharedBlocks), this.o.ttlMs, s.data);
    }
    return match.endpointId;
  }

  #source(
    request: SchedulingRequest,
    decision: Decision,
  ): { source: ClaimSource; data: PrefixMatchData; keys: readonly bigint[] } | undefined {
    for (const source of this.o.sources) {
      const data = decision.state.producerData.get(source.producer) as PrefixMatchData | undefined;
      if (!data) continue;
      const keys = source.keys(request, data);
      if (keys && keys.length > 0) return { source, data, keys };
    }
    return undefined;
  }

  #geometry(blockSizeTokens: number): ClaimGeometry {
    return {
      minNewBlocks: Math.max(1, Math.ceil(this.o.minNewTokens / blockSizeTokens)),
      checkpointBlocks: Math.max(1, Math.round(this.o.checkpointTokens / blockSizeTokens)),
      maxCheckpoints: MAX_CHECKPOINTS,
    };
  }
}

/**
 * The decision that follows a found claim: `decision` (the second one, which saw the claimed pod
 * hold the prompt) sent to `claimed`, with the pod it preferred first among the fallbacks, unless
 * `claimed` is no longer among its candidates.
 *
 * Why not let the second decision choose: the claimed pod looks busier than it is to a router that
 * placed its own cold prompts in the same instant as the others, blind to them, and declining costs a
 * certain second prefill of the whole prompt. Live, through four replicas, kvedge's second decisions
 * declined half the claims and got 58.6–60.7% hit rate and 2.71–2.91 s TTFT p90 on sibling bursts;
 * following every claim gave 68.5–71.6% and 1.71–2.39 s in four runs (docs/cluster-state.md). A
 * claim lives 2 s: after that, a pod that really is overloaded is weighed as usual, and the prefix
 * replicated.
 */
export function followClaim(decision: Decision, claimed: string): Decision {
  // A pod the filters removed in the meantime (unhealthy, saturated, another model) is not followed.
  if (decision.endpointId === claimed || !candidateOf(decision, claimed)) return decision;
  const fallbacks = [decision.endpointId, ...decision.fallbackEndpointIds].filter(
    (id): id is string => id !== null && id !== claimed,
  );
  return { ...decision, endpointId: claimed, fallbackEndpointIds: fallbacks };
}

/** Blocks of the prompt the best-holding pod other than `chosen` holds, if it holds more than `chosen`. */
function heldElsewhere(matches: ReadonlyMap<string, number>, chosen: string): number {
  const own = matches.get(chosen) ?? 0;
  let best = 0;
  for (const [id, blocks] of matches) if (id !== chosen && blocks > own) best = Math.max(best, blocks);
  return Math.floor(best);
}

/** True when the primary profile scored `endpointId` (it passed the filters). */
function candidateOf(decision: Decision, endpointId: string): boolean {
  const primary = decision.trace.profiles.find((p) => p.profile === decision.primaryProfile);
  return primary?.candidates.some((c) => c.endpointId === endpointId && c.total !== null) ?? false;
}

/** `f(value)`, synchronously when `value` is not a promise. */
function then<T, R>(value: Maybe<T>, f: (value: T) => Maybe<R>): Maybe<R> {
  return value instanceof Promise ? value.then(f) : f(value);
}
