/** Builders for scheduler tests: endpoints, fleet views, requests and a bare cycle. */
import type { EndpointMetrics, EndpointSnapshot, FleetView } from '../../src/fleet/types.ts';
import { Cycle } from '../../src/scheduler/cycle.ts';
import type { PluginBuildContext, PluginDefinition } from '../../src/scheduler/plugin-definition.ts';
import { createRandom } from '../../src/scheduler/prng.ts';
import type { SchedulerStateFactory } from '../../src/scheduler/state.ts';
import { createInMemoryState } from '../../src/scheduler/state.ts';
import type { DispatchEvent, SchedulerPlugin, SchedulingRequest } from '../../src/scheduler/types.ts';

export const NOW = 1_000_000;

export interface EndpointOptions {
  labels?: Record<string, string>;
  healthy?: boolean;
  metrics?: Partial<EndpointMetrics> | null;
  inflightRequests?: number;
  inflightTokens?: number;
}

/** An endpoint `id` (used as host:port) with fresh default metrics unless overridden. */
export function endpoint(id: string, options: EndpointOptions = {}): EndpointSnapshot {
  const [host = id, port = '8000'] = id.split(':');
  const metrics: EndpointMetrics | null =
    options.metrics === null
      ? null
      : {
          waitingQueueSize: 0,
          runningRequestsSize: 0,
          kvCacheUsagePercent: 0,
          blockSize: 16,
          numGpuBlocks: 10_000,
          activeLoras: [],
          waitingLoras: [],
          maxActiveLoras: null,
          updatedAtMs: NOW,
          ...options.metrics,
        };
  return {
    info: { id, host, port: Number(port), labels: options.labels ?? {}, models: [] },
    healthy: options.healthy ?? true,
    metrics,
    inflight: { requests: options.inflightRequests ?? 0, tokens: options.inflightTokens ?? 0 },
    servedModels: [],
  };
}

export function fleet(endpoints: readonly EndpointSnapshot[], nowMs = NOW): FleetView {
  return { endpoints, nowMs };
}

let counter = 0;

export function request(overrides: Partial<SchedulingRequest> = {}): SchedulingRequest {
  counter += 1;
  const promptText = overrides.promptText ?? `prompt ${counter}`;
  return {
    requestId: `req-${counter}`,
    targetModel: 'model-a',
    promptText,
    promptTokenEstimate: Math.ceil(Buffer.byteLength(promptText) / 4),
    headers: {},
    ...overrides,
  };
}

/** A scheduling cycle for calling one plugin directly. */
export function cycleFor(req: SchedulingRequest = request(), view: FleetView = fleet([]), seed = 1): Cycle {
  return new Cycle(req, view, createRandom(seed));
}

/** `n` bytes of deterministic text unique to `tag` (ASCII, so bytes = chars). */
export function text(tag: string, n: number): string {
  let out = '';
  let i = 0;
  while (out.length < n) out += `${tag}-${i++};`;
  return out.slice(0, n);
}

/** Instantiates a plugin type directly from its definition, parsing `params` with its schema. */
export function buildPlugin<T extends SchedulerPlugin, P>(
  definition: PluginDefinition<P>,
  params: unknown = {},
  state: SchedulerStateFactory = createInMemoryState(),
  plugins: ReadonlyMap<string, SchedulerPlugin> = new Map(),
): T {
  const ctx: PluginBuildContext = {
    name: definition.type,
    state,
    lookup: (name) => plugins.get(name),
    pluginNames: () => [...plugins.keys()],
    warn: () => {},
  };
  return definition.create(definition.parameters.parse(params), ctx) as T;
}

/** A dispatch event for a plugin that scored in `cycle`, as if `target` was picked in `profile`. */
export function dispatchOf(
  cycle: Cycle,
  target: string,
  profile = 'default',
  nowMs = cycle.nowMs,
): DispatchEvent {
  return {
    request: cycle.request,
    nowMs,
    decision: {
      requestId: cycle.request.requestId,
      endpointId: target,
      fallbackEndpointIds: [],
      primaryProfile: profile,
      profileResults: { [profile]: { targets: [target] } },
      requestHeaders: {},
      responseHeaders: {},
      failure: null,
      trace: {} as never,
      state: cycle.toDecisionState(),
    },
  };
}
