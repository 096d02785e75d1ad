/**
 * The Gateway API Inference Extension `InferencePool` (`inference.networking.k8s.io/v1`), reduced to
 * what discovery needs: which pods are members and on which ports they serve.
 *
 * v1 facts (api/v1/inferencepool_types.go, shared_types.go):
 * - `spec.selector.matchLabels`: 1 to 64 labels, pods of the pool's own namespace only; there is
 *   no `matchExpressions` (kept Service-selector compatible).
 * - `spec.targetPorts[].number`: 1 to 8 unique ports; each is a distinct endpoint `podIP:port`.
 */
import { z } from 'zod';

export const INFERENCE_POOL_GROUP = 'inference.networking.k8s.io';
export const INFERENCE_POOL_VERSION = 'v1';
export const INFERENCE_POOL_PLURAL = 'inferencepools';

/** Label keys and values as Kubernetes validates them (prefix/name, at most 63 characters of name). */
const labelKey = z
  .string()
  .regex(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
    'not a valid label key',
  );
const labelValue = z
  .string()
  .regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/, 'not a valid label value');

/** The v1 fields discovery relies on; everything else (endpointPickerRef, status) is ignored. */
export const inferencePoolSchema = z.object({
  metadata: z.object({ name: z.string(), namespace: z.string().optional() }),
  spec: z.object({
    selector: z.object({
      matchLabels: z
        .record(labelKey, labelValue)
        .refine((labels) => Object.keys(labels).length >= 1, 'needs at least one label')
        .refine((labels) => Object.keys(labels).length <= 64, 'allows at most 64 labels'),
    }),
    targetPorts: z
      .array(z.object({ number: z.number().int().min(1).max(65535) }))
      .min(1)
      .max(8)
      .refine(
        (ports) => new Set(ports.map((p) => p.number)).size === ports.length,
        'port numbers must be unique',
      ),
  }),
});

/** What an InferencePool tells discovery. */
export interface InferencePoolMembership {
  /** `spec.selector.matchLabels` as a label-selector string: `k1=v1,k2=v2` (keys sorted). */
  readonly labelSelector: string;
  readonly targetPorts: readonly number[];
}

/**
 * Reads an InferencePool object (raw JSON from the API).
 *
 * @throws {Error} naming the pool and the offending fields when it lacks a usable selector or ports.
 */
export function parseInferencePool(object: unknown): InferencePoolMembership {
  const parsed = inferencePoolSchema.safeParse(object);
  if (!parsed.success) {
    const meta = (object as { metadata?: { namespace?: string; name?: string } } | null)?.metadata;
    const issues = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new Error(
      `InferencePool ${meta?.namespace ?? '?'}/${meta?.name ?? '?'} is not usable: ${issues.join('; ')}`,
    );
  }
  const { matchLabels } = parsed.data.spec.selector;
  return {
    labelSelector: formatMatchLabels(matchLabels),
    targetPorts: parsed.data.spec.targetPorts.map((p) => p.number),
  };
}

/** `{a: '1', b: '2'}` → `a=1,b=2`, keys sorted so equal selectors compare equal as strings. */
export function formatMatchLabels(matchLabels: Readonly<Record<string, string>>): string {
  return Object.keys(matchLabels)
    .sort()
    .map((key) => `${key}=${matchLabels[key]}`)
    .join(',');
}
