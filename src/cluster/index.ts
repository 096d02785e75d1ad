/**
 * Cluster-wide routing state in Redis (block index, in-flight load, session pins, approximate-
 * prefix history) shared by kvedge router replicas. Start with {@link createClusterState}.
 */
export {
  ClusterState,
  createClusterState,
  type ClusterStateEvents,
  type ClusterStateOptions,
} from './cluster-state.ts';
export {
  clusterStateConfigSchema,
  parseClusterStateConfig,
  type ClusterStateConfig,
  type ClusterStateConfigInput,
} from './config.ts';
export { ClusterBlockIndex, type IngestionRole } from './cluster-block-index.ts';
export { ClusterKvEventIngestor } from './cluster-ingestor.ts';
export { ClusterInflight } from './cluster-inflight.ts';
export { SharedSessionAffinityStore } from './shared-session-store.ts';
export { SharedPrefixIndexStore } from './shared-prefix-history.ts';
export { ClusterKeys } from './cluster-keys.ts';
export type { ClusterCounters } from './cluster-counters.ts';
