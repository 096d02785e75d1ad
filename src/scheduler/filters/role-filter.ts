/**
 * Shared implementation of the three role filters (`decode-filter`, `prefill-filter`,
 * `encode-filter`; llm-d-router.md §2.4): keep endpoints whose `llm-d.ai/role` label is in an
 * accepted set, and optionally endpoints without the label.
 */
import type { EndpointSnapshot } from '../../fleet/types.ts';
import type { Filter, FilterResult, SchedulingCycle } from '../types.ts';
import { ROLE_LABEL, roleOf } from './roles.ts';

export class RoleFilter implements Filter {
  readonly kind = 'filter';

  constructor(
    readonly type: string,
    readonly name: string,
    private readonly accepted: ReadonlySet<string>,
    private readonly keepUnlabeled: boolean,
  ) {}

  filter(_cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): FilterResult {
    const kept: EndpointSnapshot[] = [];
    const reasons = new Map<string, string>();
    for (const endpoint of candidates) {
      const role = roleOf(endpoint);
      if (role === undefined ? this.keepUnlabeled : this.accepted.has(role)) {
        kept.push(endpoint);
      } else {
        reasons.set(
          endpoint.info.id,
          role === undefined ? `no ${ROLE_LABEL} label` : `${ROLE_LABEL}=${role}`,
        );
      }
    }
    return { kept, reasons };
  }
}
