/**
 * The scheduling core (llm-d-router.md §1.4 steps 5–9 and §2.2). `schedule()` is pure with
 * respect to plugin state: it reads the fleet view and the state stores behind the plugins, takes
 * time from `fleet.nowMs` and randomness from the context, and returns a {@link Decision}. The
 * router (or the benchmark) then calls {@link Scheduler.recordDispatch} once it actually sends the
 * request, which is when stateful plugins update their stores.
 */
import type { EndpointSnapshot, FleetView } from '../fleet/types.ts';
import { Cycle } from './cycle.ts';
import { PluginStopwatch } from './plugin-stopwatch.ts';
import { runProfile } from './profile-runner.ts';
import type { ProducerTrace, ProfileTrace } from './trace.ts';
import { SchedulingError } from './types.ts';
import type {
  DataProducer,
  Decision,
  DecisionHeaders,
  Plugin,
  ProfileHandler,
  ProfileRunResult,
  ResponseCompleteEvent,
  ScheduleContext,
  SchedulingFailure,
  SchedulingProfile,
  SchedulingRequest,
  SchedulingResult,
} from './types.ts';
import { isFirstTokenAware, type FirstTokenAware, type FirstTokenEvent } from './peers/first-token-hook.ts';

/** The wiring of a scheduler: what the config loader builds. */
export interface SchedulerSpec {
  readonly profiles: readonly SchedulingProfile[];
  readonly profileHandler: ProfileHandler;
  /** Data producers, run once per request before any profile, in this order. */
  readonly producers: readonly DataProducer[];
  /** Further plugins that need lifecycle hooks but are not reachable from the above (e.g. deciders). */
  readonly extraPlugins?: readonly Plugin[];
}

/** What the profile loop produced. */
interface ProfileLoop {
  readonly results: Map<string, ProfileRunResult | null>;
  readonly ran: string[];
  readonly traces: ProfileTrace[];
}

export class Scheduler {
  readonly profiles: ReadonlyMap<string, SchedulingProfile>;
  readonly profileHandler: ProfileHandler;
  readonly producers: readonly DataProducer[];
  /** Every distinct plugin instance, in a stable order. */
  readonly plugins: readonly Plugin[];
  /** The plugins with the first-token hook, found once rather than on every streamed response. */
  private readonly firstTokenPlugins: readonly FirstTokenAware[];

  constructor(spec: SchedulerSpec) {
    this.profiles = new Map(spec.profiles.map((profile) => [profile.name, profile]));
    this.profileHandler = spec.profileHandler;
    this.producers = spec.producers;
    const all = new Set<Plugin>(spec.producers);
    for (const profile of spec.profiles) {
      for (const filter of profile.filters) all.add(filter);
      for (const { scorer } of profile.scorers) all.add(scorer);
      all.add(profile.picker);
    }
    all.add(spec.profileHandler);
    for (const plugin of spec.extraPlugins ?? []) all.add(plugin);
    this.plugins = [...all];
    this.firstTokenPlugins = this.plugins.filter((p): p is Plugin & FirstTokenAware => isFirstTokenAware(p));
  }

  /** Picks the endpoint(s) for `request` over `fleet`. Never throws for "no capacity": see `failure`. */
  schedule(request: SchedulingRequest, fleet: FleetView, ctx: ScheduleContext): Decision {
    const stopwatch = new PluginStopwatch(ctx);
    const started = stopwatch.now();
    const cycle = new Cycle(request, fleet, ctx.random);

    const candidates: EndpointSnapshot[] = [];
    const excluded: { endpointId: string; reason: string }[] = [];
    for (const endpoint of fleet.endpoints) {
      if (endpoint.healthy) candidates.push(endpoint);
      else excluded.push({ endpointId: endpoint.info.id, reason: 'unhealthy' });
    }

    const producerTraces: ProducerTrace[] = [];
    let loop: ProfileLoop = { results: new Map(), ran: [], traces: [] };
    let result: SchedulingResult | null = null;
    let failure: SchedulingFailure | null = null;
    if (candidates.length === 0) {
      failure = {
        reason: 'rejected-no-endpoints',
        httpStatus: 503,
        message: 'no healthy endpoints in the pool',
      };
    } else {
      for (const producer of this.producers) {
        producerTraces.push(this.runProducer(producer, cycle, candidates, stopwatch));
      }
      loop = this.runProfiles(cycle, candidates, stopwatch);
      ({ result, failure } = this.finish(cycle, loop, stopwatch));
    }

    const headers: DecisionHeaders = { request: {}, response: {} };
    if (result) {
      for (const plugin of this.plugins) plugin.contributeHeaders?.(cycle, result, headers);
    }
    const primaryTargets = result
      ? (result.profileResults.get(result.primaryProfileName)?.targets ?? [])
      : [];
    const endpointId = primaryTargets[0] ?? null;
    const profileResults: Record<string, ProfileRunResult | null> = {};
    for (const [name, run] of loop.results) profileResults[name] = run;

    const timings = stopwatch.enabled
      ? { timings: { totalMs: stopwatch.now() - started, plugins: stopwatch.timings } }
      : {};
    return {
      requestId: request.requestId,
      endpointId,
      fallbackEndpointIds: primaryTargets.slice(1),
      primaryProfile: result?.primaryProfileName ?? null,
      profileResults,
      requestHeaders: headers.request,
      responseHeaders: headers.response,
      failure,
      trace: {
        requestId: request.requestId,
        targetModel: request.targetModel,
        nowMs: fleet.nowMs,
        candidates: { considered: fleet.endpoints.length, excluded },
        producers: producerTraces,
        profileHandler: { name: this.profileHandler.name, type: this.profileHandler.type, ran: loop.ran },
        profiles: loop.traces,
        notes: cycle.notes,
        result: { endpointId, primaryProfile: result?.primaryProfileName ?? null, failure },
        ...timings,
      },
      state: cycle.toDecisionState(),
    };
  }

  /**
   * Tells stateful plugins that `decision` was dispatched (llm-d `PreRequest`): the approximate
   * prefix index records the prompt's blocks, no-hit-LRU moves the target, sessions bind, etc.
   */
  recordDispatch(request: SchedulingRequest, decision: Decision, nowMs: number): void {
    if (decision.endpointId === null) return;
    const event = { request, decision, nowMs };
    for (const plugin of this.plugins) plugin.onDispatch?.(event);
  }

  /**
   * Tells plugins that implement the first-token hook that a dispatched request's first token
   * arrived (its prefill is done): learning pickers correct their queue clocks at that moment
   * instead of waiting for the whole response.
   */
  recordFirstToken(event: FirstTokenEvent): void {
    for (const plugin of this.firstTokenPlugins) plugin.onFirstToken(event);
  }

  /** Tells plugins that a dispatched request's response finished. */
  recordResponseComplete(event: ResponseCompleteEvent): void {
    for (const plugin of this.plugins) plugin.onResponseComplete?.(event);
  }

  /** Drops state about endpoints that are no longer in the fleet. */
  retainEndpoints(activeIds: ReadonlySet<string>): void {
    for (const plugin of this.plugins) plugin.retainEndpoints?.(activeIds);
  }

  /** llm-d's profile loop: ask the handler which profiles to run until it returns none. */
  private runProfiles(
    cycle: Cycle,
    candidates: readonly EndpointSnapshot[],
    stopwatch: PluginStopwatch,
  ): ProfileLoop {
    const loop: ProfileLoop = { results: new Map(), ran: [], traces: [] };
    // Each profile may run once, so a well-behaved handler needs at most profiles+1 rounds.
    for (let round = 0; round <= this.profiles.size; round++) {
      const next = stopwatch.measure('profile-handler', this.profileHandler, undefined, () =>
        this.profileHandler.pick(cycle, this.profiles, loop.results),
      );
      if (next.length === 0) break;
      for (const name of next) {
        const profile = this.profiles.get(name);
        if (!profile || loop.results.has(name)) {
          cycle.note(
            this.profileHandler.name,
            `ignored request to run profile '${name}' (unknown or already run)`,
          );
          continue;
        }
        const run = runProfile(cycle, profile, candidates, stopwatch);
        loop.results.set(name, run.result);
        loop.ran.push(name);
        loop.traces.push(run.trace);
      }
    }
    return loop;
  }

  private runProducer(
    producer: DataProducer,
    cycle: Cycle,
    candidates: readonly EndpointSnapshot[],
    stopwatch: PluginStopwatch,
  ): ProducerTrace {
    try {
      const produced = stopwatch.measure('producer', producer, undefined, () =>
        producer.produce(cycle, candidates),
      );
      cycle.setProducerData(producer.name, produced.value);
      return { producer: producer.name, type: producer.type, summary: produced.summary };
    } catch (error) {
      // llm-d logs producer errors and schedules without the data (director.go); so do we.
      const message = error instanceof Error ? error.message : String(error);
      cycle.note(producer.name, `producer failed, scheduling without its data: ${message}`);
      return { producer: producer.name, type: producer.type, summary: { error: message } };
    }
  }

  /** Turns the profile results into the final result via the handler, or a failure. */
  private finish(
    cycle: Cycle,
    { results, traces }: ProfileLoop,
    stopwatch: PluginStopwatch,
  ): { result: SchedulingResult | null; failure: SchedulingFailure | null } {
    const failed = (message: string) => ({
      result: null,
      failure: { reason: 'rejected-saturated', httpStatus: 429, message } as const,
    });
    if (![...results.values()].some((run) => run !== null)) {
      const reasons = traces.map((t) => `profile '${t.profile}': ${t.failure ?? 'failed'}`);
      return failed(reasons.length > 0 ? reasons.join('; ') : 'the profile handler ran no profile');
    }
    try {
      const result = stopwatch.measure('profile-handler', this.profileHandler, undefined, () =>
        this.profileHandler.processResults(cycle, results),
      );
      const primary = result.profileResults.get(result.primaryProfileName);
      if (!primary || primary.targets.length === 0) {
        return failed(`primary profile '${result.primaryProfileName}' has no target`);
      }
      return { result, failure: null };
    } catch (error) {
      if (error instanceof SchedulingError) return failed(error.message);
      throw error;
    }
  }
}
