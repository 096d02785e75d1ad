/**
 * The routing brain behind the edge: a FleetView from shared memory, admission, the pure
 * scheduler, and dispatch accounting (in-flight counters shared by every acceptor thread, and the
 * post-dispatch hooks of stateful plugins).
 */
import { HttpError } from '../http/openai-error.ts';
import type { EdgeRequest } from '../edge/edge-request.ts';
import type {
  DispatchLease,
  RoutingDecision,
  RoutingService,
  UpstreamEndpoint,
} from '../edge/routing-service.ts';
import type { SharedFleetState } from '../fleet/shared-state.ts';
import type { EndpointSnapshot, FleetView } from '../fleet/types.ts';
import type { LoadedSchedulerConfig } from '../scheduler/config/loader.ts';
import type { Random } from '../scheduler/prng.ts';
import type { Decision, PluginTiming, SchedulingRequest } from '../scheduler/types.ts';
import { OBJECTIVE_HEADER } from '../scheduler/admission/inference-objectives.ts';
import { type PromptFeatures, expectedTokens, toSchedulingRequest } from './scheduling-request.ts';
import { debugPluginState } from './debug-state.ts';
import {
  type ClaimOutcome,
  followClaim,
  type PlacementAgreement,
  type PlacementPlan,
} from './placement-agreement.ts';
import { type PlacementTurn, PlacementTurns, type PlacementTurnsOptions } from './placement-turns.ts';

/** Computes token-level features (precise prefix routing); absent = approximate routing only. */
export interface FeatureSource {
  features(req: EdgeRequest): Promise<PromptFeatures & { readonly note?: string }>;
}

/** Observations for metrics; every hook is optional. */
export interface RoutingObserver {
  decision?(durationMs: number, decision: Decision): void;
  pluginTiming?(timing: PluginTiming): void;
  shed?(model: string): void;
  /**
   * Another router's placement claim was followed; `agreed` = the second decision chose the claimed
   * pod by itself (otherwise the claim overrode its choice).
   */
  placementClaim?(agreed: boolean): void;
  /** What a placement claim came to (`error`: it failed, the first decision stood). */
  placementClaimOutcome?(outcome: ClaimOutcome['kind'] | 'error'): void;
  /**
   * A decision waited `waitedMs` while others awaited their placement claims; `served` = it got its
   * turn, else it reached a wait bound (placement-turns.ts) and decided without one.
   */
  placementTurnWait?(served: boolean, waitedMs: number): void;
}

/** In-flight load of other router replicas (Redis cluster state), added to this replica's own. */
export interface PeerLoad {
  withPeers(view: FleetView): FleetView;
  acquire(endpointId: string, tokens: number): void;
  release(endpointId: string, tokens: number): void;
}

export interface SchedulerRoutingServiceOptions {
  readonly fleet: SharedFleetState;
  readonly config: LoadedSchedulerConfig;
  readonly random: Random;
  /** Router clock in ms (same clock the fleet state uses for `updatedAtMs`). */
  readonly clock: () => number;
  readonly features?: FeatureSource;
  readonly observer?: RoutingObserver;
  readonly peerLoad?: PeerLoad;
  /** Settles decisions with other router replicas before dispatch (placement claims). */
  readonly placement?: PlacementAgreement;
}

interface Scheduled {
  readonly decision: Decision;
  /** Time the scheduler call took (ms). */
  readonly schedulerMs: number;
  readonly view: FleetView;
  readonly admission: unknown;
}

interface Prepared {
  readonly schedReq: SchedulingRequest;
  readonly featuresNote: string | undefined;
}

interface Pending {
  readonly schedReq: SchedulingRequest;
  readonly decision: Decision;
  /** Endpoints plugins were told about, so a retry is recorded once per new endpoint. */
  readonly recorded: Set<string>;
}

export class SchedulerRoutingService implements RoutingService {
  private readonly pending = new WeakMap<EdgeRequest, Pending>();
  /** Decisions wait here while another awaits its placement claim (placement-turns.ts). */
  private readonly turns: PlacementTurns | null;

  constructor(private readonly opts: SchedulerRoutingServiceOptions) {
    this.turns = opts.placement ? new PlacementTurns(turnBounds(opts.placement.claimTimeoutMs)) : null;
  }

  models(): readonly string[] {
    const names = new Set<string>();
    for (const e of this.opts.fleet.snapshot(this.opts.clock()).endpoints) {
      if (!e.healthy) continue;
      for (const m of e.servedModels) names.add(m);
    }
    return [...names].sort();
  }

  ready(): boolean {
    return this.opts.fleet.snapshot(this.opts.clock()).endpoints.some((e) => e.healthy);
  }

  async decide(req: EdgeRequest): Promise<RoutingDecision> {
    const prepared = await this.prepare(req);
    let scheduled = this.scheduleNow(req, prepared, true);
    const placement = this.opts.placement;
    let plan = placement?.plan(prepared.schedReq, scheduled.decision);
    let turn: PlacementTurn | undefined;
    try {
      // Only a decision that will claim waits for the claims in flight before it; a warm or short
      // one adds too little load for their dispatches to change it.
      if (plan && this.turns && placement?.answering) {
        const taken = this.turns.take();
        if (taken instanceof Promise) {
          turn = await this.awaitTurn(taken);
          // It was decided before the placements ahead of it were dispatched: decide again.
          const again = this.scheduleNow(req, prepared, true);
          scheduled = { ...again, schedulerMs: scheduled.schedulerMs + again.schedulerMs };
          plan = placement.plan(prepared.schedReq, scheduled.decision);
        } else {
          turn = taken;
        }
      }
      // Awaited here, so the turn lasts until the placement is settled.
      return await this.decideNow(req, prepared, scheduled, plan);
    } finally {
      turn?.end();
    }
  }

  private async awaitTurn(taken: Promise<PlacementTurn>): Promise<PlacementTurn> {
    const started = performance.now();
    const turn = await taken;
    try {
      this.opts.observer?.placementTurnWait?.(turn.granted, performance.now() - started);
    } catch {
      // A metrics hook must not cost the turn: the caller ends it.
    }
    return turn;
  }

  /** The placement's settlement and what follows from it; runs in the caller's turn. */
  private async decideNow(
    req: EdgeRequest,
    { schedReq }: Prepared,
    scheduled: Scheduled,
    plan: PlacementPlan | undefined,
  ): Promise<RoutingDecision> {
    let { decision, view, schedulerMs } = scheduled;
    const settled = plan ? this.settle(req, plan) : null;
    const claimed = settled instanceof Promise ? await settled : settled;
    if (claimed !== null) {
      // Another replica or thread placed this prefix a moment ago: decide again, seeing its
      // placement, on a fresh view (the claim may have taken a round trip).
      view = this.modelView(req.model);
      const again = this.run(schedReq, view);
      schedulerMs += again.ms;
      if (again.decision.endpointId !== null && !again.decision.failure) {
        this.opts.observer?.placementClaim?.(again.decision.endpointId === claimed);
        decision = followClaim(again.decision, claimed);
      }
    }
    // One decision per request in the metrics, whatever it took to reach it.
    this.opts.observer?.decision?.(schedulerMs, decision);
    if (decision.failure || decision.endpointId === null) {
      const failure = decision.failure;
      throw new HttpError(failure?.httpStatus ?? 503, failure?.message ?? 'no endpoint available');
    }
    this.pending.set(req, { schedReq, decision, recorded: new Set() });
    const byId = new Map(view.endpoints.map((e) => [e.info.id, e]));
    const endpoints: UpstreamEndpoint[] = [];
    for (const id of retryOrder(decision)) {
      const e = byId.get(id);
      if (e) endpoints.push({ id, host: e.info.host, port: e.info.port });
    }
    return { endpoints, requestHeaders: decision.requestHeaders, trace: decision.trace };
  }

  dispatched(req: EdgeRequest, _decision: RoutingDecision, endpointId: string): DispatchLease {
    const pending = this.pending.get(req);
    const ref = this.opts.fleet.refOf(endpointId);
    const tokens = pending ? expectedTokens(req, pending.schedReq.promptTokenEstimate) : 0;
    const acquired = ref ? this.opts.fleet.acquireInflight(ref, tokens) : false;
    this.opts.peerLoad?.acquire(endpointId, tokens);
    if (pending && !pending.recorded.has(endpointId)) {
      // A retry lands the prompt on another endpoint: plugins must learn that it now holds the prefix.
      pending.recorded.add(endpointId);
      const decision =
        endpointId === pending.decision.endpointId ? pending.decision : { ...pending.decision, endpointId };
      this.opts.config.scheduler.recordDispatch(pending.schedReq, decision, this.opts.clock());
    }
    let released = false;
    return {
      firstToken: () => {
        if (released || !pending) return;
        this.opts.config.scheduler.recordFirstToken({
          requestId: pending.schedReq.requestId,
          endpointId,
          nowMs: this.opts.clock(),
        });
      },
      release: (outcome) => {
        if (released) return;
        released = true;
        if (ref && acquired) this.opts.fleet.releaseInflight(ref, tokens);
        this.opts.peerLoad?.release(endpointId, tokens);
        if (pending) {
          this.opts.config.scheduler.recordResponseComplete({
            request: pending.schedReq,
            decision: pending.decision,
            endpointId,
            nowMs: this.opts.clock(),
            outcome: outcome.ok ? 'success' : 'error',
            ...(outcome.ttftMs !== undefined ? { ttftMs: outcome.ttftMs } : {}),
            ...(outcome.promptTokens !== undefined ? { promptTokens: outcome.promptTokens } : {}),
            ...(outcome.cachedTokens !== undefined ? { cachedTokens: outcome.cachedTokens } : {}),
            ...(outcome.completionTokens !== undefined ? { completionTokens: outcome.completionTokens } : {}),
          });
        }
      },
    };
  }

  async explain(req: EdgeRequest): Promise<unknown> {
    const prepared = await this.prepare(req);
    const { schedReq, featuresNote } = prepared;
    const { decision, schedulerMs, admission } = this.scheduleNow(req, prepared, false);
    this.opts.observer?.decision?.(schedulerMs, decision);
    return {
      requestId: req.requestId,
      model: req.model,
      promptTokenEstimate: schedReq.promptTokenEstimate,
      prefixPath: schedReq.blockKeys ? 'precise' : 'approximate',
      ...(featuresNote ? { prefixPathNote: featuresNote } : {}),
      blockKeys: schedReq.blockKeys?.length ?? 0,
      admission,
      endpointId: decision.endpointId,
      fallbackEndpointIds: decision.fallbackEndpointIds,
      trace: decision.trace,
      pluginState: debugPluginState(decision.state.pluginState),
    };
  }

  fleetDebug(): unknown {
    const view = this.opts.fleet.snapshot(this.opts.clock());
    return {
      nowMs: view.nowMs,
      endpoints: view.endpoints.map((e) => ({
        id: e.info.id,
        healthy: e.healthy,
        labels: e.info.labels,
        servedModels: e.servedModels,
        kvEvents: e.info.kvEventsEndpoint ?? null,
        metrics: e.metrics,
        metricsAgeMs: e.metrics ? view.nowMs - e.metrics.updatedAtMs : null,
        inflight: e.inflight,
      })),
      plugins: this.pluginsDebug(
        view.nowMs,
        view.endpoints.map((e) => e.info.id),
      ),
    };
  }

  /** Each stateful plugin's view of the endpoints, by plugin name. */
  private pluginsDebug(nowMs: number, endpointIds: readonly string[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const plugin of this.opts.config.scheduler.plugins) {
      if (plugin.debugState) out[plugin.name] = plugin.debugState(nowMs, endpointIds);
    }
    return out;
  }

  /** The request as the scheduler sees it (tokenization and block keys run here, off-thread). */
  private async prepare(req: EdgeRequest): Promise<Prepared> {
    const priority = this.priorityOf(req);
    const features = this.opts.features ? await this.opts.features.features(req) : {};
    return {
      schedReq: toSchedulingRequest(req, priority, features),
      featuresNote: 'note' in features ? features.note : undefined,
    };
  }

  private scheduleNow(req: EdgeRequest, { schedReq }: Prepared, enforceAdmission: boolean): Scheduled {
    const view = this.modelView(req.model);
    const admission = this.opts.config.admission.admit(schedReq, view);
    if (!admission.admitted && enforceAdmission) {
      this.opts.observer?.shed?.(req.model);
      throw new HttpError(admission.httpStatus, admission.message);
    }
    const { decision, ms } = this.run(schedReq, view);
    return { decision, schedulerMs: ms, view, admission };
  }

  /** One scheduler call, timed (its plugins observed). */
  private run(schedReq: SchedulingRequest, view: FleetView): { decision: Decision; ms: number } {
    const started = performance.now();
    const observer = this.opts.observer;
    const decision = this.opts.config.scheduler.schedule(schedReq, view, {
      random: this.opts.random,
      ...(observer?.pluginTiming
        ? { timer: () => performance.now(), onPluginTiming: (t: PluginTiming) => observer.pluginTiming!(t) }
        : {}),
    });
    return { decision, ms: performance.now() - started };
  }

  /**
   * The endpoint another router already placed this prompt on (the scheduler should decide again),
   * or null; a promise only when the placement takes a round trip. Claims are an optimisation: any
   * failure keeps the first decision.
   */
  private settle(req: EdgeRequest, plan: PlacementPlan): string | null | Promise<string | null> {
    const failed = (): null => {
      this.opts.observer?.placementClaimOutcome?.('error');
      return null;
    };
    try {
      const settled = this.opts.placement!.settle(plan, req.model);
      return settled instanceof Promise ? settled.catch(failed) : settled;
    } catch {
      return failed();
    }
  }

  /** Objective → priority; the edge extracts the objective header (its name is edge config). */
  private priorityOf(req: EdgeRequest): number {
    if (req.objective === undefined) return this.opts.config.objectives.priorityFor(req.headers);
    return this.opts.config.objectives.priorityFor({ [OBJECTIVE_HEADER]: req.objective });
  }

  /** The fleet restricted to endpoints serving `model`; 404 when none does. */
  private modelView(model: string): FleetView {
    const own = this.opts.fleet.snapshot(this.opts.clock());
    const view = this.opts.peerLoad ? this.opts.peerLoad.withPeers(own) : own;
    const serving: EndpointSnapshot[] = [];
    let known = false;
    for (const e of view.endpoints) {
      // An endpoint whose models are not known yet is assumed to serve everything (vLLM pools are one model).
      if (e.servedModels.length === 0 || e.servedModels.includes(model)) serving.push(e);
      if (e.servedModels.length > 0) known = true;
    }
    if (serving.length === 0 && known) {
      throw new HttpError(404, `The model \`${model}\` does not exist.`, 'model');
    }
    return serving.length === view.endpoints.length ? view : { nowMs: view.nowMs, endpoints: serving };
  }
}

/**
 * Endpoints to try, best first: the picker's choices, then every other scored candidate of the
 * primary profile by total score, so a failure before the first byte can be retried even when
 * the picker names one endpoint (llm-d's default `maxNumOfEndpoints: 1`).
 */
function retryOrder(decision: Decision): string[] {
  const order = [decision.endpointId!, ...decision.fallbackEndpointIds];
  const primary = decision.trace.profiles.find((p) => p.profile === decision.primaryProfile);
  for (const c of primary?.candidates ?? []) {
    if (c.total !== null && !order.includes(c.endpointId)) order.push(c.endpointId);
  }
  return order;
}

/**
 * Bounds of the wait for a turn, from one claim's bound: a holder settles in at most two round
 * trips (a probe, then the claim), so the queue may stand still that long; no decision waits more
 * than ten round trips' bounds in all (200 ms by default), and at most 256 wait at once.
 */
function turnBounds(claimTimeoutMs: number): PlacementTurnsOptions {
  return { stallMs: 2 * claimTimeoutMs + 5, maxWaitMs: 10 * claimTimeoutMs, maxQueue: 256 };
}
