/**
 * From Kubernetes Pods to endpoints: which pods serve, and the endpoints each one contributes.
 */
import type { EndpointInfo } from '../types.ts';
import { createEndpointInfo, tcpEndpoint } from './endpoint-info.ts';

/**
 * The fields of a Pod that discovery reads. Structural, so it accepts both client-node's `V1Pod`
 * (from a list) and the raw JSON of a watch event.
 */
export interface PodObject {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly deletionTimestamp?: unknown;
    readonly resourceVersion?: string;
  };
  readonly status?: {
    readonly podIP?: string;
    readonly conditions?: ReadonlyArray<{ readonly type?: string; readonly status?: string }>;
  };
}

/** Where a pod's vLLM serves and publishes KV events. */
export interface PodEndpointPorts {
  /** Serving ports; each is a separate endpoint (InferencePool `targetPorts`, data-parallel ranks). */
  readonly targetPorts: readonly number[];
  /** KV-event PUB port of the first serving port; null when KV events are not consumed. */
  readonly kvEventsPort: number | null;
  /** KV-event replay (ROUTER) port of the first serving port; null when there is none. */
  readonly kvReplayPort: number | null;
}

/**
 * True when the pod should receive traffic: it has an IP, its `Ready` condition is `True`, and it
 * is not being deleted (a terminating pod can stay Ready until its containers stop; llm-d's pod
 * reconciler drops it at once, and so do we).
 */
export function isServingPod(pod: PodObject): boolean {
  if (pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null) return false;
  const ip = pod.status?.podIP;
  if (ip === undefined || ip === '') return false;
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * The endpoints of one serving pod: one per target port. Port `i` gets KV-event port
 * `kvEventsPort + i` (and replay port `kvReplayPort + i`), the offset vLLM itself applies to the
 * ZeroMQ endpoints of data-parallel rank `i` (kv-events-and-hashing.md §1.2).
 */
export function podEndpoints(pod: PodObject, ports: PodEndpointPorts): EndpointInfo[] {
  const host = pod.status?.podIP;
  if (host === undefined || host === '') return [];
  const labels = pod.metadata?.labels ?? {};
  return ports.targetPorts.map((port, rank) =>
    createEndpointInfo({
      host,
      port,
      labels,
      kvEventsEndpoint:
        ports.kvEventsPort === null ? undefined : tcpEndpoint(host, ports.kvEventsPort + rank),
      kvReplayEndpoint:
        ports.kvReplayPort === null ? undefined : tcpEndpoint(host, ports.kvReplayPort + rank),
    }),
  );
}

/**
 * The endpoint set of a collection of pods: serving pods only, sorted by id. Should two pods claim
 * the same `ip:port` (a recycled IP whose old pod is still listed), the pod listed first by name
 * wins, so the result does not depend on event order.
 */
export function endpointsFromPods(pods: Iterable<PodObject>, ports: PodEndpointPorts): EndpointInfo[] {
  const serving = [...pods].filter(isServingPod).sort((a, b) => compare(podName(a), podName(b)));
  const byId = new Map<string, EndpointInfo>();
  for (const pod of serving) {
    for (const info of podEndpoints(pod, ports)) if (!byId.has(info.id)) byId.set(info.id, info);
  }
  return [...byId.values()].sort((a, b) => compare(a.id, b.id));
}

function podName(pod: PodObject): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
