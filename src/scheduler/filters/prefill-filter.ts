/**
 * `prefill-filter` (Beta; llm-d-router.md §2.4): keeps endpoints whose `llm-d.ai/role` is prefill,
 * encode-prefill, prefill-decode, both or encode-prefill-decode; unlabeled endpoints are excluded.
 */
import { z } from 'zod';
import { definePlugin } from '../plugin-definition.ts';
import { RoleFilter } from './role-filter.ts';
import { PREFILL_ROLES } from './roles.ts';

export const PREFILL_FILTER_TYPE = 'prefill-filter';

export const prefillFilterPlugin = definePlugin({
  type: PREFILL_FILTER_TYPE,
  kind: 'filter',
  stability: 'beta',
  summary: 'keeps prefill-capable endpoints (unlabeled excluded)',
  parameters: z.strictObject({}),
  create: (_params, ctx) => new RoleFilter(PREFILL_FILTER_TYPE, ctx.name, PREFILL_ROLES, false),
});
