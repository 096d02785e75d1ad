/**
 * Prometheus view of the Redis cluster state (main thread, read at scrape time): whether this
 * replica routes on local knowledge, which pods' KV events it applies for the cluster, the other
 * replicas' in-flight load as it last heard it, and every `ClusterCounters` field as a counter.
 * Without these an operator (or a test) cannot tell shared knowledge from local knowledge.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ClusterState } from '../cluster/cluster-state.ts';
import type { ClusterCounters } from '../cluster/cluster-counters.ts';
import type { SharedFleetState } from '../fleet/shared-state.ts';

export function registerClusterMetrics(
  registry: Registry,
  cluster: ClusterState,
  fleet: SharedFleetState,
  clock: () => number,
): void {
  const registers = [registry];
  new Gauge({
    name: 'kvedge_cluster_degraded',
    help: '1 while Redis is unavailable or not yet re-synchronised: routing on local knowledge.',
    registers,
    collect() {
      this.set(cluster.degraded ? 1 : 0);
    },
  });
  new Counter({
    name: 'kvedge_cluster_degraded_transitions_total',
    help: 'Times Redis became unavailable.',
    registers,
    collect() {
      this.reset();
      this.inc(cluster.degradedTransitions);
    },
  });
  new Gauge({
    name: 'kvedge_cluster_owned_pods',
    help: 'Pods whose KV events this replica applies for the cluster (1 per owned pod).',
    labelNames: ['endpoint'],
    registers,
    collect() {
      this.reset();
      for (const pod of cluster.ownedPods()) this.set({ endpoint: pod }, 1);
    },
  });
  const peer = (name: string, help: string, read: (load: { requests: number; tokens: number }) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['endpoint'],
      registers,
      collect() {
        this.reset();
        // Every known endpoint, so "no peer load" reads as 0 rather than as a missing series.
        for (const e of fleet.snapshot(clock()).endpoints) {
          this.set({ endpoint: e.info.id }, read(cluster.inflight.peers(e.info.id)));
        }
      },
    });
  peer(
    'kvedge_endpoint_peer_inflight_requests',
    "Other router replicas' in-flight requests, as this replica last heard (added to its own when routing).",
    (load) => load.requests,
  );
  peer(
    'kvedge_endpoint_peer_inflight_tokens',
    "Other router replicas' in-flight tokens, as this replica last heard.",
    (load) => load.tokens,
  );
  for (const field of Object.keys(cluster.counters) as (keyof ClusterCounters)[]) {
    new Counter({
      name: `kvedge_cluster_${snakeCase(field)}_total`,
      help: `ClusterCounters.${field} (src/cluster/cluster-counters.ts).`,
      registers,
      collect() {
        this.reset();
        this.inc(cluster.counters[field]);
      },
    });
  }
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
