/**
 * What the P/D handlers (`disagg-profile-handler`, `pd-profile-handler`) share once profiles ran
 * (llm-d-router.md §2.3, §7): decode is the primary profile and must have succeeded; successful
 * prefill/encode runs are added; the backend learns the prefill and encode endpoints through
 * `x-prefiller-host-port` and `x-encoder-hosts-ports` (endpoint ids are already `host:port`).
 */
import { SchedulingError } from '../types.ts';
import type { DecisionHeaders, ProfileRunResult, SchedulingCycle, SchedulingResult } from '../types.ts';

export const PREFILLER_HEADER = 'x-prefiller-host-port';
export const ENCODERS_HEADER = 'x-encoder-hosts-ports';
/** Request attribute through which prefill-profile plugins see the decode pick (llm-d `peer-endpoint`). */
export const PEER_ENDPOINT_ATTRIBUTE = 'peer-endpoint';

/** Profile names of one P/D handler instance. */
export interface DisaggProfiles {
  readonly decode: string;
  readonly prefill: string;
  readonly encode?: string;
}

/** Assembles the result, or throws when decode failed (llm-d: "failed to find available decode workers"). */
export function disaggResult(
  cycle: SchedulingCycle,
  handlerName: string,
  profiles: DisaggProfiles,
  results: ReadonlyMap<string, ProfileRunResult | null>,
): SchedulingResult {
  const decode = results.get(profiles.decode);
  if (!decode) throw new SchedulingError('failed to find available decode workers');
  const out = new Map<string, ProfileRunResult>([[profiles.decode, decode]]);
  const prefill = results.get(profiles.prefill);
  const encode = profiles.encode === undefined ? undefined : results.get(profiles.encode);
  if (prefill) out.set(profiles.prefill, prefill);
  if (encode && profiles.encode !== undefined) out.set(profiles.encode, encode);
  const decision = `${encode ? 'encode-' : ''}${prefill ? 'prefill-' : ''}decode${!encode && !prefill ? '-only' : ''}`;
  cycle.note(handlerName, `disaggregation decision: ${decision}`);
  return { primaryProfileName: profiles.decode, profileResults: out };
}

/** Sets the P/D routing headers for the decode-side sidecar. */
export function disaggHeaders(
  profiles: DisaggProfiles,
  result: SchedulingResult,
  headers: DecisionHeaders,
): void {
  const prefill = result.profileResults.get(profiles.prefill)?.targets[0];
  if (prefill) headers.request[PREFILLER_HEADER] = prefill;
  const encoders =
    profiles.encode === undefined ? undefined : result.profileResults.get(profiles.encode)?.targets;
  if (encoders && encoders.length > 0) headers.request[ENCODERS_HEADER] = encoders.join(',');
}
