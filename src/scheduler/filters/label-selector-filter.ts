/**
 * `label-selector-filter` (Beta; old name `by-label-selector`; llm-d-router.md §2.4): keeps
 * endpoints whose labels match a Kubernetes label selector — every `matchLabels` pair, and every
 * `matchExpressions` requirement (`In`, `NotIn`, `Exists`, `DoesNotExist`, with Kubernetes
 * semantics: `NotIn` also matches when the key is absent). An empty selector matches everything.
 */
import { z } from 'zod';
import type { EndpointSnapshot } from '../../fleet/types.ts';
import { definePlugin } from '../plugin-definition.ts';
import type { Filter, FilterResult, SchedulingCycle } from '../types.ts';

export const LABEL_SELECTOR_FILTER_TYPE = 'label-selector-filter';

const requirement = z
  .strictObject({
    key: z.string().min(1),
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
    values: z.array(z.string()).optional(),
  })
  .refine((r) => (r.operator === 'In' || r.operator === 'NotIn') === (r.values?.length ?? 0) > 0, {
    message: 'In/NotIn need a non-empty values list; Exists/DoesNotExist take no values',
  });

export const labelSelectorParameters = z.strictObject({
  matchLabels: z.record(z.string(), z.string()).default({}),
  matchExpressions: z.array(requirement).default([]),
});

export type LabelSelector = z.output<typeof labelSelectorParameters>;

/** Whether `labels` satisfy `selector`. */
export function matchesSelector(labels: Readonly<Record<string, string>>, selector: LabelSelector): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels)) {
    if (labels[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions) {
    const has = Object.hasOwn(labels, key);
    const value = labels[key];
    switch (operator) {
      case 'In':
        if (!has || !values.includes(value as string)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(value as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

export class LabelSelectorFilter implements Filter {
  readonly kind = 'filter';
  readonly type = LABEL_SELECTOR_FILTER_TYPE;

  constructor(
    readonly name: string,
    private readonly selector: LabelSelector,
  ) {}

  filter(_cycle: SchedulingCycle, candidates: readonly EndpointSnapshot[]): FilterResult {
    const kept: EndpointSnapshot[] = [];
    const reasons = new Map<string, string>();
    for (const endpoint of candidates) {
      if (matchesSelector(endpoint.info.labels, this.selector)) kept.push(endpoint);
      else reasons.set(endpoint.info.id, 'labels do not match the selector');
    }
    return { kept, reasons };
  }
}

export const labelSelectorFilterPlugin = definePlugin({
  type: LABEL_SELECTOR_FILTER_TYPE,
  kind: 'filter',
  stability: 'beta',
  summary: 'keeps endpoints matching a Kubernetes label selector',
  parameters: labelSelectorParameters,
  create: (params, ctx) => new LabelSelectorFilter(ctx.name, params),
});

/** Deprecated alias `by-label-selector` (llm-d-router.md §2.11). */
export const byLabelSelectorFilterPlugin = definePlugin({
  type: 'by-label-selector',
  kind: 'filter',
  stability: 'deprecated',
  replacedBy: LABEL_SELECTOR_FILTER_TYPE,
  summary: 'deprecated alias of label-selector-filter',
  parameters: labelSelectorParameters,
  create: (params, ctx) => new LabelSelectorFilter(ctx.name, params),
});
