/**
 * Parameter every picker takes (llm-d-router.md §2.6): `maxNumOfEndpoints` (default 1). More than
 * one returns fallbacks in preference order (llm-d's comma-separated destination list).
 */
import { z } from 'zod';

export const pickerParameters = z.strictObject({
  maxNumOfEndpoints: z.int().positive().default(1),
});

export type PickerParameters = z.output<typeof pickerParameters>;
