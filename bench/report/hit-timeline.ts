/**
 * Engine prefix hit rate over time, by request arrival window, for workloads that change the
 * fleet mid-run (pod churn): how far the hit rate falls when a pod dies and how fast it comes back
 * once the pod returns empty.
 */
import type { RequestRecord } from '../des/run-result.ts';
import { engineHitRate } from '../stats/hit-rate.ts';
import type { FleetEvent } from '../workloads/types.ts';

export interface HitTimeline {
  readonly windowS: number;
  /** Hit rate of the requests arriving in [i·windowS, (i+1)·windowS); NaN for an empty window. */
  readonly hitRates: readonly number[];
  /** Hit rate over `windowS · 3` before the first kill. */
  readonly beforeKill: number;
  /**
   * Seconds from the last restore to the end of the first window whose hit rate is back within
   * `RECOVERY_TOLERANCE` (relative) of `beforeKill`; NaN if it never comes back.
   */
  readonly recoveryS: number;
}

/** "Back within 5% of its previous level" (issue 7's churn goal), relative to that level. */
export const RECOVERY_TOLERANCE = 0.05;

/** Null when the workload has no kill event. */
export function hitTimeline(
  records: readonly RequestRecord[],
  events: readonly FleetEvent[],
  windowS = 10,
): HitTimeline | null {
  const kill = events.find((e) => e.action === 'kill');
  if (!kill) return null;
  const end = records.reduce((t, r) => Math.max(t, r.arrivalS), 0);
  const windows: RequestRecord[][] = Array.from({ length: Math.floor(end / windowS) + 1 }, () => []);
  for (const r of records) windows[Math.floor(r.arrivalS / windowS)]!.push(r);
  const beforeKill = engineHitRate(
    records.filter((r) => r.arrivalS < kill.atS && r.arrivalS >= kill.atS - 3 * windowS),
  );
  const restore = events.filter((e) => e.action === 'restore').at(-1);
  let recoveryS = Number.NaN;
  if (restore) {
    for (let i = Math.floor(restore.atS / windowS); i < windows.length; i++) {
      const windowEnd = (i + 1) * windowS;
      if (windowEnd <= restore.atS) continue;
      if (engineHitRate(windows[i]!) >= beforeKill * (1 - RECOVERY_TOLERANCE)) {
        recoveryS = windowEnd - restore.atS;
        break;
      }
    }
  }
  return { windowS, hitRates: windows.map((w) => engineHitRate(w)), beforeKill, recoveryS };
}
