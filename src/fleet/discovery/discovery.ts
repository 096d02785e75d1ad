/**
 * Endpoint discovery: where the fleet's endpoint set comes from.
 *
 * Sources: a static list (`static-discovery.ts`), a watched fleet file (`file-discovery.ts`),
 * DNS (`dns-discovery.ts`), and Kubernetes (shape: {@link KubernetesDiscoveryOptions}).
 */
import type { EventEmitter } from 'node:events';
import type { EndpointInfo } from '../types.ts';

/** Events every discovery source emits. */
export interface DiscoveryEvents {
  /** The endpoint set changed; carries the complete new set (not a diff). */
  change: [endpoints: readonly EndpointInfo[]];
  /**
   * A refresh failed (unreadable or invalid file, DNS timeout…). The last good set stays current.
   * Not named `error` so an unobserved failure never crashes the process.
   */
  refreshError: [error: Error];
}

/**
 * A source of the current endpoint set.
 *
 * Contract: `start()` resolves once the first set is known (and rejects, with a message an
 * operator can act on, when it cannot be obtained); after that `current()` always returns the
 * latest good set, and `change` fires only when the set actually differs (by value). Failed
 * refreshes never clear the set: they emit `refreshError`.
 */
export interface Discovery extends EventEmitter<DiscoveryEvents> {
  /** Short name for logs: `static`, `file`, `dns`, `kubernetes`. */
  readonly kind: string;
  start(): Promise<void>;
  current(): readonly EndpointInfo[];
  /** Stops watching/polling. Idempotent. */
  close(): Promise<void>;
}

/**
 * Options of Kubernetes discovery (its own issue; `kubernetes-discovery.ts`), fixed here so the
 * CLI and the registry need no change for it. It implements {@link Discovery} with kind
 * `kubernetes`, lists-and-watches Pods through `@kubernetes/client-node`, and keeps pods that
 * are Ready and not terminating, like llm-d's pod reconciler (reference §6).
 *
 * - `selector` mode (llm-d's `--endpoint-selector`): pods matching `labelSelector`, one endpoint
 *   per `targetPorts` entry.
 * - `inferencePool` mode: read `inference.networking.k8s.io/v1` InferencePool `poolName`; its
 *   `spec.selector.matchLabels` and `spec.targetPorts` replace `labelSelector`/`targetPorts`, and
 *   the pool is watched for edits.
 *
 * Each endpoint gets id `podIP:port`, the pod's labels (so `llm-d.ai/engine-type`,
 * `llm-d.ai/role` work), and `kvEventsEndpoint` `tcp://podIP:<kvEventsPort>` when set.
 */
export interface KubernetesDiscoveryOptions {
  readonly namespace: string;
  /** Label selector over pods, e.g. `app=vllm,llm-d.ai/inference-serving=true`. */
  readonly labelSelector?: string;
  /** Serving ports (1 to 8, as InferencePool `targetPorts`). */
  readonly targetPorts?: readonly number[];
  /** InferencePool name; mutually exclusive with `labelSelector`. */
  readonly poolName?: string;
  /** Port of each pod's vLLM KV-event publisher. */
  readonly kvEventsPort?: number;
  /** Port of each pod's KV-event replay socket. */
  readonly kvReplayPort?: number;
}
