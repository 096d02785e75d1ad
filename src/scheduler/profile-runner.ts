/**
 * Runs one scheduling profile (llm-d-router.md §2.2, `scheduler_profile.go`): filters in order,
 * stopping when the set is empty; then every scorer, adding `clamp(score, 0, 1) × weight` to each
 * candidate's total (a plain weighted sum, not normalized by the sum of weights); then the picker
 * over all scored candidates. Records the per-candidate trace as it goes.
 */
import type { EndpointSnapshot } from '../fleet/types.ts';
import type { PluginStopwatch } from './plugin-stopwatch.ts';
import type { CandidateTrace, FilterVerdictTrace, ProfileTrace, ScoreTrace } from './trace.ts';
import type { ProfileRunResult, ScoredEndpoint, SchedulingCycle, SchedulingProfile } from './types.ts';

/** Outcome of {@link runProfile}. */
export interface ProfileRun {
  /** Picks, or null when filters left nothing or the picker chose nothing. */
  readonly result: ProfileRunResult | null;
  readonly trace: ProfileTrace;
}

/** Message llm-d returns when a profile's filters drain the candidate set. */
export const NO_ENDPOINTS_AVAILABLE = 'no endpoints available';

export function runProfile(
  cycle: SchedulingCycle,
  profile: SchedulingProfile,
  candidates: readonly EndpointSnapshot[],
  stopwatch: PluginStopwatch,
): ProfileRun {
  const verdicts = new Map<string, FilterVerdictTrace[]>();
  const droppedBy = new Map<string, string>();
  for (const endpoint of candidates) verdicts.set(endpoint.info.id, []);

  let current = candidates;
  let failure: string | undefined;
  for (const filter of profile.filters) {
    const outcome = stopwatch.measure('filter', filter, profile.name, () => filter.filter(cycle, current));
    const kept = new Set<string>();
    for (const endpoint of outcome.kept) kept.add(endpoint.info.id);
    for (const endpoint of current) {
      const id = endpoint.info.id;
      if (kept.has(id)) {
        verdicts.get(id)?.push({ filter: filter.name, verdict: 'kept' });
      } else {
        const reason = outcome.reasons?.get(id);
        verdicts.get(id)?.push({ filter: filter.name, verdict: 'dropped', ...(reason ? { reason } : {}) });
        droppedBy.set(id, filter.name);
      }
    }
    current = current.filter((endpoint) => kept.has(endpoint.info.id));
    if (current.length === 0) {
      failure = `${NO_ENDPOINTS_AVAILABLE}: filter '${filter.name}' removed every candidate`;
      break;
    }
  }

  const scoreTraces = new Map<string, ScoreTrace[]>();
  const totals = new Map<string, number>();
  let picked: readonly string[] = [];
  if (failure === undefined) {
    for (const endpoint of current) {
      scoreTraces.set(endpoint.info.id, []);
      totals.set(endpoint.info.id, 0);
    }
    for (const { scorer, weight } of profile.scorers) {
      const scores = stopwatch.measure('scorer', scorer, profile.name, () => scorer.score(cycle, current));
      for (const endpoint of current) {
        const id = endpoint.info.id;
        const raw = scores.get(id);
        const scored = raw !== undefined && !Number.isNaN(raw);
        const clamped = scored ? Math.min(1, Math.max(0, raw)) : 0;
        const contribution = clamped * weight;
        scoreTraces.get(id)?.push({
          scorer: scorer.name,
          type: scorer.type,
          raw: scored && Number.isFinite(raw) ? raw : null,
          clamped,
          weight,
          contribution,
        });
        totals.set(id, (totals.get(id) ?? 0) + contribution);
      }
    }
    const scored: ScoredEndpoint[] = current.map((endpoint) => ({
      endpoint,
      score: totals.get(endpoint.info.id) ?? 0,
    }));
    picked = stopwatch.measure('picker', profile.picker, profile.name, () =>
      profile.picker.pick(cycle, scored),
    );
    if (picked.length === 0) failure = `picker '${profile.picker.name}' chose no endpoint`;
  }

  const rank = new Map<string, number>();
  picked.forEach((id, index) => rank.set(id, index + 1));
  const candidateTraces: CandidateTrace[] = candidates.map((endpoint) => {
    const id = endpoint.info.id;
    return {
      endpointId: id,
      filters: verdicts.get(id) ?? [],
      droppedBy: droppedBy.get(id) ?? null,
      scores: scoreTraces.get(id) ?? [],
      total: totals.get(id) ?? null,
      pickRank: rank.get(id) ?? null,
    };
  });
  candidateTraces.sort(compareCandidates);

  const trace: ProfileTrace = {
    profile: profile.name,
    status: failure === undefined ? 'picked' : 'failed',
    ...(failure === undefined ? {} : { failure }),
    filters: profile.filters.map((f) => ({ name: f.name, type: f.type })),
    scorers: profile.scorers.map(({ scorer, weight }) => ({ name: scorer.name, type: scorer.type, weight })),
    picker: { name: profile.picker.name, type: profile.picker.type },
    picked,
    candidates: candidateTraces,
  };
  return { result: failure === undefined ? { targets: picked } : null, trace };
}

/** Picked first (by rank), then by total descending, dropped endpoints last, ties by id. */
function compareCandidates(a: CandidateTrace, b: CandidateTrace): number {
  if (a.pickRank !== null || b.pickRank !== null) {
    if (a.pickRank === null) return 1;
    if (b.pickRank === null) return -1;
    return a.pickRank - b.pickRank;
  }
  if (a.total !== b.total) {
    if (a.total === null) return 1;
    if (b.total === null) return -1;
    return b.total - a.total;
  }
  return a.endpointId < b.endpointId ? -1 : a.endpointId > b.endpointId ? 1 : 0;
}
