/**
 * The decision trace: a JSON-serializable account of one `schedule()` call — producer summaries,
 * and per profile and per candidate every filter verdict and every scorer's raw score, weight,
 * weighted contribution and total. It is what the router's `POST /debug/route` returns, so field
 * names favour readability over compactness.
 */
import type { PluginTiming, SchedulingFailure } from './types.ts';

/** Any JSON value. */
export type JsonValue =
  string | number | boolean | null | readonly JsonValue[] | { readonly [k: string]: JsonValue };

/** A filter's verdict on one candidate. */
export interface FilterVerdictTrace {
  readonly filter: string;
  readonly verdict: 'kept' | 'dropped';
  readonly reason?: string;
}

/** One scorer's contribution to one candidate's total. */
export interface ScoreTrace {
  readonly scorer: string;
  readonly type: string;
  /** Score as returned by the scorer; null when the scorer left the endpoint unscored. */
  readonly raw: number | null;
  /** `raw` clamped to [0, 1] (0 when unscored). */
  readonly clamped: number;
  readonly weight: number;
  /** `clamped × weight`. */
  readonly contribution: number;
}

/** One candidate endpoint within one profile run. */
export interface CandidateTrace {
  readonly endpointId: string;
  /** Verdicts of the filters that saw this endpoint, in order; stops at the filter that dropped it. */
  readonly filters: readonly FilterVerdictTrace[];
  /** Name of the filter that removed it, if any. */
  readonly droppedBy: string | null;
  readonly scores: readonly ScoreTrace[];
  /** Sum of contributions; null for dropped endpoints. */
  readonly total: number | null;
  /** 1-based position in the picker's output, or null if not picked. */
  readonly pickRank: number | null;
}

/** One profile run. */
export interface ProfileTrace {
  readonly profile: string;
  readonly status: 'picked' | 'failed';
  readonly failure?: string;
  readonly filters: readonly { readonly name: string; readonly type: string }[];
  readonly scorers: readonly { readonly name: string; readonly type: string; readonly weight: number }[];
  readonly picker: { readonly name: string; readonly type: string };
  readonly picked: readonly string[];
  /** Candidates sorted by total score, best first; dropped endpoints last. */
  readonly candidates: readonly CandidateTrace[];
}

/** One data producer's run. */
export interface ProducerTrace {
  readonly producer: string;
  readonly type: string;
  readonly summary: JsonValue;
}

/** A note a plugin attached to the decision. */
export interface NoteTrace {
  readonly plugin: string;
  readonly message: string;
}

/** Timings, present when the schedule context carried a timer. */
export interface TimingTrace {
  readonly totalMs: number;
  readonly plugins: readonly PluginTiming[];
}

/** The whole trace of one decision. */
export interface DecisionTrace {
  readonly requestId: string;
  readonly targetModel: string;
  readonly nowMs: number;
  /** Fleet endpoints considered, and those excluded before any plugin ran (unhealthy). */
  readonly candidates: {
    readonly considered: number;
    readonly excluded: readonly { readonly endpointId: string; readonly reason: string }[];
  };
  readonly producers: readonly ProducerTrace[];
  readonly profileHandler: { readonly name: string; readonly type: string; readonly ran: readonly string[] };
  readonly profiles: readonly ProfileTrace[];
  readonly notes: readonly NoteTrace[];
  readonly result: {
    readonly endpointId: string | null;
    readonly primaryProfile: string | null;
    readonly failure: SchedulingFailure | null;
  };
  readonly timings?: TimingTrace;
}
