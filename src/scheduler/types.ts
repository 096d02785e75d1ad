/**
 * Contracts of kvedge's scheduling core, following llm-d's plugin taxonomy
 * (llm-d-router.md §2.1): data producers → per profile (filters → weighted scorers → picker),
 * with a profile handler deciding which profiles run, and post-decision hooks (llm-d's
 * `PreRequest`) through which stateful plugins learn what was dispatched.
 *
 * Purity rule: `schedule()` reads plugin state but never writes it; state changes only through
 * {@link Plugin.onDispatch}, {@link Plugin.onResponseComplete} and {@link Plugin.retainEndpoints}.
 */
import type { EndpointSnapshot, FleetView } from '../fleet/types.ts';
import type { Random } from './prng.ts';
import type { DecisionTrace, JsonValue } from './trace.ts';

/** The request features the scheduler routes on (produced by the edge and the tokenization workers). */
export interface SchedulingRequest {
  readonly requestId: string;
  /** Model name the client asked for after rewrites; may be a LoRA adapter name. */
  readonly targetModel: string;
  /**
   * Flattened prompt text for the approximate prefix producer. Completions: the prompt. Chat:
   * tools JSON, then each message's role immediately followed by its text content, with no
   * separators (llm-d-router.md §2.7; see `chatPromptText` in `prompt-text.ts`).
   */
  readonly promptText: string;
  /** Estimated prompt tokens (exact when `tokenIds` is known). */
  readonly promptTokenEstimate: number;
  /** Real token ids, when the tokenization workers produced them; they replace pseudo-tokens. */
  readonly tokenIds?: readonly number[];
  /** Block keys of the prompt (precise path), for `precise-prefix-cache-producer`. */
  readonly blockKeys?: readonly bigint[];
  /** vLLM `cache_salt`, mixed into the first approximate block hash. */
  readonly cacheSalt?: string;
  /** Request headers with lower-cased names. */
  readonly headers: Readonly<Record<string, string>>;
  /** InferenceObjective priority; negative = sheddable. Default 0. */
  readonly priority?: number;
  /** Opaque session id for session affinity, when the edge extracted one. */
  readonly sessionId?: string;
  /**
   * Whether the client asked for a streamed response. Only then does the router see the first
   * token (the first body byte) and report it through the first-token hook; a buffered response's
   * first byte is its last. Unknown (undefined): assume it is reported.
   */
  readonly stream?: boolean;
}

/** Extension point names, as used in timing reports (llm-d's `plugin_duration_seconds{extension_point}`). */
export type ExtensionPoint = 'producer' | 'filter' | 'scorer' | 'picker' | 'profile-handler';

/** One plugin invocation's measured duration. */
export interface PluginTiming {
  readonly extensionPoint: ExtensionPoint;
  readonly pluginType: string;
  readonly pluginName: string;
  /** Profile the invocation ran in (filters, scorers, pickers). */
  readonly profile?: string;
  readonly durationMs: number;
}

/** Per-call inputs that are not request features: randomness and optional instrumentation. */
export interface ScheduleContext {
  /** Seeded randomness for tie-breaks and random pickers. */
  readonly random: Random;
  /**
   * High-resolution timer in milliseconds (e.g. `performance.now`), used only to measure plugin
   * durations; decisions never depend on it. Without it nothing is timed.
   */
  readonly timer?: () => number;
  /** Receives each plugin invocation's duration (requires `timer`). */
  readonly onPluginTiming?: (timing: PluginTiming) => void;
}

/**
 * What a plugin sees during one scheduling cycle. Created by the core per `schedule()` call.
 */
export interface SchedulingCycle {
  readonly request: SchedulingRequest;
  readonly fleet: FleetView;
  /** Decision time, from `fleet.nowMs`. */
  readonly nowMs: number;
  readonly random: Random;
  /** Output of the data producer named `producerName`, if it ran. */
  producerData<T>(producerName: string): T | undefined;
  /** Per-request state a plugin keeps from scoring to its dispatch hook (e.g. "request was cold"). */
  pluginState<T>(pluginName: string): T | undefined;
  setPluginState(pluginName: string, value: unknown): void;
  /** Request attributes shared between plugins (e.g. `peer-endpoint` published by the P/D handler). */
  readonly attributes: Map<string, unknown>;
  /** Adds a human-readable note to the decision trace. */
  note(pluginName: string, message: string): void;
}

/** Common shape of every plugin instance, plus the optional lifecycle hooks. */
export interface Plugin {
  /** llm-d type name, e.g. `queue-scorer`. */
  readonly type: string;
  /** Instance name (defaults to the type). */
  readonly name: string;
  /**
   * Post-decision hook (llm-d `PreRequest`): the router dispatched `event.decision`. The only place,
   * with the two hooks below, where a plugin may change its state.
   */
  onDispatch?(event: DispatchEvent): void;
  /** The response for a dispatched request finished (success, error or client disconnect). */
  onResponseComplete?(event: ResponseCompleteEvent): void;
  /** Forget endpoints that left the fleet (llm-d cleans its prefix index every 2 min). */
  retainEndpoints?(activeIds: ReadonlySet<string>): void;
  /** Adds backend request headers / client response headers for a successful decision. */
  contributeHeaders?(cycle: SchedulingCycle, result: SchedulingResult, headers: DecisionHeaders): void;
  /**
   * What a stateful plugin knows of each endpoint, JSON-serializable, for GET /debug/fleet (kvedge-picker:
   * the rates it learned and the load it counts). Read-only.
   */
  debugState?(nowMs: number, endpointIds: readonly string[]): unknown;
}

/** Mutable header sinks handed to {@link Plugin.contributeHeaders}. */
export interface DecisionHeaders {
  /** Headers added to the request sent to the backend (e.g. `x-prefiller-host-port`). */
  readonly request: Record<string, string>;
  /** Headers added to the response sent to the client (e.g. `x-session-token`). */
  readonly response: Record<string, string>;
}

/** Candidates a filter kept, and optionally why it dropped the others (for the trace). */
export interface FilterResult {
  readonly kept: readonly EndpointSnapshot[];
  /** Reason per dropped endpoint id. */
  readonly reasons?: ReadonlyMap<string, string>;
}

/** Narrows the candidate set (llm-d `Filter`). */
export interface Filter extends Plugin {
  readonly kind: 'filter';
  filter(cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): FilterResult;
}

/** llm-d scorer categories (informational). */
export type ScorerCategory = 'affinity' | 'distribution' | 'balance';

/**
 * Scores candidates (llm-d `Scorer`). The core clamps each score to [0, 1] and multiplies it by
 * the profile weight; an endpoint missing from the map is unscored (contributes 0).
 */
export interface Scorer extends Plugin {
  readonly kind: 'scorer';
  readonly category: ScorerCategory;
  score(cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): ReadonlyMap<string, number>;
}

/** A candidate with its weighted total score. */
export interface ScoredEndpoint {
  readonly endpoint: EndpointSnapshot;
  readonly score: number;
}

/** Chooses target endpoints from scored candidates (llm-d `Picker`). */
export interface Picker extends Plugin {
  readonly kind: 'picker';
  /** Endpoint ids in preference order (first = target, rest = fallbacks); empty if none. */
  pick(cycle: SchedulingCycle, scored: readonly ScoredEndpoint[]): readonly string[];
}

/** A scorer with its profile weight. */
export interface WeightedScorer {
  readonly scorer: Scorer;
  readonly weight: number;
}

/** A named pipeline of filters, weighted scorers and one picker (llm-d `SchedulerProfile`). */
export interface SchedulingProfile {
  readonly name: string;
  readonly filters: readonly Filter[];
  readonly scorers: readonly WeightedScorer[];
  readonly picker: Picker;
}

/** A successful profile run: picked endpoint ids in preference order. */
export interface ProfileRunResult {
  readonly targets: readonly string[];
}

/** Final result of the profile loop (llm-d `SchedulingResult`). */
export interface SchedulingResult {
  readonly primaryProfileName: string;
  readonly profileResults: ReadonlyMap<string, ProfileRunResult>;
}

/** Decides which profiles run and assembles the result (llm-d `ProfileHandler`). */
export interface ProfileHandler extends Plugin {
  readonly kind: 'profile-handler';
  /**
   * Names of profiles to run next, given the results so far (`null` = that profile failed).
   * An empty list ends the loop.
   */
  pick(
    cycle: SchedulingCycle,
    profiles: ReadonlyMap<string, SchedulingProfile>,
    results: ReadonlyMap<string, ProfileRunResult | null>,
  ): readonly string[];
  /** Builds the result; throws {@link SchedulingError} when the outcome is unusable. */
  processResults(
    cycle: SchedulingCycle,
    results: ReadonlyMap<string, ProfileRunResult | null>,
  ): SchedulingResult;
  /** Config-time check of the profiles this handler needs; returns problems (empty = fine). */
  checkProfiles?(profileNames: ReadonlySet<string>): readonly string[];
}

/** A producer's output: the value consumers read, and a JSON summary for the trace. */
export interface Produced<T = unknown> {
  readonly value: T;
  readonly summary: JsonValue;
}

/** Computes per-request data that scorers and deciders read (llm-d `DataProducer`). */
export interface DataProducer extends Plugin {
  readonly kind: 'producer';
  produce(cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): Produced;
}

/** Decides whether a disaggregated stage (prefill/encode) runs (llm-d P/D deciders). */
export interface PdDecider extends Plugin {
  readonly kind: 'decider';
  /**
   * @param decodeEndpointId endpoint the decode profile picked
   * @param prefixProducerName producer whose `PrefixCacheMatchInfo` describes cached blocks
   */
  disaggregate(cycle: SchedulingCycle, decodeEndpointId: string, prefixProducerName: string): boolean;
}

/** Any plugin the scheduler runs. */
export type SchedulerPlugin = Filter | Scorer | Picker | ProfileHandler | DataProducer | PdDecider;

/** Why a decision has no endpoint; maps to llm-d's HTTP statuses and dropped-reason header values. */
export interface SchedulingFailure {
  /** `x-llm-d-request-dropped-reason` value. */
  readonly reason: 'rejected-no-endpoints' | 'rejected-saturated';
  /** 503 when there are no candidates at all, 429 when filters or the profile handler left nothing. */
  readonly httpStatus: 503 | 429;
  readonly message: string;
}

/** Thrown by profile handlers for an unusable outcome; the core turns it into a {@link SchedulingFailure}. */
export class SchedulingError extends Error {
  override readonly name = 'SchedulingError';
}

/** Non-JSON per-request data the dispatch hooks need (producer outputs, plugin state). */
export interface DecisionState {
  readonly producerData: ReadonlyMap<string, unknown>;
  readonly pluginState: ReadonlyMap<string, unknown>;
  readonly attributes: ReadonlyMap<string, unknown>;
}

/** Outcome of one `schedule()` call. */
export interface Decision {
  readonly requestId: string;
  /** Primary target (first pick of the primary profile), or null on failure. */
  readonly endpointId: string | null;
  /** Further picks of the primary profile, for retries (llm-d's comma-separated destination list). */
  readonly fallbackEndpointIds: readonly string[];
  readonly primaryProfile: string | null;
  /** Per profile that ran: its picks, or null if it failed. */
  readonly profileResults: Readonly<Record<string, ProfileRunResult | null>>;
  readonly requestHeaders: Readonly<Record<string, string>>;
  readonly responseHeaders: Readonly<Record<string, string>>;
  readonly failure: SchedulingFailure | null;
  /** JSON-serializable explanation: what `POST /debug/route` returns. */
  readonly trace: DecisionTrace;
  /** Not part of the trace; consumed by {@link Plugin.onDispatch}. */
  readonly state: DecisionState;
}

/** Passed to {@link Plugin.onDispatch}. */
export interface DispatchEvent {
  readonly request: SchedulingRequest;
  readonly decision: Decision;
  /** Router clock at dispatch. */
  readonly nowMs: number;
}

/** Passed to {@link Plugin.onResponseComplete}. */
export interface ResponseCompleteEvent {
  readonly request: SchedulingRequest;
  readonly decision: Decision;
  /** Endpoint that actually served (may differ from the decision after a retry). */
  readonly endpointId: string;
  readonly nowMs: number;
  readonly outcome: 'success' | 'error' | 'client-disconnect';
  /** Dispatch to first response byte, as the router measured it (ms), when known. */
  readonly ttftMs?: number;
  /** Token counts from the response's usage, when the endpoint reported them. */
  readonly promptTokens?: number;
  readonly cachedTokens?: number;
  readonly completionTokens?: number;
}
