/**
 * `decode-filter` (Beta; llm-d-router.md §2.4): keeps endpoints whose `llm-d.ai/role` is decode,
 * prefill-decode, both or encode-prefill-decode, and endpoints with no role label.
 */
import { z } from 'zod';
import { definePlugin } from '../plugin-definition.ts';
import { RoleFilter } from './role-filter.ts';
import { DECODE_ROLES } from './roles.ts';

export const DECODE_FILTER_TYPE = 'decode-filter';

export const decodeFilterPlugin = definePlugin({
  type: DECODE_FILTER_TYPE,
  kind: 'filter',
  stability: 'beta',
  summary: 'keeps decode-capable endpoints (and unlabeled ones)',
  parameters: z.strictObject({}),
  create: (_params, ctx) => new RoleFilter(DECODE_FILTER_TYPE, ctx.name, DECODE_ROLES, true),
});
