/**
 * `by-label` (deprecated; llm-d-router.md §2.4): keeps endpoints whose `label` has one of
 * `validValues`; endpoints without the label are kept only when `allowsNoLabel` (default false).
 */
import { z } from 'zod';
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import type { Filter, FilterResult, SchedulingCycle } from '../types.ts';
import { LABEL_SELECTOR_FILTER_TYPE } from './label-selector-filter.ts';

export const BY_LABEL_FILTER_TYPE = 'by-label';

export const byLabelParameters = z.strictObject({
  label: z.string().min(1),
  validValues: z.array(z.string()).default([]),
  allowsNoLabel: z.boolean().default(false),
});

export type ByLabelParameters = z.output<typeof byLabelParameters>;

export class ByLabelFilter implements Filter {
  readonly kind = 'filter';
  readonly type = BY_LABEL_FILTER_TYPE;
  private readonly valid: ReadonlySet<string>;

  constructor(
    readonly name: string,
    private readonly params: ByLabelParameters,
  ) {
    this.valid = new Set(params.validValues);
  }

  filter(_cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): FilterResult {
    const kept: EndpointSnapshot[] = [];
    const reasons = new Map<string, string>();
    const { label, allowsNoLabel } = this.params;
    for (const endpoint of candidates) {
      const value = endpoint.info.labels[label];
      if (value === undefined ? allowsNoLabel : this.valid.has(value)) kept.push(endpoint);
      else reasons.set(endpoint.info.id, value === undefined ? `no ${label} label` : `${label}=${value}`);
    }
    return { kept, reasons };
  }
}

export const byLabelFilterPlugin = definePlugin({
  type: BY_LABEL_FILTER_TYPE,
  kind: 'filter',
  stability: 'deprecated',
  replacedBy: LABEL_SELECTOR_FILTER_TYPE,
  summary: 'keeps endpoints whose label has one of the valid values',
  parameters: byLabelParameters,
  create: (params, ctx) => new ByLabelFilter(ctx.name, params),
});
