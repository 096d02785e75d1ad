/**
 * How live mode starts a router under test in front of a started sim fleet: a launcher gets the
 * fleet and its fleet file (the pods and their KV-event ports) and returns the URLs clients should
 * call, one per router replica.
 */
import type { LaunchedFleet } from './sim-fleet-launcher.ts';

/** What the routers reported about themselves at the end of a run (from their admin /metrics). */
export interface RouterStats {
  /** Scheduling decision time over every replica, from the routers' histogram (µs, interpolated). */
  readonly decisionUs: { readonly p50: number; readonly p99: number };
  /** Decisions that waited for a turn behind placement claims in flight, and how long (ms, interpolated). */
  readonly turnWaits?: { readonly count: number; readonly p50Ms: number; readonly p99Ms: number };
  readonly replicas: readonly ReplicaStats[];
}

export interface ReplicaStats {
  readonly baseUrl: string;
  readonly decisions: number;
  /** Cluster-state figures (Redis runs only): counter name → value, e.g. `degraded_transitions`. */
  readonly cluster: Readonly<Record<string, number>>;
}

export interface LaunchedRouter {
  /** One base URL per replica, in replica order. */
  readonly baseUrls: readonly string[];
  /** Redis the replicas share (replicas > 1), and whether this run started it. */
  readonly redis?: { readonly url: string; readonly owned: boolean; readonly keyPrefix: string };
  /** Reads the routers' metrics; call before `stop`. */
  stats(): Promise<RouterStats>;
  /** Stops every replica, then the Redis this run started. */
  stop(): Promise<void>;
}

export interface RouterLauncher {
  /** Name shown in the report, e.g. the scheduler config it loaded and the replica count. */
  readonly label: string;
  readonly replicas: number;
  start(fleet: LaunchedFleet, fleetFile: string): Promise<LaunchedRouter>;
}
