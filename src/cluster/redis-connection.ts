/**
 * Builds ioredis clients for the three deployment shapes (standalone URL, Sentinel, Cluster) with
 * the settings that keep routing independent of Redis:
 * - no offline queue and no per-request retries: a command issued while Redis is unreachable
 *   fails at once instead of piling up in memory;
 * - a short `commandTimeout` on command connections, so a stalled Redis costs at most that long;
 * - reconnects every 50 ms growing to 1 s, forever (Sentinel asks the sentinels for the current
 *   primary on every reconnect, and `failoverDetector` reacts to `+switch-master` at once).
 *
 * Blocking reads get a connection of their own without `commandTimeout` (it would cut `XREAD
 * BLOCK` short); ioredis' `blockingTimeout` guards them instead.
 */
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { ClusterStateConfig } from './config.ts';

export type RedisClient = Redis | Cluster;

/** What a connection is for: plain commands, a blocking stream reader, or pub/sub. */
export type ConnectionRole = 'command' | 'blocking' | 'subscriber';

function reconnectDelay(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 5), 1000);
}

function tlsOf(config: ClusterStateConfig): ConnectionOptions | undefined {
  if (config.tls === false) return undefined;
  if (config.tls === true) return {};
  const { ca, cert, key, servername, rejectUnauthorized } = config.tls;
  return {
    rejectUnauthorized,
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(servername !== undefined ? { servername } : {}),
  };
}

function baseOptions(config: ClusterStateConfig, role: ConnectionRole, name: string): RedisOptions {
  const tls = tlsOf(config);
  return {
    connectionName: name,
    connectTimeout: config.connectTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: reconnectDelay,
    // Subscriptions are renewed by PubSubHub on every `ready`, in order with its resync.
    autoResubscribe: false,
    lazyConnect: false,
    ...(role === 'command' ? { commandTimeout: config.commandTimeoutMs } : {}),
    ...(role === 'blocking' ? { blockingTimeout: config.index.readBlockMs + 2000 } : {}),
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
    ...(tls ? { tls } : {}),
  };
}

/**
 * A new client of `role`, connecting in the background. Listen for `ready`/`close`; nothing is
 * queued while it is not connected.
 */
export function createRedisClient(
  config: ClusterStateConfig,
  role: ConnectionRole,
  name: string,
): RedisClient {
  const options = baseOptions(config, role, name);
  switch (config.mode) {
    case 'standalone':
      return new Redis(config.url, { ...options, ...(config.database ? { db: config.database } : {}) });
    case 'sentinel':
      return new Redis({
        ...options,
        db: config.database,
        sentinels: config.sentinels.map(({ host, port }) => ({ host, port })),
        name: config.masterName,
        role: 'master',
        failoverDetector: true,
        sentinelRetryStrategy: reconnectDelay,
        sentinelMaxConnections: 4,
        ...(config.sentinelPassword !== undefined ? { sentinelPassword: config.sentinelPassword } : {}),
        ...(options.tls ? { enableTLSForSentinelMode: true } : {}),
      });
    case 'cluster': {
      // Node connections keep ioredis' default retries: the Cluster client swaps node connections
      // while it discovers slots, and with no retries its own ready check fails on the swap and
      // loops. The cluster-level offline queue is off and commandTimeout bounds every command.
      const {
        retryStrategy: _retry,
        enableOfflineQueue: _queue,
        maxRetriesPerRequest: _retries,
        ...redisOptions
      } = options;
      const clusterOptions: ClusterOptions = {
        enableOfflineQueue: false,
        // The ready check (CLUSTER INFO on some node) races the node pool's reconnects while slots
        // are discovered and can loop for seconds; RedisHealth's PING probe covers readiness.
        enableReadyCheck: false,
        clusterRetryStrategy: reconnectDelay,
        scaleReads: 'master',
        slotsRefreshTimeout: config.connectTimeoutMs,
        redisOptions,
      };
      return new Cluster(
        config.nodes.map(({ host, port }) => ({ host, port })),
        clusterOptions,
      );
    }
  }
}

/** Whether an error means Redis is unreachable or too slow, rather than a command being wrong. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  const message = err.message;
  return (
    message.includes('Command timed out') ||
    message.includes("Stream isn't writeable") ||
    message.includes('Connection is closed') ||
    message.includes('ECONNREFUSED') ||
    message.includes('ECONNRESET') ||
    message.includes('EPIPE') ||
    message.includes('LOADING') ||
    message.includes('READONLY') ||
    message.includes('CLUSTERDOWN') ||
    message.includes('None of startup nodes is available')
  );
}
