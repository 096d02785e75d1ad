/**
 * This replica's picture of the other replicas' in-flight counts, merged from two sources that
 * arrive on different connections and so in no particular order relative to each other:
 * - states: a replica's whole hash, read by polling, tagged with the sequence number of the last
 *   change it includes;
 * - deltas: single changes pushed over pub/sub at dispatch time, each with its sequence number.
 *
 * A delta at or below the peer's state sequence is already in the state and ignored; deltas above
 * it are kept and re-applied on top of each newer state, so a poll reply that overtakes a delta
 * (or the reverse) never counts a request twice or loses it. Peers not confirmed by a poll for
 * `staleMs` are dropped: their hash expired, or Redis is unreachable and their counts can no
 * longer be trusted to shrink.
 */
import type { EndpointInflight } from '../fleet/types.ts';

interface Counts {
  requests: number;
  tokens: number;
}

interface Delta {
  readonly seq: number;
  readonly endpointId: string;
  readonly requests: number;
  readonly tokens: number;
}

interface Peer {
  /** Sequence of the last change included in `base`; -1 before the first poll. */
  stateSeq: number;
  base: Map<string, Counts>;
  /** Deltas newer than `stateSeq`, in arrival order. */
  deltas: Delta[];
  refreshedAt: number;
}

/** Deltas kept per peer between polls; older ones are dropped (the next poll covers them). */
const MAX_DELTAS = 4096;
const ZERO: EndpointInflight = Object.freeze({ requests: 0, tokens: 0 });

export class PeerInflightView {
  readonly #peers = new Map<string, Peer>();
  #totals = new Map<string, EndpointInflight>();
  #dirty = false;

  /** Number of peers with counts. */
  get size(): number {
    return this.#peers.size;
  }

  /** Replaces a peer's counts with a polled state. */
  applyState(replicaId: string, seq: number, counts: ReadonlyMap<string, Counts>, nowMs: number): void {
    const peer = this.#peer(replicaId, nowMs);
    if (seq < peer.stateSeq) {
      peer.refreshedAt = nowMs; // an older reply overtaken by a newer one: the peer is alive anyway
      return;
    }
    peer.stateSeq = seq;
    peer.base = new Map([...counts].map(([id, c]) => [id, { requests: c.requests, tokens: c.tokens }]));
    peer.deltas = peer.deltas.filter((delta) => delta.seq > seq);
    peer.refreshedAt = nowMs;
    this.#dirty = true;
  }

  /** Applies a pushed change unless the peer's last state already includes it. */
  applyDelta(replicaId: string, delta: Delta, nowMs: number): void {
    const peer = this.#peer(replicaId, nowMs);
    if (delta.seq <= peer.stateSeq) return;
    peer.deltas.push(delta);
    if (peer.deltas.length > MAX_DELTAS) peer.deltas.splice(0, peer.deltas.length - MAX_DELTAS);
    this.#dirty = true;
  }

  /** Drops peers absent from the latest listing (their hash expired or was deleted). */
  retain(replicaIds: ReadonlySet<string>): void {
    for (const id of this.#peers.keys()) {
      if (!replicaIds.has(id)) {
        this.#peers.delete(id);
        this.#dirty = true;
      }
    }
  }

  /** Drops peers no poll confirmed since `nowMs - staleMs`. */
  expire(nowMs: number, staleMs: number): void {
    for (const [id, peer] of this.#peers) {
      if (nowMs - peer.refreshedAt > staleMs) {
        this.#peers.delete(id);
        this.#dirty = true;
      }
    }
  }

  /** The other replicas' in-flight total for an endpoint. */
  get(endpointId: string): EndpointInflight {
    if (this.#dirty) this.#recompute();
    return this.#totals.get(endpointId) ?? ZERO;
  }

  /** The other replicas' totals for every endpoint with any. */
  totals(): ReadonlyMap<string, EndpointInflight> {
    if (this.#dirty) this.#recompute();
    return this.#totals;
  }

  #peer(replicaId: string, nowMs: number): Peer {
    let peer = this.#peers.get(replicaId);
    if (!peer) {
      peer = { stateSeq: -1, base: new Map(), deltas: [], refreshedAt: nowMs };
      this.#peers.set(replicaId, peer);
    }
    return peer;
  }

  #recompute(): void {
    const sums = new Map<string, Counts>();
    for (const peer of this.#peers.values()) {
      const own = new Map<string, Counts>();
      for (const [id, c] of peer.base) own.set(id, { requests: c.requests, tokens: c.tokens });
      for (const delta of peer.deltas) {
        const c = own.get(delta.endpointId) ?? { requests: 0, tokens: 0 };
        c.requests += delta.requests;
        c.tokens += delta.tokens;
        own.set(delta.endpointId, c);
      }
      for (const [id, c] of own) {
        // A peer never has negative load; a transient negative is a race that the next poll fixes.
        const sum = sums.get(id) ?? { requests: 0, tokens: 0 };
        sum.requests += Math.max(0, c.requests);
        sum.tokens += Math.max(0, c.tokens);
        sums.set(id, sum);
      }
    }
    const totals = new Map<string, EndpointInflight>();
    for (const [id, c] of sums) if (c.requests > 0 || c.tokens > 0) totals.set(id, c);
    this.#totals = totals;
    this.#dirty = false;
  }
}
