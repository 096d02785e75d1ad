/**
 * Builds the RoutingService of one acceptor thread (the `routingModule` of AcceptorThreads), and
 * the same wiring for the main thread. Everything the threads must agree on arrives in
 * {@link RoutingThreadOptions}: the shared fleet table and block index (SharedArrayBuffers, shared
 * not copied), the scheduler config text, and the channel names that link their state.
 */
import { BroadcastChannel, type MessagePort } from 'node:worker_threads';
import { Registry } from 'prom-client';
import type { RoutingFactoryContext } from '../edge/acceptor-threads.ts';
import type { RoutingService } from '../edge/routing-service.ts';
import { routerClock } from '../fleet/router-clock.ts';
import { SharedFleetState } from '../fleet/shared-state.ts';
import type { MemoryBlockIndex } from '../index-store/memory-index.ts';
import { MemoryBlockIndexReader } from '../index-store/memory-index-reader.ts';
import type { InferenceObjective } from '../scheduler/admission/inference-objectives.ts';
import { loadSchedulerConfig, type LoadedSchedulerConfig } from '../scheduler/config/loader.ts';
import { createRandom } from '../scheduler/prng.ts';
import type { SchedulerStateFactory } from '../scheduler/state.ts';
import { TokenizationPool } from '../workers/tokenization-pool.ts';
import { PRECISE_PREFIX_CACHE_PRODUCER_TYPE } from '../scheduler/producers/precise-prefix-cache-producer.ts';
import { BlockIndexView } from './block-index-view.ts';
import { ClaimedPlacement, type ClaimedPlacementOptions, type ClaimStore } from './placement-agreement.ts';
import { claimSources } from './claim-sources.ts';
import { PLACEMENT_CLAIM_DEFAULTS } from './placement-claim.ts';
import { ThreadClaimTable } from './thread-claim-table.ts';
import { RoutingMetrics } from './routing-metrics.ts';
import { type PeerLoad, SchedulerRoutingService } from './scheduler-routing-service.ts';
import { ThreadSharedState } from './thread-shared-state.ts';
import { TokenFeatureSource } from './token-features.ts';

/** What precise prefix routing needs in every thread. */
export interface PreciseRoutingOptions {
  readonly indexBuffers: MemoryBlockIndex['buffers'];
  /** BroadcastChannel to the index owner for speculative inserts. */
  readonly speculativeChannel: string;
  /** Served model → tokenizer (built-in name or directory). */
  readonly tokenizers: Readonly<Record<string, string>>;
  readonly blockSize: number;
  /** Tokenization worker threads per acceptor thread. */
  readonly tokenizerThreads: number;
}

export interface RoutingThreadOptions {
  readonly fleetBuffer: SharedArrayBuffer;
  /** EndpointPickerConfig YAML; null = the default config. */
  readonly schedulerConfig: string | null;
  /** BroadcastChannel linking the threads' scheduler state. */
  readonly channel: string;
  /** Base seed; each thread adds its index so tie-breaks differ between threads. */
  readonly seed: number;
  readonly precise?: PreciseRoutingOptions;
  /** Placement claims between acceptor threads (ThreadClaimTable's buffer); absent = none. */
  readonly claimTable?: SharedArrayBuffer;
  /** InferenceObjectives: objective name → priority (negative = sheddable when saturated). */
  readonly objectives?: readonly InferenceObjective[];
}

export type BuiltRoutingService = RoutingService & { close(): Promise<void> };

/** Names of the config's precise prefix producers (those that read the KV-event index). */
export function preciseProducerNames(config: LoadedSchedulerConfig): string[] {
  return [...config.plugins.values()]
    .filter((p) => p.type === PRECISE_PREFIX_CACHE_PRODUCER_TYPE)
    .map((p) => p.name);
}

/** True when the config routes on the KV-event index (llm-d's precise prefix producer). */
export function usesPreciseIndex(config: LoadedSchedulerConfig): boolean {
  return preciseProducerNames(config).length > 0;
}

/** Main-thread extras when router replicas share state through Redis. */
export interface ClusterWiring {
  /** Wraps this thread's scheduler state so prefix history and session pins are shared. */
  schedulerState(base: SchedulerStateFactory): SchedulerStateFactory;
  readonly peerLoad: PeerLoad;
  /** Placement claims between replicas, when enabled. */
  readonly claims?: ClusterClaims;
}

/** Where placement claims are made, and their parameters (claim-sources.ts adds what is claimed). */
export interface ClusterClaims {
  readonly claims: ClaimStore;
  /** Makes a pod hold block keys in this router's index view (precise claims); absent = no index. */
  readonly holdBlocks?: (endpointId: string, keys: readonly bigint[], ttlMs: number) => void;
  readonly minNewTokens: number;
  readonly checkpointTokens: number;
  readonly ttlMs: number;
  /** Longest one claim round trip may take (ms). */
  readonly claimTimeoutMs?: number;
}

/** Wires a SchedulerRoutingService over an attached or owned fleet table. */
export function buildRoutingService(
  options: RoutingThreadOptions,
  fleet: SharedFleetState,
  threadIndex: number,
  cluster?: ClusterWiring,
): BuiltRoutingService {
  const closers: Array<() => void | Promise<void>> = [];
  let view: BlockIndexView | undefined;
  if (options.precise) {
    const channel = new BroadcastChannel(options.precise.speculativeChannel);
    (channel as unknown as { unref?: () => void }).unref?.();
    closers.push(() => channel.close());
    // The reader only calls postMessage on its port; a broadcast channel reaches the owner from any thread.
    const reader = MemoryBlockIndexReader.attach(options.precise.indexBuffers, {
      writePort: channel as unknown as MessagePort,
    });
    view = new BlockIndexView(reader);
  }
  const state = new ThreadSharedState({
    channel: options.channel,
    ...(view ? { blockIndex: view, speculativeBlockIndex: view } : {}),
  });
  closers.push(() => state.close());
  const config = loadSchedulerConfig(options.schedulerConfig, {
    state: cluster ? cluster.schedulerState(state) : state,
    ...(options.objectives ? { objectives: options.objectives } : {}),
  });
  let features: TokenFeatureSource | undefined;
  if (options.precise && usesPreciseIndex(config) && Object.keys(options.precise.tokenizers).length > 0) {
    const pool = new TokenizationPool({
      threads: options.precise.tokenizerThreads,
      preloadModels: [...new Set(Object.values(options.precise.tokenizers))],
    });
    closers.push(() => pool.close());
    features = new TokenFeatureSource({
      pool,
      tokenizers: options.precise.tokenizers,
      blockSize: options.precise.blockSize,
    });
  }
  const registry = new Registry();
  const metrics = new RoutingMetrics(registry);
  const placement = placementFor(config, options.claimTable, view, cluster, (outcome) =>
    metrics.placementClaimOutcome(outcome),
  );
  const service = new SchedulerRoutingService({
    fleet,
    config,
    random: createRandom(options.seed + threadIndex),
    clock: routerClock,
    observer: metrics,
    ...(features ? { features } : {}),
    ...(cluster ? { peerLoad: cluster.peerLoad } : {}),
    ...(placement ? { placement } : {}),
  });
  return Object.assign(service, {
    metricsRegistry: registry,
    close: async () => {
      for (const close of closers.reverse()) await close();
    },
  });
}

/**
 * Placement claims: through Redis between replicas, else through shared memory between this
 * router's acceptor threads; none without a prefix producer to claim with.
 */
function placementFor(
  config: LoadedSchedulerConfig,
  claimTable: SharedArrayBuffer | undefined,
  view: BlockIndexView | undefined,
  cluster: ClusterWiring | undefined,
  onOutcome: ClaimedPlacementOptions['onOutcome'],
): ClaimedPlacement | undefined {
  const claims = cluster?.claims ?? (claimTable ? threadClaims(claimTable, view) : undefined);
  if (!claims) return undefined;
  const { holdBlocks, ...rest } = claims;
  const sources = claimSources(config, holdBlocks);
  if (sources.length === 0) return undefined;
  return new ClaimedPlacement({ ...rest, sources, onOutcome });
}

function threadClaims(table: SharedArrayBuffer, view: BlockIndexView | undefined): ClusterClaims {
  const { ttlMs, minNewTokens, checkpointTokens } = PLACEMENT_CLAIM_DEFAULTS;
  return {
    claims: ThreadClaimTable.attach(table, ttlMs),
    ...(view ? { holdBlocks: (endpointId, keys, holdMs) => view.hold(endpointId, keys, holdMs) } : {}),
    minNewTokens,
    checkpointTokens,
    ttlMs,
  };
}

/** The AcceptorThreads factory export. */
export async function createRoutingService(context: RoutingFactoryContext): Promise<RoutingService> {
  const options = context.options as RoutingThreadOptions;
  const fleet = SharedFleetState.attach(options.fleetBuffer);
  await fleet.ready();
  const service = buildRoutingService(options, fleet, context.threadIndex + 1);
  const close = service.close;
  return Object.assign(service, {
    close: async () => {
      await close();
      fleet.close();
    },
  });
}
