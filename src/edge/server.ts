/**
 * The router's HTTP front end on uWebSockets.js: the four OpenAI POST APIs (proxied), GET
 * /v1/models, /health, /ready, and OpenAI-style errors for everything else.
 *
 * Shutdown is graceful: the listen socket closes first (new connections are refused), in-flight
 * requests get up to the drain deadline, responses sent meanwhile ask clients to close their
 * connections, then remaining exchanges and connections are closed.
 */
import { pino, type Logger } from 'pino';
import uWS from 'uWebSockets.js';
import { ApiKeyVerifier } from './api-keys.ts';
import type { EdgeContext } from './edge-context.ts';
import { resolveEdgeConfig, type EdgeConfig, type EdgeConfigInput } from './edge-config.ts';
import { EdgeMetrics } from './edge-metrics.ts';
import { ExchangeTracker } from './exchange-tracker.ts';
import { EdgeProxy } from './proxy/edge-proxy.ts';
import { UpstreamPools } from './proxy/upstream-pools.ts';
import type { RoutingService } from './routing-service.ts';
import { registerFallbackRoutes } from './routes/fallback-routes.ts';
import { INFERENCE_ROUTES, registerInferenceRoutes } from './routes/inference-routes.ts';
import { registerInfoRoutes } from './routes/info-routes.ts';
import { closeApp, listen } from './uws-listen.ts';

export interface EdgeServerOptions {
  /** Validated with defaults filled in (see edge-config.ts). */
  readonly config?: EdgeConfigInput;
  readonly routing: RoutingService;
  /** Defaults to a fresh EdgeMetrics with its own registry. */
  readonly metrics?: EdgeMetrics;
  /** Defaults to a pino logger at `warn`. */
  readonly logger?: Logger;
}

export class EdgeServer {
  private closing: Promise<void> | null = null;

  private constructor(
    readonly config: EdgeConfig,
    readonly metrics: EdgeMetrics,
    private readonly app: uWS.TemplatedApp,
    private readonly listenSocket: uWS.us_listen_socket,
    private readonly exchanges: ExchangeTracker,
    private readonly pools: UpstreamPools,
    /** The port actually bound (differs from config.port when that is 0). */
    readonly port: number,
  ) {}

  /** Build the app and listen; rejects when the address cannot be bound. */
  static async start(options: EdgeServerOptions): Promise<EdgeServer> {
    const config = resolveEdgeConfig(options.config);
    const metrics = options.metrics ?? new EdgeMetrics();
    const logger = options.logger ?? pino({ name: 'kvedge-edge', level: 'warn' });
    const pools = new UpstreamPools(config.upstream);
    options.routing.watchEndpoints?.((ids) => void pools.retainOnly(ids));
    const exchanges = new ExchangeTracker();
    const context: EdgeContext = {
      config,
      routing: options.routing,
      proxy: new EdgeProxy(config, options.routing, pools, metrics, logger),
      metrics,
      logger,
      auth: new ApiKeyVerifier(config.apiKeys),
      exchanges,
    };
    const app = uWS.App();
    registerInferenceRoutes(app, context);
    registerInfoRoutes(app, context);
    registerFallbackRoutes(app, [...Object.keys(INFERENCE_ROUTES), '/v1/models', '/health', '/ready']);
    let listening: { socket: uWS.us_listen_socket; port: number };
    try {
      listening = await listen(app, config.host, config.port);
    } catch (error) {
      await pools.close(false);
      throw error;
    }
    return new EdgeServer(config, metrics, app, listening.socket, exchanges, pools, listening.port);
  }

  /** Exchanges (client requests) currently open. */
  get inflight(): number {
    return this.exchanges.size;
  }

  get draining(): boolean {
    return this.exchanges.draining;
  }

  /** Close the upstream pools of endpoints not in `ids` (what `RoutingService.watchEndpoints` feeds). */
  retainUpstreams(ids: Iterable<string>): Promise<void> {
    return this.pools.retainOnly(ids);
  }

  /**
   * Stop accepting, wait up to `drainTimeoutMs` (default: config) for in-flight requests, then close
   * what is left. Idempotent.
   */
  shutdown(drainTimeoutMs: number = this.config.drainTimeoutMs): Promise<void> {
    this.closing ??= this.drainAndClose(drainTimeoutMs);
    return this.closing;
  }

  private async drainAndClose(drainTimeoutMs: number): Promise<void> {
    this.exchanges.startDraining();
    uWS.us_listen_socket_close(this.listenSocket);
    const drained = await this.exchanges.waitIdle(drainTimeoutMs);
    if (!drained) this.exchanges.closeAll();
    closeApp(this.app);
    await this.pools.close(drained);
  }
}
