/** What route handlers share: configuration, collaborators and per-server state. */
import type { Logger } from 'pino';
import type { ApiKeyVerifier } from './api-keys.ts';
import type { EdgeConfig } from './edge-config.ts';
import type { EdgeMetrics } from './edge-metrics.ts';
import type { ExchangeTracker } from './exchange-tracker.ts';
import type { EdgeProxy } from './proxy/edge-proxy.ts';
import type { RoutingService } from './routing-service.ts';

export interface EdgeContext {
  readonly config: EdgeConfig;
  readonly routing: RoutingService;
  readonly proxy: EdgeProxy;
  readonly metrics: EdgeMetrics;
  readonly logger: Logger;
  readonly auth: ApiKeyVerifier;
  readonly exchanges: ExchangeTracker;
}
