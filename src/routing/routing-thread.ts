/**
 * Builds the RoutingService of one acceptor thread (the `routingModule` of AcceptorThreads), and
 * the same wiring for the main thread. Everything the threads must agree on arrives in
 * {@link RoutingThreadOptions}: the shared fleet table (a SharedArrayBuffer, shared not copied),
 * the scheduler config text, and the channel name that links their scheduler state.
 */
import { Registry } from 'prom-client';
import type { RoutingFactoryContext } from '../edge/acceptor-threads.ts';
import type { RoutingService } from '../edge/routing-service.ts';
import { routerClock } from '../fleet/router-clock.ts';
import { SharedFleetState } from '../fleet/shared-state.ts';
import { loadSchedulerConfig } from '../scheduler/config/loader.ts';
import { createRandom } from '../scheduler/prng.ts';
import { RoutingMetrics } from './routing-metrics.ts';
import { type FeatureSource, SchedulerRoutingService } from './scheduler-routing-service.ts';
import { ThreadSharedState } from './thread-shared-state.ts';

export interface RoutingThreadOptions {
  readonly fleetBuffer: SharedArrayBuffer;
  /** EndpointPickerConfig YAML; null = the default config. */
  readonly schedulerConfig: string | null;
  /** BroadcastChannel linking the threads' scheduler state. */
  readonly channel: string;
  /** Base seed; each thread adds its index so tie-breaks differ between threads. */
  readonly seed: number;
}

export interface RoutingWiring {
  readonly fleet: SharedFleetState;
  readonly features?: FeatureSource;
}

/** Wires a SchedulerRoutingService over an attached or owned fleet table. */
export function buildRoutingService(
  options: RoutingThreadOptions,
  wiring: RoutingWiring,
  threadIndex: number,
): RoutingService & { close(): void } {
  const state = new ThreadSharedState({ channel: options.channel });
  const config = loadSchedulerConfig(options.schedulerConfig, { state });
  const registry = new Registry();
  const service = new SchedulerRoutingService({
    fleet: wiring.fleet,
    config,
    random: createRandom(options.seed + threadIndex),
    clock: routerClock,
    observer: new RoutingMetrics(registry),
    ...(wiring.features ? { features: wiring.features } : {}),
  });
  return Object.assign(service, {
    metricsRegistry: registry,
    close: () => state.close(),
  });
}

/** The AcceptorThreads factory export. */
export async function createRoutingService(context: RoutingFactoryContext): Promise<RoutingService> {
  const options = context.options as RoutingThreadOptions;
  const fleet = SharedFleetState.attach(options.fleetBuffer);
  await fleet.ready();
  const service = buildRoutingService(options, { fleet }, context.threadIndex + 1);
  const close = service.close;
  return Object.assign(service, {
    close: () => {
      close();
      fleet.close();
    },
  });
}
