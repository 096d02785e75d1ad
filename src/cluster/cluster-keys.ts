/**
 * Every Redis key and channel the cluster state uses, in one place (the table in
 * `docs/cluster-state.md` lists their types, TTLs and bounds).
 *
 * Keys carry a hash tag right after the prefix, so that the keys one Lua script or transaction
 * touches share a slot under Redis Cluster:
 * - `{ix<n>}`: block-index shard n (its stream, pod set, leases and pod snapshots);
 * - `{load}`: in-flight counters of every replica;
 * - `{s:<plugin>}` / `{h:<plugin>}`: one session-affinity or prefix-history plugin instance.
 * Standalone and Sentinel deployments ignore the tags.
 */

export class ClusterKeys {
  readonly prefix: string;
  readonly shards: number;

  constructor(prefix: string, shards: number) {
    this.prefix = prefix;
    this.shards = shards;
  }

  /** Index shard of a pod: FNV-1a of its id, so every replica agrees without coordination. */
  shardOf(podId: string): number {
    if (this.shards === 1) return 0;
    let h = 0x811c9dc5;
    for (let i = 0; i < podId.length; i++) {
      h ^= podId.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return (h >>> 0) % this.shards;
  }

  /**
   * STRING: a random id set once per Redis dataset (`SET NX`). A replica that finds a different
   * value after reconnecting knows Redis lost its data and republishes what it holds.
   */
  instance(): string {
    return `${this.prefix}{meta}:instance`;
  }

  // ---- block index, per shard --------------------------------------------------------------

  /** STREAM of index changes of the shard's pods. */
  log(shard: number): string {
    return `${this.#ix(shard)}:log`;
  }

  /** SET of pod ids that have a snapshot in the shard. */
  pods(shard: number): string {
    return `${this.#ix(shard)}:pods`;
  }

  /** STRING: ingestion lease of a pod (value = owner token). */
  lease(podId: string): string {
    return `${this.#ix(this.shardOf(podId))}:lease:${podId}`;
  }

  /** HASH: version, epoch and last batch fingerprint of a pod's snapshot. */
  podMeta(podId: string): string {
    return `${this.#ix(this.shardOf(podId))}:pod:${podId}:meta`;
  }

  /** HASH: request key (8 bytes LE) → packed reference counts per tier. */
  podBlocks(podId: string): string {
    return `${this.#ix(this.shardOf(podId))}:pod:${podId}:blocks`;
  }

  /** HASH: engine key (8 bytes LE) → request keys (8 bytes LE each). */
  podEngine(podId: string): string {
    return `${this.#ix(this.shardOf(podId))}:pod:${podId}:engine`;
  }

  /** Staging copies a republish fills before swapping them in. */
  podStaging(podId: string, token: string, what: 'blocks' | 'engine'): string {
    return `${this.#ix(this.shardOf(podId))}:pod:${podId}:staging:${token}:${what}`;
  }

  // ---- in-flight load ---------------------------------------------------------------------

  /** ZSET: replica id → last report time (ms); lists the replicas whose counts to read. */
  replicas(): string {
    return `${this.prefix}{load}:replicas`;
  }

  /** HASH of one replica's in-flight counts: `seq`, `r:<endpoint>`, `t:<endpoint>`. */
  inflight(replicaId: string): string {
    return `${this.prefix}{load}:inflight:${replicaId}`;
  }

  /** Channel of in-flight deltas published at dispatch and completion. */
  inflightChannel(): string {
    return `${this.prefix}{load}:inflight-deltas`;
  }

  // ---- session pins -----------------------------------------------------------------------

  /** HASH: session id → `<endpoint>\t<lastUsedMs>`. */
  pins(plugin: string): string {
    return `${this.prefix}{s:${plugin}}:pins`;
  }

  /** ZSET: session id → last used (ms), the expiry index of {@link pins}. */
  pinExpiry(plugin: string): string {
    return `${this.prefix}{s:${plugin}}:pin-expiry`;
  }

  /** Channel of pin changes of one plugin instance. */
  pinChannel(plugin: string): string {
    return `${this.prefix}{s:${plugin}}:pin-changes`;
  }

  // ---- approximate-prefix history ---------------------------------------------------------

  /** HASH: endpoint id → LRU capacity, the endpoints with a history. */
  historyEndpoints(plugin: string): string {
    return `${this.prefix}{h:${plugin}}:endpoints`;
  }

  /** ZSET: block hash (8 bytes LE) → recency score, one endpoint's LRU. */
  history(plugin: string, endpointId: string): string {
    return `${this.prefix}{h:${plugin}}:blocks:${endpointId}`;
  }

  /**
   * STRING: where the new part of a prompt goes (src/routing/placement-claim.ts); `scope` is the
   * model, `key` the block key at the claim's checkpoint. One hash tag for all claims: a probe reads
   * a prompt's candidate keys in one script, so under Redis Cluster they must share a slot.
   */
  placementClaim(scope: string, key: bigint): string {
    return `${this.prefix}{claims}:${scope}:${key.toString(16)}`;
  }

  /** Channel of kvedge-picker state mutations (ledger, learning, turnover) of one plugin instance. */
  pickerChannel(plugin: string): string {
    return `${this.prefix}{p:${plugin}}:state`;
  }

  /** Channel of history changes of one plugin instance. */
  historyChannel(plugin: string): string {
    return `${this.prefix}{h:${plugin}}:changes`;
  }

  #ix(shard: number): string {
    return `${this.prefix}{ix${shard}}`;
  }
}
