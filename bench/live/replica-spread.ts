/**
 * How the live load generator spreads requests over its targets (router replicas, or pods in the
 * direct baseline), standing in for the L4 load balancer in front of them.
 *
 * - `request` (the default): plain round robin per request, whatever conversation it belongs to.
 *   An L4 balancer that sees a new connection per request does exactly this, so the turns of one
 *   conversation land on different replicas and only the shared state (Redis) can keep them on the
 *   pod that holds their history: the harder and more honest case for replicas.
 * - `conversation`: a conversation (a chain of closed-loop turns, `after`) stays on the target its
 *   first turn got; first turns are dealt round robin. Models a client holding one keep-alive
 *   connection per conversation; replicas then need little shared state to keep affinity.
 */
import type { WorkloadRequest } from '../workloads/types.ts';

export type ReplicaSpread = 'request' | 'conversation';

export const REPLICA_SPREADS: readonly ReplicaSpread[] = ['request', 'conversation'];

/** Picks the target of each request as it is issued (call in issue order). */
export type TargetPicker = (request: WorkloadRequest) => string;

/**
 * A picker over `targets`. `requests` is the whole workload: `conversation` mode follows `after`
 * links back to each chain's first turn.
 */
export function createTargetPicker(
  targets: readonly string[],
  spread: ReplicaSpread,
  requests: readonly WorkloadRequest[],
): TargetPicker {
  if (targets.length === 0) throw new Error('no target to spread requests over');
  let next = 0;
  const roundRobin = (): string => targets[next++ % targets.length] as string;
  if (spread === 'request') return roundRobin;
  const parentOf = new Map<string, string>();
  for (const r of requests) if (r.after !== undefined) parentOf.set(r.id, r.after);
  const rootOf = (id: string): string => {
    let root = id;
    // Bounded by the chain length; a malformed cycle stops at the request count.
    for (let hops = 0; hops <= requests.length; hops++) {
      const parent = parentOf.get(root);
      if (parent === undefined) return root;
      root = parent;
    }
    return root;
  };
  const pinned = new Map<string, string>();
  return (request) => {
    const root = rootOf(request.id);
    let target = pinned.get(root);
    if (target === undefined) {
      target = roundRobin();
      pinned.set(root, target);
    }
    return target;
  };
}
