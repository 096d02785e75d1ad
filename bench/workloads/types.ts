/**
 * What a benchmark workload is: a list of token-level requests with arrival times (or, for
 * closed-loop chat, "issue this some seconds after that one finishes"), the load stages they
 * belong to, optional fleet events (pod kill / restore), and the fleet it was sized for.
 *
 * Workloads are token-level because the discrete-event engine is: prompts are token ids, never
 * text, so prefix sharing is exact and no tokenizer runs.
 */

/** A contiguous period of the run with one arrival rate (llm-d's ladder "stage"). */
export interface Stage {
  readonly index: number;
  readonly name: string;
  /** Mean arrivals per second; null when the stage has its own schedule (bursts, traces, rate "inf"). */
  readonly rate: number | null;
  readonly startS: number;
  readonly durationS: number;
  /** Warm-up stages ("seat residents") are run but left out of the summary. */
  readonly warmup: boolean;
}

export interface WorkloadRequest {
  readonly id: string;
  /**
   * Open loop: arrival time in seconds from the start. Closed loop (`after` set): the think time,
   * in seconds, between the end of request `after` and this request.
   */
  readonly arrivalS: number;
  readonly after?: string;
  /** Index into `Workload.stages`. */
  readonly stage: number;
  /** Prompt token ids; called once, when the request is issued (keeps only live prompts in memory). */
  readonly prompt: () => readonly number[];
  readonly promptLength: number;
  /** The exact tokens the engine will generate (ignore_eos: the output length is exact). */
  readonly outputTokenIds: readonly number[];
  /**
   * Requests sent together that should share a pod (the samples of one problem in a sibling burst):
   * the report measures how many of a group's requests ran on its most-used pod.
   */
  readonly group?: string;
}

/** A change to the fleet during the run (W12 churn). */
export interface FleetEvent {
  readonly atS: number;
  readonly action: 'kill' | 'restore';
  /** Pod index. */
  readonly pod: number;
}

/** The fleet a workload runs on: pod count, engine profile and KV size. */
export interface FleetShape {
  readonly pods: number;
  /** Engine profile name (`src/sim/engine/timing-profiles.ts`). */
  readonly profile: string;
  /** Engine block size in tokens; the precise index uses the same size. */
  readonly blockSize: number;
  /** KV blocks per pod. */
  readonly numGpuBlocks: number;
  /**
   * Step-time multiplier per pod (index = pod), for a heterogeneous fleet: 2 means every step of
   * that pod takes twice as long. Absent: every pod runs the profile as is.
   */
  readonly slowdown?: readonly number[];
}

export interface Workload {
  readonly name: string;
  readonly description: string;
  /** Where its parameters come from, e.g. `peer-routers.md §11 W1`. */
  readonly reference: string;
  /** Every parameter that shaped it, for the report. */
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly stages: readonly Stage[];
  readonly requests: readonly WorkloadRequest[];
  readonly fleetEvents: readonly FleetEvent[];
  readonly fleet: FleetShape;
  /** Derivations worth printing (capacity estimate, how the ladder was chosen). */
  readonly notes: readonly string[];
}

/** A stage as the user or a workload describes it, before start times are laid out. */
export interface LoadStage {
  readonly rate: number;
  readonly durationS: number;
  readonly warmup?: boolean;
}

/** Knobs from the command line; every field optional so each workload applies its own defaults. */
export interface WorkloadOptions {
  readonly seed: number;
  readonly pods?: number;
  readonly profile?: string;
  readonly blockSize?: number;
  /** A single constant-rate stage (requests/s). */
  readonly rate?: number;
  /** Explicit load stages, replacing the workload's computed ladder. */
  readonly ladder?: readonly LoadStage[];
  /** Duration of each stage (ladder) or of the run (single rate), seconds. */
  readonly durationS?: number;
  /** Keep only the first N requests (by arrival). */
  readonly maxRequests?: number;
  /** Input file for file-based workloads. */
  readonly file?: string;
  /** Trace replay speed (Mooncake): timestamps are divided by it (Dynamo's A/B uses 0.8). */
  readonly traceSpeed?: number;
  /** Heterogeneous fleet: the odd-indexed pods (half the fleet) run this many times slower. */
  readonly slowFactor?: number;
}

export interface WorkloadDefinition {
  readonly name: string;
  readonly summary: string;
  readonly build: (options: WorkloadOptions) => Workload;
}
