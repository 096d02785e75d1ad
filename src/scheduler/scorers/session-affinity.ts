/**
 * Session affinity shared by `session-affinity-scorer` (soft) and `session-affinity-filter`
 * (hard); llm-d-router.md §2.4–2.5. Two strategies:
 *
 * - `encoded_endpoint_header` (default, stateless): the request header (default `x-session-token`)
 *   carries base64 of the endpoint that served the previous turn; every decision writes the
 *   chosen endpoint back in the same response header. (llm-d encodes the pod's `namespace/name`;
 *   kvedge encodes the endpoint id `host:port`.)
 * - `session_id` (stateful): a session id read from `sessionIdConfig.sources` (request headers or
 *   request attributes, first non-empty wins; then the edge's `request.sessionId`) is bound to the
 *   endpoint at dispatch, in a TTL-evicted store.
 *
 * `profileName` selects which profile's pick is pinned (default: the primary profile).
 */
import { z } from 'zod';
import type { PluginBuildContext } from '../plugin-definition.ts';
import type {
  DecisionHeaders,
  DispatchEvent,
  ResponseCompleteEvent,
  SchedulingCycle,
  SchedulingResult,
} from '../types.ts';
import type { SessionAffinityStore } from './session-affinity-store.ts';

const source = z.union([
  z.strictObject({ header: z.string().min(1) }),
  z.strictObject({ attribute: z.string().min(1) }),
]);

export const sessionAffinityParameters = z.strictObject({
  strategy: z.enum(['encoded_endpoint_header', 'session_id']).default('encoded_endpoint_header'),
  profileName: z.string().optional(),
  encodedEndpointHeaderConfig: z
    .strictObject({ header: z.string().min(1).default('x-session-token') })
    .prefault({}),
  sessionIdConfig: z
    .strictObject({
      sources: z
        .array(source)
        .min(1)
        .default([{ header: 'x-session-id' }]),
      evictionTtlSeconds: z.number().positive().default(300),
      evictionSweepSeconds: z.number().positive().default(10),
    })
    .prefault({}),
});

export type SessionAffinityParameters = z.output<typeof sessionAffinityParameters>;

/** Plugin state carrying the resolved session id to the dispatch hook. */
interface SessionState {
  readonly sessionId: string;
}

export class SessionAffinity {
  constructor(
    private readonly pluginName: string,
    private readonly params: SessionAffinityParameters,
    private readonly store: SessionAffinityStore | undefined,
  ) {}

  /** Endpoint the session is pinned to, if any (records the session id for the dispatch hook). */
  pinnedEndpoint(cycle: SchedulingCycle): string | undefined {
    if (this.params.strategy === 'encoded_endpoint_header') {
      const token = cycle.request.headers[this.headerName];
      if (!token) return undefined;
      const decoded = Buffer.from(token, 'base64').toString('utf8');
      return decoded.length > 0 ? decoded : undefined;
    }
    const sessionId = this.sessionId(cycle);
    if (sessionId === undefined) return undefined;
    cycle.setPluginState(this.pluginName, { sessionId } satisfies SessionState);
    return this.store?.get(sessionId, cycle.nowMs);
  }

  onDispatch(event: DispatchEvent): void {
    if (this.params.strategy !== 'session_id' || !this.store) return;
    const state = event.decision.state.pluginState.get(this.pluginName) as SessionState | undefined;
    const target = this.targetOf(event.decision.primaryProfile, event.decision.profileResults);
    if (state && target) this.store.bind(state.sessionId, target, event.nowMs);
  }

  onResponseComplete(event: ResponseCompleteEvent): void {
    if (this.params.strategy !== 'session_id' || !this.store) return;
    const state = event.decision.state.pluginState.get(this.pluginName) as SessionState | undefined;
    // Refresh the TTL from the end of the turn, so long generations do not expire their session.
    if (state && this.store.get(state.sessionId, event.nowMs) === event.endpointId) {
      this.store.bind(state.sessionId, event.endpointId, event.nowMs);
    }
  }

  contributeHeaders(_cycle: SchedulingCycle, result: SchedulingResult, headers: DecisionHeaders): void {
    if (this.params.strategy !== 'encoded_endpoint_header') return;
    const profile = this.params.profileName ?? result.primaryProfileName;
    const target = result.profileResults.get(profile)?.targets[0];
    if (target) headers.response[this.headerName] = Buffer.from(target, 'utf8').toString('base64');
  }

  retainEndpoints(activeIds: ReadonlySet<string>): void {
    this.store?.retainEndpoints(activeIds);
  }

  private get headerName(): string {
    return this.params.encodedEndpointHeaderConfig.header.toLowerCase();
  }

  private sessionId(cycle: SchedulingCycle): string | undefined {
    for (const src of this.params.sessionIdConfig.sources) {
      const value =
        'header' in src
          ? cycle.request.headers[src.header.toLowerCase()]
          : cycle.attributes.get(src.attribute);
      if (typeof value === 'string' && value.length > 0) return value;
    }
    return cycle.request.sessionId || undefined;
  }

  private targetOf(
    primary: string | null,
    results: Readonly<Record<string, { readonly targets: readonly string[] } | null>>,
  ): string | undefined {
    const profile = this.params.profileName ?? primary;
    return profile ? results[profile]?.targets[0] : undefined;
  }
}

/** Store options of a `session_id` instance. */
export function sessionStoreOptions(params: SessionAffinityParameters): {
  ttlMs: number;
  sweepIntervalMs: number;
} {
  return {
    ttlMs: params.sessionIdConfig.evictionTtlSeconds * 1000,
    sweepIntervalMs: params.sessionIdConfig.evictionSweepSeconds * 1000,
  };
}

/** The SessionAffinity of one plugin instance, with its store when the strategy needs one. */
export function createSessionAffinity(
  params: SessionAffinityParameters,
  ctx: PluginBuildContext,
): SessionAffinity {
  const store =
    params.strategy === 'session_id'
      ? ctx.state.sessionAffinity(ctx.name, sessionStoreOptions(params))
      : undefined;
  return new SessionAffinity(ctx.name, params, store);
}

/**
 * What the scorer and the filter share: their lifecycle hooks all go to the SessionAffinity,
 * which pins at dispatch and writes the session header.
 */
export abstract class SessionAffinityHooks {
  constructor(
    readonly name: string,
    protected readonly affinity: SessionAffinity,
  ) {}

  onDispatch(event: DispatchEvent): void {
    this.affinity.onDispatch(event);
  }

  onResponseComplete(event: ResponseCompleteEvent): void {
    this.affinity.onResponseComplete(event);
  }

  contributeHeaders(cycle: SchedulingCycle, result: SchedulingResult, headers: DecisionHeaders): void {
    this.affinity.contributeHeaders(cycle, result, headers);
  }

  retainEndpoints(activeIds: ReadonlySet<string>): void {
    this.affinity.retainEndpoints(activeIds);
  }
}
