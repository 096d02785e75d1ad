/**
 * Monotonic counters of the cluster state, for metrics and logs. Every component increments its
 * own fields of one shared object; nothing resets them.
 */
export interface ClusterCounters {
  // ---- block index: ingestion --------------------------------------------------------------
  /** KV-event batches this replica applied as the pod's lease holder. */
  batchesOwned: number;
  /** Batches applied locally only, while Redis was unavailable. */
  batchesLocal: number;
  /** Batches of pods another replica owns, kept for a possible takeover and not applied. */
  batchesFollowed: number;
  leasesAcquired: number;
  leasesLost: number;
  /** Buffered batches applied after taking a pod over. */
  handoverReplayedBatches: number;
  /** Takeovers where the previous owner's last batch was not in the buffer (events may be lost). */
  handoverGaps: number;
  /** Index mutations ignored because another replica owns the pod. */
  mutationsSkippedNotOwner: number;
  // ---- block index: publishing --------------------------------------------------------------
  /** Change-stream entries this replica wrote (one per flushed batch of changes). */
  changesPublished: number;
  /** Flushes that failed (Redis error, lost lease, version conflict). */
  publishFailures: number;
  /** Full snapshot rewrites of an owned pod (after Redis lost it or a write failed). */
  republishes: number;
  speculativePublished: number;
  // ---- block index: mirror ------------------------------------------------------------------
  /** Stream entries applied to the local mirror. */
  changesApplied: number;
  /** Stream entries skipped (own, duplicate, or for a pod this replica ingests). */
  changesSkipped: number;
  /** Pods reloaded from their Redis snapshot (start, gap, new epoch, recovery). */
  podResyncs: number;
  /** Stream entries that could not be decoded. */
  badEntries: number;
  // ---- in-flight, sessions, history ----------------------------------------------------------
  inflightDeltasPublished: number;
  inflightDeltasReceived: number;
  inflightPolls: number;
  pinWrites: number;
  pinsReceived: number;
  historyWrites: number;
  historyReceived: number;
  /** kvedge-picker ledger, learning and turnover mutations sent to / applied from other replicas. */
  pickerStatePublished: number;
  pickerStateReceived: number;
  /** Placement claims this replica set (it decided where a new prefix goes). */
  placementClaimsWon: number;
  /** Claims found taken by another replica (the decision then considered that replica's choice). */
  placementClaimsTaken: number;
  /** Claims not made or not answered in time (Redis degraded, error, timeout): decided alone. */
  placementClaimsUnavailable: number;
  /** Writes not sent because Redis was unavailable (their state is republished on recovery). */
  writesSkippedDegraded: number;
  /** Commands that failed (any component). */
  redisErrors: number;
}

export function newClusterCounters(): ClusterCounters {
  return {
    batchesOwned: 0,
    batchesLocal: 0,
    batchesFollowed: 0,
    leasesAcquired: 0,
    leasesLost: 0,
    handoverReplayedBatches: 0,
    handoverGaps: 0,
    mutationsSkippedNotOwner: 0,
    changesPublished: 0,
    publishFailures: 0,
    republishes: 0,
    speculativePublished: 0,
    changesApplied: 0,
    changesSkipped: 0,
    podResyncs: 0,
    badEntries: 0,
    inflightDeltasPublished: 0,
    inflightDeltasReceived: 0,
    inflightPolls: 0,
    pinWrites: 0,
    pinsReceived: 0,
    historyWrites: 0,
    historyReceived: 0,
    pickerStatePublished: 0,
    pickerStateReceived: 0,
    placementClaimsWon: 0,
    placementClaimsTaken: 0,
    placementClaimsUnavailable: 0,
    writesSkippedDegraded: 0,
    redisErrors: 0,
  };
}
