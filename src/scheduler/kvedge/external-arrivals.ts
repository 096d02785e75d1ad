/**
 * When requests this picker did not send arrived at each pod: another acceptor thread's, another
 * router replica's. The fleet's in-flight counters count every thread's and replica's requests;
 * the picker's ledger only its own. Their difference growing between two decisions means someone
 * else just dispatched there.
 *
 * The learner needs this. A TTFT is turned into a prefill rate by subtracting the wait the ledger
 * predicted, and the ledger cannot see a prefill someone else queued ahead: such an observation
 * reads as a slow pod. Threads that learned from those fitted rates that differed by 25% from each
 * other and from the truth, and a W1 run with two routing threads lost 5 points of hit rate
 * (docs/scheduling.md, "Routing threads").
 */
interface PodArrivals {
  /** Others' outstanding requests at the last decision. */
  external: number;
  /** The last decision at which that count had grown (ms). */
  lastRiseMs: number;
}

export class ExternalArrivals {
  private readonly pods = new Map<string, PodArrivals>();

  /** Notes the others' outstanding request count at `endpointId` as seen by a decision at `nowMs`. */
  observe(endpointId: string, external: number, nowMs: number): void {
    const pod = this.pods.get(endpointId);
    if (!pod) {
      if (external > 0) this.pods.set(endpointId, { external, lastRiseMs: nowMs });
      return;
    }
    if (external > pod.external) pod.lastRiseMs = Math.max(pod.lastRiseMs, nowMs);
    pod.external = external;
  }

  /** True when others' requests were seen arriving at `endpointId` at or after `sinceMs`. */
  arrivedSince(endpointId: string, sinceMs: number): boolean {
    const pod = this.pods.get(endpointId);
    return pod !== undefined && pod.lastRiseMs >= sinceMs;
  }

  /** Forgets pods that left the fleet. */
  retain(activeIds: ReadonlySet<string>): void {
    for (const id of this.pods.keys()) if (!activeIds.has(id)) this.pods.delete(id);
  }
}
