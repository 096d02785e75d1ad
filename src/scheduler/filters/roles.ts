/**
 * llm-d's P/D role label (llm-d-router.md §2.4): pods declare `llm-d.ai/role` and the role filters
 * select the ones that can serve each stage.
 */
import type { EndpointSnapshot } from '../../fleet/types.ts';

export const ROLE_LABEL = 'llm-d.ai/role';

/** Roles that can decode (`decode-filter` also keeps unlabeled pods). */
export const DECODE_ROLES: ReadonlySet<string> = new Set([
  'decode',
  'prefill-decode',
  'both',
  'encode-prefill-decode',
]);

/** Roles that can prefill (unlabeled pods are excluded). */
export const PREFILL_ROLES: ReadonlySet<string> = new Set([
  'prefill',
  'encode-prefill',
  'prefill-decode',
  'both',
  'encode-prefill-decode',
]);

/** Roles that can encode (unlabeled pods are excluded). */
export const ENCODE_ROLES: ReadonlySet<string> = new Set([
  'encode',
  'encode-prefill',
  'encode-prefill-decode',
]);

/** The endpoint's role label, if any. */
export function roleOf(endpoint: EndpointSnapshot): string | undefined {
  return endpoint.info.labels[ROLE_LABEL];
}
