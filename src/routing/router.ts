/**
 * The kvedge router process: discovery and metrics scraping (owner of the shared fleet table),
 * one or more acceptor threads running the edge with the scheduler, and the admin listener.
 * `kvedge serve`, `npm start` and the end-to-end tests all start a router through this class.
 */
import { randomUUID } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { AcceptorThreads } from '../edge/acceptor-threads.ts';
import { AdminServer } from '../edge/admin-server.ts';
import type { EdgeConfigInput } from '../edge/edge-config.ts';
import { EdgeMetrics } from '../edge/edge-metrics.ts';
import { EdgeServer } from '../edge/server.ts';
import type { Discovery } from '../fleet/discovery/discovery.ts';
import { EndpointRegistry } from '../fleet/endpoint-registry.ts';
import { routerClock } from '../fleet/router-clock.ts';
import { type ClusterState, createClusterState } from '../cluster/cluster-state.ts';
import type { ClusterStateConfigInput } from '../cluster/config.ts';
import { MemoryBlockIndex } from '../index-store/memory-index.ts';
import type { InferenceObjective } from '../scheduler/admission/inference-objectives.ts';
import { loadSchedulerConfig } from '../scheduler/config/loader.ts';
import { registerClusterMetrics } from './cluster-metrics.ts';
import { registerFleetMetrics } from './fleet-metrics.ts';
import { PreciseIndexOwner } from './precise-index-owner.ts';
import {
  type BuiltRoutingService,
  type ClusterWiring,
  type RoutingThreadOptions,
  buildRoutingService,
  usesPreciseIndex,
} from './routing-thread.ts';
import { resolveIndexBlockSize } from './index-block-size.ts';
import { PLACEMENT_CLAIM_DEFAULTS } from './placement-claim.ts';
import { ThreadClaimTable } from './thread-claim-table.ts';

export interface RouterOptions {
  readonly discovery: Discovery;
  /** EndpointPickerConfig YAML text; null = the default config. */
  readonly schedulerConfig: string | null;
  /** Edge settings (host, port, limits, timeouts, API keys); see edge-config.ts. */
  readonly edge: EdgeConfigInput;
  /** Admin listener port (/metrics, /debug/*); null disables it. */
  readonly adminPort: number | null;
  readonly adminHost?: string;
  /** Acceptor threads; 1 serves from the main thread. */
  readonly threads: number;
  readonly seed?: number;
  /** Metrics scrape interval per endpoint (ms). Default 50. */
  readonly scrapeIntervalMs?: number;
  readonly logger?: Logger;
  /**
   * Precise prefix routing: served model → tokenizer (built-in `llama3_1`/`qwen3` or a directory
   * with tokenizer.json). Used when the scheduler config has a precise-prefix-cache-producer.
   */
  readonly tokenizers?: Readonly<Record<string, string>>;
  /**
   * Block size of the KV-event index's request keys. Default: the precise producer's
   * `blockSizeTokens`, else 16 (vLLM's default). Must equal `blockSizeTokens` when both are set.
   */
  readonly indexBlockSize?: number;
  /** Request keys the block index holds (bounded memory, ~72 bytes each). Default 2^21. */
  readonly indexCapacityKeys?: number;
  /** Tokenization worker threads per acceptor thread. Default 1. */
  readonly tokenizerThreads?: number;
  /** InferenceObjectives (llm-d): requests whose objective has a negative priority are shed when saturated. */
  readonly objectives?: readonly InferenceObjective[];
  /**
   * Redis cluster state shared by router replicas (src/cluster/). With it the router serves from
   * the main thread (threads = 1): the Redis-backed stores live there.
   */
  readonly cluster?: ClusterStateConfigInput;
  /**
   * Placement claims between acceptor threads, so siblings of a new prompt accepted by two threads
   * at once land together (src/routing/thread-claim-table.ts). Default true. Between replicas they
   * are `cluster.placementClaims`.
   */
  readonly placementClaims?: boolean;
}

type Serving = { kind: 'main'; server: EdgeServer } | { kind: 'threads'; threads: AcceptorThreads };

export class Router {
  private constructor(
    private readonly registry: EndpointRegistry,
    private readonly serving: Serving,
    private readonly mainRouting: BuiltRoutingService,
    private readonly admin: AdminServer | null,
    private readonly precise: PreciseIndexOwner | null,
    private readonly cluster: ClusterState | null,
    private readonly logger: Logger,
  ) {}

  static async start(options: RouterOptions): Promise<Router> {
    const logger = options.logger ?? pino({ name: 'kvedge', level: 'info' });
    // Fail fast on a bad scheduler config, before any thread or socket exists.
    const loadedConfig = loadSchedulerConfig(options.schedulerConfig);
    const precise = usesPreciseIndex(loadedConfig);
    const blockSize = resolveIndexBlockSize(loadedConfig, options.indexBlockSize);
    const registry = new EndpointRegistry({
      discovery: options.discovery,
      scraper: { intervalMs: options.scrapeIntervalMs ?? 50 },
    });
    registry.on('problem', (err) => logger.warn({ err: err.message }, 'fleet problem'));
    registry.on('health', (info, healthy) => logger.info({ endpoint: info.id, healthy }, 'endpoint health'));
    registry.on('added', (info) => logger.info({ endpoint: info.id }, 'endpoint added'));
    registry.on('removed', (info) => logger.info({ endpoint: info.id }, 'endpoint removed'));
    // Undo whatever started if a later step fails (a taken port, a thread that cannot boot).
    const undo: Array<() => unknown> = [];
    await registry.start();
    undo.push(() => registry.close());
    try {
      const speculativeChannel = `kvedge-speculative-${randomUUID()}`;
      const indexOptions = { blockSize, capacityKeys: options.indexCapacityKeys ?? 2 ** 21 };
      const mirror = precise ? MemoryBlockIndex.create(indexOptions) : undefined;
      let cluster: ClusterState | null = null;
      if (options.cluster) {
        cluster = await createClusterState(
          options.cluster,
          logger,
          mirror ? { mirror } : { mirrorOptions: indexOptions },
        );
        const state = cluster;
        undo.push(() => state.close());
        state.on('degraded', () => logger.warn('cluster state degraded: routing on local knowledge'));
        state.on('recovered', () => logger.info('cluster state recovered'));
      }
      const indexOwner = precise
        ? new PreciseIndexOwner({
            registry,
            index: indexOptions,
            ...(mirror ? { mirror } : {}),
            ...(cluster ? { cluster: { index: cluster.index, ingestor: cluster.ingestor } } : {}),
            speculativeChannel,
            logger,
          })
        : null;
      if (indexOwner) undo.push(() => indexOwner.close());
      const threadOptions: RoutingThreadOptions = {
        fleetBuffer: registry.shared.buffer,
        schedulerConfig: options.schedulerConfig,
        channel: `kvedge-routing-${randomUUID()}`,
        seed: options.seed ?? Date.now() % 2 ** 31,
        ...(options.objectives ? { objectives: options.objectives } : {}),
        ...(indexOwner
          ? {
              precise: {
                indexBuffers: indexOwner.buffers,
                speculativeChannel,
                tokenizers: options.tokenizers ?? {},
                blockSize,
                tokenizerThreads: options.tokenizerThreads ?? 1,
              },
            }
          : {}),
        ...(options.threads > 1 && !cluster && options.placementClaims !== false
          ? { claimTable: ThreadClaimTable.create(PLACEMENT_CLAIM_DEFAULTS.ttlMs).buffer }
          : {}),
      };
      const clusterState = cluster;
      const mainRouting = buildRoutingService(
        threadOptions,
        registry.shared,
        0,
        clusterState ? clusterWiring(clusterState) : undefined,
      );
      undo.push(() => mainRouting.close());
      const mainRegistry = new Registry();
      registerFleetMetrics(mainRegistry, registry.shared, routerClock);
      if (cluster) registerClusterMetrics(mainRegistry, cluster, registry.shared, routerClock);

      let serving: Serving;
      let threadMetrics: { metrics(): Promise<string> };
      if (options.threads > 1 && cluster) {
        logger.warn('Redis cluster state is configured: serving from the main thread (threads = 1)');
      }
      if (options.threads <= 1 || cluster) {
        const server = await EdgeServer.start({
          config: options.edge,
          routing: mainRouting,
          logger,
          metrics: new EdgeMetrics(mainRouting.metricsRegistry),
        });
        serving = { kind: 'main', server };
        undo.push(() => server.shutdown(0));
        threadMetrics = mainRouting.metricsRegistry!;
      } else {
        const threads = await AcceptorThreads.start({
          threads: options.threads,
          config: options.edge,
          routingModule: new URL(
            `./routing-thread${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
            import.meta.url,
          ).href,
          routingOptions: threadOptions,
          logLevel: logger.level,
        });
        serving = { kind: 'threads', threads };
        undo.push(() => threads.stop(0));
        threadMetrics = threads.metricsSource();
      }

      let admin: AdminServer | null = null;
      if (options.adminPort !== null) {
        admin = await AdminServer.start({
          host: options.adminHost ?? '0.0.0.0',
          port: options.adminPort,
          routing: mainRouting,
          metrics: {
            contentType: mainRegistry.contentType,
            metrics: async () => `${await threadMetrics.metrics()}\n${await mainRegistry.metrics()}`,
          },
        });
      }
      return new Router(registry, serving, mainRouting, admin, indexOwner, cluster, logger);
    } catch (err) {
      for (const step of undo.reverse()) {
        try {
          await step();
        } catch {
          // Best effort: the original error is what the caller needs.
        }
      }
      throw err;
    }
  }

  /** The port clients connect to. */
  get port(): number {
    return this.serving.kind === 'main' ? this.serving.server.port : this.serving.threads.port;
  }

  get adminPort(): number | null {
    return this.admin?.port ?? null;
  }

  /** Stop accepting, let in-flight requests finish up to `drainTimeoutMs`, then close everything. */
  async stop(drainTimeoutMs?: number): Promise<void> {
    if (this.serving.kind === 'main') await this.serving.server.shutdown(drainTimeoutMs);
    else await this.serving.threads.stop(drainTimeoutMs);
    await this.admin?.close();
    await this.mainRouting.close();
    // The cluster's change feed writes into the index mirror: stop it before the mirror closes.
    await this.cluster?.close();
    await this.precise?.close();
    await this.registry.close();
    this.logger.info('router stopped');
  }
}

/** What the main thread's routing needs from the Redis cluster state. */
function clusterWiring(cluster: ClusterState): ClusterWiring {
  const claims = cluster.placementClaims;
  const { minNewTokens, checkpointTokens, ttlMs, timeoutMs } = cluster.config.placementClaims;
  return {
    schedulerState: (base) => cluster.schedulerState(base),
    peerLoad: cluster.inflight,
    ...(claims
      ? {
          claims: {
            claims,
            // Local only: the claimant's own speculative insert reaches every replica through Redis.
            holdBlocks: (endpointId, keys, holdMs) =>
              cluster.index.mirror.recordSpeculative(endpointId, keys, holdMs),
            minNewTokens,
            checkpointTokens,
            ttlMs,
            claimTimeoutMs: timeoutMs,
          },
        }
      : {}),
  };
}
