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
import type { RoutingService } from '../edge/routing-service.ts';
import { EdgeServer } from '../edge/server.ts';
import type { Discovery } from '../fleet/discovery/discovery.ts';
import { EndpointRegistry } from '../fleet/endpoint-registry.ts';
import { routerClock } from '../fleet/router-clock.ts';
import { loadSchedulerConfig } from '../scheduler/config/loader.ts';
import { registerFleetMetrics } from './fleet-metrics.ts';
import { type RoutingThreadOptions, buildRoutingService } from './routing-thread.ts';

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
}

type Serving = { kind: 'main'; server: EdgeServer } | { kind: 'threads'; threads: AcceptorThreads };

export class Router {
  private constructor(
    private readonly registry: EndpointRegistry,
    private readonly serving: Serving,
    private readonly mainRouting: RoutingService & { close(): void },
    private readonly admin: AdminServer | null,
    private readonly logger: Logger,
  ) {}

  static async start(options: RouterOptions): Promise<Router> {
    const logger = options.logger ?? pino({ name: 'kvedge', level: 'info' });
    // Fail fast on a bad scheduler config, before any thread or socket exists.
    loadSchedulerConfig(options.schedulerConfig);
    const registry = new EndpointRegistry({
      discovery: options.discovery,
      scraper: { intervalMs: options.scrapeIntervalMs ?? 50 },
    });
    registry.on('problem', (err) => logger.warn({ err: err.message }, 'fleet problem'));
    registry.on('health', (info, healthy) => logger.info({ endpoint: info.id, healthy }, 'endpoint health'));
    registry.on('added', (info) => logger.info({ endpoint: info.id }, 'endpoint added'));
    registry.on('removed', (info) => logger.info({ endpoint: info.id }, 'endpoint removed'));
    await registry.start();

    const threadOptions: RoutingThreadOptions = {
      fleetBuffer: registry.shared.buffer,
      schedulerConfig: options.schedulerConfig,
      channel: `kvedge-routing-${randomUUID()}`,
      seed: options.seed ?? Date.now() % 2 ** 31,
    };
    const mainRouting = buildRoutingService(threadOptions, { fleet: registry.shared }, 0);
    const mainRegistry = new Registry();
    registerFleetMetrics(mainRegistry, registry.shared, routerClock);

    let serving: Serving;
    let threadMetrics: { metrics(): Promise<string> };
    if (options.threads <= 1) {
      const server = await EdgeServer.start({
        config: options.edge,
        routing: mainRouting,
        logger,
        metrics: new EdgeMetrics(mainRouting.metricsRegistry),
      });
      serving = { kind: 'main', server };
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
    return new Router(registry, serving, mainRouting, admin, logger);
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
    this.mainRouting.close();
    await this.registry.close();
    this.logger.info('router stopped');
  }
}
