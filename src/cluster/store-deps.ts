/** What every Redis-backed scheduler store needs from the cluster state (`ClusterState.#storeDeps`). */
import type { Logger } from 'pino';
import type { ClusterCounters } from './cluster-counters.ts';
import type { ClusterKeys } from './cluster-keys.ts';
import type { PubSubHub } from './pubsub-hub.ts';
import type { RedisClient } from './redis-connection.ts';
import type { RedisHealth } from './redis-health.ts';

export interface ClusterStoreDeps {
  /** The command connection (writes and publishes). */
  readonly client: RedisClient;
  readonly hub: PubSubHub;
  readonly health: RedisHealth;
  readonly keys: ClusterKeys;
  readonly replicaId: string;
  readonly counters: ClusterCounters;
  readonly logger: Logger;
}
