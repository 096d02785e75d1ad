/**
 * `encode-filter` (Beta; llm-d-router.md §2.4): keeps endpoints whose `llm-d.ai/role` is encode,
 * encode-prefill or encode-prefill-decode; unlabeled endpoints are excluded.
 */
import { z } from 'zod';
import { definePlugin } from '../plugin-definition.ts';
import { RoleFilter } from './role-filter.ts';
import { ENCODE_ROLES } from './roles.ts';

export const ENCODE_FILTER_TYPE = 'encode-filter';

export const encodeFilterPlugin = definePlugin({
  type: ENCODE_FILTER_TYPE,
  kind: 'filter',
  stability: 'beta',
  summary: 'keeps encode-capable endpoints (unlabeled excluded)',
  parameters: z.strictObject({}),
  create: (_params, ctx) => new RoleFilter(ENCODE_FILTER_TYPE, ctx.name, ENCODE_ROLES, false),
});
