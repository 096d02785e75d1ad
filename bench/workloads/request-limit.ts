/** `--requests N`: keeps the first N open-loop requests by arrival, and closed-loop ones whose chain survives. */
import type { WorkloadRequest } from './types.ts';

export function limitRequests(
  requests: readonly WorkloadRequest[],
  max: number | undefined,
): WorkloadRequest[] {
  if (max === undefined || max >= requests.length) return [...requests];
  const kept: WorkloadRequest[] = [];
  const keptIds = new Set<string>();
  for (const request of requests) {
    if (kept.length >= max) break;
    if (request.after !== undefined && !keptIds.has(request.after)) continue;
    kept.push(request);
    keptIds.add(request.id);
  }
  return kept;
}
